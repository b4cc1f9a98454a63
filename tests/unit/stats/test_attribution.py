"""explaining(): the largest absolute changes of a breakdown, hand-computed cases and a property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daskbench.errors import StatsInputError
from daskbench.stats import explaining


def test_largest_first_until_the_share_is_covered() -> None:
    # |deltas| sum to 10: 4 (40%), +3 (70%), +2 (90% >= 80%): three components.
    deltas = {"idle": 1.0, "compute": 4.0, "transfer": -3.0, "p2p": 2.0}
    assert explaining(deltas) == ["compute", "transfer", "p2p"]
    assert explaining(deltas, share=0.7) == ["compute", "transfer"]
    assert explaining(deltas, limit=1) == ["compute"]
    assert explaining({}) == []
    assert explaining({"a": 0.0, "b": -0.0}) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"share": 0.0}, "share must be in"),
        ({"share": 1.5}, "share must be in"),
        ({"limit": 0}, "limit must be an integer"),
        ({"limit": True}, "limit must be an integer"),
    ],
)
def test_bad_parameters(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(StatsInputError, match=message):
        explaining({"a": 1.0}, **kwargs)  # type: ignore[arg-type]


def test_non_finite_deltas_are_refused() -> None:
    with pytest.raises(StatsInputError, match="finite"):
        explaining({"a": float("nan")})


@given(st.dictionaries(st.text(max_size=3), st.floats(-1e6, 1e6), max_size=12))
def test_chosen_are_the_largest_and_cover_the_share(deltas: dict[str, float]) -> None:
    chosen = explaining(deltas)
    assert len(chosen) <= 5
    rest = [abs(v) for k, v in deltas.items() if k not in chosen]
    assert all(abs(deltas[k]) > 0 for k in chosen)
    if chosen and rest:
        assert min(abs(deltas[k]) for k in chosen) >= max(rest)
    total = sum(abs(v) for v in deltas.values())
    if len(chosen) < 5:
        assert sum(abs(deltas[k]) for k in chosen) >= 0.8 * total * (1 - 1e-12)
