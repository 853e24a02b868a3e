"""A fine-tuning job on a GPU box: upload, start detached (once), follow, cancel, fetch.

Everything the job needs travels with it: this exact version of OwnVoice (a source
archive), the base model when it is a local file or folder, the datasets and the job file.
The box runs `python3 -m remote.runner JOB_DIR` under setsid + nohup, so the run survives
a dropped connection, a closed laptop and an app restart; the job's remote folder, PID and
progress offset live in the job's row, so the app re-attaches from the database.

The box's folder (default ~/ownvoice):
    code/<version>/     the source archive, unpacked
    env/                a venv with the training stack (unless the box's Python has it)
    models/<id>/        base models sent from this machine
    jobs/job-NNNN-xxxx/ job.json, box.json, datasets, run/ (checkpoints, progress.jsonl),
                        export/ (the GGUF), status.json, runner.log, heartbeat
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shlex
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from engine import finetune
from engine.errors import OwnVoiceError

from . import bundle, transfer
from .session import RemoteError, Session

REMOTE_ROOT = "ownvoice"
ACTIVE = ("uploading", "running")
TAIL_BYTES = 64
TERMINAL = ("done", "failed", "cancelled")


def requirements() -> list[str]:
    """What the box needs to train and export: the `train` extra and llama-cpp-python."""
    found = []
    for requirement in metadata.requires("ownvoice") or []:
        name, _, marker = (part.strip() for part in requirement.partition(";"))
        train_extra = "extra ==" in marker and '"train"' in marker.replace("'", '"')
        if train_extra or (not marker and name.startswith("llama-cpp-python")):
            # Before 2.11, `pip install torch` on aarch64 (a GH200) gave a CPU-only build.
            found.append("torch>=2.11" if name.startswith("torch") else name)
    return found


def _remote_meta(job: dict) -> dict:
    return dict(job["meta"].get("remote") or {})


def _save(store, job: dict, status: str, **remote) -> dict:
    meta = {**job["meta"], "remote": {**_remote_meta(job), **remote}}
    store.update_job(job["id"], status=status, meta=meta)
    return store.job(job["id"])


def _root(session: Session, host_meta: dict) -> str:
    root = host_meta.get("root") or REMOTE_ROOT
    session.run(["mkdir", "-p", root])
    return session.sftp().normalize(root)


def _exists(session: Session, path: str) -> bool:
    return session.run(["test", "-e", path], check=False).returncode == 0


def _send_code(session: Session, root: str) -> str:
    packed, digest = bundle.source_archive()
    code = f"{root}/code/{digest[:16]}"
    if _exists(session, f"{code}/remote/runner.py"):
        return code
    session.run(["mkdir", "-p", f"{root}/code"])
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "ownvoice.tar.gz"
        archive.write_bytes(packed)
        transfer.upload(session, archive, f"{code}.tar.gz")
    partial = f"{code}.part"
    session.run(["rm", "-rf", partial])
    session.run(["mkdir", "-p", partial])
    session.run(["tar", "-xzf", f"{code}.tar.gz", "-C", partial])
    session.run(["mv", "-T", partial, code])
    session.run(["rm", "-f", f"{code}.tar.gz"])
    return code


def _send_base(session: Session, root: str, base_model: str, progress) -> str:
    """A local base model (file or folder) goes to the box once; a hub id stays an id."""
    local = Path(base_model).expanduser()
    if not local.exists():
        return base_model
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    listing = "\n".join(f"{p.relative_to(local.parent)}:{p.stat().st_size}" for p in files)
    target = f"{root}/models/{hashlib.sha256(listing.encode()).hexdigest()[:16]}"
    for path in files:
        remote = f"{target}/{path.relative_to(local.parent).as_posix()}"
        session.run(["mkdir", "-p", remote.rsplit("/", 1)[0]])
        transfer.upload(session, path, remote, progress=progress)
    return f"{target}/{local.name}"


def start(store, session: Session, job: dict, *, host_meta: dict | None = None,
          quant: str = "auto", checkpoint_step: int | None = None,
          watchdog_idle_s: float | None = None, watchdog_action: str = "none",
          upload_progress: Callable[[int, int], None] | None = None) -> dict:
    """Send the job and start it on the box. Calling it again for the same job never starts
    a second run: the job's folder is fixed in the database first, and the box starts a
    runner only if that folder has none."""
    from engine.training.config import TrainConfig

    host_meta = host_meta or {}
    remote = _remote_meta(job)
    if "dir" not in remote:
        root = _root(session, host_meta)
        folder = f"{root}/jobs/job-{job['id']:04d}-{secrets.token_hex(4)}"
        job = _save(store, job, "uploading", host=session.host.name, root=root, dir=folder,
                    offset=0)
        remote = _remote_meta(job)
    root, folder = remote["root"], remote["dir"]
    session.run(["mkdir", "-p", f"{folder}/run"])
    code = _send_code(session, root)
    meta = job["meta"]
    config = TrainConfig.load(meta["job_file"])
    local_dir = Path(meta["job_file"]).parent
    base = _send_base(session, root, config.base_model, upload_progress)
    for name in ("train.jsonl", "val.jsonl"):
        if (local_dir / name).exists():
            transfer.upload(session, local_dir / name, f"{folder}/{name}")
    config.base_model = base
    config.train_file = f"{folder}/train.jsonl"
    config.val_file = f"{folder}/val.jsonl" if config.val_file else None
    config.output_dir = f"{folder}/run"
    plan = {"python": host_meta.get("python"), "env": f"{root}/env", "code": code,
            "requirements": requirements(), "name": f"voice-{job['id']}", "quant": quant,
            "checkpoint_step": checkpoint_step, "meta": meta,
            "processes": host_meta.get("processes"),
            "watchdog_idle_s": watchdog_idle_s, "watchdog_action": watchdog_action,
            "environment": host_meta.get("environment") or {}}
    with tempfile.TemporaryDirectory() as tmp:
        config.save(Path(tmp) / "job.json")
        (Path(tmp) / "box.json").write_text(json.dumps(plan, ensure_ascii=False, indent=2))
        for name in ("job.json", "box.json"):
            transfer.upload(session, Path(tmp) / name, f"{folder}/{name}")
    pid = _launch(session, folder, code)
    return _save(store, job, "running", pid=pid, code=code)


def _launch(session: Session, folder: str, code: str) -> int:
    """Start the runner detached — unless this folder already has one — and return its PID.

    `setsid nohup … &` with every stream redirected returns at once and survives the
    session; it must not follow `&&` (the `&` would background the whole list in a subshell
    that keeps the channel open). `mkdir` is atomic: only one start wins."""
    q = shlex.quote
    runner = shlex.join(["setsid", "nohup", "env", f"PYTHONPATH={code}", "python3", "-m",
                         "remote.runner", folder])
    command = (f"cd {q(folder)} || exit 1; "
               f"if mkdir started.lock 2>/dev/null; then "
               f"{runner} > runner.log 2>&1 < /dev/null & echo $! > runner.pid; fi; "
               f"sleep 0.1; cat runner.pid")
    output = session.run_shell(command, argv=["start runner"]).stdout.split()
    if not output:
        raise RemoteError(f"The runner in {folder} did not report its PID.")
    return int(output[-1])


def status(session: Session, job: dict) -> dict:
    """The box's status.json, plus whether the runner process is alive."""
    remote = _remote_meta(job)
    try:
        with session.sftp().open(f"{remote['dir']}/status.json") as f:
            state = json.loads(f.read())
    except FileNotFoundError:
        state = {"state": "starting"}
    pid = remote.get("pid")
    state["alive"] = False
    if pid:  # a zombie (exited, not yet reaped) is not alive
        found = session.run(["ps", "-o", "stat=", "-p", str(pid)], check=False)
        state["alive"] = found.returncode == 0 and not found.stdout.strip().startswith("Z")
    return state


def log_tail(session: Session, job: dict, lines: int = 20) -> str:
    folder = _remote_meta(job)["dir"]
    return session.run(["tail", "-n", str(lines), f"{folder}/runner.log"], check=False).stdout


def heartbeat(session: Session, job: dict) -> None:
    """Tell the box's watchdog the app is still here."""
    path = f"{_remote_meta(job)['dir']}/heartbeat"
    sftp = session.sftp()
    with sftp.open(path, "a"):
        pass
    sftp.utime(path, None)


def local_progress_file(job: dict) -> Path:
    return finetune.job_dir(job["id"]) / "progress.jsonl"


def poll_progress(store, session: Session, job: dict) -> tuple[dict, list[dict]]:
    """New progress lines since the stored byte offset, appended once to the local copy."""
    remote = _remote_meta(job)
    offset = remote.get("offset", 0)
    path = f"{remote['dir']}/run/progress.jsonl"
    sftp = session.sftp()
    try:
        size = sftp.stat(path).st_size
    except FileNotFoundError:
        return job, []
    with sftp.open(path, "rb") as f:
        # A resumed run rewrites the file (it may since have grown past our offset): the
        # bytes before the offset must still be the ones we read, or we start again from 0
        # (lines already mirrored are not repeated).
        if offset:
            seen_tail = remote.get("tail", "")
            start = max(0, offset - TAIL_BYTES)
            f.seek(start)
            if size < offset or f.read(offset - start).hex() != seen_tail:
                offset = 0
        if size == offset:
            return job, []
        f.seek(offset)
        data = f.read(size - offset)
    complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
    if not complete:
        return job, []
    consumed = offset + len(complete)
    mirror = local_progress_file(job)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    seen = set()
    if mirror.exists():
        for line in mirror.read_text("utf-8").splitlines():
            record = json.loads(line)
            seen.add((record["event"], record["step"]))
    fresh = []
    for line in complete.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a killed runner
            continue
        if (record["event"], record["step"]) not in seen:
            seen.add((record["event"], record["step"]))
            fresh.append(record)
    with mirror.open("a", encoding="utf-8") as f:
        for record in fresh:
            f.write(json.dumps(record) + "\n")
    job = _save(store, job, job["status"], offset=consumed,
                tail=_tail(sftp, path, consumed, complete, offset))
    return job, fresh


def _tail(sftp, path: str, consumed: int, complete: bytes, offset: int) -> str:
    """The last bytes before `consumed`, to recognise the same file at the next poll."""
    if len(complete) >= TAIL_BYTES or offset == 0:
        return complete[-TAIL_BYTES:].hex()
    with sftp.open(path, "rb") as f:
        start = max(0, consumed - TAIL_BYTES)
        f.seek(start)
        return f.read(consumed - start).hex()


def cancel(store, session: Session, job: dict, *, grace_s: float = 60) -> dict:
    """SIGTERM to the runner's process group (it writes a checkpoint and exits), then
    SIGKILL if it is still there after `grace_s`."""
    pid = _remote_meta(job).get("pid")
    if pid:
        session.run(["kill", "-TERM", "--", f"-{pid}"], check=False)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and status(session, job)["alive"]:
            time.sleep(0.5)
        if status(session, job)["alive"]:
            session.run(["kill", "-KILL", "--", f"-{pid}"], check=False)
    store.update_job(job["id"], status="cancelled", meta=job["meta"])
    return store.job(job["id"])


def fetch(store, session: Session, job: dict, state: dict,
          progress: Callable[[int, int], None] | None = None) -> dict:
    """Bring the GGUF home (resumable, sha256-checked) and register it."""
    export = state["export"]
    local_dir = finetune.job_dir(job["id"]) / "export"
    gguf = local_dir / Path(export["gguf"]).name
    transfer.download(session, export["gguf"], gguf, progress=progress,
                      expected_sha256=export["sha256"])
    for extra in ("model-card.json", "Modelfile"):
        remote = f"{Path(export['gguf']).parent.as_posix()}/{extra}"
        if _exists(session, remote):
            transfer.download(session, remote, local_dir / extra)
    from engine.training.config import TrainConfig

    base = TrainConfig.load(job["meta"]["job_file"]).base_model
    row = finetune.register(store, job, gguf=str(gguf), sha256=export["sha256"],
                            base_model=base)
    meta = {**job["meta"], **{k: state[k] for k in ("train", "checkpoint_scores",
                                                    "exported_adapter") if k in state},
            "gguf": str(gguf), "smoke_test": export["smoke_test"]}
    store.update_job(job["id"], status="done", result=row["name"], meta=meta)
    return row


def follow(store, session: Session, job: dict, *, interval_s: float = 2.0,
           on_progress: Callable[[dict], None] | None = None,
           on_state: Callable[[dict], None] | None = None,
           download_progress: Callable[[int, int], None] | None = None,
           stop: Callable[[], bool] | None = None, max_cuts: int = 20) -> dict | None:
    """Follow a running job until it ends; fetch and register its model. Returns the model
    row, or None when `stop()` asked to detach (the job goes on)."""
    cuts, restarts = 0, 0
    while True:
        try:
            heartbeat(session, job)
            job, fresh = poll_progress(store, session, job)
            for record in fresh:
                if on_progress:
                    on_progress(record)
            state = status(session, job)
            if on_state:
                on_state(state)
            if state["state"] == "done":
                job, _ = poll_progress(store, session, job)
                return fetch(store, session, job, state, download_progress)
            if state["state"] in ("failed", "cancelled"):
                store.update_job(job["id"], status=state["state"],
                                 meta={**job["meta"], "error": state.get("error")})
                raise OwnVoiceError(f"Job {job['id']} {state['state']} on "
                                    f"{session.host.name}: "
                                    f"{state.get('error') or state.get('reason')}")
            if not state["alive"] and state["state"] == "starting":
                time.sleep(1)  # it may be writing its first status right now
                if status(session, job)["state"] == "starting":
                    store.update_job(job["id"], status="failed", meta=job["meta"])
                    raise OwnVoiceError(f"Job {job['id']}'s runner exited before it began on "
                                        f"{session.host.name}:\n"
                                        f"{log_tail(session, job).strip()}")
                continue
            if not state["alive"]:
                # The runner died (out of memory, a reboot): start it again; it resumes
                # from its last checkpoint.
                restarts += 1
                if restarts > 3:
                    raise OwnVoiceError(f"Job {job['id']}'s runner keeps dying on "
                                        f"{session.host.name}; see runner.log in "
                                        f"{_remote_meta(job)['dir']}.")
                session.run(["rm", "-rf", f"{_remote_meta(job)['dir']}/started.lock"])
                job = _save(store, job, "running",
                            pid=_launch(session, _remote_meta(job)["dir"],
                                        _remote_meta(job)["code"]))
            cuts = 0
        except (RemoteError, *transfer.CUT):  # a cut: SFTP calls raise paramiko's own errors
            cuts += 1
            if cuts > max_cuts:
                raise
            session.close()  # reconnects (with backoff) on the next call
        if stop is not None and stop():
            return None
        time.sleep(interval_s)
