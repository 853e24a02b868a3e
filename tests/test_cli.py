"""The `ownvoice` command, run as a user runs it: a real process, real files, real database."""

from __future__ import annotations

import json

from tests.blog import EXPECTED_DOCUMENTS, EXPECTED_PASSED_OVER, EXPECTED_SKIPPED
from tests.conftest import ROOT, run_ownvoice


def test_import_json_report_and_a_second_run(blog, ownvoice_home):
    first = json.loads(run_ownvoice("import", str(blog), "--json").stdout)
    assert set(first) >= {"imported", "updated", "unchanged", "segments_added", "skipped"}
    assert first["imported"] == EXPECTED_DOCUMENTS
    assert first["passed_over"] == EXPECTED_PASSED_OVER
    assert len(first["skipped"]) == EXPECTED_SKIPPED
    assert all(set(s) == {"path", "reason"} for s in first["skipped"])
    assert first["segments_added"] > 30

    second = json.loads(run_ownvoice("import", str(blog), "--json").stdout)
    assert (second["imported"], second["updated"], second["segments_added"]) == (0, 0, 0)
    assert second["unchanged"] == EXPECTED_DOCUMENTS
    assert (ownvoice_home / "ownvoice.db").exists()


def test_import_prints_a_readable_summary(blog):
    result = run_ownvoice("import", str(blog))
    assert f"Imported {EXPECTED_DOCUMENTS} new document(s)" in result.stdout
    assert f"Passed over {EXPECTED_PASSED_OVER} file(s)" in result.stdout
    assert "draft.md: draft (front matter says draft: true)" in result.stdout
    assert "empty.md: empty file" in result.stdout


def test_import_of_a_missing_path_exits_zero_and_says_so(tmp_path):
    result = run_ownvoice("import", str(tmp_path / "nope"), "--json")
    report = json.loads(result.stdout)
    assert report["skipped"] == [{"path": str(tmp_path / "nope"),
                                  "reason": "no such file or folder"}]


def test_corpus_stats(blog):
    run_ownvoice("import", str(blog))
    stats = json.loads(run_ownvoice("corpus", "stats", "--json").stdout)
    assert stats["documents"] == EXPECTED_DOCUMENTS
    assert stats["segments"] == sum(stats["by_kind"].values())
    assert sum(stats["by_split"].values()) == EXPECTED_DOCUMENTS
    assert stats["by_kind"]["prose"] == stats["prose_segments"] > 15
    assert {"zh", "en"} <= set(stats["by_lang"])
    human = run_ownvoice("corpus", "stats").stdout
    assert f"Documents: {EXPECTED_DOCUMENTS}" in human and "Segments by kind: prose" in human


def test_corpus_segments_with_filters(blog):
    run_ownvoice("import", str(blog))
    rows = json.loads(run_ownvoice("corpus", "segments", "--json").stdout)
    assert {"document", "kind", "lang", "split", "text"} <= set(rows[0])
    assert {r["kind"] for r in rows} >= {"prose", "heading", "list", "quote", "code", "table",
                                        "image", "link"}
    zh_prose = json.loads(run_ownvoice("corpus", "segments", "--kind", "prose", "--lang", "zh",
                                       "--json").stdout)
    assert zh_prose and all(r["kind"] == "prose" and r["lang"] == "zh" for r in zh_prose)
    assert "最后一段：火车站离我家很近，走路十分钟就到。" in {r["text"] for r in zh_prose}
    limited = json.loads(run_ownvoice("corpus", "segments", "--limit", "3", "--json").stdout)
    assert len(limited) == 3


def test_corpus_search_finds_chinese_words_of_two_characters(blog):
    run_ownvoice("import", str(blog))
    found = json.loads(run_ownvoice("corpus", "search", "部署", "--json").stdout)
    assert [r["text"] for r in found] == ["我们用 Docker 部署服务，详情见这篇文章。"]
    found = json.loads(run_ownvoice("corpus", "search", "火车站", "--json").stdout)
    assert [r["text"] for r in found] == ["最后一段：火车站离我家很近，走路十分钟就到。"]
    found = json.loads(run_ownvoice("corpus", "search", "shinkansen", "watch", "--json").stdout)
    assert len(found) == 1 and found[0]["title"] == "Notes from Kyoto"
    assert json.loads(run_ownvoice("corpus", "search", "不存在的词", "--json").stdout) == []
    human = run_ownvoice("corpus", "search", "Leverage")
    assert "On Writing Plainly" in human.stdout


def test_empty_corpus_gives_guidance():
    assert "ownvoice import FOLDER" in run_ownvoice("corpus", "stats").stdout


def test_a_broken_database_is_an_error_with_advice(ownvoice_home):
    ownvoice_home.mkdir(parents=True, exist_ok=True)
    (ownvoice_home / "ownvoice.db").write_bytes(b"garbage" * 500)
    result = run_ownvoice("corpus", "stats", check=False)
    assert result.returncode == 1
    assert f"Error: The OwnVoice database {ownvoice_home / 'ownvoice.db'} is damaged" in (
        result.stderr)
    assert "move it aside" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands():
    out = run_ownvoice("--help").stdout
    for command in ("import", "corpus", "gui"):
        assert command in out


def test_every_command_named_in_help_and_messages_exists():
    """Help texts and error messages send people to commands: each must exist (no
    "comes next", no command from an older version)."""
    import re

    import click

    from desktop.cli import cli

    root = ROOT
    texts = []

    def walk(command: click.Command) -> None:
        texts.append(command.help or "")
        texts.extend(p.help or "" for p in command.params if isinstance(p, click.Option))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(cli)
    for package in ("engine", "remote", "desktop"):
        texts += [p.read_text("utf-8") for p in (root / package).rglob("*.py")]
    named = set()
    for text in texts:
        assert "comes next" not in text and "come next" not in text
        named |= set(re.findall(r"ownvoice ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", text))
    assert ("train", "") in named or any(first == "train" for first, _ in named)
    for first, second in sorted(named):
        assert first in cli.commands, f"`ownvoice {first}` does not exist"
        group = cli.commands[first]
        if isinstance(group, click.Group) and second and second not in ("for", "to", "with"):
            assert second in group.commands, f"`ownvoice {first} {second}` does not exist"
