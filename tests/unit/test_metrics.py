"""Metric registry: units, direction, formatting."""

from __future__ import annotations

import pytest

from daskbench.errors import ConfigError
from daskbench.metrics import CORE_METRICS, format_value, get_metric, register_metric


def test_core_metrics_have_units_and_directions() -> None:
    names = [m.name for m in CORE_METRICS]
    assert names[:8] == [
        "wall_time",
        "avg_memory",
        "peak_memory",
        "compute_time",
        "transfer_time",
        "spill_time",
        "serialize_time",
        "n_tasks",
    ]
    assert all(m.lower_is_better for m in CORE_METRICS)
    assert get_metric("peak_memory").unit == "B"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, "s", "-"),
        (1.5, "s", "1.50 s"),
        (0.0123, "s", "12.3 ms"),
        (0.000012, "s", "12 µs"),
        (250.0, "s", "250 s"),
        (3 * 2**30, "B", "3.00 GiB"),
        (512.0, "B", "512 B"),
        (12345.0, "count", "12,345"),
        (2.5, "1/s", "2.5 1/s"),
    ],
)
def test_format(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_custom_metrics_register_once_and_conflicts_are_errors() -> None:
    m = register_metric("rows_per_s_test", "1/s", lower_is_better=False)
    assert get_metric("rows_per_s_test") == m
    assert register_metric("rows_per_s_test", "1/s", lower_is_better=False) is m
    with pytest.raises(ConfigError, match="registered with unit '1/s'"):
        register_metric("rows_per_s_test", "s")
    # Unknown metrics are treated as lower-is-better and unitless, never an error.
    assert get_metric("never_registered").lower_is_better
