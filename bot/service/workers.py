"""`bot serve --workers N`: N server processes on one port, forked after everything is loaded.

    parent: imports, engine (bot/engine/snapshot.py), database upgrade, hash key, the listening socket
      |-- fork --> worker 1: create_app() + uvicorn on the shared socket   (the kernel hands each
      |-- fork --> worker N: ...                                            connection to one worker)
    parent: starts a worker again if one dies; SIGTERM/SIGINT stops them all, gracefully

Workers keep no state of their own: redelivery ids, residents and the log are in the
database, so any worker (or any host with the same DATABASE_URL) may answer any event.
Forking after the load shares the engine's memory and Sudachi's mapped dictionary
between workers (copy-on-write; `gc.freeze()` keeps the collector from copying it).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from bot.engine.understand.tokens import release_pages

log = logging.getLogger("bot.workers")
RESTARTS = 5  # a worker that dies this often within RESTART_WINDOW seconds stops the server
RESTART_WINDOW = 60.0


M_ARENA_MAX = -8  # glibc's mallopt parameter
ARENAS = 2


def limit_malloc_arenas() -> None:
    """At most two malloc arenas per process. glibc gives each thread that allocates its own arena
    (up to 8 per core), and each keeps what it once held: with the desk's threads, the writer and
    the encoder's buffers, a worker grew by ~18 MB more over 2,110 messages than with two, at the
    same speed (measured, 4 threads). Call before the threads start; elsewhere than glibc, nothing."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, ARENAS)
    except (OSError, AttributeError):
        pass


def freeze() -> None:
    """Move everything loaded so far out of the collector's sight: no copy-on-write, shorter pauses."""
    gc.collect()
    gc.freeze()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections wait here while the workers start
    sock.set_inheritable(True)
    return sock


def serve(make_app: Callable[[], Any], host: str, port: int, workers: int, **uvicorn_options: Any) -> int:
    """Run `make_app()` in `workers` forked processes sharing one socket; returns the exit code."""
    sock = bind(host, port)
    log.info("listening on %s:%d with %d workers", host, sock.getsockname()[1], workers)
    freeze()
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False
    deaths: list[float] = []

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent()
                release_pages()  # the parent's warm-up pages of Sudachi's dictionary: not this worker's
                config = uvicorn.Config(make_app(), **uvicorn_options)
                uvicorn.Server(config).run(sockets=[sock])
                code = 0
            except BaseException:  # noqa: BLE001  (reported here; the parent decides what follows)
                log.exception("worker %d failed", number)
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = number
        log.info("worker %d: pid %d", number, pid)

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(1, workers + 1):
        start(number)
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        number = children.pop(pid, None)
        if number is None or stopping:
            continue
        log.error("worker %d (pid %d) exited with %s; starting it again", number, pid,
                  os.waitstatus_to_exitcode(status))
        now = time.monotonic()
        deaths[:] = [t for t in deaths if now - t < RESTART_WINDOW] + [now]
        if len(deaths) > RESTARTS:
            log.error("workers keep dying: stopping")
            code = 1
            stop(signal.SIGTERM, None)
            continue
        start(number)
    sock.close()
    return code


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the parent is gone (never an orphan holding the port)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(0)
