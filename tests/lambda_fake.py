"""A stand-in for the Lambda Cloud API on loopback (the real one cannot be reached from
here), following its documented endpoints and shapes: `{"data": …}` on success,
`{"error": {"code", "message", "suggestion"}}` on failure, 429 when called too fast.

A launched "instance" becomes active after a few polls with the IP 127.0.0.1; `on_launch`
receives the cloud-init user data, so a test can put the host key it carries into the real
sshd that plays the box.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "secret_ownvoice-test_0123456789abcdef"

TYPES = {
    "gpu_1x_gh200": {"description": "1x GH200 (96 GB)", "gpu_description": "GH200 (96 GB)",
                     "price_cents_per_hour": 229,
                     "specs": {"vcpus": 64, "memory_gib": 432, "storage_gib": 4096, "gpus": 1},
                     "regions": ["us-east-3"]},
    "gpu_1x_h100_pcie": {"description": "1x H100 (80 GB PCIe)", "gpu_description":
                         "H100 (80 GB PCIe)", "price_cents_per_hour": 249,
                         "specs": {"vcpus": 26, "memory_gib": 200, "storage_gib": 1024,
                                   "gpus": 1}, "regions": []},
}


class FakeLambda:
    def __init__(self, *, boot_polls: int = 2, too_many_requests: int = 0,
                 no_capacity_in: tuple[str, ...] = (),
                 on_launch: Callable[[str], None] | None = None, retry_after: str = "0"):
        self.boot_polls = boot_polls
        self.too_many_requests = too_many_requests  # answer the next N calls with 429
        self.retry_after = retry_after  # their Retry-After: seconds, an HTTP date, or junk
        self.no_capacity_in = set(no_capacity_in)  # launch fails there despite the listing
        self.on_launch = on_launch
        self.instances: dict[str, dict] = {}
        self.calls: list[tuple[str, str, dict | None]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status, code, message, suggestion=None, headers=None):
                error = {"code": code, "message": message}
                if suggestion:
                    error["suggestion"] = suggestion
                self._send(status, {"error": error}, headers)

            def _handle(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with fake.lock:
                    fake.calls.append((method, self.path, body))
                    if self.headers.get("Authorization") != f"Bearer {KEY}":
                        return self._error(401, "global/invalid-api-key",
                                           "API key was invalid, expired, or deleted.",
                                           "Check your API key or create a new one.")
                    if fake.too_many_requests > 0:
                        fake.too_many_requests -= 1
                        return self._error(429, "global/too-many-requests",
                                           "Too many requests.",
                                           headers={"Retry-After": fake.retry_after})
                    return fake.route(self, method, self.path.removeprefix("/api/v1"), body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v1"

    @staticmethod
    def _type(name: str) -> dict:
        spec = TYPES[name]
        return {"name": name, **{k: v for k, v in spec.items() if k != "regions"}}

    def _instance_view(self, instance: dict) -> dict:
        view = {k: v for k, v in instance.items() if not k.startswith("_")}
        if instance["status"] == "booting":
            view.pop("ip", None)
        return view

    def route(self, handler, method: str, path: str, body: dict | None):
        if method == "GET" and path == "/instance-types":
            return handler._send(200, {"data": {
                name: {"instance_type": self._type(name),
                       "regions_with_capacity_available": [
                           {"name": r, "description": r} for r in spec["regions"]]}
                for name, spec in TYPES.items()}})
        if method == "GET" and path == "/ssh-keys":
            return handler._send(200, {"data": [{"id": "k1", "name": "laptop",
                                                 "public_key": "ssh-ed25519 AAAA test"}]})
        if method == "POST" and path == "/instance-operations/launch":
            missing = [k for k in ("region_name", "instance_type_name", "ssh_key_names")
                       if k not in body]
            if missing or len(body["ssh_key_names"]) != 1:
                return handler._error(400, "global/invalid-parameters", "Invalid request data.")
            kind, region = body["instance_type_name"], body["region_name"]
            if kind not in TYPES:
                return handler._error(404, "global/object-does-not-exist",
                                      "Instance type not found.", "List instance types.")
            if region not in TYPES[kind]["regions"] or region in self.no_capacity_in:
                return handler._error(400, "instance-operations/launch/insufficient-capacity",
                                      "Not enough capacity to fulfill launch request.")
            instance_id = secrets.token_hex(16)
            self.instances[instance_id] = {
                "id": instance_id, "name": body.get("name"), "ip": "127.0.0.1",
                "status": "booting", "ssh_key_names": body["ssh_key_names"],
                "file_system_names": [], "region": {"name": region, "description": region},
                "instance_type": self._type(kind), "hostname": "127-0-0-1",
                "actions": {}, "_polls": 0}
            if self.on_launch is not None:
                self.on_launch(body.get("user_data") or "")
            return handler._send(200, {"data": {"instance_ids": [instance_id]}})
        if method == "GET" and path == "/instances":
            return handler._send(200, {"data": [
                self._instance_view(i) for i in self.instances.values()
                if i["status"] != "terminated"]})
        if method == "GET" and path.startswith("/instances/"):
            instance = self.instances.get(path.rsplit("/", 1)[1])
            if instance is None:
                return handler._error(404, "global/object-does-not-exist",
                                      "Specified instance does not exist.")
            instance["_polls"] += 1
            if instance["status"] == "booting" and instance["_polls"] > self.boot_polls:
                instance["status"] = "active"
            return handler._send(200, {"data": self._instance_view(instance)})
        if method == "POST" and path == "/instance-operations/terminate":
            done = []
            for instance_id in body.get("instance_ids", []):
                instance = self.instances.get(instance_id)
                if instance is None or instance["status"] == "terminated":
                    return handler._error(404, "global/object-does-not-exist",
                                          "Specified instance does not exist.")
                instance["status"] = "terminated"
                done.append(self._instance_view(instance))
            return handler._send(200, {"data": {"terminated_instances": done}})
        return handler._error(404, "global/not-found", "The requested resource was not found.")

    def running(self) -> list[str]:
        return [i for i, v in self.instances.items() if v["status"] != "terminated"]

    def __enter__(self) -> FakeLambda:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
