"""alembic migrations of the history database; run through :mod:`daskbench.store._migrate`."""
