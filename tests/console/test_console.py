"""The staff console over real HTTP on 127.0.0.1: access, sessions, CSRF, and the core behind each page."""

from __future__ import annotations

import html
import io
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import Session

from bot.cli import build_parser, main
from bot.console import cases, editing, needs
from bot.console.auth import IDLE, LIFETIME, AccountError, Accounts
from bot.console.models import utcnow
from bot.console.testing import served_console
from bot.engine import Engine
from bot.engine.catalogue.hours import TOKYO
from bot.service.store import ReferralLog, create_all, make_engine
from tests.support import ROOT

TUESDAY_3AM = datetime(2026, 12, 1, 3, 0, tzinfo=TOKYO)
PASSWORD = {"op": "operator-pass-123", "staff": "staff-pass-1234"}
pytestmark = pytest.mark.usefixtures("fast_hashes")  # tests/conftest.py: Argon2 at its cheapest
GET_PAGES = ["/console/", "/console/cases", "/console/catalogue", "/console/catalogue/yorisoi_hotline",
             "/console/needs", "/console/needs/needs.csv", "/console/accounts", "/console/catalogue/import"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    """An engine over a copy of services.yaml, so edits never touch the real one."""
    folder = tmp_path_factory.mktemp("catalogue")
    shutil.copy(ROOT / "services.yaml", folder / "services.yaml")
    return Engine.load(catalogue=folder / "services.yaml")


@pytest.fixture
def catalogue(engine):
    """The copy's text; restored (and reloaded) after the test."""
    original = engine.catalogue_path.read_text(encoding="utf-8")
    yield engine.catalogue_path
    engine.catalogue_path.write_text(original, encoding="utf-8")
    engine.reload()


@dataclass
class Served:
    url: str
    db_url: str
    accounts: Accounts

    clients: list[httpx.Client]

    def client(self, **kw) -> httpx.Client:
        c = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, **kw)
        self.clients.append(c)
        return c

    def login(self, name: str, password: str | None = None) -> tuple[httpx.Client, str]:
        """A client with a session, and the session's CSRF token."""
        c = self.client()
        response = login(c, name, PASSWORD[name] if password is None else password)
        assert response.status_code == 303, response.text
        page = c.get("/console/")
        return c, csrf_of(page.text)


def _console(engine, tmp_path, roles: dict[str, str]):  # noqa: ANN001, ANN202
    """The console over `engine` on 127.0.0.1 with an account per name in `roles` (name -> role)."""
    db_url = f"sqlite:///{tmp_path / 'console.db'}"
    accounts = Accounts(make_engine(db_url))
    for name, role in roles.items():
        accounts.add(name, role, PASSWORD[name])
    with served_console(engine, db_url) as url:
        served = Served(url, db_url, accounts, [])
        yield served
        for c in served.clients:
            c.close()


@pytest.fixture
def served(engine, tmp_path, offline):
    """The console on 127.0.0.1 with an operator and a staff account; any other address fails the test."""
    yield from _console(engine, tmp_path, {"op": "operator", "staff": "staff"})


def csrf_of(html: str, field: str = "csrf") -> str:
    found = re.search(rf'name="{field}" value="([^"]+)"', html)
    assert found, f"no {field} in the page"
    return found.group(1)


def login(c: httpx.Client, name: str, password: str, **headers) -> httpx.Response:
    page = c.get("/console/login")
    return c.post("/console/login", data={"name": name, "password": password,
                                          "login_csrf": csrf_of(page.text, "login_csrf")}, headers=headers)


# Access ----------------------------------------------------------------------------------------


def test_every_page_without_a_session_redirects_to_login(served):
    with served.client() as c:
        for path in GET_PAGES:
            r = c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/console/login?next="), path
        r = c.post("/console/catalogue/reload", data={"csrf": "x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
        assert c.get("/console/login").status_code == 200
        assert c.get("/console/static/console.css").status_code == 200


def test_security_headers_on_every_console_response(served):
    with served.client() as c:
        r = c.get("/console/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text and " on" + "click=" not in r.text  # no inline script to allow


def test_wrong_password_is_refused_and_the_right_one_opens_a_session(served):
    with served.client() as c:
        r = login(c, "op", "not-the-password")
        assert r.status_code == 401
        assert "ユーザー名かパスワードが違います" in r.text
        assert "tsunagu_console=" not in r.headers.get("set-cookie", "")
        r = login(c, "op", PASSWORD["op"])
        assert r.status_code == 303 and r.headers["location"] == "/console/"
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("tsunagu_console="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain http on a laptop
        assert c.get("/console/").status_code == 200


def test_session_cookie_is_secure_over_https(served):
    with served.client() as c:
        # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as behind a local TLS proxy
        r = login(c, "op", PASSWORD["op"], **{"X-Forwarded-Proto": "https"})
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("tsunagu_console="))
    assert "Secure" in cookie


def test_login_form_needs_its_csrf_token(served):
    with served.client() as c:
        r = c.post("/console/login", data={"name": "op", "password": PASSWORD["op"], "login_csrf": "forged"})
    assert r.status_code == 400


def test_next_never_leaves_the_console(served):
    with served.client() as c:
        page = c.get("/console/login")
        r = c.post("/console/login", data={"name": "op", "password": PASSWORD["op"], "next": "//evil.example/",
                                           "login_csrf": csrf_of(page.text, "login_csrf")})
    assert r.headers["location"] == "/console/"


def test_repeated_failures_lock_the_account_with_backoff(served):
    with served.client() as c:
        for _ in range(5):
            assert login(c, "staff", "wrong-password").status_code == 401
        r = login(c, "staff", PASSWORD["staff"])
        assert r.status_code == 429
        assert "ロック" in r.text and int(r.headers["retry-after"]) > 0
    later = utcnow() + timedelta(seconds=31)
    assert served.accounts.login("staff", PASSWORD["staff"], "10.0.0.9", now=later).reason == "ok"


def test_one_address_is_throttled_after_many_failures(served):
    with served.client() as c:
        for i in range(10):
            assert login(c, f"nobody{i}", "whatever-password").status_code == 401
        r = login(c, "op", PASSWORD["op"])
    assert r.status_code == 429 and "多すぎます" in r.text


def test_every_post_needs_the_session_csrf_token(served):
    c, csrf = served.login("staff")
    assert c.post("/console/try", data={"text": "死にたい"}).status_code == 403
    assert c.post("/console/try", data={"text": "死にたい", "csrf": "x" + csrf}).status_code == 403
    assert c.post("/console/try", data={"text": "死にたい", "csrf": csrf}).status_code == 200
    assert c.post("/console/logout", data={}).status_code == 403


def test_staff_get_403_on_operator_actions_checked_on_the_server(served, catalogue):
    before = catalogue.read_text(encoding="utf-8")
    c, csrf = served.login("staff")
    for path in ("/console/catalogue/import", "/console/catalogue/new", "/console/accounts"):
        assert c.get(path).status_code == 403, path
    posts = {
        "/console/catalogue/reload": {},
        "/console/catalogue/yorisoi_hotline": {"name": "書き換え", "version": ""},
        "/console/catalogue/new": {"id": "x_new", "name": "x"},
        "/console/catalogue/import": {"csv": "id,name\n", "action": "apply"},
        "/console/accounts/add": {"name": "mallory", "role": "operator"},
        "/console/accounts/remove": {"name": "op"},
    }
    for path, data in posts.items():
        assert c.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    page = c.get("/console/catalogue").text
    assert "CSVから取り込む" not in page and "/console/accounts" not in page
    assert catalogue.read_text(encoding="utf-8") == before
    assert [u.name for u in served.accounts.list()] == ["op", "staff"]
    op, _ = served.login("op")
    for path in ("/console/catalogue/import", "/console/catalogue/new", "/console/accounts"):
        assert op.get(path).status_code == 200, path


def test_logout_and_account_removal_end_sessions_at_once(served):
    c, csrf = served.login("op")
    assert c.post("/console/logout", data={"csrf": csrf}).status_code == 303
    assert c.get("/console/").status_code == 303
    c, _ = served.login("staff")
    assert c.get("/console/").status_code == 200
    assert served.accounts.remove("staff")
    assert c.get("/console/").status_code == 303


def test_sessions_expire_when_idle_and_after_their_lifetime(served):
    accounts = served.accounts
    user = accounts.login("op", PASSWORD["op"], "10.1.1.1").user
    now = utcnow()
    token = accounts.open_session(user, now)
    assert accounts.session(token, now + IDLE - timedelta(minutes=1)) is not None
    assert accounts.session(token, now + IDLE + IDLE - timedelta(minutes=1)) is None  # idle since the last use
    token = accounts.open_session(user, now)
    t = now
    while t < now + LIFETIME - timedelta(minutes=30):
        t += timedelta(minutes=30)
        assert accounts.session(token, t) is not None
    assert accounts.session(token, now + LIFETIME + timedelta(minutes=1)) is None


def test_accounts_refuse_weak_passwords_and_bad_names(served):
    with pytest.raises(AccountError):
        served.accounts.add("short", "staff", "short")
    with pytest.raises(AccountError):
        served.accounts.add("bad name", "staff", "long-enough-pass")
    with pytest.raises(AccountError):
        served.accounts.add("op", "staff", "long-enough-pass")
    stored = next(u for u in served.accounts.list() if u.name == "op").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD["op"] not in stored


# Try a message -------------------------------------------------------------------------------


def test_try_a_crisis_message_shows_tel_buttons_first_and_why(served):
    c, csrf = served.login("staff")
    r = c.post("/console/try", data={"csrf": csrf, "text": "死にたい", "at": "2026-12-01T03:00"})
    assert r.status_code == 200
    chat = r.text[r.text.index('id="chat"'):r.text.index('id="why"')]
    links = re.findall(r'href="([^"]+)"', chat)
    assert links[0].startswith("tel:0120"), links  # the 24-hour line before anything else
    assert "tel:110" in links and "tel:119" in links
    why = r.text[r.text.index('id="why"'):]
    assert "危機対応あり" in why and "死にたい" in why and "suicide_risk" in why
    assert "出さなかった窓口" in why and "指定の時刻は受付時間外" in why


def test_try_an_unknown_area_says_so(served):
    c, csrf = served.login("staff")
    r = c.post("/console/try", data={"csrf": csrf, "text": "借金がつらい", "area": "存在しない町"})
    assert r.status_code == 400 and "地域が見つかりません" in r.text


@pytest.fixture
def conversing(understood, tmp_path, offline):
    """The console over the conversation tests' engine (conftest.py `understood`), with a staff account."""
    yield from _console(understood, tmp_path, {"staff": "staff"})


def test_try_shows_the_detected_language_and_why_and_the_reply_in_it(served):
    c, csrf = served.login("staff")
    r = c.post("/console/try", data={"csrf": csrf, "text": "Tôi không có chỗ ngủ tối nay"})
    assert r.status_code == 200
    why = html.unescape(r.text[r.text.index('id="why-language"'):r.text.index('id="why-layers"')])
    assert "ベトナム語" in why and "Vietnamese letters" in why and "文の言語に合わせた" in why
    chat = html.unescape(r.text[r.text.index('id="chat"'):r.text.index('id="why"')])
    assert "Xin lỗi" in chat or "Cảm ơn" in chat
    assert '<option value="vi">' in r.text


def test_try_with_a_language_chosen_answers_in_it_and_unsupported_ones_get_easy_japanese_and_english(served):
    c, csrf = served.login("staff")
    r = c.post("/console/try", data={"csrf": csrf, "text": "ひきこもりの息子のことで相談したい", "lang": "pt"})
    chat = html.unescape(r.text[r.text.index('id="chat"'):r.text.index('id="why"')])
    assert "Obrigado" in chat or "Obrigada" in chat
    assert '<option value="pt" selected>' in r.text and "相談者が選んだ言語" in html.unescape(r.text)
    r = c.post("/console/try", data={"csrf": csrf, "text": "Necesito ayuda, no tengo dinero"})
    why = html.unescape(r.text[r.text.index('id="why-language"'):r.text.index('id="why-layers"')])
    assert "スペイン語" in why and "やさしい日本語と英語" in why


def test_try_keeps_the_check_in_question_so_staff_can_try_the_answer(conversing):
    c, csrf = conversing.login("staff")
    r = c.post("/console/try", data={"csrf": csrf, "text": "何もかも面倒になった", "at": "2026-12-01T03:00"})
    assert csrf_of(r.text, "asked") == "suicide_check" and 'id="asked-note"' in r.text
    why = html.unescape(r.text[r.text.index('id="why-conversation"'):])
    assert "はっきり尋ねます" in why
    r = c.post("/console/try", data={"csrf": csrf, "text": "うん", "at": "2026-12-01T03:00",
                                     "asked": csrf_of(r.text, "asked")})
    chat = r.text[r.text.index('id="chat"'):r.text.index('id="why"')]
    assert re.findall(r'href="([^"]+)"', chat)[0].startswith("tel:0120")
    assert "前の質問への答えとして読んだ" in r.text and "危機対応あり" in r.text
    assert 'name="asked" value=""' in r.text, "answered: the next try starts afresh"
    r = c.post("/console/try", data={"csrf": csrf, "text": "うん", "at": "2026-12-01T03:00"})
    assert "危機対応なし" in r.text, "without the question, うん is not an answer"


# Catalogue edits and imports (the core behind the pages) -------------------------------------


def test_an_edit_rewrites_only_that_entry_and_reloads(engine, catalogue):
    before = catalogue.read_text(encoding="utf-8")
    version = editing.version_of(before)
    values = editing.form_values(dict(editing.Entries.read(catalogue).data[2]))
    values["checked"] = "2026-01-15"
    values["notes"] = "電話で確認した"
    result = editing.edit_entry(engine, "yorisoi_hotline", values, version, write=True)
    assert result.problems == [] and set(result.changed) == {"checked", "notes"}
    after = catalogue.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 2 and "checked: 2026-01-15" in changed[0][1]
    assert before.splitlines()[:20] == after.splitlines()[:20]  # the header comments stay
    assert engine.reload() == []
    assert str(engine.catalogue.get("yorisoi_hotline").checked) == "2026-01-15"


def test_hours_may_be_written_in_the_one_line_form_and_times_stay_quoted(engine, catalogue):
    version = editing.version_of(catalogue.read_text(encoding="utf-8"))
    entries = editing.Entries.read(catalogue)
    values = editing.form_values(dict(entries.data[entries.index("inochi_navi")]))
    values["hours"] = "mon-fri 09:00-17:00; closed holidays"
    result = editing.edit_entry(engine, "inochi_navi", values, version, write=True)
    assert result.problems == [] and result.changed == ["hours"]
    text = catalogue.read_text(encoding="utf-8")
    assert 'hours: {weekly: [{days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00"}], closed: [holidays]}' in text
    engine.reload()
    assert engine.catalogue.get("inochi_navi").hours.is_open(TUESDAY_3AM.replace(hour=10)) is True


def test_a_bad_edit_is_refused_with_file_line_and_nothing_is_written(engine, catalogue):
    before = catalogue.read_text(encoding="utf-8")
    values = editing.form_values(dict(editing.Entries.read(catalogue).data[2]))
    values["phone"] = "12-34"
    result = editing.edit_entry(engine, "yorisoi_hotline", values, editing.version_of(before), write=True)
    assert result.problems and re.search(r"services\.yaml:\d+: yorisoi_hotline: phone '12-34'", result.problems[0])
    assert catalogue.read_text(encoding="utf-8") == before
    stale = editing.edit_entry(engine, "yorisoi_hotline", {"notes": "x"}, "0" * 12, write=True)
    assert stale.problems == [editing.CONFLICT]


def test_operator_edits_an_entry_in_the_page(served, engine, catalogue):
    c, csrf = served.login("op")
    page = c.get("/console/catalogue/inochi_navi").text
    form = {k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', page)}
    hours = html.unescape(re.search(r'name="hours"[^>]*>([^<]*)<', page).group(1))
    form.update(csrf=csrf, checked="2026-02-01", hours=hours)
    r = c.post("/console/catalogue/inochi_navi", data=form)
    assert r.status_code == 303, r.text
    assert "saved" in r.headers["location"]
    assert str(engine.catalogue.get("inochi_navi").checked) == "2026-02-01"


BROKEN_CSV = """id,name,kind,intents,area,source_url,source_date,phone
test_ok,テスト窓口,phone,loneliness,浜松市,https://example.org,2026-01-01,053-000-0000
test_bad,壊れた窓口,fax,loneliness,浜松市,https://example.org,2026-01-01,053-000-0000
"""


def test_a_broken_csv_is_refused_with_its_file_and_line(engine, catalogue):
    before = catalogue.read_text(encoding="utf-8")
    preview = editing.import_csv(engine, "broken.csv", BROKEN_CSV, write=True)
    assert preview.problems == ["broken.csv:3: kind 'fax' is not one of phone, chat, sns, web, centre, place"]
    assert catalogue.read_text(encoding="utf-8") == before


def test_a_csv_import_is_previewed_then_applied(served, engine, catalogue):
    good = BROKEN_CSV.replace(",fax,", ",phone,")
    c, csrf = served.login("op")
    r = c.post("/console/catalogue/import", data={"csrf": csrf, "action": "preview", "csv": good,
                                                  "filename": "good.csv"})
    assert r.status_code == 200 and "追加 <b>2</b>件" in r.text
    assert engine.catalogue.get("test_ok") is None
    r = c.post("/console/catalogue/import", data={"csrf": csrf, "action": "apply", "csv": good,
                                                  "filename": "good.csv"})
    assert r.status_code == 200 and 'id="import-done"' in r.text
    assert engine.catalogue.get("test_bad").kind == "phone"


def test_the_catalogue_page_lists_check_errors_with_file_and_line(served, engine, catalogue):
    text = catalogue.read_text(encoding="utf-8")
    catalogue.write_text(text.replace("kind: phone", "kind: telephone", 1), encoding="utf-8")
    c, _ = served.login("staff")
    page = c.get("/console/catalogue").text
    assert re.search(r"services\.yaml:\d+: fire_ambulance_119: kind &#39;telephone&#39;", page)
    assert engine.catalogue.get("fire_ambulance_119").kind == "phone"  # the last good catalogue serves on


def test_catalogue_filters(served, engine):
    rows, area, error = editing.listing(engine, editing.Filters(need="hikikomori", area="浜松市"), TUESDAY_3AM)
    assert error is None and area == "浜松市"
    assert rows and all("hikikomori" in r.service.intents and not r.service.national for r in rows)
    rows, _, _ = editing.listing(engine, editing.Filters(need="suicide_risk", stale=True), TUESDAY_3AM)
    assert rows and all(r.stale for r in rows)
    _, _, error = editing.listing(engine, editing.Filters(area="どこでもない村"), TUESDAY_3AM)
    assert error


# Referral cases ------------------------------------------------------------------------------


def test_case_files_report_errors_with_their_line():
    with pytest.raises(cases.CaseError, match=r"^mine.yaml:2: case 2 needs text and expect"):
        cases.parse('- {text: "死にたい", expect: [suicide_risk]}\n- {text: "no expect"}\n', "mine.yaml")
    with pytest.raises(cases.CaseError, match=r"^貼り付け:\d+: YAML"):
        cases.parse('- {text: "a", expect: [x]}\n- {text: "b", expect: [\n', "貼り付け")


def test_a_saved_set_rerun_says_what_changed(served, engine):
    sets = cases.Sets(make_engine(served.db_url))
    text = '- {text: "死にたい", expect: [suicide_risk], crisis: true}\n- {text: "眠れない", expect: [housing]}\n'
    sets.save("mine", text, "op")
    first = cases.run(engine, cases.parse(text))
    sets.record("mine", first, "op")
    assert first.changes is None and first.report["failed"] == 1
    second = cases.run(engine, cases.parse(text.replace("[housing]", "[mental_health]")))
    sets.record("mine", second, "op")
    assert second.changes["newly_passing"][0]["text"] == "眠れない"
    assert any(f["label"] == "不合格" and f["before"] == 1 and f["after"] == 0 for f in second.changes["figures"])
    assert sets.list()[0].passed == 2


def test_cases_page_runs_dev_yaml_like_test_referrals(served):
    c, csrf = served.login("staff")
    dev = (ROOT.parent / "shared" / "referrals" / "dev.yaml")
    text = dev.read_text(encoding="utf-8") if dev.exists() else '- {text: "死にたい", expect: [suicide_risk], crisis: true}\n'
    r = c.post("/console/cases", data={"csrf": csrf, "action": "run"},
               files={"file": ("dev.yaml", text.encode(), "text/yaml")})
    assert r.status_code == 200, r.text
    assert 'id="per-intent"' in r.text and "危機の再現率" in r.text


# Needs -----------------------------------------------------------------------------------------


def test_needs_hide_counts_under_five_in_tables_and_csv(served, engine):
    create_all(served.db_url)
    db = make_engine(served.db_url)
    now = utcnow()
    with Session(db) as s:
        for _ in range(7):
            s.add(ReferralLog(at=now, channel="line", intents="loneliness", area="221309", crisis=False))
        for _ in range(3):
            s.add(ReferralLog(at=now, channel="line", intents="housing,food", area="012025", crisis=True))
        s.commit()
    fig = needs.figures(db, engine, 4)
    header, rows = needs.table(fig, "needs")
    assert ["孤独・さみしさ・話し相手がいない" if r[1] == "loneliness" else r[0] for r in rows]
    by_id = {r[1]: r[2:] for r in rows}
    assert by_id["loneliness"][-1] == 7 and by_id["housing"][-1] == "<5"
    _, areas = needs.table(fig, "areas")
    assert ["浜松市", "221309", 7] in areas and all(r[1] != "012025" for r in areas)  # 3 from 函館市: pooled
    _, crisis = needs.table(fig, "crisis")
    assert crisis[-1][1] == "<5"
    c, _ = served.login("staff")
    csv_text = c.get("/console/needs/needs.csv?weeks=4").text
    page = c.get("/console/needs?weeks=4").text
    assert "loneliness" in csv_text and ",<5" in csv_text and ",3" not in csv_text
    assert "<svg" in page and "&lt;5" in page


# bot user -----------------------------------------------------------------------------------


def test_bot_user_add_and_remove(tmp_path, monkeypatch, capsys):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password-1\n"))
    assert main(["user", "add", "alice", "--role", "operator", "--password-stdin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["user", "add", "bob", "--role", "staff"]) == 0  # no terminal: a password is made up
    out = capsys.readouterr().out
    generated = re.search(r"password: (\S+)", out).group(1)
    accounts = Accounts(make_engine(db_url))
    assert accounts.login("alice", "a-long-password-1", "1.1.1.1").reason == "ok"
    assert accounts.login("bob", generated, "1.1.1.1").user.role == "staff"
    assert main(["user", "add", "alice", "--role", "staff", "--generate"]) == 1
    assert main(["user", "remove", "bob"]) == 0
    assert main(["user", "remove", "bob"]) == 1
    assert [u.name for u in accounts.list()] == ["alice"]


def test_bot_user_commands_have_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    user = sub.choices["user"]
    actions = next(a for a in user._actions if a.dest == "action")
    assert set(actions.choices) >= {"add", "remove", "list"}
    for choice in sub._choices_actions:
        if choice.dest == "user":
            assert choice.help
    for name in ("add", "remove", "list"):
        assert next(a for a in actions._choices_actions if a.dest == name).help
