"""End-to-end journeys in a real browser against a running FitSync."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.web.conftest import log_in, shot


def test_visitor_sees_the_landing_page(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your gym")
    expect(page.get_by_role("link", name="Sign up").first).to_be_visible()
    shot(page, "landing")


def test_new_client_signs_up_lands_home_and_logs_out(page: Page) -> None:
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    page.goto("/signup")
    shot(page, "signup")
    page.get_by_label("Gym").select_option(label="Iron & Oak Fitness")
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Newcomer")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-strong-passphrase-42")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Nora")
    shot(page, "home-client")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=/settings"))


def test_signup_errors_show_next_to_the_field(page: Page) -> None:
    page.goto("/signup")
    page.get_by_label("Gym").select_option(label="Iron & Oak Fitness")
    page.get_by_label("First name").fill("Pat")
    page.get_by_label("Last name").fill("Weak")
    page.get_by_label("Email").fill("pat-weak@example.com")
    page.get_by_label("Password").fill("password123")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#e-password")).to_contain_text("too common")
    expect(page.get_by_label("Email")).to_have_value("pat-weak@example.com")


def test_wrong_password_is_explained(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("alex@ironoak.example.com")
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")


def test_owner_changes_gym_settings(page: Page) -> None:
    log_in(page, "owner@ironoak.example.com")
    page.get_by_role("link", name="Gym", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Iron & Oak Fitness")
    page.get_by_label("Cancellation window (hours)").fill("6")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Cancellation window (hours)")).to_have_value("6")
    logo = page.locator(".topbar img.logo-img")
    expect(logo).to_have_attribute("src", "/static/logos/iron-oak.svg")
    assert logo.evaluate("img => img.naturalWidth") > 0  # the demo logo is served
    shot(page, "gym-owner-dashboard")

    page.get_by_label("Cancellation window (hours)").fill("8")
    page.get_by_label("Logo URL").fill("javascript:alert(1)")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#e-logo_url")).to_contain_text("http(s) address")
    expect(page.get_by_label("Cancellation window (hours)")).to_have_value("8")  # kept
    page.get_by_role("link", name="Gym", exact=True).click()
    expect(page.get_by_label("Cancellation window (hours)")).to_have_value("6")  # not saved

    page.get_by_label("Logo URL").fill("/static/logos/iron-oak.svg?v=2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(logo).to_have_attribute("src", "/static/logos/iron-oak.svg?v=2")


def test_admin_creates_a_gym_whose_pages_other_gyms_cannot_open(page: Page) -> None:
    log_in(page, "admin@fitsync.example.com")
    page.get_by_role("link", name="Admin", exact=True).click()
    name = f"Harbour Boxing {uuid.uuid4().hex[:4]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Time zone").fill("America/New_York")
    page.get_by_label("Currency").fill("USD")
    page.get_by_role("button", name="Create gym").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created {name}")
    shot(page, "admin")
    href = page.get_by_role("link", name=name).get_attribute("href")
    assert href
    page.get_by_role("button", name="Log out").click()
    # The owner of another gym gets a 404 for this gym's page, as for a gym that does not exist.
    log_in(page, "owner@ironoak.example.com")
    response = page.goto(href)
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_admin_pages_gyms_and_users_separately(page: Page) -> None:
    log_in(page, "admin@fitsync.example.com")
    page.goto("/admin?limit=1")
    gyms = page.locator("section", has=page.get_by_role("heading", name="Gyms")).locator("tbody")
    users = page.locator("section", has=page.get_by_role("heading", name="Users")).locator("tbody")
    first_gym, first_user = gyms.inner_text(), users.inner_text()
    page.get_by_role("link", name="More gyms").click()
    second_gym = gyms.inner_text()
    assert second_gym != first_gym
    assert users.inner_text() == first_user  # the other list stays where it was
    page.get_by_role("link", name="More users").click()
    assert users.inner_text() != first_user
    assert gyms.inner_text() == second_gym
    page.get_by_role("link", name="First gyms").click()
    assert gyms.inner_text() == first_gym
    assert "limit=1" in page.url


def test_pages_work_at_phone_width(phone: Page) -> None:
    log_in(phone, "alex@ironoak.example.com")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Hello, Alex")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    shot(phone, "home-phone")
