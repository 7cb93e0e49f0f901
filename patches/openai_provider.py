"""A patch provider that requests SEARCH/REPLACE blocks from an OpenAI-compatible chat model.

The endpoint is whatever the openai SDK is pointed at: ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY`` when the arguments are None, so OpenAI, gateways and local
servers (Ollama, vLLM, llama.cpp, LiteLLM) all work. The SDK retries 408,
409, 429, 5xx and connection failures with exponential backoff, honouring
``Retry-After`` up to a limit it sets itself, and this module logs each retry at
warning level.

Every problem with one reply becomes a :class:`~patches.types.Rejection`. Only
a problem with the endpoint itself (unreachable, wrong key, unknown model,
still rate limited after the retries, a response that is not a chat completion)
raises :class:`~patches.errors.ProviderError`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path, PurePosixPath

import openai
from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import Choice

from patches.context import enclosing_symbol
from patches.errors import EditError, ProviderError
from patches.guards import is_test_path
from patches.prompts import CodeExcerpt, build_messages, redact
from patches.replies import candidate_from_reply
from patches.types import Candidate, Proposal, Rejection, RepairRequest, Usage

logger = logging.getLogger(__name__)

MAX_SOURCE_FILES = 3  # repository files shown to the model besides the failing test
# Environment variables whose values are hidden from prompts; AUTHOR names are not secrets.
_SECRET_VARIABLE = re.compile(
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH(?!OR)", re.IGNORECASE
)
_MODEL_SETTING = "AGENTOS_MODEL or `model` in [tool.agentos]"


class OpenAIProvider:
    """Proposes patches from an OpenAI-compatible chat completions endpoint."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.0,
    ) -> None:
        """Create the client, with ``timeout`` in seconds per request attempt.

        Raises ProviderError when the model name or the API key is missing.
        """
        if not model or not model.strip():
            raise ProviderError(
                f"no model name is set for the openai provider. Set {_MODEL_SETTING} to a model "
                "that the endpoint serves."
            )
        self.model = model
        self.temperature = temperature
        self.max_retries = max_retries
        self.timeout = timeout
        http_client = openai.DefaultHttpxClient(
            event_hooks={"request": [self._log_retry], "response": [self._log_error_status]}
        )
        try:
            self._client = openai.OpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                http_client=http_client,
            )
        except openai.OpenAIError as error:
            raise ProviderError(
                "the API key for the model endpoint is missing. Set OPENAI_API_KEY (a local "
                "server such as Ollama accepts any non-empty value)."
            ) from error
        key = self._client.api_key
        if isinstance(key, str) and not key.strip():
            raise ProviderError(
                "OPENAI_API_KEY is empty. Set it to the endpoint's key (a local server such as "
                "Ollama accepts any non-empty value)."
            )
        self.base_url = str(self._client.base_url)
        self._api_key = key if isinstance(key, str) else ""

    def propose(self, request: RepairRequest, root: Path, limit: int) -> Proposal:
        """Request ``limit`` candidates; raise ProviderError when the endpoint fails."""
        if limit < 1:
            return Proposal()
        messages = build_messages(request, _excerpts(request, root), self._secrets())
        logger.info(
            "asking model %s at %s for %d candidate(s) for fault %s",
            self.model,
            self.base_url,
            limit,
            request.fault_id,
        )
        logger.debug("prompt for fault %s: %s", request.fault_id, messages)
        response = self._complete(messages, limit)
        usage = _usage(response)

        candidates: list[Candidate] = []
        rejections: list[Rejection] = []
        if not response.choices:
            rejections.append(Rejection(self.name, "the model returned no choices"))
        for number, choice in enumerate(response.choices, start=1):
            try:
                candidate = self._candidate(choice, root)
            except EditError as error:
                rejections.append(Rejection(self.name, f"choice {number}: {error}"))
                logger.info("rejected choice %d for fault %s: %s", number, request.fault_id, error)
                continue
            if candidate.diff in {known.diff for known in candidates}:
                rejections.append(Rejection(self.name, f"choice {number} repeats an earlier one"))
            elif len(candidates) < limit:
                candidates.append(candidate)
        logger.info(
            "model %s returned %d candidate(s) and %d rejection(s) for fault %s (%d tokens)",
            self.model,
            len(candidates),
            len(rejections),
            request.fault_id,
            usage.total_tokens,
        )
        return Proposal(tuple(candidates), tuple(rejections), usage)

    def _complete(self, messages: list[dict[str, str]], limit: int) -> ChatCompletion:
        arguments: dict[str, object] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
        }
        if limit > 1:
            arguments["n"] = limit  # some servers ignore n and send one choice, which is fine
        where = f"the model endpoint {self.base_url}"
        try:
            response = self._client.chat.completions.create(**arguments)  # type: ignore[call-overload]
        except openai.APITimeoutError as error:
            raise ProviderError(
                f"{where} timed out after {self.timeout:g} s (tried {self.max_retries + 1} "
                "times). Check that the server is up, or raise the request timeout."
            ) from error
        except openai.APIConnectionError as error:
            raise ProviderError(
                f"cannot connect to {where}: {error.__cause__ or error}. Check OPENAI_BASE_URL and "
                "that the server is running."
            ) from error
        except openai.AuthenticationError as error:
            raise ProviderError(
                f"{where} rejected the API key (HTTP 401). Set a valid OPENAI_API_KEY."
            ) from error
        except openai.PermissionDeniedError as error:
            raise ProviderError(
                f"{where} denied access to model {self.model!r} (HTTP 403). Check the key's "
                "permissions."
            ) from error
        except openai.NotFoundError as error:
            raise ProviderError(
                f"{where} has no model {self.model!r} (HTTP 404). Set {_MODEL_SETTING} to "
                "a model it serves, and check that OPENAI_BASE_URL includes the API path "
                "(often /v1)."
            ) from error
        except openai.RateLimitError as error:
            raise ProviderError(
                f"{where} is still rate limiting after {self.max_retries} retries (HTTP 429). Wait "
                "and heal again, or raise max_retries."
            ) from error
        except openai.APIStatusError as error:
            retried = f" after {self.max_retries} retries" if error.status_code >= 500 else ""
            raise ProviderError(
                f"{where} returned HTTP {error.status_code}{retried}: "
                f"{self._short(_server_message(error))}. Check the server's log."
            ) from error
        except openai.APIError as error:
            raise ProviderError(
                f"{where} returned an invalid response: {self._short(error.message)}. Check that "
                "OPENAI_BASE_URL points at an OpenAI-compatible API."
            ) from error
        except json.JSONDecodeError as error:
            raise ProviderError(
                f"{where} returned a body that is not valid JSON ({error.msg}). Check that "
                "OPENAI_BASE_URL points at an OpenAI-compatible API."
            ) from error

        if not isinstance(response, ChatCompletion) or response.choices is None:
            raise ProviderError(
                f"{where} returned something that is not a chat completion. Check that "
                "OPENAI_BASE_URL points at an OpenAI-compatible API (often ending in /v1)."
            )
        return response

    def _candidate(self, choice: Choice, root: Path) -> Candidate:
        """Turn one choice into a candidate, or raise EditError with the reason it cannot be one."""
        # The SDK does not validate replies, so any field may be missing.
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        refusal = getattr(message, "refusal", None)
        finish_reason = getattr(choice, "finish_reason", None)
        if refusal:
            raise EditError(f"the model returned a refusal: {self._short(refusal)}")
        return candidate_from_reply(
            text, root, provider=self.name, model=self.model, finish_reason=finish_reason
        )

    def _secrets(self) -> list[str]:
        """Return the values that must never reach a prompt: the key, secret-named variables."""
        values = [self._api_key]
        values += [value for name, value in os.environ.items() if _SECRET_VARIABLE.search(name)]
        return [value for value in values if value]

    def _short(self, text: str) -> str:
        """Cut a server's message to one line and hide any secret it echoes."""
        line = " ".join(str(text).split())
        return redact(line[:300], self._secrets())

    def _log_retry(self, request: object) -> None:
        headers = getattr(request, "headers", {})
        retry = headers.get("x-stainless-retry-count", "0")
        if retry.isdigit() and int(retry) > 0:
            logger.warning(
                "retrying the request to %s (retry %s of %d)",
                getattr(request, "url", self.base_url),
                retry,
                self.max_retries,
            )

    def _log_error_status(self, response: object) -> None:
        status = getattr(response, "status_code", 200)
        if status == 429 or status >= 500:
            logger.warning(
                "model endpoint %s returned HTTP %d (the openai client retries up to %d times)",
                self.base_url,
                status,
                self.max_retries,
            )


def _excerpts(request: RepairRequest, root: Path) -> list[CodeExcerpt]:
    """Pick the files to show: the fault's location, then repository frames, then the test."""
    places: list[tuple[str, int]] = []
    if request.location is not None:
        places.append((request.location.path, request.location.line))
    for frame in reversed(request.frames):
        if frame.in_repository and not is_test_path(frame.path):
            places.append((frame.path, frame.line))

    excerpts: list[CodeExcerpt] = []
    seen: set[str] = set()
    for path, line in places:
        if path in seen or len(excerpts) >= MAX_SOURCE_FILES:
            continue
        source = _read_shareable(root, path)
        if source is None:
            continue
        seen.add(path)
        excerpts.append(CodeExcerpt(path, source, line, symbol=_symbol_at(source, line, path)))

    test = _test_excerpt(request, root)
    if test is not None:
        excerpts.append(test)
    return excerpts


def _test_excerpt(request: RepairRequest, root: Path) -> CodeExcerpt | None:
    """Return the failing test's function as a read-only excerpt, to show the expected behaviour."""
    if not request.test_ids:
        return None
    path, _, rest = request.test_ids[0].partition("::")
    if not rest:
        return None
    symbol = ".".join(part.split("[")[0] for part in rest.split("::"))
    source = _read_shareable(root, path)
    if source is None:
        return None
    return CodeExcerpt(path, source, 1, read_only=True, symbol=symbol)


def _read_shareable(root: Path, path: str) -> str | None:
    """Read a repository file that may be shown to a model, or return None (for .env files too)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or pure.name.startswith(".env"):
        return None
    file = root / path
    try:
        return file.read_text(encoding="utf-8") if file.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        logger.debug("not showing %s to the model: %s", path, error)
        return None


def _symbol_at(source: str, line: int, path: str) -> str | None:
    try:
        return enclosing_symbol(source, line, path)
    except EditError:
        return None  # a file that does not parse is still shown whole or as a window


def _server_message(error: openai.APIStatusError) -> str:
    """Return the server's own error text, without the SDK's "Error code" prefix."""
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, str) and body.strip():
        return body
    return error.message


def _usage(response: ChatCompletion) -> Usage:
    reported = response.usage
    if reported is None:
        return Usage(requests=1)
    return Usage(
        prompt_tokens=reported.prompt_tokens or 0,
        completion_tokens=reported.completion_tokens or 0,
        requests=1,
    )
