"""A/B pages: the experiments ``daskbench ab`` stored, rendered by the A/B feature's own report.

An experiment is the set of runs tagged ``environment.extra["experiment"]`` (see
:mod:`daskbench.ab`); its arms are their labels, the baseline the label of its first run (the
A of the first ABBA round). Each experiment page is :func:`daskbench.report._ab.render_html`
with a link back to the dashboard; ``ab/index.html`` lists them. Without the A/B feature
installed, or without experiments, the list says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from html import escape

from daskbench.errors import DaskbenchError
from daskbench.models import Run
from daskbench.store import Store

__all__ = ["AbPage", "ab_pages", "experiment_of"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class AbPage:
    experiment: str
    slug: str
    started: str
    arms: tuple[str, ...]
    summary: str
    html: str | None  # None: the comparison could not be made (summary says why)


def experiment_of(run: Run) -> str | None:
    """The A/B experiment id a run belongs to, if any."""
    value = run.environment.extra.get("experiment")
    return value if isinstance(value, str) and value else None


def ab_pages(store: Store, runs: list[Run]) -> list[AbPage]:
    """One page per stored experiment, newest first."""
    by_experiment: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        experiment = experiment_of(run)
        if experiment is not None:
            by_experiment[experiment].append(run)
    if not by_experiment:
        return []
    try:
        from daskbench.ab import compare_labels
        from daskbench.report._ab import ReportContext, render_html, summary_line
    except ImportError:  # a build without the A/B feature
        return []
    pages = []
    for experiment, members in by_experiment.items():
        members.sort(key=lambda r: (r.started_at, r.id))
        arms = tuple(dict.fromkeys(r.label for r in members))
        started = members[0].started_at.strftime("%Y-%m-%d %H:%M")
        slug = _UNSAFE.sub("-", experiment).strip("-.") or "experiment"
        if len(arms) < 2:
            pages.append(AbPage(experiment, slug, started, arms, "only one arm stored", None))
            continue
        try:
            cmp = compare_labels(store, arms[0], arms[1:], experiment=experiment)
        except DaskbenchError as exc:
            pages.append(AbPage(experiment, slug, started, arms, f"not compared: {exc}", None))
            continue
        ctx = ReportContext(title=f"A/B experiment {experiment}", experiment=experiment)
        summary = "; ".join(summary_line(cmp, c, ctx).replace("**", "") for c in arms[1:])
        html = render_html(cmp, ctx).replace(
            "<body>",
            '<body><p><a href="index.html">← A/B experiments</a> · '
            '<a href="../index.html">dashboard</a></p>',
            1,
        )
        pages.append(AbPage(experiment, slug, started, arms, summary, html))
    pages.sort(key=lambda p: p.started, reverse=True)
    return pages


def ab_rows(pages: list[AbPage]) -> str:
    """Table rows of the experiment list."""
    rows = []
    for page in pages:
        name = (
            f'<a href="{escape(page.slug)}.html">{escape(page.experiment)}</a>'
            if page.html is not None
            else escape(page.experiment)
        )
        rows.append(
            f"<tr><td>{name}</td><td>{escape(page.started)}</td>"
            f"<td>{escape(', '.join(page.arms[1:]))} vs {escape(page.arms[0])}</td>"
            f"<td>{escape(page.summary)}</td></tr>"
        )
    return "\n".join(rows)
