"""Transfers through OpenSSH's own `sftp`, against a real OpenSSH server on 127.0.0.1: sha256
on both ends, resume with reput/reget after sftp is killed, the pinned host key and nothing
else, awkward file names, one-line errors, and paramiko wherever OpenSSH cannot go."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from remote import openssh, transfer
from remote.session import Host, HostKeyError, RemoteError, Session, pin, unpin
from tests.sshd import SSHServer, keygen

# Spaces, both quotes, non-ASCII, sftp's glob and comment characters, a backslash, a dash.
AWKWARD = "a b \"c\" 'd' é漢字 #1 $HOME `x` *?[ab] back\\slash -dash.gguf"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with SSHServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A data folder whose path ssh's options must quote (a space, as macOS's
    "Application Support" has)."""
    folder = tmp_path / "Application Support" / "Own 'Voice'"
    monkeypatch.setenv("OWNVOICE_HOME", str(folder))
    return folder


def host_for(server: SSHServer, key_file: Path | None = None) -> Host:
    return Host(name="box", user=server.user, host="127.0.0.1", port=server.port,
                key_file=str(key_file or server.client_key))


@pytest.fixture
def session(sshd, home):
    host = host_for(sshd)
    pin(host, sshd.fingerprint)
    with Session(host, backoff_s=0.05) as opened:
        yield opened


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """The batch lines given to OpenSSH's sftp (none: paramiko carried the bytes)."""
    lines: list[str] = []
    real = openssh.run

    def spy(host, known_hosts, line, **kwargs):
        lines.append(line)
        return real(host, known_hosts, line, **kwargs)

    monkeypatch.setattr(openssh, "run", spy)
    monkeypatch.setattr(openssh, "REFUSED", set())
    monkeypatch.setattr(transfer, "OPENSSH_MIN_BYTES", 0)  # small files here, all by OpenSSH
    return lines


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def verbs(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines]


def round_trip(session: Session, source: Path, remote: str, back: Path) -> str:
    seen: list[tuple[int, int]] = []
    digest = transfer.upload(session, source, remote, progress=lambda *p: seen.append(p))
    assert digest == transfer.local_sha256(source) == transfer.remote_sha256(session, remote)
    assert seen[-1] == (source.stat().st_size,) * 2
    assert transfer.download(session, remote, back) == digest
    assert back.read_bytes() == source.read_bytes()
    return digest


def test_a_round_trip_by_openssh_with_an_awkward_name(session, tmp_path, sent):
    folder = tmp_path / "box 'dir'"
    folder.mkdir()
    source = random_file(tmp_path / AWKWARD, 3 * 1024 * 1024 + 5)
    round_trip(session, source, str(folder / AWKWARD), tmp_path / "home" / f"back {AWKWARD}")
    assert verbs(sent) == ["put", "get"]
    assert not list(tmp_path.rglob("*.part"))


def test_an_empty_file_travels_too(session, tmp_path, sent):
    source = random_file(tmp_path / "empty.txt", 0)
    round_trip(session, source, str(tmp_path / "empty-up.txt"), tmp_path / "empty-back.txt")


def sftp_children() -> list[int]:
    """This process's sftp children."""
    found = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "sftp":
                    found.append(int(pid))
    return found


@pytest.mark.parametrize("way", ["upload", "download"])
def test_a_killed_sftp_resumes_from_the_partial_file(session, tmp_path, sent, monkeypatch, way):
    monkeypatch.setattr(openssh, "POLL_S", 0.005)  # look often enough to catch it mid-way
    source = random_file(tmp_path / "model.gguf", 48 * 1024 * 1024)
    target = tmp_path / "copy" / "model.gguf"
    target.parent.mkdir()
    offsets: list[int] = []
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        offsets.append(done)
        if not killed and 0 < done < total:
            killed.append(done)
            for pid in sftp_children():  # as a crash, or a closed laptop lid, would
                os.kill(pid, signal.SIGKILL)

    if way == "upload":
        digest = transfer.upload(session, source, str(target), progress=progress)
    else:
        digest = transfer.download(session, str(source), target, progress=progress)
    assert killed, "the transfer ended before it could be interrupted"
    assert digest == transfer.local_sha256(source)
    assert target.read_bytes() == source.read_bytes()
    assert verbs(sent) == (["put", "reput"] if way == "upload" else ["get", "reget"])
    assert offsets == sorted(offsets)  # the second try went on from the bytes already there
    assert offsets[-1] == source.stat().st_size
    assert not target.with_name("model.gguf.part").exists()


@pytest.mark.parametrize("pinned", ["another key", "no key"])
def test_openssh_trusts_only_the_pinned_host_key(session, sshd, tmp_path, home, sent, pinned):
    source = random_file(tmp_path / "x.bin", 1024)
    session.ensure()  # paramiko checked the key; now the pin changes under the session
    known = home / "ssh" / "known_hosts"
    if pinned == "another key":
        kind, blob = Path(f"{keygen(tmp_path / 'other')}.pub").read_text().split()[:2]
        known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    else:
        known.write_text("")
    expected = "has CHANGED" if pinned == "another key" else "not pinned yet"
    with pytest.raises(HostKeyError, match=expected) as refused:
        transfer.upload(session, source, str(tmp_path / "up.bin"))
    assert "\n" not in str(refused.value)
    with pytest.raises(HostKeyError, match=expected):
        transfer.download(session, str(source), tmp_path / "down.bin")
    assert verbs(sent) == ["put", "get"]  # one try each: never retried, never paramiko
    assert sorted(p.name for p in tmp_path.glob("*.bin*")) == ["x.bin"]


def test_a_hashed_pin_works_for_openssh_too(session, home, tmp_path, sent):
    known = home / "ssh" / "known_hosts"
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    source = random_file(tmp_path / "x.bin", 1024)
    round_trip(session, source, str(tmp_path / "up.bin"), tmp_path / "down.bin")
    assert verbs(sent) == ["put", "get"]
    unpin(session.host)  # a hashed entry is found (and dropped) like a plain one
    assert known.read_text() == ""


def test_without_openssh_paramiko_carries_the_bytes(session, tmp_path, sent, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    source = random_file(tmp_path / AWKWARD, 2 * 1024 * 1024)
    round_trip(session, source, str(tmp_path / f"up {AWKWARD}"), tmp_path / "back.bin")
    assert sent == []


def test_a_name_sftp_cannot_carry_goes_by_paramiko(session, tmp_path, sent):
    source = random_file(tmp_path / "line\nbreak.bin", 1024 * 1024)
    round_trip(session, source, str(tmp_path / "up\nbreak.bin"), tmp_path / "back\nbreak.bin")
    assert sent == []


def test_a_key_openssh_refuses_falls_back_to_paramiko(sshd, home, tmp_path, sent):
    loose = tmp_path / "loose_key"  # readable by others: OpenSSH ignores it, paramiko not
    loose.write_bytes(sshd.client_key.read_bytes())
    loose.chmod(0o644)
    host = host_for(sshd, loose)
    pin(host, sshd.fingerprint)
    source = random_file(tmp_path / "x.bin", 1024 * 1024)
    with Session(host, backoff_s=0.05) as session:
        round_trip(session, source, str(tmp_path / "up.bin"), tmp_path / "back.bin")
    assert verbs(sent) == ["put"]  # refused once, then paramiko for that host
    assert host in openssh.REFUSED


def test_small_files_go_by_the_open_session(session, tmp_path, sent, monkeypatch):
    monkeypatch.setattr(transfer, "OPENSSH_MIN_BYTES", 2 * 1024 * 1024)
    small = random_file(tmp_path / "small.json", 1024)
    large = random_file(tmp_path / "large.gguf", 2 * 1024 * 1024)
    for source in (small, large):
        round_trip(session, source, f"{source}.up", tmp_path / f"{source.name}.back")
    assert verbs(sent) == ["put", "get"]  # the large file's


def test_errors_are_one_line_and_not_retried(session, tmp_path, sent):
    source = random_file(tmp_path / "x.bin", 1024)
    with pytest.raises(RemoteError, match=r"^Uploading x\.bin failed: .*No such file or "
                                          r"directory\.$"):
        transfer.upload(session, source, str(tmp_path / "missing" / "x.bin"))
    assert verbs(sent) == ["put"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB file system, to fill up (root only: skipped elsewhere)."""
    folder = tmp_path / "tiny disk"
    folder.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if not (mount and umount) or subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
            capture_output=True).returncode:
        pytest.skip("cannot mount a small file system here")
    yield folder
    subprocess.run([umount, "--lazy", str(folder)], check=True)


@pytest.mark.parametrize("by", ["OpenSSH", "paramiko"])
def test_a_full_disk_is_said_plainly_and_the_partial_kept(session, tmp_path, tiny_disk, sent,
                                                          monkeypatch, by):
    if by == "paramiko":
        monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    source = random_file(tmp_path / "model.gguf", 3 * 1024 * 1024)
    with pytest.raises(RemoteError, match=r"^Uploading model\.gguf failed: the box's disk is "
                                          r"full .*run it again to continue\.$"):
        transfer.upload(session, source, str(tiny_disk / "up.gguf"))
    with pytest.raises(RemoteError, match=r"^Downloading .* failed: .*No space left on device"):
        transfer.download(session, str(source), tiny_disk / "down.gguf")
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["down.gguf.part", "up.gguf.part"]
    assert verbs(sent) == (["put", "get"] if by == "OpenSSH" else [])  # each tried once


def test_the_sftp_command_trusts_the_pin_alone(tmp_path):
    host = Host(name="box", user="ubuntu", host="::1", port=2222, key_file="~/keys/my key")
    programs = ("/usr/bin/sftp", "/usr/bin/ssh")
    argv = openssh.command(host, tmp_path / "a b" / "known_hosts", programs=programs)
    options = [argv[i + 1] for i, word in enumerate(argv) if word == "-o"]
    assert f'UserKnownHostsFile="{tmp_path / "a b" / "known_hosts"}"' in options
    assert {"StrictHostKeyChecking=yes", "BatchMode=yes", f"GlobalKnownHostsFile={os.devnull}",
            "UpdateHostKeys=no", "User=ubuntu"} <= set(options)
    assert f'IdentityFile="{Path("~/keys/my key").expanduser()}"' in options
    assert argv[argv.index("-F") + 1] == "none"  # no ~/.ssh/config
    assert argv[argv.index("-P") + 1] == "2222" and argv[-2:] == ["--", "[::1]"]
    # What not every OpenSSH reads alike is left to paramiko.
    assert openssh.command(host, tmp_path / "100%" / "known_hosts", programs=programs) is None
    odd_user = Host(name="box", user="a b", host="h")
    assert openssh.command(odd_user, tmp_path / "known_hosts", programs=programs) is None


def test_batch_lines_quote_names_and_refuse_what_sftp_cannot_read():
    assert openssh.batch_line("put", "/a b/c\"d", "x\\y") == 'put "/a b/c\\"d" "./x\\\\y"'
    assert openssh.batch_line("get", "-rf", "~/z") == 'get "./-rf" "./~/z"'
    assert openssh.batch_line("put", "/a\nb", "/c") is None
    assert openssh.batch_line("put", "/" + "a" * 3000, "/c") is None
