"""Loopback fakes of the LINE and Telegram APIs, shared by tests, the CLI and benchmarks.

    bot server --(real SDK, HTTP on 127.0.0.1)--> FakeLineApi / FakeTelegramApi
                                                   records every call, answers like the platform

`Loopback(app)` runs any ASGI app (a fake, or the bot server itself) with
uvicorn in a thread on 127.0.0.1 and a free port.  The platform side of a
conversation (signed webhooks, updates) is built by bot.fakes.line and
bot.fakes.telegram.

Faults on demand, for the reliability tests:

    line.faults.add("reply", status=500)                  # the next reply call answers 500
    line.faults.add("reply", delay=3.0)                   # the next one is slow, then served as usual
    tg.faults.add("sendMessage", status=429, retry_after=1, times=2)
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Call:
    """One request the bot made to a fake platform API."""

    method: str  # the API's own name: "reply", "sendMessage", "richmenu", ...
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    status: int = 200  # what the fake answered

    @property
    def ok(self) -> bool:
        return self.status < 300


@dataclass
class Fault:
    """What a fake API does instead of its usual answer, for the next `times` matching calls."""

    method: str
    times: int = 1  # -1: every call
    status: int | None = None  # answer this status instead; None: answer as usual (after `delay`)
    delay: float = 0.0  # seconds to wait before answering
    retry_after: int | None = None  # Telegram: parameters.retry_after of a 429
    message: str | None = None  # the error's message / description
    when: Callable[[dict[str, Any]], bool] | None = None  # only calls whose params match


class Faults:
    """Faults waiting for calls; each call takes the first that matches (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, method: str, **kw: Any) -> Fault:
        fault = Fault(method, **kw)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, params: dict[str, Any]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and (fault.when is None or fault.when(params)):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class Recorder:
    """Calls in arrival order, safe to read from another thread."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._cond = threading.Condition()
        self.listeners: list[Callable[[Call], None]] = []

    def add(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        for listener in self.listeners:
            listener(call)

    def calls(self, method: str | None = None, ok: bool | None = None) -> list[Call]:
        """Calls of `method` (all methods if None); `ok=True` only those answered with success."""
        with self._cond:
            return [c for c in self._calls if (method is None or c.method == method) and (ok is None or c.ok == ok)]

    def clear(self) -> None:
        with self._cond:
            self._calls.clear()

    def wait(self, method: str, count: int = 1, timeout: float = 5.0, ok: bool | None = None) -> list[Call]:
        """Block until `count` calls of `method` arrived; raises TimeoutError if they do not."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls if c.method == method and (ok is None or c.ok == ok)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{method}: {len(found)} of {count} calls after {timeout}s")
                self._cond.wait(left)

    def quiet(self, method: str, seconds: float = 0.5, ok: bool | None = None) -> list[Call]:
        """Wait `seconds` and return the calls of `method`: for asserting that nothing came."""
        time.sleep(seconds)
        return self.calls(method, ok)


class Loopback:
    """Serve an ASGI app on 127.0.0.1 in a background thread.

        with Loopback(app) as server:
            httpx.get(server.url + "/healthz")
    """

    def __init__(self, app: Any, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="auto")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"loopback-{self.port}")
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as e:  # noqa: BLE001  (reported by start())
            self.error = e

    def start(self, timeout: float = 20.0) -> Loopback:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.error or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.url} did not start in {timeout}s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
