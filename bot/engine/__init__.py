"""The referral engine: a resident's text in, a Referral out; no network, no database.

    text -> understand/ (normalise, Sudachi tokens, intents matched)  -> Match
         -> areas.py (where the resident is) + catalogue/ (services.yaml, hours)
         -> router.py (crisis first, open now, local)                  -> Referral
         -> render.py (the plain-text reply every channel starts from)

`Engine` (engine.py) holds the loaded parts; snapshot.py keeps a loaded one on disk for a fast
start, evaluation.py runs referral case files.  Nothing here imports the service, the channels,
the console or a database or web library (tests/test_architecture.py checks it).

`from bot.engine import Engine` imports engine.py on first use, so that a module that needs
only a part (the catalogue's hours, the reader in a child process) does not load Sudachi.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.engine.engine import Engine, default_catalogue_path

__all__ = ["Engine", "default_catalogue_path"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from bot.engine import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
