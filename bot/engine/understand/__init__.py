"""Understanding a message: free text in, a Match (ranked needs, crisis flag, why) out.

    normalise.py  NFKC, case, small kana, long vowels, emoji, kana slips
    tokens.py     Sudachi tokens: lemma, reading, part of speech
    intents.py    intents/*.yaml: each need's labels, phrases and examples
    matcher.py    Matcher: the phrase index built once, each message matched against it
"""
