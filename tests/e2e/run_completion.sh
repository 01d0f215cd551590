#!/usr/bin/env bash
# `dragon completion bash|zsh`: the script loads in bash and completes subcommands, a nested
# subcommand (eval ceval), each subcommand's own options and file names — checked by calling the
# completion function the way bash does on <Tab>. Every subcommand `dragon --help` lists must be
# offered, so a new one cannot be missed.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
fail() { echo "FAIL: $*"; exit 1; }

script=$("$DRAGON" completion bash) || fail "dragon completion bash exited $?"
complete_words() {  # complete_words WORD... : the completions bash would offer for the last word
  bash -c 'eval "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _dragon; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$script" "$@"
}

got=$(complete_words dragon se | tr '\n' ' ')
[ "$got" = "serve " ] || fail "'dragon se<Tab>' gave '$got', want 'serve'"
listed=$("$DRAGON" --help | awk '/^Subcommands:/{on=1; next} on && NF {print $1}')
[ "$(wc -w <<<"$listed")" -ge 10 ] || fail "could not read the subcommands from dragon --help"
offered=$(complete_words dragon "")
for cmd in $listed; do grep -qx "$cmd" <<<"$offered" || fail "subcommand $cmd is not offered"; done
echo "  subcommands: $(wc -w <<<"$listed") listed by --help, all offered"

got=$(complete_words dragon serve --ap | tr '\n' ' ')
[ "$got" = "--api-key " ] || fail "'dragon serve --ap<Tab>' gave '$got'"
got=$(complete_words dragon eval c | tr '\n' ' ')
[ "$got" = "ceval " ] || fail "'dragon eval c<Tab>' gave '$got'"
got=$(complete_words dragon eval ceval --sh | tr '\n' ' ')
[ "$got" = "--shots " ] || fail "'dragon eval ceval --sh<Tab>' gave '$got'"
if complete_words dragon info --sh | grep -q -- --shots; then fail "info offers eval's --shots"; fi
got=$(complete_words dragon info models/dragon-demo | tr '\n' ' ')
[ "$got" = "models/dragon-demo-poems.gguf " ] || fail "file completion gave '$got'"
echo "  serve --ap -> --api-key; eval c -> ceval; eval ceval --sh -> --shots; info models/dragon-demo -> the file"

"$DRAGON" completion zsh | head -1 | grep -q bashcompinit || fail "zsh script does not load bashcompinit"
if "$DRAGON" completion fish >/dev/null 2>&1; then fail "an unknown shell was accepted"; fi
echo "PASS completion"
