#!/usr/bin/python3
"""Trains dragon's DEMO model: a tiny Qwen3-architecture model that writes classical Chinese
poems, so a newcomer's first `dragon run` shows real text instead of random tokens.

It is a demo, not a language model: ~10 M parameters (almost all of them the embedding of the
real 151,936-token Qwen3 vocabulary), trained for a few minutes on one CPU core on the 300 Tang
and 100 Song poems of Debian's fortunes-zh package. Asked for a title it knows (静夜思, 春晓, ...)
it answers with the poem; asked anything else it answers with some poem-like lines.

Pipeline (run by tools/demo/build_demo.sh):
  1. poems from /usr/share/games/fortunes/{tang300,song100}, each one chat exchange in the Qwen3
     chat format: user = the title (or "作者《题目》"), assistant = an empty <think> block and the poem;
  2. token ids from `dragon tokenize` with the real Qwen3 tokenizer;
  3. a small Qwen3 (QK-norm, NeoX rope, SwiGLU, tied embeddings) trained with AdamW on the
     assistant tokens only;
  4. the weights written into a GGUF that `dragon synth` laid out for this exact shape (so the
     real tokenizer and chat template come with it), quantized to Q8_0 with gguf-py.

Vocabulary trick: only the ~4k tokens the poems use are trained. Every other row of the tied
embedding is zero, so at inference those tokens get logit 0; training therefore adds a fixed
"all unused tokens" term of log(n_unused) to the softmax's denominator — the loss is exactly the
full-vocabulary loss the finished model has, at a fraction of the cost.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

FORTUNES = "/usr/share/games/fortunes"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# The shape. hidden 64 keeps the Q8_0 embedding of the full vocabulary at 10 MB and the file,
# with the tokenizer, under 20 MB.
SHAPE = dict(hidden_size=64, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
             intermediate_size=256, rope_theta=1000000.0, rms_norm_eps=1e-6, vocab_size=151936)


def read_poems():
    poems = []
    for name in ("tang300", "song100"):
        text = ANSI.sub("", open(os.path.join(FORTUNES, name), encoding="utf-8").read())
        for entry in text.split("\n%\n"):
            lines = [l.strip() for l in entry.strip().splitlines() if l.strip()]
            if len(lines) < 3 or not lines[0].startswith("《"):
                continue
            title = lines[0].strip("《》")
            author = lines[1].split("：", 1)[1] if "：" in lines[1] else lines[1]
            poems.append((title, author, "\n".join(lines[2:])))
    return poems


def exchanges(poems):
    """(prompt, answer) pairs in the Qwen3 chat format, several phrasings per poem."""
    out = []
    for title, author, body in poems:
        answer = f"<think>\n\n</think>\n\n《{title}》\n{author}\n\n{body}<|im_end|>\n"
        for ask in (title, f"{author}《{title}》", f"写一首诗：{title}"):
            prompt = f"<|im_start|>user\n{ask}<|im_end|>\n<|im_start|>assistant\n"
            out.append((prompt, answer))
    return out


def tokenize_all(dragon, tokenizer_dir, texts):
    """Token ids of every text from one `dragon tokenize` run: the texts joined by the special
    token <|endoftext|>, which BPE never merges across, then split at it."""
    sep = "<|endoftext|>"
    if any(sep in t for t in texts):
        raise SystemExit(f"a text contains {sep}")
    r = subprocess.run([dragon, "tokenize", "--model", tokenizer_dir, "--json", "--no-add-special", "-f", "-"],
                       input=sep.join(texts), capture_output=True, text=True, check=True)
    ids = json.loads(r.stdout)
    sep_id = json.loads(subprocess.run([dragon, "tokenize", "--model", tokenizer_dir, "--json", "--no-add-special", sep],
                                       capture_output=True, text=True, check=True).stdout)
    if len(sep_id) != 1:
        raise SystemExit(f"{sep} is not one token")
    out, cur = [], []
    for t in ids:
        if t == sep_id[0]:
            out.append(cur)
            cur = []
        else:
            cur.append(t)
    out.append(cur)
    if len(out) != len(texts):
        raise SystemExit(f"{len(out)} token lists for {len(texts)} texts")
    return out


class TinyQwen3(torch.nn.Module):
    """The Qwen3 decoder over a compact vocabulary of the tokens the corpus uses."""

    def __init__(self, n_used, s):
        super().__init__()
        h, nh, nkv, hd, ff = s["hidden_size"], s["num_attention_heads"], s["num_key_value_heads"], s["head_dim"], s["intermediate_size"]
        self.s = s
        self.embed = torch.nn.Parameter(torch.randn(n_used, h) * 0.02)
        self.layers = torch.nn.ModuleList()
        for _ in range(s["num_hidden_layers"]):
            L = torch.nn.Module()
            L.attn_norm = torch.nn.Parameter(torch.ones(h))
            L.q = torch.nn.Linear(h, nh * hd, bias=False)
            L.k = torch.nn.Linear(h, nkv * hd, bias=False)
            L.v = torch.nn.Linear(h, nkv * hd, bias=False)
            L.o = torch.nn.Linear(nh * hd, h, bias=False)
            L.q_norm = torch.nn.Parameter(torch.ones(hd))
            L.k_norm = torch.nn.Parameter(torch.ones(hd))
            L.ffn_norm = torch.nn.Parameter(torch.ones(h))
            L.gate = torch.nn.Linear(h, ff, bias=False)
            L.up = torch.nn.Linear(h, ff, bias=False)
            L.down = torch.nn.Linear(ff, h, bias=False)
            self.layers.append(L)
        self.norm = torch.nn.Parameter(torch.ones(h))

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.s["rms_norm_eps"]) * w

    def rope(self, x, pos):
        hd = x.shape[-1]
        inv = 1.0 / (self.s["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        ang = pos[:, None].float() * inv[None, :]
        cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, ids):
        s = self.s
        B, T = ids.shape
        nh, nkv, hd = s["num_attention_heads"], s["num_key_value_heads"], s["head_dim"]
        x = self.embed[ids]
        pos = torch.arange(T)
        mask = torch.full((T, T), float("-inf")).triu(1)
        for L in self.layers:
            a = self.rms(x, L.attn_norm)
            q = self.rope(self.rms(L.q(a).view(B, T, nh, hd), L.q_norm).transpose(1, 2), pos)
            k = self.rope(self.rms(L.k(a).view(B, T, nkv, hd), L.k_norm).transpose(1, 2), pos)
            v = L.v(a).view(B, T, nkv, hd).transpose(1, 2)
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + L.o(y)
            m = self.rms(x, L.ffn_norm)
            x = x + L.down(F.silu(L.gate(m)) * L.up(m))
        return self.rms(x, self.norm) @ self.embed.T  # tied output head, compact vocabulary


def train(examples, n_used, n_unused, steps, seed, log_every=100):
    torch.manual_seed(seed)
    model = TinyQwen3(n_used, SHAPE)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.98))
    unused_term = math.log(n_unused)
    rng = np.random.default_rng(seed)
    batch = 8
    start = time.time()
    for step in range(steps):
        lr = 3e-3 * min(1.0, (step + 1) / 100) * (0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        pick = rng.choice(len(examples), batch, replace=False)
        T = max(len(examples[i][0]) for i in pick)
        ids = torch.zeros(batch, T, dtype=torch.long)
        target_mask = torch.zeros(batch, T, dtype=torch.bool)
        for b, i in enumerate(pick):
            toks, n_prompt = examples[i]
            ids[b, : len(toks)] = torch.tensor(toks)
            target_mask[b, n_prompt - 1: len(toks) - 1] = True  # predict the answer tokens
        logits = model(ids[:, :-1] if T > 1 else ids)
        tgt = ids[:, 1:]
        m = target_mask[:, :-1]
        lg = logits[m]
        # Full-vocabulary log-softmax: the unused tokens all sit at logit 0.
        lse = torch.logaddexp(torch.logsumexp(lg, -1), torch.tensor(unused_term))
        loss = (lse - lg.gather(1, tgt[m][:, None]).squeeze(1)).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  lr {lr:.2e}  {time.time() - start:.0f} s", flush=True)
    return model


def gguf_tensors(model, used_ids):
    """GGUF tensor name -> float32 array, in HF orientation ([out, in]), full vocabulary."""
    t = {}
    emb = np.zeros((SHAPE["vocab_size"], SHAPE["hidden_size"]), dtype=np.float32)
    emb[used_ids] = model.embed.detach().numpy()
    t["token_embd.weight"] = emb
    t["output_norm.weight"] = model.norm.detach().numpy()
    for il, L in enumerate(model.layers):
        p = f"blk.{il}."
        t[p + "attn_norm.weight"] = L.attn_norm.detach().numpy()
        t[p + "attn_q.weight"] = L.q.weight.detach().numpy()
        t[p + "attn_k.weight"] = L.k.weight.detach().numpy()
        t[p + "attn_v.weight"] = L.v.weight.detach().numpy()
        t[p + "attn_output.weight"] = L.o.weight.detach().numpy()
        t[p + "attn_q_norm.weight"] = L.q_norm.detach().numpy()
        t[p + "attn_k_norm.weight"] = L.k_norm.detach().numpy()
        t[p + "ffn_norm.weight"] = L.ffn_norm.detach().numpy()
        t[p + "ffn_gate.weight"] = L.gate.weight.detach().numpy()
        t[p + "ffn_up.weight"] = L.up.weight.detach().numpy()
        t[p + "ffn_down.weight"] = L.down.weight.detach().numpy()
    return t


def write_into_gguf(path, tensors, gguf):
    """Overwrites the tensor data of a GGUF that dragon synth laid out for this shape."""
    reader = gguf.GGUFReader(path, "r+")
    seen = set()
    for rt in reader.tensors:
        if rt.name not in tensors:
            raise SystemExit(f"{path}: tensor {rt.name} has no trained value")
        values = np.ascontiguousarray(tensors[rt.name], dtype=np.float32)
        qtype = gguf.GGMLQuantizationType(rt.tensor_type)
        data = values if qtype == gguf.GGMLQuantizationType.F32 else gguf.quants.quantize(values, qtype)
        raw = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        dst = rt.data.view(np.uint8).reshape(-1)
        if raw.size != dst.size:
            raise SystemExit(f"{rt.name}: {raw.size} bytes for a {dst.size}-byte tensor ({qtype.name})")
        dst[:] = raw
        seen.add(rt.name)
    missing = set(tensors) - seen
    if missing:
        raise SystemExit(f"{path}: no tensors {sorted(missing)}")
    reader.data.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dragon", default="build/dragon")
    ap.add_argument("--tokenizer", default="build/share/tokenizers/qwen3")
    ap.add_argument("--gguf-py", default="build/llama.cpp/gguf-py")
    ap.add_argument("--layout", required=True, help="GGUF from dragon synth with this shape (overwritten in place)")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--checkpoint", help="save the trained tensors here (.npz); reused instead of training when present")
    args = ap.parse_args()
    sys.path.insert(0, args.gguf_py)
    import gguf  # noqa: E402  (llama.cpp's gguf-py: the Q8_0 quantizer and the GGUF reader)

    torch.set_num_threads(1)
    poems = read_poems()
    pairs = exchanges(poems)
    print(f"{len(poems)} poems, {len(pairs)} exchanges", flush=True)
    prompts = tokenize_all(args.dragon, args.tokenizer, [p for p, _ in pairs])
    full = tokenize_all(args.dragon, args.tokenizer, [p + a for p, a in pairs])
    used = sorted({t for ids in full for t in ids})
    remap = {t: i for i, t in enumerate(used)}
    examples = []
    for p, f in zip(prompts, full):
        if f[: len(p)] != p:
            raise SystemExit("prompt tokens are not a prefix of the exchange's tokens")
        examples.append(([remap[t] for t in f], len(p)))
    n_tokens = sum(len(e[0]) for e in examples)
    print(f"{n_tokens} tokens, {len(used)} distinct", flush=True)
    if args.checkpoint and os.path.exists(args.checkpoint):
        print(f"using the trained tensors in {args.checkpoint}")
        tensors = dict(np.load(args.checkpoint))
    else:
        model = train(examples, len(used), SHAPE["vocab_size"] - len(used), args.steps, args.seed)
        tensors = gguf_tensors(model, np.array(used))
        if args.checkpoint:
            np.savez(args.checkpoint, **tensors)
    write_into_gguf(args.layout, tensors, gguf)
    print(f"wrote the trained weights into {args.layout}")


if __name__ == "__main__":
    main()
