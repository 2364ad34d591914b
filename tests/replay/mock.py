#!/usr/bin/env python3
"""Recording mock upstream for the kochava-replay tests (stdlib only).

    mock.py --script SCRIPT.json --record RECORD.jsonl --port-file FILE

Listens on 127.0.0.1, an ephemeral port (written to --port-file). Every
request is appended to --record as one JSON line: time, method, path,
headers, body (base64, so bytes compare exactly), and the number of
requests in flight when it arrived.

The script says how to answer:

    {"rules": [{"match": "marker-1",
                "answers": [{"status": 503, "headers": {"Retry-After": "1"},
                             "body": "", "delay": 0}, {"status": 200}]}],
     "default": {"status": 200, "body": "{\"success\":\"1\"}"}}

The first rule whose "match" occurs in the request body answers; its n-th
request gets answers[n] (the last one repeats). An answer without "body"
gets {"success":"1"}; "delay" (seconds) is waited before answering.

    {"down_file": "/path/DOWN", "down": {"status": 503, "body": ""}}

makes every request get "down" while the file /path/DOWN exists (an
upstream that goes away and comes back).
"""

import argparse
import base64
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"inflight": 0, "counts": {}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()

    with open(args.script) as f:
        script = json.load(f)
    record = open(args.record, "a")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def setup(self):
            # headers and body go out in two writes: without this, Nagle
            # and the client's delayed ACK hold the body for 40 ms
            super().setup()
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,
                                    1)

        def handle(self):
            try:
                super().handle()
            except ConnectionError:
                pass    # the replay was killed mid-request

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            with LOCK:
                STATE["inflight"] += 1
                inflight = STATE["inflight"]
                answer = script.get("default", {})
                rules = script.get("rules", [])
                if ("down_file" in script
                        and os.path.exists(script["down_file"])):
                    answer = script.get("down", {"status": 503, "body": ""})
                    rules = []
                for i, rule in enumerate(rules):
                    if rule["match"].encode() in body:
                        k = STATE["counts"].get(i, 0)
                        STATE["counts"][i] = k + 1
                        answers = rule["answers"]
                        answer = answers[min(k, len(answers) - 1)]
                        break
                record.write(json.dumps({
                    "time": time.time(), "method": self.command,
                    "path": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body": base64.b64encode(body).decode(),
                    "inflight": inflight}) + "\n")
                record.flush()
            try:
                time.sleep(answer.get("delay", 0))
                out = answer.get("body", '{"success":"1"}').encode()
                self.send_response(answer.get("status", 200))
                for k, v in answer.get("headers", {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type",
                                 answer.get("type", "application/json"))
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass
            finally:
                with LOCK:
                    STATE["inflight"] -= 1

        do_GET = do_POST

    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
