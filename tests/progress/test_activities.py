"""Wearable imports through the HTTP API, on both time-series adapters where it matters."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime
from statistics import mean

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.progress import wearables
from fitsync.progress.timeseries import InfluxSampleStore, SampleStore
from tests.factories import coach, make_gym, signed_in
from tests.progress.factories import DATA, upload, upload_file
from tests.progress.fitwriter import synthetic_ride


async def _counts(admin_engine: AsyncEngine) -> dict[str, int]:
    async with admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM progress.activities),"
                    " (SELECT count(*) FROM progress.activity_files),"
                    " (SELECT count(*) FROM progress.samples),"
                    " (SELECT count(*) FROM kernel.outbox WHERE type = 'activity.imported')"
                )
            )
        ).one()
    return dict(zip(("activities", "files", "samples", "events"), row, strict=True))


async def test_import_answers_the_summary_and_stores_everything(
    client: httpx.AsyncClient,
    container: Container,
    admin_engine: AsyncEngine,
    store: SampleStore,
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await upload_file(client, me, "fit/2020-06-01-16-52-40.fit")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sport"] == "cycling"
    assert body["source_format"] == "fit"
    assert body["started_at"] == "2020-06-01T14:52:40Z"
    assert body["elapsed_s"] == pytest.approx(113.15)
    assert body["moving_s"] == pytest.approx(93.7)
    assert body["distance_m"] == pytest.approx(668.19)
    assert body["hr_avg"] == pytest.approx(150.03, abs=0.5)
    assert body["hr_max"] == 156
    assert body["samples"] == 96
    assert body["laps"] == 5
    assert body["calories"] == 12
    assert len(body["file_sha256"]) == 64
    assert sum(body["hr_zones_s"]) > 0
    assert body["trimp"] > 0
    counts = await _counts(admin_engine)
    assert counts["activities"] == counts["files"] == counts["events"] == 1
    if isinstance(store, InfluxSampleStore):
        assert counts["samples"] == 0
    else:
        assert counts["samples"] == 96
    got = await client.get(f"/progress/activities/{body['id']}", headers=me.headers)
    assert got.status_code == 200
    assert got.json() == body


async def test_samples_every_10s_are_bucket_means(
    client: httpx.AsyncClient, container: Container, store: SampleStore
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    relative = "fit/Edge810-Vector-2013-08-16-15-35-10.fit"
    created = (await upload_file(client, me, relative)).json()
    parsed = wearables.parse(io.BytesIO((DATA / relative).read_bytes()), "fit")
    response = await client.get(
        f"/progress/activities/{created['id']}/samples",
        params={"every": "10s", "fields": "hr,power"},
        headers=me.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["every_s"] == 10
    assert body["fields"] == ["hr", "power"]
    items = body["items"]
    assert 465 <= len(items) <= 475  # 4,700 s of samples in 10-s buckets
    assert set(items[0]) == {"t", "hr", "power"}
    start = parsed.samples.t[0]
    first = [
        p
        for t, p in zip(parsed.samples.t, parsed.samples.values("power"), strict=True)
        if t < start + 10 and p is not None
    ]
    assert items[0]["t"] == datetime.fromtimestamp(start, UTC).isoformat()
    assert items[0]["power"] == pytest.approx(mean(first), abs=0.01)
    times = [item["t"] for item in items]
    assert times == sorted(times)


async def test_raw_samples_carry_positions(
    client: httpx.AsyncClient, container: Container, store: SampleStore
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    created = (await upload_file(client, me, "gpx/activity_5039744860.gpx")).json()
    response = await client.get(
        f"/progress/activities/{created['id']}/samples",
        params={"fields": "lat,lon,alt,hr"},
        headers=me.headers,
    )
    items = response.json()["items"]
    assert len(items) == 96
    assert items[0]["lat"] == pytest.approx(52.1, abs=0.5)
    assert items[0]["hr"] is not None


async def test_duplicate_upload_is_409_naming_the_existing_activity(
    client: httpx.AsyncClient,
    container: Container,
    admin_engine: AsyncEngine,
    store: SampleStore,
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    first = await upload_file(client, me, "tcx/sup_activity_1.tcx")
    again = await upload_file(client, me, "tcx/sup_activity_1.tcx")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["existing_id"] == first.json()["id"]
    assert (await _counts(admin_engine))["activities"] == 1


async def test_concurrent_duplicate_uploads_store_one_activity(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    data = (DATA / "fit/2020-06-01-16-52-40.fit").read_bytes()
    responses = await asyncio.gather(*(upload(client, me, data, "ride.fit") for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7
    created = next(r for r in responses if r.status_code == 201).json()["id"]
    assert {r.json()["existing_id"] for r in responses if r.status_code == 409} == {created}
    counts = await _counts(admin_engine)
    assert counts == {"activities": 1, "files": 1, "samples": 96, "events": 1}


async def test_same_file_from_two_clients_is_two_activities(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    one = await signed_in(client, container, gym_id=gym)
    two = await signed_in(client, container, gym_id=gym)
    assert (await upload_file(client, one, "gpx/riderx3.gpx")).status_code == 201
    assert (await upload_file(client, two, "gpx/riderx3.gpx")).status_code == 201


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("malformed/derived_empty.fit", "empty"),
        ("malformed/derived_garmin-fenix-5-run_truncated-3000B.fit", "truncated"),
        ("malformed/derived_garmin-fenix-5-run_bad-file-crc.fit", "CRC"),
        ("malformed/nick.fit", "truncated"),
        ("malformed/derived_riderx3_truncated.gpx", "truncated"),
        ("malformed/derived_pool_swim-activity_1_truncated.tcx", "truncated"),
        ("gpx/route.gpx", "route"),
    ],
)
async def test_bad_file_is_400_and_stores_nothing(
    client: httpx.AsyncClient,
    container: Container,
    admin_engine: AsyncEngine,
    relative: str,
    reason: str,
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await upload_file(client, me, relative)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert await _counts(admin_engine) == {"activities": 0, "files": 0, "samples": 0, "events": 0}


async def test_xml_bomb_is_400(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><gpx><trk><name>&b;</name></trk></gpx>'
    )
    response = await upload(client, me, bomb, "bomb.gpx")
    assert response.status_code == 400
    assert "DTD" in response.json()["detail"]


async def test_oversized_upload_is_413_and_stores_nothing(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    big = b"\x0e\x20" + b"\x00" * (26 * 1024 * 1024)
    response = await upload(client, me, big, "huge.fit")
    assert response.status_code == 413
    assert (await _counts(admin_engine))["activities"] == 0


async def test_store_failure_is_503_and_leaves_no_activity(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    original = container.progress.store
    container.progress.store = InfluxSampleStore("http://127.0.0.1:9/fitsync", timeout=2)
    try:
        response = await upload_file(client, me, "fit/2020-06-01-16-52-40.fit")
    finally:
        await container.progress.store.close()
        container.progress.store = original
    assert response.status_code == 503
    assert await _counts(admin_engine) == {"activities": 0, "files": 0, "samples": 0, "events": 0}


async def test_five_hour_synthetic_ride_imports(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    data = synthetic_ride(start=datetime(2025, 3, 1, 6, tzinfo=UTC), seconds=5 * 3600)
    response = await upload(client, me, data, "long-ride.fit")
    assert response.status_code == 201
    assert response.json()["samples"] == 18_000
    samples = await client.get(
        f"/progress/activities/{response.json()['id']}/samples",
        params={"every": "1m", "fields": "power"},
        headers=me.headers,
    )
    assert len(samples.json()["items"]) == 300


async def test_bad_samples_query_is_422(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    created = (await upload_file(client, me, "fit/2020-06-01-16-52-40.fit")).json()
    for params in ({"every": "ten"}, {"fields": "hr,blood"}):
        response = await client.get(
            f"/progress/activities/{created['id']}/samples", params=params, headers=me.headers
        )
        assert response.status_code == 422


async def test_zones_follow_the_clients_settings(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    put = await client.put(
        "/progress/settings", json={"max_hr": 200, "resting_hr": 50}, headers=me.headers
    )
    assert put.status_code == 200
    assert put.json()["zones"][0] == {"zone": 1, "min_hr": 125, "max_hr": 139}
    created = (await upload_file(client, me, "tcx/running_activity_1.tcx")).json()
    zones = created["hr_zones_s"]
    assert zones[3] + zones[4] > zones[0]  # a hard run: mostly zones 4-5 of 125..200
    assert sum(zones) == pytest.approx(3270, rel=0.05)


# ---------------------------------------------------------------- who sees what


async def test_other_clients_and_other_gyms_get_404(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym, other_gym = await make_gym(container), await make_gym(container, "Other")
    me = await signed_in(client, container, gym_id=gym)
    created = (await upload_file(client, me, "fit/2020-06-01-16-52-40.fit")).json()
    neighbour = await signed_in(client, container, gym_id=gym)
    stranger = await signed_in(client, container, role=Role.trainer, gym_id=other_gym)
    for who in (neighbour, stranger):
        for path in (
            f"/progress/activities/{created['id']}",
            f"/progress/activities/{created['id']}/samples",
        ):
            assert (await client.get(path, headers=who.headers)).status_code == 404
    listed = await client.get(
        "/progress/activities", params={"client_id": str(me.id)}, headers=stranger.headers
    )
    assert listed.status_code == 404


async def test_trainer_reads_and_owner_gets_aggregates_only(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    created = (await upload_file(client, me, "fit/2020-06-01-16-52-40.fit")).json()
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    await coach(client, trainer, me)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    samples = f"/progress/activities/{created['id']}/samples"
    assert (await client.get(samples, headers=trainer.headers)).status_code == 200
    listed = await client.get(
        "/progress/activities", params={"client_id": str(me.id)}, headers=trainer.headers
    )
    assert [a["id"] for a in listed.json()["items"]] == [created["id"]]
    assert (await client.get(samples, headers=owner.headers)).status_code == 403
    load = await client.get(
        f"/analytics/clients/{me.id}/training-load", params={"days": 7}, headers=owner.headers
    )
    assert load.status_code == 200


async def test_only_clients_upload(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    response = await upload_file(client, trainer, "fit/2020-06-01-16-52-40.fit")
    assert response.status_code == 403


async def test_unauthenticated_upload_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/progress/activities", files={"file": ("a.fit", b"x", "application/octet-stream")}
    )
    assert response.status_code == 401


async def test_activities_page_by_cursor(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    for relative in ("fit/2020-06-01-16-52-40.fit", "gpx/riderx3.gpx", "tcx/sup_activity_1.tcx"):
        assert (await upload_file(client, me, relative)).status_code == 201
    first = (await client.get("/progress/activities?limit=2", headers=me.headers)).json()
    assert len(first["items"]) == 2
    second = (
        await client.get(
            f"/progress/activities?limit=2&cursor={first['next_cursor']}", headers=me.headers
        )
    ).json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    starts = [a["started_at"] for a in first["items"] + second["items"]]
    assert starts == sorted(starts, reverse=True)
    assert uuid.UUID(second["items"][0]["id"])
