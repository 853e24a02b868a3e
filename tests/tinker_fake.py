"""A stand-in for Thinking Machines' Tinker service on loopback (the real one cannot be
reached from here), for the real `tinker` SDK (the pinned 0.38.0).

It follows the wire that SDK speaks, as docs/design/tinker.md §3 records it from the SDK's
source and a captured trace: JSON requests with a `type` discriminator; heavy operations
answer with an untyped future (`request_id`) that `retrieve_future` long-polls; protobuf
(`tinker.proto.tinker_public_pb2`, imported from the installed SDK so that a wire change
fails here loudly) for forward_backward requests and for ForwardBackwardOutput and
SampleResponse results; failures as `{"error", "category"}`; checkpoints under
`tinker://<run>/{weights,sampler_weights,external_weights}/<name>`, external weights
downloaded through signed URLs. The loss is Tinker's documented `cross_entropy`:
`-(logprobs[target_tokens] * weights).sum()`, gradients accumulating until `optim_step`
(AdamW). It also serves Tinker's OpenAI-compatible endpoint (`/oai/api/v1/chat/completions`,
OpenAI's chat-completions schema, streaming with a usage chunk), where `model` is a base id
or a `tinker://…/sampler_weights/…` path.

The training is real: a tiny local model (tests/tiny_model.py) with a PEFT LoRA, on CPU.

    with FakeTinker({"Qwen/Qwen3-4B-Instruct-2507": tiny_dir}, tmp / "store") as fake:
        tinker.ServiceClient(base_url=fake.base_url, api_key=fake.api_key)

Knobs: `fail_next(path, status)`; counters `trained_tokens`, `prefill_tokens`,
`sampled_tokens`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import queue
import re
import secrets
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tinker.proto import tinker_public_pb2 as pb

PROTO = "application/x-protobuf"
KEY = "tml-ownvoice-test"
LORA_ALPHA = 32  # Tinker's LoRA alpha
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>")


class HttpError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status


class Future:
    def __init__(self):
        self.done = threading.Event()
        self.result: dict | bytes | None = None
        self.error: tuple[str, str] | None = None  # (message, category)


class Run:
    """One LoRA training run: the PEFT-wrapped base and AdamW over the LoRA parameters."""

    def __init__(self, model_id: str, base_name: str, base_dir: str, lora: dict):
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        self.model_id, self.base_name, self.base_dir = model_id, base_name, base_dir
        self.lora = dict(lora)
        self.rank = int(lora.get("rank", 32))
        torch.manual_seed(lora.get("seed") or 0)
        targets = (TARGETS[:4] if lora.get("train_attn", True) else []) + (
            TARGETS[4:] if lora.get("train_mlp", True) else [])
        if lora.get("train_unembed", True):
            targets.append("lm_head")
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        self.peft = get_peft_model(base, LoraConfig(r=self.rank, lora_alpha=LORA_ALPHA,
                                                    lora_dropout=0.0, target_modules=targets))
        self.params = [p for p in self.peft.parameters() if p.requires_grad]
        self.opt: torch.optim.Optimizer | None = None
        self.steps = 0

    def tinker_state(self) -> dict:
        """The LoRA tensors under Tinker's names: no adapter name, lm_head as unembed."""
        out = {}
        for name, value in self.peft.state_dict().items():
            if ".lora_" in name:
                name = name.replace(".default", "").replace(
                    "base_model.model.lm_head.", "base_model.model.model.unembed_tokens.")
                out[name] = value.detach().clone().contiguous()
        return out


def peft_state(folder: Path) -> tuple[dict, list[str], dict]:
    cfg = json.loads((folder / "adapter_config.json").read_text())
    state = {k.replace("base_model.model.model.unembed_tokens.", "base_model.model.lm_head."): v
             for k, v in load_file(str(folder / "adapter_model.safetensors")).items()}
    targets = sorted({k.split(".lora_")[0].rsplit(".", 1)[-1] for k in state})
    return state, targets, cfg


class FakeTinker:
    def __init__(self, base_models: Mapping[str, str | Path], storage: str | Path, *,
                 api_key: str = KEY):
        self.base_models = {name: str(path) for name, path in base_models.items()}
        self.storage = Path(storage)
        self.storage.mkdir(parents=True, exist_ok=True)
        self.api_key = api_key
        self.url_secret = secrets.token_bytes(16)
        self.lock = threading.Lock()
        self.futures: dict[str, Future] = {}
        self.sessions: dict[str, dict] = {}
        self.runs: dict[str, Run] = {}
        self.samplers: dict[str, dict] = {}
        self.checkpoints: dict[str, list[dict]] = {}
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[str, tuple[int, dict]] = {}
        self.trained_tokens = self.prefill_tokens = self.sampled_tokens = 0
        self._models: dict[tuple[str, str], tuple] = {}  # (base, weights) → (model, tokenizer)
        self._model_lock = threading.Lock()
        self._work: queue.Queue = queue.Queue()
        self._httpd: ThreadingHTTPServer | None = None

    # --- knobs ---------------------------------------------------------------------------

    def fail_next(self, path: str, status: int, body: dict | None = None, *,
                  times: int = 1) -> None:
        """Answer the next `times` requests to `path` (e.g. "/api/v1/create_session") with
        `status` and a JSON `body`."""
        self.failures[path] = [status, body or {"detail": f"fake failure {status}"}, times]

    # --- the server ----------------------------------------------------------------------

    def __enter__(self) -> FakeTinker:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: every reply has a Content-Length

            def log_message(self, *args):
                pass

            def reply(self, status: int, payload, ctype: str = "application/json"):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self, method: str):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                path = parts.path
                fake.calls.append((method, path))
                if path.startswith("/files/"):  # signed URLs: no key, a signature
                    return self.reply(*fake.serve_file(path, parse_qs(parts.query)))
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if fake.api_key not in (self.headers.get("X-API-Key"), bearer):
                    return self.reply(401, {"detail": "Invalid API key"})
                if path in fake.failures:
                    status, payload, left = fake.failures[path]
                    if left <= 1:
                        del fake.failures[path]
                    else:
                        fake.failures[path][2] = left - 1
                    return self.reply(status, payload)
                try:
                    if path == "/oai/api/v1/chat/completions":
                        return fake.chat_completions(self, json.loads(body or b"{}"))
                    status, payload, ctype = fake.route(method, path, body, self.headers)
                except HttpError as exc:
                    status, payload, ctype = exc.status, {"detail": str(exc)}, "application/json"
                except Exception as exc:  # a bug in the fake: loudly, as a 400 (not retried)
                    traceback.print_exc()
                    status, payload, ctype = 400, {"detail": repr(exc)}, "application/json"
                self.reply(status, payload, ctype)

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

            def do_PUT(self):
                self.handle_any("PUT")

            def do_DELETE(self):
                self.handle_any("DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        threading.Thread(target=self._work_loop, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._work.put(None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _work_loop(self) -> None:
        """One worker: requests run in the order they were submitted (seq_id order)."""
        while (item := self._work.get()) is not None:
            future, fn = item
            try:
                future.result = fn()
            except Exception as exc:
                if not isinstance(exc, HttpError):
                    traceback.print_exc()
                future.error = (str(exc), "user" if isinstance(exc, HttpError) else "server")
            future.done.set()

    def _submit(self, fn, model_id: str | None = None, **extra) -> dict:
        request_id = str(uuid.uuid4())
        future = Future()
        with self.lock:
            self.futures[request_id] = future
        self._work.put((future, fn))
        return {"request_id": request_id, **({"model_id": model_id} if model_id else {}),
                **extra}

    def _sign(self, rel: str) -> str:
        return hmac.new(self.url_secret, rel.encode(), hashlib.sha256).hexdigest()

    def serve_file(self, path: str, query: dict) -> tuple:
        rel = path[len("/files/"):]
        if not hmac.compare_digest(query.get("sig", [""])[0], self._sign(rel)):
            return 403, {"detail": "bad signature"}
        target = (self.storage / rel).resolve()
        if self.storage.resolve() not in target.parents or not target.is_file():
            return 404, {"detail": "no such file"}
        return 200, target.read_bytes(), "application/octet-stream"

    # --- routes --------------------------------------------------------------------------

    def route(self, method: str, path: str, body: bytes, headers) -> tuple:
        def ok(obj, status=200):
            return status, obj, "application/json"

        proto = PROTO in headers.get("Content-Type", "")
        req = json.loads(body) if body and not proto else {}
        api = path.removeprefix("/api/v1")
        if api == "/client/config":
            return ok({"pjwt_auth_enabled": False, "use_pyqwest_transport": False,
                       "proto_compress_fwdbwd": False, "sample_use_retrieve_futures": False,
                       "custom_loss_server_side": False, "sample_join_sampling_session": False,
                       "billing_exception_max_pause_duration_sec": 1})
        if api == "/client/dynamic_config":
            return ok({"refresh_interval_sec": 300, "sample_cancel_enabled": False})
        if api in ("/healthz", "/telemetry"):
            return ok({"status": "ok"})
        if api == "/get_server_capabilities":
            return ok({"supported_models": [
                {"model_name": name, "trainable": True, "sampleable": True,
                 "max_context_length": 1024} for name in self.base_models]})
        if api == "/create_session":
            session = str(uuid.uuid4())
            self.sessions[session] = {"request": req, "finished": None}
            return ok({"type": "create_session", "session_id": session})
        if api == "/session_heartbeat":
            return ok({"type": "session_heartbeat"})
        if m := re.fullmatch(r"/sessions/([^/]+)/finish", api):
            self.sessions.setdefault(m[1], {})["finished"] = req
            return ok({})
        if api == "/create_model":
            return ok(self._create_model(req))
        if api == "/get_info":
            run = self._run(req["model_id"])
            return ok({"type": "get_info", "model_id": run.model_id, "is_lora": True,
                       "lora_rank": run.rank, "model_name": run.base_name,
                       "model_data": {"arch": "llama", "model_name": run.base_name,
                                      "tokenizer_id": run.base_dir}})
        if api == "/forward_backward" or api == "/forward":
            return ok(self._forward_backward(body))
        if api == "/optim_step":
            return ok(self._optim_step(req))
        if api == "/save_weights_for_sampler":
            return ok(self._save(req, "sampler_weights"))
        if api == "/save_weights":
            return ok(self._save(req, "weights"))
        if api == "/save_weights_external":
            return ok(self._save(req, "external_weights"))
        if api == "/load_weights":
            return ok(self._load_weights(req))
        if api == "/create_sampling_session":
            return ok(self._create_sampling_session(req))
        if m := re.fullmatch(r"/samplers/([^/]+)", api):
            sampler = self.samplers[m[1]]
            return ok({"sampler_id": m[1], "base_model": sampler["base_name"],
                       "model_path": sampler.get("model_path")})
        if api == "/asample":
            return ok(self._asample(req))
        if api == "/retrieve_future":
            return self._retrieve(req)
        if m := re.fullmatch(r"/training_runs/(.+?)/checkpoints/(external_weights/[^/]+)"
                             r"/external_weights_urls", api):
            folder = self.storage / m[1] / m[2]
            if not folder.is_dir():
                raise HttpError(404, f"no checkpoint {m[2]} in {m[1]}")
            urls = {}
            for f in sorted(folder.iterdir()):
                rel = f"{m[1]}/{m[2]}/{f.name}"
                urls[f.name] = f"{self.base_url}/files/{rel}?sig={self._sign(rel)}"
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            return ok({"urls": urls, "expires": expires.isoformat()})
        if m := re.fullmatch(r"/training_runs/(.+)/checkpoints", api):
            return ok({"checkpoints": self.checkpoints.get(m[1], []), "cursor": None})
        if method == "DELETE" and (m := re.fullmatch(r"/training_runs/(.+?)/checkpoints/(.+)",
                                                     api)):
            shutil.rmtree(self.storage / m[1] / m[2], ignore_errors=True)
            self.checkpoints[m[1]] = [c for c in self.checkpoints.get(m[1], [])
                                      if c["checkpoint_id"] != m[2]]
            return ok({})
        return ok({"detail": f"the fake has no {method} {path}"}, 404)

    def _run(self, model_id: str) -> Run:
        if model_id not in self.runs:
            raise HttpError(404, f"no model {model_id}")
        return self.runs[model_id]

    def _retrieve(self, req: dict) -> tuple:
        future = self.futures.get(req["request_id"])
        if future is None:
            return 404, {"detail": "unknown request"}, "application/json"
        if not future.done.wait(timeout=20):  # long-poll: the SDK asks again at once
            return 200, {"type": "try_again", "request_id": req["request_id"],
                         "queue_state": "active"}, "application/json"
        if future.error:
            return 200, {"error": future.error[0], "category": future.error[1]}, \
                "application/json"
        if isinstance(future.result, bytes):
            return 200, future.result, PROTO
        return 200, future.result, "application/json"

    # --- training ------------------------------------------------------------------------

    def _create_model(self, req: dict) -> dict:
        base = req["base_model"]
        if base not in self.base_models:
            raise HttpError(400, f"base model {base} is not supported")
        model_id = f"{req['session_id']}:train:{req['model_seq_id']}"
        lora = {**(req.get("lora_config") or {"rank": 32})}

        def run():
            self.runs[model_id] = Run(model_id, base, self.base_models[base], lora)
            return {"type": "create_model", "model_id": model_id}
        return self._submit(run, model_id)

    def _forward_backward(self, body: bytes) -> dict:
        msg = pb.ForwardBackwardRequest()
        msg.ParseFromString(body)
        run = self._run(msg.model_id)
        if msg.loss_fn != "cross_entropy":
            raise HttpError(400, f"the fake knows cross_entropy only, not {msg.loss_fn}")

        def tensor(t):
            dtype = {pb.DTYPE_FLOAT32: np.float32, pb.DTYPE_INT64: np.int64}[t.dtype]
            if t.HasField("sparse_csr"):
                csr = t.sparse_csr
                return torch.sparse_csr_tensor(
                    torch.from_numpy(np.frombuffer(csr.crow_indices, np.int64).copy()),
                    torch.from_numpy(np.frombuffer(csr.col_indices, np.int64).copy()),
                    torch.from_numpy(np.frombuffer(csr.values, dtype).copy()),
                    size=tuple(t.shape)).to_dense()
            return torch.from_numpy(np.frombuffer(t.dense, dtype).copy()).reshape(tuple(t.shape))

        def work():
            rows, total = [], 0.0
            for datum in msg.data:
                ids = np.concatenate([np.frombuffer(c.encoded_text.tokens, np.int32)
                                      for c in datum.model_input]).astype(np.int64)
                targets = tensor(datum.loss_fn_inputs["target_tokens"]).long()
                weights = tensor(datum.loss_fn_inputs["weights"]).float()
                if not len(ids) == len(targets) == len(weights):
                    raise HttpError(400, "model_input, target_tokens and weights differ in "
                                         "length")
                with torch.set_grad_enabled(not msg.forward_only):
                    logits = run.peft(input_ids=torch.from_numpy(ids)[None]).logits[0].float()
                    logprobs = torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0]
                    loss = -(logprobs * weights).sum()
                    if not msg.forward_only:
                        loss.backward()  # gradients accumulate until optim_step
                        self.trained_tokens += len(ids)
                total += float(loss.detach())
                rows.append(logprobs.detach().numpy().astype(np.float32))
            out = pb.ForwardBackwardOutput(loss_fn_output_type="ArrayRecord")
            record = out.loss_fn_outputs.add(type_tag="ArrayRecord", num_datums=len(rows))
            field = record.fields["logprobs"]
            field.data = b"".join(r.tobytes() for r in rows)
            field.offsets = np.cumsum([0] + [r.nbytes for r in rows]).astype(np.int64).tobytes()
            field.dtype = pb.DTYPE_FLOAT32
            out.metrics["loss:sum"] = total
            return out.SerializeToString()
        return self._submit(work, msg.model_id)

    def _optim_step(self, req: dict) -> dict:
        run = self._run(req["model_id"])
        p = req.get("adam_params") or {}

        def work():
            lr = p.get("learning_rate", 1e-4)
            if run.opt is None:
                run.opt = torch.optim.AdamW(run.params, lr=lr)
            for group in run.opt.param_groups:
                group.update(lr=lr, betas=(p.get("beta1", 0.9), p.get("beta2", 0.95)),
                             eps=p.get("eps", 1e-12), weight_decay=p.get("weight_decay", 0.0))
            if p.get("grad_clip_norm", 0.0) > 0:
                torch.nn.utils.clip_grad_norm_(run.params, p["grad_clip_norm"])
            run.opt.step()
            run.opt.zero_grad(set_to_none=True)
            run.steps += 1
            return {"metrics": {"step:unique": float(run.steps)}}
        return self._submit(work, run.model_id)

    def _save(self, req: dict, kind: str) -> dict:
        run = self._run(req["model_id"])
        name = req.get("path") or f"ephemeral-{uuid.uuid4().hex[:8]}"
        if "/" in name or ".." in name:
            raise HttpError(400, f"bad checkpoint name {name!r}")

        def work():
            folder = self.storage / run.model_id / kind / name
            folder.mkdir(parents=True, exist_ok=True)
            save_file(run.tinker_state(), str(folder / "adapter_model.safetensors"))
            (folder / "adapter_config.json").write_text(json.dumps(
                {"r": run.rank, "lora_alpha": LORA_ALPHA, "base_model": run.base_name}))
            if kind == "weights" and run.opt is not None:
                torch.save(run.opt.state_dict(), folder / "optimizer.pt")
            path = f"tinker://{run.model_id}/{kind}/{name}"
            self.checkpoints.setdefault(run.model_id, []).append({
                "checkpoint_id": f"{kind}/{name}",
                "checkpoint_type": {"weights": "training", "sampler_weights": "sampler",
                                    "external_weights": "external"}[kind],
                "time": dt.datetime.now(dt.UTC).isoformat(), "tinker_path": path,
                "size_bytes": sum(f.stat().st_size for f in folder.iterdir())})
            if kind == "sampler_weights" and req.get("path") is None:  # ephemeral sampler
                sampler = f"{run.model_id}:sample:{req.get('sampling_session_seq_id', 0)}"
                self.samplers[sampler] = {"base_name": run.base_name, "weights": folder}
                return {"type": "save_weights_for_sampler", "sampling_session_id": sampler}
            kinds = {"weights": "save_weights", "sampler_weights": "save_weights_for_sampler",
                     "external_weights": "save_weights_external"}
            return {"type": kinds[kind], "path": path,
                    **({"size_bytes": sum(f.stat().st_size for f in folder.iterdir())}
                       if kind == "external_weights" else {})}
        return self._submit(work, run.model_id)

    def _checkpoint(self, path: str) -> tuple[Run, Path]:
        m = re.fullmatch(r"tinker://([^/]+)/((?:weights|sampler_weights|external_weights)"
                         r"/[^/]+)", path or "")
        if not m or m[1] not in self.runs or not (self.storage / m[1] / m[2]).is_dir():
            raise HttpError(404, f"no checkpoint {path}")
        return self.runs[m[1]], self.storage / m[1] / m[2]

    def _load_weights(self, req: dict) -> dict:
        source, folder = self._checkpoint(req["path"])
        model_id = f"{req['session_id']}:train:{req['model_seq_id']}"

        def work():
            from peft import set_peft_model_state_dict

            run = Run(model_id, source.base_name, source.base_dir, source.lora)
            set_peft_model_state_dict(run.peft, peft_state(folder)[0])
            if req.get("optimizer") and (folder / "optimizer.pt").exists():
                run.opt = torch.optim.AdamW(run.params, lr=1e-4)
                run.opt.load_state_dict(torch.load(folder / "optimizer.pt"))
            self.runs[model_id] = run
            return {"type": "load_weights", "path": req["path"], "model_id": model_id}
        return self._submit(work, model_id)

    # --- sampling ------------------------------------------------------------------------

    def _create_sampling_session(self, req: dict) -> dict:
        sampler = f"{req['session_id']}:sample:{req['sampling_session_seq_id']}"
        self.samplers[sampler] = self._sampler_for(req.get("model_path") or req["base_model"])
        return {"type": "create_sampling_session", "sampling_session_id": sampler}

    def _sampler_for(self, model: str) -> dict:
        """A base id, a sampler_weights path, or "<base id>;<path>"."""
        model = model.split(";")[-1]
        if model.startswith("tinker://"):
            run, folder = self._checkpoint(model)
            if "/sampler_weights/" not in model:
                raise HttpError(400, f"{model} is not a sampler_weights checkpoint")
            return {"base_name": run.base_name, "weights": folder, "model_path": model}
        if model not in self.base_models:
            raise HttpError(404, f"unknown model {model}")
        return {"base_name": model, "weights": None}

    def _model(self, sampler: dict):
        """The sampler's model and tokenizer, loaded once."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        base_dir = self.base_models[sampler["base_name"]]
        key = (base_dir, str(sampler["weights"]))
        with self._model_lock:
            if key not in self._models:
                model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
                if sampler["weights"] is not None:
                    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

                    state, targets, cfg = peft_state(sampler["weights"])
                    model = get_peft_model(model, LoraConfig(
                        r=cfg["r"], lora_alpha=cfg["lora_alpha"], target_modules=targets))
                    set_peft_model_state_dict(model, state)
                self._models[key] = (model.eval(), AutoTokenizer.from_pretrained(base_dir))
            return self._models[key]

    def _generate(self, sampler: dict, prompt: list[int], *, max_tokens: int,
                  temperature: float, stop_ids: set[int], stop_texts: list[str],
                  seed: int | None):
        """(tokens, logprobs, stopped) — greedy at temperature 0."""
        model, tokenizer = self._model(sampler)
        generator = torch.Generator().manual_seed(seed or 0)
        ids, logprobs = list(prompt), []
        self.prefill_tokens += len(prompt)
        with self._model_lock, torch.no_grad():
            for _ in range(max_tokens):
                logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
                logp = torch.log_softmax(logits, -1)
                token = int(logits.argmax()) if temperature <= 0 else int(torch.multinomial(
                    torch.softmax(logits / temperature, -1), 1, generator=generator))
                ids.append(token)
                logprobs.append(float(logp[token]))
                self.sampled_tokens += 1
                if token in stop_ids or (stop_texts and any(
                        tokenizer.decode(ids[len(prompt):]).endswith(s) for s in stop_texts)):
                    return ids[len(prompt):], logprobs, True
        return ids[len(prompt):], logprobs, False

    def _asample(self, req: dict) -> dict:
        sampler = self.samplers[req["sampling_session_id"]] \
            if req.get("sampling_session_id") else self._sampler_for(
                req.get("model_path") or req["base_model"])
        n = req.get("num_samples", 1)
        params = req["sampling_params"]
        prompt = [t for chunk in req["prompt"]["chunks"] for t in chunk["tokens"]]

        def work():
            model, tokenizer = self._model(sampler)
            stop = params.get("stop")
            stop_ids = {model.config.eos_token_id} if stop is None else {
                s for s in stop if isinstance(s, int)}
            stop_texts = [s for s in stop or [] if isinstance(s, str)]
            out = pb.SampleResponse()
            for i in range(n):
                tokens, logprobs, stopped = self._generate(
                    sampler, prompt, max_tokens=params.get("max_tokens") or 16,
                    temperature=params.get("temperature", 1.0), stop_ids=stop_ids,
                    stop_texts=stop_texts, seed=(params.get("seed") or 0) + i)
                seq = out.sequences.add(stop_reason=pb.STOP_REASON_STOP if stopped
                                        else pb.STOP_REASON_LENGTH)
                seq.tokens = np.array(tokens, np.int32).tobytes()
                seq.logprobs = np.array(logprobs, np.float32).tobytes()
            return out.SerializeToString()
        return self._submit(work, None, sample_sequence_ids=[str(uuid.uuid4())
                                                             for _ in range(n)])

    # --- the OpenAI-compatible endpoint --------------------------------------------------

    def chat_completions(self, handler, req: dict) -> None:
        try:
            sampler = self._sampler_for(req.get("model") or "")
        except HttpError as exc:
            return handler.reply(exc.status, {"error": {"message": str(exc),
                                                        "type": "invalid_request_error"}})
        model, tokenizer = self._model(sampler)
        prompt = tokenizer.apply_chat_template(req["messages"], add_generation_prompt=True,
                                               tokenize=True)
        prompt = list(prompt["input_ids"] if hasattr(prompt, "keys") else prompt)
        stop_ids = {tokenizer.eos_token_id, *(tokenizer.convert_tokens_to_ids(t)
                                              for t in END_OF_TURN if t in tokenizer.get_vocab())}
        stop = req.get("stop") or []
        tokens, _, stopped = self._generate(
            sampler, prompt,
            max_tokens=req.get("max_completion_tokens") or req.get("max_tokens") or 256,
            temperature=req.get("temperature", 1.0), stop_ids=stop_ids,
            stop_texts=[stop] if isinstance(stop, str) else list(stop), seed=req.get("seed"))
        text = tokenizer.decode([t for t in tokens if t not in stop_ids],
                                skip_special_tokens=True)
        for s in [stop] if isinstance(stop, str) else stop:
            text = text.split(s)[0]
        finish = "stop" if stopped else "length"
        usage = {"prompt_tokens": len(prompt), "completion_tokens": len(tokens),
                 "total_tokens": len(prompt) + len(tokens)}
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
        if not req.get("stream"):
            return handler.reply(200, {
                "id": ident, "object": "chat.completion", "created": created,
                "model": req["model"], "usage": usage,
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                             "message": {"role": "assistant", "content": text}}]})
        chunks = [{"index": 0, "delta": {"role": "assistant", "content": ""},
                   "finish_reason": None}]
        chunks += [{"index": 0, "delta": {"content": piece}, "finish_reason": None}
                   for piece in re.findall(r"\s*\S+|\s+", text)]
        chunks.append({"index": 0, "delta": {}, "finish_reason": finish})
        events = [{"id": ident, "object": "chat.completion.chunk", "created": created,
                   "model": req["model"], "choices": [c]} for c in chunks]
        if (req.get("stream_options") or {}).get("include_usage"):
            events.append({"id": ident, "object": "chat.completion.chunk", "created": created,
                           "model": req["model"], "choices": [], "usage": usage})
        data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
        handler.reply(200, data + b"data: [DONE]\n\n", "text/event-stream")
