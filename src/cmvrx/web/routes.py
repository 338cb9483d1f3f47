"""The page's routes (``/web``): sign-in, case entry and import, plan, courses, knowledge.

Every page needs a signed-in user (else a redirect to the sign-in page, showing nothing);
every POST needs the form's CSRF token (else 403, nothing done). Course URLs carry an
opaque random reference, never the course id; no query string carries patient data.
Errors of the API are shown at the form field they name; a refused case shows no dose.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cmvrx import api
from cmvrx.errors import CmvrxError, UnknownCourseError
from cmvrx.model.plan import DISCLAIMER
from cmvrx.web import sessions
from cmvrx.web.accounts import check_local_sign_in
from cmvrx.web.forms import (
    ALL_FIELDS,
    CASE_FORM,
    FormData,
    FormInputError,
    case_document,
    form_field_for,
    form_values_from_case,
    read_form,
    utc_time,
)
from cmvrx.web.oidc import OidcClient, OidcConfig, OidcError, Pending
from cmvrx.web.views import by_severity, monitoring_calendar, source_titles

router = APIRouter(prefix="/web", include_in_schema=False)
Form = Annotated[FormData, Depends(read_form)]
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
EVENT_KINDS = ("cmv_pcr", "lab", "weight", "clinical_status", "note")


def number_text(value: float | None, digits: int = 2) -> str:
    """A number as the API gave it, to ``digits`` decimals without trailing zeros
    (350.0 → "350", 1.05 → "1.05", 162.5 → "162.5")."""
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_TEMPLATES.filters["num"] = number_text


def setup_state(app: FastAPI) -> None:
    """The OIDC client (when configured) and the session length, on ``app.state``."""
    settings = app.state.settings
    app.state.web_session_hours = settings.web_session_hours
    app.state.oidc = (
        OidcClient(
            OidcConfig.from_file(settings.oidc_file),
            redirect_uri=settings.public_url + "/web/oidc/callback",
        )
        if settings.oidc_file
        else None
    )

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=303)


# ------------------------------------------------------------------ helpers


def render(
    request: Request,
    template: str,
    user: sessions.SignedIn | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    knowledge = api.load_knowledge()
    html = _TEMPLATES.get_template(template).render(
        user=user,
        csrf=user.csrf_token if user else context.pop("csrf", ""),
        disclaimer=DISCLAIMER,
        knowledge_version=knowledge.version,
        oidc=request.app.state.oidc is not None,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers.update(
        {
            "Content-Security-Policy": _CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        }
    )
    return response


def _to_signin() -> RedirectResponse:
    return RedirectResponse("/web/signin", status_code=303)


def _refused(request: Request, user: sessions.SignedIn | None) -> HTMLResponse:
    return render(
        request,
        "refused.html",
        user,
        status=403,
        message="Refused: this form's security token is missing or wrong. Nothing was done."
        " Reload the page and try again.",
    )


def _guard(request: Request, form: FormData) -> sessions.SignedIn | Response:
    """The signed-in user whose form token matches, or the response refusing the post."""
    user = sessions.current(request)
    if user is None:
        if not form.get("csrf_token"):
            return _refused(request, None)
        return _to_signin()
    if not sessions.csrf_ok(user.csrf_token, form.get("csrf_token")):
        return _refused(request, user)
    return user


def _now(request: Request) -> datetime:
    return sessions.now(request)


def _store(request: Request) -> Any:
    return request.app.state.store


# ------------------------------------------------------------------ sign-in


@router.get("/signin")
def signin_page(request: Request) -> Response:
    token = sessions.pre_session_token(request)
    response = render(request, "signin.html", None, csrf=token, error="")
    sessions.set_cookie(request, response, sessions.PRE_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/signin")
def signin(request: Request, form: Form) -> Response:
    expected = request.cookies.get(sessions.PRE_CSRF_COOKIE)
    if not sessions.csrf_ok(expected, form.get("csrf_token")):
        return _refused(request, None)
    username = form.get("username")[:100]
    store = _store(request)
    since = _now(request) - timedelta(minutes=sessions.THROTTLE_MINUTES)
    if store.count_access(username, "sign_in_failed", since=since) >= sessions.THROTTLE_FAILURES:
        return render(
            request,
            "signin.html",
            None,
            status=429,
            csrf=expected,
            error=f"Too many failed sign-ins for this user: wait {sessions.THROTTLE_MINUTES}"
            " minutes, or ask your administrator.",
        )
    if not check_local_sign_in(store, username, form.get("password")):
        store.record_access(username, "sign_in_failed")
        return render(
            request,
            "signin.html",
            None,
            status=401,
            csrf=expected,
            error="User name or password is wrong.",
        )
    response = RedirectResponse("/web/", status_code=303)
    sessions.start(request, response, username)
    _store(request).record_access(username, "sign_in")
    return response


@router.post("/signout")
def signout(request: Request, form: Form) -> Response:
    user = _guard(request, form)
    if isinstance(user, Response):
        return user
    response = _to_signin()
    sessions.end(request, response, user)
    return response


@router.get("/oidc/start")
def oidc_start(request: Request) -> Response:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        return render(request, "refused.html", None, status=404, message="No identity provider.")
    try:
        url, pending = client.begin()
    except OidcError:
        return render(request, "signin.html", None, status=502, csrf="", error=_IDP_FAILED)
    response = RedirectResponse(url, status_code=303)
    sessions.set_cookie(request, response, sessions.OIDC_COOKIE, pending.encode(), max_age=600)
    return response


_IDP_FAILED = "Sign-in with the identity provider failed. Try again or ask your administrator."


@router.get("/oidc/callback")
def oidc_callback(request: Request, state: str = "", code: str = "") -> Response:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        return render(request, "refused.html", None, status=404, message="No identity provider.")
    pending = Pending.decode(request.cookies.get(sessions.OIDC_COOKIE))
    try:
        username = client.finish(pending, state, code)
    except OidcError:
        token = sessions.pre_session_token(request)
        failed = render(request, "signin.html", None, status=401, csrf=token, error=_IDP_FAILED)
        sessions.set_cookie(request, failed, sessions.PRE_CSRF_COOKIE, token, max_age=3600)
        return failed
    store = _store(request)
    if store.get_user(username) is None:
        store.put_user(username, None, source="oidc")
    response = RedirectResponse("/web/", status_code=303)
    response.delete_cookie(sessions.OIDC_COOKIE, path="/")
    sessions.start(request, response, username)
    store.record_access(username, "sign_in_oidc")
    return response


# ------------------------------------------------------------------ home, case, plan


@router.get("/")
def home(request: Request) -> Response:
    user = sessions.current(request)
    if user is None:
        return _to_signin()
    return render(request, "home.html", user)


def _case_form(
    request: Request,
    user: sessions.SignedIn,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
    import_text: str = "",
) -> HTMLResponse:
    return render(
        request,
        "case.html",
        user,
        status=status,
        groups=CASE_FORM,
        values=values or {},
        errors=errors or {},
        general=general or [],
        import_text=import_text,
    )


@router.get("/case")
def case_page(request: Request) -> Response:
    user = sessions.current(request)
    if user is None:
        return _to_signin()
    return _case_form(request, user)


@router.post("/case")
def case_submit(request: Request, form: Form) -> Response:
    user = _guard(request, form)
    if isinstance(user, Response):
        return user
    values: dict[str, Any] = form.values()
    values["disease.sites"] = form.all("disease.sites")
    try:
        doc = case_document(form)
    except FormInputError as exc:
        return _case_form(request, user, values=values, errors=exc.errors, status=422)
    return _plan_or_errors(request, user, doc, values)


def _plan_or_errors(
    request: Request, user: sessions.SignedIn, doc: dict[str, Any], values: dict[str, Any]
) -> HTMLResponse:
    try:
        plan = api.plan(doc, as_of=_now(request)).to_dict()
    except CmvrxError as exc:
        field = getattr(exc, "field", None)
        target = form_field_for(field, ALL_FIELDS)
        message = str(exc)
        errors = {target: message} if target else {}
        general = [] if target else [f"{field or 'case'}: {message}"]
        return _case_form(request, user, values=values, errors=errors, general=general, status=422)
    return _plan_page(request, user, plan, doc)


def _plan_page(
    request: Request, user: sessions.SignedIn, plan: dict[str, Any], doc: dict[str, Any]
) -> HTMLResponse:
    as_of = datetime.fromisoformat(plan["provenance"]["as_of"])
    return render(
        request,
        "plan.html",
        user,
        plan=plan,
        alerts=by_severity(plan["alerts"]),
        calendar=monitoring_calendar(plan, as_of),
        cites=lambda ids: source_titles(ids, plan["sources"]),
        case_json=json.dumps(doc, ensure_ascii=False),
    )


@router.post("/import")
def import_case(request: Request, form: Form) -> Response:
    """A case file (YAML/JSON) or a FHIR Bundle/resource pasted or loaded into the form."""
    user = _guard(request, form)
    if isinstance(user, Response):
        return user
    text = form.get("import_text")
    if not text:
        return _case_form(
            request, user, errors={"import_text": "paste or choose a file first"}, status=422
        )
    try:
        from cmvrx.documents import parse_document

        data = parse_document(text, name="import")
        if isinstance(data, dict) and "resourceType" in data:
            return _import_fhir(request, user, data, text, form.get("import_dialysis") or None)
        doc = api.load_case(data).model_dump(mode="json", exclude_none=True)
    except CmvrxError as exc:
        where = getattr(exc, "field", None)
        message = f"{where}: {exc}" if where else str(exc)
        return _case_form(
            request, user, errors={"import_text": message}, status=422, import_text=text
        )
    return _plan_or_errors(request, user, doc, form_values_from_case(doc))


def _import_fhir(
    request: Request,
    user: sessions.SignedIn,
    data: dict[str, Any],
    text: str,
    dialysis: str | None,
) -> HTMLResponse:
    """A FHIR Bundle or resource through the one mapping layer; ``dialysis`` is the
    clinician's statement when the record holds none (never assumed)."""
    from cmvrx.fhir.inbound import read

    result = read(data, as_of=_now(request), dialysis=dialysis)
    if result.case is None:
        problems = [f"{p.resource or 'record'}: {p.message}" for p in result.problems]
        return _case_form(
            request,
            user,
            values=form_values_from_case(result.case_document),
            errors={"import_text": "the FHIR data cannot make a case: see the list above"},
            general=problems or ["the FHIR data holds no usable case"],
            status=422,
            import_text=text,
        )
    doc = result.case.model_dump(mode="json", exclude_none=True)
    return _plan_or_errors(request, user, doc, form_values_from_case(doc))


# ------------------------------------------------------------------ courses


@router.get("/courses")
def courses_page(request: Request) -> Response:
    user = sessions.current(request)
    if user is None:
        return _to_signin()
    store = _store(request)
    listed = [(c, store.course_ref(c.course_id)) for c in api.list_courses(store=store)]
    store.record_access(user.username, "list_courses")
    return render(request, "courses.html", user, courses=listed)


@router.post("/courses")
def course_create(request: Request, form: Form) -> Response:
    user = _guard(request, form)
    if isinstance(user, Response):
        return user
    store = _store(request)
    course_id = form.get("course_id")
    try:
        case = json.loads(form.get("case_json") or "null")
        events = _started_events(request, case) if form.get("record_start") == "yes" else []
        api.create_course(course_id, case, events=events, store=store)
    except (CmvrxError, ValueError) as exc:
        return render(
            request,
            "refused.html",
            user,
            status=422,
            message=f"The course was not created: {getattr(exc, 'field', None) or 'course'}: {exc}",
        )
    store.record_access(user.username, "create_course", course_id)
    return RedirectResponse(f"/web/courses/{store.course_ref(course_id)}", status_code=303)


def _started_events(request: Request, case: Any) -> list[Any]:
    """A ``plan_started`` event recording the plan's induction doses as started now."""
    now = _now(request)
    plan = api.plan(case, as_of=now).to_dict()
    orders = [
        {
            "drug": d["drug"],
            "dose_mg": d["practical_mg"],
            "interval": d["interval"],
            "route": d["route"],
        }
        for d in plan["regimen"]["induction"]
        if d["status"] == "dose"
    ]
    if not orders:
        return []
    event = {
        "kind": "plan_started",
        "at": now.isoformat(),
        "regimen_id": plan["regimen"]["regimen_id"],
        "phase": "induction",
        "orders": orders,
    }
    from cmvrx.store.documents import events_from_document

    return list(events_from_document([event]))


def _course_id(request: Request, ref: str) -> str | None:
    if len(ref) > 40:
        return None
    return _store(request).course_of_ref(ref)  # type: ignore[no-any-return]


@router.get("/courses/{ref}")
def course_page(request: Request, ref: str) -> Response:
    user = sessions.current(request)
    if user is None:
        return _to_signin()
    course_id = _course_id(request, ref)
    if course_id is None:
        return render(request, "refused.html", user, status=404, message="No such course.")
    _store(request).record_access(user.username, "view_course", course_id)
    return _course_view(request, user, ref, course_id)


def _course_view(
    request: Request,
    user: sessions.SignedIn,
    ref: str,
    course_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    from cmvrx.model.course import EVENT_ADAPTER
    from cmvrx.web.chart import chart_data_uri

    store = _store(request)
    now = _now(request)
    try:
        course, _assessments = api.get_course(course_id, store=store)
    except UnknownCourseError:
        return render(request, "refused.html", user, status=404, message="No such course.")
    assessment = api.assess_course(course, as_of=now).to_dict()
    timeline = [EVENT_ADAPTER.dump_python(e, mode="json") for e in course.timeline()]
    return render(
        request,
        "course.html",
        user,
        status=status,
        ref=ref,
        course_id=course_id,
        a=assessment,
        findings=by_severity(assessment["findings"]),
        timeline=timeline,
        chart=chart_data_uri(course, now),
        access=store.list_access(course_id)[-20:],
        errors=errors or {},
        values=values or {},
        event_kinds=EVENT_KINDS,
        cites=lambda ids: source_titles(ids, assessment["sources"]),
    )


def event_document(form: FormData) -> dict[str, Any]:
    """The event the add-event form describes (empty inputs left out)."""
    kind = form.get("kind")
    doc: dict[str, Any] = {"kind": kind}
    if form.get("at"):
        doc["at"] = utc_time(form.get("at"))
    for name in ("result", "specimen", "analyte", "unit", "status", "text", "note"):
        if form.get(name):
            doc[name] = form.get(name)
    for name in ("value", "lower_limit"):
        raw = form.get(name)
        if raw:
            try:
                doc[name] = float(raw)
            except ValueError:
                raise FormInputError({name: f"{raw!r} is not a number"}) from None
    return doc


@router.post("/courses/{ref}/events")
def course_add_event(request: Request, ref: str, form: Form) -> Response:
    user = _guard(request, form)
    if isinstance(user, Response):
        return user
    course_id = _course_id(request, ref)
    if course_id is None:
        return render(request, "refused.html", user, status=404, message="No such course.")
    values = form.values()
    try:
        event = event_document(form)
        api.append_events(course_id, [event], store=_store(request))
    except FormInputError as exc:
        return _course_view(
            request, user, ref, course_id, errors=exc.errors, values=values, status=422
        )
    except CmvrxError as exc:
        field = (getattr(exc, "field", None) or "").removeprefix("events[0]").lstrip(".")
        target = field.split(".")[0] if field.split(".")[0] in _EVENT_INPUTS else "kind"
        return _course_view(
            request, user, ref, course_id, errors={target: str(exc)}, values=values, status=422
        )
    _store(request).record_access(user.username, "add_event", course_id)
    return RedirectResponse(f"/web/courses/{ref}", status_code=303)


_EVENT_INPUTS = frozenset(
    {
        "kind",
        "at",
        "result",
        "value",
        "lower_limit",
        "specimen",
        "analyte",
        "unit",
        "status",
        "text",
    }
)


# ------------------------------------------------------------------ knowledge


@router.get("/knowledge")
def knowledge_page(request: Request) -> Response:
    user = sessions.current(request)
    if user is None:
        return _to_signin()
    return render(request, "knowledge.html", user, k=api.knowledge_catalogue())
