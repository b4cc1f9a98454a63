"""The verdict of a row of an A/B report: a stats verdict, or "not compared".

>>> VERDICT_ORDER[0], NOT_COMPARED
('regressed', 'not compared')
"""

from __future__ import annotations

from enum import StrEnum

from daskbench.stats import Verdict

__all__ = ["NOT_COMPARED", "VERDICT_ORDER", "NotCompared", "RowVerdict"]


class NotCompared(StrEnum):
    """The verdict of a row that has no comparison (``note`` says why): not a stats verdict."""

    __repr__ = str.__repr__

    NOT_COMPARED = "not compared"


NOT_COMPARED = NotCompared.NOT_COMPARED
RowVerdict = Verdict | NotCompared
# Report order: what needs attention first.
VERDICT_ORDER: tuple[RowVerdict, ...] = (
    Verdict.REGRESSED,
    Verdict.IMPROVED,
    Verdict.INCONCLUSIVE,
    NOT_COMPARED,
    Verdict.UNCHANGED,
)
