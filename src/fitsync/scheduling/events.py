"""Events scheduling publishes (names from ARCHITECTURE.md).

Every payload names the booking's ``client_id`` and ``trainer_id`` and the session's
times, so a consumer (notifications, billing) needs no call back into scheduling.
"""

BOOKING_CREATED = "booking.created"  # data: booking + status ("confirmed" | "waitlisted")
BOOKING_CANCELLED = "booking.cancelled"  # data: booking + late_cancel, cancelled_by
BOOKING_REMINDER = "booking.reminder"  # data: booking + lead_minutes
WAITLIST_PROMOTED = "waitlist.promoted"  # data: booking (now confirmed)
CLASS_CANCELLED = "class.cancelled"  # data: class + booking_ids, client_ids

# Live notices (Redis pub/sub, not the outbox): seat counts of a class changed.
CLASS_SEATS = "class.seats"
