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
import re
import secrets
import shlex
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from engine import events
from engine.errors import OwnVoiceError
from engine.jobs import Box, BoxStatus, Job, JobState
from engine.training import pipeline
from remote import bundle, transfer
from remote.session import HostKeyError, RemoteError, Session

REMOTE_ROOT = "ownvoice"
TAIL_BYTES = 64
EventSink = Callable[[events.Event], None]


def requirements() -> list[str]:
    """What the box installs: every distribution the training code path needs
    (engine.training.stages.REQUIRED), at the version pyproject.toml names for it."""
    from engine.training.stages import REQUIRED

    wanted = {_canonical(name) for name in REQUIRED}
    found = []
    for requirement in metadata.requires("ownvoice") or []:
        spec, _, marker = (part.strip() for part in requirement.partition(";"))
        if marker and marker.replace("'", '"') != 'extra == "train"':
            continue  # the dev extra's llama-cpp-python[server], say
        name = re.split(r"[\s<>=!~\[;(]", spec, maxsplit=1)[0]
        if _canonical(name) in wanted and spec not in found:
            wanted.discard(_canonical(name))
            # Before 2.11, `pip install torch` on aarch64 (a GH200) gave a CPU-only build.
            found.append("torch>=2.11" if _canonical(name) == "torch" else spec)
    if wanted:
        raise OwnVoiceError(f"OwnVoice's own package metadata names no version of "
                            f"{', '.join(sorted(wanted))}; reinstall OwnVoice (`make install`).")
    return found


def stack_check() -> str:
    """The Python line a box's interpreter must run to count as having the training stack."""
    from engine.training.stages import REQUIRED

    return "import " + ", ".join(REQUIRED.values())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _save(store, job: Job, status: JobState, **box) -> Job:
    """Save the job's place on the box (`Box` fields) with its state."""
    placed = job.meta.remote.replace(**box) if job.meta.remote else Box(**box)
    return store.update_job(job.id, status=status, meta=job.meta.replace(remote=placed))


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


def start(store, session: Session, job: Job, *, host_meta: dict | None = None,
          quant: str | None = None, checkpoint_step: int | None = None,
          watchdog_idle_s: float | None = None, watchdog_action: str = "none",
          upload_progress: Callable[[int, int], None] | None = None) -> Job:
    """Send the job and start it on the box. Calling it again for the same job never starts
    a second run: the job's folder is fixed in the database first, and the box starts a
    runner only if that folder has none."""
    from engine.training.config import TrainConfig

    host_meta = host_meta or {}
    if job.meta.remote is None:
        root = _root(session, host_meta)
        folder = f"{root}/jobs/job-{job.id:04d}-{secrets.token_hex(4)}"
        job = _save(store, job, JobState.UPLOADING, host=session.host.name, root=root,
                    dir=folder, offset=0)
    root, folder = job.meta.remote.root, job.meta.remote.dir
    session.run(["mkdir", "-p", f"{folder}/run"])
    code = _send_code(session, root)
    meta = job.meta
    config = TrainConfig.load(meta.job_file)
    local_dir = Path(meta.job_file).parent
    base = _send_base(session, root, config.base_model, upload_progress)
    for name in ("train.jsonl", "val.jsonl"):
        if (local_dir / name).exists():
            transfer.upload(session, local_dir / name, f"{folder}/{name}")
    config.base_model = base
    config.train_file = f"{folder}/train.jsonl"
    config.val_file = f"{folder}/val.jsonl" if config.val_file else None
    config.output_dir = f"{folder}/run"
    plan = {"python": host_meta.get("python"), "env": f"{root}/env", "code": code,
            "requirements": requirements(), "stack": stack_check(), "name": f"voice-{job.id}",
            "quant": quant or meta.quant or "auto",
            "checkpoint_step": checkpoint_step, "meta": meta.to_dict(),
            "processes": host_meta.get("processes"),
            "watchdog_idle_s": watchdog_idle_s, "watchdog_action": watchdog_action,
            "environment": host_meta.get("environment") or {}}
    with tempfile.TemporaryDirectory() as tmp:
        config.save(Path(tmp) / "job.json")
        (Path(tmp) / "box.json").write_text(json.dumps(plan, ensure_ascii=False, indent=2))
        for name in ("job.json", "box.json"):
            transfer.upload(session, Path(tmp) / name, f"{folder}/{name}")
    pid = _launch(session, folder, code)
    return _save(store, job, JobState.QUEUED, pid=pid, code=code)


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


def status(session: Session, job: Job) -> BoxStatus:
    """The box's status.json, with whether the runner process is alive (`alive`).

    Liveness is asked first: a runner seen dead wrote its last status before it died, so
    "dead and not finished" really means it died (read the other way round, a runner that
    finished between the two reads would look dead mid-export and be started again)."""
    alive = None
    pid = job.meta.remote.pid
    if pid:  # a zombie (exited, not yet reaped) is not alive
        found = session.run(["ps", "-o", "stat=", "-p", str(pid)], check=False)
        alive = found.returncode == 0 and not found.stdout.strip().startswith("Z")
    try:
        with session.sftp().open(f"{job.meta.remote.dir}/status.json") as f:
            state = BoxStatus.from_dict(json.loads(f.read()))
    except FileNotFoundError:
        state = BoxStatus(state=JobState.QUEUED.value)
    if alive is not None:
        state.alive = alive
    return state


def log_tail(session: Session, job: Job, lines: int = 20) -> str:
    folder = job.meta.remote.dir
    return session.run(["tail", "-n", str(lines), f"{folder}/runner.log"], check=False).stdout


def heartbeat(session: Session, job: Job) -> None:
    """Tell the box's watchdog the app is still here."""
    path = f"{job.meta.remote.dir}/heartbeat"
    sftp = session.sftp()
    with sftp.open(path, "a"):
        pass
    sftp.utime(path, None)


def local_progress_file(job: Job) -> Path:
    return pipeline.job_dir(job.id) / "progress.jsonl"


def poll_progress(store, session: Session, job: Job) -> tuple[Job, list[events.Event]]:
    """New progress events since the stored byte offset, appended once to the local copy."""
    remote = job.meta.remote
    offset = remote.offset
    path = f"{remote.dir}/run/progress.jsonl"
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
            seen_tail = remote.tail
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
    seen = {events.identity(e) for e in events.read(mirror)}
    fresh = []
    # A line cut by a killed runner, or one this version cannot read: skipped, and said.
    decoded, skipped = events.decode_lines(complete.decode("utf-8", "replace"))
    for event in decoded:
        if events.identity(event) not in seen:
            seen.add(events.identity(event))
            fresh.append(event)
    if skipped:
        step = max((getattr(e, "step", 0) for e in decoded), default=0)
        fresh.append(events.Log(message=f"{skipped} progress line(s) from the box could not "
                                        "be read and were skipped", step=step))
    with mirror.open("a", encoding="utf-8") as f:
        for event in fresh:
            f.write(events.encode(event) + "\n")
    job = _save(store, job, job.status, offset=consumed,
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


def cancel(store, session: Session, job: Job, *, grace_s: float = 60) -> Job:
    """SIGTERM to the runner's process group (it writes a checkpoint and exits), then
    SIGKILL if it is still there after `grace_s`."""
    if job.status.terminal:  # a finished job stays what it is
        return job
    pid = job.meta.remote.pid if job.meta.remote else None
    if pid:
        session.run(["kill", "-TERM", "--", f"-{pid}"], check=False)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and status(session, job).alive:
            time.sleep(0.5)
        if status(session, job).alive:
            session.run(["kill", "-KILL", "--", f"-{pid}"], check=False)
    return store.update_job(job.id, status=JobState.CANCELLED)


def fetch(store, session: Session, job: Job, state: BoxStatus,
          progress: Callable[[int, int], None] | None = None) -> dict:
    """Bring the GGUF home (resumable, sha256-checked) and register it; returns the model
    row. `state` is the box's status of a finished run."""
    export = state.export
    job = store.update_job(job.id, status=JobState.FETCHING)
    local_dir = pipeline.job_dir(job.id) / "export"
    gguf = local_dir / Path(export["gguf"]).name
    transfer.download(session, export["gguf"], gguf, progress=progress,
                      expected_sha256=export["sha256"])
    for extra in ("model-card.json", "Modelfile"):
        remote = f"{Path(export['gguf']).parent.as_posix()}/{extra}"
        if _exists(session, remote):
            transfer.download(session, remote, local_dir / extra)
    from engine.training.config import TrainConfig

    base = TrainConfig.load(job.meta.job_file).base_model
    return pipeline.finished(store, job, state.outcome(), gguf=str(gguf), base_model=base)


def follow(store, session: Session, job: Job, *, interval_s: float = 2.0,
           on_event: EventSink | None = None,
           meter: Callable[[], dict | None] | None = None,
           download_progress: Callable[[int, int], None] | None = None,
           stop: Callable[[], bool] | None = None, max_cuts: int = 20) -> dict | None:
    """Follow a running job until it ends; fetch and register its model. Returns the model
    row, or None when `stop()` asked to detach (the job goes on). Progress events go to
    `on_event`, and a Stage event each time the box's state changes (with the cost so far
    when `meter()` gives one: rented.meter's dict)."""
    cuts, restarts, last = 0, 0, None

    def tell(state: JobState, detail: str = "") -> None:
        cost = meter() if meter is not None else None
        if on_event is not None:
            on_event(events.Stage(stage=state.value, job=job.id, detail=detail,
                                  cost_usd=cost["usd"] if cost else None,
                                  usd_per_hour=cost["usd_per_hour"] if cost else None))

    while True:
        try:
            heartbeat(session, job)
            job, fresh = poll_progress(store, session, job)
            for event in fresh:
                if on_event:
                    on_event(event)
            state = status(session, job)
            word = state.job_state
            if word is not last:
                last = word
                if word.active:
                    job = store.update_job(job.id, status=word)
                tell(word, state.detail or "")
            elif meter is not None:  # a rented box: the cost so far, at every poll
                tell(word, state.detail or "")
            if word is JobState.DONE:
                job, _ = poll_progress(store, session, job)
                return fetch(store, session, job, state, download_progress)
            if word in (JobState.FAILED, JobState.CANCELLED):
                why = state.error or state.reason
                store.update_job(job.id, status=word, meta=job.meta.replace(error=why))
                raise OwnVoiceError(f"Job {job.id} {word.value} on {session.host.name}: {why}")
            if not state.alive and word is JobState.QUEUED:
                time.sleep(1)  # it may be writing its first status right now
                if status(session, job).job_state is JobState.QUEUED:
                    store.update_job(job.id, status=JobState.FAILED)
                    raise OwnVoiceError(f"Job {job.id}'s runner exited before it began on "
                                        f"{session.host.name}:\n"
                                        f"{log_tail(session, job).strip()}")
                continue
            if not state.alive:
                # The runner died (out of memory, a reboot): start it again; it resumes
                # from its last checkpoint.
                restarts += 1
                if restarts > 3:
                    raise OwnVoiceError(f"Job {job.id}'s runner keeps dying on "
                                        f"{session.host.name}; see runner.log in "
                                        f"{job.meta.remote.dir}.")
                session.run(["rm", "-rf", f"{job.meta.remote.dir}/started.lock"])
                job = _save(store, job, job.status,
                            pid=_launch(session, job.meta.remote.dir, job.meta.remote.code))
            cuts = 0
        except HostKeyError:
            raise  # not a cut: the box is not the one pinned; asking again cannot help
        except (RemoteError, *transfer.CUT):  # a cut: SFTP calls raise paramiko's own errors
            cuts += 1
            if cuts > max_cuts:
                raise
            session.close()  # reconnects (with backoff) on the next call
        if stop is not None and stop():
            return None
        time.sleep(interval_s)
