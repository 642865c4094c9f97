"""Every page a role (or a stranger, or a customer with their link) can reach by following
the console's own links, in both languages, shown in the language chosen:
no server error, no link to a page the role may not open or that does not exist, no
template left unrendered, no message key shown in place of its text, and every form that
posts carries its anti-forgery token; no inline style or script, which the pages' CSP
would block.

A walk over what the pages link to, not a list of routes: a link added to a template for
the wrong role, or to a page that moved, fails here without a test of its own."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from hotro.services.console.i18n import CATALOGUES, LANGUAGE_COOKIE
from tests.integration.console.conftest import ConsoleSystem
from tests.support.console import (
    PEOPLE,
    counter_intake,
    csrf_of,
    customer_link_token,
    signed_in,
)
from tests.support.staff import DEPARTMENT
from tests.support.waiting import eventually

#: pages per role and language: the walk keeps one URL per path and set of query names
#: (the queue's filters would otherwise multiply), so this bounds a runaway, not a walk
MAX_PAGES = 250
#: links that change the session rather than show a page
_LEAVES = ("/sign-out", "/lang/")
_KEY_SHAPE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")


class _Page(HTMLParser):
    def __init__(self, fill: dict[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.fill = fill
        self.links: list[str] = []
        self.forms: list[tuple[str, str, set[str]]] = []  # method, action, field names
        #: each GET form as submitted untouched: its action and the values it starts with
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.inline: list[str] = []
        self.lang = ""
        self._skip = 0
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        # the pages' CSP allows no inline style or script: a browser would drop these
        self.inline += [f"<{tag} {k}=…>" for k in a if k == "style" or k.startswith("on")]
        if tag == "script" and "src" not in a and a.get("type") != "application/json":
            self.inline.append("<script> without src")
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag in ("link", "script", "img") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src") or "")
        elif tag == "form":
            method = a.get("method", "get").lower()
            self.forms.append((method, a.get("action", ""), set()))
            if method == "get":
                self.queries.append((a.get("action", ""), {}))
        elif tag in ("input", "button", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1][2].add(a["name"])
            value = a.get("value") or self.fill.get(a["name"])
            if self.forms[-1][0] == "get" and tag == "input" and value and \
                    a.get("type", "text") not in ("checkbox", "radio", "submit"):
                self.queries[-1][1][a["name"]] = value
            self._select = a["name"] if tag == "select" and self.forms[-1][0] == "get" else None
        elif tag == "option" and self._select and self.queries and "selected" in a:
            self.queries[-1][1][self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


@dataclass
class Walk:
    role: str
    language: str
    #: what a search field of a GET form is given (an empty one would find nothing)
    fill: dict[str, str]
    seen: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pages: int = 0


def _same_origin(base: str, href: str) -> str | None:
    if href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    url = urljoin(base, href)
    parts = urlsplit(url)
    if parts.netloc != "console":
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _shape(url: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(url)
    names = sorted({q.split("=", 1)[0] for q in parts.query.split("&") if q})
    return parts.path, tuple(names)


def _check_html(walk: Walk, url: str, html: str, namespaces: set[str]) -> list[str]:
    page = _Page(walk.fill)
    page.feed(html)
    walk.problems += [f"{url}: inline code the CSP blocks: {what}" for what in page.inline]
    if page.lang != walk.language:
        walk.problems.append(f"{url}: shown in {page.lang!r}, chosen {walk.language!r}")
    for text in page.texts:
        if "{{" in text or "{%" in text:
            walk.problems.append(f"{url}: template markup shown: {text[:80]!r}")
        for word in (w.strip(".,:;()\"'") for w in text.split()):
            # a key missing from every catalogue is shown as itself (``translator``)
            if _KEY_SHAPE.match(word) and word.split(".")[0] in namespaces:
                walk.problems.append(f"{url}: message key shown as text: {word!r}")
    for method, action, names in page.forms:
        if method == "post" and not names & {"csrf_token", "form_token"}:
            walk.problems.append(f"{url}: a form posting to {action!r} has no token")
    submitted = [f"{action or urlsplit(url).path}?{urlencode(values)}"
                 for action, values in page.queries]
    return page.links + submitted


async def _walk(client: httpx.AsyncClient, walk: Walk, namespaces: set[str],
                starts: tuple[str, ...] = ()) -> None:
    start = await client.get("/")
    assert start.status_code == 303, start.text[:500]
    queue: deque[tuple[str, str]] = deque([(start.headers["location"], "/"),
                                           *((url, "(start)") for url in starts)])
    while queue and walk.pages < MAX_PAGES:
        url, found_on = queue.popleft()
        if _shape(url) in walk.seen or url.startswith(_LEAVES):
            continue
        walk.seen[_shape(url)] = url
        walk.pages += 1
        r = await client.get(url)
        while r.status_code in (302, 303, 307) and r.headers["location"].startswith("/"):
            r = await client.get(r.headers["location"])
        if r.status_code != 200:
            walk.problems.append(f"{url} (linked from {found_on}): HTTP {r.status_code} "
                                 f"{r.text[:160]!r}")
            continue
        if not r.headers.get("content-type", "").startswith("text/html"):
            continue
        for href in _check_html(walk, url, r.text, namespaces):
            target = _same_origin(f"http://console{url}", href)
            if target is not None:
                queue.append((target, url))


async def _seed_cases(console_system: ConsoleSystem) -> tuple[str, str]:
    """A case referred to the department and one just received: pages with content.
    Returns the referred one's reference and its customer's page."""
    support = await signed_in(console_system.console, "support")
    referred = await counter_intake(support)
    await counter_intake(support, description="Máy giặt rung mạnh khi vắt")
    page = await support.get(f"/queue?q={referred}")
    url = page.headers["location"]

    async def triaged() -> bool:
        return "(c) Chuyển bộ phận liên quan" in (await support.get(url)).text

    await eventually(triaged, timeout=30, message="the case triaged")
    token = await csrf_of(support, url)
    r = await support.post(f"{url}/act/refer", data={
        "csrf_token": token, "department": DEPARTMENT, "question": "Kiểm tra máy nén"})
    assert r.status_code == 303, r.text[:2000]
    department = await signed_in(console_system.console, "department")

    async def in_its_queue() -> bool:
        return referred in (await department.get("/department")).text

    await eventually(in_its_queue, timeout=30, message="the referral in the queue")
    complaint_id = url.rsplit("/", 1)[-1]
    token = customer_link_token(console_system.capability_keys, complaint_id, referred)
    return referred, f"/c/{token}"


async def test_every_linked_page_opens_for_each_role_in_both_languages(
        console_system: ConsoleSystem) -> None:
    reference, customer_page = await _seed_cases(console_system)
    problems: list[str] = []
    namespaces = {key.split(".")[0] for key in CATALOGUES["vi"] if "." in key}
    for role in PEOPLE:
        for language in ("vi", "en"):
            client = await signed_in(console_system.console, role)
            client.cookies.set(LANGUAGE_COOKIE, language)
            walk = Walk(role, language, fill={"q": reference, "reference": reference})
            await _walk(client, walk, namespaces)
            assert walk.pages >= 2, f"{role}: the walk found nothing to open"
            problems += [f"[{role}/{language}] {p}" for p in walk.problems]
    for language in ("vi", "en"):  # a stranger, and a customer with their link
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_system.console),
                                   base_url="http://console")
        client.cookies.set(LANGUAGE_COOKIE, language)
        walk = Walk("anonymous", language, fill={})
        await _walk(client, walk, namespaces, starts=("/complaint", customer_page))
        assert {"/sign-in", "/complaint"} <= {path for path, _ in walk.seen}, walk.seen
        assert any(path.startswith("/c/") for path, _ in walk.seen), walk.seen
        problems += [f"[anonymous/{language}] {p}" for p in walk.problems]
    assert not problems, "\n".join(problems)
