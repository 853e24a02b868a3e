"""What crosses a process boundary is typed and defined once: job state and metadata
(engine/jobs.py), progress events (engine/events.py), and the training-target contract whose
`prepare` checks every value before anything is written, rented or sent."""

from __future__ import annotations

import json
import sqlite3

import pytest
import sqlite_utils

from engine import events, paths
from engine.errors import OwnVoiceError
from engine.jobs import Box, Job, JobKind, JobMeta, JobState, Rental
from engine.store import Store, migrations
from engine.training.mlx_target import MacTarget
from engine.training.targets import LocalTarget, TrainingRequest
from remote import runner
from remote.rented import Budget
from remote.targets import BoxTarget, RentedTarget, target_for, target_of


def test_job_metadata_round_trips_and_refuses_unknown_keys(store):
    meta = JobMeta(job_file="/j/job.json", pairs=12, source_lang="en", target_lang="zh",
                   remote=Box(host="gpu", root="/r", dir="/r/jobs/1", pid=42),
                   cloud=Rental(provider="lambda", instance_id="i-1",
                                instance_type="gpu_1x_gh200", region="us-east-3",
                                cents_per_hour=229, launched_at=1.0))
    job = store.add_job(kind=JobKind.REMOTE, status=JobState.PREPARED, provider_id=None,
                        model="base", meta=meta)
    assert isinstance(job, Job) and job.meta == meta and job.status is JobState.PREPARED
    assert job.meta.remote.pid == 42 and job.rented and job.where == "gpu"
    assert JobMeta.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
    with pytest.raises(OwnVoiceError, match="no field.*surprise"):
        JobMeta.from_dict({"pairs": 3, "surprise": 1})
    with pytest.raises(OwnVoiceError, match="no field.*colour"):
        JobMeta.from_dict({"remote": {"host": "h", "root": "/", "dir": "/", "colour": 1}})
    moved = store.update_job(job.id, status=JobState.TRAINING,
                             meta=job.meta.replace(remote=job.meta.remote.replace(offset=10)))
    assert moved.meta.remote.offset == 10 and moved.meta.pairs == 12


def test_one_set_of_state_words_for_every_kind_of_job():
    assert JobState.of_openai_fine_tuning("running") is JobState.TRAINING
    assert JobState.of_openai_fine_tuning("succeeded") is JobState.DONE
    assert JobState.of_openai_batch("in_progress") is JobState.RUNNING
    assert JobState.of_openai_batch("expired") is JobState.FAILED
    assert {s for s in JobState if s.terminal} == {JobState.DONE, JobState.FAILED,
                                                    JobState.CANCELLED}
    assert JobState.TRAINING.active and not JobState.INTERRUPTED.active
    # The box's runner spells its words out (it runs before its environment exists):
    assert set(runner.STATES) <= {s.value for s in JobState}


def test_an_old_database_gets_the_new_state_words(ownvoice_home):
    conn = sqlite3.connect(paths.db_path(), isolation_level=None)
    migrations.migrate(sqlite_utils.Database(conn), stop_after="m008_blind_trials")
    rows = [("openai-pilot", "running", {"base_url": None}),
            ("openai-batch", "collected", {"custom_ids": ["seg-1-default"]}),
            ("remote", "running", {"cloud": {"provider": "lambda", "instance_id": "i",
                                             "instance_type": "t", "region": "r",
                                             "cents_per_hour": 1, "launched_at": 0.0},
                                   "remote_host": "lambda-i"})]
    for kind, status, meta in rows:
        conn.execute("INSERT INTO jobs (kind, status, meta, created_at, updated_at) VALUES "
                     "(?, ?, ?, 'now', 'now')", (kind, status, json.dumps(meta)))
    conn.close()
    with Store() as store:
        rented, batch, pilot = store.jobs()
    assert (pilot.status, pilot.meta.provider_status) == (JobState.TRAINING, "running")
    assert (batch.status, batch.meta.provider_status) == (JobState.DONE, "collected")
    assert rented.status is JobState.TRAINING and rented.meta.cloud.host == "lambda-i"


def test_progress_events_have_one_encoding(tmp_path):
    sent = [events.Evaluation(step=0, total_steps=4, val_loss=3.0, base=True),
            events.Step(step=1, total_steps=4, epoch=0.25, loss=2.5, lr=1e-3,
                        tokens_per_s=812.5, elapsed_s=1.5, eta_s=4.5),
            events.Checkpoint(step=2, total_steps=4, val_loss=2.2, path="/c/2", best=True),
            events.Stage(stage="training", job=3, cost_usd=0.12, usd_per_hour=2.29),
            events.Log(message="stopped early", step=2), events.Error(message="disk full")]
    path = tmp_path / "progress.jsonl"
    path.write_text("".join(events.encode(e) + "\n" for e in sent)
                    + '{"event": "step", "step": 5, "lo')  # a line cut by a kill
    assert events.read(path) == sent
    with pytest.raises(ValueError, match="unknown progress event"):
        events.decode('{"event": "gossip", "step": 1}')
    with pytest.raises(ValueError, match="no field"):
        events.decode('{"event": "log", "message": "m", "colour": "red"}')
    old = events.decode('{"event": "train", "step": 1, "total_steps": 2, "epoch": 0.5, '
                        '"loss": 1.0, "lr": 0.1, "tokens_per_s": 9.0, "elapsed_s": 1.0, '
                        '"eta_s": null, "gpu_memory_gb": null}')
    assert old == events.Step(step=1, total_steps=2, epoch=0.5, loss=1.0, lr=0.1,
                              tokens_per_s=9.0, elapsed_s=1.0)  # a file from before
    assert events.describe(sent[2]) == "checkpoint at step 2, validation loss 2.2000 " \
                                       "(best so far)"
    assert events.identity(sent[1]) == events.identity(
        events.Step(step=1, total_steps=4, epoch=0.25, loss=9.9, lr=1e-3, tokens_per_s=1.0,
                    elapsed_s=9.0))  # the same step of a resumed run is the same event


@pytest.mark.parametrize("request_, message", [
    (TrainingRequest(epochs=0), "Epochs must be above 0"),
    (TrainingRequest(epochs=-1), "Epochs must be above 0"),
    (TrainingRequest(learning_rate=0), "learning rate must be between 0 and 1"),
    (TrainingRequest(learning_rate=3), "learning rate must be between 0 and 1"),
    (TrainingRequest(max_steps=0), "at least 1"),
    (TrainingRequest(quant="Q3"), "Unknown quantisation"),
    (TrainingRequest(base_model="/no/such/model.gguf"), "neither a file or folder"),
])
def test_prepare_refuses_bad_values_and_writes_nothing(store, request_, message):
    for target in (LocalTarget(), BoxTarget("gpu"),
                   RentedTarget("gpu_1x_gh200", ssh_key_name="laptop", cloud=object())):
        with pytest.raises(OwnVoiceError, match=message):
            target.prepare(store, request_)
    assert store.jobs() == []


def test_prepare_checks_the_target_before_anything_is_rented(store, tmp_path):
    fine = TrainingRequest(base_model="Qwen/Qwen2.5-3B-Instruct")
    with pytest.raises(OwnVoiceError, match="No box named gpu"):
        BoxTarget("gpu").prepare(store, fine)
    with pytest.raises(OwnVoiceError, match="--ssh-key-name"):
        RentedTarget("gpu_1x_gh200", ssh_key_name=None, cloud=object()).prepare(store, fine)
    with pytest.raises(OwnVoiceError, match="not a Lambda instance type"):
        RentedTarget("GPU H100!", ssh_key_name="k", cloud=object()).prepare(store, fine)
    with pytest.raises(OwnVoiceError, match="budget in dollars"):
        RentedTarget("gpu_1x_gh200", ssh_key_name="k", cloud=object(),
                     budget=Budget(max_usd=-1)).prepare(store, fine)
    with pytest.raises(OwnVoiceError, match="No training pairs yet"):
        LocalTarget().prepare(store, fine)  # a hub id is taken as one; the pairs are missing
    assert store.jobs() == []


def test_targets_are_named_one_way():
    assert isinstance(target_for("local"), LocalTarget)
    assert isinstance(target_for("mac"), MacTarget) and target_for("mac").kind is JobKind.MAC
    rented = target_for("lambda:gpu_1x_gh200", ssh_key_name="k", budget=Budget(max_hours=2))
    assert isinstance(rented, RentedTarget) and rented.instance_type == "gpu_1x_gh200"
    assert rented.budget.max_hours == 2
    box = target_for("gpu", watchdog_idle_s=60)
    assert isinstance(box, BoxTarget) and box.host_name == "gpu" and box.watchdog_idle_s == 60


def test_a_job_knows_its_target(store):
    local = store.add_job(kind=JobKind.LOCAL, status=JobState.PREPARED, provider_id=None,
                          model="m")
    assert isinstance(target_of(store, local), LocalTarget)
    mac = store.add_job(kind=JobKind.MAC, status=JobState.PREPARED, provider_id=None,
                        model="m")
    assert isinstance(target_of(store, mac), MacTarget) and mac.where == "this machine (MLX)"
    boxed = store.add_job(kind=JobKind.REMOTE, status=JobState.TRAINING, provider_id=None,
                          model="m", meta=JobMeta(remote=Box(host="gpu", root="/", dir="/j")))
    assert isinstance(target_of(store, boxed), BoxTarget)
    pilot = store.add_job(kind=JobKind.PILOT, status=JobState.QUEUED, provider_id="ft-1",
                          model="gpt")
    with pytest.raises(OwnVoiceError, match="not a training run"):
        target_of(store, pilot)


def test_a_training_outcome_is_stored_typed():
    """What train_and_export (or the box's status.json) reports becomes typed metadata."""
    from engine.jobs import CheckpointScore, TrainSummary

    outcome = {"train": {"steps": 6, "best_val_loss": 1.2, "base_val_loss": 3.4,
                         "best_checkpoint": "/run/checkpoints/step-000006"},
               "checkpoint_scores": [{"path": "/c/6", "step": 6, "val_loss": 1.2,
                                      "length_drift": 0.1, "number_drift": 0.0,
                                      "stop_rate": 1.0, "score": 1.25}],
               "exported_adapter": "/c/6/adapter", "export": {"gguf": "x.gguf"}}
    meta = JobMeta(pairs=3).with_outcome(outcome)
    assert meta.train == TrainSummary(steps=6, best_val_loss=1.2, base_val_loss=3.4,
                                      best_checkpoint="/run/checkpoints/step-000006")
    assert meta.checkpoint_scores == [CheckpointScore(path="/c/6", step=6, val_loss=1.2,
                                                      length_drift=0.1, number_drift=0.0,
                                                      stop_rate=1.0, score=1.25)]
    assert JobMeta.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
    with pytest.raises(OwnVoiceError, match="no field.*loss_curve"):
        JobMeta().with_outcome({"train": {"steps": 1, "loss_curve": []}})


def test_the_box_status_the_runner_writes_is_what_the_app_reads(tmp_path):
    from engine.jobs import BoxStatus

    runner.write_status(tmp_path, "bootstrapping", detail="installing the training stack")
    read = BoxStatus.from_dict(json.loads((tmp_path / "status.json").read_text()))
    assert read.job_state is JobState.BOOTSTRAPPING and read.detail.startswith("installing")
    outcome = {"train": {"steps": 2}, "checkpoint_scores": [], "exported_adapter": "/a",
               "export": {"gguf": "/box/x.gguf", "sha256": "0" * 64}}
    runner.write_status(tmp_path, "done", resumed=False, processes=2, **outcome)
    read = BoxStatus.from_dict(json.loads((tmp_path / "status.json").read_text()))
    assert read.job_state is JobState.DONE and read.processes == 2
    assert JobMeta().with_outcome(read.outcome()).train.steps == 2
    with pytest.raises(AssertionError):
        runner.write_status(tmp_path, "pondering")  # not a JobState word


def test_no_box_can_take_a_name_that_means_another_target(store):
    from remote import hosts

    with pytest.raises(OwnVoiceError, match="'local' means this machine"):
        hosts.add(store, "local", "ubuntu@203.0.113.7")
    with pytest.raises(OwnVoiceError, match="'mac' means this machine with MLX"):
        hosts.add(store, "mac", "ubuntu@203.0.113.7")
    with pytest.raises(OwnVoiceError, match="letters, digits"):
        hosts.add(store, "lambda:gpu_1x_gh200", "ubuntu@203.0.113.7")
    assert store.hosts() == []


def test_training_here_without_the_train_extra_says_what_to_install(store, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(OwnVoiceError, match="needs peft.*ownvoice\\[train\\]"):
        LocalTarget().prepare(store, TrainingRequest())
    assert store.jobs() == []


def every_parameter(command, path=("ownvoice",)):
    import click

    for param in command.params:
        yield path, param
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from every_parameter(sub, (*path, name))


def test_every_whole_number_on_the_command_line_is_bounded():
    """Ids, limits, steps, counts: each is an IntRange that stops at SQLite's largest
    INTEGER, so no number a user types can overflow further on."""
    import click

    from desktop.cli import cli
    from desktop.cli.common import SQLITE_MAX_INT

    numbers = [(path, param) for path, param in every_parameter(cli)
               if isinstance(param.type, click.types.IntParamType)]
    assert len(numbers) > 15  # the walk found the commands
    unbounded = [(" ".join(path), param.name) for path, param in numbers
                 if not isinstance(param.type, click.IntRange) or param.type.max is None
                 or param.type.max > SQLITE_MAX_INT]
    assert not unbounded


def test_every_fraction_on_the_command_line_is_finite_and_bounded(ownvoice_home):
    """A FloatRange with both ends, or (epochs, learning rate) the training request's own
    check: `inf` and `nan` are one line, never an OverflowError deep in training."""
    import click

    from desktop.cli import cli
    from tests.conftest import run_ownvoice

    loose = [(" ".join(path), param.name) for path, param in every_parameter(cli)
             if isinstance(param.type, click.types.FloatParamType)
             and param.name not in ("epochs", "learning_rate")
             and (not isinstance(param.type, click.FloatRange) or param.type.min is None
                  or param.type.max is None)]
    assert not loose
    for value in ("inf", "nan", "-1"):
        result = run_ownvoice("train", "--local", "--epochs", value, check=False)
        assert result.returncode == 2 and "Epochs must be above 0" in result.stderr, value
        assert "Traceback" not in result.stderr
    result = run_ownvoice("train", "--on", "lambda:gpu_1x_gh200", "--max-usd", "inf",
                          check=False)
    assert result.returncode == 2 and "not in the range" in result.stderr


def test_numbers_beyond_sqlite_integers_get_one_line(ownvoice_home):
    from tests.conftest import run_ownvoice

    huge = str(2**63)
    for args in (("jobs", "attach", huge), ("jobs", "cancel", huge), ("train", "--resume", huge),
                 ("finetune", "--attach", huge), ("rate", huge, "up"),
                 ("correct", huge, "--text", "x"), ("history", "--limit", huge),
                 ("corpus", "segments", "--limit", huge)):
        result = run_ownvoice(*args, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, args
        assert "not in the range" in result.stderr, args


def test_malformed_progress_lines_are_skipped_not_fatal(tmp_path):
    """A line without an event or a step, a foreign object, text: skipped; the rest read."""
    good = events.Step(step=1, total_steps=2, epoch=0.5, loss=1.0, lr=0.1, tokens_per_s=1.0,
                       elapsed_s=1.0)
    path = tmp_path / "progress.jsonl"
    path.write_text("\n".join([
        '{"step": 1, "loss": 2.0}', '{"event": "step"}', '[1, 2]', 'not json', '"text"',
        '{"event": "checkpoint", "step": "two", "total_steps": 2, "val_loss": null}',
        '{"event": "log", "step": "two", "message": "a step that is not a count"}',
        '{"event": "checkpoint", "step": 2, "total_steps": 3, "path": "p", "val_loss": "z"}',
        '{"event": "step", "step": 1, "total_steps": 2, "epoch": 0.5, "loss": "high", '
        '"lr": 0.1, "tokens_per_s": 1.0, "elapsed_s": 1.0}',
        '{"event": "log", "step": 3, "message": ["not", "text"]}',
        events.encode(good)]) + "\n")
    assert events.read(path) == [good]
    assert events.decode_lines(path.read_text()) == ([good], 10)
    for event in events.read(path):
        events.describe(event)  # whatever was read can be shown
