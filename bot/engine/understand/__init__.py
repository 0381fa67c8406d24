"""Understanding a message: free text in, a Match (ranked needs, crisis flag, why) out.

    normalise.py  NFKC, case, small kana, long vowels, emoji, kana slips
    tokens.py     Sudachi tokens: lemma, reading, part of speech
    intents.py    intents/*.yaml: each need's labels, phrases and examples
    phrases.py    the phrase and example index, built once from the intents
    hits.py       where the phrases and examples stand in one message: the evidence, negation
    scoring.py    evidence -> a score per need, the crisis flag and why, the ranking
    matcher.py    Matcher: the index built once; each message through hits and scoring

A new way of finding evidence (a semantic layer, a crisis detector, a language detector) is a
module beside these, giving `(intent, Evidence)` pairs for scoring.py to weigh.
"""
