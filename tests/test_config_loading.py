"""Loading settings from the environment and from files, with Flask's semantics (trioweb.config)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from trioweb import App, Config


def test_prefixed_environment_variables_set_settings_with_their_values_json_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIOWEB_BODY_TIMEOUT", "20")
    monkeypatch.setenv("TRIOWEB_TESTING", "true")
    monkeypatch.setenv("TRIOWEB_SERVER_NAME", "example.com")  # not JSON: kept as the string
    monkeypatch.setenv("TRIOWEB_WEBSOCKET_PING_INTERVAL", "null")
    monkeypatch.setenv("OTHER_BODY_TIMEOUT", "99")
    config = Config()
    assert config.from_prefixed_env() is True
    assert config["BODY_TIMEOUT"] == 20 and config["TESTING"] is True
    assert config["SERVER_NAME"] == "example.com" and config["WEBSOCKET_PING_INTERVAL"] is None
    assert "OTHER_BODY_TIMEOUT" not in config and "_BODY_TIMEOUT" not in config


def test_another_prefix_and_another_loads_are_used_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYAPP_SECRET_KEY", "123")
    monkeypatch.setenv("TRIOWEB_SECRET_KEY", "not this one")
    config = Config()
    config.from_prefixed_env("MYAPP", loads=str.upper)
    assert config["SECRET_KEY"] == "123"
    config.from_prefixed_env("MYAPP")
    assert config["SECRET_KEY"] == 123


def test_double_underscores_set_keys_in_nested_dicts_creating_the_missing_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIOWEB_DB__HOST", "db.local")
    monkeypatch.setenv("TRIOWEB_DB__PORT", "5432")
    monkeypatch.setenv("TRIOWEB_CACHE__REDIS__URL", '"redis://r"')
    config = Config()
    config["CACHE"] = {"TIMEOUT": 5}
    config.from_prefixed_env()
    assert config["DB"] == {"HOST": "db.local", "PORT": 5432}
    assert config["CACHE"] == {"TIMEOUT": 5, "REDIS": {"URL": "redis://r"}}


def test_a_nested_key_under_a_setting_that_is_not_a_dict_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIOWEB_BODY_TIMEOUT__X", "1")
    with pytest.raises(TypeError, match=r"TRIOWEB_BODY_TIMEOUT__X sets a key inside 'BODY_TIMEOUT'.*not a dict"):
        Config().from_prefixed_env()


def test_from_file_reads_toml_and_json_relative_to_the_root_path(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('BODY_TIMEOUT = 20.0\nlower = "left out"\n[DB]\nHOST = "h"\n')
    (tmp_path / "config.json").write_text('{"KEEP_ALIVE_TIMEOUT": 15.0}')
    config = Config(tmp_path)
    assert config.from_file("config.toml", load=tomllib.load, text=False) is True
    assert config.from_file("config.json", load=json.load) is True
    assert (config["BODY_TIMEOUT"], config["DB"], config["KEEP_ALIVE_TIMEOUT"]) == (20.0, {"HOST": "h"}, 15.0)
    assert "lower" not in config


def test_a_missing_file_is_an_error_naming_the_path_and_silent_makes_it_false(tmp_path: Path) -> None:
    config = Config(tmp_path)
    with pytest.raises(FileNotFoundError, match="pass silent=True if the file is optional") as info:
        config.from_file("missing.toml", load=tomllib.load, text=False)
    assert info.value.filename == str(tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError, match="root_path") as info:
        config.from_pyfile("missing.py")
    assert info.value.filename == str(tmp_path / "missing.py")
    assert config.from_file("missing.toml", load=tomllib.load, text=False, silent=True) is False
    assert config.from_pyfile("missing.py", silent=True) is False


def test_a_loader_that_returns_no_mapping_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match=r"read list from .*list\.json, not a mapping"):
        Config(tmp_path).from_file("list.json", load=json.load)


def test_from_pyfile_runs_the_file_and_takes_its_upper_case_names(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(
        "import os\nMAX_CONTENT_LENGTH = 1024 * 1024\nHERE = os.path.basename(__file__)\nhelper = 1\n"
    )
    config = Config(tmp_path)
    assert config.from_pyfile("settings.py") is True
    assert (config["MAX_CONTENT_LENGTH"], config["HERE"]) == (1024 * 1024, "settings.py")
    assert "helper" not in config and "os" not in config


def test_from_envvar_loads_the_python_file_the_variable_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prod.py").write_text("SECRET_KEY = 'from the file'\n")
    monkeypatch.setenv("APP_SETTINGS", str(tmp_path / "prod.py"))
    config = Config()
    assert config.from_envvar("APP_SETTINGS") is True
    assert config["SECRET_KEY"] == "from the file"


def test_an_unset_variable_is_an_error_that_says_to_set_it_and_silent_makes_it_false(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APP_SETTINGS", raising=False)
    with pytest.raises(RuntimeError, match=r"'APP_SETTINGS' is not set.*set it to the path of a Python settings file"):
        Config().from_envvar("APP_SETTINGS")
    assert Config().from_envvar("APP_SETTINGS", silent=True) is False


def test_the_apps_config_reads_relative_names_from_the_apps_root_path(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"SERVER_NAME": "example.com"}')
    app = App("anything", root_path=str(tmp_path))
    assert app.config.root_path == str(tmp_path)
    app.config.from_file("config.json", load=json.load)
    assert app.config["SERVER_NAME"] == "example.com"


def test_a_config_made_on_its_own_reads_relative_names_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text('{"TESTING": true}')
    config = Config()
    assert config.root_path == os.getcwd()
    config.from_file("config.json", load=json.load)
    assert config["TESTING"] is True and config["BODY_TIMEOUT"] == 60.0


def test_get_namespace_gives_the_settings_under_a_prefix_as_keyword_arguments() -> None:
    config = Config(defaults={"IMAGE_STORE_TYPE": "fs", "IMAGE_STORE_PATH": "/img", "OTHER": 1})
    assert config.get_namespace("IMAGE_STORE_") == {"type": "fs", "path": "/img"}
    assert config.get_namespace("IMAGE_STORE_", lowercase=False) == {"TYPE": "fs", "PATH": "/img"}
    assert config.get_namespace("IMAGE_STORE_", trim_namespace=False) == {
        "image_store_type": "fs",
        "image_store_path": "/img",
    }
