"""No secret leaves the machine: a real ``daskbench ab`` against PostgreSQL with a planted
password (containing ``@``) and a planted ``DASK_COILED__TOKEN``, then a grep of everything it
left behind: the database dump, the ``--out`` directory, the round logs, the built dashboard,
``export`` and what the commands printed. Expected hits: 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

PASSWORD = "pl@nted-Pass/9;x"  # '@' and '/' in it, as users' passwords have
TOKEN = "planted-secret-123"
SPEC_TOKEN = "planted-spec-token-456"
BENCH = '''
def test_trivial(client, benchmark):
    """One task."""
    with benchmark():
        assert client.submit(sum, [1, 2]).result() == 3
'''


@pytest.fixture
def planted_url(postgres_url: str) -> Iterator[str]:
    """The test schema, reached as a new role whose password is the planted one."""
    admin_url = sa.make_url(postgres_url)
    schema = admin_url.query["options"].split("=", 1)[1]
    role = f"daskbench_planted_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
            conn.exec_driver_sql(f'GRANT ALL ON SCHEMA "{schema}" TO {role}')
        url = admin_url.set(username=role, password=PASSWORD)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def _dump(url: str) -> str:
    """The schema's contents as text: pg_dump when installed, else every row of every table."""
    parsed = sa.make_url(url)
    schema = parsed.query["options"].split("=", 1)[1]
    pg_dump = shutil.which("pg_dump")
    if pg_dump is not None:
        libpq = parsed.set(drivername="postgresql").difference_update_query(["options"])
        proc = subprocess.run(
            [pg_dump, "--schema", schema, "--inserts", libpq.render_as_string(hide_password=False)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "INSERT INTO" in proc.stdout
        return proc.stdout
    engine = sa.create_engine(parsed)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return "\n".join(
                repr(row) for name in names for row in conn.exec_driver_sql(f"SELECT * FROM {name}")
            )
    finally:
        engine.dispose()


def _hits(text: str) -> list[str]:
    planted = {PASSWORD, quote(PASSWORD, safe=""), TOKEN, SPEC_TOKEN, "pl@nted"}
    return sorted(p for p in planted if p in text)


def _grep(folder: Path) -> dict[str, list[str]]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            hits = _hits(path.read_bytes().decode("utf-8", "replace"))
            if hits:
                found[str(path)] = hits
    return found


def test_planted_password_and_token_are_nowhere(planted_url: str, tmp_path: Path) -> None:
    assert quote(PASSWORD, safe="") in planted_url  # the URL really carries the password
    (tmp_path / "bench_tiny.py").write_text(BENCH)
    (tmp_path / "base.yaml").write_text(f"name: base\nenv: {{MY_API_TOKEN: {SPEC_TOKEN}}}\n")
    env = {**os.environ, "DASK_COILED__TOKEN": TOKEN}
    env.pop("DASKBENCH_DB", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "daskbench.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert _hits(proc.stdout + proc.stderr) == [], proc.stdout + proc.stderr
        return proc

    ab = cli(
        "ab",
        "base.yaml",
        "--null",
        "--bench",
        "bench_tiny.py",
        "--db",
        planted_url,
        "--repeat",
        "1",  # every round writes the same kinds of records, logs and report rows
        "--workers",
        "1",
        "--threads-per-worker",
        "1",
        "--reset",
        "none",
        "--out",
        "out",
    )
    assert ab.returncode == 0, ab.stdout + ab.stderr
    dashboard = cli("dashboard", "--db", planted_url, "--out", "site")
    assert dashboard.returncode == 0, dashboard.stderr
    export = cli("export", "--db", planted_url)
    assert export.returncode == 0, export.stderr
    records = json.loads(export.stdout)  # one per execution (ab measures >= 1 s per round)
    assert len({r["run_id"] for r in records}) == 2  # 2 arms x 1 round, one benchmark
    assert {r["test"] for r in records} == {"test_trivial"}

    dump = _dump(planted_url)
    assert "coiled.token" in dump  # the token's key is recorded ...
    assert _hits(dump) == []  # ... but never its value, nor the password
    assert sorted(p.name for p in (tmp_path / "out" / "logs").iterdir())  # logs exist
    assert _grep(tmp_path / "out") == {}  # reports and logs
    assert (tmp_path / "site" / "runs.html").is_file()
    assert _grep(tmp_path / "site") == {}
