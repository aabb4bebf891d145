"""Scheduling's use cases: availability, slots, classes, bookings, waitlists, reminders.

Concurrency: every change to the seats of a session first locks the session row
(``SELECT … FOR UPDATE``) and then its bookings — one lock order everywhere, so
two cancellations, a booking and a cancellation, or a class cancellation and a
booking serialise on the session and cannot deadlock. The seat counters on that
row are guarded by ``CHECK (booked <= capacity)``; a trainer's (and a client's)
overlapping sessions are refused by exclusion constraints. The Python checks give
good messages; the database keeps the invariants.
"""

from fitsync.scheduling.service.availability import get_availability, list_slots, set_availability
from fitsync.scheduling.service.bookings import (
    book,
    cancel_booking,
    check_in,
    find_booking,
    forget_idempotency_keys,
    get_booking,
    list_bookings,
    mark_no_show,
    request_hash,
    send_due_reminders,
)
from fitsync.scheduling.service.classes import (
    cancel_class,
    class_titles,
    create_class,
    get_class,
    list_classes,
    list_roster,
    update_class,
)

__all__ = [
    "book",
    "cancel_booking",
    "cancel_class",
    "check_in",
    "class_titles",
    "create_class",
    "find_booking",
    "forget_idempotency_keys",
    "get_availability",
    "get_booking",
    "get_class",
    "list_bookings",
    "list_classes",
    "list_roster",
    "list_slots",
    "mark_no_show",
    "request_hash",
    "send_due_reminders",
    "set_availability",
    "update_class",
]
