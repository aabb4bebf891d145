"""Web pages benchmark: the client's home page and a week's timetable of 100 classes.

    .venv/bin/python bench/web.py [--seconds 10] [--connections 16] [--workers 1]

Needs wrk (Debian package: ``apt-get install wrk``). Starts `fitsync serve` (embedded
stores, or FITSYNC_BENCH_DATABASE_URL / FITSYNC_BENCH_REDIS_URL) and seeds through the
HTTP API one gym (Europe/Berlin) with 4 trainers and 100 classes spread over the 7 days
the timetable shows from today, 30 other clients whose bookings make the seat counts
vary (some classes full, with a waitlist), and the measured client: 8 upcoming bookings
(one waitlisted), a 4-week program planned every day (today's workout), and 36 workout
logs over 12 weeks with rising loads (personal records). That is what the home panels
show (``member.HOME_PANELS``).

The client then signs in through the browser form (GET /login for the CSRF cookie,
POST /login echoing it) and wrk sends the session cookies to

* GET /healthz: no session, no store; the floor of the server and of the loopback;
* GET /: the client's home page (next bookings, today's workout, records);
* GET /classes: this week's timetable, with the client's bookings marked.

Server time: wrk is a separate C process on the same host, so at one connection
(sequential requests on a kept-alive connection) its latency is the server's time plus
the loopback round trip, which the /healthz figure bounds from above. The CPU time the
server process and PostgreSQL spent per request (from /proc) is given too: it does not
depend on how busy the shared machine is. Then the same at ``--connections``. Also the
HTML size of each page, the classes counted in the timetable's HTML, and the load
average. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
import urllib.error
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _server import Load, Server, fitsync_server, wrk

from training import _cpu_ms, _postgres_cpu_ms, _server_pids

ADMIN = ("bench-admin@example.com", "bench-admin-password-1")
PASSWORD = "bench-user-password-1"
TZ = ZoneInfo("Europe/Berlin")
CLASSES = 100
TRAINERS = 4
OTHER_CLIENTS = 30
TITLES = ["Spin", "HIIT", "Yoga", "Pilates", "Boxfit", "Kettlebells", "Mobility", "Core"]


def person(server: Server, admin: str, gym_id: str, role: str, n: int) -> tuple[str, str]:
    """A user of ``role`` in the gym; returns (id, access token)."""
    email = f"bench-{role}-{n}@example.com"
    server.call(
        "POST",
        "/users",
        {
            "email": email,
            "first_name": f"{role.title()}{n}",
            "last_name": "Bench",
            "role": role,
            "gym_id": gym_id,
            "password": PASSWORD,
        },
        admin,
    )
    login = server.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
    return login["user"]["id"], login["access_token"]


def class_starts(rng: random.Random) -> list[tuple[datetime, int]]:
    """100 (start, trainer index) in the timetable's week, round-robin over the 7 days.

    Each trainer teaches at most one class an hour (no overlaps); times between 06:00 and
    21:00 local, at least an hour from now (today may have fewer)."""
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    per_day: list[list[tuple[datetime, int]]] = []
    for d in range(7):
        day = today + timedelta(days=d)
        slots = [
            (datetime(day.year, day.month, day.day, hour, 0, tzinfo=TZ), t)
            for hour in range(6, 22)
            for t in range(TRAINERS)
        ]
        slots = [s for s in slots if s[0] > now + timedelta(hours=1)]
        rng.shuffle(slots)
        per_day.append(slots)
    chosen: list[tuple[datetime, int]] = []
    while len(chosen) < CLASSES:
        for slots in per_day:
            if slots and len(chosen) < CLASSES:
                chosen.append(slots.pop())
    return sorted(chosen)


def seed(server: Server) -> tuple[str, int]:
    """The gym and its people; returns the measured client's email and its booking count."""
    rng = random.Random(7)
    admin = server.call("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})[
        "access_token"
    ]
    gym_id = server.call(
        "POST", "/gyms", {"name": "Bench Gym", "timezone": TZ.key, "currency": "EUR"}, admin
    )["id"]
    trainers = [person(server, admin, gym_id, "trainer", n) for n in range(TRAINERS)]
    client_id, client = person(server, admin, gym_id, "client", 0)
    others = [person(server, admin, gym_id, "client", n) for n in range(1, OTHER_CLIENTS + 1)]

    classes = []
    for i, (starts, t) in enumerate(class_starts(rng)):
        trainer_id, token = trainers[t]
        body = {
            "title": f"{TITLES[i % len(TITLES)]} {i + 1}",
            "trainer_id": trainer_id,
            "starts_at": starts.isoformat(),
            "duration_minutes": rng.choice([45, 60]),
            "capacity": rng.choice([6, 10, 12, 16, 20]),
            "location": rng.choice([None, "Studio 1", "Studio 2"]),
        }
        classes.append(server.call("POST", "/classes", body, token))

    # Other clients: about 8 bookings each, so seats vary; a few classes fill up.
    bookings = 0
    for _, token in others:
        for c in rng.sample(classes, 8):
            server.call("POST", "/bookings", {"class_id": c["id"], "join_waitlist": True}, token)
            bookings += 1
    full = [c for c in classes if c["capacity"] == 6][:3]
    for c in full:
        for _, token in others[: c["capacity"] + 2]:
            try:
                server.call(
                    "POST", "/bookings", {"class_id": c["id"], "join_waitlist": True}, token
                )
                bookings += 1
            except urllib.error.HTTPError:  # already booked in it
                pass
    mine = 0
    for c in [*full[:1], *rng.sample(classes, 7)]:
        try:
            server.call("POST", "/bookings", {"class_id": c["id"], "join_waitlist": True}, client)
            mine += 1
        except urllib.error.HTTPError:
            pass
    print(f"seeded {len(classes)} classes, {bookings} bookings of 30 other clients", flush=True)

    # The client's trainer, a 4-week program planned every day from today, 36 logs.
    trainer_id, trainer = trainers[0]
    server.call("PUT", f"/trainers/{trainer_id}/clients/{client_id}", None, trainer)
    picks = server.call("GET", "/exercises?category=strength&limit=30", None, trainer)["items"]
    workouts = []
    for w in range(3):
        items = [
            {
                "exercise_id": picks[(w * 6 + i) % len(picks)]["id"],
                "order": i + 1,
                "sets": 4,
                "reps": 8,
                "reps_max": 10,
                "rest_seconds": 90,
                "load": 40 + 5 * i,
                "progression": {"type": "load_per_week", "increment_kg": 2.5},
            }
            for i in range(6)
        ]
        workouts.append(
            server.call("POST", "/workouts", {"name": f"Day {w + 1}", "exercises": items}, trainer)
        )
    schedule = [
        {"week": week, "day": day, "workout_id": workouts[(day - 1) % 3]["id"]}
        for week in range(1, 5)
        for day in range(1, 8)
    ]
    program = server.call(
        "POST",
        "/programs",
        {"name": "Strength block", "duration_weeks": 4, "schedule": schedule},
        trainer,
    )
    today = datetime.now(TZ).date()
    server.call(
        "POST",
        f"/programs/{program['id']}/assign",
        {"client_id": client_id, "start_date": today.isoformat()},
        trainer,
    )
    now = datetime.now(UTC)
    for n in range(36):
        performed = now - timedelta(days=84 - n * 84 / 36, hours=2)
        workout = workouts[n % 3]
        entries = [
            {
                "exercise_id": ex["exercise_id"],
                "sets": [{"reps": 8, "load_kg": 30 + 5 * i + n * 1.25, "rpe": 8} for _ in range(3)],
            }
            for i, ex in enumerate(workout["exercises"][:5])
        ]
        server.call(
            "POST",
            "/progress/workout-logs",
            {
                "performed_at": performed.isoformat(),
                "workout_id": workout["id"],
                "entries": entries,
            },
            client,
        )
    return "bench-client-0@example.com", mine


def browser_sign_in(origin: str, email: str) -> str:
    """Sign in through the form as a browser does; returns the Cookie header it then sends."""
    with httpx.Client(base_url=origin, follow_redirects=False) as browser:
        browser.get("/login").raise_for_status()
        csrf = browser.cookies["fs_csrf"]
        answer = browser.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf, "next": "/"},
        )
        if answer.status_code != 303 or "fs_access" not in browser.cookies:
            raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:300]}")
        return "; ".join(f"{k}={v}" for k, v in browser.cookies.items())


def _row(
    label: str, run: Load, connections: int, cpu: tuple[float, float], floor: Load | None
) -> str:
    line = f"  {label:<28} {connections:2d} conn {run}  cpu/req: server {cpu[0]:5.2f} pg {cpu[1]:5.2f} ms"
    line += f"  load {os.getloadavg()[0]:4.2f}"
    if floor is not None and floor is not run:
        if connections == 1:
            line += f"  (p99 x{run.p99_ms / floor.p99_ms:.1f} of healthz)"
        else:
            line += f"  ({run.requests_per_s / floor.requests_per_s:.2f} of healthz req/s)"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with fitsync_server(args.workers, admin=ADMIN) as server:
        started = time.monotonic()
        email, mine = seed(server)
        print(f"seeding took {time.monotonic() - started:.0f} s", flush=True)
        origin = server.base.removesuffix("/api/v1")
        port = urllib.parse.urlparse(origin).port or 80
        cookie = browser_sign_in(origin, email)
        headers = {"Cookie": cookie}
        targets = [("GET /healthz (floor)", "/healthz"), ("GET / (client home)", "/")]
        targets.append(("GET /classes (the week)", "/classes"))
        for label, path in targets[1:]:
            page = httpx.get(origin + path, headers=headers)
            size = len(page.content)
            print(f"{label}: HTTP {page.status_code}, {size:,} bytes of HTML", end="")
            if path == "/classes":
                shown = len(re.findall(r'class="class-row', page.text))
                more = "More classes this week" in page.text
                booked = page.text.count('class="badge ok">Booked') + page.text.count(
                    'class="badge warn">Waitlist'
                )
                print(
                    f"; {shown} classes in the HTML, {booked} marked as the client's"
                    f" ({mine} booked), {'a' if more else 'no'} 'more classes' link",
                    end="",
                )
            print()
        print(
            f"\nserver: fitsync serve --workers {args.workers}; wrk, {args.seconds} s per run;"
            f" {os.cpu_count()} CPUs, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
        )
        for _, path in targets:  # warm up: connections, prepared statements, templates
            wrk(origin + path, connections=4, seconds=2, headers=headers)
        pids = _server_pids(port)
        for connections in (1, args.connections):
            floor = None
            for label, path in targets:
                before = sum(map(_cpu_ms, pids)), _postgres_cpu_ms(server)
                run = wrk(
                    origin + path,
                    connections=connections,
                    threads=1 if connections == 1 else 2,
                    seconds=args.seconds,
                    headers=headers,
                )
                requests = max(run.requests_per_s * args.seconds, 1)
                cpu = (
                    (sum(map(_cpu_ms, pids)) - before[0]) / requests,
                    (_postgres_cpu_ms(server) - before[1]) / requests,
                )
                floor = floor or run
                print(_row(label, run, connections, cpu, floor), flush=True)
        print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
