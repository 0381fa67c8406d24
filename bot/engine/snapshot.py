"""A loaded engine kept as a pickle, so `bot serve` starts without parsing YAML or building indexes.

    Engine.load(): YAML + Sudachi + indexes, 2-3 s  --save-->  ~/.cache/tsunagu/engine-<key>.pickle
    next start with the same inputs and code        --load-->  the same Engine in about 50 ms

The key is a SHA-256 of what the engine is built from: the catalogue file (path and content),
the intent files, the bundled data, and the Python and Sudachi versions.  Inside the file, a
header lists every module of the engine package (the code that builds what the pickle holds:
the matcher's index from normalise.py and tokens.py too) and any other `bot` module whose
classes the pickle holds, with a hash of each one's source: a snapshot whose code has changed
since is not used (and is replaced).  The directory is the
user's own (0700, files 0600); TSUNAGU_CACHE_DIR chooses it, TSUNAGU_CACHE_DIR=off turns it off.
A snapshot that cannot be read or written is skipped: the engine is then loaded as usual.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import pickle
import platform
import threading
from importlib import metadata
from pathlib import Path

from bot.engine.engine import Engine, _mtime, default_catalogue_path
from bot.engine.understand.intents import INTENTS_DIR

log = logging.getLogger("bot.snapshot")
PACKAGE = Path(__file__).resolve().parents[1]  # bot/
KEEP = 3  # snapshots kept in the directory (other catalogues or versions); older ones are removed
FORMAT = 1


def cache_dir() -> Path | None:
    value = os.environ.get("TSUNAGU_CACHE_DIR", "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tsunagu"


def key(catalogue: Path, intents: Path = INTENTS_DIR) -> str:
    """What the engine is built from, hashed: any change to it is a new key."""
    h = hashlib.sha256()
    h.update(f"{FORMAT}|{platform.python_version()}|{_version('sudachipy')}|{_version('sudachidict-core')}".encode())
    h.update(str(catalogue.resolve()).encode())  # the engine keeps its path: reloads read that file
    for path in [catalogue, *sorted(intents.glob("*.yaml")), *sorted((PACKAGE / "data").glob("*.csv")),
                 *sorted((PACKAGE / "data" / "models").glob("*"))]:
        h.update(path.name.encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()[:32]


def load_engine(catalogue: Path | str | None = None) -> Engine:
    """The engine for `catalogue` (default: CATALOGUE_PATH or the bundled one), from a snapshot when one fits."""
    path = Path(catalogue) if catalogue else default_catalogue_path()
    where = cache_dir()
    if where is None:
        return Engine.load(path)
    file = where / f"engine-{key(path)}.pickle"
    try:
        with open(file, "rb") as f:
            header = pickle.load(f)
            if header.get("code") != _code(header.get("code", {})):
                raise LookupError("the code has changed since")
            state = pickle.load(f)
        engine = Engine.__new__(Engine)
        engine.__dict__.update(state)
        engine._lock = threading.Lock()
        # The same content (the key says so), perhaps at another path: watch this one.
        engine.catalogue_path = path
        engine._mtime = _mtime(path)
        log.info("engine from snapshot %s", file.name)
        return engine
    except FileNotFoundError:
        pass
    except Exception as e:  # noqa: BLE001  (an old, damaged or foreign snapshot: load as usual)
        log.info("engine snapshot %s not used (%s: %s)", file.name, type(e).__name__, e)
    engine = Engine.load(path)
    save(engine, file)
    return engine


def save(engine: Engine, file: Path) -> None:
    state = {k: v for k, v in engine.__dict__.items() if k != "_lock"}
    try:
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        reader = _ModulesSeen(io.BytesIO(data))
        reader.load()  # which of our modules' classes the pickle needs
        header = {"code": _code(dict.fromkeys(sorted(reader.modules | _engine_modules()), ""))}
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(header, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.write(data)
        os.replace(tmp, file)  # whole or not at all, even with several servers starting at once
    except Exception as e:  # noqa: BLE001  (read-only home, an attribute that cannot be pickled, ...)
        log.warning("engine snapshot not written (%s: %s)", type(e).__name__, e)
        return
    old = sorted(file.parent.glob("engine-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP:]:
        stale.unlink(missing_ok=True)


class _ModulesSeen(pickle.Unpickler):
    def __init__(self, f: io.BytesIO) -> None:
        super().__init__(f)
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> object:
        if module == "bot" or module.startswith("bot."):
            self.modules.add(module)
        return super().find_class(module, name)


def _engine_modules() -> set[str]:
    """The dotted names of every module under bot/engine/."""
    return {".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
            for path in (PACKAGE / "engine").rglob("*.py")}


def _code(modules: dict[str, str]) -> dict[str, str]:
    """{module: SHA-256 of its source now} for the modules named."""
    out = {}
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        out[name] = hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin else "-"
    return out


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"
