"""Write the static dashboard: one pass over the history, one file per page and per test.

Layout of ``out``::

    index.html          every test x label: status, sparkline, latest value, filters
    runs.html           every run with its fingerprint and what changed from the previous one
    tests/<slug>.html   one page per test: docstring, charts per metric, change points
    ab/                 A/B experiments stored by ``daskbench ab``: a list and one page each
    data/runs.js        the run table shared by all test pages (hover: run, versions, commit)
    data/tests/*.js     one compact payload per test
    assets/             uPlot (vendored once, MIT) and the dashboard's own JS/CSS

Only these names are replaced in ``out``; anything else there is left alone.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from daskbench.errors import ConfigError
from daskbench.history import Detection, History, TestHistory, detect, load_history
from daskbench.history._detect import DEFAULT_MIN_CHANGE, DEFAULT_RECENT, TestStatus
from daskbench.models import utcnow
from daskbench.report._perf_report import RUN_EXTRA_KEY, existing_reports
from daskbench.store import Store

from ._ab import ab_pages, ab_rows
from ._data import js_assign, primary_metric, runs_payload, sparkline, test_payload
from ._docs import category, docstring
from ._pages import IndexRow, ab_index_page, index_page, runs_page, test_page

__all__ = ["BuildStats", "build_dashboard"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "dashboard.js", "dashboard.css")
_GENERATED = ("index.html", "runs.html", "tests", "data", "assets", "ab")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class BuildStats:
    """What a build wrote: test pages, files, total bytes and wall time."""

    tests: int
    files: int
    bytes: int
    seconds: float


def _slugs(tests: list[str]) -> dict[str, str]:
    """test -> file-name-safe slug, unique (a short hash disambiguates collisions)."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for test in sorted(tests):
        slug = _UNSAFE.sub("-", test).strip("-.")[:80] or "test"
        if slug.lower() in taken:  # case-insensitive file systems
            slug = f"{slug}-{hashlib.sha1(test.encode()).hexdigest()[:8]}"
        taken.add(slug.lower())
        slugs[test] = slug
    return slugs


def _status(th: TestHistory, detection: Detection) -> TestStatus:
    if th.failed and th.failed[-1]:
        return TestStatus.FAILING
    return detection.status(th.label, th.test)


def _note(th: TestHistory, detection: Detection, status: TestStatus) -> str:
    if status is TestStatus.FAILING:
        error = th.errors[-1]
        return f"failed in run {th.run_ids[-1]}" + (f": {error}" if error else "")
    mine = [c for c in detection.changes if c.label == th.label and c.test == th.test and c.new]
    failing = [c for c in mine if c.failing]
    shown = failing or [c for c in mine if not c.reverted]
    if not shown:
        return ""
    c = max(shown, key=lambda c: abs(c.ratio - 1.0))
    return f"{c.percent_text} {c.metric} at run {c.first_bad_run}"


def _clear(out: Path) -> None:
    for name in _GENERATED:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


def build_dashboard(
    store: Store,
    out: Path,
    *,
    label: str | None = None,
    title: str = "daskbench",
    recent: int = DEFAULT_RECENT,
    min_change: float = DEFAULT_MIN_CHANGE,
) -> BuildStats:
    """Build the site for ``store`` (one label, or all) into ``out``."""
    start = time.perf_counter()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    history = load_history(store, label=label)
    detection = detect(history, store.acks(), recent=recent, min_change=min_change)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _clear(out)
        written = _write_site(out, history, detection, title)
        _write_ab(out, store, title, label)
    except OSError as exc:
        raise ConfigError(f"cannot write the dashboard to {out}: {exc}") from None
    return BuildStats(
        tests=written,
        files=sum(1 for p in out.rglob("*") if p.is_file()),
        bytes=sum(p.stat().st_size for name in _GENERATED for p in _walk(out / name)),
        seconds=time.perf_counter() - start,
    )


def _write_ab(out: Path, store: Store, title: str, label: str | None) -> None:
    pages = ab_pages(store, store.runs(label=label))
    (out / "ab").mkdir()
    for page in pages:
        if page.html is not None:
            (out / "ab" / f"{page.slug}.html").write_text(page.html, encoding="utf-8")
    (out / "ab" / "index.html").write_text(
        ab_index_page(title, ab_rows(pages), len(pages)), encoding="utf-8"
    )


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []


def _performance_reports(history: History, out: Path) -> dict[str, list[tuple[str, str]]]:
    """run id -> (test, href) of the Dask performance reports the run wrote (that exist)."""
    tests_of: dict[str, set[str]] = defaultdict(set)
    for (_, test), th in history.tests.items():
        for run_id in th.run_ids:
            tests_of[run_id].add(test)
    links = {}
    for run_id, run in history.runs.items():
        if RUN_EXTRA_KEY in run.environment.extra:
            found = existing_reports(run, tests_of[run_id], out)
            if found:
                links[run_id] = found
    return links


def _write_site(out: Path, history: History, detection: Detection, title: str) -> int:
    (out / "assets").mkdir()
    (out / "tests").mkdir()
    (out / "data" / "tests").mkdir(parents=True)
    for name in ASSETS:
        shutil.copyfile(STATIC / name, out / "assets" / name)

    runs, run_index = runs_payload(history)
    (out / "data" / "runs.js").write_text(js_assign("DASHBOARD_RUNS", runs), encoding="utf-8")

    by_test: dict[str, list[TestHistory]] = defaultdict(list)
    for (_, test), th in sorted(history.tests.items()):
        by_test[test].append(th)
    for lineages in by_test.values():  # the longest history first: the page opens on it
        lineages.sort(key=lambda th: (-len(th.run_ids), th.label))
    slugs = _slugs(list(by_test))
    changes_by_test = defaultdict(list)
    for change in detection.changes:
        changes_by_test[change.test].append(change)

    rows: list[IndexRow] = []
    for test, lineages in sorted(by_test.items()):
        slug = slugs[test]
        path = next((th.path for th in lineages if th.path), "")
        cat = category(path, test)
        statuses = {th.label: _status(th, detection) for th in lineages}
        payload = test_payload(test, lineages, detection, run_index)
        (out / "data" / "tests" / f"{slug}.js").write_text(
            js_assign("DASHBOARD_TEST", payload), encoding="utf-8"
        )
        html = test_page(
            title,
            test,
            doc=docstring(path, test),
            category=cat,
            labels=[th.label for th in lineages],
            statuses=statuses,
            changes=changes_by_test[test],
            history=history,
            data_src=f"data/tests/{slug}.js",
        )
        (out / "tests" / f"{slug}.html").write_text(html, encoding="utf-8")
        for th in lineages:
            metric = primary_metric(th.metrics)
            values = th.values.get(metric, []) if metric else []
            latest = next((v for v in reversed(values) if v is not None), None)
            rows.append(
                IndexRow(
                    test=test,
                    label=th.label,
                    category=cat,
                    status=statuses[th.label],
                    href=f"tests/{slug}.html",
                    sparkline=sparkline(values),
                    metric=metric,
                    latest=latest,
                    last_run=history.runs[th.run_ids[-1]] if th.run_ids else None,
                    note=_note(th, detection, statuses[th.label]),
                )
            )
    order = list(TestStatus)  # what needs attention first
    rows.sort(key=lambda r: (order.index(r.status), r.category, r.test, r.label))
    generated = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    (out / "index.html").write_text(
        index_page(title, rows, generated=generated, recent=detection.recent), encoding="utf-8"
    )
    (out / "runs.html").write_text(
        runs_page(title, history, reports=_performance_reports(history, out)), encoding="utf-8"
    )
    return len(by_test)
