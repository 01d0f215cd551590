#!/usr/bin/env python3
"""Reference pre-tokenization with Python's `regex` module (Debian python3-regex), whose Unicode
semantics follow the Rust / Oniguruma engines HF tokenizers and tiktoken use.

Usage: pretokenize_reference.py REQUEST.json OUT.json
REQUEST: {"texts": [...], "splitters": {name: [pattern, ...]}} — each splitter is a chain of
HF "Split" steps with behavior Isolated. For "kimi-k2" the request's PCRE2 translation is ignored
and Kimi-K2's original tiktoken pattern (with [..&&[^\\p{Han}]] class intersections) is used, so
the test checks dragon's translation, not just PCRE2 against itself.
OUT: {name: [[piece, ...] per text]}"""
import json
import sys

import regex

# Kimi-K2's pattern as tiktoken compiles it (Rust regex via fancy-regex). There a bare script
# name such as \p{Han} means Script_Extensions (so 。 and 、, shared by CJK scripts, count as Han);
# Python's regex reads a bare \p{Han} as Script, hence the explicit scx= below.
KIMI_K2 = "|".join([
    r"""[\p{scx=Han}]+""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{scx=Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{scx=Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{scx=Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{scx=Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])


def from_pcre2(pattern):
    r"""PCRE2's \x{HHHH} escapes as the characters themselves (Python's regex lacks that form)."""
    return regex.sub(r"\\x\{([0-9A-Fa-f]+)\}", lambda m: chr(int(m.group(1), 16)), pattern)


def split_isolated(piece, pattern):
    out, last = [], 0
    for m in pattern.finditer(piece):
        if m.end() == m.start():
            continue
        if m.start() > last:
            out.append(piece[last:m.start()])
        out.append(m.group())
        last = m.end()
    if last < len(piece):
        out.append(piece[last:])
    return out


def main():
    request = json.load(open(sys.argv[1], encoding="utf-8"))
    result = {}
    for name, patterns in request["splitters"].items():
        if name == "kimi-k2":
            compiled = [regex.compile(KIMI_K2, flags=regex.V1)]
        else:
            compiled = [regex.compile(from_pcre2(p), flags=regex.V0) for p in patterns]
        rows = []
        for text in request["texts"]:
            pieces = [text]
            for pattern in compiled:
                pieces = [q for p in pieces for q in split_isolated(p, pattern)]
            rows.append(pieces)
        result[name] = rows
    json.dump(result, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main()
