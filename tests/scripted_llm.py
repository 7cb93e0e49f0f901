"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests that use the real openai client.

Usage::

    with ScriptedLLM([Reply.error(429, headers={"Retry-After": "0"}), Reply.text(answer)]) as llm:
        client = openai.OpenAI(api_key="test-key", base_url=llm.base_url)
        ...
        assert len(llm.requests) == 2

Each ``POST /v1/chat/completions`` consumes the next :class:`Reply` in order.
When the script runs out, the server responds with HTTP 500 and a message
saying so, which the openai client treats as a server error. Every request is
recorded in :attr:`ScriptedLLM.requests` with its headers and parsed body.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    """One scripted response, built with the class methods below."""

    status: int = 200
    choices: tuple[str | None, ...] = ()  # message contents, where None sends null
    finish_reason: str = "stop"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None  # a raw body replaces the generated JSON
    content_type: str = "application/json"
    delay: float = 0.0  # seconds to wait before responding
    usage: tuple[int, int] | None = (120, 40)  # (prompt, completion) tokens, or None for no usage
    tool_call: tuple[str, str] | None = None  # (function name, raw arguments) for every choice

    @classmethod
    def text(
        cls,
        *contents: str | None,
        finish_reason: str = "stop",
        usage: tuple[int, int] | None = (120, 40),
    ) -> Reply:
        """A completion with one choice per content, all with ``finish_reason``."""
        return cls(choices=contents, finish_reason=finish_reason, usage=usage)

    @classmethod
    def tool(cls, name: str, arguments: str, content: str | None = None) -> Reply:
        """A completion whose one choice calls the tool ``name`` with raw ``arguments``."""
        return cls(choices=(content,), finish_reason="tool_calls", tool_call=(name, arguments))

    @classmethod
    def error(
        cls, status: int, message: str = "scripted error", headers: dict[str, str] | None = None
    ) -> Reply:
        """An HTTP error with an OpenAI-style error body and optional headers (e.g. Retry-After)."""
        body = json.dumps(
            {"error": {"message": message, "type": "scripted_error", "param": None, "code": None}}
        ).encode()
        return cls(status=status, body=body, headers=tuple((headers or {}).items()))

    @classmethod
    def delayed(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Wait ``seconds``, then send ``then`` (by default a short text), to test timeouts."""
        return dataclasses.replace(then or cls.text("late answer"), delay=seconds)

    @classmethod
    def raw(cls, body: str | bytes, status: int = 200, content_type: str = "text/html") -> Reply:
        """A body sent as it is, such as an HTML page or broken JSON."""
        data = body.encode() if isinstance(body, str) else body
        return cls(status=status, body=data, content_type=content_type)

    @classmethod
    def no_choices(cls) -> Reply:
        """A well-formed completion whose ``choices`` list is empty."""
        return cls(choices=())


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received, with ``body`` the parsed JSON or None for other bodies."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any
    raw: bytes = field(repr=False, default=b"")


class ScriptedLLM:
    """The server, used as a context manager so that its thread stops."""

    def __init__(self, replies: list[Reply]) -> None:
        self._replies = list(replies)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval makes shutdown quick at the end of each test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The URL, ending in "/v1", to pass as the openai client's ``base_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded requests to the chat completions endpoint."""
        return [request for request in self.requests if request.path == CHAT_PATH]

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()  # wakes handlers that are still delaying
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            return self._replies.pop(0) if self._replies else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorded = RecordedRequest("POST", self.path, headers, body, raw)
                if self.path != CHAT_PATH:
                    server._record(recorded)
                    message = f"no route for POST {self.path}"
                    self._send(404, _error_body(message), "application/json")
                    return
                reply = server._next_reply(recorded)
                if reply is None:
                    number = len(server.requests)
                    message = f"ScriptedLLM has no scripted reply left for request {number}"
                    self._send(500, _error_body(message), "application/json")
                    return
                if reply.delay and server._stopping.wait(reply.delay):
                    return  # the test is over, so no client waits for this response
                body_bytes = reply.body if reply.body is not None else _completion(reply, body)
                self._send(reply.status, body_bytes, reply.content_type, reply.headers)

            def _send(
                self,
                status: int,
                data: bytes,
                content_type: str,
                headers: tuple[tuple[str, str], ...] = (),
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the requests are recorded instead of logged

        return Handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _completion(reply: Reply, request: Any) -> bytes:
    model = request.get("model") if isinstance(request, dict) else None
    document: dict[str, Any] = {
        "id": f"chatcmpl-scripted-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model or "scripted-model",
        "system_fingerprint": None,
        "choices": [
            {
                "index": index,
                "message": _message(reply, content),
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
            for index, content in enumerate(reply.choices)
        ],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        document["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return json.dumps(document).encode()


def _message(reply: Reply, content: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if reply.tool_call is not None:
        name, arguments = reply.tool_call
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        ]
    return message


def _error_body(message: str) -> bytes:
    error = {"message": message, "type": "scripted_error", "param": None, "code": None}
    return json.dumps({"error": error}).encode()
