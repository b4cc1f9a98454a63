"""HTML of the dashboard pages: plain strings, every value escaped where it is inserted.

Pages are complete without JavaScript except for the charts (tables, links, docstrings and
change lists are rendered here); ``assets/dashboard.js`` adds filters, charts and hovers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from daskbench._secrets import mask_diff
from daskbench.history import Change, History
from daskbench.history._detect import ChangeStatus, TestStatus
from daskbench.metrics import format_value, get_metric
from daskbench.models import Run

__all__ = ["IndexRow", "ab_index_page", "index_page", "runs_page", "test_page"]

STATUSES = tuple(TestStatus)
# A change's state in a test page's table (an acknowledged one also shows the reason).
_STATE = {
    ChangeStatus.NEW_REGRESSION: "NEW regression",
    ChangeStatus.ACKNOWLEDGED: "acknowledged",
    ChangeStatus.REVERTED: "reverted",
    ChangeStatus.OLD_REGRESSION: "regression",
    ChangeStatus.NEW_IMPROVEMENT: "new improvement",
    ChangeStatus.OLD_IMPROVEMENT: "improvement",
}


@dataclass(frozen=True)
class IndexRow:
    test: str
    label: str
    category: str
    status: TestStatus
    href: str
    sparkline: str  # SVG markup (trusted: built by _data.sparkline)
    metric: str | None
    latest: float | None
    last_run: Run | None
    note: str  # e.g. "+15.2% wall_time at run X"


def _page(
    title: str, site: str, body: str, *, page: str, depth: int, scripts: Sequence[str]
) -> str:
    up = "../" * depth
    script_tags = "".join(f'<script src="{up}{escape(s)}"></script>' for s in scripts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(site)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{up}assets/uPlot.min.css">
<link rel="stylesheet" href="{up}assets/dashboard.css">
</head>
<body data-page="{page}">
<header><a class="brand" href="{up}index.html">{escape(site)}</a>
<nav><a href="{up}index.html">Tests</a><a href="{up}runs.html">Runs</a>
<a href="{up}ab/index.html">A/B</a></nav></header>
<main>
{body}
</main>
{script_tags}<script src="{up}assets/dashboard.js"></script>
</body>
</html>
"""


def _select(key: str, title: str, values: Sequence[str]) -> str:
    """A filter drop-down; dashboard.js matches its value against ``data-<key>`` of rows."""
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return (
        f'<label>{title} <select id="f-{key}"><option value="">all</option>'
        f"{options}</select></label>"
    )


def _when(run: Run | None) -> str:
    return run.started_at.strftime("%Y-%m-%d %H:%M") if run is not None else "-"


def index_page(site: str, rows: Sequence[IndexRow], *, generated: str, recent: int) -> str:
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    summary = " ".join(
        f'<span class="badge {s}">{counts[s]} {s}</span>' for s in STATUSES if counts[s]
    )
    cats = sorted({r.category for r in rows})
    labels = sorted({r.label for r in rows})
    body_rows = []
    for r in rows:
        latest = format_value(r.latest, get_metric(r.metric).unit) if r.metric else "-"
        body_rows.append(
            f'<tr data-status="{r.status}" data-category="{escape(r.category)}" '
            f'data-label="{escape(r.label)}" data-test="{escape(r.test.lower())}">'
            f'<td><span class="badge {r.status}">{r.status}</span></td>'
            f'<td><a href="{escape(r.href)}">{escape(r.test)}</a>'
            f'<div class="note">{escape(r.note)}</div></td>'
            f"<td>{escape(r.category)}</td><td>{escape(r.label)}</td>"
            f'<td class="sparkcell" title="{escape(r.metric or "")}">{r.sparkline}</td>'
            f'<td class="num">{escape(latest)}<div class="note">{escape(r.metric or "")}</div></td>'
            f"<td>{escape(_when(r.last_run))}</td></tr>"
        )
    body = f"""<h1>Benchmarks</h1>
<p class="summary">{len(rows)} test histories · {summary}
<span class="muted">· new = within the last {recent} runs · generated {escape(generated)}</span></p>
<div class="filters">
{_select("category", "Category", cats)}
{_select("label", "Label", labels)}
{_select("status", "Status", STATUSES)}
<label>Search <input id="f-search" type="search" placeholder="test name"></label>
<span id="f-count" class="muted"></span>
</div>
<table id="tests" class="grid">
<thead><tr><th>Status</th><th>Test</th><th>Category</th><th>Label</th><th>History</th>
<th>Latest</th><th>Last run</th></tr></thead>
<tbody>
{chr(10).join(body_rows)}
</tbody>
</table>"""
    return _page("Benchmarks", site, body, page="index", depth=0, scripts=[])


def _breakdown_cell(change: Change) -> str:
    """Where the time of a wall-time change went: the components that moved most."""
    items = []
    for shift in change.breakdown:
        fmt = get_metric(shift.metric).format
        sign = "+" if shift.delta > 0 else ""
        items.append(
            f"<b>{escape(shift.metric)}</b> {escape(sign + fmt(shift.delta))} "
            f"<span class='muted'>({escape(fmt(shift.before))} → {escape(fmt(shift.after))})</span>"
        )
    return "<br>".join(items) or "–"


def _change_rows(changes: Sequence[Change], history: History) -> str:
    rows = []
    for c in changes:
        unit = get_metric(c.metric).unit
        state = _STATE[c.status]
        if c.ack is not None:
            state += f": {c.ack.reason}"
        diff = "; ".join(f"{k}: {a} → {b}" for k, (a, b) in list(mask_diff(c.diff).items())[:6])
        rows.append(
            f'<tr class="{"failing" if c.failing else ""}"><td>{escape(c.label)}</td>'
            f"<td>{escape(c.metric)}</td><td class='num'>{c.percent_text}</td>"
            f"<td>{escape(format_value(c.before, unit))} → "
            f"{escape(format_value(c.after, unit))}</td>"
            f'<td><a href="../runs.html#run-{escape(c.last_good_run)}">'
            f"{escape(c.last_good_run)}</a></td>"
            f'<td><a href="../runs.html#run-{escape(c.first_bad_run)}">'
            f"{escape(c.first_bad_run)}</a> <span class='muted'>"
            f"{escape(_when(history.runs[c.first_bad_run]))}</span></td>"
            f"<td>{escape(state)}</td><td class='diff'>{escape(diff) or '–'}</td>"
            f"<td class='diff'>{_breakdown_cell(c)}</td></tr>"
        )
    return "\n".join(rows)


def test_page(
    site: str,
    test: str,
    *,
    doc: str,
    category: str,
    labels: Sequence[str],
    statuses: dict[str, TestStatus],
    changes: Sequence[Change],
    history: History,
    data_src: str,
) -> str:
    badges = " ".join(
        f'<span class="badge {statuses[lb]}">{escape(lb)}: {statuses[lb]}</span>' for lb in labels
    )
    tabs = "".join(
        f'<button type="button" class="tab" data-label="{escape(lb)}">{escape(lb)}</button>'
        for lb in labels
    )
    doc_html = (
        f'<pre class="doc">{escape(doc)}</pre>'
        if doc
        else '<p class="muted">No docstring found for this test.</p>'
    )
    change_table = (
        f"""<table class="grid"><thead><tr><th>Label</th><th>Metric</th><th>Change</th>
<th>Before → after</th><th>Last good run</th><th>First bad run</th><th>State</th>
<th>What changed</th><th>Where the time went</th></tr></thead><tbody>
{_change_rows(changes, history)}
</tbody></table>"""
        if changes
        else '<p class="muted">No change points.</p>'
    )
    body = f"""<p><a href="../index.html">← all tests</a></p>
<h1>{escape(test)}</h1>
<p>{badges} <span class="muted">category {escape(category)}</span></p>
{doc_html}
<div class="tabs" id="label-tabs">{tabs}</div>
<p class="legend"><span class="key line"></span>median per run
<span class="key regime"></span>regime median
<span class="key cp-bad"></span>new regression
<span class="key cp-old"></span>older regression
<span class="key cp-good"></span>improvement
<span class="key cp-ack"></span>acknowledged
<span class="key failed">✕</span>failed run</p>
<div id="charts" class="charts"><noscript>Charts need JavaScript.</noscript></div>
<h2>Change points</h2>
{change_table}"""
    return _page(
        test,
        site,
        body,
        page="test",
        depth=1,
        scripts=["assets/uPlot.iife.min.js", "data/runs.js", data_src],
    )


# Worker-side versions the runs page shows first (all differences show under "Changed").
_CLUSTER_PACKAGES = ("python", "dask", "distributed", "numpy", "pandas", "pyarrow")


def _cluster_cell(cluster: dict[str, object]) -> str:
    """Shape of the cluster and the workers' versions; mismatch warnings in red."""
    if not cluster:
        return "-"
    shape = []
    if cluster.get("workers") is not None:
        shape.append(f"{cluster['workers']} workers")
    if cluster.get("threads") is not None:
        shape.append(f"{cluster['threads']} threads")
    memory = cluster.get("memory_limit")
    if isinstance(memory, int | float) and memory:
        shape.append(format_value(float(memory), "B"))
    hosts = cluster.get("hosts")
    if isinstance(hosts, int) and hosts > 1:
        shape.append(f"{hosts} hosts")
    lines = [", ".join(shape)] if shape else []
    versions = [
        f"{name} {cluster[key]}"
        for name in _CLUSTER_PACKAGES
        if (key := "workers.python" if name == "python" else f"workers.packages.{name}") in cluster
    ]
    if versions:
        lines.append("workers: " + ", ".join(versions))
    if cluster.get("workers.cpu_model"):
        lines.append(f"worker CPU: {cluster['workers.cpu_model']}")
    html = "<br>".join(escape(line) for line in lines) or "-"
    mismatches = cluster.get("version_mismatches") or []
    if isinstance(mismatches, list) and mismatches:
        html += "".join(
            f'<div class="bad">version mismatch: {escape(str(m))}</div>' for m in mismatches
        )
    return html


def _reports_cell(links: Sequence[tuple[str, str]]) -> str:
    """Links to the run's Dask performance reports (``daskbench run --performance-report``)."""
    if not links:
        return ""
    items = "".join(f'<li><a href="{escape(href)}">{escape(test)}</a></li>' for test, href in links)
    return (
        f'<details class="reports"><summary>{len(links)} performance report'
        f"{'s' * (len(links) != 1)}</summary><ul>{items}</ul></details>"
    )


def _run_row(run: Run, previous: Run | None, reports: Sequence[tuple[str, str]] = ()) -> str:
    env = run.environment
    packages = ", ".join(f"{k} {v}" for k, v in sorted(env.packages.items()))
    if previous is None:
        changed = "first run of this label"
    else:
        # Masked here too: a database written by an older daskbench may hold secrets.
        diff = mask_diff(previous.environment.diff(env))
        changed = "; ".join(f"{k}: {a} → {b}" for k, (a, b) in diff.items()) or "–"
    machine = " ".join(
        p for p in (env.platform, env.cpu_model, f"{env.cpu_count} CPUs" * bool(env.cpu_count)) if p
    )
    return (
        f'<tr id="run-{escape(run.id)}" data-label="{escape(run.label)}">'
        f"<td>{escape(run.id)}{_reports_cell(reports)}</td>"
        f"<td>{escape(_when(run))}</td>"
        f"<td><code>{escape((env.git_commit or '-')[:12])}</code></td>"
        f"<td>{escape(env.python_version or '-')}</td>"
        f"<td class='diff'>{escape(packages) or '-'}</td>"
        f"<td class='diff'>{escape(machine) or '-'}</td>"
        f"<td class='diff'>{_cluster_cell(env.cluster)}</td>"
        f"<td class='diff'>{escape(changed)}</td></tr>"
    )


def runs_page(
    site: str,
    history: History,
    *,
    reports: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """Runs grouped by label (labels by name, runs newest first), each with its fingerprint,
    the cluster's shape and worker versions, what changed from the previous run, and links to
    its Dask performance reports (``reports``: run id -> (test, href))."""
    reports = reports or {}
    sections = []
    links = []
    total = 0
    for label in sorted(history.runs_by_label):
        run_ids = history.runs_by_label[label]
        rows = []
        previous: Run | None = None
        for run_id in run_ids:  # oldest first: the diff is against the previous run
            run = history.runs[run_id]
            rows.append(_run_row(run, previous, reports.get(run_id, ())))
            previous = run
        total += len(rows)
        latest = history.runs[run_ids[-1]] if run_ids else None
        name = escape(label)
        links.append(f'<a href="#label-{name}">{name}</a> ({len(rows)})')
        sections.append(
            f"""<section class="label-group" id="label-{name}" data-label="{name}">
<h2>{name} <span class="muted">· {len(rows)} runs · latest {escape(_when(latest))}</span></h2>
<table class="grid runs">
<thead><tr><th>Run</th><th>Started</th><th>Commit</th><th>Python</th>
<th>Packages</th><th>Machine</th><th>Cluster</th><th>Changed</th></tr></thead>
<tbody>
{chr(10).join(reversed(rows))}
</tbody>
</table>
</section>"""
        )
    body = f"""<h1>Runs</h1>
<p class="summary">{total} runs in {len(sections)} labels · newest first within a label ·
"changed" is the fingerprint difference from the previous run of the same label, the
workers' side included</p>
<p class="filters">Labels: {" · ".join(links) or "none"}</p>
{chr(10).join(sections)}"""
    return _page("Runs", site, body, page="runs", depth=0, scripts=[])


def ab_index_page(site: str, rows: str, count: int) -> str:
    """The list of stored A/B experiments (``rows``: trusted markup from ``_ab.ab_rows``)."""
    if count:
        body = f"""<h1>A/B experiments</h1>
<p class="summary">{count} experiment(s) stored by <code>daskbench ab</code>, newest first</p>
<table class="grid"><thead><tr><th>Experiment</th><th>Started</th><th>Arms</th>
<th>Summary</th></tr></thead><tbody>
{rows}
</tbody></table>"""
    else:
        body = """<h1>A/B experiments</h1>
<p class="muted">No A/B experiments in this history (<code>daskbench ab</code> stores them).</p>"""
    return _page("A/B experiments", site, body, page="ab", depth=1, scripts=[])
