"""services.yaml read quickly, with the line of every entry and of each of its keys.

ruamel's round-trip loader gives lines but reads some 50 entries a second here (a 30k-entry
catalogue took 7 to 12 minutes); its C parser (ruamel.yaml.clib's libyaml 0.1.7, which ruamel
0.19 no longer installs) refuses our file: it reads YAML 1.1, where a plain scalar in a flow
mapping may not hold ':', and phone_alt notes say `{number: ..., note: 月〜金 9:00〜21:00}`.
It would not be fast either: ruamel resolves each scalar in Python, about 1 s per 1k entries.

Measured again on 2026-12-05 (issue 12) on the 2-core development machine, every reader giving
each entry's line and each key's line (the safe loaders compose nodes for their marks), best of
10 on the shipped file (0.35 MB, 249 entries) and of 3 on a 30,000-entry file made by
bot.bench.catalogue_text (41.5 MB): this reader 13 ms and 1.75 s; PyYAML 6.0.4's CSafeLoader
(libyaml 0.2.6, which does read the file) 45 ms (3.4x) and 14.8 s (8.4x); PyYAML's pure
SafeLoader 0.33 s and 64 s; ruamel's pure safe loader 0.49 s (37x) and 76 s (44x); ruamel's
round-trip loader 0.64 s (49x) on the shipped file.  None is within 2x, and PyYAML reads YAML
1.1, not the 1.2 of the checks: `yes` is true and `0120` is 80, the second of two equal keys
silently wins (ruamel and this reader refuse the entry), and of the 75 edits in
tests/engine/test_catalogue.py that either refuses, 20 are refused at another line than ruamel's
or by one of the two only.  (The machine was shared and busy: the ratios say more than the
seconds.)  So this reader stays, and the tests keep comparing it with ruamel's round-trip reading.

So the file is read in two ways, entry by entry, to the same values and lines:

    the catalogue's own shape    in plain Python, line by line: a list of entries at column 0,
                                 each a block mapping of `key: value` lines; values plain,
                                 'single' or "double" quoted (no escapes) or flow ([a, b],
                                 {days: [mon], open: "09:00"}) on one line; nested block
                                 mappings and sequences (hours, phone_alt)
    anything else in an entry    ruamel's round-trip loader, on that entry's text alone, its
                                 lines moved by where the entry starts (anchors, block
                                 scalars, multi-line values, escapes, duplicate keys, tabs...)
    a file that is not a list    ruamel's round-trip loader on the whole file, as before
    of entries at column 0

Plain scalars are resolved with ruamel's own YAML 1.2 rules (its regular expressions, its
constructor for numbers and dates), so a value is what the round-trip loader would give.
A YAML error is reported as the round-trip loader reports it on the whole file: the first
one, at its line.  Where an entry's error may come from cutting the file, ruamel reads on from
that entry (an unclosed quote or bracket: it stops at the error, usually within an entry or
two), or the whole file (an alias of an anchor in another entry).
tests/engine/test_catalogue.py compares the two readings on the shipped file and on mutations of it.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import ComposerError
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import implicit_resolvers
from ruamel.yaml.tag import Tag


@dataclass
class Entry:
    """One item of the catalogue list: its value, its line, and the line of each of its keys."""

    raw: Any
    line: int
    keys: dict[Any, int]


class YamlProblem(Exception):
    """Not valid YAML, or not a list: `line` and `message`, as the round-trip loader says it.

    `constructed`: found once the text was parsed (a duplicate key, a date like 2024-13-45);
    `cut`: found reading one entry alone, where the rest of the file may change it.
    """

    def __init__(self, line: int, message: str, constructed: bool = False, cut: bool = False):
        super().__init__(message)
        self.line = line
        self.message = message
        self.constructed = constructed
        self.cut = cut


class _Unsupported(Exception):
    """Outside the shape read here: the entry goes to ruamel."""


_DOCUMENT = re.compile(r"^(?:---|\.\.\.)(?=[ \t\n]|$)|^%", re.M)  # document markers, directives
# What ruamel's reader refuses, plus what this reader leaves to ruamel: CR, NEL, LS, PS, BOM.
_AWKWARD = re.compile("[^\x09\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +|$)")
_PLAIN_FIRST = set("-?:,[]{}#&*!|>'\"%@` ")  # a plain scalar starting so is left to ruamel
_FLOW_STOP = re.compile(r"[,\[\]{}:#]")

_STR, _NULL, _BOOL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"
_CONSTRUCTED = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
_RESOLVERS: dict[str, list[tuple[str, Any]]] = {}  # first character -> ruamel's YAML 1.2 rules
for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions:
        for _ch in _first:
            _RESOLVERS.setdefault(_ch, []).append((_tag, _regexp))
# A plain scalar starting with none of these is a string: no YAML 1.2 rule of ruamel's applies to it.
_NOT_SIMPLY_STR = frozenset(_PLAIN_FIRST) | {ch for ch in _RESOLVERS if ch}


def parse(text: str) -> list[Entry]:
    """The catalogue's entries; YamlProblem if it is not valid YAML or not a list."""
    if "\r" in text:
        if re.search(r"\r(?!\n)", text):
            return parse_whole(text)
        text = text.replace("\r\n", "\n")  # one line break in YAML: the same values, the same lines
    if text.startswith("\ufeff") and not text.startswith("\ufeff\ufeff"):
        text = text[1:]  # a byte order mark, as Windows editors write: ruamel skips it too
    tabs = "\t" in text
    probe = text.replace("\n", " ")
    if not (probe.replace("\t", " ") if tabs else probe).isprintable() and _AWKWARD.search(text):
        return parse_whole(text)  # characters ruamel refuses (it says where), or odd line breaks
    if (text.startswith(("---", "...", "%")) or "\n---" in text or "\n..." in text or "\n%" in text) and (
        _DOCUMENT.search(text)
    ):
        return parse_whole(text)
    lines = text.split("\n")
    starts = [n for n, ln in enumerate(lines) if ln[:1] == "-" and (len(ln) == 1 or ln[1] == " ")]
    if any(ln.strip() and ln.lstrip()[0] != "#" for ln in lines[: starts[0] if starts else len(lines)]):
        return parse_whole(text)  # a mapping, a flow list, an indented list...: ruamel, as before
    reader = _Reader()
    entries: list[Entry] = []
    constructed: YamlProblem | None = None  # ruamel parses the whole file before it constructs anything
    starts.append(len(lines))
    for a, b in zip(starts, starts[1:], strict=False):
        try:
            if tabs and any("\t" in ln for ln in lines[a:b]):
                raise _Unsupported
            entries.append(reader.entry(lines, a, b))
            continue
        except _Unsupported:
            pass
        try:
            entries.append(_entry_by_ruamel("\n".join(lines[a:b]) + "\n", a))
            continue
        except YamlProblem as exc:
            if exc.constructed:
                constructed = constructed or exc
                continue
            if not exc.cut:
                raise
        # An error at the end of the entry's text: a quote or a bracket perhaps closed further on.
        # ruamel reads from this entry to the end, as it would have read it in the whole file.
        try:
            data = _load_rt("\n".join(lines[a:]), a)
        except YamlProblem as exc:
            if exc.cut:
                return parse_whole(text)  # an alias of an anchor further up
            raise (constructed or exc) if exc.constructed else exc from None
        if not isinstance(data, list):
            return parse_whole(text)
        entries += [_entry_of(data, i, a) for i in range(len(data))]
        break
    if constructed:
        raise constructed
    return entries


def parse_whole(text: str) -> list[Entry]:
    """The whole file by ruamel's round-trip loader (the way every file was read before)."""
    data = _load_rt(text, 0)
    if data is None:
        return []
    if not isinstance(data, list):
        raise YamlProblem(1, "the catalogue must be a list of services")
    return [_entry_of(data, i, 0) for i in range(len(data))]


def _load_rt(text: str, offset: int, entry: bool = False) -> Any:
    """ruamel's round-trip reading of `text`, which starts after line `offset` of the file."""
    try:
        return YAML(typ="rt").load(text)
    except (ConstructorError, DuplicateKeyError) as exc:
        raise YamlProblem(_mark_line(exc, offset), f"not valid YAML: {exc.problem}", constructed=True) from None
    except YAMLError as exc:
        cut = isinstance(exc, ComposerError) or (entry and _at_end(exc, text))  # an alias, or unclosed
        raise YamlProblem(_mark_line(exc, offset), f"not valid YAML: {getattr(exc, 'problem', exc)}",
                          cut=cut) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a date like 2024-13-45: ruamel says not where
        raise YamlProblem(offset + 1 if entry else 0, f"not valid YAML: {exc}", constructed=True) from None


def _mark_line(exc: Exception, offset: int) -> int:
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 + offset if mark else 0


def _at_end(exc: YAMLError, text: str) -> bool:
    """Is the error at the end of the text (where one entry's text was cut from the file)?"""
    index = getattr(getattr(exc, "problem_mark", None), "index", None)
    return index is None or index >= len(text.rstrip())


def _entry_by_ruamel(text: str, offset: int) -> Entry:
    data = _load_rt(text, offset, entry=True)
    if not isinstance(data, list) or len(data) != 1:
        raise YamlProblem(offset + 1, "not one entry", cut=True)  # cannot be, for text from '- ' to '- '
    return _entry_of(data, 0, offset)


def _entry_of(data: Any, i: int, offset: int) -> Entry:
    raw = data[i]
    try:
        line = data.lc.item(i)[0] + 1 + offset
    except (AttributeError, KeyError, TypeError, IndexError):
        line = 0
    keys: dict[Any, int] = {}
    if isinstance(raw, dict) and hasattr(raw, "lc"):
        for key in raw:
            with contextlib.suppress(AttributeError, KeyError, TypeError):
                keys[key] = raw.lc.key(key)[0] + 1 + offset
    return Entry(raw, line, keys)


_END = (0, -1, "")  # after an entry's last line


class _Reader:
    """The catalogue's own shape of YAML, one entry at a time; _Unsupported for anything else."""

    def __init__(self) -> None:
        self._scalars: dict[str, Any] = {}  # plain scalar -> value, for those ruamel would not leave a str
        self._flows: dict[str, Any] = {}  # '[a, b]' -> its value, read once
        self._keys: set[str] = set()  # keys known to be strings
        self._constructor: Any = None

    def entry(self, lines: list[str], a: int, b: int) -> Entry:
        """The entry on lines[a:b] (its first line is '- ...')."""
        content: list[tuple[int, int, str]] = []  # (line number, indent, text) of each line with content
        add = content.append
        for n, text in enumerate(lines[a:b], a + 1):
            body = text.lstrip(" ")
            if body and body[0] != "#":
                add((n, len(text) - len(body), body.rstrip(" ") if body[-1] == " " else body))
        add(_END)
        value, p = self._sequence(content, 0, 0, top=True)
        if p != len(content) - 1 or len(value) != 1:
            raise _Unsupported
        raw, keys = value[0]
        return Entry(raw, a + 1, keys)

    # -- blocks (`lines` ends with _END, whose indent is below any) --------------------------------

    def _block(self, lines: list, p: int, indent: int) -> tuple[Any, int]:
        text = lines[p][2]
        if text[0] == "-" and (len(text) == 1 or text[1] == " "):
            return self._sequence(lines, p, indent)
        return self._mapping(lines, p, indent)

    def _sequence(self, lines: list, p: int, indent: int, top: bool = False) -> tuple[list, int]:
        items: list[Any] = []
        while lines[p][1] == indent:
            n, _, text = lines[p]
            if text[0] != "-" or (len(text) > 1 and text[1] != " "):
                break
            rest = text[1:].lstrip(" ")
            if not rest or rest[0] == "#" or (rest[0] == "-" and (len(rest) == 1 or rest[1] == " ")):
                raise _Unsupported  # '-' alone, '- # ...', '- - x'
            if _KEY.match(rest):
                inner = indent + len(text) - len(rest)
                lines[p] = (n, inner, rest)  # a compact mapping: its first key on the dash's line
                value, keys, p = self._mapping(lines, p, inner, with_lines=True)
                items.append((value, keys) if top else value)
            else:
                if top:
                    raise _Unsupported  # an entry that is not a mapping: ruamel says so
                items.append(self._inline(rest))
                p += 1
                if lines[p][1] > indent:
                    raise _Unsupported  # a plain scalar going on over lines, or an error
        if lines[p][1] > indent:
            raise _Unsupported
        return items, p

    def _mapping(self, lines: list, p: int, indent: int, with_lines: bool = False) -> Any:
        value: dict[str, Any] = {}
        keys: dict[str, int] = {}
        known = self._keys
        while True:
            n, at, text = lines[p]
            if at != indent:
                break
            colon = text.find(": ")
            key = text[:colon] if colon > 0 else None
            if key in known:  # a key seen before, so a name: what _KEY would find
                rest = text[colon + 2:]
                if rest[:1] == " ":
                    rest = rest.lstrip(" ")
            else:
                m = _KEY.match(text)
                if m is None:
                    raise _Unsupported  # '- item' inside a mapping, 'key : v', "quoted": v, a Japanese key...
                key = m.group(1)
                if type(self._plain(key)) is not str:
                    raise _Unsupported  # a key that is null, true, 1...
                known.add(key)
                rest = text[m.end():]
            if key in value:
                raise _Unsupported  # a duplicate: ruamel refuses it, and says where
            p += 1
            below = lines[p][1]
            if rest and rest[0] != "#":
                if below > indent:
                    raise _Unsupported  # a value going on over lines, or an error
                if rest[0] in _NOT_SIMPLY_STR or " #" in rest or ": " in rest or rest[-1] == ":":
                    value[key] = self._inline(rest)
                else:
                    value[key] = rest  # plain, and no YAML 1.2 rule makes it anything but a string
            elif below > indent:
                value[key], p = self._block(lines, p, below)
            elif below == indent and lines[p][2][0] == "-" and (len(lines[p][2]) == 1 or lines[p][2][1] == " "):
                value[key], p = self._sequence(lines, p, indent)  # `key:` then `- item` at the key's indent
            else:
                value[key] = None
            keys[key] = n
        if lines[p][1] > indent:
            raise _Unsupported
        return (value, keys, p) if with_lines else (value, p)

    # -- one line -----------------------------------------------------------------------------

    def _inline(self, text: str) -> Any:
        """A value on the rest of a line (already without its trailing spaces)."""
        c = text[0]
        if c in "[{":
            known = self._flows.get(text)
            if known is not None:
                return _fresh(known)  # the same [mon, tue, ...] again: a copy of the first reading
            value, i = self._flow(text, 0)
            rest = text[i:]
            if rest and not (rest[0] == " " and rest.lstrip(" ")[:1] in ("", "#")):
                raise _Unsupported
            self._flows[text] = value
            return _fresh(value)
        if c in "'\"":
            value, i = self._flow(text, 0)
            rest = text[i:]
            if rest and not (rest[0] == " " and rest.lstrip(" ")[:1] in ("", "#")):
                raise _Unsupported
            return value
        if c in _PLAIN_FIRST and not (c == "-" and text[1:2] not in ("", " ")):
            raise _Unsupported
        cut = text.find(" #")
        if cut >= 0:
            text = text[:cut].rstrip(" ")
        if ": " in text or text.endswith(":"):
            raise _Unsupported
        return self._plain(text)

    def _flow(self, s: str, i: int) -> tuple[Any, int]:
        c = s[i] if i < len(s) else ""
        if c == "[":
            out: list[Any] = []
            i = _spaces(s, i + 1)
            if s[i:i + 1] == "]":
                return out, i + 1
            while True:
                value, i = self._flow(s, i)
                out.append(value)
                i = _spaces(s, i)
                c = s[i:i + 1]
                if c == "]":
                    return out, i + 1
                if c != ",":
                    raise _Unsupported  # 'a: b' pairs, an unclosed list, ...
                i = _spaces(s, i + 1)
                if s[i:i + 1] in ("]", ",", ""):
                    raise _Unsupported
        if c == "{":
            mapping: dict[str, Any] = {}
            i = _spaces(s, i + 1)
            if s[i:i + 1] == "}":
                return mapping, i + 1
            while True:
                m = _KEY.match(s, i)
                if not m or m.end() == len(s) or s[m.end() - 1] != " ":
                    raise _Unsupported
                key = m.group(1)
                if key in mapping or type(self._plain(key)) is not str:
                    raise _Unsupported
                mapping[key], i = self._flow(s, m.end())
                i = _spaces(s, i)
                c = s[i:i + 1]
                if c == "}":
                    return mapping, i + 1
                if c != ",":
                    raise _Unsupported
                i = _spaces(s, i + 1)
                if s[i:i + 1] in ("}", ",", ""):
                    raise _Unsupported
        if c == "'":
            j = i + 1
            while True:
                j = s.find("'", j)
                if j < 0:
                    raise _Unsupported  # goes on over lines
                if s[j + 1:j + 2] != "'":
                    return s[i + 1:j].replace("''", "'"), j + 1
                j += 2
        if c == '"':
            j = s.find('"', i + 1)
            if j < 0 or "\\" in s[i + 1:j]:
                raise _Unsupported  # escapes, or going on over lines
            return s[i + 1:j], j + 1
        if not c or (c in _PLAIN_FIRST and not (c == "-" and s[i + 1:i + 2] not in ("", " ", ",", "[", "]", "{", "}"))):
            raise _Unsupported
        # A plain scalar inside [] or {}: to , [ ] { } or ': '; ':' before anything else is in it.
        j = i
        while True:
            m = _FLOW_STOP.search(s, j)
            if not m:
                raise _Unsupported  # an unclosed [ or {
            j = m.start()
            ch = s[j]
            if ch == ":" and s[j + 1:j + 2] not in (" ", ",", "[", "]", "{", "}", ""):
                j += 1
                continue
            if ch == "#" and s[j - 1] != " ":
                j += 1
                continue
            if ch in ":#":
                raise _Unsupported  # a pair in a list, 'a:]', a comment inside brackets
            break
        text = s[i:j].rstrip(" ")
        if not text:
            raise _Unsupported
        return self._plain(text), j

    def _plain(self, text: str) -> Any:
        """A plain scalar's value, as ruamel's YAML 1.2 resolver and round-trip constructor give it."""
        rules = _RESOLVERS.get(text[0]) if text else _RESOLVERS.get("")
        if not rules:
            return text
        try:
            return self._scalars[text]
        except KeyError:
            pass
        tag = next((tag for tag, regexp in rules if regexp.match(text)), _STR)
        if tag == _STR:
            value: Any = text
        elif tag == _NULL:
            value = None
        elif tag == _BOOL:
            value = text.lower() == "true"
        elif tag in _CONSTRUCTED:
            if self._constructor is None:
                self._constructor = YAML(typ="rt").constructor
            try:
                value = self._constructor.construct_object(ScalarNode(Tag(suffix=tag), text), deep=True)
            except (YAMLError, ValueError, TypeError, OverflowError):
                raise _Unsupported from None  # ruamel, on the entry, says what is wrong
        else:
            raise _Unsupported  # '<<' (merge), '=' (value)
        self._scalars[text] = value
        return value


def _fresh(value: Any) -> Any:
    """A copy of a list or mapping read from flow style (its scalars are immutable: shared)."""
    if type(value) is list:
        return [_fresh(v) if type(v) in _CONTAINERS else v for v in value]
    return {k: _fresh(v) if type(v) in _CONTAINERS else v for k, v in value.items()}


_CONTAINERS = (list, dict)


def _spaces(s: str, i: int) -> int:
    while i < len(s) and s[i] == " ":
        i += 1
    return i
