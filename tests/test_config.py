"""lanner.config: Flask's configuration loaders, silent modes, error messages, and the instance path."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanner.config import (
    Config,
    ConfigAttribute,
    caller_root_path,
    default_instance_path,
    import_string,
    resolve_instance_path,
)

# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No LANNER_* or TEST_* variables from the surrounding environment."""
    for name in list(os.environ):
        if name.startswith(("LANNER_", "CFGTEST_")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def settings_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable package ``cfgpkg_<id>`` with a ``settings`` module; removed from sys.modules after."""
    name = f"cfgpkg_{os.getpid()}_{id(tmp_path)}"
    package = tmp_path / "site" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        textwrap.dedent(
            """
            import os

            DEBUG = False
            SECRET_KEY = "module-secret"
            lower_case = "ignored"

            class Production:
                DEBUG = False
                DATABASE_URI = "postgres://prod"
                helper = "ignored"

                class Nested:
                    LEVEL = 3
            """
        )
    )
    (package / "broken.py").write_text("import cfgtest_module_that_does_not_exist\nVALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


# --- construction and from_mapping -------------------------------------------------------------


def test_defaults_are_copied_and_root_path_kept(tmp_path: Path) -> None:
    defaults = {"TESTING": False, "lower": 1}
    config = Config(tmp_path, defaults)
    assert config == {"TESTING": False, "lower": 1}
    assert config.root_path == str(tmp_path)
    config["TESTING"] = True
    assert defaults["TESTING"] is False  # a copy, not the caller's dict
    assert isinstance(config, dict)
    assert repr(Config("/x", {"A": 1})) == "<Config {'A': 1}>"


def test_from_mapping_takes_uppercase_keys_and_kwargs_win() -> None:
    config = Config("/")
    assert (
        config.from_mapping({"DEBUG": True, "SECRET_KEY": "a", "lower": 1, "Mixed": 2}, SECRET_KEY="b")
        is True
    )
    assert config == {"DEBUG": True, "SECRET_KEY": "b"}
    config.from_mapping(PORT=8000)
    config.from_mapping()
    assert config == {"DEBUG": True, "SECRET_KEY": "b", "PORT": 8000}


# --- from_object -------------------------------------------------------------------------------


def test_from_object_reads_uppercase_attributes_of_a_class_and_an_instance() -> None:
    class Base:
        DEBUG = False
        SECRET = "s"
        private = "no"

    class Development(Base):
        DEBUG = True

        @property
        def DATABASE_URI(self) -> str:
            return "sqlite://" + self.SECRET

    config = Config("/")
    config.from_object(Development())
    assert config == {"DEBUG": True, "SECRET": "s", "DATABASE_URI": "sqlite://s"}

    config = Config("/")
    config.from_object(Base)
    assert config == {"DEBUG": False, "SECRET": "s"}


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        (".settings", {"DEBUG": False, "SECRET_KEY": "module-secret"}),
        (".settings:Production", {"DEBUG": False, "DATABASE_URI": "postgres://prod"}),
        (".settings.Production", {"DEBUG": False, "DATABASE_URI": "postgres://prod"}),
        (".settings:Production.Nested", {"LEVEL": 3}),
        (".settings.Production.Nested", {"LEVEL": 3}),
    ],
)
def test_from_object_imports_strings(settings_package: str, suffix: str, expected: dict[str, Any]) -> None:
    config = Config("/")
    config.from_object(settings_package + suffix)
    assert config == expected
    assert "os" not in config and "lower_case" not in config and "helper" not in config


def test_import_string_errors_name_the_string(settings_package: str) -> None:
    with pytest.raises(
        ImportError, match=r"Cannot import 'cfgtest_absent\.mod:X': no module named 'cfgtest_absent'"
    ):
        import_string("cfgtest_absent.mod:X")
    with pytest.raises(ImportError, match=r"Cannot import 'cfgtest_absent\.mod\.X'"):
        import_string("cfgtest_absent.mod.X")
    with pytest.raises(ImportError, match=r"has no attribute 'Staging'"):
        import_string(f"{settings_package}.settings.Staging")
    with pytest.raises(ImportError, match=r"has no attribute 'Staging'"):
        Config("/").from_object(f"{settings_package}.settings:Staging")
    with pytest.raises(ImportError, match=r"no module named '.*\.nope'"):
        import_string(f"{settings_package}.nope:X")


def test_import_string_does_not_hide_a_broken_module(settings_package: str) -> None:
    # The module exists but fails to import: that error surfaces, it is not read as "no such module".
    with pytest.raises(ModuleNotFoundError) as info:
        import_string(f"{settings_package}.broken.VALUE")
    assert info.value.name == "cfgtest_module_that_does_not_exist"
    with pytest.raises(ModuleNotFoundError) as info:
        import_string(f"{settings_package}.broken:VALUE")
    assert info.value.name == "cfgtest_module_that_does_not_exist"


def test_import_string_returns_modules_and_attributes() -> None:
    assert import_string("json") is json
    assert import_string("os.path") is os.path
    assert import_string("os.path:join") is os.path.join
    assert import_string("json.decoder.JSONDecodeError") is json.JSONDecodeError


# --- from_pyfile -------------------------------------------------------------------------------


def test_from_pyfile_runs_the_file_relative_to_root_path(tmp_path: Path) -> None:
    (tmp_path / "settings.cfg").write_text(
        "import os\nSECRET_KEY = 'dev'\nPORT = 40 + 2\nHERE = os.path.basename(__file__)\nlocal = 1\n"
    )
    config = Config(tmp_path)
    assert config.from_pyfile("settings.cfg") is True
    assert config == {"SECRET_KEY": "dev", "PORT": 42, "HERE": "settings.cfg"}


def test_from_pyfile_accepts_an_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "abs.py").write_text("A = 1\n")
    config = Config("/somewhere/else")
    config.from_pyfile(tmp_path / "abs.py")
    assert config == {"A": 1}


def test_from_pyfile_instance_relative_root(tmp_path: Path) -> None:
    # The layout Flask's tutorial uses: instance/config.py next to the package, read when the
    # config's root is the instance folder (instance_relative_config=True).
    package = tmp_path / "flaskr"
    instance = Path(default_instance_path(package))
    instance.mkdir(parents=True)
    (instance / "config.py").write_text("SECRET_KEY = 'from-instance'\n")
    (package / "config.py").write_text("SECRET_KEY = 'from-package'\n")

    instance_config = Config(instance, {"SECRET_KEY": "dev"})
    assert instance_config.from_pyfile("config.py", silent=True) is True
    assert instance_config["SECRET_KEY"] == "from-instance"

    package_config = Config(package, {"SECRET_KEY": "dev"})
    package_config.from_pyfile("config.py")
    assert package_config["SECRET_KEY"] == "from-package"

    # Missing instance file, silent: the defaults stay (the tutorial's factory relies on it).
    empty = Config(tmp_path / "other" / "instance", {"SECRET_KEY": "dev"})
    assert empty.from_pyfile("config.py", silent=True) is False
    assert empty == {"SECRET_KEY": "dev"}


def test_from_pyfile_missing_file_error_names_it(tmp_path: Path) -> None:
    config = Config(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        config.from_pyfile("missing.cfg")
    assert str(tmp_path / "missing.cfg") in str(info.value)
    assert "Unable to load configuration file" in str(info.value)


def test_from_pyfile_silent_covers_missing_file_and_folder_only(tmp_path: Path) -> None:
    config = Config(tmp_path)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("")
    assert config.from_pyfile("missing.cfg", silent=True) is False
    assert config.from_pyfile("a_folder", silent=True) is False
    assert config.from_pyfile("a_file/under_a_file.cfg", silent=True) is False
    with pytest.raises(IsADirectoryError, match="Unable to load configuration file"):
        config.from_pyfile("a_folder")
    # silent forgives a missing file, not a file that is broken.
    (tmp_path / "bad.cfg").write_text("X = 1 +\n")
    with pytest.raises(SyntaxError):
        config.from_pyfile("bad.cfg", silent=True)


def test_from_pyfile_errors_while_running_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "syntax.cfg").write_text("A = 1\nB = (\n")
    (tmp_path / "boom.cfg").write_text("A = 1\nB = undefined_name\n")
    config = Config(tmp_path)
    with pytest.raises(SyntaxError) as syntax:
        config.from_pyfile("syntax.cfg")
    assert syntax.value.filename == str(tmp_path / "syntax.cfg")
    with pytest.raises(NameError) as name_error:
        config.from_pyfile("boom.cfg")
    assert f"while loading configuration file {str(tmp_path / 'boom.cfg')!r}" in name_error.value.__notes__
    assert config == {}  # nothing half-loaded


def test_from_pyfile_unreadable_file_is_raised_even_when_silent(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    secret = tmp_path / "secret.cfg"
    secret.write_text("A = 1\n")
    secret.chmod(0)
    try:
        with pytest.raises(PermissionError, match="Unable to load configuration file"):
            Config(tmp_path).from_pyfile("secret.cfg", silent=True)
    finally:
        secret.chmod(0o600)


# --- from_envvar -------------------------------------------------------------------------------


def test_from_envvar_loads_the_named_file(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    (tmp_path / "prod.cfg").write_text("DEBUG = False\nSERVER = 'prod'\n")
    clean_env.setenv("CFGTEST_SETTINGS", str(tmp_path / "prod.cfg"))
    config = Config("/unrelated")
    assert config.from_envvar("CFGTEST_SETTINGS") is True
    assert config == {"DEBUG": False, "SERVER": "prod"}


def test_from_envvar_unset_or_empty(clean_env: pytest.MonkeyPatch) -> None:
    config = Config("/")
    with pytest.raises(RuntimeError, match="'CFGTEST_SETTINGS' is not set"):
        config.from_envvar("CFGTEST_SETTINGS")
    assert config.from_envvar("CFGTEST_SETTINGS", silent=True) is False
    clean_env.setenv("CFGTEST_SETTINGS", "")
    with pytest.raises(RuntimeError, match="'CFGTEST_SETTINGS' is not set"):
        config.from_envvar("CFGTEST_SETTINGS")


def test_from_envvar_missing_file(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CFGTEST_SETTINGS", "nope.cfg")
    config = Config(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"Unable to load configuration file .*nope\.cfg"):
        config.from_envvar("CFGTEST_SETTINGS")
    assert config.from_envvar("CFGTEST_SETTINGS", silent=True) is False


# --- from_file ---------------------------------------------------------------------------------


def test_from_file_json_text_and_toml_binary(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"DEBUG": True, "NAME": "café", "lower": 1}), encoding="utf-8"
    )
    (tmp_path / "config.toml").write_text('SECRET_KEY = "t"\nPORT = 1\n[DB]\nHOST = "h"\n')
    config = Config(tmp_path)
    assert config.from_file("config.json", load=json.load) is True
    assert config.from_file("config.toml", load=tomllib.load, text=False) is True
    assert config == {"DEBUG": True, "NAME": "café", "SECRET_KEY": "t", "PORT": 1, "DB": {"HOST": "h"}}


def test_from_file_silent_and_errors(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.from_file("missing.json", load=json.load, silent=True) is False
    with pytest.raises(FileNotFoundError, match=r"Unable to load configuration file .*missing\.json"):
        config.from_file("missing.json", load=json.load)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(json.JSONDecodeError) as info:
        config.from_file("bad.json", load=json.load, silent=True)
    assert f"while loading configuration file {str(tmp_path / 'bad.json')!r}" in info.value.__notes__
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match=r"list\.json' must hold a mapping, not list"):
        config.from_file("list.json", load=json.load)
    assert config == {}


# --- from_prefixed_env -------------------------------------------------------------------------


def test_from_prefixed_env_decodes_json_and_falls_back_to_strings(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LANNER_PORT", "8000")
    clean_env.setenv("LANNER_DEBUG", "true")
    clean_env.setenv("LANNER_RATIO", "0.5")
    clean_env.setenv("LANNER_HOSTS", '["a", "b"]')
    clean_env.setenv("LANNER_NOTHING", "null")
    clean_env.setenv("LANNER_SECRET_KEY", "plain text")
    clean_env.setenv("LANNER_QUOTED", '"8000"')
    clean_env.setenv("LANNERX_OTHER", "1")
    clean_env.setenv("OTHER_LANNER_X", "1")
    config = Config("/", {"PORT": 1})
    assert config.from_prefixed_env() is True
    assert config == {
        "PORT": 8000,
        "DEBUG": True,
        "RATIO": 0.5,
        "HOSTS": ["a", "b"],
        "NOTHING": None,
        "SECRET_KEY": "plain text",
        "QUOTED": "8000",
    }


def test_from_prefixed_env_nested_keys(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LANNER_DB__HOST", "db.internal")
    clean_env.setenv("LANNER_DB__PORT", "5432")
    clean_env.setenv("LANNER_DB__POOL__SIZE", "10")
    clean_env.setenv("LANNER_CACHE", '{"TYPE": "redis", "TTL": 5}')
    clean_env.setenv("LANNER_CACHE__TTL", "60")
    config = Config("/", {"DB": {"NAME": "app", "PORT": 1}})
    config.from_prefixed_env()
    # Existing nested dicts are updated in place, missing ones created; a whole-object variable
    # (LANNER_CACHE) is applied before its keys (LANNER_CACHE__TTL).
    assert config == {
        "DB": {"NAME": "app", "HOST": "db.internal", "PORT": 5432, "POOL": {"SIZE": 10}},
        "CACHE": {"TYPE": "redis", "TTL": 60},
    }


def test_from_prefixed_env_nested_through_a_non_dict(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LANNER_DB__HOST", "h")
    config = Config("/", {"DB": "sqlite://"})
    with pytest.raises(
        TypeError, match="Cannot set LANNER_DB__HOST: config key 'DB' holds a str, not a dict"
    ):
        config.from_prefixed_env()


def test_from_prefixed_env_custom_prefix_and_loads(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CFGTEST_A", "1")
    clean_env.setenv("CFGTEST_B__C", "x")
    clean_env.setenv("LANNER_A", "ignored")

    def loads(text: str) -> Any:
        if text == "x":
            raise ValueError(text)
        return int(text) * 10

    config = Config("/")
    config.from_prefixed_env("CFGTEST", loads=loads)
    assert config == {"A": 10, "B": {"C": "x"}}


# --- get_namespace -----------------------------------------------------------------------------


def test_get_namespace() -> None:
    config = Config(
        "/",
        {
            "IMAGE_STORE_TYPE": "fs",
            "IMAGE_STORE_PATH": "/var/images",
            "IMAGE_STORE_BASE_URL": "http://x",
            "OTHER": 1,
        },
    )
    assert config.get_namespace("IMAGE_STORE_") == {
        "type": "fs",
        "path": "/var/images",
        "base_url": "http://x",
    }
    assert config.get_namespace("IMAGE_STORE_", lowercase=False) == {
        "TYPE": "fs",
        "PATH": "/var/images",
        "BASE_URL": "http://x",
    }
    assert config.get_namespace("IMAGE_STORE_", trim_namespace=False) == {
        "image_store_type": "fs",
        "image_store_path": "/var/images",
        "image_store_base_url": "http://x",
    }
    assert config.get_namespace("MISSING_") == {}
    result = config.get_namespace("OTHER")
    result[""] = 2
    assert config["OTHER"] == 1  # a new dict, not a view


# --- ConfigAttribute ---------------------------------------------------------------------------


class _App:
    testing = ConfigAttribute("TESTING", False)

    def __init__(self, config: Config) -> None:
        self.config = config


def test_config_attribute_mirrors_the_key() -> None:
    app = _App(Config("/"))
    assert app.testing is False  # absent: the default
    app.config["TESTING"] = True
    assert app.testing is True
    app.testing = False
    assert app.config["TESTING"] is False
    assert isinstance(_App.testing, ConfigAttribute)
    assert _App.testing.key == "TESTING"


# --- root path and instance path ---------------------------------------------------------------


def test_caller_root_path_is_the_calling_modules_folder() -> None:
    assert caller_root_path() == os.path.dirname(os.path.abspath(__file__))


def test_caller_root_path_skips_lanner_frames(tmp_path: Path) -> None:
    # Code running in a lanner module (Lanner.__init__) is skipped: the user's module counts.
    inside_lanner: dict[str, Any] = {
        "__name__": "lanner.app",
        "__file__": str(tmp_path / "lanner" / "app.py"),
    }
    exec("def make():\n    return caller_root_path()\n", inside_lanner)
    inside_lanner["caller_root_path"] = caller_root_path
    assert inside_lanner["make"]() == os.path.dirname(os.path.abspath(__file__))

    user: dict[str, Any] = {"__name__": "myproject", "__file__": str(tmp_path / "myproject" / "__init__.py")}
    user["make"] = inside_lanner["make"]
    exec("def create_app():\n    return make()\n", user)
    assert user["create_app"]() == str(tmp_path / "myproject")


def test_caller_root_path_without_a_file_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    repl: dict[str, Any] = {"__name__": "__main__", "caller_root_path": caller_root_path}
    exec("def create_app():\n    return caller_root_path()\n", repl)
    assert repl["create_app"]() == str(tmp_path)


def test_default_and_resolved_instance_path(tmp_path: Path) -> None:
    assert default_instance_path(tmp_path) == str(tmp_path / "instance")
    assert default_instance_path("/srv/app") == os.path.join("/srv/app", "instance")
    assert not (tmp_path / "instance").exists()  # not created
    assert resolve_instance_path(None, tmp_path) == str(tmp_path / "instance")
    assert resolve_instance_path(tmp_path / "var", "/ignored") == str(tmp_path / "var")
    with pytest.raises(ValueError, match="instance_path must be an absolute path, not 'instance'"):
        resolve_instance_path("instance", tmp_path)


def test_a_package_app_has_its_instance_folder_beside_the_top_level_package(tmp_path: Path) -> None:
    # Flask's layout: project/flaskr/__init__.py creates the app, project/instance holds its files.
    inner = tmp_path / "project" / "flaskr" / "views"
    inner.mkdir(parents=True)
    (inner.parent / "__init__.py").write_text("")
    (inner / "__init__.py").write_text("")
    expected = str(tmp_path / "project" / "instance")
    assert default_instance_path(inner.parent) == expected
    assert default_instance_path(inner) == expected
