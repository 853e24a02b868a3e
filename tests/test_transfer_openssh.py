"""Transfers through OpenSSH's own `sftp`, against a real OpenSSH server on 127.0.0.1: sha256
on both ends, resume with reput/reget after sftp is killed or the server restarts, no sftp
left writing after the app is killed, the pinned host key and nothing else, awkward file
names, one-line errors, and paramiko wherever OpenSSH cannot go."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from remote import openssh, transfer
from remote.session import Host, HostKeyError, RemoteError, Session, pin, unpin
from tests.conftest import ROOT
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


def sftp_children(parent: int | None = None) -> list[int]:
    """The sftp children of `parent` (this process)."""
    found = []
    for children in Path(f"/proc/{parent or os.getpid()}/task").glob("*/children"):
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


@pytest.mark.parametrize("way", ["upload", "download"])
def test_sshd_restarted_mid_transfer_by_openssh_resumes(sshd, session, tmp_path, sent,
                                                        monkeypatch, way):
    monkeypatch.setattr(openssh, "POLL_S", 0.005)  # look often enough to catch it mid-way
    source = random_file(tmp_path / "model.gguf", 48 * 1024 * 1024)
    target = tmp_path / "copy" / "model.gguf"
    target.parent.mkdir()
    offsets: list[int] = []
    restarted: list[int] = []

    def progress(done: int, total: int) -> None:
        offsets.append(done)
        if not restarted and 0 < done < total:
            restarted.append(done)
            sshd.restart()  # every connection dropped: sftp's and the session's

    if way == "upload":
        digest = transfer.upload(session, source, str(target), progress=progress)
    else:
        digest = transfer.download(session, str(source), target, progress=progress)
    assert restarted, "the transfer ended before the server could be restarted"
    assert digest == transfer.local_sha256(source)
    assert target.read_bytes() == source.read_bytes()
    assert verbs(sent) == (["put", "reput"] if way == "upload" else ["get", "reget"])
    assert offsets == sorted(offsets) and offsets[-1] == source.stat().st_size  # resumed
    assert not target.with_name("model.gguf.part").exists()


# A killed app: this process transfers one file by OpenSSH, slowly (sftp -l), until the test
# kills it. Without GUARD, its sftp lives on (as it does on macOS).
APP = """
import json, sys
from pathlib import Path
from remote import openssh, transfer
from remote.session import Host, Session

args = json.loads(sys.argv[1])
transfer.OPENSSH_MIN_BYTES = 0
command = openssh.command
openssh.command = lambda *a, **k: [(argv := command(*a, **k))[0], "-l", "16000", *argv[1:]]
if not args["guard"]:
    openssh._guarded = lambda argv: argv
with Session(Host(**args["host"]), known_hosts=Path(args["known_hosts"])) as session:
    getattr(transfer, args["way"])(session, args["source"], args["target"])
"""


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie that nobody reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
    return found


def size(path: Path) -> int:
    with contextlib.suppress(OSError):
        return path.stat().st_size
    return 0


@pytest.mark.parametrize(("way", "guard"), [("download", True), ("download", False),
                                            ("upload", False)])
def test_no_sftp_left_by_a_killed_app_writes_on(session, sshd, home, tmp_path, sent, way,
                                                 guard):
    source = random_file(tmp_path / "model.gguf", 16 * 1024 * 1024)
    target = tmp_path / "copy" / "model.gguf"
    target.parent.mkdir()
    partial = target.with_name("model.gguf.part")
    host = session.host
    args = {"way": way, "guard": guard, "source": str(source), "target": str(target),
            "known_hosts": str(session.known_hosts),
            "host": {"name": host.name, "user": host.user, "host": host.host,
                     "port": host.port, "key_file": host.key_file}}
    app = subprocess.Popen([sys.executable, "-c", APP, json.dumps(args)],
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        child = wait_for(lambda: size(partial) > 1024 * 1024 and sftp_children(app.pid))[0]
        if way == "download":
            assert json.loads(partial.with_name("model.gguf.part.pid").read_text())["pid"] == \
                child
    finally:
        app.kill()  # kill -9, as a crash would
        app.wait()
    try:
        if guard:  # Linux: the kernel ended it with the app
            wait_for(lambda: not alive(child), timeout_s=5)
            before = size(partial)
            time.sleep(0.2)
            assert size(partial) == before  # nobody writes it any more
        else:  # still writing: the next try must end it first
            before = size(partial)
            wait_for(lambda: alive(child) and size(partial) > before, timeout_s=5)
        if way == "upload":
            digest = transfer.upload(session, source, str(target))
        else:
            digest = transfer.download(session, str(source), target)
        assert not alive(child)
    finally:  # a failed test leaves no sftp behind
        with contextlib.suppress(OSError):
            if alive(child) and Path(f"/proc/{child}/comm").read_text().strip() == "sftp":
                os.kill(child, signal.SIGKILL)
    assert verbs(sent) == (["reput"] if way == "upload" else ["reget"])
    assert digest == transfer.local_sha256(source) == transfer.local_sha256(target)
    written = target.stat().st_mtime_ns, size(target)
    time.sleep(0.3)
    assert (target.stat().st_mtime_ns, size(target)) == written  # the checked file stays so
    assert not partial.exists()
    assert not list(tmp_path.rglob("*.pid")) and not list(home.rglob("*.pid"))


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


def test_a_box_whose_ciphers_openssh_refuses_goes_by_paramiko(tmp_path, home, sent):
    server = SSHServer(tmp_path / "old-sshd")  # (sshd_config takes no spaces)
    server.config.write_text(server.config.read_text() + "Ciphers aes128-cbc\n")  # none of ours
    source = random_file(tmp_path / "x.bin", 1024 * 1024)
    with server:
        host = host_for(server)
        pin(host, server.fingerprint)
        with Session(host, backoff_s=0.05) as session:  # paramiko speaks aes128-cbc
            round_trip(session, source, str(tmp_path / "up.bin"), tmp_path / "back.bin")
    assert verbs(sent) == ["put"]  # refused once, never retried, then paramiko for that host
    assert host in openssh.REFUSED


CHANGED = """@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Host key for [10.0.0.5]:2222 has changed and you have requested strict checking.
Host key verification failed.
Connection closed
"""


@pytest.mark.parametrize(("code", "stderr", "kind", "said"), [
    (255, "Unable to negotiate with 10.0.0.5 port 2222: no matching cipher found. Their offer: "
          "aes128-cbc,3des-cbc\r\nConnection closed\r\n", openssh.Refused, "no cipher"),
    (255, "Unable to negotiate with 10.0.0.5 port 2222: no matching host key type found. Their "
          "offer: ssh-rsa\r\nConnection closed\r\n", openssh.Refused, "no cipher or key type"),
    (255, "Connection closed\r\n", ConnectionError, r"broke \(Connection closed\)$"),
    (1, "Connection closed\r\n", ConnectionError, r"broke \(Connection closed\)$"),
    (255, "client_loop: send disconnect: Connection reset by peer\r\nConnection closed\r\n",
     ConnectionError, "broke .*Connection reset by peer"),
    (255, "kex_exchange_identification: read: Connection reset by peer\r\nConnection reset by "
          "10.0.0.5 port 2222\r\nConnection closed\r\n", ConnectionError, "broke"),
    (-9, "", ConnectionError, r"sftp was stopped by signal 9\)$"),
    (255, CHANGED, HostKeyError, "has CHANGED"),
    (255, "No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict "
          "checking.\r\nHost key verification failed.\r\nConnection closed\r\n",
     HostKeyError, "not pinned yet"),
    (255, "ubuntu@10.0.0.5: Permission denied (publickey).\r\nConnection closed\r\n",
     openssh.Refused, r"could not log in .*Permission denied \(publickey\)\.$"),
    (1, 'remote open("/data/x.gguf.part"): No such file or directory\n', RemoteError,
     r'^Uploading x\.gguf failed: remote open\("/data/x\.gguf\.part"\): No such file or '
     r"directory\.$"),
    (1, 'dest open "/home/me/x.gguf.part": Permission denied\n', RemoteError,
     r"^Uploading x\.gguf failed: dest open .*: Permission denied\.$"),
])
def test_sftp_failures_are_told_apart(monkeypatch, code, stderr, kind, said):
    monkeypatch.setattr(openssh, "REFUSED", set())
    host = Host(name="box", user="ubuntu", host="10.0.0.5", port=2222)
    error = openssh._failure(host, code, stderr, "Uploading x.gguf")
    assert type(error) is kind
    assert "\n" not in str(error)
    assert re.search(said, str(error))
    assert (host in openssh.REFUSED) == (kind is openssh.Refused)  # paramiko's turn, for good


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


@pytest.mark.parametrize("name", ["a]b", "[::1]", "me@box", "box/x", "box x", "box\tx",
                                  "-oProxyCommand=touch", "box\n", ""])
def test_a_host_name_sftp_could_misread_goes_by_paramiko(tmp_path, name):
    programs = ("/usr/bin/sftp", "/usr/bin/ssh")
    host = Host(name="box", user="ubuntu", host=name)
    assert openssh.command(host, tmp_path / "known_hosts", programs=programs) is None
    for fine in ("gpu-1.example.com", "10.0.0.5", "::1"):
        argv = openssh.command(Host(name="box", user="ubuntu", host=fine),
                               tmp_path / "known_hosts", programs=programs)
        assert argv is not None and argv[-2] == "--"


def test_batch_lines_quote_names_and_refuse_what_sftp_cannot_read():
    assert openssh.batch_line("put", "/a b/c\"d", "x\\y") == 'put "/a b/c\\"d" "./x\\\\y"'
    assert openssh.batch_line("get", "-rf", "~/z") == 'get "./-rf" "./~/z"'
    assert openssh.batch_line("put", "/a\nb", "/c") is None
    assert openssh.batch_line("put", "/" + "a" * 3000, "/c") is None
