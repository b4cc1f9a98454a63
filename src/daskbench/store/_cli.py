"""``daskbench db merge | prune``, attached lazily to the ``db`` group by :mod:`daskbench.cli`.

Exit codes: 0 fine; 2 bad input or a conflict (one line on stderr, nothing written).
"""

from __future__ import annotations

import click

__all__ = ["merge", "prune"]

EXIT_OK = 0


@click.command()
@click.argument("sources", nargs=-1, required=True, metavar="SRC_URL...")
@click.option(
    "--into", required=True, help="the database to merge into (created or migrated if needed)"
)
@click.option("--dry-run", is_flag=True, help="check and count only; write nothing")
def merge(sources: tuple[str, ...], into: str, dry_run: bool) -> int:
    """Copy runs, results, measurements and acks of SRC_URL... into one database.

    Sources may be SQLite or PostgreSQL at any schema revision this daskbench knows; they
    are only read. Idempotent: rows already in the target (same run id; same run, test and
    repeat; same ack) are skipped, so merging a shard twice adds nothing. Different data
    under one run id is an error naming the run, and nothing is written. One transaction
    per source.
    """
    from daskbench.store._merge import MergeCounts
    from daskbench.store._shard import merge_shards
    from daskbench.store._url import parse_store_url

    target = parse_store_url(into).display
    merged = merge_shards(sources, into, dry_run=dry_run)
    for shard in merged:
        click.echo(f"{shard.display} (revision {shard.revision}): {shard.counts.text()}")
    total = sum((m.counts for m in merged), MergeCounts())
    verb = "would merge" if dry_run else "merged"
    click.echo(f"{verb} {len(merged)} source(s) into {target}: {total.text()}")
    return EXIT_OK


@click.command()
@click.option("--db", "url", required=True, help="history database URL")
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0, min_open=True),
    required=True,
    metavar="DAYS",
    help="remove runs that started more than DAYS days ago",
)
@click.option(
    "--keep-label",
    "keep_labels",
    multiple=True,
    metavar="L",
    help="never remove runs of this label (repeatable)",
)
@click.option("--dry-run", is_flag=True, help="say what would be removed; change nothing")
def prune(url: str, days: float, keep_labels: tuple[str, ...], dry_run: bool) -> int:
    """Remove old runs with their results, measurements and acks, in one transaction.

    Runs that acknowledgements refer to are kept, and listed with the reason.
    """
    from datetime import timedelta

    from daskbench.errors import ConfigError
    from daskbench.models import utcnow
    from daskbench.store import current_revision, open_store
    from daskbench.store._url import parse_store_url

    parsed = parse_store_url(url)
    if parsed.kind == "memory" or current_revision(url) is None:
        raise ConfigError(f"--db {parsed.display}: no daskbench history there; nothing to prune")
    try:
        cutoff = utcnow() - timedelta(days=days)
    except OverflowError:
        raise ConfigError(f"--older-than {days:g}: too many days") from None
    with open_store(url) as store:
        plan = store.prune(cutoff, keep_labels=keep_labels, dry_run=dry_run)
    for line in plan.lines(parsed.display):
        click.echo(line)
    return EXIT_OK
