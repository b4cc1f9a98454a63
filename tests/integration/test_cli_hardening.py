"""Issue 11, as a user meets it (subprocesses, real SQLite files and PostgreSQL):

read-only commands never create or write a database; an import is all or nothing even when
killed; ``ab`` validates every option before it creates anything; a cluster factory that
exits is a one-line ClusterError; exit codes follow the one table.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
import sqlalchemy as sa
from _daskbench_cli import daskbench as run_daskbench

from daskbench.errors import ExitCode
from daskbench.store import current_revision, head_revision, open_store
from daskbench.store._engine import create_engine
from daskbench.store._migrate import ensure_schema, known_revisions
from daskbench.store._url import parse_store_url

_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def daskbench(*args: str, timeout: float = 180, **kwargs: Any) -> CompletedProcess[str]:
    return run_daskbench(*args, timeout=timeout, **kwargs)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``daskbench`` in this process (fast): for commands that start no cluster and no pytest."""
    from daskbench.cli import main

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["daskbench", *args])
        with pytest.raises(SystemExit) as info:
            main(list(args))
        captured = capsys.readouterr()
        code = info.value.code
        assert isinstance(code, int)
        return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)

    return run


def one_line_error(proc: subprocess.CompletedProcess[str], code: ExitCode = ExitCode.USAGE) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("daskbench: error: ")
    return lines[0]


def tables(url: str) -> list[str]:
    engine = create_engine(parse_store_url(url))
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", _POSTGRES])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return str(request.getfixturevalue("postgres_url"))


# -- read-only commands -----------------------------------------------------------------------
READERS = [
    ["export"],
    ["detect", "--fail-on-regression"],
    ["compare", "--baseline", "a", "--candidate", "b", "--out", "rep"],
    ["dashboard", "--out", "site"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_typo_in_the_database_path_is_an_error_not_a_new_database(
    tmp_path: Path, command: list[str], cli
) -> None:
    proc = cli(*command, "--db", "sqlite:///typo.db", cwd=tmp_path)
    line = one_line_error(proc)
    assert "no history database at" in line
    assert "typo.db" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file, no report dir


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_reading_an_empty_database_changes_nothing(
    db_url: str, tmp_path: Path, command: list[str], cli
) -> None:
    if db_url.startswith("sqlite"):
        parse_store_url(db_url).sqlite_path.write_bytes(b"")  # an empty SQLite file
    line = one_line_error(cli(*command, "--db", db_url, cwd=tmp_path))
    assert "holds no daskbench history" in line
    assert tables(db_url) == []


def test_reading_an_older_revision_asks_for_db_upgrade(db_url: str, tmp_path: Path, cli) -> None:
    engine = create_engine(parse_store_url(db_url))
    try:
        ensure_schema(engine, parse_store_url(db_url), to=known_revisions()[0])
    finally:
        engine.dispose()
    line = one_line_error(cli("detect", "--db", db_url, cwd=tmp_path))
    assert "daskbench db upgrade" in line
    assert current_revision(db_url) == known_revisions()[0]
    done = daskbench("db", "upgrade", "--db", db_url, cwd=tmp_path)  # the real CLI, once
    assert done.returncode == 0, done.stderr
    assert current_revision(db_url) == head_revision()


def _without_write_permission(cmd: list[str]) -> list[str]:
    """``cmd`` run so that file permissions apply: as root, without the capabilities that
    bypass them (root ignores chmod otherwise)."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only to us")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]


def _csv_history(path: Path, runs: int, tests: int = 10, *, first: int = 0) -> int:
    """runs x tests x 3 metrics rows; returns the number of results."""
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["test", "metric", "value", "timestamp", "label", "run_id"])
        for i in range(first, first + runs):
            stamp = (t0 + timedelta(hours=i)).isoformat()
            for t in range(tests):
                for metric, value in (
                    ("wall_time", 1.0 + t / 10 + i / 1e4),
                    ("peak_memory", 1e8 * (1 + t)),
                    ("n_tasks", 10.0 * t),
                ):
                    out.writerow([f"test_{t}", metric, value, stamp, "nightly", f"run{i:05d}"])
    return runs * tests


@pytest.mark.parametrize("read_only", ["file", "directory"])
def test_a_read_only_sqlite_database_can_be_read(tmp_path: Path, read_only: str, cli) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    db = f"sqlite:///{folder}/history.db"
    _csv_history(tmp_path / "h.csv", runs=12, tests=2)
    # set-up, in this process; the reads below are the real CLI without write permission
    assert cli("import", "--db", db, str(tmp_path / "h.csv"), cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert list(before) == ["history.db"]  # WAL checkpointed and removed on close
    (folder / "history.db").chmod(0o444)
    if read_only == "directory":
        folder.chmod(0o555)
    try:
        for args in (
            ["export", "--format", "csv"],
            ["detect"],
            ["dashboard", "--out", str(tmp_path / "site")],
            ["compare", "--baseline", "nightly", "--candidate", "nightly2", "--out", "rep"],
        ):
            cmd = [sys.executable, "-m", "daskbench.cli", *args, "--db", db]
            proc = subprocess.run(
                _without_write_permission(cmd),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if args[0] == "compare":  # reads fine; the label does not exist
                assert "no runs with label 'nightly2'" in proc.stderr, proc.stderr
                continue
            assert proc.returncode == 0, proc.stderr
            if args[0] == "export":
                assert proc.stdout.count("\n") == 12 * 2 + 1
        # As the same user, writing is refused by the database itself.
        cmd = [sys.executable, "-m", "daskbench.cli", "ack", "--db", db, "test_0"]
        cmd += ["--metric", "wall_time", "--run", "run00005", "--reason", "x"]
        proc = subprocess.run(
            _without_write_permission(cmd), capture_output=True, text=True, check=False
        )
        assert proc.returncode == ExitCode.USAGE, proc.stderr
        assert "readonly" in proc.stderr.lower() or "read-only" in proc.stderr.lower()
    finally:
        folder.chmod(0o755)
        (folder / "history.db").chmod(0o644)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.name == "history.db"}
    assert after == before


def test_list_writes_no_database(tmp_path: Path) -> None:
    (tmp_path / "bench.py").write_text("def test_a(benchmark):\n    '''A.'''\n")
    proc = daskbench("list", "bench.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("test_a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.py"]


# -- import: all or nothing -----------------------------------------------------------------------
def _counts(url: str) -> tuple[int, int, int]:
    """(runs, results, runs without results), as of one moment.

    Runs and results are two reads: an import committing between them would look like a
    half-written history that never existed. The runs are read again after the results,
    and the reading repeated until nothing was committed in between.
    """
    with open_store(url, mode="read") as store:
        while True:
            runs = store.runs()
            results = store.results()
            if [r.id for r in store.runs()] == [r.id for r in runs]:
                break
    with_results = {r.run_id for r in results}
    return len(runs), len(results), sum(r.id not in with_results for r in runs)


def _writing(url: str, proc: subprocess.Popen[bytes], tag: str) -> bool:
    """Whether the import is inside its write transaction (so a kill now is mid-way)."""
    if url.startswith("sqlite"):
        wal = Path(parse_store_url(url).sqlite_path.with_name("history.db-wal"))
        return wal.exists() and wal.stat().st_size > 2_000_000  # pages of the open transaction
    server = sa.make_url(os.environ["DASKBENCH_TEST_POSTGRES_URL"])  # the fixture checked it
    engine = sa.create_engine(server.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            active = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :tag "
                    "AND state = 'active' AND query ILIKE 'INSERT%'"
                ),
                {"tag": tag},
            ).scalar()
    finally:
        engine.dispose()
    return bool(active)


@pytest.mark.parametrize(
    ("backend", "signum"),
    [
        ("sqlite", signal.SIGKILL),
        ("sqlite", signal.SIGTERM),
        ("sqlite", signal.SIGINT),
        pytest.param("postgres", signal.SIGKILL, marks=pytest.mark.postgres),
    ],
)
def test_an_import_killed_mid_way_leaves_nothing_and_can_be_redone(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str, signum: signal.Signals, cli
) -> None:
    tag = f"daskbench-import-{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/history.db"
    else:
        url = str(
            sa.make_url(request.getfixturevalue("postgres_url"))
            .update_query_dict({"application_name": tag})
            .render_as_string(hide_password=False)
        )
    open_store(url).close()  # an existing database: the kill must not hurt it either
    expected = _csv_history(tmp_path / "big.csv", runs=2500)
    proc = subprocess.Popen(
        [sys.executable, "-m", "daskbench.cli", "import", "--db", url, str(tmp_path / "big.csv")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not _writing(url, proc, tag):
        assert proc.poll() is None, "the import finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert _counts(url) == (0, 0, 0)  # nothing, not runs without results
    # redone in this process: the same command, without a second interpreter start-up
    again = cli("import", "--db", url, str(tmp_path / "big.csv"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _counts(url) == (2500, expected, 0)


def test_concurrent_imports_of_one_file_write_it_once_and_never_half(
    tmp_path: Path, db_url: str
) -> None:
    url = db_url
    open_store(url).close()
    expected = _csv_history(tmp_path / "big.csv", runs=1500)
    cmd = [sys.executable, "-m", "daskbench.cli", "import", "--db", url, str(tmp_path / "big.csv")]
    procs = [
        subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    seen: set[tuple[int, int, int]] = set()
    while any(p.poll() is None for p in procs):
        seen.add(_counts(url))  # a reader at any moment
        time.sleep(0.05)
    outcomes = sorted(p.returncode for p in procs)
    errors = [p.stderr.read().decode() for p in procs if p.returncode]  # type: ignore[union-attr]
    assert outcomes == [ExitCode.OK, ExitCode.USAGE], errors
    assert "already" in errors[0]
    seen.add(_counts(url))
    assert seen <= {(0, 0, 0), (1500, expected, 0)}
    assert _counts(url) == (1500, expected, 0)


def test_import_refuses_impossible_values_with_the_line(tmp_path: Path, cli) -> None:
    db = f"sqlite:///{tmp_path}/history.db"
    rows = "test,metric,value,timestamp\ntest_a,wall_time,1.0,2025-01-01\n"
    (tmp_path / "h.csv").write_text(rows + "test_a,wall_time,0,2025-01-02\n")
    line = one_line_error(cli("import", "--db", db, "h.csv", cwd=tmp_path))
    assert "h.csv:3: column 'value': wall_time must be > 0" in line
    assert not (tmp_path / "history.db").exists()


# -- ab: every option checked before anything exists ----------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory-limit", "lots"], "--memory-limit: cannot parse 'lots'"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--scale", "huge"], "'huge' is not one of"),
        (["--timeout", "-1"], "--timeout must be >= 0"),
        (["-k", "sum and (slow"], "-k 'sum and (slow'"),
        (["-m", "not"], "-m 'not'"),
        (["--alpha", "2"], "--alpha must be in (0, 1)"),
        (["--repeat", "0"], "--repeat must be >= 1"),
        (["--bench", "nope.py"], "no such file or directory: nope.py"),
        (["--out", "taken"], "--out is an existing file"),
        (["--out", "taken/sub"], "taken is an existing file"),
        (["--db", "postgresql://u:pl@nted@127.0.0.1:1/x?connect_timeout=1"], "127.0.0.1"),
        (["--spec-memory-limit"], "b.yaml: cluster.memory_limit: cannot parse 'lots'"),
    ],
)
def test_ab_validates_every_option_before_creating_anything(
    tmp_path: Path, args: list[str], message: str, cli
) -> None:
    (tmp_path / "a.yaml").write_text("name: a\n")
    bad_spec = args == ["--spec-memory-limit"]
    (tmp_path / "b.yaml").write_text(
        "name: b\ncluster: {memory_limit: lots}\n" if bad_spec else "name: b\n"
    )
    (tmp_path / "bench.py").write_text("def test_never(benchmark):\n    raise SystemExit(1)\n")
    (tmp_path / "taken").write_text("a file\n")
    extra = [] if bad_spec else args
    proc = cli(
        "ab", "a.yaml", "b.yaml", "--bench", "bench.py", "--env-cache", "envs", *extra, cwd=tmp_path
    )
    line = one_line_error(proc)
    assert message in line
    assert "pl@nted" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml", "bench.py", "taken"]


# -- cluster factories and exit codes -----------------------------------------------------------
def test_a_factory_that_exits_is_a_cluster_error(tmp_path: Path) -> None:
    (tmp_path / "bench.py").write_text(
        textwrap.dedent(
            """
            def test_sum(client, benchmark):
                with benchmark():
                    client.submit(sum, [1, 2]).result()
            """
        )
    )
    db = f"sqlite:///{tmp_path}/h.db"
    proc = daskbench("run", "bench.py", "--db", db, "--cluster", "sys:exit", cwd=tmp_path)
    line = one_line_error(proc)
    assert "--cluster sys:exit: the factory exited" in line
    if (tmp_path / "h.db").exists():  # no benchmark error is stored for it
        with open_store(db, mode="read") as store:
            assert store.results() == []


def test_nothing_selected_exits_5(tmp_path: Path) -> None:
    (tmp_path / "bench.py").write_text("def test_a(benchmark):\n    pass\n")
    proc = daskbench("list", "bench.py", "-k", "nomatch", cwd=tmp_path)
    assert proc.returncode == ExitCode.NO_TESTS


def test_the_database_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DASKBENCH_DB", raising=False)
    _csv_history(tmp_path / "h.csv", runs=3, tests=1)
    env = {"DASKBENCH_DB": f"sqlite:///{tmp_path}/env.db"}
    assert daskbench("import", "h.csv", cwd=tmp_path, env=env).returncode == 0
    proc = daskbench("export", "--format", "csv", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 4
    line = one_line_error(daskbench("export", cwd=tmp_path))
    assert "Missing option '--db'" in line
