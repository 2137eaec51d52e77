"""Every page we can reach, crawled in a real browser: axe-core finds no serious or critical
accessibility problem, and no page loads or points its resources at another origin.

The crawler follows every same-origin link from the pages a visitor starts on, as an anonymous
reader and as an admin who moderates (who sees the most pages), and visits each kind of page
(a path with its numbers masked) at most twice. axe-core comes from npm (tests/browser/axe) and
is injected by Playwright; our pages carry no script of their own, so the context allows script
only for axe and bypasses our CSP only to let it in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.async_api import Error as PlaywrightError

from fedisupport import db
from fedisupport.domain import accounts, posting, reports
from fedisupport.models import Actor

from tests.support.installs import npm_ci

AXE_DIR = Path(__file__).parent / "axe"
PASSWORD = "a long enough password"
# Impacts that fail the test; axe calls the other two "minor" and "moderate".
FAILING_IMPACTS = {"serious", "critical"}
MAX_PAGES = 150
PER_SHAPE = 2
# Links a crawler must not follow: they change state or leave the HTML interface.
NOT_PAGES = re.compile(r"^/(static/|logout|\.well-known/|nodeinfo|inbox|users/[^/]+/inbox)")
RESOURCE_URLS = """() => {
  const found = [];
  const attrs = [["link", "href"], ["script", "src"], ["img", "src"], ["img", "srcset"], ["source", "src"],
                 ["source", "srcset"], ["video", "src"], ["video", "poster"], ["audio", "src"], ["iframe", "src"],
                 ["embed", "src"], ["object", "data"], ["form", "action"], ["input", "src"], ["track", "src"]];
  for (const [tag, attr] of attrs) {
    for (const el of document.querySelectorAll(`${tag}[${attr}]`)) {
      const raw = el.getAttribute(attr);
      const urls = attr === "srcset" ? raw.split(",").map(c => c.trim().split(/\\s+/)[0]) : [raw];
      for (const url of urls) found.push(`${tag}[${attr}]=${raw}|${new URL(url, document.baseURI).href}`);
    }
  }
  for (const el of document.querySelectorAll("[style]")) {
    if (/url\\(/i.test(el.getAttribute("style"))) found.push(`style=${el.getAttribute("style")}|`);
  }
  return found;
}"""
# Every visible control a person could use, numbered in document order.
MARK_CONTROLS = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]";
  // A radio group is one Tab stop (arrow keys move within it): its checked button, else its first.
  const radioStop = el => {
    const group = [...document.querySelectorAll(`input[type=radio][name="${CSS.escape(el.name)}"]`)];
    return (group.find(r => r.checked) || group[0]) === el;
  };
  const controls = [...document.querySelectorAll(selector)].filter(el =>
    !el.disabled && el.getAttribute("tabindex") !== "-1" && el.checkVisibility({visibilityProperty: true}) &&
    !(el.type === "radio" && !radioStop(el)));
  controls.forEach((el, i) => el.setAttribute("data-kb", String(i)));
  return controls.length;
}"""
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== "none";
  return {index: el.getAttribute("data-kb"), ring, what: el.outerHTML.slice(0, 120)};
}"""
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


@pytest.fixture(scope="session")
def axe_script() -> Path:
    return npm_ci("the axe-core install", AXE_DIR, AXE_DIR / "node_modules" / "axe-core" / "axe.min.js")


@dataclass
class Findings:
    pages: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    keyboard: list[str] = field(default_factory=list)


def shape_of(path_and_query: str) -> str:
    path, _, query = path_and_query.partition("?")
    keys = sorted(part.split("=", 1)[0] for part in query.split("&") if part)
    return re.sub(r"\d+", "N", path) + ("?" + "&".join(keys) if keys else "")


async def seed(instance) -> dict[str, str]:
    """A lived-in instance: people, a community with a moderator, threads, replies, a report."""
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        admin = await accounts.create_user(session, settings, "ada", PASSWORD, is_admin=True)
        ada = await session.get(Actor, admin.actor_id)
        ben_user = await accounts.create_user(session, settings, "ben", PASSWORD, display_name="Ben")
        ben = await session.get(Actor, ben_user.actor_id)
        hope = await accounts.create_community(session, settings, "hope", "Hope", owner=ada, languages="en es",
                                               description="A place to say how today went.")
        thread = await posting.start_thread(session, settings, ben, hope, title="A hard week",
                                            body="It has been a **hard** week. Thank you for reading.")
        reply = await posting.reply(session, settings, ada, thread, body="We're glad you wrote. We're here.")
        await posting.reply(session, settings, ben, reply, body="That helps, thank you.",
                            content_warning="sadness")
        await posting.start_thread(session, settings, ada, hope, title="Welcome", body="Say hello.")
        await reports.create_report(session, reporter=ada, reason="Check on them, please", category="welfare",
                                       post=thread)
    return {"thread": f"/p/{thread.id}"}


async def crawl(browser, axe_script: Path, base: str, starts: list[str], *, language: str = "en",
                log_in_as: str | None = None, error_pages: frozenset[str] = frozenset()) -> Findings:
    findings = Findings()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    context = await browser.new_context(bypass_csp=True, locale=language,
                                        extra_http_headers={"Accept-Language": language})
    try:
        page = await context.new_page()
        page.on("request", lambda request: _note_request(findings, origin, page.url, request.url))
        if log_in_as:
            await page.goto(base + "/login")
            await page.locator("input[name=username]").fill(log_in_as)
            await page.locator("input[name=password]").fill(PASSWORD)
            await page.locator("form[action*=login] button[type=submit]").click()
            await page.wait_for_load_state()
            assert "/login" not in page.url, f"logging in as {log_in_as} failed"
        queue, seen_shapes, seen = list(starts), {}, set()
        while queue and len(findings.pages) < MAX_PAGES:
            path = queue.pop(0)
            shape = shape_of(path)
            if path in seen or seen_shapes.get(shape, 0) >= PER_SHAPE:
                continue
            seen.add(path)
            seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
            try:
                response = await page.goto(base + path)
            except PlaywrightError as exc:
                if "Download is starting" in str(exc):
                    continue  # a file to save (an export), not a page
                raise
            if response is None or (response.status >= 400 and path not in error_pages):
                findings.broken.append(f"{path} -> {response.status if response else 'no response'}")
                continue
            if "text/html" not in (response.headers.get("content-type") or ""):
                continue
            findings.pages.append(path)
            for entry in await page.evaluate(RESOURCE_URLS):
                raw, _, resolved = entry.partition("|")
                if resolved and not (resolved.startswith(origin + "/") or resolved.startswith("data:")
                                     or resolved == origin):
                    findings.foreign.append(f"{path}: {raw}")
                elif raw.startswith("style=") and re.search(r"url\(\s*['\"]?(https?:)?//", raw):
                    findings.foreign.append(f"{path}: {raw}")
            await check_keyboard(page, path, findings)
            await page.add_script_tag(path=str(axe_script))
            for violation in await page.evaluate(AXE_RUN):
                if violation["impact"] in FAILING_IMPACTS:
                    findings.violations.append(
                        f"[{language}] {path}: {violation['id']} ({violation['impact']}) {violation['help']} "
                        f"at {violation['targets']}")
            for href in await page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                link, _ = urldefrag(href)
                if not link.startswith(origin + "/"):
                    continue
                local = link[len(origin):]
                if not NOT_PAGES.match(local) and local not in seen:
                    queue.append(local)
    finally:
        await context.close()
    return findings


async def check_keyboard(page, path: str, findings: Findings) -> None:
    """Tab from the top of the page: every control is reached once, in order, with a focus ring."""
    controls = await page.evaluate(MARK_CONTROLS)
    await page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached: list[int] = []
    for _ in range(controls + 2):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused is None:
            break  # past the last control: focus left the document
        if focused["index"] is None:
            findings.keyboard.append(f"{path}: Tab reached something that is not a visible control: {focused['what']}")
            continue
        index = int(focused["index"])
        if reached and index <= reached[-1]:
            break  # wrapped around
        if not focused["ring"]:
            findings.keyboard.append(f"{path}: no visible focus ring on {focused['what']}")
        reached.append(index)
    missing = sorted(set(range(controls)) - set(reached))
    if missing:
        findings.keyboard.append(f"{path}: {len(missing)} of {controls} controls are not reachable by Tab "
                                 f"(first: data-kb={missing[0]})")
    elif reached != sorted(reached):
        findings.keyboard.append(f"{path}: Tab order jumps around: {reached}")


def _note_request(findings: Findings, origin: str, page_url: str, url: str) -> None:
    if not (url.startswith(origin + "/") or url.startswith("data:") or url == "about:blank"):
        findings.foreign.append(f"{page_url}: the browser requested {url}")


def assert_clean(findings: Findings, minimum_pages: int) -> None:
    assert len(findings.pages) >= minimum_pages, f"the crawl reached only {findings.pages}"
    assert not findings.broken, "links to pages that fail:\n" + "\n".join(findings.broken)
    assert not findings.foreign, "references to other origins:\n" + "\n".join(findings.foreign)
    assert not findings.violations, "accessibility violations:\n" + "\n".join(findings.violations)
    assert not findings.keyboard, "keyboard problems:\n" + "\n".join(findings.keyboard)


STARTS = ["/", "/help", "/c/hope", "/find", "/login", "/signup", "/u/ben", "/modlog", "/c/hope/new",
          "/nonexistent-page-for-the-404"]


@pytest.mark.parametrize("language", ["en", "es", "hi", "ar"])
async def test_every_page_a_visitor_reaches_is_accessible_and_local(instance, browser, axe_script, language):
    where = await seed(instance)
    findings = await crawl(browser, axe_script, instance.base_url, STARTS + [where["thread"]], language=language,
                           error_pages=frozenset({STARTS[-1]}))
    assert_clean(findings, minimum_pages=12)


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_every_page_an_admin_and_moderator_reaches_is_accessible_and_local(instance, browser, axe_script,
                                                                                 language):
    where = await seed(instance)
    starts = STARTS[:-1] + [where["thread"], "/settings/profile", "/admin", "/mod"]
    findings = await crawl(browser, axe_script, instance.base_url, starts, language=language, log_in_as="ada")
    assert_clean(findings, minimum_pages=40)
