"""Every fixed text the bot says to a resident: locales/<lang>.yaml, one file per reply language.

    say("vi", "reply.now")                    -> "Có thể liên lạc ngay"
    say("ja", "reply.area_used", name="浜松市") -> "浜松市の窓口も含めています（…）"
    check()                                   -> ["locales/vi.yaml:88: reply.speaks: ..."]  (empty: all well)

The files are read once, on first use.  Every key of locales/ja.yaml must stand in every file with the
same {placeholders}; button and quick-reply labels fit LINE's 20 characters (`bot i18n check`, and
tests/engine/test_texts.py).  A key missing at run time (a file edited after the check) falls back to
English, then Japanese, rather than leave a resident without an answer.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from pathlib import Path

from ruamel.yaml import YAML

from bot.types import REPLY_LANGS

log = logging.getLogger("tsunagu.texts")

ROOT = Path(__file__).resolve().parents[2]  # the repository (bot/engine/texts.py)
LOCALES_DIR = ROOT / "locales"
REFERENCE = "ja"  # the file every other must match
MAX_LABEL = 20  # LINE's quick-reply label; Telegram's buttons and LINE's Flex buttons allow more
LABELS = ("meta.name", "need.", "button.", "checkin.answer_")  # keys shown on buttons
_PLACEHOLDER = re.compile(r"\{(\w*)\}")

_tables: dict[str, dict[str, str]] | None = None
_lock = threading.Lock()


def _flatten(data: object, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out.update(_flatten(v, key + "."))
            else:
                out[key] = v
    return out


def load(directory: Path = LOCALES_DIR) -> dict[str, dict[str, str]]:
    """{lang: {"section.key": text}} for every reply language whose file exists."""
    tables = {}
    for lang in REPLY_LANGS:
        path = directory / f"{lang}.yaml"
        if path.exists():
            data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
            tables[lang] = {k: str(v) for k, v in _flatten(data).items() if v is not None}
    return tables


def tables() -> dict[str, dict[str, str]]:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                _tables = load()
    return _tables


def say(lang: str, key: str, **values: object) -> str:
    """The text `key` ("reply.now") in `lang`, its {placeholders} filled from `values`."""
    all_ = tables()
    text = all_.get(lang, {}).get(key)
    if text is None:
        for other in ("en", REFERENCE):
            text = all_.get(other, {}).get(key)
            if text is not None:
                log.error("locales: %s has no %s; said in %s", lang, key, other)
                break
        else:
            raise KeyError(f"no text {key!r} in locales/")
    return text.format(**values) if values else text


def has(lang: str, key: str) -> bool:
    return key in tables().get(lang, {})


def language_name(lang: str) -> str:
    """A reply language's name in itself (the language menu): "Tiếng Việt"."""
    return say(lang, "meta.name")


def weekdays(lang: str) -> list[str]:
    """Monday to Sunday, as `reply.weekdays` gives them (spaced, or one character each)."""
    days = say(lang, "reply.weekdays")
    return days.split() if " " in days else list(days)


# Telegram's language_code and what residents type after /lang, for each reply language.
_NAMES = {
    "ja": ("ja", "jp", "japanese", "日本語", "にほんご"),
    "ja-easy": ("ja-easy", "easy", "yasashii", "やさしい日本語", "やさしいにほんご", "やさしい"),
    "en": ("en", "english", "英語"), "zh": ("zh", "cn", "chinese", "中文", "简体中文", "中国語"),
    "vi": ("vi", "vn", "vietnamese", "tiếng việt", "tieng viet", "ベトナム語"),
    "ko": ("ko", "kr", "korean", "한국어", "韓国語"), "tl": ("tl", "fil", "tagalog", "filipino", "タガログ語"),
    "pt": ("pt", "br", "portuguese", "português", "portugues", "ポルトガル語"),
    "ne": ("ne", "np", "nepali", "नेपाली", "ネパール語"), "id": ("id", "in", "indonesian", "bahasa indonesia",
                                                            "bahasa", "インドネシア語"),
}


def lang_named(given: str) -> str | None:
    """The reply language a resident (or Telegram's language_code) names: "vi", "pt-BR", "Tiếng Việt"."""
    given = given.strip().lower().replace("_", "-")
    if not given:
        return None
    for code, names in _NAMES.items():
        if given in names:
            return code
    base = given.split("-")[0]
    for code, names in _NAMES.items():
        if base in names:
            return code
    return None


# -- the check ----------------------------------------------------------------------------------


def check(directory: Path = LOCALES_DIR) -> list[str]:
    """`file:line: what is wrong` for every key missing, extra, empty, with other placeholders than
    locales/ja.yaml's, or a label over 20 characters; and a file without its review status."""
    problems: list[str] = []
    raw: dict[str, dict] = {}
    for lang in REPLY_LANGS:
        path = directory / f"{lang}.yaml"
        if not path.exists():
            problems.append(f"{_shown(path)}: missing (every reply language needs its file)")
            continue
        try:
            raw[lang] = YAML().load(path.read_text(encoding="utf-8")) or {}
        except Exception as e:  # noqa: BLE001  (ruamel's many parse errors)
            problems.append(f"{_shown(path)}: not YAML ({type(e).__name__}: {str(e).splitlines()[0]})")
    if REFERENCE not in raw:
        return problems
    reference = _flatten(raw[REFERENCE])
    for lang, data in raw.items():
        path = _shown(directory / f"{lang}.yaml")
        flat = _flatten(data)
        meta = data.get("meta") if isinstance(data, dict) else None
        if not isinstance(meta, dict) or meta.get("code") != lang:
            problems.append(f"{path}:1: meta.code must be {lang!r}")
        if not isinstance(meta, dict) or not str(meta.get("review") or "").strip():
            problems.append(f"{path}:1: meta.review must say who wrote and reviewed this language")
        for key, value in reference.items():
            if key not in flat:
                problems.append(f"{path}:{_line(data, key)}: {key} missing")
                continue
            text = flat[key]
            where = f"{path}:{_line(data, key)}: {key}"
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{where}: empty or not text")
                continue
            want, got = _placeholders(str(value)), _placeholders(text)
            if want != got:
                problems.append(f"{where}: placeholders {sorted(got)} differ from ja's {sorted(want)}")
            if key.startswith(LABELS) and len(text) > MAX_LABEL:
                problems.append(f"{where}: label of {len(text)} characters (LINE shows {MAX_LABEL})")
        for key in flat.keys() - reference.keys():
            problems.append(f"{path}:{_line(data, key)}: {key} is not in ja.yaml")
    return problems


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _line(data: object, key: str) -> int:
    """The line of `key` ("reply.now") in a round-trip YAML document, or of the nearest section above it."""
    line, node = 1, data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            break
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            line = node.lc.key(part)[0] + 1  # type: ignore[attr-defined]
        node = node[part]
    return line


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
