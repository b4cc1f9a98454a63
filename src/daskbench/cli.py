"""The ``daskbench`` command line.

Every user error ends as one line on stderr, ``daskbench: error: ...``, and a non-zero exit
(2 for bad input, 1 for failed benchmarks or regressions); never a traceback.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from daskbench._options import OPTIONS
from daskbench.errors import CollectionError, ConfigError, DaskbenchError
from daskbench.models import FAILED_OUTCOMES

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])
SUITE_PACKAGE = "daskbench.suite"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_TESTS = 0, 1, 2, 5
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit to print."""
    return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", url)


def _session_options(func: F) -> F:
    """Attach every run option (declared once in daskbench._options) to a click command."""
    for spec in reversed(OPTIONS):
        kwargs: dict[str, Any] = {"default": None, "help": f"{spec.help} [default: {spec.default}]"}
        if spec.choices:
            kwargs["type"] = click.Choice(spec.choices)
        elif spec.type is not str:
            kwargs["type"] = spec.type
        func = click.option(f"--{spec.name}", spec.dest, **kwargs)(func)
    return func


def _selection(func: F) -> F:
    func = click.option(
        "-m", "markexpr", default=None, help="only benchmarks matching this mark expression"
    )(func)
    func = click.option(
        "-k", "keyword", default=None, help="only benchmarks matching this expression"
    )(func)
    return click.argument("paths", nargs=-1, type=click.Path())(func)


def _pytest_args(paths: Sequence[str], keyword: str | None, markexpr: str | None) -> list[str]:
    args = ["-p", "no:cacheprovider", "-p", "no:benchmark"]
    if paths:
        missing = [p for p in paths if not Path(p.split("::")[0]).exists()]
        if missing:
            raise ConfigError(f"no such file or directory: {missing[0]}")
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

    code = pytest.main(args, plugins=plugins)
    return int(code)


# Commands defined in their feature packages, imported only when invoked (fast start-up,
# and each feature owns its CLI next to its code). name -> "module:attribute".
_LAZY_COMMANDS = {
    "ab": "daskbench.ab._cli:ab",
    "compare": "daskbench.ab._cli:compare",
    "import": "daskbench.history._cli:import_",
    "detect": "daskbench.history._cli:detect",
    "ack": "daskbench.history._cli:ack",
    "dashboard": "daskbench.history._cli:dashboard",
}


class _LazyGroup(click.Group):
    def _lazy(self, name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(name)
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
        names |= {n for n in _LAZY_COMMANDS if self._lazy(n) is not None}
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._lazy(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="daskbench")
def cli() -> None:
    """Statistical performance-regression testing for Dask."""


@cli.command()
@_selection
@_session_options
def run(paths: tuple[str, ...], keyword: str | None, markexpr: str | None, **values: Any) -> int:
    """Run benchmarks (default: the shipped suite) and record every result."""
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
        command=shlex.join(["daskbench", *sys.argv[1:]]),
        bench_paths=tuple(p.split("::")[0] for p in paths),
    )
    args = _pytest_args(paths, keyword, markexpr)
    # Everything that can be checked without side effects is checked before anything is
    # created: the database is only written once the cluster is up (exit 2 = nothing written).
    check_store(options.db)
    if options.cluster.kind == "factory":
        check_factory(options.cluster.target)
    with make_reporter(console) as reporter:
        session = Session(options, reporter=reporter)
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
        if session.results:
            console.print(summary_table(session.results, title="finished before the error"))
        raise session.fatal_error
    if session.interrupted_by is not None:
        if session.results:
            console.print(summary_table(session.results, title="finished before the interrupt"))
        click.echo(
            f"daskbench: interrupted ({session.interrupted_by}); {len(session.results)} "
            f"finished result(s) are stored in {redact_url(options.db)}",
            err=True,
        )
        return EXIT_TERMINATED if session.interrupted_by == "SIGTERM" else EXIT_INTERRUPTED
    if code in (3, 4):  # internal error / usage error: pytest printed why
        raise ConfigError(f"pytest could not run the benchmarks (exit code {code})")
    if not session.results:
        console.print("no benchmarks selected")
        return EXIT_NO_TESTS
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
    console.print(f"results stored in {redact_url(options.db)} (run {run_id})", highlight=False)
    return EXIT_FAILED if session.failed else EXIT_OK


@cli.command(name="list")
@_selection
@click.option(
    "--scale", type=click.Choice(["ci", "small", "large"]), default="ci", help="workload size"
)
def list_(paths: tuple[str, ...], keyword: str | None, markexpr: str | None, scale: str) -> int:
    """List benchmarks: id and the first line of the docstring."""
    from daskbench.pytest_plugin import SessionPlugin, benchmark_name, is_benchmark
    from daskbench.session import Session, SessionOptions

    session = Session(SessionOptions(db="memory://", scale=scale))
    collector = _Collector()
    args = [*_pytest_args(paths, keyword, markexpr), "--collect-only"]
    code = _run_pytest(args, [SessionPlugin(session), collector])
    # The daskbench plugin records collection errors on the session, as for `run`.
    if session.collection_errors:
        raise CollectionError("; ".join(session.collection_errors))
    if code in (3, 4):
        raise ConfigError(f"pytest could not collect the benchmarks (exit code {code})")
    items = [i for i in collector.items if is_benchmark(i)]
    width = max((len(benchmark_name(i)) for i in items), default=0)
    for item in items:
        doc = (getattr(item, "obj", None).__doc__ or "").strip()
        first = doc.splitlines()[0] if doc else ""
        click.echo(f"{benchmark_name(item):<{width}}  {first}".rstrip())
    if not items:
        click.echo("no benchmarks selected", err=True)
        return EXIT_NO_TESTS
    return EXIT_OK


@cli.command()
@click.option("--db", required=True, help="history database URL")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option("--label", default=None, help="only runs with this label")
@click.option("--run-id", default=None, help="only this run")
def export(db: str, fmt: str, label: str | None, run_id: str | None) -> int:
    """Export results, one record per benchmark execution, to stdout."""
    from daskbench.report import export_records, records_to_csv, records_to_json
    from daskbench.store import open_store

    with open_store(db) as store:
        records = export_records(store, label=label, run_id=run_id)
    text = records_to_json(records) if fmt == "json" else records_to_csv(records)
    click.echo(text, nl=fmt == "json")
    return EXIT_OK


@cli.group()
def db() -> None:
    """Manage the history database."""


@db.command()
@click.option("--db", "url", required=True, help="history database URL")
def upgrade(url: str) -> int:
    """Create or migrate the database schema to the newest revision."""
    from daskbench.store import current_revision
    from daskbench.store import upgrade as do_upgrade

    do_upgrade(url)
    click.echo(f"{url}: at revision {current_revision(url)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one-line errors, meaningful exit codes."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="daskbench",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"daskbench: error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("daskbench: aborted", err=True)
        code = 130
    except DaskbenchError as exc:
        click.echo(f"daskbench: error: {exc}", err=True)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        click.echo("daskbench: interrupted (finished results are stored)", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
