"""Create the bookshelf's tables and seed data once, before any replica starts.

Every replica's lifespan also creates missing tables and seeds an empty database, which is fine
for one process but races when several start together on an empty database (two ``CREATE TABLE``
at once, two seeded demo users). Deployments therefore run this first, as a one-off:
``python -m deploy.initdb`` from the image's ``/app`` (compose's ``initdb`` service, Kubernetes'
``bookshelf-initdb`` Job). It reads the same environment as the app (``DATABASE_URL``,
``BOOKSHELF_DATA``) and is safe to run again.
"""

import asyncio

from examples.bookshelf.db import open_database
from examples.bookshelf.settings import Settings


async def initialise() -> None:
    """Open the database the app would use: its tables and seed data are created on the way."""
    settings = Settings.from_env()
    settings.covers_dir.mkdir(parents=True, exist_ok=True)
    async with open_database(settings.database_url):
        pass


if __name__ == "__main__":
    asyncio.run(initialise())
