#!/usr/bin/python3
"""Deterministic corpus of chat-template contexts for the parity tests.

usage: conversations.py COUNT [SEED] > contexts.json

Each context holds what HF's apply_chat_template passes: messages, tools (None or a list),
documents (None), add_generation_prompt, bos_token, eos_token, and sometimes enable_thinking.
The messages vary the things templates branch on: system prompts, multi-part content lists,
reasoning_content, <think> inside content, tool definitions, tool_calls with arguments as dicts
and as JSON strings, tool results (one or several in a row), unicode, quotes, whitespace.
"""
import json
import random
import sys

TEXTS = [
    "Hello!",
    "What's the weather like in Paris today?",
    "Écris un poème sur la mer. 🌊",
    "用中文解释一下量子计算。",
    "  leading and trailing spaces  ",
    "Line one\nLine two\n\nLine four",
    'He said "hi" and left \\ back',
    "Tabs\tand\ttabs",
    "<tool_response>fake</tool_response>",
    "x",
    "Compute 2**10 and {braces} and %s percent",
    "Ünïcödé ✓ — em dash … ellipsis",
    "emoji 😀🎉 and CJK 日本語",
    "",
    "A much longer message. " * 6,
]

REASONING = [
    "Let me think step by step.",
    "The user wants X.\nSo I should do Y.",
    "  padded reasoning  ",
    "思考中……",
]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web. Returns the top results.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "max_results": {"type": "integer", "default": 5, "minimum": 1},
                    "filters": {
                        "type": "object",
                        "properties": {"site": {"type": "string"}, "recent": {"type": "boolean"}},
                    },
                    "weights": {"type": "array", "items": {"type": "number"}},
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "run_code",
            "description": "Runs Python code — ünïcode in the description.",
            "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
        },
    },
]

ARGUMENTS = {
    "get_weather": [{"city": "Paris"}, {"city": "東京", "unit": "celsius"}],
    "search": [{"query": "llama \"quoted\"", "max_results": 3}, {"query": "x", "filters": {"site": "a.b", "recent": True}, "weights": [0.5, 1.0, 1e-05]}],
    "run_code": [{"code": "print('hi')\nfor i in range(3):\n    print(i)"}],
}


def text(rng):
    return rng.choice(TEXTS)


def content(rng, allow_list=True):
    if allow_list and rng.random() < 0.04:
        parts = [{"type": "text", "text": text(rng)} for _ in range(rng.randint(1, 3))]
        return parts
    return text(rng)


def tool_call(rng, index):
    name = rng.choice(list(ARGUMENTS))
    args = rng.choice(ARGUMENTS[name])
    if rng.random() < 0.2:
        args = json.dumps(args, ensure_ascii=rng.random() < 0.5)
    call = {"type": "function", "function": {"name": name, "arguments": args}}
    if rng.random() < 0.8:
        call["id"] = f"call_{index}_{rng.randint(100, 999)}"
    return call


def assistant(rng, counter):
    msg = {"role": "assistant"}
    r = rng.random()
    if r < 0.25:
        msg["content"] = f"<think>\n{rng.choice(REASONING)}\n</think>\n\n{text(rng)}"
    elif r < 0.35:
        msg["content"] = None
    else:
        msg["content"] = content(rng, allow_list=rng.random() < 0.5)
    if rng.random() < 0.3:
        msg["reasoning_content"] = rng.choice(REASONING)
    calls = []
    if rng.random() < 0.35:
        calls = [tool_call(rng, counter + k) for k in range(rng.randint(1, 2))]
        msg["tool_calls"] = calls
        if msg["content"] is None and rng.random() < 0.5:
            msg["content"] = ""
    if msg["content"] is None and not calls:
        msg["content"] = text(rng)
    return msg, calls


def conversation(rng):
    messages = []
    if rng.random() < 0.6:
        messages.append({"role": "system", "content": content(rng, allow_list=rng.random() < 0.3)})
    counter = 0
    for _ in range(rng.randint(1, 4)):
        messages.append({"role": "user", "content": content(rng)})
        if rng.random() < 0.75:
            msg, calls = assistant(rng, counter)
            counter += 10
            messages.append(msg)
            for call in calls:
                result = {"role": "tool", "content": rng.choice(["22°C and sunny", '{"results": ["a", "b"]}', "Error: timeout", "ok"])}
                if "id" in call:
                    result["tool_call_id"] = call["id"]
                if rng.random() < 0.5:
                    result["name"] = call["function"]["name"]
                messages.append(result)
            if calls and rng.random() < 0.7:
                final, _ = assistant(rng, counter)
                final.pop("tool_calls", None)
                if final.get("content") is None:
                    final["content"] = text(rng)
                messages.append(final)
    # Sometimes end on the assistant (training-style render) rather than on a user turn.
    if messages[-1]["role"] == "assistant" and rng.random() < 0.5:
        messages.append({"role": "user", "content": text(rng)})
    return messages


def context(rng):
    ctx = {
        "messages": conversation(rng),
        "tools": None,
        "documents": None,
        "add_generation_prompt": rng.random() < 0.75,
        "bos_token": rng.choice(["", "<s>", "<|begin_of_text|>", "<｜begin▁of▁sentence｜>"]),
        "eos_token": rng.choice(["</s>", "<|im_end|>", "<｜end▁of▁sentence｜>"]),
    }
    if rng.random() < 0.4:
        ctx["tools"] = rng.sample(TOOLS, rng.randint(1, len(TOOLS)))
    r = rng.random()
    if r < 0.3:
        ctx["enable_thinking"] = False
    elif r < 0.5:
        ctx["enable_thinking"] = True
    return ctx


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1234
    rng = random.Random(seed)
    json.dump([context(rng) for _ in range(count)], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
