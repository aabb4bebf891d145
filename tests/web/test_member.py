"""A member's journeys: booking classes (live seats), a trainer, the plan, progress, uploads."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import go, log_in, log_out, shot, sign_up

DATA = Path(__file__).resolve().parents[1] / "data" / "progress"


def test_new_client_books_a_class_sees_it_at_home_and_cancels_it(page: Page) -> None:
    sign_up(page, "Nina", "Booker", f"nina-{uuid.uuid4().hex[:6]}@example.com")
    expect(page.get_by_text("Nothing booked yet.")).to_be_visible()
    go(page, "Classes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Classes")
    row = page.locator("li.class-row").filter(has=page.get_by_role("button", name="Book")).first
    title = row.locator(".what strong").inner_text()
    row.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status")).to_contain_text("You're booked in")
    shot(page, "classes")
    go(page, "Home")
    bookings = page.locator("article", has=page.get_by_role("heading", name="Your next bookings"))
    expect(bookings.get_by_text(title)).to_be_visible()
    shot(page, "home-client-booked")
    bookings.get_by_role("button", name="Cancel").first.click()
    expect(page.get_by_role("status")).to_have_text("Your booking is cancelled.")
    expect(page.get_by_text("Nothing booked yet.")).to_be_visible()


def test_full_class_offers_the_waitlist(page: Page) -> None:
    sign_up(page, "Wade", "Waiting", f"wade-{uuid.uuid4().hex[:6]}@example.com")
    page.goto("/classes")
    row = page.locator("li.class-row", has_text="Strength Club").filter(
        has=page.get_by_role("button", name="Join waitlist")
    )
    row.first.get_by_role("button", name="Join waitlist").click()
    expect(page.get_by_role("status")).to_contain_text("on the waitlist")
    expect(page.locator("li.class-row .badge.warn").first).to_contain_text("Waitlist #")


def test_seat_counts_change_live_when_someone_else_books(browser: Browser, base_url: str) -> None:
    watcher = browser.new_context(base_url=base_url).new_page()
    booker = browser.new_context(base_url=base_url).new_page()
    try:
        log_in(watcher, "yuki@ironoak.example.com")
        sign_up(booker, "Lena", "Live", f"lena-{uuid.uuid4().hex[:6]}@example.com")
        booker.goto("/classes")
        row = booker.locator("li.class-row").filter(has=booker.get_by_role("button", name="Book"))
        class_id = row.last.get_attribute("id")
        assert class_id
        watcher.goto("/classes")
        seats = watcher.locator(f"#{class_id} .seat-text")
        before = seats.inner_text()
        watcher.wait_for_timeout(500)  # the page's EventSource subscribes
        booker.locator(f"#{class_id}").get_by_role("button", name="Book").click()
        expect(booker.get_by_role("status")).to_contain_text("You're booked in")
        expect(seats).not_to_have_text(before, timeout=10_000)
    finally:
        watcher.context.close()
        booker.context.close()


def test_client_books_a_trainer_from_free_slots(page: Page) -> None:
    sign_up(page, "Tara", "Trainee", f"tara-{uuid.uuid4().hex[:6]}@example.com")
    go(page, "Trainers")
    card = page.locator("article", has_text="Marco Reyes")
    card.get_by_role("link", name="See free times").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Marco Reyes")
    shot(page, "trainer-slots")
    slot = page.get_by_role("button", name=re.compile(r"^Book \d\d:\d\d$")).first
    slot.click()
    expect(page.get_by_role("status")).to_contain_text("Your session is booked")
    expect(page.get_by_text("Personal training")).to_be_visible()


def test_client_uploads_a_fit_file_and_sees_the_heart_rate_chart(page: Page) -> None:
    log_in(page, "tom@ironoak.example.com")
    go(page, "Progress")
    page.get_by_label("Watch file").set_input_files(str(DATA / "fit" / "2020-06-01-16-52-40.fit"))
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/activities/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cycling")
    expect(page.get_by_role("heading", name="Heart rate and power")).to_be_visible()
    expect(page.locator("#activity-chart canvas")).to_be_visible()
    expect(page.locator("#activity-chart .u-legend")).to_contain_text("Heart rate")
    shot(page, "activity")
    # The same file again is explained next to the field, with a link to the first import.
    page.goto("/progress")
    page.get_by_label("Watch file").set_input_files(str(DATA / "fit" / "2020-06-01-16-52-40.fit"))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#e-file")).to_contain_text("imported before")
    expect(page.locator("#e-file").get_by_role("link", name="Open it")).to_be_visible()


def test_client_follows_the_plan_and_logs_a_workout(page: Page) -> None:
    log_in(page, "alex@ironoak.example.com")
    go(page, "Plan")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your plan")
    expect(page.get_by_text("Strength foundations").first).to_be_visible()
    shot(page, "plan")
    page.goto("/progress")
    expect(page.locator("#weight-chart canvas")).to_be_visible()
    shot(page, "progress")


def test_home_shows_the_latest_personal_records(page: Page) -> None:
    """The home card lists the five records the progress page lists first (newest first)."""
    log_in(page, "alex@ironoak.example.com")
    card = page.locator("article", has=page.get_by_role("heading", name="Recent personal records"))
    home = [
        (
            row.locator(".what strong").inner_text(),
            row.locator(".what .muted").inner_text().split(" · ")[0],
            row.locator(".small").inner_text(),
        )
        for row in card.locator("li.list-row").all()
    ]
    page.goto("/progress")
    section = page.locator("section", has=page.get_by_role("heading", name="Personal records"))
    listed = [
        (
            cells.nth(0).inner_text(),
            cells.nth(1).inner_text().split(" (was")[0],
            cells.nth(2).inner_text(),
        )
        for cells in (row.locator("td") for row in section.locator("tbody tr").all())
    ]
    assert len(home) == 5
    assert home == listed[:5]


def test_weight_errors_show_next_to_the_field(page: Page) -> None:
    log_in(page, "priya@ironoak.example.com")
    page.goto("/progress")
    page.get_by_label("Weight (kg)").fill("9000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#e-weight_kg")).to_be_visible()
    page.get_by_label("Weight (kg)").fill("64.5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Weight saved.")


def test_settings_show_the_calendar_feed(page: Page) -> None:
    log_in(page, "sam@ironoak.example.com")
    page.goto("/settings")
    link = page.get_by_label("Your calendar link")
    first = link.input_value()
    assert re.search(r"/api/v1/calendar/[\w-]+\.ics$", first)
    page.get_by_role("button", name="Reset link").click()
    expect(page.get_by_role("status")).to_contain_text("new calendar link")
    assert page.get_by_label("Your calendar link").input_value() != first
    log_out(page)


def test_a_member_of_another_gym_gets_404_pages(page: Page) -> None:
    log_in(page, "alex@ironoak.example.com")
    page.goto("/classes")
    class_href = page.locator("li.class-row .what a").first.get_attribute("href")
    page.goto("/trainers")
    trainer_href = page.get_by_role("link", name="See free times").first.get_attribute("href")
    page.goto("/progress")
    activity_href = page.locator("a[href^='/activities/']").first.get_attribute("href")
    log_out(page)
    log_in(page, "mia@harbouryoga.example.com")
    for href in (class_href, trainer_href, activity_href):
        assert href
        response = page.goto(href)
        assert response is not None
        assert response.status == 404, href
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    shot(page, "not-found")
    # Her own gym's timetable shows her gym's classes only.
    page.goto("/classes")
    expect(page.get_by_text("Vinyasa Flow").first).to_be_visible()
    expect(page.get_by_text("Power Yoga")).to_have_count(0)
