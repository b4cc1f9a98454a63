"""Retention: which runs ``daskbench db prune`` removes, and which old runs it keeps and why.

A run is old when it started before the cutoff (``--older-than DAYS`` before now). Old runs
are removed with their results, measurements and acknowledgements, except:

- runs of a ``--keep-label`` label (e.g. ``main``: keep its whole history, prune PR runs);
- runs that an acknowledgement refers to: the ack says "this change was expected" and
  ``detect`` matches it by the run's position, so removing the run would silently bring
  the failure back. Such runs are kept and listed; delete the ack first to drop them.

The decision is pure (:func:`plan_prune`); the stores apply it in one transaction::

    >>> from datetime import UTC, datetime
    >>> from daskbench.models import Run
    >>> old = Run("r1", "pr-7", datetime(2024, 1, 1, tzinfo=UTC))
    >>> plan_prune([old], [], cutoff=datetime(2025, 1, 1, tzinfo=UTC)).remove_ids
    ['r1']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from daskbench.errors import ConfigError
from daskbench.models import Ack, Run

__all__ = ["PrunePlan", "plan_prune"]


@dataclass(frozen=True)
class PrunePlan:
    """Old runs to remove, old runs kept (and why), and what removing them deletes."""

    cutoff: datetime
    remove: tuple[Run, ...]
    kept_for_acks: dict[str, tuple[Ack, ...]]  # run id -> the acks that refer to it
    kept_by_label: dict[str, int]  # --keep-label label -> old runs kept
    results: int = 0  # results of the removed runs (filled in by the store)
    measurements: int = 0
    dry_run: bool = False

    @property
    def remove_ids(self) -> list[str]:
        return [r.id for r in self.remove]

    def lines(self, where: str) -> list[str]:
        """What was (or, for a dry run, would be) removed and what was kept, as text lines."""
        verb = "would remove" if self.dry_run else "removed"
        by_label = Counter(r.label for r in self.remove)
        labels = ", ".join(f"{label}: {n}" for label, n in sorted(by_label.items()))
        out = [
            f"{where}: runs started before {self.cutoff:%Y-%m-%d %H:%M} UTC"
            + (" (dry run: nothing is changed)" if self.dry_run else ""),
            f"{verb} {len(self.remove)} run(s)"
            + (f" ({labels})" if labels else "")
            + f", {self.results} result(s), {self.measurements} measurement(s)",
        ]
        if self.kept_by_label:
            kept = ", ".join(f"{lb}: {n}" for lb, n in sorted(self.kept_by_label.items()))
            out.append(
                f"kept {sum(self.kept_by_label.values())} old run(s) of --keep-label "
                f"label(s) ({kept})"
            )
        if self.kept_for_acks:
            out.append(
                f"kept {len(self.kept_for_acks)} old run(s) that acknowledgements refer to "
                "(detect needs them to match the acks; delete an ack to let its run go):"
            )
            for run_id, acks in sorted(self.kept_for_acks.items()):
                what = "; ".join(f"{a.test} {a.metric}: {a.reason!r}" for a in acks)
                out.append(f"  {run_id}  acknowledged {what}")
        return out


def plan_prune(
    runs: Iterable[Run],
    acks: Iterable[Ack],
    *,
    cutoff: datetime,
    keep_labels: Sequence[str] = (),
    labels: Iterable[str] | None = None,
) -> PrunePlan:
    """Decide which of ``runs`` to remove (see the module docstring).

    ``labels`` are every label of the store: a ``--keep-label`` matching none of them is a
    ConfigError (a typo must not delete the runs it was meant to keep).
    """
    if cutoff.tzinfo is None:
        raise ConfigError(f"the prune cutoff must be timezone-aware, got {cutoff.isoformat()}")
    keep = set(keep_labels)
    all_runs = list(runs)
    known = set(labels) if labels is not None else {r.label for r in all_runs}
    unknown = sorted(keep - known)
    if unknown:
        raise ConfigError(
            f"--keep-label {unknown[0]!r}: no runs with this label "
            f"(labels: {', '.join(sorted(known)) or 'none'}); nothing removed"
        )
    acked: dict[str, list[Ack]] = {}
    for ack in acks:
        acked.setdefault(ack.run_id, []).append(ack)
    remove: list[Run] = []
    kept_for_acks: dict[str, tuple[Ack, ...]] = {}
    kept_by_label: Counter[str] = Counter()
    for run in sorted(all_runs, key=lambda r: (r.started_at, r.id)):
        if run.started_at >= cutoff:
            continue
        if run.label in keep:
            kept_by_label[run.label] += 1
        elif run.id in acked:
            kept_for_acks[run.id] = tuple(acked[run.id])
        else:
            remove.append(run)
    return PrunePlan(
        cutoff=cutoff,
        remove=tuple(remove),
        kept_for_acks=kept_for_acks,
        kept_by_label=dict(kept_by_label),
    )
