"""Demo data: a living gym (and a second, small one) for newcomers to click through.

Iron & Oak Fitness gets an owner, two trainers, clients, trainer availability, a week of
recurring classes with bookings (one class full, with a waitlist), trainer-client links,
a program assigned to Alex with a few logged workouts and personal records, body-weight
entries, an imported bike ride (a real FIT file), a membership plan with paid
subscriptions, a 1:1 session and a conversation between Alex and his trainer. Harbour
Yoga Studio exists so that the sign-up page offers a choice and so that one gym's pages
can be checked against another's members.

Everything goes through the contexts' service functions, as the API would. Idempotent:
each part is added only when it is missing (the classes again once the last ones are
over), so running it again changes nothing.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import catalogue, subscriptions
from fitsync.billing.providers import build_runtime
from fitsync.bootstrap import Container
from fitsync.gyms.models import Gym
from fitsync.identity import public as identity
from fitsync.identity.models import User
from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import set_tenant, transaction
from fitsync.kernel.errors import AppError
from fitsync.kernel.pagination import PageParams
from fitsync.messaging import service as messaging
from fitsync.progress import activities
from fitsync.progress import service as progress
from fitsync.progress.schemas import BodyMetricIn, WorkoutLogIn
from fitsync.scheduling import service as scheduling
from fitsync.scheduling.schemas import AvailabilityIn, BookingIn, ClassIn
from fitsync.training import public as training
from fitsync.training.library import exercise_id
from fitsync.training.schemas import ProgramIn, WorkoutIn
from fitsync.training.service import people, programs, workouts

DEMO_GYM = "Iron & Oak Fitness"
OTHER_GYM = "Harbour Yoga Studio"
DEMO_PASSWORD = "fitsync-demo-2026"  # noqa: S105 - printed for newcomers on purpose
RIDE = Path(__file__).parent / "data" / "demo-ride.fit"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str


PEOPLE: list[tuple[Role, str, str, str]] = [
    (Role.gym_owner, "owner@ironoak.example.com", "Olivia", "Okafor"),
    (Role.trainer, "marco@ironoak.example.com", "Marco", "Reyes"),
    (Role.trainer, "sofia@ironoak.example.com", "Sofia", "Lindqvist"),
    (Role.client, "alex@ironoak.example.com", "Alex", "Morgan"),
    (Role.client, "priya@ironoak.example.com", "Priya", "Natarajan"),
    (Role.client, "tom@ironoak.example.com", "Tom", "Becker"),
    (Role.client, "yuki@ironoak.example.com", "Yuki", "Tanaka"),
    (Role.client, "sam@ironoak.example.com", "Sam", "Oduya"),
]
MEMBERS = [  # more members, so that classes fill up (not printed)
    ("Grace", "Adeyemi"), ("Lukas", "Novak"), ("Chloe", "Martin"), ("Omar", "Haddad"),
    ("Isla", "Campbell"), ("Mateo", "García"), ("Hannah", "Schmidt"), ("Ravi", "Kapoor"),
    ("Zoe", "Williams"), ("Finn", "O'Brien"), ("Amara", "Diallo"), ("Jonas", "Berg"),
]  # fmt: skip
OTHER_PEOPLE: list[tuple[Role, str, str, str]] = [
    (Role.gym_owner, "hana@harbouryoga.example.com", "Hana", "Brooks"),
    (Role.trainer, "leo@harbouryoga.example.com", "Leo", "Moreau"),
    (Role.client, "mia@harbouryoga.example.com", "Mia", "Fischer"),
]
ADMIN = (Role.admin, "admin@fitsync.example.com", "Ada", "Admin")

# (title, trainer email, local start, minutes, capacity, location, RRULE days)
CLASSES = [
    ("Sunrise HIIT", "marco", time(7, 0), 45, 12, "Studio 1", ["MO", "TU", "WE", "TH", "FR"]),
    ("Lunchtime Spin", "sofia", time(12, 30), 45, 14, "Spin room", ["MO", "WE", "FR"]),
    ("Strength Club", "marco", time(18, 0), 60, 6, "Weights floor", ["TU", "TH"]),
    ("Power Yoga", "sofia", time(19, 15), 60, 16, "Studio 2", ["MO", "TU", "WE", "TH"]),
    ("Kettlebell Express", "marco", time(18, 30), 30, 10, "Studio 1", ["MO", "WE"]),
    ("Weekend Bootcamp", "marco", time(10, 0), 60, 20, "Riverside park", ["SA"]),
    ("Sunday Stretch", "sofia", time(10, 30), 45, 12, "Studio 2", ["SU"]),
]
MARCO_HOURS = {1: "09:00-16:30", 2: "08:30-17:00", 3: "09:00-16:30", 4: "08:30-17:00",
               5: "09:00-15:00", 6: "11:30-14:00"}  # fmt: skip
SOFIA_HOURS = {1: "08:00-12:00", 2: "14:00-19:00", 3: "08:00-12:00", 4: "14:00-19:00",
               5: "08:00-12:00"}  # fmt: skip
PlanItems = list[tuple[str, int, int | None, float | None]]
WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


async def seed(container: Container) -> list[DemoLogin]:
    """Create what is missing of the demo gyms; return the logins to print."""
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        await training.load_library(session)  # idempotent: refreshes the exercise library
        gym = await _gym(session, DEMO_GYM, "Europe/London", "GBP", "12 Foundry Lane, Sheffield")
        other = await _gym(session, OTHER_GYM, "Europe/Dublin", "EUR", "3 Quay Street, Galway")
        await _people(session, container, gym.id, [ADMIN, *PEOPLE])
        await _people(session, container, other.id, OTHER_PEOPLE)
        for first, last in MEMBERS:
            local = unicodedata.normalize("NFKD", f"{first}.{last}".lower().replace("'", ""))
            email = f"{local.encode('ascii', 'ignore').decode()}@members.example.com"
            await _people(session, container, gym.id, [(Role.client, email, first, last)])
        await set_tenant(session, None, all_gyms=True)  # create_user scoped it to one gym
        users = {
            u.email.split("@")[0]: u
            for u in (await session.execute(select(User).where(User.gym_id == gym.id))).scalars()
        }
        other_users = {
            u.email.split("@")[0]: u
            for u in (await session.execute(select(User).where(User.gym_id == other.id))).scalars()
        }
    await _gym_life(container, gym.id, users)
    await _small_gym(container, other.id, other_users)
    return [
        DemoLogin(role.value, email, f"{first} {last}")
        for role, email, first, last in [ADMIN, *PEOPLE, *OTHER_PEOPLE]
    ]


async def _gym(session: AsyncSession, name: str, tz: str, currency: str, address: str) -> Gym:
    gym = (await session.execute(select(Gym).where(Gym.name == name))).scalar_one_or_none()
    if gym is None:
        branding = (
            {
                "primary_color": "#14532d",
                "accent_color": "#d97706",
                "logo_url": "/static/logos/iron-oak.svg",
            }
            if name == DEMO_GYM
            else {"primary_color": "#1e3a8a", "accent_color": "#0891b2"}
        )
        gym = Gym(
            name=name,
            timezone=tz,
            currency=currency,
            address=address,
            branding=branding,
            settings={"cancellation_window_hours": 12},
        )
        session.add(gym)
        await session.flush()
    return gym


async def _people(
    session: AsyncSession,
    container: Container,
    gym_id: uuid.UUID,
    people_: list[tuple[Role, str, str, str]],
) -> None:
    for role, email, first, last in people_:
        found = await session.scalar(select(User.id).where(User.email == email))
        if found is None:
            await identity.create_user(
                session,
                container.identity,
                actor_id=None,
                email=email,
                first_name=first,
                last_name=last,
                role=role,
                gym_id=None if role is Role.admin else gym_id,
                password=DEMO_PASSWORD,
            )


def _as(user: User) -> Principal:
    return Principal(
        user_id=user.id, role=Role(user.role), gym_id=user.gym_id, session_id=uuid.uuid4()
    )


async def _gym_life(container: Container, gym_id: uuid.UUID, users: dict[str, User]) -> None:
    owner, marco, sofia = users["owner"], users["marco"], users["sofia"]
    alex = users["alex"]
    clients = sorted(
        (u for u in users.values() if u.role == "client"), key=lambda u: (u.created_at, u.email)
    )
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        tz = ZoneInfo(await _rules_tz(session, gym_id))
        await _availability(session, marco, MARCO_HOURS)
        await _availability(session, sofia, SOFIA_HOURS)
        for index, client in enumerate(clients):
            name = client.email.split("@")[0]
            trainer = marco if name in ("alex", "priya", "tom") or index % 2 else sofia
            await people.link(
                session, principal=_as(owner), trainer_id=trainer.id, client_id=client.id
            )
        await _classes(session, tz, owner, {"marco": marco, "sofia": sofia}, clients, rng)
        await _membership(session, owner, clients)
    await _training(container, gym_id, tz, marco, alex)
    await _other_logs(container, gym_id, tz, [c for c in clients if c.id != alex.id])
    await _body_and_ride(container, gym_id, tz, alex)
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        await _one_to_one(session, tz, marco, alex)
    await _conversation(container, gym_id, marco, alex)
    container.bus.wake()


async def _rules_tz(session: AsyncSession, gym_id: uuid.UUID) -> str:
    gym = await session.get(Gym, gym_id)
    assert gym is not None
    return gym.timezone


async def _availability(session: AsyncSession, trainer: User, hours: dict[int, str]) -> None:
    me = _as(trainer)
    current = await scheduling.get_availability(session, principal=me, trainer_id=trainer.id)
    if current.rules:
        return
    rules = []
    for weekday, span in hours.items():
        start, end = span.split("-")
        rules.append({"weekday": weekday, "start_time": start, "end_time": end})
    await scheduling.set_availability(
        session,
        principal=me,
        trainer_id=trainer.id,
        body=AvailabilityIn.model_validate({"rules": rules, "durations": [30, 45, 60]}),
    )


def _first_start(now: datetime, tz: ZoneInfo, at: time, days: list[str]) -> datetime:
    """The first future local date-time at ``at`` on one of ``days``."""
    local = now.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        start = datetime.combine(day, at, tzinfo=tz)
        if WEEKDAY_CODES[day.weekday()] in days and start > now + timedelta(minutes=5):
            return start
    raise AssertionError("no start within a week")


async def _classes(
    session: AsyncSession,
    tz: ZoneInfo,
    owner: User,
    trainers: dict[str, User],
    clients: list[User],
    rng: random.Random,
) -> None:
    now = clock.now()
    me = _as(owner)
    soon = await scheduling.list_classes(
        session,
        principal=me,
        window_from=now,
        window_to=now + timedelta(days=7),
        trainer_id=None,
        page=PageParams(limit=1, after=None),
    )
    if soon.items:
        return
    for title, coach, at, minutes, capacity, location, days in CLASSES:
        await scheduling.create_class(
            session,
            principal=me,
            body=ClassIn(
                title=title,
                trainer_id=trainers[coach].id,
                starts_at=_first_start(now, tz, at, days),
                duration_minutes=minutes,
                capacity=capacity,
                location=location,
                recurrence=f"FREQ=WEEKLY;BYDAY={','.join(days)};COUNT={3 * len(days)}",
            ),
        )
    week = await scheduling.list_classes(
        session,
        principal=me,
        window_from=now,
        window_to=now + timedelta(days=7),
        trainer_id=None,
        page=PageParams(limit=100, after=None),
    )
    for item in week.items:
        full = item.title == "Strength Club"
        wanted = item.capacity + 1 if full else rng.randint(item.capacity // 3, item.capacity - 1)
        for client in rng.sample(clients, min(wanted, len(clients))):
            if client.email.startswith("alex@") and not full:
                continue  # Alex books their own (the home page shows two)
            try:
                await scheduling.book(
                    session,
                    principal=_as(client),
                    body=BookingIn(class_id=item.id, join_waitlist=True),
                )
            except AppError:
                continue
    alex = next(c for c in clients if c.email.startswith("alex@"))
    picks = [c for c in week.items if c.title in ("Power Yoga", "Weekend Bootcamp")][:2]
    for item in picks:
        try:
            await scheduling.book(
                session, principal=_as(alex), body=BookingIn(class_id=item.id, join_waitlist=True)
            )
        except AppError:
            continue


async def _membership(session: AsyncSession, owner: User, clients: list[User]) -> None:
    me = _as(owner)
    plans, _ = await catalogue.list_plans(
        session, principal=me, paging=PageParams(limit=1, after=None)
    )
    if plans:
        return
    plan = await catalogue.create_plan(
        session,
        principal=me,
        name="Unlimited monthly",
        interval="month",
        price=4900,
        signup_fee=1500,
    )
    rt = build_runtime(card_api_url=None, card_api_key=None, card_webhook_secret=None)
    for client in clients[:10]:
        await subscriptions.create_subscription(
            session,
            rt,
            principal=me,
            client_id=client.id,
            plan_id=plan.id,
            starts_on=None,
            payment_method="manual",
            card_token=None,
            paid_with="card_terminal",
            discount_code=None,
            provider_key=f"demo:{client.id}",
        )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


CHAT = [
    ("coach", "Hi Alex, great squat session on Tuesday! Next week we add 2.5 kg to the top set."),
    ("client", "Thanks! The knee felt fine. Could we move Thursday's session to the evening?"),
    ("coach", "Sure: pick any free evening slot on my page and I'll see the booking."),
]


async def _conversation(container: Container, gym_id: uuid.UUID, coach: User, client: User) -> None:
    """A few messages between the client and their trainer (the last one unread)."""
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        conv, created = await messaging.create_conversation(
            session,
            container.messaging,
            principal=_as(coach),
            participant_ids=[client.id],
            title=None,
        )
    if not created:
        return
    for who, text in CHAT:
        async with transaction(container.sessionmaker, gym_id=gym_id) as session:
            await messaging.post_message(
                session,
                container.messaging,
                principal=_as(coach if who == "coach" else client),
                conversation_id=conv.id,
                text_=text,
                attachments=[],
            )


async def _training(
    container: Container, gym_id: uuid.UUID, tz: ZoneInfo, coach: User, client: User
) -> None:
    """Two workouts, a program assigned to the client two weeks ago, and logs against it."""
    trainer, athlete = _as(coach), _as(client)
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        given = await programs.list_assignments(
            session, principal=trainer, client_id=client.id, page=PageParams(limit=1, after=None)
        )
        if given.items:
            return
        plans: dict[str, PlanItems] = {
            "Full body A": [
                ("Barbell_Squat", 4, 6, 70.0),
                ("Barbell_Bench_Press_-_Medium_Grip", 4, 8, 55.0),
                ("Bent_Over_Barbell_Row", 3, 10, 45.0),
                ("Plank", 3, None, None),
            ],
            "Full body B": [
                ("Barbell_Deadlift", 3, 5, 90.0),
                ("Standing_Military_Press", 4, 8, 35.0),
                ("Pullups", 3, 8, None),
                ("Dumbbell_Lunges", 3, 10, 14.0),
            ],
        }
        ids: dict[str, uuid.UUID] = {}
        for name, items in plans.items():
            created = await workouts.create_workout(
                session,
                principal=trainer,
                values=WorkoutIn.model_validate(
                    {
                        "name": name,
                        "goal": "Strength",
                        "difficulty": "beginner",
                        "exercises": [
                            {
                                "exercise_id": exercise_id(source),
                                "order": i + 1,
                                "sets": sets,
                                "reps": reps,
                                "duration_seconds": None if reps else 45,
                                "load": load,
                                "rest_seconds": 120 if load else 60,
                                "progression": {"type": "load_per_week", "increment_kg": 2.5}
                                if load
                                else None,
                            }
                            for i, (source, sets, reps, load) in enumerate(items)
                        ],
                    }
                ),
            )
            ids[name] = created.id
        program = await programs.create_program(
            session,
            principal=trainer,
            values=ProgramIn.model_validate(
                {
                    "name": "Strength foundations",
                    "description": "Three full-body sessions a week, adding load every week.",
                    "duration_weeks": 6,
                    "goal": "Strength",
                    "difficulty": "beginner",
                    "schedule": [
                        {"week": w, "day": d, "workout_id": ids[name]}
                        for w in range(1, 7)
                        for d, name in ((1, "Full body A"), (3, "Full body B"), (5, "Full body A"))
                    ],
                }
            ),
        )
        today = clock.now().astimezone(tz).date()
        start = _monday(today) - timedelta(days=14)
        await programs.assign_program(
            session, principal=trainer, program_id=program.id, client_id=client.id, start_date=start
        )
        past = await programs.my_plan(
            session, principal=athlete, start=start, end=today - timedelta(days=1)
        )
    names = {ex.exercise_id: ex.exercise_name for item in past.items for ex in item.exercises}
    history: list[tuple[date, uuid.UUID | None, str, list[dict[str, Any]]]] = []
    # before the program: two free workouts a week, lighter
    for weeks_back in range(6, 0, -1):
        for offset, name in ((1, "Full body A"), (4, "Full body B")):
            day = start - timedelta(weeks=weeks_back) + timedelta(days=offset)
            lighter = 2.5 * (weeks_back + 1)
            entries = [
                {
                    "exercise_id": exercise_id(source),
                    "exercise_name": names.get(exercise_id(source)),
                    "sets": [
                        {
                            "reps": reps,
                            "load_kg": max(load - lighter, 10) if load else None,
                            "duration_s": None if reps else 40,
                        }
                    ]
                    * sets,
                }
                for source, sets, reps, load in plans[name]
            ]
            history.append((day, None, name, entries))
    for index, item in enumerate(past.items):
        if index == 2:
            continue  # one missed session: adherence is not perfect
        entries = [
            {
                "exercise_id": ex.exercise_id,
                "exercise_name": ex.exercise_name,
                "sets": [
                    {"reps": ex.reps, "load_kg": ex.planned_load, "duration_s": ex.duration_seconds}
                ]
                * max(ex.sets if index % 3 else ex.sets - 1, 1),
            }
            for ex in item.exercises
        ]
        history.append((item.date, item.workout_id, item.workout_name, entries))
    for day, workout_id, title, entries in history:
        await _log(container, gym_id, athlete, tz, day, workout_id, title, entries)


async def _log(
    container: Container,
    gym_id: uuid.UUID,
    athlete: Principal,
    tz: ZoneInfo,
    day: date,
    workout_id: uuid.UUID | None,
    title: str,
    entries: list[dict[str, Any]],
) -> None:
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        await progress.log_workout(
            session,
            container.progress.catalog,
            principal=athlete,
            body=WorkoutLogIn.model_validate(
                {
                    "performed_at": datetime.combine(day, time(18, 15), tzinfo=tz),
                    "workout_id": workout_id,
                    "title": title,
                    "duration_s": 55 * 60,
                    "entries": entries,
                }
            ),
        )


async def _other_logs(
    container: Container, gym_id: uuid.UUID, tz: ZoneInfo, clients: list[User]
) -> None:
    """A few workouts of other members, so that their trainers' lists are not empty."""
    today = clock.now().astimezone(tz).date()
    for n, client in enumerate(clients):
        me = _as(client)
        async with transaction(container.sessionmaker, gym_id=gym_id) as session:
            done = await progress.list_workout_logs(
                session,
                principal=me,
                client_id=None,
                since=None,
                until=None,
                page=PageParams(limit=1, after=None),
            )
        if done.items:
            continue
        for k in range(n % 4):
            day = today - timedelta(days=3 + 4 * k + n % 3 + (16 if n % 5 == 0 else 0))
            entries: list[dict[str, Any]] = [
                {
                    "exercise_id": exercise_id("Goblet_Squat"),
                    "exercise_name": "Goblet Squat",
                    "sets": [{"reps": 12, "load_kg": 16 + 2 * k}] * 3,
                },
                {
                    "exercise_id": exercise_id("Seated_Cable_Rows"),
                    "exercise_name": "Seated Cable Rows",
                    "sets": [{"reps": 10, "load_kg": 35 + 2.5 * k}] * 3,
                },
            ]
            await _log(container, gym_id, me, tz, day, None, "Gym session", entries)


async def _body_and_ride(
    container: Container, gym_id: uuid.UUID, tz: ZoneInfo, client: User
) -> None:
    me = _as(client)
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        existing = await progress.list_body_metrics(
            session,
            principal=me,
            client_id=None,
            units=None,
            since=None,
            until=None,
            page=PageParams(limit=1, after=None),
        )
        if not existing.items:
            today = clock.now().astimezone(tz).date()
            weight = 83.6
            for days_ago in range(84, -1, -6):
                weight -= (
                    0.28 + (0.35 if days_ago % 18 == 0 else 0) - (0.4 if days_ago % 24 == 0 else 0)
                )
                when = datetime.combine(today - timedelta(days=days_ago), time(7, 30), tzinfo=tz)
                await progress.add_body_metric(
                    session,
                    principal=me,
                    body=BodyMetricIn.model_validate(
                        {
                            "measured_at": min(when, clock.now()),
                            "weight_kg": round(weight, 1),
                            "body_fat_pct": round(19.5 - (84 - days_ago) * 0.025, 1),
                        }
                    ),
                )
        rides = await activities.list_activities(
            session, principal=me, client_id=None, page=PageParams(limit=1, after=None)
        )
    if rides.items or not RIDE.exists():
        return
    with RIDE.open("rb") as stream:
        await activities.import_upload(
            container.sessionmaker,
            container.progress.store,
            principal=me,
            stream=stream,
            name="Evening ride.fit",
            size=RIDE.stat().st_size,
            max_bytes=container.progress.max_upload_bytes,
            max_samples=container.progress.max_samples,
        )


async def _one_to_one(session: AsyncSession, tz: ZoneInfo, coach: User, client: User) -> None:
    """A personal-training session for the client, at the coach's first free slot tomorrow."""
    me = _as(client)
    now = clock.now()
    booked = await scheduling.list_bookings(
        session,
        principal=me,
        window_from=now,
        window_to=None,
        status="confirmed",
        page=PageParams(limit=50, after=None),
    )
    if any(b.class_id is None for b in booked.items):
        return
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    slots = await scheduling.list_slots(
        session,
        principal=me,
        trainer_id=coach.id,
        window_from=datetime.combine(tomorrow, time(10), tzinfo=tz),
        window_to=datetime.combine(tomorrow + timedelta(days=3), time(0), tzinfo=tz),
        duration_minutes=60,
    )
    if slots.items:
        await scheduling.book(
            session,
            principal=me,
            body=BookingIn(
                trainer_id=coach.id, starts_at=slots.items[0].starts_at, duration_minutes=60
            ),
        )


async def _small_gym(container: Container, gym_id: uuid.UUID, users: dict[str, User]) -> None:
    owner, leo = users["hana"], users["leo"]
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        tz = ZoneInfo(await _rules_tz(session, gym_id))
        now = clock.now()
        soon = await scheduling.list_classes(
            session,
            principal=_as(owner),
            window_from=now,
            window_to=now + timedelta(days=7),
            trainer_id=None,
            page=PageParams(limit=1, after=None),
        )
        if soon.items:
            return
        days = ["MO", "WE", "FR", "SA"]
        await scheduling.create_class(
            session,
            principal=_as(owner),
            body=ClassIn(
                title="Vinyasa Flow",
                trainer_id=leo.id,
                starts_at=_first_start(now, tz, time(9, 0), days),
                duration_minutes=60,
                capacity=14,
                location="The loft",
                recurrence=f"FREQ=WEEKLY;BYDAY={','.join(days)};COUNT=12",
            ),
        )
