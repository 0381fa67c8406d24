"""Which language a message is written in, and which language to answer it in (issue 16).

    text -> NFKC -> letters counted by script (kana, kanji, hangul, latin, devanagari, ...)
         -> a script that names its language: kana -> ja, hangul -> ko, Thai -> th, Myanmar -> my, ...
            kanji only -> ja, unless Chinese-only characters or Chinese function words say zh
            devanagari -> ne (hi when Hindi's function words outnumber Nepali's)
         -> latin letters: Vietnamese letters -> vi; else each language's common words
            + lingua (low accuracy, preloaded) over en vi tl pt id es fr de
         -> Detection(language, lang, why, simple_japanese)

Why rules before the model: lingua reads short kanji-only Japanese (自殺, 借金地獄) as Chinese and,
in its low accuracy mode, short Latin messages at random ("I want to die" as German).  High
accuracy would cost about 150 MB a worker; the low accuracy models of the eight Latin-script
languages cost about 20 MB (measured: `bot bench`), and the common words settle the short ones.

`language` is what the message is written in (ISO 639-1, "ja-easy" for very simple Japanese, "und"
when it says too little to tell); `lang` is the reply language (locales/<lang>.yaml): the language
itself when we write it, やさしい日本語 (with English) for any other, and for "und" the best guess,
which a remembered language overrides (router.reply_lang).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from typing import NamedTuple

import jaconv

from bot.types import REPLY_LANGS, Lang

UNDETERMINED = "und"


class Detection(NamedTuple):
    language: str  # ISO 639-1 code of the message's language, "ja-easy", or "und"
    lang: Lang  # the language to reply in
    why: str  # for staff: which rule or score decided
    simple_japanese: bool  # kana only or very simple Japanese: offer やさしい日本語


# -- scripts ------------------------------------------------------------------------------------

# (first, last, script) code point ranges; a letter outside all of them counts as "other".
_RANGES = (
    (0x3040, 0x309F, "hira"), (0x30A0, 0x30FF, "kata"), (0x31F0, 0x31FF, "kata"),
    (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0xF900, 0xFAFF, "han"),
    (0xAC00, 0xD7AF, "hangul"), (0x1100, 0x11FF, "hangul"), (0x3130, 0x318F, "hangul"),
    (0x0041, 0x024F, "latin"), (0x1E00, 0x1EFF, "latin"),
    (0x0900, 0x097F, "devanagari"), (0x0980, 0x09FF, "bengali"), (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"), (0x0B80, 0x0BFF, "tamil"), (0x0C00, 0x0C7F, "telugu"),
    (0x0D80, 0x0DFF, "sinhala"), (0x0E00, 0x0E7F, "thai"), (0x0E80, 0x0EFF, "lao"),
    (0x0F00, 0x0FFF, "tibetan"), (0x1000, 0x109F, "myanmar"), (0x10A0, 0x10FF, "georgian"),
    (0x1200, 0x137F, "ethiopic"), (0x1780, 0x17FF, "khmer"), (0x1800, 0x18AF, "mongolian"),
    (0x0370, 0x03FF, "greek"), (0x0400, 0x04FF, "cyrillic"), (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"),
)
# A script that names one language (or one we would answer the same way).
SCRIPT_LANGUAGE = {
    "hangul": "ko", "thai": "th", "lao": "lo", "myanmar": "my", "khmer": "km", "sinhala": "si",
    "bengali": "bn", "tamil": "ta", "telugu": "te", "gurmukhi": "pa", "gujarati": "gu", "georgian": "ka",
    "armenian": "hy", "hebrew": "he", "greek": "el", "ethiopic": "am", "mongolian": "mn", "tibetan": "bo",
}
# A kana or a kanji says more than one Latin letter does: weigh them so in a mixed message.
_WEIGHT = {"hira": 3, "kata": 3, "han": 3, "hangul": 3}


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    o = ord(ch)
    for first, last, name in _RANGES:
        if first <= o <= last:
            return name
    return "other"


def scripts(text: str) -> Counter[str]:
    """Letters of each script in `text` (digits, spaces, punctuation and emoji not counted)."""
    return Counter(s for s in map(_script, text) if s is not None)


# -- Japanese or Chinese, when there is no kana -------------------------------------------------

# Characters of simplified (and traditional) Chinese that Japanese writing does not use.
_CHINESE_ONLY = set(
    "们这个说钱吗么还过为对时让给从关题边东车长门问间见现实发经习样应该开无业处帮办难养觉话饭压离妈儿爱谢怎"
    "钟岁买卖贷债资劳动药饿网电脑语认识虑烦恼杀欢乐妇结续签证护绝请谁哪吃"
    "們這說沒錢麼嗎妳會來對樣讓從關邊實發經學應處醫辦幫覺壓媽兒"
)
# Words Chinese uses in almost every sentence and Japanese kanji-only messages seldom do.
_CHINESE_FUNCTION = set("我你您她他的了吗呢吧啊很都也就还没这那么什怎谁想要不是在有去和把被给让会能好累太孩")


def _chinese(han: str) -> tuple[bool, str]:
    only = sorted({c for c in han if c in _CHINESE_ONLY})
    if only:
        return True, "characters Japanese does not use: " + "".join(only[:5])
    function = [c for c in han if c in _CHINESE_FUNCTION]
    if len(function) >= 2 and len(function) / len(han) >= 0.4:
        return True, "Chinese function words: " + "".join(function[:5])
    return False, "kanji only, no Chinese-only characters or function words: Japanese"


# -- very simple Japanese -----------------------------------------------------------------------

_SPACED = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]+")


def _simple_japanese(text: str, counts: Counter[str]) -> str:
    """Why the message reads as very simple Japanese ("" if it does not)."""
    kana = counts["hira"] + counts["kata"]
    han = counts["han"]
    if not han and kana >= 6:
        return "kana only"
    chunks = _SPACED.findall(text)
    if len(chunks) >= 3 and text.count(" ") >= 2 and sum(map(len, chunks)) / len(chunks) <= 5:
        return "short phrases separated by spaces"
    if kana + han >= 15 and han / (kana + han) < 0.08:
        return "almost no kanji"
    return ""


# -- Latin letters: common words, then lingua ---------------------------------------------------

# The words of each language that short messages are made of (the team's own lists).  A word two
# languages share often (no, me, a, la, que, na) is left out of both.
COMMON_WORDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "en": "i i'm im i've my myself you your the an and to of in is am are was were have has had want "
          "need can can't cannot don't dont didn't not help please what how where who why this that it "
          "with for do get feel job money work home die kill life alone lonely yes yeah thank thanks "
          "hello hi hey sorry know think going live nowhere sleep anymore there here anyone someone "
          "nobody paid wages boss family husband wife son daughter hurt scared afraid tired sad friend",
    "vi": "toi khong duoc minh tien viec muon chet giup nha cua nhung nguoi vay roi lam cam biet "
          "luong thang chua ai dau song buon met co có là và",
    "tl": "ako ko ang ng mga sa hindi wala walang akong ka mo po ba ito yung naman lang gusto kailangan "
          "pera trabaho bahay tulong tulungan salamat oo opo alam siya kayo natin ayoko paano saan "
          "bakit meron nang nga ako'y sahod amo asawa anak pagod malungkot mamatay",
    "id": "saya aku tidak tak nggak gak enggak ingin mau yang dan di ke dari ini itu tolong uang tahu "
          "punya ada bisa sudah belum kerja pekerjaan makan tempat tinggal tidur mati bunuh diri "
          "sangat sekali terima kasih kita dia mereka bagaimana dimana apa kenapa gaji bayar rumah "
          "hidup dengan untuk karena juga bulan sedih capek takut",
    "pt": "eu não nao quero tenho tem onde com meu minha você voce sei sim obrigado obrigada estou "
          "muito dinheiro trabalho morrer ajuda preciso ninguém ninguem isso mais também tambem ele "
          "ela nós vou fazer posso hoje noite salário salario emprego morar do da dos das um uma "
          "pagaram meses sozinho sozinha triste cansado cansada medo patrão patrao",
    "es": "yo quiero tengo dónde donde con mi estoy sé sí gracias dinero trabajo morir ayuda necesito "
          "nadie eso más pero también él ella nosotros voy hacer puedo hoy noche salario empleo vivir "
          "aquí del los las el una muy hay pagaron meses solo sola triste cansado cansada miedo esposo "
          "esposa jefe",
    "fr": "je j'ai suis pas ne le les et mon ma moi vous tu il elle nous avec pour sans argent travail "
          "maison mourir aide besoin personne rien merci oui non veux peux très c'est est ai dans sur "
          "des une seul seule",
    "de": "ich nicht habe und der das mein meine ist bin kein keine arbeit geld hilfe danke ja nein "
          "sterben will möchte wohnung mit auf für ein eine sie wir allein",
}.items()}
# Letters only Vietnamese writes (ơ, ư, đ, ă and the stacked tone marks).
# (â, ê, ô are Portuguese and French too: três, você, être.)
_VIETNAMESE = set("ăđơưĂĐƠƯ") | {chr(c) for c in range(0x1EA0, 0x1EFA)}
_LETTER_HINTS = {"pt": set("ãõç"), "es": set("ñ¿¡"), "de": set("ßäöü")}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
SURE = 0.6  # the best combined score, at least
MARGIN = 0.25  # ahead of the next by at least

_LINGUA_LANGUAGES = ("ENGLISH", "VIETNAMESE", "TAGALOG", "PORTUGUESE", "INDONESIAN", "SPANISH", "FRENCH",
                     "GERMAN")
_detector = None
_detector_lock = threading.Lock()


def detector():
    """lingua's detector over the Latin-script languages, built once (0.4 s, ~20 MB) on first use."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, name) for name in _LINGUA_LANGUAGES]
                _detector = (LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode()
                             .with_preloaded_language_models().build())
    return _detector


def warm() -> None:
    """Build the detector now (before a server forks its workers, so they share it)."""
    # lingua builds some of its tables at the first text with each kind of letter (~15 ms in all).
    for text in ("warm up", "Eu não sei, ça va, año, Grüße, Tôi không được", "Hindi ko alam", "Saya tidak tahu"):
        detector().compute_language_confidence_values(text)


def _latin(text: str, words: list[str]) -> tuple[str, float, str]:
    """(language, how sure 0-1, why) for a message in Latin letters."""
    vietnamese = sorted({c for c in text if c in _VIETNAMESE})
    if vietnamese:
        return "vi", 1.0, "Vietnamese letters: " + "".join(vietnamese[:5])
    lowered = [w.lower() for w in words]
    votes: Counter[str] = Counter()
    for w in lowered:
        for code, common in COMMON_WORDS.items():
            if w in common:
                votes[code] += 1
    letters = set(text.lower())
    for code, hints in _LETTER_HINTS.items():
        if letters & hints:
            votes[code] += 1
    if not votes and _romaji(lowered):
        return "ja", 1.0, "Japanese in Latin letters (romaji)"
    lingua = {c.language.iso_code_639_1.name.lower(): c.value
              for c in detector().compute_language_confidence_values(text)}
    # A common word is surer than a trigram model on a few words: weighed half again as much.
    score = {code: lingua.get(code, 0.0) + 1.5 * votes[code] / max(1, len(lowered)) for code in COMMON_WORDS}
    ranked = sorted(score.items(), key=lambda kv: -kv[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    shown = ", ".join(f"{c} {v:.2f}" for c, v in ranked[:3])
    why = f"common words {dict(votes) or '{}'}; lingua + words: {shown}"
    return best, (1.0 if top >= SURE and top - second >= MARGIN else 0.0), why


def _romaji(words: list[str]) -> bool:
    """Most words read back as Japanese kana (shinitai, tasukete)."""
    if sum(map(len, words)) < 5:
        return False  # "no", "ya": too short to say
    romaji = 0
    for w in words:
        kana = jaconv.alphabet2kana(w)
        if not re.search(r"[a-z]", kana) and jaconv.kana2alphabet(kana) == w:
            romaji += 1
    return romaji >= max(1, 0.6 * len(words))


# -- the rest of the world's scripts ------------------------------------------------------------

_HINDI = ("है", "हैं", "हूँ", "हूं", "नहीं", "मुझे", "मैं", "मेरा", "मेरी", "क्या", "आप")
_NEPALI = ("छ", "छु", "छन्", "छैन", "मलाई", "मेरो", "हो", "गर्न", "भएको", "पनि", "छौं", "हुन्छ")


def _devanagari(text: str) -> tuple[str, str]:
    words = re.findall(r"[\u0900-\u097f]+", text)
    hindi = sum(w in _HINDI for w in words)
    nepali = sum(w in _NEPALI for w in words)
    if hindi > nepali:
        return "hi", f"Devanagari with Hindi words ({hindi} against {nepali} Nepali)"
    return "ne", "Devanagari: Nepali (the language of most Devanagari writers in Japan)"


# A script shared by several languages: the letters only one of them uses, in order, then the default.
_BY_LETTERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cyrillic": (("өүӨҮ", "mn", "Cyrillic with ө/ү: Mongolian"),
                 ("іїєґІЇЄҐ", "uk", "Cyrillic with і/ї/є/ґ: Ukrainian"),
                 ("", "ru", "Cyrillic: Russian")),
    "arabic": (("ٹڈڑںےھۓ", "ur", "Arabic script with Urdu letters"),
               ("پچژگ", "fa", "Arabic script with Persian letters"),
               ("", "ar", "Arabic script")),
}


def _by_letters(script: str, text: str) -> tuple[str, str]:
    letters = set(text)
    return next((code, why) for marks, code, why in _BY_LETTERS[script] if not marks or letters & set(marks))


# -- the decision -------------------------------------------------------------------------------


def reply_lang(language: str) -> Lang:
    """The reply language for a message's language: itself when we write it, else やさしい日本語 (with English)."""
    if language == "ja-easy":
        return "ja-easy"  # written simply, answered simply; ordinary Japanese is one tap away
    if language in REPLY_LANGS:
        return language  # type: ignore[return-value]
    return "ja-easy"


def detect(text: str) -> Detection:
    """The language of one message, the language to answer it in, and why.

        detect("Tôi bị nợ lương ba tháng")  -> Detection("vi", "vi", "Vietnamese letters: ...", False)
        detect("自殺")                      -> Detection("ja", "ja", "kanji only, ...", False)
        detect("わたし は しごと が ない")    -> Detection("ja-easy", "ja-easy", "short phrases ...", True)
        detect("Necesito ayuda")            -> Detection("es", "ja-easy", "...", False)
        detect("ok")                        -> Detection("und", "en", "...", False)

    Pure: the same text gives the same answer.  ~0.02-0.1 ms (script rules), lingua only for Latin letters.
    """
    text = unicodedata.normalize("NFKC", text or "")[:2000]
    counts = scripts(text)
    if not counts:
        return Detection(UNDETERMINED, "ja", "no letters: Japanese unless the resident's language is known",
                         False)
    weighted = Counter({s: n * _WEIGHT.get(s, 1) for s, n in counts.items()})
    kana = counts["hira"] + counts["kata"]
    cjk = kana + counts["han"]
    groups = [("cjk", cjk * 3)] + [(s, n) for s, n in weighted.items() if s not in ("hira", "kata", "han")]
    group = max(groups, key=lambda kv: kv[1])[0]
    if group == "cjk":
        if not kana:
            chinese, why = _chinese("".join(c for c in text if _script(c) == "han"))
            if chinese:
                return Detection("zh", "zh", why, False)
            return Detection("ja", "ja", why, False)
        simple = _simple_japanese(text, counts)
        if simple:
            return Detection("ja-easy", "ja-easy", f"Japanese, {simple}: answered in やさしい日本語", True)
        return Detection("ja", "ja", "kana: Japanese", False)
    if group == "latin":
        words = _WORD.findall(text)
        language, sure, why = _latin(text, words)
        if sure:
            return Detection(language, reply_lang(language), why, False)
        guess = language if language in REPLY_LANGS else "en"
        return Detection(UNDETERMINED, guess, f"too short to tell ({why}); best guess {language}", False)
    if group == "devanagari":
        language, why = _devanagari(text)
    elif group == "cyrillic":
        language, why = _by_letters("cyrillic", text)
    elif group == "arabic":
        language, why = _by_letters("arabic", text)
    elif group in SCRIPT_LANGUAGE:
        language, why = SCRIPT_LANGUAGE[group], f"{group.capitalize()} script"
    else:
        return Detection(UNDETERMINED, "ja-easy", f"letters of a script not known here ({group})", False)
    return Detection(language, reply_lang(language), why, False)


# The name of each language in itself, for "speaks {language}" (the reply languages' own names are
# in locales/*.yaml meta.name).
NATIVE_NAMES = {
    "es": "Español", "th": "ภาษาไทย", "my": "မြန်မာဘာသာ", "km": "ភាសាខ្មែរ", "si": "සිංහල", "bn": "বাংলা",
    "hi": "हिन्दी", "ur": "اردو", "fa": "فارسی", "ar": "العربية", "ru": "Русский", "uk": "Українська",
    "mn": "Монгол", "fr": "Français", "de": "Deutsch", "lo": "ພາສາລາວ", "ta": "தமிழ்", "te": "తెలుగు",
    "pa": "ਪੰਜਾਬੀ", "gu": "ગુજરાતી", "ka": "ქართული", "hy": "Հայերեն", "he": "עברית", "el": "Ελληνικά",
    "am": "አማርኛ", "bo": "བོད་ཡིག",
}
