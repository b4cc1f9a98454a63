"""The public API is pinned: changing it is a deliberate decision."""

from __future__ import annotations

import daskbench


def test_public_names_are_pinned() -> None:
    assert daskbench.__all__ == [
        "__version__",
        "ClusterSpec",
        "DaskbenchError",
        "Environment",
        "Measurement",
        "Metric",
        "Outcome",
        "Result",
        "Run",
        "Session",
        "SessionOptions",
        "Store",
        "compare",
        "compare_many",
        "detect_change_points",
        "get_metric",
        "minimum_detectable_effect",
        "open_store",
        "register_metric",
    ]


def test_every_public_name_resolves() -> None:
    for name in daskbench.__all__:
        assert getattr(daskbench, name) is not None
