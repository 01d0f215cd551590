#!/usr/bin/python3
"""A stand-in for the Hugging Face hub on 127.0.0.1, for tests/hub/run_pull_e2e.sh.

Serves the repositories under --root (ROOT/ORG/NAME/...) through the two routes dragon uses:
  GET /api/models/ORG/NAME/tree/REV?recursive=true   file list; weights carry lfs.oid = sha256
  GET /ORG/NAME/resolve/REV/PATH                     file bytes, honouring "Range: bytes=N-"
Test modes:
  --interrupt-after N  the first download of each weight file stops after N bytes (connection
                       closed mid-body), as a dropped network would
  --bad-sha PATH       the listing advertises a wrong sha256 for PATH
  --token T            a gated hub: every request needs "Authorization: Bearer T", else 401
Every download is logged to --log as JSON lines {path, start, sent, status}.
"""
import argparse, hashlib, http.server, json, os, sys, urllib.parse

args = None
interrupted = set()


def is_lfs(path):
    return path.endswith((".safetensors", ".gguf"))


class Hub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log(self, **entry):
        with open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_GET(self):
        if args.token and self.headers.get("Authorization") != f"Bearer {args.token}":
            return self.send_json({"error": "Access to this repository is restricted"}, 401)
        url = urllib.parse.urlparse(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        if len(parts) >= 5 and parts[0] == "api" and parts[1] == "models" and parts[4] == "tree":
            return self.tree(parts[2], parts[3])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts[0], parts[1], "/".join(parts[4:]))
        self.send_json({"error": "not found"}, 404)

    def tree(self, org, name):
        repo = os.path.join(args.root, org, name)
        if not os.path.isdir(repo):
            return self.send_json({"error": "Repository not found"}, 404)
        files = []
        for dirpath, _, names in os.walk(repo):
            for n in sorted(names):
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, repo)
                entry = {"type": "file", "path": rel, "size": os.path.getsize(full), "oid": "0" * 40}
                if is_lfs(rel):
                    sha = hashlib.sha256(open(full, "rb").read()).hexdigest()
                    if rel == args.bad_sha:
                        sha = hashlib.sha256(b"not the content").hexdigest()
                    entry["lfs"] = {"oid": sha, "size": entry["size"], "pointerSize": 134}
                files.append(entry)
        self.send_json(files)

    def resolve(self, org, name, rel):
        full = os.path.join(args.root, org, name, rel)
        if ".." in rel or not os.path.isfile(full):
            return self.send_json({"error": "Entry not found"}, 404)
        data = open(full, "rb").read()
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        key = f"{org}/{name}/{rel}"
        if args.interrupt_after and is_lfs(rel) and key not in interrupted and len(body) > args.interrupt_after:
            interrupted.add(key)
            self.wfile.write(body[: args.interrupt_after])
            self.wfile.flush()
            self.log(path=key, start=start, sent=args.interrupt_after, status=status)
            self.close_connection = True
            return
        self.wfile.write(body)
        self.log(path=key, start=start, sent=len(body), status=status)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--interrupt-after", type=int, default=0)
    p.add_argument("--bad-sha", default="")
    p.add_argument("--token", default="")
    args = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
