"""The cluster fingerprint: versions and shape of scheduler and workers, and mismatches.

The pure summary is checked on ``get_versions``-shaped dicts; ``cluster_fingerprint`` on a
real in-process cluster (``gen_cluster``-style, but through a normal Client).
"""

from __future__ import annotations

import platform
from typing import Any

import dask
import distributed

from daskbench.environment import (
    cluster_fingerprint,
    collect_environment,
    machine_info,
    summarize_cluster,
    version_mismatches,
)
from daskbench.models import Environment


def process(python: str = "3.11.7.final.0", **packages: str | None) -> dict[str, Any]:
    base: dict[str, str | None] = {"dask": "2026.8.0", "distributed": "2026.8.0", "numpy": "2.4.6"}
    return {
        "host": {"OS": "Linux", "OS-release": "6.1", "machine": "x86_64"},
        "packages": {"python": python, **base, **packages},
    }


def versions(*workers: dict[str, Any], client: dict[str, Any] | None = None, **kw: Any) -> dict:
    return {
        "client": client or process(),
        "scheduler": kw.get("scheduler") or process(numpy=None),
        "workers": {f"tcp://10.0.0.{i}:1234": w for i, w in enumerate(workers)},
    }


def test_agreeing_cluster_has_no_mismatch() -> None:
    assert version_mismatches(versions(process(), process())) == []


def test_a_worker_with_another_version_is_named() -> None:
    found = version_mismatches(versions(process(), process(), process(numpy="2.3.0")))
    assert found == ["numpy: client 2.4.6; workers 2.4.6 ×2, 2.3.0 ×1"]


def test_scheduler_is_compared_on_what_it_runs_only() -> None:
    # numpy missing on the scheduler is normal; a different dask there is not.
    other = process(numpy=None, dask="2026.7.0")
    found = version_mismatches(versions(process(), scheduler=other))
    assert found == ["dask: client 2026.8.0; scheduler 2026.7.0; workers 2026.8.0"]


def test_python_and_missing_packages() -> None:
    found = version_mismatches(
        versions(process("3.12.1.final.0"), process(pyarrow="26.0.1"), client=process())
    )
    assert found == [
        "python: client 3.11.7; scheduler 3.11.7; workers 3.11.7 ×1, 3.12.1 ×1",
        "pyarrow: client missing; workers 26.0.1 ×1, missing ×1",
    ]


def test_summary_keys_are_flat_so_diffs_name_the_package() -> None:
    machines = {
        "a": {"cpu_model": "AMD EPYC", "cpu_count": 8, "memory_total": 32 * 2**30},
        "b": {"cpu_model": "AMD EPYC", "cpu_count": 8, "memory_total": 32 * 2**30},
    }
    info = {"a": {"host": "10.0.0.1"}, "b": {"host": "10.0.0.2"}}
    before = summarize_cluster(versions(process(), process()), machines, info)
    assert before["hosts"] == 2
    assert before["workers.packages.dask"] == "2026.8.0"
    assert before["workers.python"] == "3.11.7"
    assert before["workers.cpu_model"] == "AMD EPYC"
    assert before["workers.memory_total"] == 32 * 2**30
    assert before["scheduler.packages.distributed"] == "2026.8.0"
    assert "scheduler.packages.numpy" not in before  # not installed there
    assert before["version_mismatches"] == []
    after = summarize_cluster(
        versions(process(dask="2026.9.0"), process(dask="2026.9.0")), machines, info
    )
    diff = Environment(cluster=before).diff(Environment(cluster=after))
    assert diff["cluster.workers.packages.dask"] == ("2026.8.0", "2026.9.0")
    assert "cluster.version_mismatches" in diff


def test_fingerprint_of_a_real_cluster(scheduler_address: str) -> None:
    with distributed.Client(scheduler_address, timeout=30) as client:
        found = cluster_fingerprint(client)
        env = collect_environment(cluster={"workers": 2}, client=client)
    assert found["workers.python"] == platform.python_version()
    assert found["workers.packages.dask"] == dask.__version__
    assert found["scheduler.packages.distributed"] == distributed.__version__
    assert found["workers.cpu_model"] == machine_info()["cpu_model"]
    assert found["hosts"] == 1
    assert found["version_mismatches"] == []
    assert env.cluster["workers"] == 2
    assert env.cluster["workers.packages.distributed"] == distributed.__version__


def test_a_failing_worker_probe_is_recorded_not_raised() -> None:
    class Client:
        def get_versions(self, check: bool, packages: list[str]) -> dict:
            return versions(process())

        def run(self, func: Any) -> dict:
            raise OSError("worker gone")

        def scheduler_info(self, n_workers: int) -> dict:
            return {"workers": {"w": {"host": "h"}}}

    found = cluster_fingerprint(Client())
    assert found["workers.machine_error"] == "OSError: worker gone"
    assert found["workers.packages.dask"] == "2026.8.0"

    class Gone(Client):
        def get_versions(self, check: bool, packages: list[str]) -> dict:
            raise TimeoutError("scheduler unreachable")

    assert cluster_fingerprint(Gone()) == {
        "fingerprint_error": "TimeoutError: scheduler unreachable"
    }


def test_detect_names_a_worker_side_change_in_the_culprit_range() -> None:
    from datetime import UTC, datetime, timedelta

    from daskbench.history import detect, load_history, to_text
    from daskbench.models import Measurement, Outcome, Result, Run
    from daskbench.store import MemoryStore

    store = MemoryStore()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    # (A history long enough that the detector can declare the step within 6 runs.)
    for i in range(30):
        at = t0 + timedelta(days=i)
        # The client stays the same; only the workers' numpy changes at run 24.
        cluster = {"workers": 4, "workers.packages.numpy": "2.4.6" if i < 24 else "2.5.0"}
        env = Environment(packages={"dask": "2026.8.0"}, cluster=cluster)
        store.add_run(Run(f"r{i:02d}", "nightly", at, environment=env))
        wall = (1.0 if i < 24 else 1.3) * (1 + 0.01 * (i % 3))
        store.add_result(Result(f"r{i:02d}", "test_a", 0, Outcome.PASSED, at, at,
                                (Measurement("wall_time", wall, "s"),)))  # fmt: skip
    history = load_history(store)
    (change,) = detect(history).failing
    assert change.first_bad_run == "r24"
    assert change.diff == {"cluster.workers.packages.numpy": ("2.4.6", "2.5.0")}
    assert "changed: cluster.workers.packages.numpy: 2.4.6 -> 2.5.0" in to_text(
        detect(history), history
    )
