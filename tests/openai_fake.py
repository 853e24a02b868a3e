"""A local stand-in for api.openai.com, for what cannot be reached from here.

It follows OpenAI's documented request and response schemas for the calls OwnVoice
makes (chat completions with usage; errors with Retry-After), and can be told to fail
the next N requests with a status code, like a rate-limited or overloaded API.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, *, reply=lambda messages: "A reply.", prompt_tokens: int = 20,
                 completion_tokens: int = 10):
        self.reply = reply
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.failures: list[int] = []  # status codes to answer with, one per request
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                if fake.failures:
                    status = fake.failures.pop(0)
                    self._send(status, {"error": {"message": f"simulated {status}",
                                                  "type": "server_error", "code": None}},
                               {"Retry-After": "0"} if status == 429 else None)
                    return
                if self.path.endswith("/chat/completions"):
                    content = fake.reply(body["messages"])
                    self._send(200, {
                        "id": "chatcmpl-test", "object": "chat.completion",
                        "created": int(time.time()), "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": fake.prompt_tokens,
                                  "completion_tokens": fake.completion_tokens,
                                  "total_tokens": fake.prompt_tokens + fake.completion_tokens}})
                    return
                self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
