"""Phone width (390x844): the Menu button, and every role's main pages fit the screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import go, log_in, log_out, shot

ROLES = {
    "client": "alex@ironoak.example.com",
    "trainer": "marco@ironoak.example.com",
    "owner": "owner@ironoak.example.com",
    "admin": "admin@fitsync.example.com",
}
PHONE = {"width": 390, "height": 844}


def _menu(page: Page) -> Locator:
    return page.get_by_role("button", name="Menu", exact=True)


def _nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def _assert_fits(page: Page) -> None:
    # A mobile viewport widens itself to the content (innerWidth grows with it), so compare
    # with the phone's own width as well as with innerWidth.
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= min(inner, PHONE["width"]) + 1, f"{page.url} scrolls sideways: {scroll}px"


@pytest.fixture
def no_script_phone(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=base_url, viewport=PHONE, is_mobile=True, java_script_enabled=False
    )
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("role", list(ROLES))
def test_each_page_in_the_menu_fits_a_phone(phone: Page, role: str) -> None:
    log_in(phone, ROLES[role])
    expect(_nav(phone)).to_be_hidden()
    _menu(phone).click()
    links = _nav(phone).get_by_role("link")
    expect(links.first).to_be_visible()
    pages = [(link.inner_text(), link.get_attribute("href") or "") for link in links.all()]
    assert "Settings" in [label for label, _ in pages]
    for label, href in pages:
        phone.goto(href)
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        expect(_menu(phone)).to_have_attribute("aria-expanded", "false")
        _assert_fits(phone)
        shot(phone, f"phone-{role}-{re.sub(r'[^a-z]+', '-', label.lower())}")


def test_menu_works_with_the_keyboard(phone: Page) -> None:
    log_in(phone, ROLES["client"])
    menu = _menu(phone)
    expect(menu).to_have_attribute("aria-controls", "main-nav")
    menu.focus()
    phone.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(_nav(phone).get_by_role("link", name="Home")).to_be_visible()
    shot(phone, "phone-menu-open")
    phone.keyboard.press("Tab")
    expect(_nav(phone).get_by_role("link", name="Home")).to_be_focused()
    phone.keyboard.press("Tab")
    expect(_nav(phone).get_by_role("link", name="Classes")).to_be_focused()
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/classes")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Classes")
    # On the new page the menu starts closed; Space opens it, Escape (from a link) closes it.
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(_nav(phone)).to_be_hidden()
    menu.focus()
    phone.keyboard.press("Space")
    expect(menu).to_have_attribute("aria-expanded", "true")
    current = _nav(phone).get_by_role("link", name="Classes")
    expect(current).to_have_attribute("aria-current", "page")
    current.focus()
    phone.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(_nav(phone)).to_be_hidden()
    expect(menu).to_be_focused()


def test_go_and_log_out_open_the_menu_on_a_phone(phone: Page) -> None:
    log_in(phone, ROLES["trainer"])
    go(phone, "Availability")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Availability")
    _assert_fits(phone)
    expect(_menu(phone)).to_have_attribute("aria-expanded", "false")
    log_out(phone)
    expect(_menu(phone)).to_have_count(0)
    expect(_nav(phone).get_by_role("link", name="Log in")).to_be_visible()


def test_without_javascript_the_navigation_stays_visible(no_script_phone: Page) -> None:
    log_in(no_script_phone, ROLES["trainer"])
    expect(_menu(no_script_phone)).to_be_hidden()
    for label in ("Home", "Availability", "Settings"):
        expect(_nav(no_script_phone).get_by_role("link", name=label)).to_be_visible()
    expect(no_script_phone.get_by_role("button", name="Log out")).to_be_visible()
    _assert_fits(no_script_phone)


def test_desktop_has_no_menu_button(page: Page) -> None:
    log_in(page, ROLES["owner"])
    expect(_menu(page)).to_be_hidden()
    expect(_nav(page).get_by_role("link", name="Timetable")).to_be_visible()
