"""Suite-only fixtures: the ``sizing`` of the current cluster and cached TPC-H data.

``DASKBENCH_SUITE_SIZING`` (tests of daskbench itself only) replaces the plugin's ``scale``
with another sizing profile, typically ``tiny``, so a subset of the suite runs in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from daskbench.suite._sizing import Sizing

SIZING_ENV = "DASKBENCH_SUITE_SIZING"
_HERE = Path(__file__).parent

# Third-party warnings the suite cannot avoid, ignored even under ``-W error``:
# dask's parquet reader calls ``reset_index(inplace=True)``, deprecated in pandas 3.1.
KNOWN_WARNINGS = ("ignore:The inplace keyword in DataFrame",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(_HERE):  # hook sees every item of the session
            continue
        for spec in KNOWN_WARNINGS:
            item.add_marker(pytest.mark.filterwarnings(spec))


def _effective_scale(scale: str) -> str:
    return os.environ.get(SIZING_ENV) or scale


@pytest.fixture
def sizing(client: Any, scale: str) -> Sizing:
    """Sizes for this benchmark, read from the workers connected right now."""
    return Sizing.from_client(client, _effective_scale(scale))


@pytest.fixture
def tpch_data(client: Any, sizing: Sizing, data_dir: str) -> str:
    """URL of the TPC-H tables for this scale, generated on the cluster on first use."""
    from daskbench.suite._tpch_data import ensure_tpch

    return ensure_tpch(client, data_dir, sizing.tpch_scale_factor())
