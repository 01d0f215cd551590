#!/usr/bin/env python3
"""A stand-in OpenAI-compatible endpoint for tests/eval/run_eval_e2e.sh.

  mock_openai_server.py PORT_FILE LOG_FILE CEVAL_DIR [API_KEY]

Listens on 127.0.0.1 (a free port, written to PORT_FILE) and serves
  POST /v1/completions       the "right" letter for the C-Eval question at the end of the
                             prompt (looked up in CEVAL_DIR/val/*.csv), as the top logprob with a
                             leading space (" C"), the other letters below it;
  POST /v1/chat/completions  always "<think>...</think>经过分析，答案是B。"
Every request is appended to LOG_FILE as one JSON line {path, authorization, body}. With
API_KEY, a request without "Authorization: Bearer API_KEY" gets HTTP 401 and an OpenAI-style
error body.
"""
import csv
import glob
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file, ceval_dir = sys.argv[1:4]
api_key = sys.argv[4] if len(sys.argv) > 4 else ""

answers = {}
for path in glob.glob(os.path.join(ceval_dir, "val", "*.csv")):
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            answers[row["question"]] = row["answer"]


def last_question(prompt):
    block = prompt.rsplit("\n\n", 1)[-1]
    return block.split("\nA. ", 1)[0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        auth = self.headers.get("Authorization", "")
        with open(log_file, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "authorization": auth, "body": body}, ensure_ascii=False) + "\n")
        if api_key and auth != "Bearer " + api_key:
            return self.reply(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        usage = {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101}
        if self.path == "/v1/completions":
            right = answers.get(last_question(body["prompt"]), "A")
            top = {" " + right: -0.1, "答": -3.0}
            for letter in "ABCD":
                if letter != right:
                    top[letter] = -2.0 - (ord(letter) - 65) * 0.1
            return self.reply(200, {"object": "text_completion", "model": body["model"], "usage": usage,
                                    "choices": [{"index": 0, "text": " " + right, "finish_reason": "length",
                                                 "logprobs": {"tokens": [" " + right], "token_logprobs": [-0.1],
                                                              "top_logprobs": [top]}}]})
        if self.path == "/v1/chat/completions":
            content = "<think>先看选项A，不对。</think>经过分析，答案是B。"
            return self.reply(200, {"object": "chat.completion", "model": body["model"], "usage": usage,
                                    "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant", "content": content}}]})
        self.reply(404, {"error": {"message": "no route " + self.path}})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
