#!/usr/bin/env bash
# `dragon run` as an interactive chat, driven through a pseudo-terminal (python3's pty module)
# with the demo model (models/dragon-demo-poems.gguf):
#  1. no prompt argument + a terminal on stdin: a banner and a ">>> " prompt; /help lists the
#     commands; a message gets a streamed answer in Chinese, with ANSI styles (a terminal);
#  2. multi-line input: a line ending in "\" continues ("... " prompt), and a """ block;
#  3. /temp, /system, /think, an unknown command; /save FILE writes the conversation (system +
#     3 user + 3 assistant messages, the multi-line ones with their newlines);
#  4. Ctrl-C during an answer stops it ("[stopped]") and the chat goes on; Ctrl-C at the prompt
#     drops the line; /reset forgets the conversation; /exit leaves with status 0;
#  5. piped stdin is still one-shot, without ANSI codes.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
MODEL=models/dragon-demo-poems.gguf
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
[ -f "$MODEL" ] || { echo "FAIL: $MODEL missing"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

/usr/bin/python3 - "$DRAGON" "$MODEL" "$TMP" <<'PY'
import json, os, pty, re, select, signal, sys, termios, time

dragon, model, tmp = sys.argv[1:4]
failures = []
def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what)
    if not ok: failures.append(what)

pid, fd = pty.fork()
if pid == 0:
    # -n 4000: long enough that Ctrl-C lands mid-answer; --temp 1 --seed 3: reproducible.
    os.execv(dragon, [dragon, "run", "--model", model, "-n", "4000", "--temp", "1", "--seed", "3"])

# No echo: what is read back is dragon's output only, not the typed text.
attrs = termios.tcgetattr(fd)
attrs[3] &= ~termios.ECHO
termios.tcsetattr(fd, termios.TCSANOW, attrs)

buf = b""
def read_until(pattern, timeout=20.0):
    """Reads the pty until `pattern` (bytes regex) matches what arrived since the last call."""
    global buf
    end = time.time() + timeout
    while True:
        m = re.search(pattern, buf, re.S)
        if m:
            out, buf = buf[:m.end()], buf[m.end():]
            return out
        left = end - time.time()
        if left <= 0:
            raise TimeoutError(f"no {pattern!r} within {timeout}s; got {buf[-300:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                raise EOFError(f"dragon exited; last output {buf[-300:]!r}")
            buf += data

def send(text):
    os.write(fd, text.encode())

PROMPT = rb"\n(\x1b\[[0-9;]*m)*>>> (\x1b\[0m)?"
ansi = re.compile(rb"\x1b\[[0-9;]*m")
def plain(b): return ansi.sub(b"", b).decode("utf-8", "replace").replace("\r", "")
def han(s): return sum("\u4e00" <= c <= "\u9fff" for c in s)

start = time.time()
banner = read_until(rb">>> ", timeout=60)
check(b"/help" in banner, f"banner and prompt: {plain(banner).strip()[-70:]!r}")

send("/help\n")
out = plain(read_until(PROMPT))
check("/system" in out and "/save" in out and "Ctrl-C" in out, "/help lists /system, /save and Ctrl-C")

t0 = time.time()
send("静夜思\n")
raw = read_until(PROMPT, timeout=60)
answer = plain(raw)
check(han(answer) >= 4 and b"\x1b[" in raw,
      f"answer in {time.time() - t0:.1f}s, {han(answer)} Han characters, ANSI styles on a terminal: {answer.strip()[:40]!r}")

send("春风\\\n")
cont = plain(read_until(rb"\.\.\. "))
check(True, "a line ending in \\ continues with '... '")
send("明月\n")
out = plain(read_until(PROMPT, timeout=60))
check(han(out) >= 1, f"continued message answered ({han(out)} Han characters)")

send('"""\n'); read_until(rb"\.\.\. ")
send("白日\n"); read_until(rb"\.\.\. ")
send("黄河\n"); read_until(rb"\.\.\. ")
send('"""\n')
out = plain(read_until(PROMPT, timeout=60))
check(han(out) >= 1, '""" block answered')

send("/temp 0.7\n"); out = plain(read_until(PROMPT)); check("temperature 0.7" in out, "/temp 0.7 acknowledged")
send("/temp x\n"); out = plain(read_until(PROMPT)); check("expected a number" in out, "/temp x refused")
send("/think\n"); out = plain(read_until(PROMPT)); check("hidden" in out, "/think toggles the reasoning display")
send("/system 你是诗人\n"); out = plain(read_until(PROMPT)); check("system message set" in out, "/system set")
send("/frobnicate\n"); out = plain(read_until(PROMPT)); check("unknown command" in out, "unknown command named")
save = os.path.join(tmp, "chat.json")
send(f"/save {save}\n"); out = plain(read_until(PROMPT))
try:
    msgs = json.load(open(save, encoding="utf-8"))
except Exception as e:
    msgs = []
roles = [m["role"] for m in msgs]
users = [m["content"] for m in msgs if m["role"] == "user"]
check(roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
      and users == ["静夜思", "春风\n明月", "白日\n黄河"] and msgs[0]["content"] == "你是诗人",
      f"/save wrote {len(msgs)} messages, roles {roles}, user turns {users}")

# Ctrl-C mid-answer: wait for the first characters, then interrupt.
send("/think\n"); read_until(PROMPT)
stopped = False
for attempt in range(3):
    send("长江\n")
    read_until(rb"[\xe4-\xe9][\x80-\xbf]{2}", timeout=60)  # a Han character: the answer has begun
    os.kill(pid, 0)
    send("\x03")
    out = plain(read_until(PROMPT, timeout=30))
    if "[stopped]" in out:
        stopped = True
        break
check(stopped, f"Ctrl-C stopped the answer ([stopped]) after {attempt + 1} attempt(s), and the chat goes on")

send("白云")
time.sleep(0.3)
send("\x03")
out = plain(read_until(PROMPT))
check("input dropped" in out, "Ctrl-C at the prompt drops the line")

send("/reset\n"); read_until(PROMPT)
send(f"/save {save}\n"); read_until(PROMPT)
msgs = json.load(open(save, encoding="utf-8"))
check([m["role"] for m in msgs] == ["system"], f"/reset forgot the conversation (saved {len(msgs)} message)")

send("/exit\n")
_, status = os.waitpid(pid, 0)
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"/exit: exit status {os.waitstatus_to_exitcode(status)}")
print(f"  chat session: {time.time() - start:.1f} s")
if failures:
    print("FAIL:", "; ".join(failures)); sys.exit(1)
PY

echo "静夜思" | "$DRAGON" run --model "$MODEL" -n 24 >"$TMP/pipe.txt" 2>/dev/null
if grep -q $'\x1b' "$TMP/pipe.txt" || ! grep -q '[^[:space:]]' "$TMP/pipe.txt"; then
  echo "FAIL piped stdin: $(cat -v "$TMP/pipe.txt")"; exit 1
fi
echo "  ok   piped stdin: one answer, no ANSI: $(head -c 60 "$TMP/pipe.txt" | tr '\n' ' ')"
echo "PASS run_dragon_chat"
