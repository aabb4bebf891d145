"""Trainers' and gym owners' journeys: builder, library, clients, schedule, classes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.web.conftest import go, log_in, log_out, shot


def _add_from_search(page: Page, query: str) -> str:
    rows = page.locator("#rows > li")
    count = rows.count()
    # A marker the swap of the new results removes: then "Add" is not the previous search's.
    page.locator("#picks").evaluate("el => el.insertAdjacentHTML('beforeend', '<i class=stale>')")
    page.get_by_label("Search the library").fill(query)
    expect(page.locator("#picks .stale")).to_have_count(0)
    add = page.locator("#picks").get_by_role("button", name="Add").first
    expect(add).to_be_visible()
    name = (add.get_attribute("aria-label") or "").removeprefix("Add ")
    add.click()
    expect(rows).to_have_count(count + 1)
    return name


def test_trainer_builds_a_workout_and_assigns_a_program_the_client_sees(page: Page) -> None:
    suffix = uuid.uuid4().hex[:4]
    workout, program = f"Push pull legs {suffix}", f"Spring block {suffix}"
    log_in(page, "marco@ironoak.example.com")
    go(page, "Builder")
    first = _add_from_search(page, "squat")
    second = _add_from_search(page, "bench press")
    third = _add_from_search(page, "row")
    assert len({first, second, third}) == 3
    # Reorder: the third exercise moves up to second place.
    page.get_by_role("button", name=f"Move {third} up").click()
    names = page.locator("#rows .build-name").all_inner_texts()
    assert names == [first, third, second]
    page.locator("#rows > li").nth(0).get_by_label("Sets").fill("5")
    page.locator("#rows > li").nth(0).get_by_label("Reps").fill("5")
    page.locator("#rows > li").nth(0).get_by_label("Load (kg)").fill("80")
    page.get_by_label("Workout name").fill(workout)
    shot(page, "builder")
    page.get_by_role("button", name="Save workout").click()
    expect(page.get_by_role("status")).to_have_text("Workout saved.")
    expect(page.get_by_role("cell", name=workout)).to_be_visible()

    page.get_by_label("Program name").fill(program)
    page.get_by_label("Weeks", exact=True).fill("4")
    page.get_by_label("Day 1", exact=True).select_option(label=workout)
    page.get_by_role("button", name="Create program").click()
    expect(page.get_by_role("status")).to_have_text("Program created.")

    page.get_by_label("Program", exact=True).select_option(label=f"{program} · 4 wk")
    page.get_by_label("Client", exact=True).select_option(label="Priya Natarajan")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_contain_text("Program assigned")
    log_out(page)

    log_in(page, "priya@ironoak.example.com")
    go(page, "Plan")
    today = page.locator("section.cal-day.today")
    expect(today.get_by_role("heading", name=workout)).to_be_visible()
    expect(today.get_by_text(program)).to_be_visible()
    # Priya logs it against the plan: the page prefills what was planned.
    today.get_by_role("link", name="Log workout").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(workout)
    expect(page.get_by_label("Load (kg)").first).to_have_value("80")
    page.get_by_role("button", name="Save workout").click()
    expect(page.get_by_role("status")).to_contain_text("Workout logged")
    expect(page.locator("section.cal-day.today .badge.ok", has_text="Done").first).to_be_visible()


def test_builder_errors_show_next_to_the_fields(page: Page) -> None:
    log_in(page, "sofia@ironoak.example.com")
    page.goto("/builder")
    page.get_by_role("button", name="Save workout").click()
    expect(page.locator("#e-name")).to_be_visible()
    expect(page.locator("#rows-empty .error")).to_contain_text("Add at least one exercise")


def test_library_searches_as_you_type_with_filters(page: Page) -> None:
    log_in(page, "sofia@ironoak.example.com")
    go(page, "Library")
    page.get_by_label("Search exercises").fill("dumbell curl")  # sic: typo tolerant
    expect(page.locator("#results tbody tr").first).to_contain_text("Curl")
    page.get_by_label("Equipment").select_option(label="Dumbbell")
    expect(page.locator("#results tbody tr").first).to_contain_text("dumbbell")
    shot(page, "library")


def test_trainer_sees_clients_schedule_and_edits_availability(page: Page) -> None:
    log_in(page, "marco@ironoak.example.com")
    go(page, "Clients")
    expect(page.get_by_role("cell", name="Alex Morgan", exact=True)).to_be_visible()
    shot(page, "trainer-clients")
    go(page, "Schedule")
    expect(page.get_by_text("Sunrise HIIT").first).to_be_visible()
    shot(page, "trainer-schedule")
    go(page, "Availability")
    page.get_by_label("Sunday from").fill("09:00")
    page.get_by_label("Sunday to").fill("08:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Sunday: the end must be after the start")).to_be_visible()
    page.get_by_label("Sunday to").fill("12:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your hours are saved.")
    expect(page.get_by_label("Sunday to")).to_have_value("12:00")
    shot(page, "trainer-availability")
    go(page, "Clients")
    page.get_by_role("button", name="Message Priya").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Priya")
    assert "/messages/" in page.url


def test_trainer_opens_a_class_roster(page: Page) -> None:
    log_in(page, "marco@ironoak.example.com")
    page.goto("/schedule")
    page.get_by_role("link", name="Roster").first.click()
    expect(page.get_by_role("heading", name="Roster")).to_be_visible()
    expect(page.get_by_role("button", name="Check in").first).to_be_visible()
    shot(page, "class-roster")


def test_owner_creates_a_recurring_class_and_sees_it_in_the_timetable(page: Page) -> None:
    title = f"Boxing Basics {uuid.uuid4().hex[:4]}"
    log_in(page, "owner@ironoak.example.com")
    go(page, "Timetable")
    expect(page.get_by_role("heading", level=1)).to_have_text("Class schedule")
    page.get_by_role("button", name="Create class").click()  # empty: errors by the fields
    expect(page.locator("#e-title")).to_be_visible()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    page.get_by_label("Class name").fill(title)
    page.get_by_label("Trainer").select_option(label="Sofia Lindqvist")
    page.get_by_label("First date").fill(tomorrow.isoformat())
    page.get_by_label("Start time").fill("06:00")
    page.get_by_label("Duration (minutes)").fill("45")
    page.get_by_label("Capacity").fill("8")
    page.get_by_label("Location").fill("Ring")
    page.get_by_label(tomorrow.strftime("%a"), exact=True).check()
    page.get_by_label("For how many weeks").fill("4")
    page.get_by_role("button", name="Create class").click()
    expect(page.get_by_role("status")).to_contain_text("Class scheduled")
    shot(page, "owner-classes")
    page.goto(f"/classes?start={tomorrow.isoformat()}")
    row = page.locator("li.class-row", has_text=title)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("8 of 8 left")
    page.get_by_role("link", name="Next week →").click()
    expect(page.locator("li.class-row", has_text=title)).to_have_count(1)  # it repeats
    page.goto("/")
    shot(page, "home-owner")
    go(page, "Gym")
    expect(page.get_by_text("revenue, last 30 days")).to_be_visible()
    shot(page, "gym-dashboard")


def test_owner_of_another_gym_gets_404_for_its_schedule(page: Page) -> None:
    log_in(page, "owner@ironoak.example.com")
    href = page.get_by_role("link", name="Timetable", exact=True).get_attribute("href")
    assert href
    log_out(page)
    log_in(page, "hana@harbouryoga.example.com")
    response = page.goto(href)
    assert response is not None
    assert response.status == 404


def test_owner_pages_through_members_and_messages_one(page: Page) -> None:
    log_in(page, "owner@ironoak.example.com")
    go(page, "Members")
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    members_url = page.url
    page.goto(members_url + "?limit=5")
    first = page.locator("tbody tr td:first-child").all_inner_texts()
    assert len(first) == 5
    page.get_by_role("link", name="Next page").click()
    second = page.locator("tbody tr td:first-child").all_inner_texts()
    assert len(second) == 5
    assert not set(first) & set(second)
    page.get_by_role("link", name="First page").click()
    assert page.locator("tbody tr td:first-child").all_inner_texts() == first

    page.goto(members_url)
    expect(page.locator("tbody")).not_to_contain_text("marco@ironoak.example.com")  # staff
    shot(page, "gym-members")
    page.get_by_role("button", name="Message Alex").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Alex")
    assert "/messages/" in page.url

    log_out(page)
    log_in(page, "hana@harbouryoga.example.com")
    response = page.goto(members_url)
    assert response is not None
    assert response.status == 404
