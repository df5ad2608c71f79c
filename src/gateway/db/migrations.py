"""Running Alembic from Portico, and asking whether the schema is current."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def migrations_dir() -> Path:
    """The Alembic scripts: inside the wheel when installed, else the repo's."""
    packaged = Path(__file__).resolve().parent.parent / "alembic"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "alembic"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser treats % as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    """Apply every pending migration. Blocking: runs its own event loop."""
    command.upgrade(alembic_config(url), "head")


@cache
def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return script.get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        has_table = await connection.scalar(
            text("SELECT to_regclass('alembic_version') IS NOT NULL")
        )
        if not has_table:
            return None
        revision: str | None = await connection.scalar(
            text("SELECT version_num FROM alembic_version")
        )
        return revision
