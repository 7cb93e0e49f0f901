"""Settings for one run of the kernel, layered from three sources.

A ``[tool.agentos]`` table in the target's ``pyproject.toml`` comes first,
then ``AGENTOS_*`` environment variables, then command-line flags; each
source overrides the one before. The model endpoint itself is configured with
the openai SDK's own variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``), which
the SDK reads, so no secret passes through these settings.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.budget import parse_prices
from kernel.errors import ConfigError
from patches.types import Usage

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published separately before Python 3.11
    import tomli as tomllib

PROVIDERS = ("auto", "offline", "openai")
SANDBOXES = ("auto", "docker", "local")
DEFAULT_IMAGE = "auto"


@dataclass(frozen=True)
class Settings:
    """Every knob of a heal; the field comments give units and meaning."""

    provider: str = "auto"  # auto: offline, then the model when one is configured
    model: str | None = None  # model name sent to the OpenAI-compatible endpoint
    sandbox: str = "auto"  # auto: Docker when a daemon and the image are there, else local
    # Docker base image for the sandbox. auto: the newest python:X.Y-slim already in
    # the local image store, else the offline-built agentos-sandbox:latest; never pulls.
    image: str = DEFAULT_IMAGE
    max_attempts: int = 3  # candidates validated per provider and fault
    test_timeout: float = 300.0  # seconds for one sandbox run of the suite
    request_timeout: float = 60.0  # seconds for one model request
    max_retries: int = 3  # model request retries on 429, 5xx and connection errors
    allow_test_edits: bool = False  # let candidates edit tests and pytest configuration
    offline_max_candidates: int = 40  # candidates the offline engine proposes per fault
    offline_seconds: float = 20.0  # seconds the offline engine spends generating them
    candidates: int = 3  # replies requested from the model per request (the API's n)
    max_rounds: int = 3  # requests per fault to a model that receives feedback on its replies
    context_tokens: int = 8000  # estimated token limit for the code context of a prompt
    max_tokens: int = 200_000  # model tokens one heal may use, as the API reports them; 0: none
    max_cost: float = 1.0  # estimated dollars one heal may spend, from model_prices; 0: none
    model_prices: str = ""  # "MODEL=PROMPT/COMPLETION,...": dollars per million tokens
    heal_timeout: float = 1800.0  # seconds until a heal stops sending model requests; 0: none
    tool_calling: bool = False  # offer the model an edit tool; its plain text is read as well

    def cost(self, usage: Usage) -> float | None:
        """Return the estimated price of ``usage`` in US dollars, or None without a price.

        The price is this model's entry in ``model_prices``.
        """
        price = parse_prices(self.model_prices).get(self.model or "")
        if price is None:
            return None
        spent = usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion
        return spent / 1_000_000


# Keys accepted in [tool.agentos] and as AGENTOS_<KEY>; each maps to a Settings field.
_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}

# Settings that take one of a few words.
_CHOICES = {"provider": PROVIDERS, "sandbox": SANDBOXES}


def flag_overrides(arguments: object) -> dict[str, Any]:
    """Return the command-line values of ``arguments`` whose names are settings fields.

    A flag the user did not give is None and so overrides nothing in
    :func:`load_settings`.
    """
    return {name: value for name, value in vars(arguments).items() if name in _FIELDS}


def load_settings(root: Path, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings for the repository at ``root``.

    The repository's ``[tool.agentos]`` table comes first, then the environment, then ``overrides``.

    ``overrides`` holds command-line values; a value of None means the flag was not given.
    """
    values: dict[str, Any] = {}
    values.update(_from_pyproject(root / "pyproject.toml"))
    values.update(_from_environment(os.environ))
    values.update({key: value for key, value in (overrides or {}).items() if value is not None})
    # Values from the file and the environment are converted already, so only a
    # command-line value can fail to convert here.
    settings = Settings(
        **{key: _convert(key, value, "the command-line options") for key, value in values.items()}
    )
    _check(settings)
    return settings


def _from_pyproject(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read {path}: {error}. Fix the file or remove its [tool.agentos] table."
        ) from error
    table = document.get("tool", {}).get("agentos", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.agentos] in {path} must be a table, not {type(table).__name__}.")
    values = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise ConfigError(f"unknown key {key!r} in [tool.agentos] of {path}; {_nearest(name)}")
        values[name] = _convert(name, value, f"[tool.agentos] of {path}", shown=key)
    return values


def _nearest(name: str) -> str:
    """Suggest the known key closest to a mistyped ``name``, or list every known key."""
    close = difflib.get_close_matches(name, _FIELDS, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known keys: {', '.join(sorted(_FIELDS))}."


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for name in _FIELDS:
        variable = f"AGENTOS_{name.upper()}"
        if environ.get(variable, "") != "":
            values[name] = _convert(name, environ[variable], f"environment variable {variable}")
    return values


def _convert(name: str, value: Any, source: str, shown: str | None = None) -> Any:
    """Convert ``value`` to the type of field ``name``; ``source`` names where it came from.

    Strings (from the environment and flags) are parsed. Values from TOML must
    already have the right type, except that an int is accepted for a float,
    so a typo such as ``max_attempts = 3.5`` is an error rather than a 3.
    ``shown`` is the key as the user wrote it, when it differs from ``name``.
    """
    shown = shown or name
    default = _FIELDS[name].default
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ConfigError(
            f"invalid {shown} {value!r} in {source}; use one of {', '.join(_CHOICES[name])}."
        )
    if name == "model_prices" and isinstance(value, dict):
        # A TOML table such as {"gpt-4o-mini" = [0.15, 0.6]} becomes the flat string form.
        return ",".join(f"{model}={_price_pair(rates)}" for model, rates in value.items())
    try:
        if isinstance(default, bool):
            return _to_bool(value)
        if isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(value)
            return float(value)
        if value is not None and not isinstance(value, str):
            raise ValueError(value)
        return value
    except ValueError as error:
        kind = type(default).__name__ if default is not None else "str"
        raise ConfigError(
            f"invalid value {value!r} for {shown} in {source}: expected {kind}."
        ) from error


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes"):
            return True
        if lowered in ("0", "false", "no"):
            return False
    raise ValueError(value)


def _price_pair(rates: Any) -> str:
    if isinstance(rates, list | tuple) and len(rates) == 2:
        return f"{rates[0]}/{rates[1]}"
    return str(rates)


def _check(settings: Settings) -> None:
    if settings.provider not in PROVIDERS:
        raise ConfigError(
            f"invalid provider {settings.provider!r}; use one of {', '.join(PROVIDERS)}."
        )
    if settings.sandbox not in SANDBOXES:
        raise ConfigError(
            f"invalid sandbox {settings.sandbox!r}; use one of {', '.join(SANDBOXES)}."
        )
    if settings.max_attempts < 1:
        raise ConfigError(f"invalid max_attempts {settings.max_attempts}; it must be at least 1.")
    if settings.offline_max_candidates < 1:
        raise ConfigError(
            f"invalid offline_max_candidates {settings.offline_max_candidates}; "
            "it must be at least 1."
        )
    for name in ("test_timeout", "request_timeout", "offline_seconds"):
        if getattr(settings, name) <= 0:
            raise ConfigError(
                f"invalid {name} {getattr(settings, name)}; "
                "it must be a positive number of seconds."
            )
    for name in ("candidates", "max_rounds", "context_tokens"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"invalid {name} {getattr(settings, name)}; it must be at least 1.")
    for name in ("max_tokens", "max_cost", "heal_timeout"):
        if getattr(settings, name) < 0:
            raise ConfigError(
                f"invalid {name} {getattr(settings, name)}; it must be 0 (no limit) or more."
            )
    parse_prices(settings.model_prices)
    if settings.max_retries < 0:
        raise ConfigError(f"invalid max_retries {settings.max_retries}; it must be 0 or more.")
    if settings.provider == "openai" and not settings.model:
        raise ConfigError(
            "provider openai needs a model name; pass --model NAME, set AGENTOS_MODEL, "
            'or add model = "NAME" to [tool.agentos] in pyproject.toml.'
        )
