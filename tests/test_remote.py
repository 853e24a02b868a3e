"""Remote hosts against a real OpenSSH server on 127.0.0.1: pinned host keys, checks,
commands that cannot be injected into, and transfers that survive cuts and restarts."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from remote import digest, transfer
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


def receives(monkeypatch, damage_first: bool = False) -> list[int]:
    """The offsets each download try starts from; with `damage_first`, the first try writes
    bytes that are not the box's (a disk that flipped some, say)."""
    tries: list[int] = []
    real = transfer._receive

    def spy(session, remote, partial, done, total, *rest):
        tries.append(done)
        if damage_first and len(tries) == 1:
            partial.write_bytes(os.urandom(total))
        else:
            real(session, remote, partial, done, total, *rest)

    monkeypatch.setattr(transfer, "_receive", spy)
    return tries


def test_a_file_on_the_box_that_is_not_the_expected_one_is_fetched_once(session, tmp_path,
                                                                        monkeypatch):
    remote = random_file(tmp_path / "x.gguf", 1024 * 1024)
    local = tmp_path / "home" / "x.gguf"
    tries = receives(monkeypatch)
    with pytest.raises(transfer.WrongFile, match=r"^Downloading .*x\.gguf failed: the file on "
                                                 r"the box is not the one expected \(its sha256 "
                                                 r"is [0-9a-f]{16}…, not 0{16}…\)"):
        transfer.download(session, str(remote), local, expected_sha256="0" * 64)
    assert tries == [0]  # not five more downloads of the same wrong file
    assert not local.exists() and not local.with_name("x.gguf.part").exists()


def test_a_damaged_local_copy_of_the_expected_file_is_fetched_again(session, tmp_path,
                                                                    monkeypatch):
    remote = random_file(tmp_path / "x.gguf", 1024 * 1024)
    local = tmp_path / "home" / "x.gguf"
    tries = receives(monkeypatch, damage_first=True)
    expected = transfer.local_sha256(remote)
    assert transfer.download(session, str(remote), local, expected_sha256=expected) == expected
    assert tries == [0, 0]  # the box's copy was right: this side's was fetched again
    assert local.read_bytes() == remote.read_bytes()


def test_the_disk_check_passes_the_folder_after_double_dash(session, tmp_path, monkeypatch):
    folder = tmp_path / "-folder"
    folder.mkdir()
    commands: list[list[str]] = []
    run = session.run
    monkeypatch.setattr(session, "run", lambda argv, **kw: commands.append(argv) or run(argv,
                                                                                         **kw))
    error = transfer._box_full(session, str(folder / "x.gguf.part"), 1 << 60, "Uploading x")
    assert "the box's disk is full" in str(error)
    assert commands == [["df", "-Pk", "--", str(folder)]]  # a name like -h is not an option


def sparse_file(path: Path, size: int = 8 << 30) -> Path:
    """A file of `size` bytes (8 GiB: seconds to hash) that takes no room on disk."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


@pytest.mark.parametrize("stopped_by", ["host key", "Ctrl-C"])
def test_an_error_stops_the_local_hash_of_an_upload(sshd, session, tmp_path, ownvoice_home,
                                                    monkeypatch, stopped_by):
    big = sparse_file(tmp_path / "big.gguf")
    ended: list[float] = []
    real = digest.sha256_file

    def hashing(*args, **kwargs):
        try:
            return real(*args, **kwargs)
        finally:
            ended.append(time.monotonic())

    def interrupt(done, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(digest, "sha256_file", hashing)
    if stopped_by == "host key":
        (ownvoice_home / "ssh" / "known_hosts").write_text("")
        with pytest.raises(HostKeyError):
            transfer.upload(Session(session.host, backoff_s=0.05), big, str(tmp_path / "up"))
    else:
        with pytest.raises(KeyboardInterrupt):
            transfer.upload(session, big, str(tmp_path / "up"), progress=interrupt)
    failed = time.monotonic()
    deadline = failed + 10
    while not ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended and ended[0] - failed < 1  # not the seconds a whole hash of it takes


def box_hashes(path: Path) -> list[int]:
    """PIDs of remote/digest.py hashing `path` "on the box" (this machine)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            words = cmdline.read_bytes().split(b"\0")[:-1]
            if words[-2:] == [b"file", os.fsencode(path)]:
                found.append(int(cmdline.parent.name))
    return found


def test_an_error_stops_the_box_hash_of_a_download(session, tmp_path, paramiko_only):
    big = sparse_file(tmp_path / "big.gguf")

    def interrupt(done, total):
        deadline = time.monotonic() + 10
        while not box_hashes(big):  # the box has begun to hash its copy
            assert time.monotonic() < deadline
            time.sleep(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transfer.download(session, str(big), tmp_path / "home" / "big.gguf", progress=interrupt)
    deadline = time.monotonic() + 1  # not the seconds a whole hash of it takes
    while box_hashes(big):
        assert time.monotonic() < deadline, "the box goes on hashing"
        time.sleep(0.01)
    assert session.run(["echo", "still open"]).stdout == "still open\n"


def test_the_box_hash_ends_when_nobody_waits_for_it(tmp_path):
    big = sparse_file(tmp_path / "big.gguf")
    box = subprocess.Popen([sys.executable, digest.__file__, "file", str(big)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    time.sleep(0.2)
    box.stdin.close()  # the SSH channel has gone
    assert box.wait(timeout=1) == 1 and box.stdout.read() == b""


def test_an_error_names_the_file_where_it_happened(session, tmp_path, paramiko_only):
    missing = tmp_path / "missing.bin"
    with pytest.raises(RemoteError, match=rf"^Downloading .* failed: No such file "
                                          rf"\({missing} on the box\)\.$"):
        transfer.download(session, str(missing), tmp_path / "home" / "x.bin")

    def full_disk() -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")  # a write here: no file named

    with pytest.raises(RemoteError, match=r"^Fetching failed: No space left on device\.$"):
        transfer._attempts(session, "Fetching", full_disk, retries=5)
