"""pytest plugin: options, fixtures and hooks mapped onto a :class:`~daskbench.session.Session`.

Registered through the ``pytest11`` entry point, so any pytest run can use it; nothing
happens (no cluster, no database) until a test asks for the ``benchmark`` or ``client``
fixture. A benchmark is a test that uses ``benchmark``::

    def test_groupby(client, benchmark):
        df = make_data(client)            # not measured
        with benchmark():
            result = df.groupby("k").x.sum().compute()
        assert len(result) == 1000
"""

from __future__ import annotations

import inspect
import io
import re
import signal
import sys
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from daskbench._options import OPTIONS, add_options
from daskbench._secrets import mask_command
from daskbench.errors import BenchmarkError, ConfigError, DaskbenchError, DegradedClusterError
from daskbench.models import Measurement, Outcome, Result, utcnow
from daskbench.session import ExecutionPlan, Session, SessionOptions, order_round

if TYPE_CHECKING:
    from daskbench.cluster import ClusterHandle
    from daskbench.measure import Benchmark

__all__ = ["BenchmarkTimeout", "SessionPlugin", "Terminated"]

MARKERS = {
    "dataframe": "dask.dataframe workloads",
    "array": "dask.array workloads",
    "xarray": "xarray workloads",
    "tpch": "TPC-H-style queries",
    "futures": "futures and scheduler overhead",
    "spill": "workloads larger than cluster memory",
    "stealing": "work stealing and load balancing",
    "io": "reading and writing files",
    "min_executions(n)": "measure the benchmark at least n times per round, whatever "
    "--min-time asks (for a benchmark whose executions vary among themselves)",
}
_REPEAT_FIXTURE = "_daskbench_repeat"
NOT_MEASURED = "the benchmark never completed a `with benchmark():` block"
_REPEAT_ID = re.compile(r"(\[|-)rep\d+\]$")

_session_key = pytest.StashKey[Session]()
_owns_session_key = pytest.StashKey[bool]()
_sigterm_key = pytest.StashKey[Any]()
_benchmark_key = pytest.StashKey["Benchmark"]()
_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()
_started_key = pytest.StashKey[datetime]()
_executions_key = pytest.StashKey[list["_Execution"]]()
_current_key = pytest.StashKey["pytest.Item | None"]()  # the benchmark running, until recorded


class BenchmarkTimeout(Exception):
    """Raised inside a benchmark that ran longer than ``--timeout``."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI sends on cancel), handled like Ctrl-C: finished results are kept."""


@dataclass(frozen=True)
class _Execution:
    """One completed measured execution, waiting to be recorded at teardown."""

    started_at: datetime
    finished_at: datetime
    measurements: tuple[Measurement, ...]
    workers: int | None
    threads: int | None


class SessionPlugin:
    """Hands a Session built by the CLI to the plugin (instead of building one from options)."""

    name = "daskbench-session"

    def __init__(self, session: Session) -> None:
        self.session = session
        # pluggy names objects passed to pytest.main(plugins=...) by their __name__.
        self.__name__ = self.name

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        # The CLI draws its own progress and summary: keep pytest's terminal reporter (the
        # assertion rewriting needs it) but send its output nowhere.
        from _pytest.terminal import TerminalReporter

        old = config.pluginmanager.get_plugin("terminalreporter")
        if old is not None:
            config.pluginmanager.unregister(old)
            config.pluginmanager.register(
                TerminalReporter(config, io.StringIO()), "terminalreporter"
            )


# -- options and configuration -------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("daskbench", "daskbench: Dask performance benchmarks")
    add_options(group.addoption, prefix="daskbench-")


def _handle_sigterm(config: pytest.Config) -> None:
    """Turn SIGTERM into an interrupt pytest understands, remembering which signal it was."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone else handles it

    def terminate(signum: int, frame: FrameType | None) -> None:
        _session(config).interrupted_by = "SIGTERM"
        raise Terminated("terminated (SIGTERM)")

    config.stash[_sigterm_key] = signal.signal(signal.SIGTERM, terminate)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    provided = config.pluginmanager.get_plugin(SessionPlugin.name)
    if provided is not None:
        config.stash[_session_key] = provided.session
        config.stash[_owns_session_key] = False
        _handle_sigterm(config)
        return
    values = {spec.dest: config.getoption(f"daskbench_{spec.dest}") for spec in OPTIONS}
    try:
        options = SessionOptions.from_values(
            values, command=mask_command([Path(sys.argv[0]).name, *sys.argv[1:]])
        )
    except DaskbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = Session(options)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # the terminal, past pytest's output capture
        session.warn = lambda text: reporter.write_line(text, yellow=True)
    config.stash[_session_key] = session
    config.stash[_owns_session_key] = True
    _handle_sigterm(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(_sigterm_key, None)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    session = config.stash.get(_session_key, None)
    if session is not None and config.stash.get(_owns_session_key, False):
        session.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus != pytest.ExitCode.INTERRUPTED:
        return
    dsession = _session(session.config)
    if dsession.interrupted_by is None and dsession.fatal_error is None:
        dsession.interrupted_by = "SIGINT"
    item = session.config.stash.get(_current_key, None)
    if item is not None and dsession.interrupted_by is not None:
        # The benchmark the signal cut short: its finished executions are kept, and the
        # interruption is recorded, so that every benchmark started has a result.
        _record(item, item.stash.get(_reports_key, {}), interrupted=dsession.interrupted_by)


def _session(config: pytest.Config) -> Session:
    return config.stash[_session_key]


# -- repeats: N rounds, round-robin -------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    repeat = _session(metafunc.config).options.repeat
    if repeat > 1 and _REPEAT_FIXTURE in metafunc.fixturenames:
        # trylast: our id comes last, so benchmark_name() can strip it reliably.
        metafunc.parametrize(
            _REPEAT_FIXTURE, range(repeat), indirect=True, ids=[f"rep{i}" for i in range(repeat)]
        )


def _repeat_index(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    return int(callspec.params.get(_REPEAT_FIXTURE, 0)) if callspec is not None else 0


def _strip_repeat(name: str) -> str:
    # test_x[rep1] -> test_x ; test_x[p2p-rep1] -> test_x[p2p]
    match = _REPEAT_ID.search(name)
    if match is None:
        return name
    return name[: match.start()] + ("" if match.group(1) == "[" else "]")


def benchmark_name(item: pytest.Item) -> str:
    """The benchmark id: the test name with its parameters, without the repeat index."""
    return _strip_repeat(item.name)


def is_benchmark(item: pytest.Item) -> bool:
    return "benchmark" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # Stable sort by round: all benchmarks once, then all again (never back to back), so
    # slow drift of the machine is spread over every benchmark instead of hitting one.
    # Within a round, --order decides (a check that no benchmark depends on its
    # predecessors: the same run in another order must give the same numbers).
    dsession = _session(config)
    errors, plan = [], dsession.options.plan
    for item in items:
        try:
            _plan(item, plan)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:  # a benchmark's own declaration: nothing runs until it is fixed
        errors = list(dict.fromkeys(errors))  # once per benchmark, not per round
        dsession.collection_errors += errors
        pytest.exit(f"daskbench: {'; '.join(errors)}", returncode=pytest.ExitCode.USAGE_ERROR)
    rounds: dict[int, list[pytest.Item]] = {}
    for item in items:
        rounds.setdefault(_repeat_index(item), []).append(item)
    ordered = []
    for index in sorted(rounds):
        members = rounds[index]
        names = [item.nodeid for item in members]
        positions = order_round(names, dsession.options.order, dsession.seed, index)
        ordered += [members[i] for i in positions]
    items[:] = ordered


def _plan(item: pytest.Item, plan: ExecutionPlan) -> ExecutionPlan:
    """The run's execution plan with the benchmark's own floor: its ``min_executions`` marker."""
    marker = item.get_closest_marker("min_executions")
    if marker is None or not is_benchmark(item):
        return plan
    n = marker.args[0] if len(marker.args) == 1 and not marker.kwargs else None
    try:
        if isinstance(n, bool) or not isinstance(n, int):
            raise ConfigError("not one integer")
        return replace(plan, min_executions=n)  # the plan checks the bounds
    except ConfigError:
        given = ", ".join(
            [*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())]
        )
        raise ConfigError(
            f"{_strip_repeat(item.nodeid)}: min_executions takes one integer from 1 to "
            f"{plan.max_executions}, got min_executions({given})"
        ) from None


def pytest_collection_finish(session: pytest.Session) -> None:
    # After every plugin (-k, -m included) has deselected what it deselects.
    dsession = _session(session.config)
    names = list(dict.fromkeys(benchmark_name(i) for i in session.items if is_benchmark(i)))
    dsession.reporter.on_collected(names, dsession.options.repeat)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if report.failed:
        # The CLI prints these (pytest's own terminal output is off there).
        where = report.nodeid or "collection"
        _session(collector.config).collection_errors.append(f"{where}: {_short_error(report)}")
    return report


# -- fixtures -------------------------------------------------------------------------------------
def _fatal(session: Session, exc: DaskbenchError) -> NoReturn:
    # Without a working cluster every further benchmark would fail the same way: stop the
    # run, keep what finished, and let the caller report this one error.
    session.fatal_error = exc
    pytest.exit(f"daskbench: {exc}", returncode=pytest.ExitCode.INTERNAL_ERROR)


def _cluster_or_exit(session: Session) -> ClusterHandle:
    try:
        return session.cluster
    except DaskbenchError as exc:
        _fatal(session, exc)


@pytest.fixture(scope="session")
def daskbench_session(request: pytest.FixtureRequest) -> Session:
    """The daskbench Session of this pytest run."""
    return _session(request.config)


@pytest.fixture(scope="session")
def scale(daskbench_session: Session) -> str:
    """The workload size: ``ci``, ``small`` or ``large``."""
    return daskbench_session.options.scale


@pytest.fixture(scope="session")
def data_dir(daskbench_session: Session) -> str:
    """Directory or fsspec URL for generated inputs, shared by all workers, cached by scale."""
    path = daskbench_session.options.data_dir
    if "://" not in path:
        Path(path).mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cluster(daskbench_session: Session) -> Any:
    """The Cluster object when daskbench created it, else None (a plain scheduler address)."""
    return _cluster_or_exit(daskbench_session).cluster


@pytest.fixture
def client(daskbench_session: Session) -> Any:
    """A ``distributed.Client`` on the session's cluster, reset before each benchmark.

    The cluster has the shape the run started with (else the benchmark is an error).
    """
    _cluster_or_exit(daskbench_session)
    try:
        # The run record (and with it the database) is created once the cluster is up.
        daskbench_session.run  # noqa: B018
        handle = daskbench_session.prepare_benchmark()
    except DegradedClusterError:
        raise  # this benchmark is an error; the next one tries again
    except DaskbenchError as exc:
        _fatal(daskbench_session, exc)
    return handle.client


@pytest.fixture
def _daskbench_repeat(request: pytest.FixtureRequest) -> int:
    return int(getattr(request, "param", 0))


@pytest.fixture
def benchmark(request: pytest.FixtureRequest, client: Any, _daskbench_repeat: int) -> Benchmark:
    """``with benchmark(): ...`` measures the block; ``benchmark.record(name, value, unit)``."""
    from daskbench.measure import Benchmark  # imports distributed: only when benchmarking

    session = _session(request.config)
    # Dask's performance report: the first measured execution of the first round.
    report = session.performance_report_path(benchmark_name(request.node))
    bench = Benchmark(
        client,
        check=session.check_health,
        isolate=session.options.isolate,
        performance_report=report if _daskbench_repeat == 0 else None,
        performance_report_block=session.options.warmup,
        warn=session.warn,
    )
    request.node.stash[_benchmark_key] = bench
    return bench


# -- running and recording -----------------------------------------------------------------------
@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum: int, frame: FrameType | None) -> None:
        raise BenchmarkTimeout(f"benchmark exceeded --timeout {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    if is_benchmark(item):
        item.stash[_started_key] = utcnow()
        item.config.stash[_current_key] = item
        _session(item.config).reporter.on_start(benchmark_name(item), _repeat_index(item))
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    if not is_benchmark(item):
        return (yield)
    with _alarm(_session(item.config).options.timeout):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Execute a benchmark's test function: warm-ups, then measured executions.

    Every execution runs the whole function (preparation, block, checks) in the same
    process and cluster state; only measured executions keep their measurements.
    """
    bench = pyfuncitem.stash.get(_benchmark_key, None)
    function = pyfuncitem.obj
    if bench is None or inspect.iscoroutinefunction(function):
        return None  # not a benchmark: pytest's own implementation runs it
    plan = _plan(pyfuncitem, _session(pyfuncitem.config).options.plan)
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    executions = pyfuncitem.stash.setdefault(_executions_key, [])

    def execute() -> None:
        bench.new_execution()
        function(**kwargs)
        if not bench.measured:
            raise BenchmarkError(NOT_MEASURED)

    for _ in range(plan.warmup):
        execute()
    measured = 0.0
    while True:
        started = utcnow()
        execute()
        state = bench.cluster_state
        executions.append(
            _Execution(
                started,
                utcnow(),
                bench.measurements,
                state.workers if state is not None else None,
                state.threads if state is not None else None,
            )
        )
        measured += bench.wall_time
        if not plan.more(len(executions), measured):
            return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if is_benchmark(item):
        reports = item.stash.setdefault(_reports_key, {})
        reports[report.when] = report
        if call.excinfo is not None and call.excinfo.errisinstance(BenchmarkTimeout):
            report.daskbench_timeout = True  # type: ignore[attr-defined]
        if call.excinfo is not None and call.excinfo.errisinstance(DegradedClusterError):
            # The cluster's fault, not the code's: an error whose reason is the message.
            report.daskbench_degraded = str(call.excinfo.value)  # type: ignore[attr-defined]
        if report.when == "teardown":
            _record(item, reports)
    return report


def _short_error(report: pytest.TestReport | pytest.CollectReport) -> str:
    if isinstance(report.longrepr, tuple):  # skips: (path, lineno, message)
        return str(report.longrepr[-1])
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0] if crash.message else "error"
    text = str(report.longrepr or "").strip().splitlines()
    return text[-1] if text else "error"


def _error_text(report: pytest.TestReport) -> str:
    # First line: the one-line reason (shown in summaries); then the full report.
    return f"{_short_error(report)}\n\n{report.longreprtext}"


def _outcome(
    item: pytest.Item, reports: dict[str, pytest.TestReport]
) -> tuple[Outcome, str | None]:
    setup, call, teardown = (reports.get(w) for w in ("setup", "call", "teardown"))
    for report in (setup, call):
        degraded = getattr(report, "daskbench_degraded", None)
        if degraded:
            return Outcome.ERROR, f"{degraded}\n\n{report.longreprtext}"  # type: ignore[union-attr]
    if setup is not None and setup.failed:
        return Outcome.ERROR, _error_text(setup)
    if setup is not None and setup.skipped:
        return Outcome.SKIPPED, _short_error(setup)
    if call is not None and call.skipped:
        return Outcome.SKIPPED, _short_error(call)
    if call is not None and call.failed:
        if getattr(call, "daskbench_timeout", False):
            return Outcome.TIMEOUT, _error_text(call)
        return Outcome.FAILED, _error_text(call)
    if teardown is not None and teardown.failed:
        return Outcome.ERROR, _error_text(teardown)
    if not item.stash.get(_executions_key, []):
        return Outcome.FAILED, NOT_MEASURED
    return Outcome.PASSED, None


def _record(
    item: pytest.Item, reports: dict[str, pytest.TestReport], *, interrupted: str | None = None
) -> None:
    """Store every measured execution of the item, then its failure if it had one."""
    item.config.stash[_current_key] = None
    outcome: Outcome
    error: str | None
    if interrupted is not None:
        outcome, error = Outcome.ERROR, f"interrupted ({interrupted}) during this benchmark"
    else:
        outcome, error = _outcome(item, reports)
    session = _session(item.config)
    test, repeat, path = benchmark_name(item), _repeat_index(item), _strip_repeat(item.nodeid)
    executions = item.stash.get(_executions_key, [])
    stored: list[Result] = []
    try:
        for index, done in enumerate(executions):
            # A completed execution was measured on the whole cluster: it keeps its values
            # even when a later execution of the same round fails.
            stored.append(
                session.record(
                    test=test,
                    repeat=repeat,
                    outcome=Outcome.PASSED,
                    started_at=done.started_at,
                    finished_at=done.finished_at,
                    measurements=done.measurements,
                    path=path,
                    execution=index,
                    workers=done.workers,
                    threads=done.threads,
                )
            )
        if outcome is not Outcome.PASSED:
            state = session.last_state
            stored.append(
                session.record(
                    test=test,
                    repeat=repeat,
                    outcome=outcome,
                    started_at=item.stash.get(_started_key, utcnow()),
                    finished_at=utcnow(),
                    error=error,
                    path=path,
                    execution=len(executions),
                    workers=state.workers if state is not None else None,
                    threads=state.threads if state is not None else None,
                )
            )
    except DaskbenchError as exc:
        # A store failure stops the run: the CLI reports it with its cause, and results
        # that could not be stored are written to a file rather than lost.
        session.fatal_error = exc
        pytest.exit(f"daskbench: {exc}", returncode=pytest.ExitCode.INTERNAL_ERROR)
    finally:
        session.reporter.on_finish(test, repeat, stored)
