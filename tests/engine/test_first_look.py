"""The queue's first look (Engine.urgent): which messages go to the front when the server is busy.

Not a verdict (the engine decides the answer): a message it misses is answered in its turn, and a
message it sends ahead without need takes a crisis's place in the line, so both ways count.
"""

from __future__ import annotations

import pytest

from tests.support import engine


@pytest.mark.parametrize("text", ["さっき薬をODした", "I took an OD an hour ago", "call 911, my dad collapsed",
                                  "もう自分なんていらない", "家が火事です"])
def test_a_crisis_word_sends_the_message_to_the_front(text):
    assert engine().urgent(text)


@pytest.mark.parametrize("text", ["Where is the nearest food bank?", "I got fired from my job last week",
                                  "自分の時間が全然ない"])
def test_a_word_inside_an_ordinary_one_does_not(text):
    # "od" is in "food"; 自分 was left of 自分なんていらない when a whole ending was cut off
    assert not engine().urgent(text)
