"""Pure rules (quiet hours, backoff, recipients) and the templates of every event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from jinja2 import UndefinedError

from fitsync.notifications import domain
from fitsync.notifications.templates import Renderer

QUIET = domain.QuietHours(time(22, 0), time(7, 0))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Berlin is UTC+1 in winter, UTC+2 in summer.
        (datetime(2026, 11, 24, 20, 59, tzinfo=UTC), datetime(2026, 11, 24, 20, 59, tzinfo=UTC)),
        (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),
        (datetime(2026, 11, 25, 3, 0, tzinfo=UTC), datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),
        (datetime(2026, 11, 25, 6, 0, tzinfo=UTC), datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),
        # the night summer time starts (29 March 2026): 07:00 CEST is 05:00 UTC
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 5, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_across_midnight_and_dst(now: datetime, expected: datetime) -> None:
    at = domain.send_at(
        now, channel=domain.EMAIL, urgent=False, quiet=QUIET, timezone="Europe/Berlin"
    )
    assert at == expected


def test_quiet_hours_within_one_day() -> None:
    lunch = domain.QuietHours(time(12, 0), time(13, 30))
    now = datetime(2026, 11, 24, 11, 15, tzinfo=UTC)  # 12:15 in Berlin
    at = domain.send_at(
        now, channel=domain.PUSH, urgent=False, quiet=lunch, timezone="Europe/Berlin"
    )
    assert at == datetime(2026, 11, 24, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(("channel", "urgent"), [(domain.IN_APP, False), (domain.PUSH, True)])
def test_in_app_and_urgent_are_never_held(channel: str, urgent: bool) -> None:
    now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert domain.send_at(now, channel=channel, urgent=urgent, quiet=QUIET, timezone="UTC") == now


def test_retry_backoff_doubles_up_to_an_hour() -> None:
    delays = [domain.retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == timedelta(hours=1)
    assert delays == sorted(delays)


def test_recipients_come_from_ids_and_lists_without_repeats() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    spec = domain.SPECS["class.cancelled"]
    assert spec.recipients({"client_ids": [str(a), str(b), str(a)]}) == [a, b]
    assert domain.SPECS["achievement.earned"].recipients({"user_id": str(b)}) == [b]


SAMPLE_DATA = {
    "user.registered": {"user_id": "u", "first_name": "Ana", "last_name": "S", "role": "client"},
    "booking.created": {
        "booking_id": "b1",
        "client_id": "c",
        "starts_at": "2026-11-24T18:00:00+00:00",
        "title": "Yoga",
        "status": "confirmed",
    },
    "booking.cancelled": {
        "booking_id": "b1",
        "client_id": "c",
        "starts_at": "2026-11-24T18:00:00+00:00",
        "title": "Yoga",
        "late_cancel": True,
    },
    "booking.reminder": {
        "booking_id": "b1",
        "client_id": "c",
        "starts_at": "2026-11-24T18:00:00+00:00",
        "title": "Yoga",
    },
    "waitlist.promoted": {
        "booking_id": "b1",
        "client_id": "c",
        "starts_at": "2026-11-24T18:00:00+00:00",
        "title": "Yoga",
    },
    "class.cancelled": {
        "class_id": "k",
        "client_ids": ["c"],
        "starts_at": "2026-11-24T18:00:00+00:00",
        "title": "Yoga",
        "reason": None,
    },
    "program.assigned": {
        "assignment_id": "a",
        "program_id": "p",
        "program_name": "Strength 101",
        "client_id": "c",
        "trainer_name": "Tess",
        "start_date": "2026-12-01",
    },
    "achievement.earned": {"achievement_id": "x", "name": "First PR", "description": None},
    "message.sent": {
        "message_id": "m",
        "conversation_id": "cv",
        "sender_id": "s",
        "recipient_ids": ["c"],
        "sender_name": "Tess",
        "preview": "<script>alert(1)</script> see you",
    },
}


def _context(event_type: str, data: dict[str, object]) -> dict[str, object]:
    return {
        "event": {"id": "e", "type": event_type, "occurred_at": "2026-11-23T10:00:00+00:00"},
        "data": data,
        "user": {"id": "u", "first_name": "Ana", "last_name": "Silva", "email": "a@example.com"},
        "gym": {
            "id": "g",
            "name": "Iron & Oak",
            "timezone": "Europe/Berlin",
            "primary_color": "#112233",
            "accent_color": "#445566",
            "logo_url": None,
        },
        "links": {
            "app": "https://gym.example/",
            "action": "https://gym.example/x",
            "preferences": "https://gym.example/settings/notifications",
        },
    }


def test_every_event_type_has_a_sample_and_every_sample_field_is_documented() -> None:
    assert set(SAMPLE_DATA) == set(domain.EVENT_TYPES)
    for event_type, data in SAMPLE_DATA.items():
        assert set(domain.SPECS[event_type].required) <= set(data)


@pytest.mark.parametrize("event_type", domain.EVENT_TYPES)
def test_every_template_renders_strictly_in_every_locale(event_type: str) -> None:
    renderer = Renderer(strict=True)
    for locale in renderer.locales():
        out = renderer.render(event_type, locale, _context(event_type, SAMPLE_DATA[event_type]))
        assert out.title
        assert out.short
        assert out.text.strip()
        assert "Iron &amp; Oak" in out.html
        assert "#112233" in out.html
        assert "https://gym.example/settings/notifications" in out.text
        assert "<script>" not in out.html


def test_an_unknown_template_variable_fails_strict_rendering(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "en").mkdir()
    (root / "en" / "x.happened.jinja").write_text(
        "{% block title %}{{ data.nope.deeper }}{% endblock %}"
    )
    with pytest.raises(UndefinedError):
        Renderer(strict=True, root=root).render("x.happened", "en", {"data": {}})
    lenient = Renderer(strict=False, root=root)
    assert (
        lenient._block(lenient.text.get_template("en/x.happened.jinja"), "title", {"data": {}})
        == ""
    )


def test_a_missing_locale_falls_back_to_english() -> None:
    out = Renderer(strict=True).render(
        "booking.reminder", "pt-BR", _context("booking.reminder", SAMPLE_DATA["booking.reminder"])
    )
    assert out.title.startswith("Reminder: Yoga")


@pytest.mark.parametrize("event_type", domain.EVENT_TYPES)
def test_every_template_renders_strictly_with_only_the_required_fields(event_type: str) -> None:
    """Producers may send just the documented required fields; the rest is optional."""
    required = {k: SAMPLE_DATA[event_type][k] for k in domain.SPECS[event_type].required}
    out = Renderer(strict=True).render(event_type, "en", _context(event_type, required))
    assert out.title
    assert out.short
