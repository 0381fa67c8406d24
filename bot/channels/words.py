"""What the channels say besides a referral, and the phone numbers they dial.

Every text is in locales/<lang>.yaml (chat.*, button.*, privacy.*), read through bot.engine.texts;
the referral's own wording (hours, "free", "not a counsellor", 110/119) is bot.engine.render's.
Both channels use these; neither adds its own.  `lang` is a reply language, or "ja-easy+en"
(bot.engine.render.BOTH) for a resident whose language the bot does not write.
"""

from __future__ import annotations

import re

from bot.engine.render import BOTH, label, privacy, t
from bot.engine.texts import lang_named
from bot.types import REPLY_LANGS, Lang

__all__ = ["BOTH", "EMERGENCY", "FORGET_WORDS", "dial", "label", "lang_named", "languages", "number", "privacy",
           "t"]

# Emergency numbers are the same everywhere in Japan; every crisis reply offers them.
EMERGENCY = (("110", "button.police"), ("119", "button.ambulance"))
FORGET_WORDS = {"/forget", "forget me", "忘れて", "わすれて", "データを削除", "データを削除して"}
def languages() -> list[tuple[Lang, str]]:
    """(code, name in itself) of every reply language, for the language menu."""
    return [(code, label(code, "meta.name")) for code in REPLY_LANGS]  # type: ignore[misc]


_NUMBER = re.compile(r"#?\d[\d\-‐－ー ]*\d")


def number(phone: str) -> str | None:
    """The first dialable number in a catalogue phone field: "0120-279-338（岩手）" -> "0120-279-338"."""
    found = _NUMBER.search(phone)
    return found.group(0).strip() if found else None


def dial(phone: str) -> str | None:
    """A phone number as a tel: URI, digits only, '#' escaped: "#8891" -> "tel:%238891"."""
    found = number(phone)
    if not found:
        return None
    return "tel:" + "".join(c for c in found if c.isdigit() or c == "#").replace("#", "%23")
