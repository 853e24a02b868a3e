"""Remote hosts against a real OpenSSH server on 127.0.0.1: pinned host keys, checks,
commands that cannot be injected into, and transfers that survive cuts and restarts."""

from __future__ import annotations

import contextlib
import json
import os
import platform
from pathlib import Path

import pytest

from remote import transfer
from remote.session import Host, HostKeyError, RemoteError, Session, pin
from tests.conftest import run_ownvoice
from tests.sshd import SSHServer


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with SSHServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def host_for(server: SSHServer, name: str = "box") -> Host:
    return Host(name=name, user=server.user, host="127.0.0.1", port=server.port,
                key_file=str(server.client_key))


@pytest.fixture
def session(sshd, ownvoice_home):
    host = host_for(sshd)
    pin(host, sshd.fingerprint)
    with Session(host, backoff_s=0.05) as opened:
        yield opened


def add_args(server: SSHServer, *extra: str) -> list[str]:
    return ["remote", "add", "box", "--host", f"{server.user}@127.0.0.1", "--port",
            str(server.port), "--key", str(server.client_key), *extra]


def test_add_pins_the_confirmed_key_then_check_reports_the_box(sshd, ownvoice_home):
    added = json.loads(run_ownvoice(*add_args(sshd, "--fingerprint", sshd.fingerprint,
                                              "--json")).stdout)
    assert added["fingerprint"] == sshd.fingerprint and added["port"] == sshd.port
    known = (ownvoice_home / "ssh" / "known_hosts").read_text()
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in known
    listed = json.loads(run_ownvoice("remote", "list", "--json").stdout)
    assert [h["name"] for h in listed] == ["box"]
    report = json.loads(run_ownvoice("remote", "check", "box", "--json").stdout)
    assert report["arch"] == platform.machine()
    assert report["python"].startswith("3.")
    assert report["disk_free_gb"] > 0
    assert report["gpu"] is None  # no nvidia-smi on this machine
    run_ownvoice("remote", "remove", "box")
    assert json.loads(run_ownvoice("remote", "list", "--json").stdout) == []
    assert f"[127.0.0.1]:{sshd.port}" not in (ownvoice_home / "ssh" / "known_hosts").read_text()


def test_a_key_is_pinned_only_when_the_user_confirms_it(sshd, ownvoice_home):
    refused = run_ownvoice(*add_args(sshd), input="n\n", check=False)
    assert refused.returncode == 1 and sshd.fingerprint in refused.stderr
    assert "was not confirmed; nothing was added" in refused.stderr
    assert json.loads(run_ownvoice("remote", "list", "--json").stdout) == []
    accepted = run_ownvoice(*add_args(sshd), input="y\n")
    assert "pinned" in accepted.stdout
    assert json.loads(run_ownvoice("remote", "list", "--json").stdout)[0]["fingerprint"] == \
        sshd.fingerprint


def test_a_wrong_fingerprint_is_refused(sshd, ownvoice_home):
    wrong = "SHA256:" + "A" * 43
    result = run_ownvoice(*add_args(sshd, "--fingerprint", wrong), check=False)
    assert result.returncode == 1 and f"not the {wrong} you confirmed" in result.stderr
    assert json.loads(run_ownvoice("remote", "list", "--json").stdout) == []


def test_an_unpinned_host_is_refused(sshd, ownvoice_home):
    with pytest.raises(HostKeyError, match="not pinned yet"):
        Session(host_for(sshd)).connect()


def test_a_changed_host_key_is_refused(tmp_path, ownvoice_home):
    with SSHServer(tmp_path / "sshd") as server:
        run_ownvoice(*add_args(server, "--fingerprint", server.fingerprint))
        assert run_ownvoice("remote", "check", "box", "--json").returncode == 0
        server.new_host_key()
        result = run_ownvoice("remote", "check", "box", check=False)
        assert result.returncode == 1
        assert "has CHANGED" in result.stderr and server.fingerprint in result.stderr


def test_nasty_strings_reach_the_command_as_plain_arguments(session, tmp_path):
    canary = tmp_path / "pwned"
    nasty = ["it's", '"quoted"', f"$(touch {canary})", f"`touch {canary}`",
             f"; touch {canary}", "line\nbreak", "&& echo no", "*", "$HOME"]
    result = session.run(["printf", "%s\\n", *nasty])
    assert result.stdout.split("\n")[:-1] == [part for s in nasty for part in s.split("\n")]
    folder = tmp_path / "a dir; with 'quotes' $(x)"
    folder.mkdir()
    assert session.run(["pwd"], cwd=str(folder)).stdout.strip() == str(folder)
    assert not canary.exists()


def test_a_failed_command_says_what_failed(session):
    with pytest.raises(RemoteError, match=r"ls /nonexistent-ownvoice failed on box \(exit 2\)"):
        session.run(["ls", "/nonexistent-ownvoice"])
    assert session.run(["false"], check=False).returncode == 1


def test_a_cut_connection_is_reconnected_on_the_next_call(sshd, session):
    assert session.run(["echo", "one"]).stdout == "one\n"
    sshd.cut()
    with contextlib.suppress(RemoteError):  # the cut may surface once, then it reconnects
        session.run(["echo", "two"])
    assert session.run(["echo", "three"]).stdout == "three\n"


def random_file(path, size):
    path.write_bytes(os.urandom(size))
    return path


def test_upload_and_download_check_sha256_on_both_ends(session, tmp_path):
    source = random_file(tmp_path / "data.bin", 5 * 1024 * 1024 + 7)
    remote = str(tmp_path / "box" / "data.bin")
    session.run(["mkdir", "-p", str(tmp_path / "box")])
    seen = []
    digest = transfer.upload(session, source, remote, progress=lambda d, t: seen.append(d))
    assert digest == transfer.local_sha256(source) == transfer.remote_sha256(session, remote)
    assert seen[-1] == source.stat().st_size
    back = tmp_path / "home" / "back.bin"
    assert transfer.download(session, remote, back) == digest
    assert back.read_bytes() == source.read_bytes()
    assert not list(tmp_path.rglob("*.part"))


@pytest.fixture
def paramiko_only(tmp_path, monkeypatch):
    """No OpenSSH client on PATH: the bytes travel by paramiko (OpenSSH's own resume is in
    test_transfer_openssh.py)."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))


def test_a_cut_mid_upload_resumes_where_it_stopped(sshd, session, tmp_path, paramiko_only):
    source = random_file(tmp_path / "up.bin", 24 * 1024 * 1024)
    remote = str(tmp_path / "box-up.bin")
    offsets, connections = [], []

    def progress(done, total):
        offsets.append(done)
        connections.append(id(session.client))
        if len(offsets) == 8:
            sshd.cut()

    transfer.upload(session, source, remote, progress=progress)
    assert Path(remote).read_bytes() == source.read_bytes()
    assert len(set(connections)) == 2  # it reconnected once…
    after_cut = offsets[connections.index(connections[-1]):]
    assert min(after_cut) > transfer.CHUNK  # …and went on from the bytes already there


def test_sshd_restarted_mid_download_resumes_with_a_correct_checksum(sshd, session, tmp_path,
                                                                    paramiko_only):
    remote = random_file(tmp_path / "model.gguf", 24 * 1024 * 1024)
    local = tmp_path / "home" / "model.gguf"
    offsets, connections = [], set()

    def progress(done, total):
        offsets.append(done)
        connections.add(id(session.client))
        if done == 8 * transfer.CHUNK and len(connections) == 1:
            sshd.restart()

    assert transfer.download(session, str(remote), local, progress=progress) == \
        transfer.local_sha256(remote)
    assert local.read_bytes() == remote.read_bytes()
    assert len(connections) == 2  # it reconnected once…
    assert offsets == sorted(offsets) and offsets[-1] == remote.stat().st_size  # …and resumed


def test_a_download_that_does_not_match_is_never_kept(session, tmp_path):
    remote = random_file(tmp_path / "x.gguf", 1024 * 1024)
    local = tmp_path / "home" / "x.gguf"
    with pytest.raises(RemoteError, match="Downloading"):
        transfer.download(session, str(remote), local, expected_sha256="0" * 64, retries=1)
    assert not local.exists() and not local.with_name("x.gguf.part").exists()
