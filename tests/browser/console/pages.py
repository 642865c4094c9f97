"""A person in the browser: signs in, walks pages, and on every page checks what a
person and a screen reader would meet (axe-core) and that the browser logged no error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.support.browser import axe_violations, screenshot
from tests.support.console import PEOPLE


@dataclass
class Person:
    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, browser: Any, base: str, *, language: str = "vi") -> Person:
        context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        person = cls(page, base)
        page.on("console", lambda m: person.errors.append(f"console.{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: person.errors.append(f"pageerror: {e}"))
        page.set_default_timeout(20_000)
        return person

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        return response

    def sign_in(self, role: str) -> None:
        user_id, password = PEOPLE[role]
        self.goto("/sign-in")
        self.page.fill("#user_id", user_id)
        self.page.fill("#password", password)
        with self.page.expect_navigation():
            self.page.click("main button[type=submit]")
        self.page.wait_for_load_state("load")
        assert "/sign-in" not in self.page.url, self.page.content()[:2000]

    def check(self, name: str, *, shot: bool = True) -> None:
        """axe-core: no serious or critical violation; no browser error so far; and a
        screenshot of the page (once per name)."""
        violations = axe_violations(self.page)
        assert not violations, f"{name}: {violations}"
        assert not self.errors, f"{name}: {self.errors}"
        if shot and name not in self.checked:
            screenshot(self.page, name)
        self.checked.add(name)

    def wait_text(self, text: str, *, path: str | None = None, timeout_s: float = 30) -> None:
        """Reload ``path`` (default: this page) until ``text`` shows."""
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            if text in self.page.content():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not shown on {self.page.url}")
            self.page.wait_for_timeout(300)
            self.goto(path or self.page.url.removeprefix(self.base))

    def act(self, action_label: str, fields: dict[str, str] | None = None,
            *, checks: tuple[str, ...] = (), selects: dict[str, str] | None = None) -> None:
        """Open an action of the case page, fill its form and send it."""
        details = self.page.locator("details.action", has_text=action_label).first
        for _ in range(10):  # a live update may replace the case just as we open it
            if details.get_attribute("open") is None:
                details.locator("summary").click()
            try:
                details.locator("button[type=submit]").wait_for(state="visible",
                                                                 timeout=1500)
                break
            except Exception:
                continue
        for selector, value in (fields or {}).items():
            details.locator(selector).fill(value)
        for selector, value in (selects or {}).items():
            details.locator(selector).select_option(value)
        for selector in checks:
            details.locator(selector).check()
        with self.page.expect_navigation():
            details.locator("button[type=submit]").click()
        self.page.wait_for_load_state("load")

    def reference(self) -> str:
        found = re.search(r"(KN|TV)-\d{4}-\d{6}", self.page.content())
        assert found, self.page.content()[:2000]
        return found.group(0)

    def close(self) -> None:
        self.page.context.close()
