"""No page loads more than 100 KB of JavaScript (the issue's budget), for every role."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.web.conftest import log_in

BUDGET = 100_000  # bytes of JavaScript, uncompressed
ACCOUNTS = {
    "client": "alex@ironoak.example.com",
    "trainer": "marco@ironoak.example.com",
    "owner": "owner@ironoak.example.com",
    "admin": "admin@fitsync.example.com",
}


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_no_page_loads_more_than_100_kb_of_javascript(page: Page, role: str) -> None:
    log_in(page, ACCOUNTS[role])
    hrefs = page.eval_on_selector_all("nav[aria-label=Main] a", "links => links.map(a => a.href)")
    if role == "client":
        page.goto("/progress")
        hrefs.append(page.locator("a[href^='/activities/']").first.evaluate("a => a.href"))
    sizes: dict[str, int] = {}
    loaded = {}
    for href in hrefs:
        page.goto(href)
        scripts = page.eval_on_selector_all("script[src]", "tags => tags.map(s => s.src)")
        for src in scripts:
            if src not in sizes:
                sizes[src] = len(page.request.get(src).body())
        loaded[page.url] = sum(sizes[src] for src in scripts)
    assert len(loaded) >= 3  # home, settings and the role's own pages
    heavy = {url: size for url, size in loaded.items() if size > BUDGET}
    assert not heavy, f"pages over {BUDGET:,} bytes of JavaScript: {heavy}"
    if role == "client":  # the charts page loads the most: it is measured, not skipped
        assert max(loaded.values()) > 50_000
