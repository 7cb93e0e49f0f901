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

import dataclasses
import json
import logging
import re
from pathlib import Path

import openai
from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import Choice

from patches.dedup import normal_form
from patches.errors import EditError, ProviderError
from patches.prompt_context import build_context
from patches.prompts import build_messages
from patches.replies import candidate_from_reply
from patches.secrets import environment_secrets, redact, shareable_secrets
from patches.tool_calls import EDIT_TOOL, reply_text
from patches.types import Candidate, Proposal, Rejection, RepairRequest, Usage

logger = logging.getLogger(__name__)

_MODEL_SETTING = "AGENTOS_MODEL or `model` in [tool.agentos]"


class OpenAIProvider:
    """Proposes patches from an OpenAI-compatible chat completions endpoint."""

    name = "openai"
    accepts_feedback = True

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.0,
        choices: int | None = None,
        context_tokens: int = 8000,
        tool_calling: bool = False,
    ) -> None:
        """Create the client, with ``timeout`` in seconds per request attempt.

        ``choices`` is the number of replies requested at once (the API's
        ``n``), by default the ``limit`` of each call to :meth:`propose`.
        ``context_tokens`` is the estimated size limit of the code shown.
        ``tool_calling`` offers the model an edit tool (:mod:`patches.tool_calls`).

        Raises ProviderError when the model name or the API key is missing.
        """
        if not model or not model.strip():
            raise ProviderError(
                f"no model name is set for the openai provider. Set {_MODEL_SETTING} to a model "
                "that the endpoint serves."
            )
        self.model = model
        self.temperature = temperature
        self.choices = choices
        self.context_tokens = context_tokens
        self.tool_calling = tool_calling
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
        context = build_context(request, root, self.context_tokens)
        secrets = self._secrets() + shareable_secrets(root)
        messages = build_messages(request, context, secrets)
        wanted = self.choices or limit
        logger.info(
            "asking model %s at %s for %d candidate(s) for fault %s (round %d)",
            self.model,
            self.base_url,
            wanted,
            request.fault_id,
            len(request.history) + 1,
        )
        logger.debug("prompt for fault %s: %s", request.fault_id, messages)
        response = self._complete(messages, wanted)
        usage = _usage(response)

        candidates: list[Candidate] = []
        rejections: list[Rejection] = []
        if not response.choices:
            rejections.append(Rejection(self.name, "the model returned no choices"))
        seen: set[tuple[tuple[str, str], ...]] = set()
        for number, choice in enumerate(response.choices, start=1):
            text = _reply_text(choice)
            try:
                candidate = self._candidate(choice, root, context.editable)
            except EditError as error:
                reason = redact(f"choice {number}: {error}", secrets)
                rejections.append(Rejection(self.name, reason, text))
                logger.info("rejected choice %d for fault %s: %s", number, request.fault_id, reason)
                continue
            key = normal_form(candidate)
            if key in seen:
                rejections.append(Rejection(self.name, f"choice {number} repeats an earlier one"))
            elif len(candidates) < limit:
                seen.add(key)
                candidates.append(dataclasses.replace(candidate, reply=text))
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
        if self.tool_calling:
            arguments["tools"] = [EDIT_TOOL]
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

    def _candidate(self, choice: Choice, root: Path, editable: frozenset[str]) -> Candidate:
        """Turn one choice into a candidate, or raise EditError with the reason it cannot be one."""
        # The SDK does not validate replies, so any field may be missing.
        message = getattr(choice, "message", None)
        text = reply_text(message) or None
        refusal = getattr(message, "refusal", None)
        finish_reason = getattr(choice, "finish_reason", None)
        if refusal:
            raise EditError(f"the model returned a refusal: {self._short(refusal)}")
        # Files the model was not shown may still be created, but not edited.
        allowed = editable | _missing_paths(text or "", root)
        return candidate_from_reply(
            text,
            root,
            provider=self.name,
            model=self.model,
            finish_reason=finish_reason,
            allowed=allowed,
        )

    def _secrets(self) -> list[str]:
        """Return the values that must never reach a prompt: the key, secret-named variables."""
        return [value for value in [self._api_key, *environment_secrets()] if value]

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


def _reply_text(choice: Choice) -> str:
    return reply_text(getattr(choice, "message", None))


def _missing_paths(text: str, root: Path) -> frozenset[str]:
    """Return the paths a reply names that do not exist yet, which it may create."""
    names = re.findall(r"[\w./-]+\.\w+", text)
    return frozenset(
        name
        for name in names
        if "/" in name or name.endswith(".py")
        if not name.startswith(("/", "..")) and ".." not in name and not (root / name).exists()
    )


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
