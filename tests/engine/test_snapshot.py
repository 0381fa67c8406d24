"""The engine snapshot `bot serve` starts from: the same engine, never a stale one."""

from __future__ import annotations

import pickle
import shutil

from bot.engine import Engine, snapshot
from tests.support import ROOT

TEXTS = ["もう死にたい", "借金が返せなくて眠れない", "息子がひきこもりで悩んでいる", "浜松市に住んでいます。介護がつらい"]


def test_a_snapshot_gives_the_same_engine_and_is_remade_when_anything_changes(tmp_path, monkeypatch, caplog):
    caplog.set_level("INFO", logger="bot.snapshot")
    monkeypatch.setenv("TSUNAGU_CACHE_DIR", str(tmp_path / "cache"))
    catalogue = tmp_path / "services.yaml"
    shutil.copy(ROOT / "services.yaml", catalogue)

    built = snapshot.load_engine(catalogue)
    [file] = (tmp_path / "cache").glob("engine-*.pickle")
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    again = snapshot.load_engine(catalogue)
    assert "engine from snapshot" in caplog.text
    assert isinstance(again, Engine) and again.catalogue_path == catalogue
    for text in TEXTS:
        assert again.route(text).intents == built.route(text).intents
        assert [h.service_id for h in again.route(text).services] == [h.service_id for h in built.route(text).services]
    assert again.reload() == []  # its lock and path work: a reload reads this very file

    catalogue.write_text(catalogue.read_text().replace("\n  name: ", "\n  name: 改", 1))
    caplog.clear()
    changed = snapshot.load_engine(catalogue)
    assert "engine from snapshot" not in caplog.text
    assert changed.catalogue.services[0].name.startswith("改")
    assert len(list((tmp_path / "cache").glob("engine-*.pickle"))) == 2

    # Code that changed since the snapshot was made: the snapshot is not used.
    [newest] = sorted((tmp_path / "cache").glob("engine-*.pickle"), key=lambda p: p.stat().st_mtime)[-1:]
    with open(newest, "rb") as f:
        header, rest = pickle.load(f), f.read()
    assert "bot.engine.catalogue.model" in header["code"] and "bot.engine.understand.matcher" in header["code"]
    # the code that builds the index, though the pickle holds no class of it
    assert {"bot.engine.understand.normalise", "bot.engine.understand.tokens"} <= header["code"].keys()
    header["code"]["bot.engine.catalogue.model"] = "an older version"
    newest.write_bytes(pickle.dumps(header) + rest)
    caplog.clear()
    snapshot.load_engine(catalogue)
    assert "not used" in caplog.text and "code has changed" in caplog.text


def test_off_means_no_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("TSUNAGU_CACHE_DIR", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert snapshot.cache_dir() is None
    assert isinstance(snapshot.load_engine(), Engine)
    assert not list(tmp_path.rglob("engine-*.pickle"))
