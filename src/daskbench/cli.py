"""The ``daskbench`` command line.

Every user error ends as one line on stderr, ``daskbench: error: ...``, and the exit code
of :class:`~daskbench.errors.ExitCode` that the error carries (2 for bad input, nothing
written); never a traceback. Options shared between commands are declared once in
:mod:`daskbench._options`; whatever is printed goes through :mod:`daskbench._secrets`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from daskbench._options import (
    DB_REQUIRED,
    FORMAT,
    KEYWORD,
    LABEL,
    MARKEXPR,
    OPTIONS,
    SCALE,
    check_selection,
    click_options,
)
from daskbench._secrets import mask_command, mask_text, mask_url
from daskbench.errors import CollectionError, ConfigError, DaskbenchError, ExitCode
from daskbench.models import FAILED_OUTCOMES

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])
SUITE_PACKAGE = "daskbench.suite"


def selection(func: F) -> F:
    """``[PATHS]... [-k EXPR] [-m MARKEXPR]``: which benchmarks (``run``, ``list``)."""
    func = click_options(KEYWORD, MARKEXPR)(func)
    return click.argument("paths", nargs=-1, type=click.Path())(func)


def _pytest_args(paths: Sequence[str], keyword: str | None, markexpr: str | None) -> list[str]:
    check_selection(paths, keyword, markexpr)
    args = ["-p", "no:cacheprovider", "-p", "no:benchmark"]
    if paths:
        args += list(paths)
    else:
        import daskbench.suite

        suite_dir = Path(daskbench.suite.__file__).parent
        # Our own ini, so a pytest config in the current directory (e.g. -W error) does not
        # change how the shipped suite behaves.
        args += ["-c", str(suite_dir / "pytest.ini"), "--rootdir", str(suite_dir)]
        args += ["--pyargs", SUITE_PACKAGE]
    if keyword:
        args += ["-k", keyword]
    if markexpr:
        args += ["-m", markexpr]
    return args


class _Collector:
    """pytest plugin object that keeps the collected items (for ``list``)."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def pytest_collection_finish(self, session: Any) -> None:
        self.items = list(session.items)


def _run_pytest(args: list[str], plugins: list[Any]) -> int:
    import pytest

    return pytest.main(args, plugins=plugins)


# Commands defined in their feature packages, imported only when invoked (fast start-up,
# and each feature owns its CLI next to its code). name -> "module:attribute".
_LAZY_COMMANDS = {
    "ab": "daskbench.ab._cli:ab",
    "compare": "daskbench.ab._cli:compare",
    "noise": "daskbench.ab._noise:noise",
    "import": "daskbench.history._cli:import_",
    "detect": "daskbench.history._cli:detect",
    "ack": "daskbench.history._cli:ack",
    "dashboard": "daskbench.history._cli:dashboard",
}
_LAZY_DB_COMMANDS = {"merge": "daskbench.store._cli:merge", "prune": "daskbench.store._cli:prune"}


class _LazyGroup(click.Group):
    lazy_commands = _LAZY_COMMANDS

    def _lazy(self, name: str) -> click.Command | None:
        target = self.lazy_commands.get(name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # feature not present in this build
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names |= {n for n in self.lazy_commands if self._lazy(n) is not None}
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._lazy(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="daskbench")
def cli() -> None:
    """Statistical performance-regression testing for Dask."""


@cli.command()
@selection
@click_options(*OPTIONS)
def run(paths: tuple[str, ...], keyword: str | None, markexpr: str | None, **values: Any) -> int:
    """Run benchmarks (default: the shipped suite) and record every result."""
    import pytest

    from daskbench.cluster import check_factory
    from daskbench.pytest_plugin import SessionPlugin
    from daskbench.report._terminal import make_reporter, summary_table
    from daskbench.session import Session, SessionOptions
    from daskbench.store import check_store

    # pytest captures file descriptor 1 while benchmarks run; progress goes to a duplicate
    # of it, so that it reaches the terminal or the CI log as it happens.
    console = Console(file=os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1))
    options = SessionOptions.from_values(
        values,
        command=mask_command(["daskbench", *sys.argv[1:]]),
        bench_paths=tuple(p.split("::")[0] for p in paths),
    )
    args = _pytest_args(paths, keyword, markexpr)
    # Everything that can be checked without side effects is checked before anything is
    # created: the database is only written once the cluster is up (exit 2 = nothing written).
    check_store(options.db)
    if options.cluster.kind == "factory":
        check_factory(options.cluster.target)
    stderr = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    with make_reporter(console) as reporter:
        session = Session(options, reporter=reporter, warn=lambda text: print(text, file=stderr))
        try:
            code = _run_pytest(args, [SessionPlugin(session)])
        finally:
            session.close()
    if session.unsaved_path is not None:
        console.print(
            f"[red]{len(session.unsaved)} result(s) could not be stored[/]; they were written "
            f"to {escape(str(session.unsaved_path))} (same fields as `daskbench export`)",
            highlight=False,
        )
    if session.collection_errors:
        for line in session.collection_errors:
            console.print(f"[red]collection error[/] {escape(line)}", highlight=False)
        raise CollectionError(
            f"{len(session.collection_errors)} collection error(s); nothing was run"
        )
    if session.fatal_error is not None:
        if not session.run_started:
            raise session.fatal_error  # nothing was written: its own exit code (2)
        # The run stopped part way: what finished is stored; the run failed.
        if session.results:
            console.print(summary_table(session.results, title="finished before the error"))
        click.echo(f"daskbench: error: {mask_text(str(session.fatal_error))}", err=True)
        return ExitCode.FAILED
    if session.interrupted_by is not None:
        if session.results:
            console.print(summary_table(session.results, title="finished before the interrupt"))
        click.echo(
            f"daskbench: interrupted ({session.interrupted_by}); {len(session.results)} "
            f"finished result(s) are stored in {mask_url(options.db)}",
            err=True,
        )
        return ExitCode.TERMINATED if session.interrupted_by == "SIGTERM" else ExitCode.INTERRUPTED
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise ConfigError(f"pytest could not run the benchmarks (exit code {code})")
    if not session.results:
        console.print("no benchmarks selected")
        return ExitCode.NO_TESTS
    run_id = session.results[0].run_id
    console.print(
        summary_table(session.results, title=f"run {run_id} · label {escape(options.label)}")
    )
    for r in session.results:
        if r.error and r.outcome in FAILED_OUTCOMES:
            last = r.error.strip().splitlines()[0] if r.error.strip() else ""
            console.print(
                f"[red]{r.outcome.value}[/] {escape(r.test)} "
                f"(round {r.repeat + 1}): {escape(last)}",
                highlight=False,
            )
    console.print(f"results stored in {mask_url(options.db)} (run {run_id})", highlight=False)
    return ExitCode.FAILED if session.failed else ExitCode.OK


@cli.command(name="list")
@selection
@click_options(SCALE)
def list_(
    paths: tuple[str, ...], keyword: str | None, markexpr: str | None, scale: str | None
) -> int:
    """List benchmarks: id and the first line of the docstring."""
    import pytest

    from daskbench.pytest_plugin import SessionPlugin, benchmark_name, is_benchmark
    from daskbench.session import Session, SessionOptions

    args = [*_pytest_args(paths, keyword, markexpr), "--collect-only"]
    # No database: listing writes nothing anywhere.
    session = Session(SessionOptions.from_values({"scale": scale}, db="memory://"))
    collector = _Collector()
    code = _run_pytest(args, [SessionPlugin(session), collector])
    # The daskbench plugin records collection errors on the session, as for `run`.
    if session.collection_errors:
        raise CollectionError("; ".join(session.collection_errors))
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise ConfigError(f"pytest could not collect the benchmarks (exit code {code})")
    items = [i for i in collector.items if is_benchmark(i)]
    width = max((len(benchmark_name(i)) for i in items), default=0)
    for item in items:
        doc = (getattr(item, "obj", None).__doc__ or "").strip()
        first = doc.splitlines()[0] if doc else ""
        click.echo(f"{benchmark_name(item):<{width}}  {first}".rstrip())
    if not items:
        click.echo("no benchmarks selected", err=True)
        return ExitCode.NO_TESTS
    return ExitCode.OK


@cli.command()
@click_options(
    DB_REQUIRED,
    FORMAT.but(choices=("json", "csv"), default="json"),
    LABEL.but(default=None, help="only runs with this label"),
    defaults=True,
)
@click.option("--run-id", default=None, help="only this run")
def export(db: str, fmt: str, label: str | None, run_id: str | None) -> int:
    """Export results, one record per benchmark execution, to stdout (reads only)."""
    from daskbench.report import export_records, records_to_csv, records_to_json
    from daskbench.store import open_store

    with open_store(db, mode="read") as store:
        records = export_records(store, label=label, run_id=run_id)
    text = records_to_json(records) if fmt == "json" else records_to_csv(records)
    click.echo(text, nl=fmt == "json")
    return ExitCode.OK


class _LazyDbGroup(_LazyGroup):
    lazy_commands = _LAZY_DB_COMMANDS


@cli.group(cls=_LazyDbGroup)
def db() -> None:
    """Manage the history database."""


@db.command()
@click_options(DB_REQUIRED, defaults=True)
def upgrade(db: str) -> int:
    """Create or migrate the database schema to the newest revision."""
    from daskbench.store import current_revision
    from daskbench.store import upgrade as do_upgrade

    do_upgrade(db)
    click.echo(f"{mask_url(db)}: at revision {current_revision(db)}")
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one-line errors (secrets masked), exit codes from :class:`ExitCode`."""
    code: int
    try:
        returned = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="daskbench",
            standalone_mode=False,
        )
        code = returned if isinstance(returned, int) else ExitCode.OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:  # a bad option or argument
        click.echo(f"daskbench: error: {mask_text(exc.format_message())}", err=True)
        code = ExitCode.USAGE
    except click.exceptions.Abort:
        click.echo("daskbench: aborted", err=True)
        code = ExitCode.INTERRUPTED
    except DaskbenchError as exc:
        click.echo(f"daskbench: error: {mask_text(str(exc))}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        # What was committed stays (results of finished benchmarks or rounds); a write of
        # many rows (an import) is one transaction and so left out whole.
        click.echo("daskbench: interrupted", err=True)
        code = ExitCode.INTERRUPTED
    sys.exit(int(code))


if __name__ == "__main__":
    main()
