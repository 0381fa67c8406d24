"""What the channels say besides a referral, in Japanese and English.

Referral wording (hours, "free", "not a counsellor", 110/119) is bot.engine.render's,
shared with the text channels; this module holds the rest.  Written the way
SNS counselling services write: short, warm, no judgement,
clear that this is a bot that finds help and not a counsellor, and 110/119
whenever life may be in danger.  Both channels use these; neither adds its own.
"""

from __future__ import annotations

import re

from bot.types import Lang

# Emergency numbers are the same everywhere in Japan; every crisis reply offers them.
EMERGENCY = (
    ("110", {"ja": "警察 110", "en": "Police 110"}),
    ("119", {"ja": "救急・消防 119", "en": "Ambulance / fire 119"}),
)

CALL = {"ja": "電話する", "en": "Call"}
WEBSITE = {"ja": "公式サイト", "en": "Website"}
LINE_CHAT = {"ja": "LINEで相談", "en": "Chat on LINE"}
NEAR = {"ja": "近くの窓口", "en": "Nearby help"}
MORE = {"ja": "ほかの相談先", "en": "More services"}
SERVICES = {"ja": "相談先", "en": "Where to turn"}
SET_AREA = {"ja": "地域を設定", "en": "Set my area"}
TWENTY_FOUR = {"ja": "24時間の窓口", "en": "24-hour lines"}

WELCOME = {
    "ja": ("はじめまして。「つなぐ」です。\n"
           "困っていること、つらいことを短い言葉で送ってください。合いそうな相談窓口をお知らせします。\n\n"
           "・わたしは相談員ではなく、窓口を探すお手伝いをするボットです。\n"
           "・いま命の危険があるときは、すぐに110（警察）か119（救急）に電話してください。\n\n"
           "お住まいの市区町村名か郵便番号を送っていただくと、近くの窓口もお探しします。"
           "位置情報を送ることもできます。"),
    "en": ("Hello, this is Tsunagu.\n"
           "Tell me in a few words what is troubling you, and I will point you to services that can help.\n\n"
           "- I am a bot, not a counsellor: I find the people who can help.\n"
           "- If your life is in danger now, call 110 (police) or 119 (ambulance) right away.\n\n"
           "Send the name of your city or your postal code and I can find help nearby too, "
           "or share your location."),
}
HELP = {
    "ja": ("使い方\n"
           "・困っていることをそのまま送ってください（例：「仕事がなくて生活が苦しい」「眠れない日が続く」）。\n"
           "・市区町村名か郵便番号を送ると、その地域の窓口も探します。\n"
           "・位置情報を送ると、近くの窓口を探します。\n"
           "・「ほかの相談先」で、ほかの窓口も見られます。\n"
           "・いま命の危険があるときは110か119へ。\n"
           "わたしは相談員ではありません。窓口の方があなたの話を聞いてくれます。"),
    "en": ("How to use\n"
           "- Write what is troubling you, in your own words (e.g. \"I lost my job and can't pay rent\").\n"
           "- Send a city name or postal code to include local services.\n"
           "- Share your location to find services near you.\n"
           "- \"More services\" shows further options.\n"
           "- If your life is in danger now, call 110 or 119.\n"
           "I am not a counsellor; the services I list are there to listen."),
}
ASK = {
    "ja": "どうしましたか。困っていること、つらいことを、短い言葉で送ってください。",
    "en": "What is troubling you? Tell me in a few words.",
}
ASK_AREA = {
    "ja": "お住まいの市区町村名か郵便番号を送ってください（例：浜松市、430-0929）。位置情報でも大丈夫です。",
    "en": "Please send your city or postal code (e.g. Hamamatsu, 430-0929), or share your location.",
}
AREA_SET = {
    "ja": "{name}で覚えました。これからはこの地域の窓口もお知らせします。",
    "en": "Got it: {name}. I will include services in this area from now on.",
}
AREA_UNKNOWN = {
    "ja": "「{query}」という地域が見つかりませんでした。市区町村名か郵便番号で送ってみてください。",
    "en": "I could not find \"{query}\". Please try a city name or a postal code.",
}
LOCATION_SET = {
    "ja": "位置情報から{name}のあたりと覚えました（おおよその位置です）。近くの窓口もお知らせします。",
    "en": "Thanks. I will look for services around {name} (an approximate area).",
}
LOCATION_FAILED = {
    "ja": "位置情報から地域がわかりませんでした。市区町村名か郵便番号を送ってください。",
    "en": "I could not tell the area from that location. Please send your city or postal code.",
}
LANG_SET = {"ja": "日本語でお返事します。", "en": "I will reply in English from now on."}
FORGOTTEN = {
    "ja": "あなたについて覚えていたこと（地域・言語の設定など）をすべて削除しました。",
    "en": "I have deleted everything I remembered about you (area, language and the rest).",
}
GROUP_NOTHING_STORED = {
    "ja": "グループでは、どなたの情報も保存していません。",
    "en": "In groups I keep nothing about anyone.",
}
NO_MORE = {
    "ja": "ご案内できる窓口は以上です。ほかに困っていることがあれば、言葉で送ってください。",
    "en": "Those are all the services I have for this. Tell me if something else is troubling you.",
}
NOT_TEXT = {
    "ja": "ありがとうございます。困っていることを文字で送っていただけると、相談先をお探しします。",
    "en": "Thank you. If you write what is troubling you, I will look for services that can help.",
}
GROUP_JOINED = {
    "ja": "「つなぐ」です。困りごとの相談窓口をご案内します。グループでは、わたしをメンションして送ってください。",
    "en": "This is Tsunagu. I point people to support services. In groups, mention me to ask.",
}
TROUBLE = {
    "ja": "ごめんなさい、いまうまくお答えできませんでした。少し時間をおいてもう一度送ってください。"
          "いま命の危険があるときは、110（警察）か119（救急）に電話してください。",
    "en": "Sorry, I could not answer just now. Please try again in a moment. "
          "If your life is in danger now, call 110 (police) or 119 (ambulance).",
}
SLOW_DOWN = {
    "ja": "たくさん送ってくださってありがとうございます。少し時間をおいてから、また送ってください。"
          "いま命の危険があるときは、110（警察）か119（救急）に電話してください。"
          "「24時間の窓口」から、いつでもつながる相談先も見られます。",
    "en": "Thank you for writing. Please wait a minute before sending more. "
          "If your life is in danger now, call 110 (police) or 119 (ambulance); "
          "\"24-hour lines\" shows services you can reach at any time.",
}
FORGET_FAILED = {
    "ja": "ごめんなさい、いま削除できませんでした。少し時間をおいて、もう一度「/forget」と送ってください。",
    "en": "Sorry, I could not delete it just now. Please send /forget again in a little while.",
}
FORGET_WORDS = {"/forget", "forget me", "忘れて", "わすれて", "データを削除", "データを削除して"}

# The privacy notice (docs/privacy.md says the same at length).  `kept` is the
# sentence about message text, which depends on STORE_MESSAGES.
PRIVACY = {
    "ja": ("プライバシーについて\n"
           "・{kept}\n"
           "・覚えるのは、あなたが設定した地域（位置情報はおよそ1kmに丸めます）と言語だけです。"
           "LINEやTelegramのIDは、そのままの形では保存しません。\n"
           "・相談の件数は、誰のものかわからない形（時刻・地域・相談の種類）でだけ記録します。\n"
           "・「/forget」と送ると、あなたについて覚えていることをすべて削除します"
           "（LINEではブロックしても削除されます）。"),
    "en": ("About your privacy\n"
           "- {kept}\n"
           "- I remember only the area you set (a shared location is rounded to about 1 km) and your language. "
           "Your LINE or Telegram id is never stored as it is.\n"
           "- Referrals are counted without anything that says whose they were (time, area, kind of need).\n"
           "- Send /forget and I delete everything I remember about you (on LINE, blocking me does too)."),
}
KEPT_NOTHING = {"ja": "あなたが書いた文章は保存しません。", "en": "I do not keep what you write."}
KEPT_DAYS = {
    "ja": "書いた文章は、よりよい案内のために{days}日間だけ保存し、その後削除します。",
    "en": "What you write is kept for {days} days to improve the referrals, then deleted.",
}


def privacy(lang: Lang, stored_days: int | None = None) -> str:
    """The privacy notice; `stored_days` when STORE_MESSAGES keeps message text that long."""
    kept = KEPT_NOTHING[lang] if stored_days is None else KEPT_DAYS[lang].format(days=stored_days)
    return PRIVACY[lang].format(kept=kept)


LANG_BUTTON = {"ja": "English", "en": "日本語"}  # the button offers the other language


def other(lang: Lang) -> Lang:
    return "en" if lang == "ja" else "ja"


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
