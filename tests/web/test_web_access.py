"""Access to the web page: sign-in, session cookies, CSRF, accounts, the access record,
no patient data in URLs or logs."""

from __future__ import annotations

import html
import logging
import re
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from web_support import PASSWORD, USER, add_user, cns_form, csrf_of, make_app, sign_in

from cmvrx.store import open_service_store
from cmvrx.web.passwords import hash_password, password_problem, verify_password

PAGES = ["/web/", "/web/case", "/web/courses", "/web/knowledge", "/web/courses/anything"]


@pytest.mark.parametrize("path", PAGES)
def test_without_sign_in_every_page_sends_to_the_sign_in_page(
    client: TestClient, path: str
) -> None:
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/web/signin"


def test_the_root_leads_to_the_page(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/web/"


def test_a_wrong_password_is_refused_without_saying_which_part(client: TestClient) -> None:
    page = client.get("/web/signin")
    reply = client.post(
        "/web/signin",
        data={"csrf_token": csrf_of(page.text), "username": USER, "password": "wrong" * 4},
    )
    assert reply.status_code == 401
    assert "User name or password is wrong" in reply.text
    unknown = client.post(
        "/web/signin",
        data={"csrf_token": csrf_of(page.text), "username": "nobody", "password": PASSWORD},
    )
    assert unknown.status_code == 401
    assert client.get("/web/", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    page = client.get("/web/signin")
    reply = client.post(
        "/web/signin",
        data={"csrf_token": csrf_of(page.text), "username": USER, "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = next(c for c in reply.headers.get_list("set-cookie") if "cmvrx_session=" in c)
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http public URL (tests)


def test_behind_https_the_cookie_is_secure_with_the_host_prefix(web_db: str) -> None:
    app = make_app(web_db, public_url="https://cmvrx.hospital.example")
    with TestClient(app, base_url="https://testserver") as c:
        page = c.get("/web/signin")
        assert "Secure" in page.headers["set-cookie"]
        reply = c.post(
            "/web/signin",
            data={"csrf_token": csrf_of(page.text), "username": USER, "password": PASSWORD},
            follow_redirects=False,
        )
        cookie = next(x for x in reply.headers.get_list("set-cookie") if "session" in x)
        assert cookie.startswith("__Host-cmvrx_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert c.get("/web/case").status_code == 200


def test_a_sign_in_post_without_the_token_is_refused(client: TestClient) -> None:
    reply = client.post("/web/signin", data={"username": USER, "password": PASSWORD})
    assert reply.status_code == 403
    assert client.get("/web/", follow_redirects=False).status_code == 303


def test_a_forged_post_without_the_csrf_token_is_refused_and_does_nothing(
    client: TestClient,
) -> None:
    token = sign_in(client)
    plan = client.post("/web/case", data={"csrf_token": token, **cns_form()})
    case_json = html.unescape(re.search(r'name="case_json" value="([^"]+)"', plan.text)[1])
    forged = client.post(
        "/web/courses", data={"course_id": "forged", "case_json": case_json}, follow_redirects=False
    )
    assert forged.status_code == 403
    wrong = client.post(
        "/web/courses",
        data={"csrf_token": "x" * 43, "course_id": "forged", "case_json": case_json},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    assert "forged" not in client.get("/web/courses").text
    assert client.post("/web/case", data=cns_form()).status_code == 403
    assert "mg" not in client.post("/web/case", data=cns_form()).text.split("<main")[1]


def test_sign_out_ends_the_session_on_the_server(client: TestClient) -> None:
    token = sign_in(client)
    cookie = dict(client.cookies)
    assert (
        client.post("/web/signout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    client.cookies.update(cookie)  # a stolen cookie no longer works
    assert client.get("/web/", follow_redirects=False).status_code == 303


def test_the_session_expires(web_db: str) -> None:
    from web_support import NOW

    clock = [NOW.timestamp()]
    app = make_app(web_db, web_session_hours=1.0)
    app.state.settings = type(app.state.settings)(
        public_url="http://testserver", dev_no_auth=True, db_url=web_db, clock=lambda: clock[0]
    )
    app.state.web_session_hours = 1.0
    with TestClient(app) as c:
        sign_in(c)
        assert c.get("/web/", follow_redirects=False).status_code == 200
        clock[0] += 3601
        assert c.get("/web/", follow_redirects=False).status_code == 303


def test_pages_carry_security_headers(client: TestClient) -> None:
    sign_in(client)
    reply = client.get("/web/case")
    assert "default-src 'self'" in reply.headers["content-security-policy"]
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-frame-options"] == "DENY"


def test_passwords_are_stored_as_scrypt_hashes_only(web_db: str) -> None:
    store = open_service_store(web_db)
    try:
        user = store.get_user(USER)  # type: ignore[attr-defined]
    finally:
        store.close()
    assert user.password_hash.startswith("scrypt$")
    assert PASSWORD not in user.password_hash
    assert verify_password(PASSWORD, user.password_hash)
    assert not verify_password(PASSWORD + "x", user.password_hash)
    assert not verify_password(PASSWORD, "garbage")
    assert not verify_password(PASSWORD, None)
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # salted
    assert password_problem("short") is not None


def test_cmvrx_user_add_reads_the_password_from_standard_input(tmp_path: object) -> None:
    db = f"{tmp_path}/cli.sqlite"
    cmd = [sys.executable, "-m", "cmvrx", "user", "add", "bob", "--db", db]
    done = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    short = subprocess.run(cmd, input="short\n", capture_output=True, text=True, check=False)
    assert short.returncode == 2
    assert "password" in short.stderr
    store = open_service_store(db)
    try:
        assert verify_password(PASSWORD, store.get_user("bob").password_hash)  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_bad_user_name_is_refused_naming_the_field(web_db: str) -> None:
    from cmvrx.errors import InputError

    with pytest.raises(InputError) as caught:
        add_user(web_db, name="../x")
    assert caught.value.field == "username"


def test_who_viewed_or_changed_a_course_is_recorded(client: TestClient, web_db: str) -> None:
    token = sign_in(client)
    plan = client.post("/web/case", data={"csrf_token": token, **cns_form()})
    case_json = html.unescape(re.search(r'name="case_json" value="([^"]+)"', plan.text)[1])
    made = client.post(
        "/web/courses",
        data={"csrf_token": token, "course_id": "pt-7", "case_json": case_json},
        follow_redirects=False,
    )
    where = made.headers["location"]
    assert "pt-7" not in where  # an opaque reference, never the course id
    client.get(where)
    store = open_service_store(web_db)
    try:
        actions = [(r.username, r.action) for r in store.list_access("pt-7")]  # type: ignore[attr-defined]
    finally:
        store.close()
    assert (USER, "create_course") in actions
    assert (USER, "view_course") in actions


def test_no_patient_data_in_logs_or_urls(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = sign_in(client)
    plan = client.post("/web/case", data={"csrf_token": token, **cns_form(case_id="Doe-Jane-4711")})
    assert "Doe-Jane-4711" in plan.text
    case_json = html.unescape(re.search(r'name="case_json" value="([^"]+)"', plan.text)[1])
    made = client.post(
        "/web/courses",
        data={"csrf_token": token, "course_id": "MRN-998877", "case_json": case_json},
    )
    assert made.status_code == 200
    assert "MRN-998877" not in str(made.url)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Doe-Jane-4711", "MRN-998877", PASSWORD, token):
        assert secret not in logged
    assert "/web/courses/{ref}" in logged


def test_repeated_failed_sign_ins_are_throttled(client: TestClient) -> None:
    from cmvrx.web.sessions import THROTTLE_FAILURES

    page = client.get("/web/signin")
    token = csrf_of(page.text)
    for _ in range(THROTTLE_FAILURES):
        wrong = client.post(
            "/web/signin", data={"csrf_token": token, "username": USER, "password": "x" * 12}
        )
        assert wrong.status_code == 401
    right = client.post(
        "/web/signin", data={"csrf_token": token, "username": USER, "password": PASSWORD}
    )
    assert right.status_code == 429
    assert client.get("/web/", follow_redirects=False).status_code == 303
