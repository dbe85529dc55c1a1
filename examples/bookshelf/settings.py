"""The bookshelf's configuration, read from the environment when the app is created.

- ``BOOKSHELF_DATA``: the folder of the SQLite file and the uploaded covers; by default
  ``examples/bookshelf/data/`` (git-ignored).
- ``DATABASE_URL``: by default ``sqlite+aiosqlite:///<BOOKSHELF_DATA>/bookshelf.db``;
  ``postgresql+asyncpg://user:password@host/db`` works too (``pip install -e '.[postgres]'``).
- ``LANNER_SECRET_KEY``: signs the session cookie; a development key unless set (set a long
  random one in production).
- ``BOOKSHELF_API_KEY``: the ``X-API-Key`` the JSON API's writes need; a development key unless set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from lanner import Depends, Request

HERE = Path(__file__).resolve().parent

DEV_SECRET_KEY = "dev-only-bookshelf-secret-key-change-me"
DEV_API_KEY = "dev-only-bookshelf-api-key"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and the keys that protect it."""

    data_dir: Path
    database_url: str
    secret_key: str
    api_key: str

    @property
    def covers_dir(self) -> Path:
        """The folder uploaded covers are written to and served from."""
        return self.data_dir / "covers"

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment variables in the table above."""
        data_dir = Path(os.environ.get("BOOKSHELF_DATA") or HERE / "data").resolve()
        database_url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'bookshelf.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=os.environ.get("LANNER_SECRET_KEY") or DEV_SECRET_KEY,
            api_key=os.environ.get("BOOKSHELF_API_KEY") or DEV_API_KEY,
        )


def get_settings(request: Request) -> Settings:
    """The serving app's settings (its lifespan puts them in the request state)."""
    settings: Settings = request.state.settings
    return settings


Config = Annotated[Settings, Depends(get_settings)]
