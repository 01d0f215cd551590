#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers into tests/fuzz/corpus/<target>/ (committed; run again
only to regenerate them). Seeds come from real files, cut small so that the fuzzers run fast:
  gguf           a 1-layer Qwen3 GGUF with a 300-token slice of the real Qwen3 vocabulary, as
                 `dragon synth` writes it (needs SYNTH_GGUF: dragon synth qwen3-0.6b --format gguf
                 --dtype f32 --layers 1 --set hidden_size=16 ... --out q.gguf), F16 and Q8_0 copies
                 and bare headers
  safetensors    small files in the layout safetensors writes (every dtype, metadata, empty)
  hf_index       the index of a 2-shard directory (the one fuzz_hf_index makes)
  config         the real config.json of every `dragon synth` preset (src/synth/presets_*.cc)
  tokenizer_json the real Qwen3 / DeepSeek-V3 tokenizer.json cut to their first 400 tokens
  tokenize       texts in several scripts, with special tokens
  jinja          real chat templates of the families dragon serves (llama.cpp's collection)
  server_request request bodies of every route (first byte: the route)
  chat_parsers   answers with reasoning and tool calls in both formats (0x01 cuts pieces)
Run with /usr/bin/python3 (numpy, gguf-py from build/llama.cpp)."""
import json, os, re, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "build", "llama.cpp", "gguf-py"))


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def gguf_seeds():
    import numpy as np
    import gguf
    src = os.environ.get("SYNTH_GGUF")
    if not src:
        print("gguf: SYNTH_GGUF not set, skipped"); return
    r = gguf.GGUFReader(src)
    vocab = 300
    for qtype, name in ((gguf.GGMLQuantizationType.F32, "qwen3-f32.gguf"), (gguf.GGMLQuantizationType.F16, "qwen3-f16.gguf"),
                        (gguf.GGMLQuantizationType.Q8_0, "qwen3-q8_0.gguf")):
        path = os.path.join("/tmp", name)
        w = gguf.GGUFWriter(path, "qwen3")
        for key, field in r.fields.items():
            if key.startswith("GGUF.") or key == "general.architecture" or key == "tokenizer.chat_template":
                continue
            t = field.types[0]
            if t == gguf.GGUFValueType.ARRAY:
                vals = [field.parts[i] for i in field.data]
                if field.types[1] == gguf.GGUFValueType.STRING:
                    vals = [bytes(v).decode("utf-8") for v in vals]
                    if key == "tokenizer.ggml.merges":
                        toks = set(bytes(field.parts[i]).decode() for i in r.fields["tokenizer.ggml.tokens"].data[:vocab])
                        vals = [m for m in vals if all(p in toks for p in m.split(" ")) and "".join(m.split(" ")) in toks][:100]
                    else:
                        vals = vals[:vocab]
                else:
                    vals = [int(v[0]) for v in vals][:vocab]
                w.add_array(key, vals)
            elif t == gguf.GGUFValueType.STRING:
                w.add_string(key, bytes(field.parts[field.data[0]]).decode())
            elif key.endswith("_token_id"):
                w.add_uint32(key, min(int(field.parts[field.data[0]][0]), vocab - 1))
            else:
                v = field.parts[field.data[0]][0]
                {gguf.GGUFValueType.UINT32: w.add_uint32, gguf.GGUFValueType.FLOAT32: w.add_float32,
                 gguf.GGUFValueType.BOOL: w.add_bool}[t](key, v.item() if hasattr(v, "item") else v)
        w.add_string("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
        for t in r.tensors:
            data = np.array(t.data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
            if t.name in ("token_embd.weight", "output.weight"):
                data = data[:vocab]
            if data.ndim == 2 and qtype == gguf.GGMLQuantizationType.F16:
                w.add_tensor(t.name, data.astype(np.float16))
            elif data.ndim == 2 and qtype == gguf.GGMLQuantizationType.Q8_0 and data.shape[-1] % 32 == 0:
                q = gguf.quants.quantize(data, qtype)
                w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=qtype)
            else:
                w.add_tensor(t.name, data)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        with open(path, "rb") as f:
            put("gguf", name, f.read())
        os.remove(path)
    # Bare headers: no tensors, a few metadata types (v2 and v3).
    def s(x):
        b = x.encode(); return struct.pack("<Q", len(b)) + b
    kv = s("general.architecture") + struct.pack("<I", 8) + s("qwen3")
    kv += s("a.u8") + struct.pack("<IB", 0, 7) + s("a.f64") + struct.pack("<Id", 12, 1.5)
    kv += s("a.arr") + struct.pack("<IIQ", 9, 5, 3) + struct.pack("<3i", 1, -2, 3)
    kv += s("a.nested") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 8, 1) + s("x")
    for v in (2, 3):
        put("gguf", f"header-v{v}.gguf", b"GGUF" + struct.pack("<IQQ", v, 0, 5) + kv)


def safetensors_seeds():
    def st(tensors, meta=None, pad=8):
        header, off, data = {}, 0, b""
        if meta is not None:
            header["__metadata__"] = meta
        for name, dtype, shape, size in tensors:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + size]}
            data += bytes(range(size % 256)) + bytes(size - size % 256); off += size
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % pad)
        return struct.pack("<Q", len(h)) + h + data
    put("safetensors", "f32.safetensors", st([("w", "F32", [2, 3], 24), ("b", "F32", [3], 12)], {"format": "pt"}))
    put("safetensors", "mixed.safetensors", st([("a", "BF16", [4], 8), ("b", "F16", [2, 2], 8), ("c", "F8_E4M3", [8], 8),
                                               ("d", "I8", [3], 3), ("e", "U8", [1], 1), ("f", "I64", [1], 8), ("g", "BOOL", [2], 2)]))
    put("safetensors", "fp8-scale.safetensors", st([("x.weight", "F8_E4M3", [4, 4], 16), ("x.weight_scale_inv", "F32", [1, 1], 4)]))
    put("safetensors", "scalar.safetensors", st([("s", "F64", [], 8), ("z", "F32", [0, 5], 0)]))
    put("safetensors", "empty.safetensors", st([], {}))


def hf_index_seeds():
    idx = {"metadata": {"total_size": 48}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
           "b.weight": "model-00002-of-00002.safetensors", "c.bias": "model-00002-of-00002.safetensors"}}
    put("hf_index", "index.json", json.dumps(idx, indent=2))
    idx2 = {"weight_map": {"a.weight": "../model-00001-of-00002.safetensors"}}
    put("hf_index", "dotdot.json", json.dumps(idx2))


def config_seeds():
    for path in ("presets_qwen3.cc", "presets_dense.cc", "presets_moe.cc"):
        text = open(os.path.join(ROOT, "src", "synth", path), encoding="utf-8").read()
        for m in re.finditer(r'Preset\{"([^"]+)",\s*"[^"]*",\s*"[^"]*",\s*R"\((.*?)\)"', text, re.S):
            put("config", m.group(1) + ".json", m.group(2))


def tokenizer_json_seeds():
    for name in ("qwen3", "deepseek-v3"):
        tj = json.load(open(os.path.join(ROOT, "build", "share", "tokenizers", name, "tokenizer.json"), encoding="utf-8"))
        keep = 400
        vocab = {k: v for k, v in tj["model"]["vocab"].items() if v < keep}
        merges = []
        for m in tj["model"]["merges"]:
            a, b = m if isinstance(m, list) else m.split(" ", 1)
            if a in vocab and b in vocab and a + b in vocab:
                merges.append(m)
        tj["model"]["vocab"] = vocab
        tj["model"]["merges"] = merges[:200]
        tj["added_tokens"] = [dict(t, id=keep + i) for i, t in enumerate(tj["added_tokens"][:8])]
        put("tokenizer_json", name + "-small.json", json.dumps(tj, ensure_ascii=False))


def tokenize_seeds():
    texts = ["Hello, world! How are you?", "你好，世界。静夜思 床前明月光", "<|im_start|>user\nhi<|im_end|>\n",
             "<｜begin▁of▁sentence｜><｜User｜>1+1=?<｜Assistant｜><think>\n", "  leading   spaces\t\ttabs\n\n\nnewlines",
             "numbers 1234567890 3.14159 -42", "emoji 😀🐉 mixed Ünïcödé ﬁ Å", "def f(x):\n    return x ** 2  # comment",
             "\xff\xfe invalid utf-8 \xc3"]
    for i, t in enumerate(texts):
        for flags in (0, 1, 4, 5):
            put("tokenize", f"text{i}-{flags}", bytes([flags]) + t.encode("utf-8", "surrogateescape") if "\xff" not in t
                else bytes([flags]) + b"\xff\xfe invalid utf-8 \xc3")


def jinja_seeds():
    d = os.path.join(ROOT, "build", "llama.cpp", "models", "templates")
    for name in ("Qwen-Qwen3-0.6B", "Qwen-QwQ-32B", "Qwen-Qwen2.5-7B-Instruct", "Qwen3-Coder", "deepseek-ai-DeepSeek-V3.1",
                 "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "GLM-4.6", "Kimi-K2-Instruct", "MiniMax-M2", "moonshotai-Kimi-K2",
                 "meta-llama-Llama-3.1-8B-Instruct", "tencent-Hy3"):
        p = os.path.join(d, name + ".jinja")
        if os.path.exists(p):
            put("jinja", name + ".jinja", open(p, "rb").read())
    put("jinja", "features.jinja", "{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{% set ns = namespace(x=0) %}"
        "{% for i in range(3) if i != 1 %}{{ m(i) | upper }}{% set ns.x = ns.x + i %}{% else %}none{% endfor %}"
        "{{ ns.x }}{{ messages | tojson }}{{ 'a,b' .split(',') | join('-') }}{{ {'k': [1, 2.5, none, true]} | items | list }}"
        "{% if tools is defined and tools %}{{ tools[0].function.name[1:3] }}{% endif %}{{ raise_exception('x') if false }}")


def server_seeds():
    routes = {0: "chat", 1: "completions", 2: "ollama_chat", 3: "ollama_generate", 4: "show"}
    chat = [
        {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": 0},
        {"model": "tiny", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "think"}]}],
         "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 5, "stop": ["x", "y"], "n": 2, "seed": 7},
        {"model": "tiny", "messages": [{"role": "user", "content": "weather?"}], "tools": [{"type": "function", "function":
         {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}], "tool_choice": "auto",
         "logprobs": True, "top_logprobs": 2, "response_format": {"type": "json_object"}, "logit_bias": {"5": -100},
         "chat_template_kwargs": {"enable_thinking": False}, "top_p": 0.9, "top_k": 5, "min_p": 0.1, "presence_penalty": 0.5,
         "frequency_penalty": 0.2, "repetition_penalty": 1.1},
        {"model": "tiny", "messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "f", "arguments": "{\"x\": 1}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "1"}]},
    ]
    comp = [{"model": "tiny", "prompt": "Once upon", "max_tokens": 3, "echo": True, "logprobs": 2},
            {"model": "tiny", "prompt": [1, 2, 3], "stream": True}]
    oll_chat = [{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": False, "think": True,
                 "options": {"temperature": 0, "num_predict": 4, "stop": ["."], "repeat_penalty": 1.1, "seed": 1}, "format": "json"}]
    oll_gen = [{"model": "tiny", "prompt": "why", "system": "s", "raw": False, "stream": True, "format": {"type": "object"}},
               {"model": "tiny", "prompt": "x", "raw": True, "stream": False}]
    for route, bodies in ((0, chat), (1, comp), (2, oll_chat), (3, oll_gen), (4, [{"model": "tiny"}, {"name": "tiny"}])):
        for i, b in enumerate(bodies):
            put("server_request", f"{routes[route]}{i}", bytes([route]) + json.dumps(b).encode())
    put("server_request", "malformed", bytes([0]) + b'{"model": "tiny", "messages": [')


def chat_parser_seeds():
    answers = [
        (0, "<think>\nI should\x01 greet.\n</th\x01ink>\n\nHello!"),
        (2, "reasoning first\x01</think>\n\nanswer"),
        (0, "<tool\x01_call>\n{\"name\": \"get_weather\", \x01\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"),
        (0, "text <tool_call>\n{\"name\": 1}\n</tool_call> <tool_call>{\"name\": \"f\", \"arguments\": {}}"),
        (1, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n```<｜tool▁call▁end｜>\x01<｜tool▁calls▁end｜>"),
        (1, "ok <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>g<｜tool▁sep｜>{\"b\": [1]}<｜tool▁call▁end｜><｜tool▁calls▁end｜> done"),
    ]
    for i, (flags, text) in enumerate(answers):
        put("chat_parsers", f"answer{i}", bytes([flags]) + text.encode())


for f in (gguf_seeds, safetensors_seeds, hf_index_seeds, config_seeds, tokenizer_json_seeds, tokenize_seeds, jinja_seeds,
          server_seeds, chat_parser_seeds):
    f()
print("seeds in", OUT)
