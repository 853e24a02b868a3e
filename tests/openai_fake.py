"""A local stand-in for api.openai.com, for what cannot be reached from here.

It follows OpenAI's documented request and response schemas for the calls OwnVoice
makes — chat completions with usage; errors with Retry-After; files (multipart upload);
fine_tuning.jobs with their events and checkpoints, moving one status further on each
retrieve (validating_files → queued → running → succeeded); `GET /v1/models` with each
model's optional `shutdown_date` — and can be told to fail the next N requests with a
status code, like a rate-limited or overloaded API.

It enforces the rules OpenAI documents for its current models (GPT-6 guide and model
pages, read 2026-11-30), with its own table, not OwnVoice's: reasoning models refuse
`max_tokens`; they take `temperature`/`top_p` only with `reasoning_effort: "none"`, which
gpt-6.1-sol and gpt-6-astra do not accept; models that do not reason refuse
`reasoning_effort`. Since 2026-05-07 OpenAI refuses new fine-tuning jobs to organisations
that never fine-tuned (403): `fine_tuning_open=False` answers so.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Reasoning efforts each family accepts (OpenAI's model pages); absent: does not reason.
_EFFORTS = {"gpt-6.1-sol": ("low", "medium", "high", "xhigh", "max"),
            "gpt-6.2-sol": ("low", "medium", "high", "xhigh", "max"),
            "gpt-6-astra": ("low", "medium", "high", "xhigh", "max"),
            "o1": ("low", "medium", "high"), "o3": ("low", "medium", "high"),
            "o4": ("low", "medium", "high"),
            "gpt-6": ("none", "low", "medium", "high", "xhigh", "max"),
            "gpt-5.": ("none", "low", "medium", "high", "xhigh", "max"),  # 5.1 to 5.6
            "gpt-5": ("minimal", "low", "medium", "high")}


def refusal(body: dict) -> tuple[str, str] | None:
    """(param, message) when OpenAI would answer 400 to this chat completion body."""
    model = body["model"]
    base = model.split(":")[1] if model.startswith("ft:") else model
    efforts = next((v for k, v in sorted(_EFFORTS.items(), key=lambda kv: -len(kv[0]))
                    if base == k or base.startswith((k + "-", k + ".")) or k.endswith(".")
                    and base.startswith(k)), None)
    if efforts is None:
        if "reasoning_effort" in body:
            return "reasoning_effort", f"Unrecognized request argument for {model}."
        return None
    if "max_tokens" in body:
        return "max_tokens", ("Unsupported parameter: 'max_tokens' is not supported with this "
                              "model. Use 'max_completion_tokens' instead.")
    effort = body.get("reasoning_effort", "medium")
    if effort not in efforts:
        return "reasoning_effort", f"Unsupported value: '{effort}' for {model}."
    for name in ("temperature", "top_p"):
        if name in body and effort != "none":
            return name, (f"Unsupported parameter: '{name}' is only supported with "
                          "reasoning_effort 'none'.")
    return None


class FakeOpenAI:
    def __init__(self, *, reply=lambda messages: "A reply.", prompt_tokens: int = 20,
                 completion_tokens: int = 10, latency: float = 0.0,
                 models: dict[str, str | None] | None = None, retry_after: str = "0",
                 fine_tuning_open: bool = True):
        self.reply = reply
        # GET /v1/models: {id: shutdown date 'YYYY-MM-DD' or None}.
        self.models = dict(models or {"gpt-6-luna": None, "gpt-6-sol": None,
                                      "gpt-4o-mini": "2027-01-14"})
        self.retry_after = retry_after  # the Retry-After header sent with a 429
        self.fine_tuning_open = fine_tuning_open
        self.latency = latency  # seconds before each chat answer, like a remote API
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.failures: list[int] = []  # status codes to answer with, one per request
        self.requests: list[dict] = []
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
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

            def _stream(self, body: dict, content: str) -> None:
                """Server-sent events, as the API streams chat.completion.chunk objects."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                base = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": body["model"]}
                words = content.split(" ")
                pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
                chunks = [{**base, "choices": [{"index": 0, "delta": {"content": piece},
                                                "finish_reason": None}]} for piece in pieces]
                chunks.append({**base, "choices": [{"index": 0, "delta": {},
                                                    "finish_reason": "stop"}]})
                if body.get("stream_options", {}).get("include_usage"):
                    chunks.append({**base, "choices": [], "usage": {
                        "prompt_tokens": fake.prompt_tokens,
                        "completion_tokens": fake.completion_tokens,
                        "total_tokens": fake.prompt_tokens + fake.completion_tokens}})
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def do_GET(self):  # noqa: N802
                fake.requests.append({"path": self.path, "method": "GET"})
                parts = self.path.split("?")[0].strip("/").split("/")  # v1/fine_tuning/jobs/…
                if parts[1:] == ["models"]:
                    self._send(200, {"object": "list", "data": [
                        {"id": name, "object": "model", "created": 1_700_000_000,
                         "owned_by": "system", **({"shutdown_date": day} if day else {})}
                        for name, day in fake.models.items()]})
                    return
                if parts[1] == "files" and len(parts) == 4 and parts[3] == "content":
                    data = fake.files[parts[2]]["content"]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if parts[1] == "batches" and len(parts) == 3:
                    batch = fake.batches[parts[2]]
                    fake.advance_batch(batch)
                    self._send(200, batch)
                    return
                if parts[1:3] == ["fine_tuning", "jobs"] and len(parts) >= 4:
                    job = fake.jobs.get(parts[3])
                    if job is None:
                        self._send(404, {"error": {"message": "no such job",
                                                   "type": "invalid_request_error"}})
                    elif len(parts) == 4:
                        fake.advance(job)
                        self._send_job(job)
                    elif parts[4] == "events":
                        self._send(200, {"object": "list", "data": job["_events"][::-1],
                                         "has_more": False})
                    elif parts[4] == "checkpoints":
                        data = job["_checkpoints"][::-1]
                        self._send(200, {"object": "list", "data": data, "has_more": False,
                                         "first_id": data[0]["id"] if data else None,
                                         "last_id": data[-1]["id"] if data else None})
                    return
                self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})

            def _send_job(self, job: dict) -> None:
                self._send(200, {k: v for k, v in job.items() if not k.startswith("_")})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path.endswith("/files"):
                    fake.requests.append({"path": self.path, "method": "POST"})
                    self._send(200, fake.store_file(self.headers["Content-Type"], raw))
                    return
                body = json.loads(raw or b"{}")
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                if fake.failures:
                    status = fake.failures.pop(0)
                    self._send(status, {"error": {"message": f"simulated {status}",
                                                  "type": "server_error", "code": None}},
                               {"Retry-After": fake.retry_after} if status == 429 else None)
                    return
                if self.path.endswith("/chat/completions") and (problem := refusal(body)):
                    self._send(400, {"error": {"message": problem[1], "param": problem[0],
                                               "type": "invalid_request_error",
                                               "code": "unsupported_parameter"}})
                    return
                if self.path.endswith("/chat/completions") and fake.latency:
                    time.sleep(fake.latency)
                if self.path.endswith("/chat/completions") and body.get("stream"):
                    self._stream(body, fake.reply(body["messages"]))
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
                if self.path.endswith("/batches"):
                    self._send(200, fake.create_batch(body))
                    return
                if self.path.endswith("/fine_tuning/jobs"):
                    if not fake.fine_tuning_open:
                        self._send(403, {"error": {
                            "message": "You do not have access to create fine-tuning jobs. "
                                       "Self-serve fine-tuning is no longer available to this "
                                       "organization.", "type": "invalid_request_error",
                            "param": None, "code": "permission_denied"}})
                        return
                    if body.get("training_file") not in fake.files:
                        self._send(400, {"error": {"message": "invalid training_file",
                                                   "type": "invalid_request_error"}})
                        return
                    self._send(200, fake.create_job(body))
                    return
                self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def store_file(self, content_type: str, raw: bytes) -> dict:
        from email.parser import BytesParser
        from email.policy import default

        message = BytesParser(policy=default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields = {part.get_param("name", header="content-disposition"): part
                  for part in message.iter_parts()}
        upload = fields["file"]
        file_id = f"file-{len(self.files) + 1:04d}"
        content = upload.get_payload(decode=True)
        self.files[file_id] = {"content": content,
                               "purpose": fields["purpose"].get_content().strip()}
        return {"id": file_id, "object": "file", "bytes": len(content),
                "created_at": int(time.time()), "filename": upload.get_filename(),
                "purpose": self.files[file_id]["purpose"], "status": "processed"}

    def create_job(self, body: dict) -> dict:
        job_id = f"ftjob-{len(self.jobs) + 1:04d}"
        epochs = body["method"]["supervised"]["hyperparameters"]["n_epochs"]
        job = {"id": job_id, "object": "fine_tuning.job", "model": body["model"],
               "created_at": int(time.time()), "finished_at": None, "fine_tuned_model": None,
               "organization_id": "org-test", "result_files": [], "status": "validating_files",
               "validation_file": body.get("validation_file"),
               "training_file": body["training_file"], "trained_tokens": None, "error": None,
               "seed": 42, "estimated_finish": None, "integrations": [], "user_provided_suffix":
               body.get("suffix"), "method": body["method"],
               "hyperparameters": {"n_epochs": epochs, "batch_size": 1,
                                   "learning_rate_multiplier": 1.8},
               "_events": [], "_checkpoints": []}
        self.jobs[job_id] = job
        self.event(job, "info", "Validating training file")
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def event(self, job: dict, level: str, message: str, data: dict | None = None) -> None:
        job["_events"].append({"object": "fine_tuning.job.event",
                               "id": f"ftevent-{len(job['_events']) + 1}",
                               "created_at": int(time.time()), "level": level,
                               "message": message, "data": data or {},
                               "type": "metrics" if data else "message"})

    def advance(self, job: dict) -> None:
        """One step along OpenAI's lifecycle per retrieve."""
        order = ["validating_files", "queued", "running", "succeeded"]
        if job["status"] not in order[:-1]:
            return
        job["status"] = order[order.index(job["status"]) + 1]
        suffix = job["user_provided_suffix"] or "ft"
        if job["status"] == "running":
            self.event(job, "info", "Fine-tuning job started")
            for step, loss in ((10, 1.9), (20, 1.2)):
                self.event(job, "info", f"Step {step}: training loss={loss}",
                           {"step": step, "train_loss": loss})
                job["_checkpoints"].append({
                    "object": "fine_tuning.job.checkpoint", "id": f"ftckpt-{step}",
                    "created_at": int(time.time()), "fine_tuning_job_id": job["id"],
                    "fine_tuned_model_checkpoint":
                        f"ft:{job['model']}:org-test:{suffix}:abc123:ckpt-step-{step}",
                    "step_number": step,
                    "metrics": {"step": step, "train_loss": loss, "valid_loss": loss + 0.1,
                                "train_mean_token_accuracy": 0.6}})
        if job["status"] == "succeeded":
            job["fine_tuned_model"] = f"ft:{job['model']}:org-test:{suffix}:abc123"
            job["finished_at"] = int(time.time())
            job["trained_tokens"] = 4321
            self.event(job, "info", "The job has successfully completed")

    def create_batch(self, body: dict) -> dict:
        batch_id = f"batch_{len(self.batches) + 1:04d}"
        lines = self.files[body["input_file_id"]]["content"].decode().splitlines()
        batch = {"id": batch_id, "object": "batch", "endpoint": body["endpoint"],
                 "errors": None, "input_file_id": body["input_file_id"],
                 "completion_window": body["completion_window"], "status": "validating",
                 "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "metadata": body.get("metadata"),
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0}}
        self.batches[batch_id] = batch
        return batch

    def advance_batch(self, batch: dict) -> None:
        """validating → in_progress → completed, one step per retrieve."""
        if batch["status"] == "validating":
            batch["status"] = "in_progress"
        elif batch["status"] == "in_progress":
            requests = [json.loads(line) for line in
                        self.files[batch["input_file_id"]]["content"].decode().splitlines()]
            output = []
            for i, request in enumerate(requests):
                if problem := refusal(request["body"]):
                    output.append(json.dumps({
                        "id": f"batch_req_{i}", "custom_id": request["custom_id"],
                        "error": None, "response": {"status_code": 400, "body": {"error": {
                            "message": problem[1], "param": problem[0],
                            "type": "invalid_request_error"}}}}))
                    continue
                output.append(json.dumps({
                    "id": f"batch_req_{i}", "custom_id": request["custom_id"], "error": None,
                    "response": {"status_code": 200, "request_id": f"req_{i}", "body": {
                        "id": f"chatcmpl-{i}", "object": "chat.completion",
                        "created": int(time.time()), "model": request["body"]["model"],
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant",
                            "content": self.reply(request["body"]["messages"])}}],
                        "usage": {"prompt_tokens": self.prompt_tokens,
                                  "completion_tokens": self.completion_tokens,
                                  "total_tokens": self.prompt_tokens + self.completion_tokens}}}}))
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = {"content": "\n".join(output).encode(),
                                   "purpose": "batch_output"}
            batch.update(status="completed", output_file_id=file_id,
                         request_counts={"total": len(requests), "completed": len(requests),
                                         "failed": 0})

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
