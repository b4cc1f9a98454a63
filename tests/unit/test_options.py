"""Options declared once (daskbench._options) and exit codes in one table (errors.ExitCode)."""

from __future__ import annotations

import argparse
import ast
import signal
from pathlib import Path

import click
import pytest

import daskbench
from daskbench._options import (
    ALPHA,
    DB,
    DB_REQUIRED,
    EXECUTION,
    MIN_TIME,
    OPTIONS,
    SIZING,
    CompareOptions,
    add_options,
    check_selection,
)
from daskbench.cli import cli
from daskbench.errors import (
    ClusterError,
    ConfigError,
    DaskbenchError,
    ExitCode,
    Interrupted,
    NothingSelected,
    StoreError,
)

SRC = Path(daskbench.__file__).parent


def _command(*path: str) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, name
        command = found
    return command


def _options(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name}


def test_run_options_are_the_same_for_pytest_and_the_cli() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser.add_argument, prefix="daskbench-")
    pytest_flags = {a.option_strings[0] for a in parser._actions if a.option_strings[1:2] == []}
    pytest_flags.discard("-h")
    cli_flags = {o.opts[0] for o in _options(_command("run")).values()}
    assert {f.replace("--daskbench-", "--") for f in pytest_flags} | {"-k", "-m", "--help"} == (
        cli_flags | {"--help"}
    )
    assert [o.name for o in OPTIONS][:1] == ["db"]


@pytest.mark.parametrize(
    "path",
    [
        ("export",),
        ("detect",),
        ("compare",),
        ("dashboard",),
        ("import",),
        ("ack",),
        ("db", "upgrade"),
    ],
)
def test_every_command_takes_the_database_from_one_declaration(path: tuple[str, ...]) -> None:
    db = _options(_command(*path))["db"]
    assert db.opts == ["--db"]
    assert db.envvar == DB.env == "DASKBENCH_DB"
    assert db.required is DB_REQUIRED.required is True
    assert db.help is not None
    assert db.help.startswith(DB.help)


def test_run_and_ab_share_sizing_and_ab_and_compare_share_comparison() -> None:
    run, ab, compare = (_options(_command(n)) for n in ("run", "ab", "compare"))
    for spec in SIZING:
        assert run[spec.dest].help == ab[spec.dest].help
        assert run[spec.dest].type == ab[spec.dest].type
    for name in ("metrics", "alpha", "threshold", "fail_on_regression"):
        assert ab[name].help == compare[name].help
        assert ab[name].default == compare[name].default
    assert ab["alpha"].default == ALPHA.default
    assert run["db"].required is False  # SessionOptions applies the default
    assert run["db"].envvar == "DASKBENCH_DB"
    assert ab["db"].envvar is None  # ab's default is OUT/ab.db, and it sets DASKBENCH_DB itself
    # Every execution option is run's, except that ab measures each benchmark for >= 1 s.
    for spec in EXECUTION:
        if spec is not MIN_TIME:
            assert run[spec.dest].help == ab[spec.dest].help
    assert run["min_time"].help.endswith("[default: 0.0]")
    assert ab["min_time"].help.endswith("[default: 1.0]")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "--alpha must be in"),
        ({"alpha": float("nan")}, "--alpha must be in"),
        ({"threshold": -0.1}, "--threshold must be >= 0"),
        ({"metrics": ("wall_time", " ")}, "--metric must not be empty"),
    ],
)
def test_compare_options_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CompareOptions(**kwargs)  # type: ignore[arg-type]


def test_compare_options_default_metrics() -> None:
    assert CompareOptions(()).metrics == ("wall_time", "peak_memory", "avg_memory")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"paths": ["nope.py"]}, "no such file or directory: nope.py"),
        ({"keyword": "a and (b"}, "-k 'a and \\(b'"),
        ({"markexpr": "not"}, "-m 'not'"),
    ],
)
def test_selection_is_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_selection(**kwargs)  # type: ignore[arg-type]
    check_selection(keyword="sum and not slow", markexpr="tpch or spill")


# -- exit codes ------------------------------------------------------------------------------------
def test_the_exit_code_table() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "USAGE": 2,
        "NO_TESTS": 5,
        "INTERRUPTED": 130,
        "TERMINATED": 143,
    }
    assert ExitCode.of_status(-signal.SIGTERM) is ExitCode.TERMINATED
    assert ExitCode.of_status(-signal.SIGINT) is ExitCode.INTERRUPTED
    assert ExitCode.of_status(-signal.SIGKILL) is None
    assert ExitCode.of_status(3) is None


def test_errors_carry_their_exit_code() -> None:
    assert DaskbenchError("x").exit_code is ExitCode.USAGE
    assert ConfigError("x").exit_code is ExitCode.USAGE
    assert ClusterError("x").exit_code is ExitCode.USAGE
    assert StoreError("x").exit_code is ExitCode.USAGE
    assert NothingSelected("x").exit_code is ExitCode.NO_TESTS
    assert Interrupted.from_signal(signal.SIGTERM).exit_code is ExitCode.TERMINATED
    assert Interrupted.from_signal(signal.SIGINT).exit_code is ExitCode.INTERRUPTED
    assert str(Interrupted.from_signal(signal.SIGTERM)) == "terminated (SIGTERM)"


def test_main_exits_with_the_code_an_error_carries(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from daskbench import cli as cli_module

    def fail(*args: object, **kwargs: object) -> None:
        raise Interrupted("stopped postgresql://u:hunter22@h/db", ExitCode.TERMINATED)

    monkeypatch.setattr(cli_module.cli, "main", fail)
    with pytest.raises(SystemExit) as info:
        cli_module.main([])
    assert info.value.code == ExitCode.TERMINATED
    assert capsys.readouterr().err == "daskbench: error: stopped postgresql://u:***@h/db\n"


# The modules that decide a daskbench exit code (of itself or of its children).
_EXIT_MODULES = ("cli.py", "ab/_cli.py", "ab/_runner.py", "history/_cli.py")


def _is_int(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _about_codes(node: ast.expr) -> bool:
    text = ast.unparse(node).lower()
    return any(word in text for word in ("code", "returncode", "status"))


@pytest.mark.parametrize("module", _EXIT_MODULES)
def test_no_numeric_exit_codes_outside_the_table(module: str) -> None:
    """``return 2``, ``code == 130``, ``sys.exit(1)``: ExitCode members instead."""
    tree = ast.parse((SRC / module).read_text())
    found = []
    for node in ast.walk(tree):
        suspects: list[ast.expr] = []
        if isinstance(node, ast.Return) and node.value is not None:
            suspects = [node.value]
        elif isinstance(node, ast.Compare) and any(
            _about_codes(side) for side in (node.left, *node.comparators)
        ):
            suspects = [node.left, *node.comparators]
            suspects += [e for c in node.comparators if isinstance(c, ast.Tuple) for e in c.elts]
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("exit", "Exit")):
            suspects = [*node.args, *(k.value for k in node.keywords)]
        found += [f"{module}:{node.lineno}: {ast.unparse(node)}" for e in suspects if _is_int(e)]
    assert found == []
