"""Settings layered from pyproject.toml, AGENTOS_* variables and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.config import Settings, load_settings
from kernel.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("PROVIDER", "MODEL", "SANDBOX", "IMAGE", "MAX_ATTEMPTS", "TEST_TIMEOUT"):
        monkeypatch.delenv(f"AGENTOS_{name}", raising=False)


def write_table(root: Path, body: str) -> Path:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.agentos]\n{body}\n")
    return root


def test_defaults_without_any_source(tmp_path):
    assert load_settings(tmp_path) == Settings()


def test_flags_override_environment_override_file(tmp_path, monkeypatch):
    write_table(tmp_path, 'max_attempts = 5\nmodel = "from-file"\nsandbox = "local"')
    monkeypatch.setenv("AGENTOS_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("AGENTOS_MODEL", "from-env")

    settings = load_settings(tmp_path, {"model": "from-flag", "sandbox": None})

    assert settings.max_attempts == 7
    assert settings.model == "from-flag"
    assert settings.sandbox == "local"


def test_dashed_keys_are_accepted(tmp_path):
    write_table(tmp_path, "max-attempts = 2\ntest-timeout = 30")

    settings = load_settings(tmp_path)

    assert settings.max_attempts == 2
    assert settings.test_timeout == 30.0


@pytest.mark.parametrize(
    "body",
    [
        "max_attempts = 3.5",
        "max_attempts = true",
        'max_attempts = "three"',
        "allow_test_edits = 2",
        "model = 4",
        "test_timeout = false",
    ],
)
def test_wrong_types_in_file_are_rejected(tmp_path, body):
    write_table(tmp_path, body)

    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)

    assert "[tool.agentos]" in str(caught.value)
    assert body.split(" = ")[0] in str(caught.value)


def test_environment_strings_are_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTOS_ALLOW_TEST_EDITS", "yes")
    monkeypatch.setenv("AGENTOS_TEST_TIMEOUT", "12.5")

    settings = load_settings(tmp_path)

    assert settings.allow_test_edits is True
    assert settings.test_timeout == 12.5


def test_invalid_environment_value_names_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTOS_ALLOW_TEST_EDITS", "maybe")

    with pytest.raises(ConfigError, match="AGENTOS_ALLOW_TEST_EDITS"):
        load_settings(tmp_path)


def test_invalid_environment_choice_names_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTOS_SANDBOX", "dockr")

    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)

    message = str(caught.value)
    assert "AGENTOS_SANDBOX" in message
    assert "'dockr'" in message
    assert "auto, docker, local" in message


def test_invalid_file_value_names_key_once(tmp_path):
    write_table(tmp_path, "max-attempts = 'three'")

    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)

    message = str(caught.value)
    assert "'three'" in message
    assert message.count("max-attempts") == 1
    assert "max_attempts" not in message
    assert str(tmp_path / "pyproject.toml") in message


def test_mistyped_key_suggests_nearest(tmp_path):
    write_table(tmp_path, "max_attemps = 3")

    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)

    message = str(caught.value)
    assert "'max_attemps'" in message
    assert "did you mean 'max_attempts'?" in message
    assert "offline_seconds" not in message


def test_unknown_key_lists_known_keys(tmp_path):
    write_table(tmp_path, "colour = 'blue'")

    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)

    assert "'colour'" in str(caught.value)
    assert "max_attempts" in str(caught.value)


def test_invalid_choice_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="invalid sandbox 'podman'"):
        load_settings(tmp_path, {"sandbox": "podman"})


def test_openai_without_model_says_how(tmp_path):
    with pytest.raises(ConfigError, match="--model"):
        load_settings(tmp_path, {"provider": "openai"})


def test_unreadable_toml_names_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.agentos\n")

    with pytest.raises(ConfigError, match="pyproject.toml"):
        load_settings(tmp_path)


def test_flag_overrides_keep_settings_only(tmp_path):
    import argparse

    from kernel.config import flag_overrides

    arguments = argparse.Namespace(model="from-flag", sandbox=None, json=True, path=tmp_path)

    overrides = flag_overrides(arguments)

    assert overrides == {"model": "from-flag", "sandbox": None}
    assert load_settings(tmp_path, overrides).model == "from-flag"
