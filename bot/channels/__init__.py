"""Channels: thin adapters between a chat platform and the Desk (bot/service/desk.py).

    platform webhook -> line.py | telegram.py   verify, parse, turn platform errors into our own
                     -> Desk.answer(...)        -> Referral
                     -> render for the platform (words.py: what the channels say besides a referral)

The two channels import neither each other nor the server (tests/test_architecture.py).
This module holds the one thing they share besides the Desk: the data of their buttons.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from bot.types import Referral


def action(data: str) -> dict[str, str]:
    """A button's data (LINE postback, Telegram callback) as a dict: "a=more&i=x&p=1"."""
    try:
        return dict(parse_qsl(data, strict_parsing=True))
    except ValueError:
        return {}


def more_action(referral: Referral, page: int = 1, limit: int = 300) -> str | None:
    """The data of a "more services" button for a referral, within `limit` bytes; None if there is no need."""
    ids = [i.id for i in referral.intents if i.tier != "meta"][:3]
    while ids:
        data = urlencode({"a": "more", "i": ",".join(ids), "p": page}, safe=",")
        if len(data.encode()) <= limit:
            return data
        ids.pop()
    return None
