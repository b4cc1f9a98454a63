"""Acknowledgements: "this change is expected" (e.g. a deliberate memory trade-off).

An ack names a test, a metric and the run where the change showed up (the *first bad run*
that ``daskbench detect`` prints); detection then reports the change as acknowledged and CI
no longer fails on it::

    >>> from datetime import UTC, datetime
    >>> from daskbench.models import Measurement, Result, Run
    >>> from daskbench.store import open_store
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> with open_store("memory://") as store:
    ...     store.add_run(Run("r1", "main", t))
    ...     _ = store.add_result(Result("r1", "test_sum", 0, "passed", t, t,
    ...                                 (Measurement("wall_time", 1.0, "s"),)))
    ...     acknowledge(store, "test_sum", "wall_time", "r1", "new algorithm").reason
    'new algorithm'
"""

from __future__ import annotations

import getpass
import os

from daskbench.errors import ConfigError, NotFoundError
from daskbench.models import Ack, utcnow
from daskbench.store import Store

__all__ = ["acknowledge", "default_author"]


def default_author() -> str:
    """Who is acknowledging: ``$GITHUB_ACTOR`` in GitHub Actions, else the login name."""
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return ""


def acknowledge(
    store: Store, test: str, metric: str, run_id: str, reason: str, *, author: str | None = None
) -> Ack:
    """Record that the change of ``test``/``metric`` at ``run_id`` is expected.

    NotFoundError if the run does not exist or has no passed result of ``test`` measuring
    ``metric``; ConfigError for an empty reason.
    """
    if not reason.strip():
        raise ConfigError("--reason must say why the change is expected")
    store.get_run(run_id)  # NotFoundError names the run
    results = store.results(run_id=run_id, test=test)
    if not results:
        raise NotFoundError(f"run {run_id!r} has no results of test {test!r}")
    measured = {m.metric for r in results for m in r.measurements}
    if metric not in measured:
        known = ", ".join(sorted(measured)) or "none"
        raise NotFoundError(
            f"test {test!r} in run {run_id!r} did not measure {metric!r} (measured: {known})"
        )
    ack = Ack(
        run_id=run_id,
        test=test,
        metric=metric,
        reason=reason.strip(),
        created_at=utcnow(),
        author=default_author() if author is None else author,
    )
    return store.add_ack(ack)
