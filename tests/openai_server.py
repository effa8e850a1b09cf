"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests: answers by rule, not a model.

It speaks enough of the OpenAI API for the `openai` client and llama-index `OpenAILike`, over
real sockets, with the stdlib only (a `ThreadingHTTPServer` in a daemon thread, like httpx's
`serve_in_thread`), so it starts in milliseconds. Its compromise: the answers are a fixed rule,
so tests can predict them exactly; they say nothing about how a real model words things.

Endpoints
    GET  /v1/models             one model, "scripted" (never faulty: usable as a health check)
    POST /v1/chat/completions   `stream` false: one `chat.completion` JSON body.
                                `stream` true: SSE `data: {chat.completion.chunk}\\n\\n` events,
                                one per word, then a chunk with `finish_reason`, a usage chunk if
                                `stream_options.include_usage`, then `data: [DONE]`.
    anything else               404 with an OpenAI-style error body.

The rule (mode "ok"), applied to the messages of the request:
    1. A system message containing "standalone" (the follow-up rewrite): reply with the last
       line of the last user message that starts with "Follow-up:", prefix removed, plus
       " (standalone)". With no such line, the whole user message plus " (standalone)".
    2. Else a system message containing "translate" (any case): reply with the text after the
       last "Question:" of the last user message, unchanged (stripped).
    3. Else read the passages of the last user message. A passage starts with a line
       `[n] <section path>`; its text is the lines after it, up to the next `[n]` line or a
       blank line (if no line follows, the rest of the `[n]` line is the text). Reply
           "<first sentence of [1]> [1]"                                  or, with a [2],
           "<first sentence of [1]> [1] <first sentence of [2]> [2]"
       A first sentence ends at the first . ! or ? followed by whitespace or the end, or at the
       first 。 ！ or ？ (newlines inside it become spaces); with no such mark it is the whole
       text.
    4. No passage [1]: reply "The document does not say."
    `max_tokens` (or `max_completion_tokens`) caps the reply at that many words, and then
    `finish_reason` is "length". Usage counts are words, not tokens.

Fault modes (`server.mode`, settable between requests; they apply to chat completions only):
    "ok"             the rule above
    "http_500"       status 500 with an OpenAI-style error body, streaming or not
    "slow"           waits `slow_seconds` (default 5), then answers as "ok": for client timeouts
    "hang"           reads the request and never answers (holds the connection until the server
                     stops): an endpoint that accepts and then stalls, for deadlines
    "cut_stream"     streaming: the role chunk and one content chunk, then the connection is
                     closed inside the chunked body (no final chunk, no [DONE]).
                     Not streaming: half of the promised Content-Length, then closed.
    "bad_citations"  answers "Claim one [7]. Claim two [1]." ([7] points at no passage)
    "no_citations"   answers the first sentence of passage [1] with no marker
                     (these two change rule 3 only: rewrites and translations stay as in "ok")
    "garbage"        status 200 whose body is not JSON: not streaming, an HTML page sent as
                     `application/json`; streaming, SSE events whose data is not JSON
Every request body is appended to `server.requests` (after JSON parsing), in arrival order.

What the `openai` 2.54 client raises (max_retries=0; pinned by tests/test_openai_server.py):
    http_500     openai.InternalServerError (status_code 500), from create(), streaming or not
    slow, hang   openai.APITimeoutError (cause httpx.ReadTimeout), from create(), either way
    cut_stream   streaming: httpx.RemoteProtocolError, raw (openai does not wrap it), while
                 iterating, after the first words; not streaming: openai.APIConnectionError
                 (cause httpx.RemoteProtocolError) from create()
    garbage      json.JSONDecodeError, raw: from create(), or while iterating a stream.
                 (Had the body come as text/html instead, create() would *return the text as
                 a str* without raising: callers must check the type they get back.)

Usage:
    with ScriptedChatServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        server.mode = "http_500"
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, get_args

FaultMode = Literal[
    "ok", "http_500", "slow", "hang", "cut_stream", "bad_citations", "no_citations", "garbage"
]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)

MODEL_ID = "scripted"
REFUSAL = "The document does not say."
BAD_CITATIONS = "Claim one [7]. Claim two [1]."
GARBAGE_BODY = b"<html><body><h1>502 Bad Gateway</h1>this is not JSON</body></html>"

_PASSAGE_HEAD = re.compile(r"^\[(\d+)\]\s*(.*)$")
# CJK full stops are not followed by a space, so they end a sentence wherever they stand.
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[\u3002\uff01\uff1f]")


# ---------------------------------------------------------------------------- the rule


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def passages_in(prompt: str) -> dict[int, str]:
    """Passage number -> passage text, read from `[n] section` blocks (see the module doc)."""
    passages: dict[int, str] = {}
    number: int | None = None
    head = ""
    body: list[str] = []

    def close() -> None:
        if number is not None and number not in passages:
            passages[number] = " ".join(body) if body else head

    for line in prompt.splitlines():
        match = _PASSAGE_HEAD.match(line)
        if match:
            close()
            number, head, body = int(match.group(1)), match.group(2).strip(), []
        elif number is not None:
            if line.strip():
                body.append(line.strip())
            else:
                close()
                number = None
    close()
    return passages


def first_sentence(text: str) -> str:
    """Text up to its first sentence end (see the module docstring), whitespace collapsed."""
    text = " ".join(text.split())
    match = _SENTENCE_END.search(text)
    return text[: match.end()] if match else text


def scripted_reply(messages: list[dict[str, Any]], mode: FaultMode = "ok") -> str:
    """The reply the server gives to `messages` in `mode` (the rule of the module docstring)."""
    system = " ".join(message_text(m) for m in messages if m.get("role") == "system")
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    user = users[-1] if users else ""
    if "standalone" in system.lower():
        follow_ups = [
            line.strip()[len("Follow-up:") :].strip()
            for line in user.splitlines()
            if line.strip().startswith("Follow-up:")
        ]
        return (follow_ups[-1] if follow_ups else user.strip()) + " (standalone)"
    if "translate" in system.lower():
        _, found, after = user.rpartition("Question:")
        return after.strip() if found else user.strip()
    if mode == "bad_citations":
        return BAD_CITATIONS
    passages = passages_in(user)
    if 1 not in passages:
        return REFUSAL
    if mode == "no_citations":
        return first_sentence(passages[1])
    reply = f"{first_sentence(passages[1])} [1]"
    if 2 in passages:
        reply += f" {first_sentence(passages[2])} [2]"
    return reply


# ---------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 for keep-alive and chunked streams: only a chunked body can be cut mid-way in a
    # way the client notices (an HTTP/1.0 body simply ends when the connection closes).
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: pytest shows stderr of failing tests, and access logs are noise there

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer any more

    # -- routing

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "citeqa"}
                    ],
                },
            )
        else:
            self._send_error(404, f"no route GET {self.path}", "not_found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error(404, f"no route POST {self.path}", "not_found")
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(400, "the body must be a JSON object with 'messages'", "bad_request")
            return
        scripted = self.server.scripted
        scripted._record(body)
        self._chat(body, scripted.mode, scripted)

    # -- chat completions

    def _chat(self, body: dict[str, Any], mode: FaultMode, scripted: ScriptedChatServer) -> None:
        is_stream = bool(body.get("stream"))
        if mode == "http_500":
            self._send_error(500, "scripted fault: internal server error", "server_error")
            return
        if mode == "slow" and scripted._stopping.wait(scripted.slow_seconds):
            self.close_connection = True
            return  # the server is stopping: do not answer
        if mode == "hang":
            scripted._stopping.wait()
            self.close_connection = True
            return
        if mode == "garbage" and not is_stream:
            self._send_raw(200, "application/json", GARBAGE_BODY)
            return
        reply = scripted_reply(body["messages"], mode)
        words = re.findall(r"\S+\s*", reply)
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        finish_reason = "stop"
        if isinstance(limit, int) and 0 < limit < len(words):
            words, finish_reason = words[:limit], "length"
        content = "".join(words).rstrip()
        model = str(body.get("model") or MODEL_ID)
        completion_id = f"chatcmpl-scripted-{scripted._next_id()}"
        created = int(time.time())
        prompt_words = sum(len(message_text(m).split()) for m in body["messages"])
        usage = {
            "prompt_tokens": prompt_words,
            "completion_tokens": len(words),
            "total_tokens": prompt_words + len(words),
        }
        if not is_stream:
            payload = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
            }
            data = json.dumps(payload).encode()
            if mode == "cut_stream":
                self._send_head(200, "application/json", len(data))
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send_raw(200, "application/json", data)
            return

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        self._send_head(200, "text/event-stream", None)
        if mode == "garbage":
            self._send_event(GARBAGE_BODY)
            self._send_event(b"[DONE]")
            self._end_chunks()
            return
        pieces = [w if i < len(words) - 1 else w.rstrip() for i, w in enumerate(words)]
        self._send_event(chunk({"role": "assistant", "content": ""}, None))
        if mode == "cut_stream":
            self._send_event(chunk({"content": pieces[0] if pieces else ""}, None))
            self.close_connection = True  # no terminating chunk: the body is incomplete
            return
        for piece in pieces:
            self._send_event(chunk({"content": piece}, None))
        self._send_event(chunk({}, finish_reason))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            self._send_event({**chunk({}, None), "choices": [], "usage": usage})
        self._send_event(b"[DONE]")
        self._end_chunks()

    # -- writing

    def _send_head(self, status: int, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send_raw(self, status: int, content_type: str, data: bytes) -> None:
        self._send_head(status, content_type, len(data))
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send_raw(status, "application/json", json.dumps(payload).encode())

    def _send_error(self, status: int, message: str, kind: str) -> None:
        error = {"message": message, "type": kind, "param": None, "code": f"scripted_{status}"}
        self._send_json(status, {"error": error})

    def _send_event(self, data: dict[str, Any] | bytes) -> None:
        encoded = data if isinstance(data, bytes) else json.dumps(data).encode()
        event = b"data: " + encoded + b"\n\n"
        self.wfile.write(b"%X\r\n%s\r\n" % (len(event), event))
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in "slow" mode must not block stop()
    scripted: ScriptedChatServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a name look-up we neither need nor want.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class ScriptedChatServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that answers by rule (module docstring).

    `start()` binds (port 0 picks a free port) and serves from a daemon thread; `stop()` shuts
    it down and wakes any handler waiting in "slow" or "hang" mode. `mode` may be changed between
    requests from any thread; `requests` holds every chat-completion body received;
    `reset()` puts mode back to "ok" and forgets the requests.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.slow_seconds: float = 5.0  # longer than any timeout a test gives its client
        self.requests: list[dict[str, Any]] = []
        self._mode: FaultMode = "ok"
        self._lock = threading.Lock()
        self._count = 0
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, "http://127.0.0.1:PORT/v1" (valid once started)."""
        if self._httpd is None:
            raise RuntimeError("ScriptedChatServer is not started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def mode(self) -> FaultMode:
        with self._lock:
            return self._mode

    @mode.setter
    def mode(self, value: FaultMode) -> None:
        if value not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {value!r}; choose from {FAULT_MODES}")
        with self._lock:
            self._mode = value

    def reset(self) -> None:
        """Back to mode "ok" with no recorded requests (for a server shared by many tests)."""
        with self._lock:
            self._mode = "ok"
            self.requests.clear()

    def start(self) -> ScriptedChatServer:
        """Bind and serve in a daemon thread; returns self. Raises OSError if the port is taken."""
        if self._httpd is not None:
            raise RuntimeError("ScriptedChatServer is already started")
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.scripted = self
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ScriptedChatServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedChatServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    def _next_id(self) -> int:
        with self._lock:
            self._count += 1
            return self._count
