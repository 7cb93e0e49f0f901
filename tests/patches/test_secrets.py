"""Secrets stay out of prompts, logs and heal records."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from patches.secrets import RedactingFilter, environment_secrets, redact, shareable_secrets


def test_env_file_values_found(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# local\nexport DB_PASSWORD='s3cr3t-value'\nDEBUG=1\n")
    (tmp_path / ".env.local").write_text("STRIPE=rk_live_abcdef123456\n")
    assert shareable_secrets(tmp_path) == ["s3cr3t-value", "rk_live_abcdef123456"]


def test_secret_variables_found() -> None:
    environ = {"MY_API_KEY": "abc123xyz", "AUTHOR": "Ada Lovelace", "HOME": "/root"}
    assert environment_secrets(environ) == ["abc123xyz"]


def test_private_key_block_hidden() -> None:
    text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----\nend"
    assert redact(text) == "key:\n[REDACTED]\nend"


def test_bearer_token_hidden() -> None:
    assert redact("Authorization: Bearer abcdefghijklmnop1234") == "Authorization: [REDACTED]"


def test_ordinary_code_kept() -> None:
    code = "max_tokens = 100\ntoken = tokens[0]\n"
    assert redact(code) == code


def test_filter_redacts_log_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.secrets")
    secret_filter = RedactingFilter(["hunter2-password"])
    logger.addFilter(secret_filter)
    try:
        with caplog.at_level(logging.INFO, logger="tests.secrets"):
            logger.info("connecting with %s", "hunter2-password")
    finally:
        logger.removeFilter(secret_filter)
    assert "hunter2-password" not in caplog.text
    assert "connecting with [REDACTED]" in caplog.text
