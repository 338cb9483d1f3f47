"""End to end: a real Chromium (Debian's, driven by Playwright) against the real service
app on loopback. One browser and one server per session; every page checked by axe-core
(no serious or critical violation) and photographed to ``build/screenshots/``.

Needs Debian's ``chromium`` (/usr/bin/chromium) and axe-core from the npm registry (the
test setup installs it into ~/.cache/cmvrx-axe when missing); scripts/test installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from web_support import PASSWORD, REPO, USER, cns_bundle, cns_form

CHROMIUM = Path("/usr/bin/chromium")
AXE_CACHE = Path(os.environ.get("CMVRX_AXE_DIR", Path.home() / ".cache" / "cmvrx-axe"))
AXE = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO / "build" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

if not CHROMIUM.exists():
    pytest.skip(
        "chromium not installed (Debian package chromium: /usr/bin/chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) not installed")


def _axe() -> Path:
    if not AXE.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--prefix", str(AXE_CACHE), "axe-core@4"],
            capture_output=True,
            check=False,
            timeout=180,
        )
    if not AXE.exists():
        pytest.skip(f"axe-core not installed (npm install --prefix {AXE_CACHE} axe-core@4)")
    return AXE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from cmvrx import api
    from cmvrx.service import create_app
    from cmvrx.service.settings import Settings

    db = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'web.sqlite'}"
    api.add_web_user(USER, PASSWORD, store=db)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(Settings(public_url=base, dev_no_auth=True, db_url=db))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    for _ in range(200):
        if web.started:
            break
        time.sleep(0.05)
    yield base
    web.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Visit:
    """A browser context that records the host of every request and refuses any
    request off the host."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.hosts: set[str] = set()
        self.context = browser.new_context(
            bypass_csp=True, viewport={"width": 1100, "height": 900}
        )  # bypass_csp: only so the test can inject axe-core
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.axe = _axe()

    def _route(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        self.hosts.add(host)
        if host == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def check(self, name: str) -> None:
        """No serious or critical axe violation; a screenshot of the whole page."""
        self.page.add_script_tag(path=str(self.axe))
        violations = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']}))
                 .violations.map(v => ({id: v.id, impact: v.impact,
                   nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: {json.dumps(bad, indent=1)}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def sign_in(self) -> Any:
        page = self.go("/web/signin")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("form.narrow button[type=submit]")
        page.wait_for_url(self.base + "/web/")
        return page

    def close(self) -> None:
        assert self.hosts <= {"127.0.0.1"}, f"requests off the host: {self.hosts}"
        self.context.close()


@pytest.fixture
def visit(browser: Any, server: str) -> Iterator[Visit]:
    v = Visit(browser, server)
    yield v
    v.close()


def _local(hours_before: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_before)).strftime("%Y-%m-%dT%H:%M")


def _fill_case(page: Any, **changes: Any) -> None:
    form = cns_form(**changes)
    for key in [k for k in form if k.endswith("measured_at")]:
        form[key] = _local(6 if "cd4" not in key else 96)
    form.update({k: v for k, v in changes.items() if k.endswith("measured_at")})
    for name, value in form.items():
        if name == "disease.sites":
            for site in value:
                page.check(f'form.case input[name="disease.sites"][value="{site}"]')
            continue
        field = page.locator(f'form.case [name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.click("form.case button[type=submit]")
    page.wait_for_load_state()


def _doses(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".regimen [data-field=practical_mg]").all_inner_texts()]


def test_without_sign_in_no_page_shows_patient_data(visit: Visit) -> None:
    for path in ("/web/", "/web/case", "/web/courses", "/web/knowledge"):
        page = visit.go(path)
        assert page.url.endswith("/web/signin")
        assert page.locator("#username").is_visible()
    assert "mg" not in visit.page.inner_text("main")
    visit.check("01-sign-in")


def test_a_cns_case_gives_the_combination_regimen_and_prints(visit: Visit) -> None:
    page = visit.sign_in()
    visit.check("02-home")
    visit.go("/web/case")
    visit.check("03-case-form")
    _fill_case(page)
    assert _doses(page) == ["350 mg", "4200 mg"]
    assert page.locator(".regimen [data-field=interval]").all_inner_texts() == ["q12h", "q8h"]
    assert "119.1 mL/min" in page.inner_text("#crcl")
    assert page.locator(".notice").is_visible()
    assert page.locator(".nc-box").is_visible()
    visit.check("04-plan")
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet, upright
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the plan scrolls sideways on a tablet by {overflow} px"
    page.screenshot(path=str(SHOTS / "04b-plan-tablet.png"))
    page.set_viewport_size({"width": 1100, "height": 900})
    page.emulate_media(media="print")
    assert page.locator(".notice").is_visible()
    assert not page.locator("form.signout").is_visible()
    page.screenshot(path=str(SHOTS / "05-plan-print.png"), full_page=True)
    assert page.pdf(format="A4")[:4] == b"%PDF"
    page.emulate_media(media="screen")


def test_bad_input_shows_the_error_at_the_field_and_no_plan(visit: Visit) -> None:
    page = visit.sign_in()
    visit.go("/web/case")
    _fill_case(page, **{"patient.weight.value": "seventy"})
    error = page.locator("#err-patient-weight-value")
    assert error.is_visible()
    assert "not a number" in error.inner_text()
    assert page.locator("#f-patient-weight-value").get_attribute("aria-invalid") == "true"
    assert page.locator("[data-field=practical_mg]").count() == 0
    visit.check("06-case-error")


def test_a_fhir_bundle_is_imported_from_a_file(visit: Visit, tmp_path: Path) -> None:
    page = visit.sign_in()
    visit.go("/web/case")
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(cns_bundle(datetime.now(UTC))))
    page.set_input_files("#import-file", str(bundle))
    page.wait_for_function("document.getElementById('import-text').value.length > 100")
    page.select_option("#import-dialysis", "none")
    page.click("form.import button[type=submit]")
    page.wait_for_load_state()
    assert _doses(page) == ["350 mg", "4200 mg"]


def test_a_course_records_events_and_its_assessment_changes(visit: Visit) -> None:
    page = visit.sign_in()
    visit.go("/web/case")
    _fill_case(page)
    page.fill("#course-id", "e2e-course")
    page.click("#h-course ~ form button[type=submit]")
    page.wait_for_url("**/web/courses/*")
    assert "e2e-course" not in page.url
    before = page.inner_text("#assessment")
    assert page.locator("img.chart-img").get_attribute("src").startswith("data:image/svg+xml")
    visit.check("07-course")
    for event in (
        {"kind": "cmv_pcr", "result": "detected", "value": "125000", "lower_limit": "35",
         "specimen": "plasma"},
        {"kind": "lab", "analyte": "creatinine", "value": "1.6", "unit": "mg/dL"},
    ):  # fmt: skip
        page.fill("#e-at", _local(0.5))
        for name, value in event.items():
            field = page.locator(f"#e-{name}")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        page.click("form.event-form button[type=submit]")
        page.wait_for_load_state()
    after = page.inner_text("#assessment")
    assert after != before
    assert "redose" in after
    assert "125000" in page.inner_text("#timeline")
    visit.check("08-course-after-events")
    visit.go("/web/courses")
    visit.check("09-courses")


def test_the_knowledge_browser(visit: Visit) -> None:
    page = visit.sign_in()
    visit.go("/web/knowledge")
    assert "Knowledge version" in page.inner_text("h1")
    page.click("#drug-foscarnet summary")
    visit.check("10-knowledge")


def test_a_forged_post_without_the_csrf_token_is_refused(visit: Visit) -> None:
    page = visit.sign_in()
    status = page.evaluate(
        """async () => (await fetch('/web/courses', {method: 'POST',
             headers: {'Content-Type': 'application/x-www-form-urlencoded'},
             body: 'course_id=forged&case_json=%7B%7D'})).status"""
    )
    assert status == 403
    visit.go("/web/courses")
    assert "forged" not in page.inner_text("main")


def test_the_page_works_from_the_keyboard(visit: Visit) -> None:
    page = visit.go("/web/signin")
    order = []
    for _ in range(4):  # skip link, brand link, then the user name field
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
        if order[-1] == "username":
            break
    assert order[0] == "skip"
    assert order[-1] == "username"
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(visit.base + "/web/")
