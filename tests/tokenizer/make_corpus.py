#!/usr/bin/env python3
"""A varied tokenizer test corpus, deterministic for a seed: hand-picked hard cases, random mixes
of scripts / whitespace / digits / emoji / special-token look-alikes, and (if present) C-Eval
questions read from ../shared/data/ceval (not copied into the repository).

Usage: make_corpus.py OUT.json [--random N] [--ceval-limit N] [--seed S]"""
import argparse, csv, glob, json, os, random

HAND = [
    "", " ", "  ", "\n", "\n\n\n", "\t", " \t\n ", "a", "Hello world!", "Hello  world", " Hello",
    "hello\nworld", "I'm you're we've they'll he'd it's", "I'M YOU'RE", "don't DON'T",
    "1234567890", "3.14159 2,000,000 1e-9 0x1F", "100万 ２０２４年", "١٢٣ ๑๒๓",
    "你好，世界！", "中华人民共和国成立于1949年10月1日。", "日本語のテキスト、カタカナ、ひらがな。",
    "한국어 텍스트입니다.", "Привет, мир!", "Ελληνικά", "עברית", "العربية", "हिन्दी", "ไทย",
    "😀🐉👨‍👩‍👧‍👦🏳️‍🌈 emoji", "e\u0301 é Å Å ﬁ ① ｆｕｌｌｗｉｄｔｈ", "\u00a0nbsp\u2003em\u3000ideo",
    "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
    "<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "<｜begin▁of▁sentence｜>x<｜end▁of▁sentence｜>",
    "<|im_start|", "<think>\nreasoning\n</think>\nanswer", "<tool_call>{\"a\": 1}</tool_call>",
    "    indented\n\n\n    more", "trailing spaces   ", "   ", "a  b   c    d", "!!!???...,,,;;;",
    "https://example.com/path?q=1&r=2#frag", "user@example.com", "$100.00 €50 ¥1000 ￥",
    "mixed中文English混合123abc", "ＡＢＣ１２３", "\u200b\u200czero\u200dwidth\ufeff", "\r\n\r\n",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "'s 't 're 've 'm 'll 'd",
]

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  ", "\n", "\t",
    "的一是不了人我在有他这为之大来以个中上们", "あいうえおカキクケコ", "한국어", "Привет", "!?.,;:'\"()[]{}<>/\\|@#$%^&*-_=+~`",
    "😀🐉🎉👍", "éàüöñç", "\u3000\u00a0", "<|im_start|>", "<|im_end|>", "<think>", "<｜end▁of▁sentence｜>", "'s", "'ll",
]

def random_text(rng):
    parts = []
    for _ in range(rng.randint(1, 30)):
        pool = rng.choice(POOLS)
        if pool.startswith("<") or pool.startswith("'"):
            parts.append(pool)
        else:
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
    return "".join(parts)

def ceval_texts(limit):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", "..", "shared", "data", "ceval"))
    out = []
    for path in sorted(glob.glob(os.path.join(root, "*", "*.csv"))):
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                out.append("\n".join(row.get(k, "") for k in ("question", "A", "B", "C", "D")))
                if len(out) >= limit:
                    return out
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--random", type=int, default=500)
    ap.add_argument("--ceval-limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    texts = HAND + [random_text(rng) for _ in range(a.random)] + ceval_texts(a.ceval_limit)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    print(f"corpus: {len(texts)} texts, {sum(len(t.encode()) for t in texts)} bytes")

if __name__ == "__main__":
    main()
