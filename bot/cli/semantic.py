"""`bot semantic train|check`: the learned layers' models, trained from intents/*.yaml."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cmd_train(args) -> int:
    from bot.engine.understand.intents import load_intents
    from bot.engine.understand.training import MODELS_DIR, train

    try:
        import sklearn  # noqa: F401
    except ModuleNotFoundError:
        print("bot semantic train needs scikit-learn: pip install -e '.[train]'", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else MODELS_DIR
    print(f"training on intents/*.yaml -> {out} (the encoder reads every sentence: minutes)", flush=True)
    manifest = train(load_intents(), out)
    print(json.dumps({k: manifest[k] for k in ("fingerprint", "sentences", "grams")}, ensure_ascii=False))
    return 0


def cmd_check(args) -> int:
    """Exit 1 when the shipped models were trained on other intents than those in intents/."""
    from bot.engine.understand.intents import load_intents
    from bot.engine.understand.models import manifest
    from bot.engine.understand.training import fingerprint

    shipped, now = manifest().get("fingerprint"), fingerprint(load_intents())
    if shipped != now:
        print(f"the models were trained on other intents (shipped {shipped}, intents now {now}): "
              "run `bot semantic train`", file=sys.stderr)
        return 1
    print(f"models up to date with intents/ ({now})")
    return 0


def add_commands(sub) -> None:
    sem = sub.add_parser("semantic", help="the learned layers: train them from intents/, check they are current")
    actions = sem.add_subparsers(dest="action", required=True)
    p = actions.add_parser("train", help="fit the surface and semantic layers on intents/*.yaml (needs the train extra)")
    p.add_argument("--out", help="write the models here (default: bot/data/models)")
    p.set_defaults(func=cmd_train)
    p = actions.add_parser("check", help="exit 1 when the shipped models do not match intents/")
    p.set_defaults(func=cmd_check)
