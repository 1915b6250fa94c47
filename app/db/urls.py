"""Database URL handling shared by the pool and the migrator."""

from __future__ import annotations

from app.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    pass


def database_url(settings: Settings) -> str:
    if settings.database_url is None or not settings.database_url.get_secret_value():
        raise DatabaseNotConfigured("GOLIVE_DATABASE_URL is not set (e.g. postgresql://user:password@host:5432/golive)")
    return settings.database_url.get_secret_value()


def sqlalchemy_url(url: str) -> str:
    """Alembic goes through SQLAlchemy; make it use psycopg 3, not psycopg2."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise DatabaseNotConfigured("GOLIVE_DATABASE_URL must start with postgresql://")
