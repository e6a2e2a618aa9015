"""The operator docs stay true: their runnable examples run, their tables match the code, links resolve.

A fenced block whose info string is `sh runnable` or `python runnable` is executed, top to
bottom, on a scratch MySQL database and Redis key prefix, from a scratch directory with no .env
(README.md's header comment states the convention). `relaystore`, `python` and `python3` resolve
to this interpreter, so the test exercises the package under test inside any virtualenv.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
import redis as redis_lib

import relaystore
from relaystore.config import _ENV, Settings
from relaystore.mysql.pool import connect_args
from relaystore.mysql.schema import drop_database
from tests.conftest import TEST_ENCRYPTION_KEY, _require_server, base_settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_PARENT = Path(relaystore.__file__).resolve().parents[1]
RUN_DOCS = ["README.md", "docs/deployment.md"]
LINKED_DOCS = RUN_DOCS + ["CHANGELOG.md"]
BLOCK_TIMEOUT = 180


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its info string words and its text."""

    doc: str
    line: int
    info: tuple[str, ...]
    text: str

    @property
    def lang(self) -> str:
        return self.info[0] if self.info else ""

    @property
    def runnable(self) -> bool:
        return "runnable" in self.info[1:]

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def fenced_blocks(doc: str) -> list[Block]:
    """Every ``` block of a Markdown file (fences may be indented, as in list items)."""
    blocks, info, start, body, indent = [], None, 0, [], ""
    for number, line in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if info is None:
            if stripped.startswith("```"):
                info, start, body = tuple(stripped[3:].split()), number, []
                indent = line[:len(line) - len(line.lstrip())]
        elif stripped == "```":
            blocks.append(Block(doc, start, info, "\n".join(body) + "\n"))
            info = None
        else:
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
    assert info is None, f"{doc}:{start}: unclosed code fence"
    return blocks


def runnable_steps(doc: str) -> list[tuple[Block, Block | None]]:
    """Runnable blocks in order, each with the `text output` block that follows it, if any."""
    blocks = fenced_blocks(doc)
    steps = []
    for index, block in enumerate(blocks):
        if block.runnable:
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            expected = following if following and following.info[:2] == ("text", "output") else None
            steps.append((block, expected))
    return steps


def missing_output(expected: str, actual: str) -> str | None:
    """The first expected line not found (in order) in `actual`; `...` matches any text. None if all found."""
    lines = [line.strip() for line in actual.splitlines()]
    position = 0
    for want in (w.strip() for w in expected.splitlines()):
        if not want:
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        while position < len(lines) and not pattern.fullmatch(lines[position]):
            position += 1
        if position == len(lines):
            return want
        position += 1
    return None


@dataclass(frozen=True)
class Scratch:
    env: dict[str, str]
    cwd: Path
    database: str
    prefix: str


def _delete_prefix(prefix: str) -> None:
    client = redis_lib.Redis(host="127.0.0.1", port=6379)
    try:
        keys = list(client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
    finally:
        client.close()


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    """Environment for running doc blocks: scratch database and prefix, shims on PATH, no .env."""
    _require_server(3306)
    _require_server(6379)
    tag = uuid.uuid4().hex[:8]
    database, prefix = f"relaystore_docs_{tag}", f"relaystore_docs_{tag}:"
    shims = tmp_path / "bin"
    shims.mkdir()
    python = shlex.quote(sys.executable)
    for name, target in (("relaystore", f"{python} -m relaystore"), ("python", python), ("python3", python)):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        shim.chmod(0o755)
    cwd = tmp_path / "work"
    cwd.mkdir()
    # Nothing from the caller's relaystore settings leaks in: every variable takes its default
    # except the scratch ones below, exactly as README.md's header promises.
    env = {k: v for k, v in os.environ.items() if k not in _ENV and k != "MYSQL_APP_PASSWORD"}
    env.update(
        ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        MYSQL_DATABASE=database,
        REDIS_KEY_PREFIX=prefix,
        PATH=f"{shims}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p),
    )
    try:
        yield Scratch(env, cwd, database, prefix)
    finally:
        drop_database(base_settings(), database)
        _delete_prefix(prefix)


def _run(block: Block, scratch: Scratch, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**scratch.env, **(extra_env or {})}
    if block.lang in ("sh", "bash", "shell"):
        argv = ["bash", "-euo", "pipefail", "-c", block.text]
    elif block.lang == "python":
        script = scratch.cwd / f"block_{block.line}.py"
        script.write_text(block.text, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        pytest.fail(f"{block.where}: runnable block in unsupported language {block.lang!r}")
    return subprocess.run(argv, cwd=scratch.cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)


def _report(block: Block, done: subprocess.CompletedProcess[str], problem: str) -> str:
    return (f"{block.where}: {problem}\n--- block ---\n{block.text}--- exit {done.returncode}; stdout ---\n"
            f"{done.stdout[-4000:]}--- stderr ---\n{done.stderr[-4000:]}")


def _database_has_schema(name: str) -> bool:
    con = pymysql.connect(**connect_args(base_settings()))
    try:
        with con.cursor() as cur:
            cur.execute("SELECT COUNT(*) AS n FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'schema_version'", (name,))
            return bool(cur.fetchone()["n"])
    finally:
        con.close()


@pytest.mark.parametrize("doc", RUN_DOCS)
def test_runnable_blocks_run_as_written_on_a_scratch_database(doc: str, scratch: Scratch) -> None:
    steps = runnable_steps(doc)
    assert steps, f"{doc} has no runnable blocks"
    for block, expected in steps:
        # A Python example must hold on both backends: that is the point of one interface.
        backends = ("mysql", "redis") if block.lang == "python" else (None,)
        for backend in backends:
            done = _run(block, scratch, {"DATABASE_TYPE": backend} if backend else None)
            label = f" [DATABASE_TYPE={backend}]" if backend else ""
            assert done.returncode == 0, _report(block, done, f"exited {done.returncode}{label}")
            if expected is not None:
                missing = missing_output(expected.text, done.stdout)
                assert missing is None, _report(block, done, f"output lacks {missing!r}{label} "
                                                             f"(expected block at {expected.where})")
    if any(b.lang == "sh" and "db init" in b.text for b, _ in steps):
        assert _database_has_schema(scratch.database), f"{doc}'s db init did not reach the scratch database"


def test_output_check_requires_every_expected_line_in_order() -> None:
    actual = "created database x\nschema version 1\nnothing to do\n"
    assert missing_output("created database ...\nschema version 1\n", actual) is None
    assert missing_output("schema version 1\ncreated database ...\n", actual) == "created database ..."
    assert missing_output("schema version 2\n", actual) == "schema version 2"


def test_readme_runs_the_cli_and_a_python_example() -> None:
    steps = [block for block, _ in runnable_steps("README.md")]
    shell = "\n".join(b.text for b in steps if b.lang == "sh")
    for command in ("relaystore db init", "relaystore db check", "relaystore --backend mysql demo",
                    "relaystore --backend redis demo"):
        assert command in shell, f"README.md no longer runs {command!r}"
    assert any(b.lang == "python" and "open_store()" in b.text for b in steps)


def test_readme_keeps_the_two_commands_unmarked_and_ci_calls_them() -> None:
    blocks = fenced_blocks("README.md")
    for command in ("bash scripts/setup.sh", "bash scripts/test.sh"):
        assert any(b.text.strip() == command and not b.runnable for b in blocks), command
        assert not any(b.runnable and command.split()[-1] in b.text for b in blocks), \
            f"{command} must not be runnable (it would install packages or recurse into the tests)"
        assert command in (ROOT / ".ci" / "run").read_text()


def _table_rows(doc: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by a first cell of the form `NAME`."""
    rows = {}
    for line in (ROOT / doc).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"`[A-Z][A-Z0-9_]*`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_readme_configuration_table_has_every_setting_with_its_default() -> None:
    rows = _table_rows("README.md")
    defaults = Settings()
    for name, (field, _kind) in _ENV.items():
        assert name in rows, f"README.md's configuration table lacks {name}"
        default, shown = getattr(defaults, field), rows[name][0]
        if default == "":
            assert shown in ("(empty)", "(required)"), f"{name}: default is empty, README says {shown}"
        else:
            assert shown == f"`{default}`", f"{name}: default is {default!r}, README says {shown}"


def test_every_variable_in_env_example_and_read_by_code_is_documented() -> None:
    documented = set(_table_rows("README.md"))
    example = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    read_by_code = set()
    for path in (ROOT / "relaystore").rglob("*.py"):
        read_by_code |= set(re.findall(r"environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]*)[\"']", path.read_text()))
    for script in (ROOT / "scripts").glob("*.sh"):
        read_by_code |= set(re.findall(r"\$\{(PYTHON)[:}-]", script.read_text()))
    assert read_by_code >= {"MYSQL_APP_PASSWORD", "RELAYSTORE_SQL_DIR", "PYTHON"}
    assert example - documented == set(), "variables in .env.example missing from README.md"
    assert read_by_code - documented == set(), "variables read by the code missing from README.md"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    in_fence, anchors = False, set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


@pytest.mark.parametrize("doc", LINKED_DOCS)
def test_relative_links_and_anchors_resolve(doc: str) -> None:
    source = ROOT / doc
    text = re.sub(r"```.*?```", "", source.read_text(encoding="utf-8"), flags=re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (source.parent / target).resolve() if target else source
        assert path.exists(), f"{doc}: link to missing {target}"
        if anchor:
            assert anchor in _anchors(path), f"{doc}: no heading for #{anchor} in {path.name}"
