"""The breakdown of a block: distributed's fine-grained metrics -> activities, prefixes, bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daskbench.measure._breakdown import breakdown_values, top_prefixes
from daskbench.measure._scheduler_plugin import breakdown
from daskbench.metrics import (
    ACTIVITIES,
    ACTIVITY_METRICS,
    BREAKDOWN_METRICS,
    breakdown_part,
    get_metric,
)

# What a P2P shuffle with some spilling reports (labels as distributed 2024-2026 emits them).
SPAN = {
    ("execute", "shuffle-transfer", "thread-cpu", "seconds"): 0.5,
    ("execute", "shuffle-transfer", "thread-noncpu", "seconds"): 0.25,
    ("execute", "shuffle-transfer", "p2p-shard-partition-cpu", "seconds"): 1.0,
    ("execute", "shuffle-transfer", "executor", "seconds"): 0.125,
    ("execute", "shuffle-transfer", "p2p-shards", "bytes"): 1000,
    ("execute", "p2pshuffle", "p2p-get-output-noncpu", "seconds"): 2.0,
    ("execute", "p2pshuffle", "p2p-disk-read", "bytes"): 4000,  # P2P's buffer, not spilling
    ("execute", "p2pshuffle", "cancelled", "seconds"): 0.0625,
    ("execute", "sum", "disk-read", "seconds"): 0.75,
    ("execute", "sum", "disk-read", "bytes"): 50_000,
    ("execute", "sum", "deserialize", "seconds"): 0.25,
    ("execute", "sum", "memory-read", "bytes"): 7,  # local memory: no counter
    ("execute", "N/A", "idle or other spans", "seconds"): 99.0,  # the span's own remainder
    ("p2p", "background-comms", "send", "seconds"): 3.0,
    ("p2p", "background-comms", "serialize", "seconds"): 0.5,
    ("p2p", "background-comms", "idle", "seconds"): 40.0,  # waiting
    ("p2p", "background-comms", "process", "bytes"): 2000,
    ("p2p", "background-disk", "disk-write", "seconds"): 1.5,
    ("p2p", "background-disk", "disk-write", "bytes"): 3000,
    ("p2p", "foreground", "shard-partition-cpu", "seconds"): 1.0,  # repeats execute's p2p-*
}
CLUSTER = {
    ("gather-dep", "network", "seconds"): 2.0,
    ("gather-dep", "other", "seconds"): 0.25,
    ("gather-dep", "deserialize", "seconds"): 0.125,
    ("gather-dep", "disk-write", "seconds"): 0.5,
    ("get-data", "network", "seconds"): 1.75,  # the fetcher's network time already counts
    ("get-data", "serialize", "seconds"): 0.25,
    ("get-data", "disk-read", "seconds"): 0.375,
    ("get-data", "disk-read", "bytes"): 10_000,
    ("get-data", "memory-read", "bytes"): 20_000,
    ("memory-monitor", "disk-write", "seconds"): 1.25,
    ("memory-monitor", "disk-write", "bytes"): 80_000,
    ("memory-monitor", "serialize", "seconds"): 0.5,
    # Contexts that come from the span are never read from the cluster-wide totals.
    ("execute", "sum", "thread-cpu", "seconds"): 100.0,
    ("p2p", "background-comms", "send", "seconds"): 100.0,
    ("latency",): 5.0,
}


def test_every_label_is_charged_once_to_its_activity() -> None:
    out = breakdown(SPAN, CLUSTER, 4)
    assert out["thread"] == {
        "compute": 0.75,
        "p2p": 3.0,
        "other": 0.125 + 0.0625,
        "disk_read": 0.75,
        "serialize": 0.25,
    }
    assert out["background"] == {
        "transfer": 3.0 + 2.0 + 0.25,
        "serialize": 0.5 + 0.125 + 0.25 + 0.5,
        "p2p": 1.5,
        "disk_write": 0.5 + 1.25,
        "disk_read": 0.375,
    }
    assert out["prefixes"] == {"shuffle-transfer": 1.875, "p2pshuffle": 2.0625, "sum": 1.0}
    assert out["bytes"] == {"disk_read": 60_000, "transfer": 22_000, "disk_write": 80_000}
    assert out["nthreads"] == 4


def test_values_idle_is_the_rest_of_the_threads_time() -> None:
    values = breakdown_values(breakdown(SPAN, CLUSTER, 4), wall_time=2.0)
    task_time = 0.75 + 3.0 + 0.1875 + 0.75 + 0.25
    assert values["activity.idle"] == pytest.approx(8.0 - task_time)
    assert values["activity.serialize"] == pytest.approx(0.25 + 1.375)
    assert values["activity.transfer"] == 5.25
    assert [f"activity.{a}" for a in ACTIVITIES] == [k for k in values if k.startswith("activity.")]
    assert values["bytes.transfer"] == 22_000


def test_values_of_an_empty_block() -> None:
    values = breakdown_values({}, wall_time=1.0)
    assert values["activity.idle"] == 0.0  # no threads known
    assert values["prefix.other"] == 0.0
    assert not [k for k in values if k.startswith("prefix.") and k != "prefix.other"]
    # More task time than the block (a clock step): idle is 0, never negative.
    over = breakdown_values({"thread": {"compute": 5.0}, "nthreads": 1}, wall_time=1.0)
    assert over["activity.idle"] == 0.0


def test_a_prefix_named_other_joins_the_remainder() -> None:
    values = breakdown_values({"prefixes": {"other": 50.0, "inc": 50.0}}, wall_time=1.0)
    assert values["prefix.inc"] == 50.0
    assert values["prefix.other"] == 50.0


@given(
    st.dictionaries(
        st.text("abcdefgh-", min_size=1, max_size=6),
        st.floats(0, 1e4, allow_nan=False),
        max_size=12,
    )
)
def test_recorded_prefixes_cover_95_percent_and_no_more_than_needed(
    seconds: dict[str, float],
) -> None:
    total = sum(seconds.values())
    chosen = top_prefixes(seconds)
    covered = sum(seconds[p] for p in chosen)
    if total > 0:
        assert covered >= 0.95 * total - 1e-9 * total
        # Minimal: without the smallest chosen one, the coverage would be short of 95%.
        assert covered - min(seconds[p] for p in chosen) < 0.95 * total
        # Largest first: nothing left out is larger than something chosen.
        left = [v for k, v in seconds.items() if k not in chosen]
        assert not left or max(left) <= min(seconds[p] for p in chosen)
    values = breakdown_values({"prefixes": seconds}, wall_time=1.0)
    recorded = sum(v for k, v in values.items() if k.startswith("prefix."))
    assert recorded == pytest.approx(total)


def test_breakdown_metrics_are_registered() -> None:
    names = {m.name for m in BREAKDOWN_METRICS}
    assert {f"activity.{a}" for a in ACTIVITIES} <= names
    assert {"bytes.transfer", "bytes.disk_write", "bytes.disk_read"} <= names
    assert all(get_metric(n).unit == ("B" if n.startswith("bytes.") else "s") for n in names)
    assert get_metric("prefix.anything").unit == "s"
    assert "95%" in get_metric("prefix.other").description
    assert get_metric("prefix.").unit == ""  # not a prefix: an unknown metric
    assert ACTIVITY_METRICS["scheduler"] == "scheduler_cpu"
    assert breakdown_part("bytes.transfer") == ("bytes", "transfer")
    assert breakdown_part("peak_memory") is None
