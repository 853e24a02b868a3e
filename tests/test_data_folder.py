"""The data folder: one choice for the app and the CLI, kept private, and a damaged or
read-only database in it said in one line (CLI and app)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from engine import paths
from engine.errors import DamagedDatabase
from engine.store import Store
from tests.conftest import run_ownvoice

posix_only = pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def documents(**env: str) -> int:
    return json.loads(run_ownvoice("corpus", "stats", "--json", env=env).stdout)["documents"]


def one_line_error(result) -> str:
    """The CLI's refusal: exit 1, one `Error:` line on stderr, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# --- one data folder for the app and the CLI ----------------------------------------------

def test_the_folder_chosen_in_settings_is_where_the_cli_imports(qtbot, store, tmp_path,
                                                                 monkeypatch, blog):
    from desktop.hub import Hub
    from desktop.tasks import TaskRunner
    from desktop.views.settings_page import SettingsPage

    assert paths.config_path().is_relative_to(tmp_path)  # never the user's own settings
    page = SettingsPage(TaskRunner(), Hub(), store)
    qtbot.addWidget(page)
    chosen = tmp_path / "chosen"
    page.set_data_folder(str(chosen))
    assert str(chosen) in page.folder_note.text()

    monkeypatch.delenv(paths.HOME_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a default that is not yours
    run_ownvoice("import", str(blog / "posts" / "plainly.md"))
    assert (chosen / paths.DB_FILENAME).exists()
    assert documents() == 1
    other = tmp_path / "other"  # OWNVOICE_HOME still wins over the saved choice
    assert documents(OWNVOICE_HOME=str(other)) == 0
    assert (other / paths.DB_FILENAME).exists()


def test_the_app_starts_on_the_saved_choice_and_adopts_an_older_qt_one(tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from desktop.app import LEGACY_DATA_DIR_KEY, apply_data_folder_setting

    earlier = tmp_path / "chosen-by-an-older-version"
    QSettings("OwnVoice", "OwnVoice").setValue(LEGACY_DATA_DIR_KEY, str(earlier))
    monkeypatch.delenv(paths.HOME_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a default that is not yours
    apply_data_folder_setting()
    assert os.environ[paths.HOME_ENV] == str(earlier)  # this run, and what it starts
    assert paths.chosen_data_dir() == earlier  # the CLI's too, from now on
    assert QSettings("OwnVoice", "OwnVoice").value(LEGACY_DATA_DIR_KEY) is None


def test_a_broken_settings_file_or_folder_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.HOME_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a default that is not yours
    paths.config_path().parent.mkdir(parents=True)
    paths.config_path().write_text("{not json")
    line = one_line_error(run_ownvoice("corpus", "stats", check=False))
    assert str(paths.config_path()) in line and "delete it" in line

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    paths.config_path().unlink()
    paths.choose_data_dir(blocker / "data")
    line = one_line_error(run_ownvoice("corpus", "stats", check=False))
    assert f"Cannot create the data folder {blocker / 'data'}" in line
    assert "chosen in Settings" in line


# --- private modes -------------------------------------------------------------------------

@posix_only
def test_the_data_folder_database_and_settings_are_private(ownvoice_home, tmp_path):
    with Store() as store:
        store.set_meta("k", "v")
        assert mode(ownvoice_home) == 0o700
        assert mode(store.path) == 0o600
        assert mode(Path(f"{store.path}-wal")) == 0o600  # SQLite copies the database's mode
    paths.choose_data_dir(tmp_path / "elsewhere")
    assert mode(paths.config_path()) == 0o600

    os.chmod(ownvoice_home, 0o755)  # made by an older version, or by hand
    os.chmod(ownvoice_home / paths.DB_FILENAME, 0o644)
    run_ownvoice("corpus", "stats")
    assert mode(ownvoice_home) == 0o700
    assert mode(ownvoice_home / paths.DB_FILENAME) == 0o600


@posix_only
def test_a_folder_of_yours_gets_an_ownvoice_folder_inside_it(tmp_path, monkeypatch):
    """Choosing ~/Documents never makes ~/Documents private (0700): the data goes into a
    folder of its own inside it."""
    documents_dir = tmp_path / "Documents"
    documents_dir.mkdir(mode=0o755)
    (documents_dir / "letter.txt").write_text("mine")
    os.chmod(documents_dir, 0o755)
    chosen = paths.choose_data_dir(documents_dir)
    assert chosen == documents_dir / "OwnVoice"
    monkeypatch.delenv(paths.HOME_ENV)
    assert paths.data_dir() == chosen and mode(chosen) == 0o700
    assert mode(documents_dir) == 0o755
    empty = tmp_path / "empty"
    empty.mkdir()
    assert paths.choose_data_dir(empty) == empty  # an empty folder is taken as it is


def test_a_moved_data_folder_still_finds_its_models(tmp_path, monkeypatch, smol_file):
    """Settings says to move ownvoice.db and models/ along: the models' recorded paths
    point at the old folder, and are found in the new one."""
    from engine.translation import registry

    old = tmp_path / "old"
    monkeypatch.setenv(paths.HOME_ENV, str(old))
    (old / "models").mkdir(parents=True)
    shutil.copy2(smol_file, old / "models" / "smol.gguf")
    with Store() as store:
        registry.add(store, str(old / "models" / "smol.gguf"), name="smol")
    new = tmp_path / "new"
    shutil.move(str(old), str(new))
    monkeypatch.setenv(paths.HOME_ENV, str(new))
    with Store() as store:
        row = store.model("smol")
        assert row["path"] == str(old / "models" / "smol.gguf")  # as recorded
        backend = registry.open_backend(row)
    assert Path(backend.path) == new / "models" / "smol.gguf"
    backend.close()


# --- a damaged database ---------------------------------------------------------------------

def damage_past_the_first_page(db: Path) -> None:
    """Overwrite the pages of the documents and segments tables (never page 1, so the file
    still opens) with junk."""
    assert not Path(f"{db}-wal").exists()  # everything is in the file itself
    with sqlite3.connect(db) as conn:
        roots = [row[0] for row in conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name IN ('documents', 'segments')")]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert len(roots) == 2 and min(roots) > 1
    with db.open("r+b") as file:
        for page in roots:
            file.seek((page - 1) * size)
            file.write(b"\xff" * size)


@pytest.fixture
def damaged(ownvoice_home, blog) -> Path:
    run_ownvoice("import", str(blog))
    db = ownvoice_home / paths.DB_FILENAME
    damage_past_the_first_page(db)
    return db


def test_a_database_damaged_past_its_first_page_is_one_line_everywhere(damaged, blog):
    for command in (("corpus", "stats"), ("corpus", "search", "部署"), ("corpus", "segments")):
        line = one_line_error(run_ownvoice(*command, check=False))
        assert f"The OwnVoice database {damaged} is damaged" in line
        assert "quick_check" in line and "move it aside" in line and "backup" in line

    (blog / "posts" / "new.md").write_text("A post written after the damage.\n")
    result = run_ownvoice("import", str(blog), "--json", check=False)
    assert "is damaged" in one_line_error(result)
    assert result.stdout == ""  # no report, no "Imported …": nothing claims success


def test_the_app_says_so_too(qtbot, damaged, blog, monkeypatch, tmp_path):
    import sys

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    from desktop.app import show_errors
    from desktop.tasks import TaskRunner
    from engine.corpus.importer import import_paths

    runner = TaskRunner()
    task = runner.submit("importing your writing",
                         lambda ctx: import_paths(ctx.store, [blog]), writes=True)
    with qtbot.waitSignal(task.failed, timeout=30000) as failed:
        pass
    assert failed.args[0].startswith(f"The OwnVoice database {damaged} is damaged")

    # a page reading on the GUI thread: a message box, not a traceback on stderr
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    window = QWidget()
    qtbot.addWidget(window)
    show_errors(window)
    shown = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if box is None:  # not up yet
            QTimer.singleShot(100, read_and_close)
            return
        shown.append(box.text())
        box.close()

    QTimer.singleShot(200, read_and_close)
    with Store() as store, pytest.raises(DamagedDatabase) as raised:
        store.documents()
    sys.excepthook(DamagedDatabase, raised.value, None)
    assert shown == [str(raised.value)]

    line = one_line_error(run_ownvoice("gui", "--screenshot", str(tmp_path / "shot.png"),
                                       check=False, env={"QT_QPA_PLATFORM": "offscreen"}))
    assert "is damaged" in line


def test_a_file_that_is_no_database_at_all(ownvoice_home):
    ownvoice_home.mkdir(parents=True)
    (ownvoice_home / paths.DB_FILENAME).write_bytes(b"this is not a database" * 300)
    with pytest.raises(DamagedDatabase, match="is damaged .*move it aside"):
        Store()


# --- a read-only data folder ----------------------------------------------------------------

def bound_by_file_modes() -> tuple[str, ...]:
    """A command prefix under which the `ownvoice` process obeys file modes. Root ignores
    them: it runs under setpriv without the capabilities that override them."""
    if os.name == "nt":
        pytest.skip("file modes are POSIX")
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, which writes into read-only folders, and without "
                    "setpriv to give that up")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


@pytest.fixture
def read_only_home(ownvoice_home, blog):
    prefix = bound_by_file_modes()
    run_ownvoice("import", str(blog))
    os.chmod(ownvoice_home, 0o500)
    yield prefix
    os.chmod(ownvoice_home, 0o700)


def test_a_read_only_data_folder_reads_and_refuses_writes_in_one_line(read_only_home,
                                                                       ownvoice_home, blog):
    def ownvoice(*args):
        return run_ownvoice(*args, check=False, prefix=read_only_home)

    stats = ownvoice("corpus", "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["documents"] > 5
    found = ownvoice("corpus", "search", "部署")
    assert found.returncode == 0 and "Docker" in found.stdout

    refused = f"The data folder {ownvoice_home} is read-only"
    assert refused in one_line_error(ownvoice("import", str(blog)))  # said before any work
    # models list reads what is registered (the built-in model is not written there now)
    listed = ownvoice("models", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    # adding one is a write: refused in one line
    assert refused in one_line_error(ownvoice("models", "add", "openai:gpt-4o-mini"))
    assert sorted(p.name for p in ownvoice_home.iterdir()) == [paths.DB_FILENAME]


def test_the_app_opens_on_a_read_only_data_folder(read_only_home, ownvoice_home, tmp_path):
    """No log file can be made there: the log goes to standard error, the window opens."""
    picture = tmp_path / "corpus.png"
    result = run_ownvoice("gui", "--screenshot", str(picture), "--page", "corpus", check=False,
                          prefix=read_only_home, env={"QT_QPA_PLATFORM": "offscreen"},
                          timeout=120)
    assert result.returncode == 0, result.stderr
    assert picture.stat().st_size > 1000
    assert not (ownvoice_home / "logs").exists()


def test_a_read_only_folder_without_a_database_says_so(tmp_path, monkeypatch):
    prefix = bound_by_file_modes()
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o500)
    try:
        line = one_line_error(run_ownvoice("corpus", "stats", check=False, prefix=prefix,
                                           env={paths.HOME_ENV: str(empty)}))
    finally:
        os.chmod(empty, 0o700)
    assert f"The data folder {empty} is read-only" in line and "no OwnVoice database" in line



def test_a_database_write_that_finds_no_room_is_one_line(ownvoice_home, blog):
    """A real failed write: the import runs under a file-size limit (RLIMIT_FSIZE, the way
    a full disk refuses a write), after the database exists."""
    import resource
    import subprocess

    from tests.conftest import BIN

    run_ownvoice("corpus", "stats")  # the database exists, empty
    before = (ownvoice_home / paths.DB_FILENAME).read_bytes()

    def small_disk():
        limit = len(before) // 4  # the database is larger already; any write past it fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([str(BIN / "ownvoice"), "import", str(blog)], capture_output=True,
                            text=True, preexec_fn=small_disk, timeout=120)
    line = one_line_error(result)
    assert "Writing to the OwnVoice database" in line and "disk may be full" in line
    assert documents() == 0  # nothing half-imported
