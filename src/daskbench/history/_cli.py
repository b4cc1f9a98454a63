"""``daskbench import | detect | ack | dashboard``, registered lazily by :mod:`daskbench.cli`.

Exit codes: 0 fine, 1 new unacknowledged regressions (``detect --fail-on-regression``),
2 bad input (one line on stderr, printed by ``daskbench.cli.main``).
"""

from __future__ import annotations

from pathlib import Path

import click

from daskbench.history._detect import (
    DEFAULT_ALPHA,
    DEFAULT_FALSE_ALARM_RATE,
    DEFAULT_MIN_CHANGE,
    DEFAULT_MIN_SIZE,
    DEFAULT_RECENT,
)

__all__ = ["ack", "dashboard", "detect", "import_"]

EXIT_OK, EXIT_REGRESSED = 0, 1

_db = click.option("--db", required=True, help="history database URL (e.g. sqlite:///history.db)")


@click.command(name="import")
@_db
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv"]),
    default="csv",
    show_default=True,
    help="input format",
)
@click.option(
    "--skip-existing", is_flag=True, help="leave out runs already in the history (no error)"
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_(db: str, fmt: str, skip_existing: bool, file: Path) -> int:
    """Import a history from FILE (CSV: test,metric,value,timestamp[,label,revision,run_id]).

    Rows sharing run_id (or else label and timestamp) form one run. Nothing is written unless
    the whole file is valid.
    """
    from daskbench.history._csv import import_csv
    from daskbench.store import open_store

    with open_store(db) as store:
        summary = import_csv(store, file, skip_existing=skip_existing)
    skipped = (
        f", skipped {len(summary.skipped_runs)} existing run(s)" if summary.skipped_runs else ""
    )
    click.echo(
        f"imported {len(summary.runs)} run(s), {len(summary.results)} result(s), "
        f"{summary.measurements} measurement(s) from {file}{skipped}"
    )
    return EXIT_OK


@click.command()
@_db
@click.option("--label", default=None, help="only this label (lineage); default: every label")
@click.option("--metric", "metrics", multiple=True, help="only this metric (repeatable)")
@click.option(
    "--recent",
    type=int,
    default=DEFAULT_RECENT,
    show_default=True,
    help=(
        "a regression fails CI for this many runs after it is declared, then counts as known "
        f"(must exceed {DEFAULT_MIN_SIZE})"
    ),
)
@click.option(
    "--min-change",
    type=float,
    default=DEFAULT_MIN_CHANGE,
    show_default=True,
    help="ignore shifts smaller than this fraction (0.05 = 5%)",
)
@click.option(
    "--alpha",
    type=float,
    default=DEFAULT_ALPHA,
    show_default=True,
    help="false-alarm rate per history without a change (offline change points)",
)
@click.option(
    "--false-alarm-rate",
    type=float,
    default=DEFAULT_FALSE_ALARM_RATE,
    show_default=True,
    help=(
        "chance that a history without a change fails CI on one run: H histories run N "
        "times a year fail on about H * N * rate runs a year"
    ),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the report to this file (e.g. $GITHUB_STEP_SUMMARY, appended)",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="exit 1 when there are new, unacknowledged regressions",
)
def detect(
    db: str,
    label: str | None,
    metrics: tuple[str, ...],
    recent: int,
    min_change: float,
    alpha: float,
    false_alarm_rate: float,
    fmt: str,
    output: Path | None,
    fail_on_regression: bool,
) -> int:
    """Find the changes of every test x metric history and report new regressions."""
    from daskbench.errors import ConfigError
    from daskbench.history import detect as run_detect
    from daskbench.history import load_history, to_json, to_markdown, to_text
    from daskbench.store import open_store

    with open_store(db) as store:
        if label is not None and label not in store.labels():
            known = ", ".join(store.labels()) or "none"
            raise ConfigError(f"no runs with label {label!r} (labels: {known})")
        history = load_history(store, label=label)
        acks = store.acks()
    detection = run_detect(
        history,
        acks,
        metrics=metrics,
        recent=recent,
        min_change=min_change,
        alpha=alpha,
        false_alarm_rate=false_alarm_rate,
    )
    render = {"text": to_text, "markdown": to_markdown, "json": to_json}[fmt]
    report = render(detection, history)
    click.echo(report)
    if output is not None:
        try:
            with output.open("a", encoding="utf-8") as handle:
                handle.write(report if report.endswith("\n") else report + "\n")
        except OSError as exc:
            raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from None
    return EXIT_REGRESSED if fail_on_regression and detection.failing else EXIT_OK


@click.command()
@_db
@click.argument("test")
@click.option("--metric", required=True, help="the metric whose change is expected")
@click.option("--run", "run_id", required=True, help="the first bad run (as detect prints it)")
@click.option("--reason", required=True, help="why the change is expected")
@click.option("--author", default=None, help="who acknowledges [default: $GITHUB_ACTOR or login]")
def ack(db: str, test: str, metric: str, run_id: str, reason: str, author: str | None) -> int:
    """Acknowledge the change of TEST's metric at a run: it no longer fails CI."""
    from daskbench.history import acknowledge
    from daskbench.store import open_store

    with open_store(db) as store:
        done = acknowledge(store, test, metric, run_id, reason, author=author)
    click.echo(f"acknowledged {test} {metric} at run {run_id}: {done.reason}")
    return EXIT_OK


@click.command()
@_db
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="output directory (created; existing dashboard files are replaced)",
)
@click.option("--label", default=None, help="only this label; default: every label")
@click.option("--title", default="daskbench", show_default=True, help="site title")
@click.option("--recent", type=int, default=DEFAULT_RECENT, show_default=True)
@click.option("--min-change", type=float, default=DEFAULT_MIN_CHANGE, show_default=True)
def dashboard(
    db: str, out: Path, label: str | None, title: str, recent: int, min_change: float
) -> int:
    """Write a static dashboard (works offline and from file://) to --out."""
    from daskbench.report.dashboard import build_dashboard
    from daskbench.store import open_store

    with open_store(db) as store:
        built = build_dashboard(
            store, out, label=label, title=title, recent=recent, min_change=min_change
        )
    click.echo(
        f"dashboard: {built.tests} test page(s), {built.files} files, "
        f"{built.bytes / 1e6:.1f} MB in {built.seconds:.1f} s -> "
        f"{out / 'index.html'}"
    )
    return EXIT_OK
