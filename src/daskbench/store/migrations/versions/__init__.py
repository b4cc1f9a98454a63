"""Revision scripts, oldest first by name (alembic ignores this file)."""
