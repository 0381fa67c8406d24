"""Thin handlers: parse the form, call the core in a worker thread, render a template."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console import cases as case_sets
from bot.console import editing, needs, trying
from bot.console.auth import ROLES, AccountError, generate_password
from bot.console.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    base,
    console_of,
    current_user,
    guard,
    login_token,
    now_tokyo,
    parse_at,
    redirect,
    render,
    set_login_cookie,
    set_session_cookie,
)
from bot.engine.evaluation import CaseError

MAX_UPLOAD = 2 * 1024 * 1024
LOGIN_MESSAGES = {
    "bad": "ユーザー名かパスワードが違います。",
    "locked": "ログインの失敗が続いたため、このアカウントは一時的にロックされています。{wait}秒後にもう一度お試しください。",
    "throttled": "ログインの失敗が多すぎます。{wait}秒後にもう一度お試しください。",
    "csrf": "ページの有効期限が切れました。もう一度ログインしてください。",
}


async def _text_of(form, field: str, upload: str | None = None) -> tuple[str, str]:
    """The text of an uploaded file (if one was chosen) or of a text field; and the file's name."""
    if upload:
        f = form.get(upload)
        if isinstance(f, UploadFile) and f.filename:
            raw = await f.read(MAX_UPLOAD + 1)
            if len(raw) > MAX_UPLOAD:
                raise CaseError(f"{f.filename}: ファイルが大きすぎます（2MBまで）")
            try:
                return raw.decode("utf-8-sig"), f.filename
            except UnicodeDecodeError:
                raise CaseError(f"{f.filename}:0: UTF-8 のテキストとして読めません") from None
    return str(form.get(field, "")).replace("\r\n", "\n"), ""


# Login ---------------------------------------------------------------------------------------


def _safe_next(request: Request, target: str | None) -> str:
    root = base(request)
    if target and target.startswith(root + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return root + "/"


async def login_page(request: Request) -> Response:
    token = login_token(request)
    response = render(request, "login.html", {"login_csrf": token, "next": request.query_params.get("next", ""),
                                              "name": "", "message": ""})
    set_login_cookie(request, response, token)
    return response


async def login(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = str(form.get("next", ""))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, str(form.get("login_csrf", ""))):
        result_reason, wait, status = "csrf", 0, 400
    else:
        ip = request.client.host if request.client else "unknown"
        result = await run_in_threadpool(console.accounts.login, name, password, ip)
        if result.user is not None:
            token = await run_in_threadpool(console.accounts.open_session, result.user)
            response = RedirectResponse(_safe_next(request, target), status_code=303)
            set_session_cookie(request, response, token)
            response.delete_cookie(LOGIN_COOKIE, path=base(request) or "/")
            return response
        result_reason, wait = result.reason, result.retry_after
        status = 429 if result.reason in ("locked", "throttled") else 401
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", {
        "login_csrf": token, "next": target, "name": name,
        "message": LOGIN_MESSAGES[result_reason].format(wait=wait)}, status,
        headers={"retry-after": str(wait)} if wait else None)
    set_login_cookie(request, response, token)
    return response


@guard("staff")
async def logout(request: Request) -> Response:
    await run_in_threadpool(console_of(request).accounts.close_session, request.cookies.get(SESSION_COOKIE))
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
    return response


# 試す ----------------------------------------------------------------------------------------


@guard("staff")
async def home(request: Request) -> Response:
    return render(request, "try.html", {"form": {"text": "", "area": "", "at": "", "lang": "", "asked": ""},
                                        "result": None, "error": "", "languages": trying.language_options()})


@guard("staff")
async def try_message(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("text", "area", "at", "lang", "asked")}
    languages = trying.language_options()
    if values["lang"] not in {code for code, _ in languages}:
        values["lang"] = ""
    if values["asked"] != "suicide_check":
        values["asked"] = ""
    error, area = "", None
    if values["area"]:
        found = console.engine.find_area(values["area"])
        if found is None:
            error = f"「{values['area']}」という地域が見つかりません。市区町村名か郵便番号、地方公共団体コードで入力してください。"
        else:
            area = found.code
    at = parse_at(values["at"]) or now_tokyo()
    if not values["text"]:
        error = error or "メッセージを入力してください。"
    if error:
        return render(request, "try.html", {"form": values, "result": None, "error": error,
                                            "languages": languages}, 400)

    def work():
        referral = trying.try_message(console.engine, values["text"], area, at, values["lang"] or None,
                                      values["asked"] or None)
        return referral, trying.chat(referral), trying.explain(console.engine, referral, values["lang"] or None)

    referral, messages, why = await run_in_threadpool(work)
    # The question this reply asks travels with the form, so that the next try is read as its answer.
    shown = {**values, "asked": referral.asks or ""}
    return render(request, "try.html", {"form": shown, "error": "", "languages": languages,
                                        "answered": values["asked"], "result": {
        "referral": referral, "messages": messages, "why": why, "plain": trying.render_text(referral)}})


# ケース --------------------------------------------------------------------------------------


def _sets(request: Request) -> case_sets.Sets:
    return case_sets.Sets(console_of(request).db)


@guard("staff")
async def cases_page(request: Request) -> Response:
    sets = await run_in_threadpool(_sets(request).list)
    name = request.query_params.get("set", "")
    text, runs = "", []
    if name:
        row = await run_in_threadpool(_sets(request).get, name)
        if row is not None:
            text = row.text
            runs = await run_in_threadpool(_sets(request).runs, name)
    return render(request, "cases.html", _cases_context(request, sets, name, text, None, "", runs))


def _cases_context(request, sets, name, text, result, error, runs=()):
    engine = console_of(request).engine
    return {"sets": sets, "name": name, "text": text, "result": result, "error": error, "runs": list(runs),
            "intents": sorted(engine.intents.values(), key=lambda s: (s.tier != "crisis", s.tier, s.id))}


@guard("staff")
async def cases_run(request: Request) -> Response:
    console, user = console_of(request), current_user(request)
    form = await request.form()
    name = str(form.get("name", "")).strip()
    action = str(form.get("action", "run"))
    sets = _sets(request)
    try:
        text, filename = await _text_of(form, "text", "file")
        if action == "rerun":
            row = await run_in_threadpool(sets.get, name)
            if row is None:
                raise CaseError(f"「{name}」というセットはありません")
            text = row.text
        source = filename or (name + ".yaml" if name else "貼り付け")
        parsed = case_sets.parse(text, source)
        if action in ("save", "rerun"):
            if not name:
                raise CaseError("保存するにはセット名を入力してください")
            if action == "save":
                await run_in_threadpool(sets.save, name, text, user.name)
        result = await run_in_threadpool(case_sets.run, console.engine, parsed)
        if action in ("save", "rerun"):
            await run_in_threadpool(sets.record, name, result, user.name)
        error, status = "", 200
    except CaseError as exc:
        result, error, status = None, str(exc), 400
    listed = await run_in_threadpool(sets.list)
    runs = await run_in_threadpool(sets.runs, name) if name else []
    return render(request, "cases.html", _cases_context(request, listed, name, text, result, error, runs), status)


@guard("staff")
async def cases_delete(request: Request) -> Response:
    form = await request.form()
    await run_in_threadpool(_sets(request).delete, str(form.get("name", "")))
    return redirect(request, "/cases")


# 窓口一覧 ------------------------------------------------------------------------------------


@guard("staff")
async def catalogue_page(request: Request) -> Response:
    console = console_of(request)
    q = request.query_params
    f = editing.Filters(need=q.get("need", ""), area=q.get("area", ""), confidence=q.get("confidence", ""),
                        stale=q.get("stale") == "1", kind=q.get("kind", ""))
    at = parse_at(q.get("at")) or now_tokyo()

    def work():
        rows, area_name, area_error = editing.listing(console.engine, f, at)
        return rows, area_name, area_error, editing.check(console.engine)

    rows, area_name, area_error, problems = await run_in_threadpool(work)
    return render(request, "catalogue.html", {
        "rows": rows, "filters": f, "at": at, "area_name": area_name, "area_error": area_error,
        "problems": problems, "intents": _need_options(console.engine), "confidences": editing.CONFIDENCE,
        "kinds": editing.KINDS, "kind_ja": trying.KIND_JA, "version": console.engine.catalogue.version,
        "total": len(console.engine.catalogue.services), "flash": q.get("done", ""),
        "path": console.engine.catalogue_path.name})


def _need_options(engine):
    return [s for s in sorted(engine.intents.values(), key=lambda s: (s.tier != "crisis", s.id)) if s.tier != "meta"]


@guard("staff")
async def service_page(request: Request) -> Response:
    console = console_of(request)
    sid = request.path_params["sid"]
    service = console.engine.catalogue.get(sid)
    entries = await run_in_threadpool(editing.Entries.shared, console.engine.catalogue_path)
    i = entries.index(sid)
    if service is None and i is None:
        return render(request, "error.html", {"title": "見つかりません", "message": f"{sid} という窓口はありません。"}, 404)
    values = editing.form_values(entries.data[i] if i is not None else None)
    return render(request, "service.html", _service_context(request, sid, values, editing.version_of(entries.text),
                                                            [], service))


def _service_context(request, sid, values, version, problems, service=None, done=""):
    engine = console_of(request).engine
    return {"sid": sid, "values": values, "version": version, "problems": problems, "service": service,
            "kinds": editing.KINDS, "confidences": editing.CONFIDENCE, "statuses": editing.STATUS,
            "kind_ja": trying.KIND_JA, "done": done, "fields": editing.FIELDS,
            "area_names": editing.area_names(engine, service.areas) if service else "",
            "intent_ids": " ".join(sorted(engine.intents))}


@guard("operator")
async def service_new(request: Request) -> Response:
    entries = await run_in_threadpool(editing.Entries.shared, console_of(request).engine.catalogue_path)
    values = editing.form_values({"status": "active", "confidence": "medium", "kind": "phone"})
    return render(request, "service.html", _service_context(request, None, values,
                                                            editing.version_of(entries.text), []))


@guard("operator")
async def service_save(request: Request) -> Response:
    console = console_of(request)
    sid = request.path_params.get("sid")
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in editing.FIELDS if k in form}
    if sid:
        values.pop("id", None)

    def work():
        with console.write_lock:
            result = editing.edit_entry(console.engine, sid, values, str(form.get("version", "")), write=True)
            reload_problems = console.engine.reload() if result.written else []
            return result, reload_problems

    result, reload_problems = await run_in_threadpool(work)
    if result.problems or reload_problems:
        values = {**values, "id": sid or values.get("id", "")}
        return render(request, "service.html", _service_context(
            request, sid, values, str(form.get("version", "")), result.problems + reload_problems,
            console.engine.catalogue.get(sid) if sid else None), 400)
    target = sid or values.get("id", "")
    done = "saved" if result.written else "nochange"
    return redirect(request, f"/catalogue/{target}?{urlencode({'done': done})}")


@guard("operator")
async def import_page(request: Request) -> Response:
    return render(request, "import.html", {"preview": None, "csv": "", "filename": ""})


@guard("operator")
async def import_csv(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    write = str(form.get("action", "")) == "apply"
    try:
        text, filename = await _text_of(form, "csv", None if write else "file")
    except CaseError as exc:
        return render(request, "import.html", {"preview": None, "csv": "", "filename": "", "error": str(exc)}, 400)
    filename = filename or str(form.get("filename", "")) or "import.csv"

    def work():
        with console.write_lock:
            preview = editing.import_csv(console.engine, filename, text, write=write)
            reload_problems = console.engine.reload() if preview.written else []
            return preview, reload_problems

    preview, reload_problems = await run_in_threadpool(work)
    preview.problems += reload_problems
    status = 400 if preview.problems else 200
    return render(request, "import.html", {"preview": preview, "csv": text, "filename": preview.filename}, status)


@guard("operator")
async def reload_catalogue(request: Request) -> Response:
    console = console_of(request)

    def work():
        with console.write_lock:
            return console.engine.reload()

    problems = await run_in_threadpool(work)
    if problems:
        return render(request, "error.html", {"title": "読み込み直せませんでした",
                                              "message": "ファイルに問題があるため、前の一覧のまま動いています。",
                                              "problems": problems}, 400)
    return redirect(request, "/catalogue?done=reloaded")


# ニーズ --------------------------------------------------------------------------------------


def _weeks(request: Request) -> int:
    value = request.query_params.get("weeks", "12")
    return int(value) if value.isdigit() and int(value) in needs.WEEKS else 12


@guard("staff")
async def needs_page(request: Request) -> Response:
    console = console_of(request)
    weeks = _weeks(request)
    fig = await run_in_threadpool(needs.figures, console.db, console.engine, weeks)
    week_labels = [f"{m.month}/{m.day}" for m in fig.weeks]
    charts = {
        "needs": [(i, label, needs.columns(c, week_labels, 300, 110, 14, 18)) for i, label, c in
                  fig.needs[:needs.MAX_NEED_CHARTS]],
        "areas": needs.rows_chart([(n, c) for _, n, c in fig.areas]),
        "hours": needs.columns(fig.hours, [f"{h}" for h in range(24)]),
        "crisis": needs.columns(fig.crisis, week_labels),
    }
    tables = {name: needs.table(fig, name) for name in needs.TABLES}
    return render(request, "needs.html", {"fig": fig, "charts": charts, "tables": tables, "weeks": weeks,
                                          "week_choices": needs.WEEKS, "hidden": needs.HIDDEN})


@guard("staff")
async def needs_csv(request: Request) -> Response:
    console = console_of(request)
    name = request.path_params["table"]
    if name not in needs.TABLES:
        return render(request, "error.html", {"title": "見つかりません", "message": name}, 404)
    weeks = _weeks(request)
    fig = await run_in_threadpool(needs.figures, console.db, console.engine, weeks)
    return Response(needs.csv_text(fig, name), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="tsunagu-needs-{name}-{weeks}w.csv"'})


# アカウント ----------------------------------------------------------------------------------


@guard("operator")
async def accounts_page(request: Request) -> Response:
    users = await run_in_threadpool(console_of(request).accounts.list)
    return render(request, "accounts.html", {"users": users, "roles": ROLES, "created": None, "error": ""})


@guard("operator")
async def accounts_add(request: Request) -> Response:
    accounts = console_of(request).accounts
    form = await request.form()
    name, role = str(form.get("name", "")).strip(), str(form.get("role", "staff"))
    password = str(form.get("password", "")) or generate_password()
    created, error = None, ""
    try:
        await run_in_threadpool(accounts.add, name, role, password)
        created = {"name": name, "role": role, "password": password if not form.get("password") else None}
    except AccountError as exc:
        error = str(exc)
    users = await run_in_threadpool(accounts.list)
    return render(request, "accounts.html", {"users": users, "roles": ROLES, "created": created, "error": error},
                  400 if error else 200)


@guard("operator")
async def accounts_remove(request: Request) -> Response:
    accounts = console_of(request).accounts
    form = await request.form()
    name = str(form.get("name", ""))
    if name == current_user(request).name:
        users = await run_in_threadpool(accounts.list)
        return render(request, "accounts.html", {"users": users, "roles": ROLES, "created": None,
                                                 "error": "自分のアカウントはここでは削除できません。"}, 400)
    await run_in_threadpool(accounts.remove, name)
    return redirect(request, "/accounts")
