"""The static dashboard's files: layout, data payloads, statuses, size, A/B pages (no browser)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from daskbench.errors import ConfigError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report.dashboard import build_dashboard
from daskbench.report.dashboard._data import sparkline
from daskbench.report.dashboard._docs import category, docstring
from daskbench.store import MemoryStore

T0 = datetime(2025, 1, 1, 2, tzinfo=UTC)


def history(store: MemoryStore, *, n: int = 40, path: str = "") -> None:
    rng = np.random.default_rng(2)
    for i in range(n):
        at = T0 + timedelta(days=i)
        env = Environment(git_commit=f"{i:040x}", packages={"dask": "2025.1.0"})
        store.add_run(Run(f"r{i:03d}", "nightly", at, environment=env))
        for test in ("test_a", "test_b[x/y]", "test_B[x/y]"):
            outcome = Outcome.ERROR if test == "test_a" and i == n - 1 else Outcome.PASSED
            wall = rng.normal(1.0, 0.02) * (1.2 if test == "test_b[x/y]" and i >= n - 8 else 1.0)
            ms = (Measurement("wall_time", wall, "s"), Measurement("n_tasks", 12.0, "count"))
            store.add_result(
                Result(f"r{i:03d}", test, 0, outcome, at, at, ms if outcome == "passed" else (),
                       error="setup failed" if outcome != "passed" else None, path=path)
            )  # fmt: skip


def load_js(path: Path) -> dict:
    text = path.read_text()
    match = re.fullmatch(r"window\.(\w+)=(.*);\n", text, re.DOTALL)
    assert match is not None
    return json.loads(match.group(2))


def test_layout_payloads_and_statuses(tmp_path: Path) -> None:
    store = MemoryStore()
    history(store)
    out = tmp_path / "site"
    (out / "tests").mkdir(parents=True)
    (out / "tests" / "stale.html").write_text("old")
    (out / "keep.txt").write_text("mine")
    built = build_dashboard(store, out, title="My project")
    assert built.tests == 3
    assert not (out / "tests" / "stale.html").exists()  # generated folders are replaced
    assert (out / "keep.txt").read_text() == "mine"  # everything else is left alone
    assert sorted(p.name for p in (out / "assets").iterdir()) == [
        "dashboard.css", "dashboard.js", "uPlot.LICENSE", "uPlot.iife.min.js", "uPlot.min.css",
    ]  # fmt: skip
    pages = sorted(p.name for p in (out / "tests").iterdir())
    assert len(pages) == 3  # test_b[x/y] and test_B[x/y] must not collide on any file system
    assert len({p.lower() for p in pages}) == 3

    index = (out / "index.html").read_text()
    assert "My project" in index
    rows = re.findall(r'<tr data-status="(\w+)" data-category="[^"]*" data-label="nightly" '
                      r'data-test="([^"]+)">', index)  # fmt: skip
    assert sorted(rows) == [("failing", "test_a"), ("regressed", "test_b[x/y]"),
                            ("stable", "test_b[x/y]")]  # fmt: skip

    runs = load_js(out / "data" / "runs.js")
    assert runs["fields"][:3] == ["id", "label", "t"]
    assert len(runs["runs"]) == 40
    payload = load_js(out / "data" / "tests" / "test_a.js")
    lineage = payload["labels"]["nightly"]
    assert lineage["failed"] == [39]
    assert lineage["errors"] == {"39": "setup failed"}
    assert lineage["metrics"]["wall_time"]["values"][39] is None
    assert lineage["metrics"]["n_tasks"]["unit"] == "count"


def test_no_change_without_data_and_bad_out(tmp_path: Path) -> None:
    built = build_dashboard(MemoryStore(), tmp_path / "empty")
    assert built.tests == 0
    assert "0 test histories" in (tmp_path / "empty" / "index.html").read_text()
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="not a directory"):
        build_dashboard(MemoryStore(), tmp_path / "file")


def test_docstrings_and_categories(tmp_path: Path) -> None:
    source = tmp_path / "test_arrays.py"
    source.write_text(
        'def test_a():\n    """Add two arrays."""\n\n\nclass TestX:\n'
        '    def test_m(self):\n        """A method."""\n'
    )
    assert docstring(f"{source}::test_a[p2p]", "test_a[p2p]") == "Add two arrays."
    assert docstring(f"{source}::TestX::test_m", "test_m") == "A method."
    assert docstring(f"{source}::test_zzz", "test_zzz") == ""
    assert docstring("", "test_a") == ""
    assert category(f"{source}::test_a", "test_a") == "arrays"
    assert category("", "test_a") == "other"
    assert category("", "array/test_sum") == "array"
    store = MemoryStore()
    history(store, n=12, path=f"{source}::test_a")
    out = tmp_path / "site"
    build_dashboard(store, out)
    assert "Add two arrays." in (out / "tests" / "test_a.html").read_text()


def test_sparkline_is_inline_svg() -> None:
    svg = sparkline([1.0, None, 2.0, 1.5])
    assert svg.startswith('<svg class="spark"')
    assert svg.count(",") == 3  # three points; the gap is skipped
    assert "<polyline" not in sparkline([1.0])


def test_ab_experiments_get_pages_and_stay_out_of_the_history(tmp_path: Path) -> None:
    pytest.importorskip("daskbench.ab")
    store = MemoryStore()
    history(store, n=12)
    rng = np.random.default_rng(0)
    for rnd in range(6):
        for k, arm in enumerate(("base", "cand") if rnd % 2 == 0 else ("cand", "base")):
            at = T0 + timedelta(days=50, minutes=10 * rnd + k)
            env = Environment(extra={"experiment": "exp1", "round": rnd, "ab_env": arm})
            run_id = f"{arm}-{rnd}"
            store.add_run(Run(run_id, arm, at, environment=env))
            wall = rng.normal(1.0, 0.01) * (1.5 if arm == "cand" else 1.0)
            store.add_result(Result(run_id, "test_a", 0, Outcome.PASSED, at, at,
                                    (Measurement("wall_time", wall, "s"),)))  # fmt: skip
    out = tmp_path / "site"
    build_dashboard(store, out)
    index = (out / "index.html").read_text()
    assert 'data-label="base"' not in index  # experiment arms are not lineages
    listing = (out / "ab" / "index.html").read_text()
    assert 'href="exp1.html"' in listing
    assert "cand vs base" in listing
    page = (out / "ab" / "exp1.html").read_text()
    assert '<a href="index.html">' in page
    assert "regressed" in page


def test_a_metric_rising_from_zero(tmp_path: Path) -> None:
    from daskbench.history import detect, load_history, to_json, to_text

    store = MemoryStore()
    for i in range(30):
        at = T0 + timedelta(days=i)
        store.add_run(Run(f"r{i:03d}", "nightly", at))
        spill = 0.0 if i < 20 else 2.0 + 0.01 * i
        store.add_result(Result(f"r{i:03d}", "test_a", 0, Outcome.PASSED, at, at,
                                (Measurement("spill_time", spill, "s"),)))  # fmt: skip
    history_ = load_history(store)
    result = detect(history_, recent=15)
    (change,) = result.failing
    assert change.before == 0.0
    assert json.loads(to_json(result, history_))["regressions"][0]["ratio"] is None
    assert "test_a  spill_time  from 0 (0 µs -> 2.2" in to_text(result, history_)
    build_dashboard(store, tmp_path / "site", recent=15)
    payload = load_js(tmp_path / "site" / "data" / "tests" / "test_a.js")
    assert payload["labels"]["nightly"]["metrics"]["spill_time"]["changes"][0]["pct"] is None


def test_charts_open_on_wall_time_then_memory(tmp_path: Path) -> None:
    store = MemoryStore()
    store.add_run(Run("r0", "nightly", T0))
    names = ("n_tasks", "avg_memory", "compute_time", "peak_memory", "wall_time", "rows_per_s")
    ms = tuple(Measurement(name, 1.0, "") for name in names)
    store.add_result(Result("r0", "test_a", 0, Outcome.PASSED, T0, T0, ms))
    build_dashboard(store, tmp_path / "site")
    lineage = load_js(tmp_path / "site" / "data" / "tests" / "test_a.js")["labels"]["nightly"]
    assert lineage["order"] == [
        "wall_time", "peak_memory", "avg_memory", "compute_time", "n_tasks", "rows_per_s",
    ]  # fmt: skip
    assert sorted(lineage["order"]) == sorted(lineage["metrics"])


def test_runs_page_groups_by_label_and_shows_the_workers_side(tmp_path: Path) -> None:
    store = MemoryStore()
    for label, n in (("nightly", 3), ("gpu", 2)):
        for i in range(n):
            cluster = {
                "workers": 2,
                "threads": 4,
                "memory_limit": 8 * 2**30,
                "workers.python": "3.11.7",
                "workers.packages.dask": "2026.8.0" if i < 2 else "2026.9.0",
                "workers.cpu_model": "AMD EPYC",
                "version_mismatches": ["dask: client 2026.8.0; workers 2026.9.0"] if i == 2 else [],
            }
            env = Environment(packages={"dask": "2026.8.0"}, cluster=cluster)
            store.add_run(Run(f"{label}-{i}", label, T0 + timedelta(days=i), environment=env))
    build_dashboard(store, tmp_path / "site")
    html = (tmp_path / "site" / "runs.html").read_text()
    gpu, nightly = html.index('id="label-gpu"'), html.index('id="label-nightly"')
    assert gpu < nightly  # labels by name, each its own table
    section = html[nightly:]
    assert section.index('id="run-nightly-2"') < section.index('id="run-nightly-0"')  # newest first
    assert "workers: python 3.11.7, dask 2026.9.0" in section
    assert "2 workers, 4 threads, 8.00 GiB" in section
    assert "cluster.workers.packages.dask: 2026.8.0 → 2026.9.0" in section
    assert (
        '<div class="bad">version mismatch: dask: client 2026.8.0; workers 2026.9.0</div>' in html
    )
    assert html.count("first run of this label") == 2


def test_runs_page_links_the_dask_performance_reports(tmp_path: Path) -> None:
    from daskbench.report._perf_report import performance_report_file

    reports = tmp_path / "reports"
    store = MemoryStore()
    for i in range(2):
        extra = {"performance_report": str(reports)} if i == 0 else {}
        store.add_run(Run(f"r{i}", "nightly", T0 + timedelta(days=i),
                          environment=Environment(extra=extra)))  # fmt: skip
        for test in ("test_a", "test_b[x]"):
            ms = (Measurement("wall_time", 1.0, "s"),)
            store.add_result(Result(f"r{i}", test, 0, Outcome.PASSED, T0, T0, ms))
    written = performance_report_file(reports, "r0", "test_b[x]")
    written.parent.mkdir(parents=True)
    written.write_text("<html>report</html>")  # test_a's report was not written (or moved away)
    build_dashboard(store, tmp_path / "site")
    html = (tmp_path / "site" / "runs.html").read_text()
    row = html[html.index('id="run-r0"') :]
    row = row[: row.index("</tr>")]
    assert "1 performance report</summary>" in row
    href = f"../reports/r0/{written.name}"
    assert f'<a href="{href}">test_b[x]</a>' in row
    assert ((tmp_path / "site") / href).resolve() == written.resolve()
    assert html.count("performance report") == 1  # run r1 wrote none
