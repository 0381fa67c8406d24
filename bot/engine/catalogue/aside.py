"""load_catalogue() in a child process, so that a reload's parsing does not hold the server's GIL.

    Engine.reload() -> load_aside(path, intents, codes)
        python -m bot.engine.catalogue.aside
                reads the file, load_catalogue(), and writes the services, pickled in batches
                of BATCH, to its stdout
        <- each batch unpickled here (a few ms each, with a pause between them for the threads
           that answer residents), then Catalogue(...) indexes them: the caller swaps it in whole

Unpickling 30k entries makes some 200,000 objects: the collector is off meanwhile, and they
are frozen out of its rounds after (gc.freeze), else each full collection would walk them all
while every thread waits (five pauses of 200-400 ms in one 30k reload, measured).

A file under INLINE_BYTES (the shipped catalogue, about 350 KB) is loaded in this process: it
takes a tenth of a second and a child would take longer to start.  If the child cannot be
started, or dies, the catalogue is loaded here as before (and that is logged); a file with
problems is refused with the same `file:line: what is wrong` lines, computed in the child.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import struct
import subprocess
import sys
import time
from pathlib import Path

from bot.engine.catalogue.model import Catalogue, CatalogueError, load_catalogue

log = logging.getLogger("tsunagu.catalogue")
PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the folder that holds bot/
INLINE_BYTES = 1_000_000  # below this, load in this process
BATCH = 200  # services per pickle: unpickling one batch holds the GIL for a few ms
TIMEOUT = 1800.0  # seconds; a broken 30k-entry file is read whole by ruamel to say where (minutes)
_FRAME = struct.Struct("!Q")


def load_aside(path: Path | str, intent_ids: set[str] | None = None, area_codes: set[str] | None = None,
               text: str | None = None) -> Catalogue:
    """load_catalogue(path, intent_ids, area_codes, text), parsed and checked in a child process if large.

    `text`: the file's text as it is about to be written (a console edit, an import), else the file.
    """
    path = Path(path)
    try:
        size = len(text) * 2 if text is not None else path.stat().st_size  # ~bytes: kana and kanji are 3
    except OSError:
        size = 0
    if size < INLINE_BYTES or not sys.executable:
        return load_catalogue(path, intent_ids, area_codes, text=text)
    request = pickle.dumps((str(path), intent_ids, area_codes, text), protocol=pickle.HIGHEST_PROTOCOL)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run([sys.executable, "-m", "bot.engine.catalogue.aside"], input=request, capture_output=True,
                              env=env, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise CatalogueError([f"{path}:0: not read in {TIMEOUT:.0f} s"]) from None
    except OSError as exc:
        log.warning("catalogue: cannot start a child to read it (%s); reading it here", exc)
        return load_catalogue(path, intent_ids, area_codes, text=text)
    try:
        header, frames = _frames(done.stdout)
    except (ValueError, EOFError, pickle.UnpicklingError):
        log.warning("catalogue: the child reading it failed (exit %s: %s); reading it here", done.returncode,
                    done.stderr.decode("utf-8", "replace").strip()[-500:])
        return load_catalogue(path, intent_ids, area_codes, text=text)
    if "problems" in header:
        raise CatalogueError(header["problems"])
    collecting = gc.isenabled()
    gc.disable()  # no collection runs while some 200,000 new objects (30k entries) are made
    try:
        services: list = []
        for frame in frames:
            services.extend(pickle.loads(frame))
            time.sleep(0)  # let a thread that waits for the GIL (a reply) have it now
        if len(services) != header["count"]:
            raise CatalogueError([f"{path}:0: the child sent {len(services)} of {header['count']} services"])
        return Catalogue(tuple(services), header["path"], header["version"])
    finally:
        # The new catalogue lives until the next reload and holds no cycles (refcounting frees it):
        # leave it out of the collector's rounds, or the next full collection walks all of it at once,
        # a pause of a few hundred ms for every thread.  gc.freeze() does that for what is alive now.
        gc.freeze()
        if collecting:
            gc.enable()


def _frames(data: bytes) -> tuple[dict, list[memoryview]]:
    view = memoryview(data)
    frames: list[memoryview] = []
    at = 0
    while at < len(view):
        if at + _FRAME.size > len(view):
            raise ValueError("truncated")
        (size,) = _FRAME.unpack_from(view, at)
        at += _FRAME.size
        if at + size > len(view):
            raise ValueError("truncated")
        frames.append(view[at:at + size])
        at += size
    if not frames:
        raise ValueError("no header")
    header = pickle.loads(frames[0])
    if not isinstance(header, dict) or not ("problems" in header or "count" in header):
        raise ValueError("no header")
    return header, frames[1:]


def _child() -> int:
    gc.disable()  # a short life, and what it reads holds no cycles: no collections (7% faster at 30k)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # the replies first: on a busy machine the reload waits for a free core, not they
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr: stdout carries only the frames
    path, intent_ids, area_codes, text = pickle.load(sys.stdin.buffer)

    def send(obj: object) -> None:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_FRAME.pack(len(payload)))
        out.write(payload)

    try:
        cat = load_catalogue(path, intent_ids, area_codes, text=text)
    except CatalogueError as exc:
        send({"problems": exc.problems})
    else:
        send({"count": len(cat.services), "path": cat.path, "version": cat.version})
        for i in range(0, len(cat.services), BATCH):
            send(cat.services[i:i + BATCH])
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
