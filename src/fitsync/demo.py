"""Demo data: one gym with an owner, two trainers and a handful of clients.

Idempotent: running it again finds the demo gym and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from fitsync.bootstrap import Container
from fitsync.gyms.models import Gym
from fitsync.identity import public as identity
from fitsync.kernel.auth import Role
from fitsync.kernel.db import transaction
from fitsync.training import public as training

DEMO_GYM = "Iron & Oak Fitness"
DEMO_PASSWORD = "fitsync-demo-2026"  # noqa: S105 - printed for newcomers on purpose


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
ADMIN = (Role.admin, "admin@fitsync.example.com", "Ada", "Admin")


async def seed(container: Container) -> list[DemoLogin]:
    """Create the demo gym and its people unless they exist; return the logins."""
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        await training.load_library(session)  # idempotent: refreshes the exercise library
        gym = (await session.execute(select(Gym).where(Gym.name == DEMO_GYM))).scalar_one_or_none()
        if gym is None:
            gym = Gym(
                name=DEMO_GYM,
                timezone="Europe/London",
                currency="GBP",
                address="12 Foundry Lane, Sheffield",
                branding={"primary_color": "#14532d", "accent_color": "#d97706"},
                settings={"cancellation_window_hours": 12},
            )
            session.add(gym)
            await session.flush()
            for role, email, first, last in [ADMIN, *PEOPLE]:
                await identity.create_user(
                    session,
                    container.identity,
                    actor_id=None,
                    email=email,
                    first_name=first,
                    last_name=last,
                    role=role,
                    gym_id=None if role is Role.admin else gym.id,
                    password=DEMO_PASSWORD,
                )
    return [
        DemoLogin(role.value, email, f"{first} {last}")
        for role, email, first, last in [ADMIN, *PEOPLE]
    ]
