"""The box's environment: the runner reuses a Python that has the training stack, and
otherwise builds a venv once and installs the requirements into it. Here the "stack" is a
small package built by the test (installing torch from scratch takes minutes), but the venv,
pip and the stamp are the real thing."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from remote import runner


def tiny_wheel(folder):
    """A wheel of a package called ownvoice_stack_probe, built by hand (no network)."""
    name, version = "ownvoice_stack_probe", "1.0"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": "VALUE = 42\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


@pytest.fixture
def plan(tmp_path):
    return {"python": None, "env": str(tmp_path / "env"), "reuse_box_python": False,
            "stack": "import ownvoice_stack_probe",
            "requirements": [str(tiny_wheel(tmp_path))]}


def test_a_venv_is_built_once_and_then_reused(plan, tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    python = runner.ensure_env(plan, job_dir)
    assert python == str(tmp_path / "env" / "bin" / "python")
    probe = subprocess.run([python, "-c", "import ownvoice_stack_probe as p; print(p.VALUE)"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "42"
    assert "pip install" in (job_dir / "bootstrap.log").read_text()
    assert json.loads((job_dir / "status.json").read_text())["state"] == "bootstrapping"
    stamps = list((tmp_path / "env").glob("ready-*"))
    assert len(stamps) == 1
    (job_dir / "bootstrap.log").unlink()
    assert runner.ensure_env(plan, job_dir) == python  # the stamp: nothing installed again
    assert not (job_dir / "bootstrap.log").exists()


def test_a_python_that_has_the_stack_is_reused(plan, tmp_path):
    plan.update(reuse_box_python=True, stack="import json")
    assert runner.ensure_env(plan, tmp_path) in ("python3", sys.executable)
    assert not (tmp_path / "env").exists()


def test_a_failed_install_says_where_to_look(plan, tmp_path):
    plan["requirements"] = [str(tmp_path / "missing.whl")]
    with pytest.raises(RuntimeError, match="Setting up the environment failed.*bootstrap.log"):
        runner.ensure_env(plan, tmp_path)


def test_a_named_python_without_the_stack_is_refused(plan, tmp_path):
    plan["python"] = sys.executable
    with pytest.raises(RuntimeError, match="cannot import the training stack"):
        runner.ensure_env(plan, tmp_path)


def runner_in(job_dir, timeout: float = 60) -> subprocess.CompletedProcess:
    from tests.conftest import ROOT

    return subprocess.run([sys.executable, "-m", "remote.runner", str(job_dir)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_one_job_never_has_two_runners(tmp_path):
    """A second runner for a job whose runner still holds the job exits at once, and
    touches nothing (the app may start one again when it wrongly thinks the first died)."""
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "box.json").write_text(json.dumps({"environment": {}}))
    assert runner.hold_job(job_dir)  # this test process is the first runner
    second = runner_in(job_dir)
    assert second.returncode == 0 and "has a runner already" in second.stdout
    assert not (job_dir / "status.json").exists()


def test_a_runner_for_a_finished_job_does_nothing(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "box.json").write_text(json.dumps({"environment": {}}))
    for state in ("done", "failed", "cancelled"):
        (job_dir / "status.json").write_text(json.dumps({"state": state, "pid": 1}))
        late = runner_in(job_dir)
        assert late.returncode == 0 and "job ended" in late.stdout
        assert json.loads((job_dir / "status.json").read_text())["state"] == state
