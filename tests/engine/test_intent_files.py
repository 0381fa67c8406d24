"""intents/ holds one file per taxonomy id: no id missing, none unknown."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from bot.engine.understand.intents import INTENTS_DIR, load_intents
from tests.support import ROOT, SHARED

SPECS = [ROOT / "spec" / "intents.yaml", SHARED / "spec" / "intents.yaml"]


@pytest.mark.parametrize("spec", [p for p in SPECS if p.exists()], ids=lambda p: str(p.parent.parent.name))
def test_every_taxonomy_id_has_an_intent_file_and_no_file_is_unknown(spec):
    taxonomy = {item["id"]: item["tier"] for item in YAML(typ="safe").load(spec.read_text(encoding="utf-8"))}
    files = load_intents(INTENTS_DIR)
    assert set(files) >= set(taxonomy), f"missing: {sorted(set(taxonomy) - set(files))}"
    assert set(files) <= set(taxonomy), f"unknown ids: {sorted(set(files) - set(taxonomy))}"
    for intent_id, tier in taxonomy.items():
        assert files[intent_id].tier == tier


def test_the_shipped_taxonomy_copy_matches_the_shared_one():
    if not SPECS[1].exists():
        pytest.skip("shared/ is not beside the repo")
    assert SPECS[0].read_text(encoding="utf-8") == SPECS[1].read_text(encoding="utf-8")


def test_every_need_has_phrases_examples_and_an_opening_line_in_every_language():
    from bot.engine import texts
    from bot.types import REPLY_LANGS

    for spec in load_intents(INTENTS_DIR).values():
        assert all(texts.has(lang, f"opening.{spec.id}") and texts.has(lang, f"need.{spec.id}")
                   for lang in REPLY_LANGS), spec.id
        if spec.tier != "meta":
            assert len(spec.phrases) >= 15, spec.id
            assert len(spec.examples) >= 8, spec.id
