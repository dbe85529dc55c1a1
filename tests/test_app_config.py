"""Flask's app conveniences on Lanner: app.config, the instance folder, app.testing, app.cli."""

import os
from pathlib import Path

import pytest

from lanner import Lanner
from lanner.config import Config

HERE = Path(__file__).resolve().parent


def test_config_is_a_flask_style_config_rooted_beside_the_module_creating_the_app() -> None:
    app = Lanner(config={"SECRET": "s"})
    assert isinstance(app.config, Config)
    assert app.config["SECRET"] == "s" and app.config["TESTING"] is False
    assert app.config.root_path == str(HERE)
    # tests/ is a package: the instance folder is beside it, as Flask puts it.
    assert app.instance_path == str(HERE.parent / "instance")


def test_instance_relative_config_reads_files_from_the_instance_folder(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text("DATABASE = 'sqlite:///instance.db'\nlower = 1\n")
    app = Lanner(instance_path=tmp_path, instance_relative_config=True)
    assert app.instance_path == str(tmp_path)
    assert app.config.from_pyfile("settings.py")
    assert app.config["DATABASE"] == "sqlite:///instance.db"
    assert "lower" not in app.config
    assert not Lanner().config.from_pyfile("settings.py", silent=True)  # not beside this module


def test_a_relative_instance_path_is_refused() -> None:
    with pytest.raises(ValueError):
        Lanner(instance_path="instance")


def test_testing_mirrors_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Lanner()
    assert app.testing is False
    app.testing = True
    assert app.config["TESTING"] is True
    app.config["TESTING"] = False
    assert app.testing is False
    monkeypatch.setitem(os.environ, "LANNER_FEATURE__LIMIT", "5")
    app.config.from_prefixed_env()
    assert app.config["FEATURE"] == {"LIMIT": 5}


def test_cli_is_a_click_group_of_project_commands() -> None:
    import click
    from click.testing import CliRunner

    app = Lanner(title="Shop")
    made: list[str] = []

    @app.cli.command("init-db")
    @click.option("--drop", is_flag=True)
    def init_db(drop: bool) -> None:
        """Create the tables."""
        made.append("dropped" if drop else "created")

    assert app.cli is app.cli
    result = CliRunner().invoke(app.cli, ["init-db", "--drop"])
    assert result.exit_code == 0, result.output
    assert made == ["dropped"]
    assert "init-db" in CliRunner().invoke(app.cli, ["--help"]).output
