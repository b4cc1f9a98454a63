"""``daskbench import | detect | ack | dashboard``, registered lazily by :mod:`daskbench.cli`.

``detect`` and ``dashboard`` only read the database (a missing or empty one is an error);
``import`` and ``ack`` write, each in one transaction. Exit codes are
:class:`~daskbench.errors.ExitCode`'s: ``detect --fail-on-regression`` exits 1 on new,
unacknowledged regressions; bad input exits 2 (one line on stderr, printed by
``daskbench.cli.main``).
"""

from __future__ import annotations

from pathlib import Path

import click

from daskbench._options import (
    ALPHA,
    DB_REQUIRED,
    FAIL_ON_REGRESSION,
    FORMAT,
    LABEL,
    METRICS,
    OptionSpec,
    click_options,
)
from daskbench.errors import ExitCode
from daskbench.history._detect import (
    DEFAULT_ALPHA,
    DEFAULT_FALSE_ALARM_RATE,
    DEFAULT_MIN_CHANGE,
    DEFAULT_MIN_SIZE,
    DEFAULT_RECENT,
)

__all__ = ["ack", "dashboard", "detect", "import_"]

# Shared by detect and dashboard (which shows what detect reports).
RECENT = OptionSpec(
    "recent",
    int,
    DEFAULT_RECENT,
    (
        "a regression fails CI for this many runs after it is declared, then counts as known "
        f"(must exceed {DEFAULT_MIN_SIZE})"
    ),
)
MIN_CHANGE = OptionSpec(
    "min-change", float, DEFAULT_MIN_CHANGE, "ignore shifts smaller than this fraction (0.05 = 5%)"
)
FALSE_ALARM_RATE = OptionSpec(
    "false-alarm-rate",
    float,
    DEFAULT_FALSE_ALARM_RATE,
    (
        "chance that a history without a change fails CI on one run: H histories run N "
        "times a year fail on about H * N * rate runs a year"
    ),
)
ONLY_LABEL = LABEL.but(default=None, help="only this label (lineage) [default: every label]")


@click.command(name="import")
@click_options(
    DB_REQUIRED,
    FORMAT.but(choices=("csv", "asv", "pytest-benchmark"), default="csv", help="input format"),
    defaults=True,
)
@click.option(
    "--skip-existing", is_flag=True, help="leave out runs already in the history (no error)"
)
@click.option(
    "--label",
    default=None,
    help="label of the imported runs (asv, pytest-benchmark) [default: machine and environment]",
)
@click.argument("file", type=click.Path(path_type=Path))
def import_(db: str, fmt: str, skip_existing: bool, label: str | None, file: Path) -> int:
    """Import a history from FILE: CSV (test,metric,value,timestamp[,label,revision,run_id]),
    an asv results/ directory, or pytest-benchmark JSON (a file or a directory of them).

    CSV rows sharing run_id (or else label and timestamp) form one run. asv and
    pytest-benchmark imports are idempotent: runs already imported are skipped. The whole
    input is validated first and written in one transaction: all of it or nothing.
    """
    from daskbench.errors import ConfigError
    from daskbench.history._csv import import_csv, parse_csv
    from daskbench.store import open_store

    if fmt != "csv":
        from daskbench.history._imported import import_foreign, parse_foreign

        batch = parse_foreign(fmt, file, label=label)  # bad input: fail before opening --db
        with open_store(db) as store:
            click.echo(import_foreign(store, batch, file))
        return ExitCode.OK
    if label is not None:
        raise ConfigError("--label applies to asv and pytest-benchmark; CSV rows carry a label")
    parsed = parse_csv(file)  # a bad file fails before the database is opened (or created)
    with open_store(db) as store:
        summary = import_csv(store, file, skip_existing=skip_existing, parsed=parsed)
    skipped = (
        f", skipped {len(summary.skipped_runs)} existing run(s)" if summary.skipped_runs else ""
    )
    click.echo(
        f"imported {len(summary.runs)} run(s), {len(summary.results)} result(s), "
        f"{summary.measurements} measurement(s) from {file}{skipped}"
    )
    return ExitCode.OK


@click.command()
@click_options(
    DB_REQUIRED,
    ONLY_LABEL,
    METRICS.but(default=(), help="only this metric (repeatable) [default: every metric]"),
    RECENT,
    MIN_CHANGE,
    FALSE_ALARM_RATE,
    ALPHA.but(default=DEFAULT_ALPHA, help="false-alarm rate per history without a change"),
    FORMAT.but(choices=("text", "markdown", "json"), default="text"),
    defaults=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the report to this file (e.g. $GITHUB_STEP_SUMMARY, appended)",
)
@click_options(FAIL_ON_REGRESSION.but(help="exit 1 when there are new, unacknowledged regressions"))
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

    with open_store(db, mode="read") as store:
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
    return ExitCode.FAILED if fail_on_regression and detection.failing else ExitCode.OK


@click.command()
@click_options(DB_REQUIRED, defaults=True)
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
    return ExitCode.OK


@click.command()
@click_options(DB_REQUIRED, defaults=True)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="output directory (created; existing dashboard files are replaced)",
)
@click_options(ONLY_LABEL, defaults=True)
@click.option("--title", default="daskbench", show_default=True, help="site title")
@click_options(RECENT, MIN_CHANGE, defaults=True)
def dashboard(
    db: str, out: Path, label: str | None, title: str, recent: int, min_change: float
) -> int:
    """Write a static dashboard (works offline and from file://) to --out (reads the db only)."""
    from daskbench.report.dashboard import build_dashboard
    from daskbench.store import open_store

    with open_store(db, mode="read") as store:
        built = build_dashboard(
            store, out, label=label, title=title, recent=recent, min_change=min_change
        )
    click.echo(
        f"dashboard: {built.tests} test page(s), {built.files} files, "
        f"{built.bytes / 1e6:.1f} MB in {built.seconds:.1f} s -> "
        f"{out / 'index.html'}"
    )
    return ExitCode.OK
