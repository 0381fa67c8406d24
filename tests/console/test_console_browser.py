"""The console in a real headless Chromium, as staff and operators use it.

Debian's chromium (installed by `make test`) is driven by Playwright; the console runs
with uvicorn on 127.0.0.1, and any request leaving that server fails the test.
UPDATE_SCREENSHOTS=1 writes the screenshots shown in the README to docs/.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot.console.auth import Accounts
from bot.console.testing import seed_log, served_console
from bot.engine import Engine
from bot.service.store import make_engine
from tests.support import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = {"op": "operator-pass-123", "staff": "staff-pass-1234"}
BROKEN_CSV = (
    "id,name,kind,intents,area,source_url,source_date,phone\n"
    "npo_salon,みんなのサロン,place,places_to_go loneliness,浜松市,https://example.org/salon,2026-01-10,\n"
    "npo_line,つながる電話,fax,loneliness,浜松市,https://example.org/line,2026-01-10,053-000-0000\n"
)
CASES = """# 浜松の相談窓口で聞いた言い方
- {text: "死にたい", expect: [suicide_risk], crisis: true}
- {text: "もう消えてしまいたい", expect: [suicide_risk], crisis: true}
- {text: "借金の返済で首が回らない", expect: [financial_hardship], crisis: absent}
- {text: "母の介護で眠れない", expect: [caregiver_burden]}
- {text: "息子がずっと部屋から出てこない", expect: [hikikomori]}
- {text: "話し相手がほしい", expect: [loneliness]}
- {text: "眠れない", expect: [housing]}
"""

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason=f"{CHROMIUM} is missing: `make system-deps` installs it"),
    pytest.mark.usefixtures("fast_hashes"),  # tests/conftest.py
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("console")
    shutil.copy(ROOT / "services.yaml", folder / "services.yaml")
    engine = Engine.load(catalogue=folder / "services.yaml")
    db_url = f"sqlite:///{folder / 'console.db'}"
    accounts = Accounts(make_engine(db_url))
    for name, role in (("op", "operator"), ("staff", "staff")):
        accounts.add(name, role, PASSWORD[name])
    seed_log(db_url)
    with served_console(engine, db_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, site):
    """page(viewport) -> a fresh browser context; requests outside the console's server are refused."""
    contexts, outside = [], []

    def make(width: int = 1280, height: int = 900, mobile: bool = False):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="ja-JP",
                                      timezone_id="Asia/Tokyo", is_mobile=mobile, has_touch=mobile,
                                      device_scale_factor=2 if mobile else 1)

        def only_local(route):
            if route.request.url.startswith(site) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()
    assert outside == [], f"the console reached outside its server: {outside}"


@pytest.fixture
def shot(tmp_path):
    folder = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path

    def save(page, name: str, full_page: bool = True) -> None:
        folder.mkdir(exist_ok=True)
        page.screenshot(path=str(folder / f"console-{name}.png"), full_page=full_page)

    return save


def log_in(page, site: str, name: str, password: str | None = None, path: str = "/console/") -> None:
    page.goto(site + path)
    page.fill("#name", name)
    page.fill("#password", PASSWORD[name] if password is None else password)
    page.click("form button[type=submit]")


# The bars of the issue ---------------------------------------------------------------------


def test_a_newcomer_logs_in_and_sees_the_24_hour_lines_first_with_the_why(open_page, site, shot):
    page = open_page()
    page.goto(site + "/console/needs")
    assert re.search(r"/console/login\?next=%2Fconsole%2Fneeds$", page.url)  # no session: the login page
    shot(page, "login", full_page=False)
    log_in(page, site, "op", "wrong-password-1", path="/console/needs")
    assert "ユーザー名かパスワードが違います" in page.inner_text("#login-error")
    assert "/console/login" in page.url
    page.fill("#password", PASSWORD["op"])
    page.click("form button[type=submit]")
    page.wait_for_url(site + "/console/needs")

    page.click("nav >> text=試す")
    page.fill("#text", "死にたい")
    page.fill("#at", "2026-12-01T03:00")  # a Tuesday, 3 a.m.: only the 24-hour lines answer
    page.click("#try-form button[type=submit]")
    first_card = page.locator("#chat .msg-bot").first
    buttons = first_card.locator("a.fx-button")
    first = buttons.first.get_attribute("href")
    assert first.startswith("tel:0120"), first  # the 24-hour line, before anything else
    assert "24時間" in page.locator("#why-chosen tbody tr").first.inner_text()
    hrefs = [buttons.nth(i).get_attribute("href") for i in range(buttons.count())]
    assert "tel:110" in hrefs and "tel:119" in hrefs
    why = page.inner_text("#why-crisis")
    assert "あり" in why and "死にたい" in why
    assert "suicide_risk" in page.inner_text("#why-intents")
    shot(page, "try")


def test_staff_see_the_language_of_a_message_and_can_answer_in_another(open_page, site, shot):
    page = open_page()
    log_in(page, site, "staff")
    page.fill("#text", "Chủ không trả lương cho tôi")  # my boss does not pay me
    page.fill("#at", "2026-12-02T12:00")
    page.click("#try-form button[type=submit]")
    page.wait_for_selector("#why-language")
    language = page.inner_text("#why-language")
    assert "ベトナム語" in language and "Vietnamese letters" in language
    assert "Cảm ơn bạn đã kể cho mình về nơi làm việc" in page.inner_text("#chat")  # the need, in Vietnamese
    shot(page, "try-language")
    page.select_option("#lang", "ja-easy")
    page.click("#try-form button[type=submit]")
    page.wait_for_selector("#why-language")
    assert "やさしい日本語" in page.inner_text("#why-language") and "相談者が選んだ言語" in page.inner_text("#why-language")
    assert "はたらく ところの ことを 話して くれて" in page.inner_text("#chat")


def test_the_console_works_on_a_phone(open_page, site, shot):
    page = open_page(390, 844, mobile=True)
    log_in(page, site, "staff")
    page.fill("#text", "母の介護がつらくて眠れない")
    page.fill("#area", "浜松市")
    page.fill("#at", "2026-12-02T12:00")
    page.click("#try-form button[type=submit]")
    page.wait_for_selector("#chat .fx-carousel")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the phone"
    assert page.locator("#chat a[href^='tel:']").count() >= 1
    page.locator(".phone").scroll_into_view_if_needed()
    shot(page, "phone", full_page=False)


def test_a_case_file_is_run_saved_and_run_again(open_page, site, shot, tmp_path):
    cases = tmp_path / "hamamatsu.yaml"
    cases.write_text(CASES, encoding="utf-8")
    page = open_page()
    log_in(page, site, "staff")
    page.click("nav >> text=ケース")
    page.set_input_files("#file", str(cases))  # read into the editor by the page's script
    # expect() polls with Playwright's own script: a string for wait_for_function is eval'd, which the
    # console's Content-Security-Policy forbids.
    expect(page.locator("#cases-text")).to_have_value(re.compile("死にたい"))
    assert page.input_value("#name") == "hamamatsu"
    page.click("button[value=save]")
    assert page.inner_text("#m-failed") == "1"
    assert "眠れない" in page.inner_text("#failures")
    assert "100%" in page.inner_text("#m-crisis")
    assert page.locator("#per-intent tbody tr").count() >= 5
    page.click("#rerun")
    assert "前回" in page.inner_text("#changes")
    assert "窓口一覧・意図は前回と同じ" in page.inner_text("#changes")
    assert page.locator("#runs tbody tr").count() == 2
    shot(page, "cases")


def test_a_broken_csv_is_refused_with_file_and_line(open_page, site, shot, tmp_path):
    broken = tmp_path / "npo_list.csv"
    broken.write_text(BROKEN_CSV, encoding="utf-8")
    page = open_page()
    log_in(page, site, "op")
    page.click("nav >> text=窓口一覧")
    page.select_option("#need", "hikikomori")
    page.click("#filters button[type=submit]")
    assert page.locator("#services tbody tr").count() >= 3
    page.goto(site + "/console/catalogue")
    shot(page, "catalogue", full_page=False)
    page.click("text=CSVから取り込む")
    page.set_input_files("#file", str(broken))
    page.click("#preview")
    errors = page.inner_text("#import-errors")
    assert "npo_list.csv:3: kind 'fax' is not one of" in errors
    shot(page, "import")
    page.fill("#csv", BROKEN_CSV.replace(",fax,", ",phone,"))
    page.click("#preview")
    assert "追加 2件" in page.inner_text("#import-preview")
    page.click("#apply")
    assert "追加 2件" in page.inner_text("#import-done")


def test_staff_cannot_reach_operator_actions(open_page, site):
    page = open_page()
    log_in(page, site, "staff")
    page.click("nav >> text=窓口一覧")
    assert page.locator("text=CSVから取り込む").count() == 0  # not offered...
    csrf = page.get_attribute("input[name=csrf]", "value")
    for path in ("/console/catalogue/import", "/console/catalogue/new", "/console/accounts"):
        response = page.goto(site + path)
        assert response.status == 403, path  # ...and refused by the server
        assert "運営者" in page.inner_text("main")
    response = page.request.post(site + "/console/catalogue/reload", form={"csrf": csrf})
    assert response.status == 403
    page.goto(site + "/console/catalogue/yorisoi_hotline")
    assert page.locator("#service-form fieldset[disabled]").count() == 1


def test_needs_are_charts_with_tables_and_small_counts_hidden(open_page, site, shot):
    page = open_page()
    log_in(page, site, "staff")
    page.click("nav >> text=ニーズ")
    assert page.locator("#needs-weekly svg.chart").count() >= 6
    assert page.locator("#needs-hours svg rect.bar").count() == 24
    page.click("#needs-crisis summary")
    assert "<5" in page.inner_text("#t-crisis")
    with page.expect_download() as download:
        page.click("#needs-areas >> text=CSVでダウンロード")
    assert download.value.suggested_filename == "tsunagu-needs-areas-12w.csv"
    shot(page, "needs")


def test_an_operator_edits_an_entry_in_a_form(open_page, site, shot):
    page = open_page()
    log_in(page, site, "op")
    page.goto(site + "/console/catalogue/inochi_navi")
    page.fill("#f-phone", "12-34")
    page.click("#save")
    assert "phone '12-34'" in page.inner_text("#edit-errors")
    page.goto(site + "/console/catalogue/inochi_navi")
    page.fill("#f-checked", "2026-03-01")
    page.click("#save")
    assert "書き込み" in page.inner_text("#saved")
    assert page.input_value("#f-checked") == "2026-03-01"
    shot(page, "edit", full_page=False)
