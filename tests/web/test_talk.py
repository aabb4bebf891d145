"""Messages between members and staff (live on both sides) and notification settings."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Browser, Page, expect

from tests.notifications.conftest import Browser as PushDevice
from tests.web.conftest import go, log_in, shot, sign_up


def _tab(browser: Browser, base_url: str) -> Page:
    return browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 860}
    ).new_page()


def test_new_member_messages_the_front_desk_and_both_see_replies_live(
    browser: Browser, base_url: str
) -> None:
    member, owner = _tab(browser, base_url), _tab(browser, base_url)
    try:
        sign_up(member, "Lena", "Talker", f"lena-{uuid.uuid4().hex[:6]}@example.com")
        go(member, "Messages")
        expect(member.get_by_role("heading", level=1)).to_have_text("Messages")
        picker = member.get_by_label("To")
        # A member without a trainer may write only to the front desk.
        assert picker.locator("option").all_inner_texts()[1:] == ["Olivia Okafor"]
        member.get_by_role("button", name="Start conversation").click()
        expect(member.locator("#e-to")).to_have_text("Choose someone")

        log_in(owner, "owner@ironoak.example.com")
        owner.goto("/messages")

        picker.select_option(label="Olivia Okafor")
        member.get_by_role("button", name="Start conversation").click()
        expect(member.get_by_role("heading", level=1)).to_have_text("Olivia Okafor")
        member.get_by_role("button", name="Send").click()
        expect(member.locator("#e-text")).to_have_text("Write a message first")
        member.get_by_label("Message").fill("Hello! Is the sauna open on Sundays?")
        member.get_by_role("button", name="Send").click()
        expect(member.locator("li.msg.mine")).to_contain_text("Is the sauna open on Sundays?")

        # The owner's open list refreshes by itself, with the unread count.
        row = owner.locator("#conversations li", has_text="Lena Talker")
        expect(row).to_contain_text("1 unread")
        expect(row).to_contain_text("Is the sauna open on Sundays?")
        shot(owner, "messages")
        row.get_by_role("link", name="Lena Talker").click()
        expect(owner.locator("li.msg").last).to_contain_text("Is the sauna open on Sundays?")
        owner.get_by_label("Message").fill("Yes, 9:00 to 14:00.")
        owner.get_by_role("button", name="Send").click()

        # The member's open conversation shows the reply without a reload.
        expect(member.locator("li.msg:not(.mine)")).to_contain_text("Yes, 9:00 to 14:00.")
        shot(member, "conversation")
        member.goto("/messages")
        expect(member.locator("#conversations li", has_text="Olivia Okafor")).not_to_contain_text(
            "unread"
        )
        owner.goto("/")
        card = owner.locator("article", has=owner.get_by_role("heading", name="Messages"))
        expect(card.get_by_role("link", name="Lena Talker")).to_be_visible()
    finally:
        member.context.close()
        owner.context.close()


def test_client_reads_the_trainers_message_from_the_home_page(page: Page) -> None:
    log_in(page, "alex@ironoak.example.com")
    card = page.locator("article", has=page.get_by_role("heading", name="Messages"))
    card.get_by_role("link", name="Marco Reyes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Marco Reyes")
    expect(page.locator("li.msg").first).to_contain_text("great squat session")
    page.goto("/")
    expect(card).not_to_contain_text("unread")


def test_a_conversation_of_another_gym_is_a_404(browser: Browser, base_url: str) -> None:
    alex, mia = _tab(browser, base_url), _tab(browser, base_url)
    try:
        log_in(alex, "alex@ironoak.example.com")
        alex.goto("/messages")
        alex.locator("#conversations").get_by_role("link", name="Marco Reyes").click()
        expect(alex).to_have_url(re.compile(r"/messages/[0-9a-f-]{36}$"))
        log_in(mia, "mia@harbouryoga.example.com")
        response = mia.goto(alex.url)
        assert response is not None
        assert response.status == 404
        expect(mia.get_by_role("heading", level=1)).to_have_text("Not found")
        response = mia.goto(alex.url + "/rows?after=" + str(uuid.uuid4()))
        assert response is not None
        assert response.status == 404
    finally:
        alex.context.close()
        mia.context.close()


def test_notification_settings_are_kept_and_errors_shown_by_the_field(page: Page) -> None:
    sign_up(page, "Nora", "Quiet", f"nora-{uuid.uuid4().hex[:6]}@example.com")
    page.goto("/settings")
    reminders = page.get_by_label("Email: Reminders before a class or session")
    expect(reminders).to_be_checked()
    reminders.uncheck()
    page.get_by_label("SMS: A class you booked is cancelled").check()
    page.get_by_label("Quiet from").fill("22:00")
    page.get_by_role("button", name="Save notification settings").click()
    expect(page.locator("#e-quiet_end")).to_have_text("Give both times, or neither")
    expect(page.locator("#e-phone")).to_have_text("Add a mobile number to get text messages")
    # What was chosen survives the error.
    expect(page.get_by_label("Email: Reminders before a class or session")).not_to_be_checked()

    page.get_by_label("Quiet until").fill("07:00")
    page.get_by_label("Mobile number (for text messages)").fill("+44 7700 900123")
    page.get_by_role("button", name="Save notification settings").click()
    expect(page.get_by_role("status")).to_have_text("Your notification settings are saved.")
    page.reload()
    expect(page.get_by_label("Email: Reminders before a class or session")).not_to_be_checked()
    expect(page.get_by_label("SMS: A class you booked is cancelled")).to_be_checked()
    expect(page.get_by_label("Quiet from")).to_have_value("22:00")
    expect(page.get_by_label("Quiet until")).to_have_value("07:00")
    expect(page.get_by_label("Mobile number (for text messages)")).to_have_value("+447700900123")
    shot(page, "settings-notifications")


POST_JSON = """async ([path, body, token]) => {
  const r = await fetch(path, {method: "POST", body: JSON.stringify(body),
    headers: {"content-type": "application/json", "X-CSRF-Token": token}});
  return [r.status, (r.headers.get("content-type") || "").includes("json") ? await r.json() : null];
}"""


def test_push_is_turned_on_for_a_browser_and_off_again(page: Page) -> None:
    sign_up(page, "Pia", "Pushy", f"pia-{uuid.uuid4().hex[:6]}@example.com")
    page.goto("/settings")
    status = page.locator("#push [data-status]")
    expect(status).to_have_text("No device of yours gets push notifications yet.")
    token = page.locator("#push").get_attribute("data-csrf")
    assert page.locator("#push").get_attribute("data-key")  # the VAPID key for subscribe()
    # What the page's script sends after pushManager.subscribe() (Chromium's own push
    # service is on the internet, out of reach here).
    sub = {"endpoint": "https://push.example.com/send/abc", "keys": PushDevice.new().keys()}
    assert page.evaluate(POST_JSON, ["/settings/push", sub, "forged"]) == [403, None]
    assert page.evaluate(POST_JSON, ["/settings/push", sub, token]) == [201, {"devices": 1}]
    assert page.evaluate(POST_JSON, ["/settings/push", sub, token]) == [200, {"devices": 1}]
    bad = {"endpoint": "http://evil.example.com/x", "keys": sub["keys"]}
    assert page.evaluate(POST_JSON, ["/settings/push", bad, token])[0] == 422
    page.reload()
    expect(status).to_have_text("Push notifications reach 1 device of yours.")
    off = ["/settings/push/off", {"endpoint": sub["endpoint"]}, token]
    assert page.evaluate(POST_JSON, off) == [200, {"devices": 0}]
    worker = page.request.get("/sw.js")
    assert worker.ok
    assert "javascript" in worker.headers["content-type"]
    assert "showNotification" in worker.text()


def test_notifications_reach_the_home_page_and_lead_to_the_booking(page: Page) -> None:
    sign_up(page, "Ines", "Informed", f"ines-{uuid.uuid4().hex[:6]}@example.com")
    page.goto("/classes")
    row = page.locator("li.class-row").filter(has=page.get_by_role("button", name="Book")).first
    title = row.locator(".what strong").inner_text()
    row.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status")).to_contain_text("You're booked in")
    card = page.locator("article", has=page.get_by_role("heading", name="Notifications"))
    booked = card.get_by_role("link", name=f"Booked: {title}")
    for _ in range(30):  # the worker delivers in-app notifications within moments
        page.goto("/")
        if booked.count():
            break
        page.wait_for_timeout(500)
    expect(booked).to_be_visible()
    link = page.get_by_role("link", name=f"Booked: {title}")
    expect(card.locator("li.unread", has=link)).to_contain_text("New")
    shot(page, "home-notifications")
    booked.click()
    expect(page).to_have_url(re.compile(r"/classes/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.goto("/notifications")
    expect(
        page.locator("li", has=page.get_by_role("link", name=f"Booked: {title}"))
    ).not_to_contain_text("New")
    if page.get_by_role("button", name="Mark all as read").count():
        page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("All read")).to_be_visible()


def test_links_in_emails_lead_to_pages(page: Page) -> None:
    log_in(page, "alex@ironoak.example.com")
    page.goto("/settings/notifications")
    expect(page).to_have_url(re.compile(r"/settings#notifications$"))
    page.goto("/messages")
    conversation = page.locator("#conversations").get_by_role("link", name="Marco Reyes")
    conversation_id = (conversation.get_attribute("href") or "").rsplit("/", 1)[-1]
    page.goto(f"/conversations/{conversation_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Marco Reyes")
    response = page.goto(f"/bookings/{uuid.uuid4()}")
    assert response is not None
    assert response.status == 404
