"""A real OpenAI-compatible server on 127.0.0.1: llama-cpp-python's own, serving a GGUF."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, model: Path, *, alias: str = "local", api_key: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.alias = alias
        self.args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                     "--model_alias", alias, "--host", "127.0.0.1", "--port", str(self.port),
                     "--n_ctx", "2048"]
        if api_key:
            self.args += ["--api_key", api_key]
        self.api_key = api_key
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a chatty server would fill a pipe and hang.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__

    def __enter__(self) -> LlamaServer:
        self.process = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("llama_cpp.server exited: "
                                   + self.log.read().decode(errors="replace")[-2000:])
            try:
                request = urllib.request.Request(
                    f"{self.url}/models",
                    headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})
                with urllib.request.urlopen(request, timeout=2) as response:
                    json.load(response)
                return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("llama_cpp.server did not start within 90 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
