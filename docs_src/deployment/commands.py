import click

from lanner import Lanner

app = Lanner()
app.config.from_mapping(DATABASE="books.db")
app.config.from_prefixed_env()  # LANNER_DATABASE=... overrides it


@app.cli.command("init-db")
@click.option("--drop", is_flag=True, help="Drop the tables first.")
def init_db(drop: bool) -> None:
    """Create the tables."""
    click.echo(
        f"{'Dropped and created' if drop else 'Created'} the tables in {app.config['DATABASE']}"
    )
