"""Keyed hashes: the only form in which a platform id is ever stored.

    ("line", "U4af4980629...") --HMAC-SHA256(server key)--> "9c1f...e2" (resident key)

The server key comes from TSUNAGU_HASH_KEY; without it a random key is kept in
a file beside the SQLite database (mode 0600).  Losing the key only forgets
who is who: stored areas can no longer be matched to residents.

Rotating the key (docs/privacy.md): set the new TSUNAGU_HASH_KEY and the old one
in TSUNAGU_HASH_KEY_PREVIOUS.  A resident found under an old key is moved to the
new one when they next write; `bot purge` removes those who never come back.

An event that has to wait in the database for its turn (bot/service/parking.py) is
sealed first, with a key derived from the same server key: `Sealer` (AES-GCM).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_FILE_SUFFIX = ".hashkey"
SEAL_CONTEXT = b"tsunagu parked events v1"  # derives the sealing key from the hash key
NONCE_BYTES = 12


@dataclass(frozen=True)
class Hasher:
    key: bytes
    previous: tuple[bytes, ...] = ()  # keys being rotated out

    def resident(self, channel: str, platform_id: str) -> str:
        """The stored key of a resident: the same id on another channel is another resident."""
        return _hmac(self.key, channel, platform_id)

    def former(self, channel: str, platform_id: str) -> list[str]:
        """The resident's keys under the previous hash keys (newest first)."""
        return [_hmac(key, channel, platform_id) for key in self.previous]

    def __repr__(self) -> str:
        return f"Hasher(key=***, previous={len(self.previous)})"


@dataclass(frozen=True)
class Sealer:
    """AES-GCM under keys derived from the server's hash keys (the current one seals; every one opens):
    a parked event's text and ids are unreadable in the database without TSUNAGU_HASH_KEY."""

    keys: tuple[bytes, ...]

    @classmethod
    def of(cls, hasher: Hasher) -> Sealer:
        return cls(tuple(hmac.new(k, SEAL_CONTEXT, hashlib.sha256).digest() for k in (hasher.key, *hasher.previous)))

    def seal(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # imported only once something waits

        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.keys[0]).encrypt(nonce, data, SEAL_CONTEXT)

    def open(self, sealed: bytes) -> bytes:
        """The data; ValueError if no key opens it (sealed under a key no longer known, or altered)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        for key in self.keys:
            try:
                return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], SEAL_CONTEXT)
            except InvalidTag:
                continue
        raise ValueError("sealed under a key this server does not have")

    def __repr__(self) -> str:
        return f"Sealer(keys={len(self.keys)})"


def _hmac(key: bytes, channel: str, platform_id: str) -> str:
    return hmac.new(key, f"{channel}\x00{platform_id}".encode(), hashlib.sha256).hexdigest()


def load_key(env_key: str | None, sqlite_path: Path | None,
             previous: tuple[str, ...] = ()) -> tuple[Hasher, str]:
    """The hasher and a line for the start-up log saying where its key came from."""
    hasher, note = _load_key(env_key, sqlite_path)
    if previous:
        hasher = Hasher(hasher.key, tuple(k.encode() for k in previous))
        note += f"; {len(previous)} previous key(s) being rotated out"
    return hasher, note


def _load_key(env_key: str | None, sqlite_path: Path | None) -> tuple[Hasher, str]:
    if env_key:
        return Hasher(env_key.encode()), "hash key: TSUNAGU_HASH_KEY"
    path = (sqlite_path or Path("tsunagu.db")).with_suffix(KEY_FILE_SUFFIX)
    if path.exists():
        return Hasher(path.read_bytes().strip()), f"hash key: {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a 0600 temporary file, then linked into place: another
    # worker starting at the same moment sees either no key or the whole key.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
    try:
        os.link(tmp, path)
        note = (f"hash key: TSUNAGU_HASH_KEY not set; generated {path} (0600). "
                "Keep it with the database, or set TSUNAGU_HASH_KEY")
    except FileExistsError:
        note = f"hash key: {path}"
    finally:
        tmp.unlink()
    return Hasher(path.read_bytes().strip()), note
