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

import io
import re
import signal
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from daskbench._options import OPTIONS, add_options
from daskbench._secrets import mask_command
from daskbench.errors import BenchmarkError, DaskbenchError
from daskbench.models import Outcome, utcnow
from daskbench.session import Session, SessionOptions

if TYPE_CHECKING:
    from daskbench.cluster import ClusterHandle
    from daskbench.measure import Benchmark

__all__ = ["BenchmarkTimeout", "SessionPlugin"]

MARKERS = {
    "dataframe": "dask.dataframe workloads",
    "array": "dask.array workloads",
    "xarray": "xarray workloads",
    "tpch": "TPC-H-style queries",
    "futures": "futures and scheduler overhead",
    "spill": "workloads larger than cluster memory",
    "stealing": "work stealing and load balancing",
    "io": "reading and writing files",
}
_REPEAT_FIXTURE = "_daskbench_repeat"
NOT_MEASURED = "the benchmark never completed a `with benchmark():` block"
_REPEAT_ID = re.compile(r"(\[|-)rep\d+\]$")

_session_key = pytest.StashKey[Session]()
_owns_session_key = pytest.StashKey[bool]()
_benchmark_key = pytest.StashKey["Benchmark"]()
_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()
_started_key = pytest.StashKey[datetime]()


class BenchmarkTimeout(Exception):
    """Raised inside a benchmark that ran longer than ``--timeout``."""


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


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    provided = config.pluginmanager.get_plugin(SessionPlugin.name)
    if provided is not None:
        config.stash[_session_key] = provided.session
        config.stash[_owns_session_key] = False
        return
    values = {spec.dest: config.getoption(f"daskbench_{spec.dest}") for spec in OPTIONS}
    try:
        options = SessionOptions.from_values(
            values, command=mask_command([Path(sys.argv[0]).name, *sys.argv[1:]])
        )
    except DaskbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_session_key] = Session(options)
    config.stash[_owns_session_key] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_session_key, None)
    if session is not None and config.stash.get(_owns_session_key, False):
        session.close()


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
    items.sort(key=_repeat_index)
    dsession = _session(config)
    names = list(dict.fromkeys(benchmark_name(i) for i in items if is_benchmark(i)))
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
    pytest.exit(f"daskbench: {exc}", returncode=3)


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
    """A ``distributed.Client`` on the session's cluster, reset before each benchmark."""
    handle = _cluster_or_exit(daskbench_session)
    try:
        daskbench_session.reset_cluster()
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

    bench = Benchmark(client)
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
        _session(item.config).reporter.on_start(benchmark_name(item), _repeat_index(item))
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    if not is_benchmark(item):
        return (yield)
    with _alarm(_session(item.config).options.timeout):
        result = yield
    bench = item.stash.get(_benchmark_key, None)
    if bench is not None and not bench.measured:
        raise BenchmarkError(NOT_MEASURED)
    return result


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
    bench = item.stash.get(_benchmark_key, None)
    if bench is None or not bench.measured:
        return Outcome.FAILED, NOT_MEASURED
    return Outcome.PASSED, None


def _record(item: pytest.Item, reports: dict[str, pytest.TestReport]) -> None:
    outcome, error = _outcome(item, reports)
    bench = item.stash.get(_benchmark_key, None)
    session = _session(item.config)
    try:
        session.record(
            test=benchmark_name(item),
            repeat=_repeat_index(item),
            outcome=outcome,
            started_at=item.stash.get(_started_key, utcnow()),
            finished_at=utcnow(),
            measurements=bench.measurements if bench is not None else (),
            error=error,
            path=_strip_repeat(item.nodeid),
        )
    except DaskbenchError as exc:
        # A store failure must stop the run loudly rather than lose results silently.
        pytest.exit(f"daskbench: {exc}", returncode=3)
