"""Sizing helpers of the benchmark suite, at each scale for 1, 2 and 100 workers."""

from __future__ import annotations

import pytest

from daskbench.errors import ConfigError
from daskbench.suite._sizing import (
    DEFAULT_MEMORY_PER_THREAD,
    PROFILES,
    SCALES,
    ClusterShape,
    GiB,
    MiB,
    Sizing,
    ladder_floor,
)

# (workers, threads per worker, memory per worker)
CLUSTERS = {
    "one": (1, 2, 4 * GiB),
    "laptop": (2, 1, 4 * GiB),
    "hundred": (100, 4, 16 * GiB),
}


def _shape(workers: int, threads: int, memory: int) -> ClusterShape:
    return ClusterShape(workers, workers * threads, workers * memory)


def _info(workers: int, threads: int, memory: int) -> dict:
    return {
        "workers": {
            f"tcp://10.0.0.{i}:1234": {"nthreads": threads, "memory_limit": memory}
            for i in range(workers)
        }
    }


@pytest.mark.parametrize("name", CLUSTERS)
def test_shape_from_scheduler_info(name):
    workers, threads, memory = CLUSTERS[name]
    shape = ClusterShape.from_scheduler_info(_info(workers, threads, memory))
    assert shape == ClusterShape(workers, workers * threads, workers * memory, memory)


def test_shape_without_memory_limit_assumes_memory_per_thread():
    info = {"workers": {"a": {"nthreads": 3, "memory_limit": 0}, "b": {"nthreads": 1}}}
    shape = ClusterShape.from_scheduler_info(info)
    assert shape.memory == 4 * DEFAULT_MEMORY_PER_THREAD
    assert shape.min_worker_memory == DEFAULT_MEMORY_PER_THREAD


def test_shape_validation_names_the_field():
    with pytest.raises(ConfigError, match="no workers"):
        ClusterShape.from_scheduler_info({"workers": {}})
    with pytest.raises(ConfigError, match="nthreads"):
        ClusterShape(1, 0, GiB)


def test_unknown_scale_is_rejected():
    with pytest.raises(ConfigError, match="huge"):
        Sizing(_shape(*CLUSTERS["laptop"]), "huge")


def test_public_scales_exclude_the_internal_tiny_scale():
    assert SCALES == ("ci", "small", "large")
    assert set(PROFILES) == {*SCALES, "tiny"}


@pytest.mark.parametrize("name", CLUSTERS)
def test_ci_is_capped_whatever_the_cluster(name):
    sizing = Sizing(_shape(*CLUSTERS[name]), "ci")
    assert sizing.nbytes(1.0) <= 48 * MiB
    assert sizing.npartitions(sizing.nbytes(1.0)) <= 32
    assert sizing.n_tasks(1.0) <= 2_000
    assert sizing.tpch_scale_factor() == 0.01
    assert sizing.is_ci


@pytest.mark.parametrize("name", CLUSTERS)
def test_small_is_about_one_cluster_memory(name):
    workers, threads, memory = CLUSTERS[name]
    sizing = Sizing(_shape(workers, threads, memory), "small")
    assert sizing.nbytes(1.0) == workers * memory
    assert sizing.nbytes(0.5) == workers * memory // 2
    assert sizing.spill_nbytes() == int(1.5 * workers * memory)
    assert not sizing.is_ci


def test_large_is_production_sized():
    sizing = Sizing(_shape(*CLUSTERS["hundred"]), "large")
    assert sizing.nbytes(1.0) == 2 * 100 * 16 * GiB
    assert sizing.n_tasks(1.0) == 100_000  # 250 per thread x 400 threads
    assert sizing.tpch_scale_factor() == 1000
    ten = Sizing(_shape(10, 4, 16 * GiB), "large")
    assert ten.tpch_scale_factor() == 100
    assert ten.n_tasks(1.0) == 100_000  # at least 100k tasks at large
    assert Sizing(_shape(1000, 4, 16 * GiB), "large").n_tasks(1.0) == 1_000_000


@pytest.mark.parametrize("scale", [*SCALES, "tiny"])
@pytest.mark.parametrize("name", CLUSTERS)
def test_sizes_grow_with_scale_and_stay_positive(scale, name):
    sizing = Sizing(_shape(*CLUSTERS[name]), scale)
    nbytes = sizing.nbytes(1.0)
    assert nbytes >= sizing.profile.partition_bytes
    assert sizing.nbytes(0.5) <= nbytes
    assert sizing.npartitions(nbytes) >= 1
    assert sizing.n_tasks(0.1) >= 1
    side = sizing.square_shape(nbytes)[0]
    assert side * side * 8 <= nbytes < (side + 1) ** 2 * 8
    assert sizing.chunk_side() ** 2 * 8 <= sizing.profile.partition_bytes


@pytest.mark.parametrize("name", CLUSTERS)
def test_scales_are_ordered(name):
    shape = _shape(*CLUSTERS[name])
    sizes = [Sizing(shape, s).nbytes(1.0) for s in ("tiny", "ci", "small", "large")]
    assert sizes == sorted(sizes)


def test_npartitions_has_at_least_two_per_thread_unless_capped():
    shape = _shape(*CLUSTERS["hundred"])  # 400 threads
    small = Sizing(shape, "small")
    assert small.npartitions(1) == 800
    assert small.npartitions(100 * 64 * MiB) == 800
    assert small.npartitions(10_000 * 64 * MiB) == 10_000
    assert Sizing(shape, "ci").npartitions(1) == 32  # ci caps the count


def test_rows_and_relative_sizes():
    sizing = Sizing(_shape(*CLUSTERS["laptop"]), "small")
    assert sizing.rows(4800, 48) == 100
    assert sizing.rows(1, 48) == 1
    with pytest.raises(ConfigError, match="relative"):
        sizing.nbytes(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0001, 0.001), (0.02, 0.01), (1, 1), (2.9, 1), (8, 3), (160, 100), (1e6, 10000)],
)
def test_ladder_floor(value, expected):
    assert ladder_floor(value) == expected
