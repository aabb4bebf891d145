"""Progress's HTTP layer: ``/progress/...`` and ``/analytics/...``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse

from fitsync.kernel.auth import CurrentPrincipal
from fitsync.kernel.errors import Invalid, TooLarge
from fitsync.kernel.http import DbSession
from fitsync.kernel.pagination import Page, Paging
from fitsync.progress import activities, analytics, domain, service
from fitsync.progress.access import Level
from fitsync.progress.public import ProgressRuntime
from fitsync.progress.schemas import (
    AchievementsOut,
    ActivityOut,
    AdherenceWeekOut,
    AssessmentIn,
    AssessmentOut,
    BodyMetricIn,
    BodyMetricOut,
    GymWeekOut,
    ImportReportOut,
    LoadPointOut,
    ProfileIn,
    ProfileOut,
    RecordHistoryOut,
    RecordsOut,
    SamplesOut,
    TrendOut,
    WeekVolumeOut,
    WorkoutLogIn,
    WorkoutLogOut,
)

router = APIRouter(tags=["progress"])

CSV_MAX_BYTES = 5 * 1024 * 1024


def _runtime(request: Request) -> ProgressRuntime:
    rt = request.app.state.container.progress
    assert isinstance(rt, ProgressRuntime)
    return rt


Runtime = Annotated[ProgressRuntime, Depends(_runtime)]
ClientId = Annotated[
    uuid.UUID | None, Query(description="Whose progress (staff); clients: themselves")
]


# ---------------------------------------------------------------- settings


@router.get("/progress/settings", response_model=ProfileOut)
async def get_settings(
    principal: CurrentPrincipal, session: DbSession, client_id: ClientId = None
) -> ProfileOut:
    """Display units and heart-rate zone settings (max/resting HR), with the zones."""
    return await service.read_profile(session, principal=principal, client_id=client_id)


@router.put("/progress/settings", response_model=ProfileOut)
async def put_settings(
    body: ProfileIn, principal: CurrentPrincipal, session: DbSession, client_id: ClientId = None
) -> ProfileOut:
    return await service.update_profile(
        session, principal=principal, client_id=client_id, body=body
    )


# ---------------------------------------------------------------- body metrics


@router.post(
    "/progress/body-metrics", status_code=status.HTTP_201_CREATED, response_model=BodyMetricOut
)
async def add_body_metric(
    body: BodyMetricIn, principal: CurrentPrincipal, session: DbSession
) -> BodyMetricOut:
    """Weight (kg or lb), body fat, measurements (``*_cm`` or ``*_in``); stored in SI."""
    return await service.add_body_metric(session, principal=principal, body=body)


@router.get("/progress/body-metrics", response_model=Page[BodyMetricOut])
async def list_body_metrics(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    client_id: ClientId = None,
    units: Literal["metric", "imperial"] | None = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> Page[BodyMetricOut]:
    """Newest first; ``display`` shows them in the client's units (or ``?units=``)."""
    return await service.list_body_metrics(
        session,
        principal=principal,
        client_id=client_id,
        units=units,
        since=since,
        until=until,
        page=paging,
    )


Metric = Annotated[str, Query(max_length=60, description="weight_kg, body_fat_pct or *_cm")]
Days = Annotated[int, Query(ge=7, le=3650)]


@router.get("/progress/body-metrics/trends", response_model=TrendOut)
async def body_metric_trend(
    principal: CurrentPrincipal,
    session: DbSession,
    client_id: ClientId = None,
    metric: Metric = "weight_kg",
    days: Days = 180,
) -> TrendOut:
    """Daily values with a 7-day moving average; change over 30 and 90 days."""
    return await service.body_metric_trend(
        session, principal=principal, client_id=client_id, metric=metric, days=days
    )


# ---------------------------------------------------------------- workout logs


@router.post(
    "/progress/workout-logs", status_code=status.HTTP_201_CREATED, response_model=WorkoutLogOut
)
async def log_workout(
    body: WorkoutLogIn, principal: CurrentPrincipal, session: DbSession, rt: Runtime
) -> WorkoutLogOut:
    """Log a workout; personal records it sets are in ``records`` (and earn achievements)."""
    result = await service.log_workout(session, rt.catalog, principal=principal, body=body)
    assert result.log is not None
    return result.log


@router.get("/progress/workout-logs", response_model=Page[WorkoutLogOut])
async def list_workout_logs(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    client_id: ClientId = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> Page[WorkoutLogOut]:
    return await service.list_workout_logs(
        session, principal=principal, client_id=client_id, since=since, until=until, page=paging
    )


@router.post("/progress/workout-logs/import", response_model=ImportReportOut)
async def import_workout_history(
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
    file: Annotated[UploadFile, File(description="A Strong or Hevy CSV export")],
    client_id: Annotated[uuid.UUID | None, Form()] = None,
    weight_unit: Annotated[Literal["kg", "lb"], Form()] = "kg",
    distance_unit: Annotated[Literal["km", "mi"], Form()] = "km",
) -> ImportReportOut:
    """Import a Strong/Hevy history; reports the exercise names not found in the library.
    Uploading the same export again imports nothing twice. ``weight_unit`` and
    ``distance_unit`` apply to Strong's older layout, which does not name its units."""
    if (file.size or 0) > CSV_MAX_BYTES:
        raise TooLarge(f"The CSV is larger than {CSV_MAX_BYTES} bytes")
    data = await file.read()
    return await service.import_workout_csv(
        session,
        rt.catalog,
        principal=principal,
        client_id=client_id,
        data=data,
        weight_unit=weight_unit,
        distance_unit=distance_unit,
    )


@router.get("/progress/records", response_model=RecordsOut)
async def list_records(
    principal: CurrentPrincipal, session: DbSession, client_id: ClientId = None
) -> RecordsOut:
    """Best lifts per exercise and rep count; estimated 1RM by Epley (Brzycki alongside)."""
    return await service.list_records(session, principal=principal, client_id=client_id)


@router.get("/progress/achievements", response_model=AchievementsOut)
async def list_achievements(
    principal: CurrentPrincipal, session: DbSession, client_id: ClientId = None
) -> AchievementsOut:
    return await service.list_achievements(session, principal=principal, client_id=client_id)


# ---------------------------------------------------------------- activities


@router.post(
    "/progress/activities",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivityOut,
    responses={
        400: {"description": "Not a readable .fit/.gpx/.tcx file (the reason is given)"},
        409: {"description": "Imported before: ``existing_id`` names the activity"},
        413: {"description": "Larger than the upload limit (25 MB by default)"},
    },
)
async def import_activity(
    request: Request,
    principal: CurrentPrincipal,
    rt: Runtime,
    file: Annotated[UploadFile, File(description="A .fit, .gpx or .tcx file")],
) -> ActivityOut:
    """Import a watch file: summary in PostgreSQL, samples in the time-series store."""
    container = request.app.state.container
    out = await activities.import_upload(
        container.sessionmaker,
        rt.store,
        principal=principal,
        stream=file.file,
        name=file.filename,
        size=file.size or 0,
        max_bytes=rt.max_upload_bytes,
        max_samples=rt.max_samples,
    )
    container.bus.wake()
    return out


@router.get("/progress/activities", response_model=Page[ActivityOut])
async def list_activities(
    principal: CurrentPrincipal, session: DbSession, paging: Paging, client_id: ClientId = None
) -> Page[ActivityOut]:
    return await activities.list_activities(
        session, principal=principal, client_id=client_id, page=paging
    )


@router.get("/progress/activities/{activity_id}", response_model=ActivityOut)
async def get_activity(
    activity_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ActivityOut:
    return activities.activity_out(
        await activities.access_activity(
            session, principal=principal, activity_id=activity_id, level=Level.read
        )
    )


@router.get("/progress/activities/{activity_id}/samples", response_model=SamplesOut)
async def get_samples(
    activity_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
    fields: Annotated[
        str | None, Query(max_length=200, description="e.g. hr,power (default: all)")
    ] = None,
    every: Annotated[
        str | None, Query(max_length=10, description="Bucket size, e.g. 10s or 1m (means)")
    ] = None,
) -> JSONResponse:
    """The activity's samples, down-sampled to buckets of ``every`` (means per bucket)."""
    try:
        every_s = domain.parse_every(every)
    except ValueError as exc:
        raise Invalid(str(exc), loc=["query", "every"]) from None
    try:
        wanted = domain.parse_fields(fields)
    except ValueError as exc:
        raise Invalid(str(exc), loc=["query", "fields"]) from None
    items = await activities.activity_samples(
        session,
        rt.store,
        principal=principal,
        activity_id=activity_id,
        every_s=every_s,
        fields=wanted,
    )
    return JSONResponse(
        {
            "activity_id": str(activity_id),
            "every_s": every_s,
            "fields": list(wanted),
            "items": items,
        }
    )


# ---------------------------------------------------------------- assessments


@router.post(
    "/progress/assessments", status_code=status.HTTP_201_CREATED, response_model=AssessmentOut
)
async def add_assessment(
    body: AssessmentIn, principal: CurrentPrincipal, session: DbSession
) -> AssessmentOut:
    """BMI from weight and height; VO2max from Cooper's 12-minute run (formulas in results)."""
    return await service.add_assessment(session, principal=principal, body=body)


@router.get("/progress/assessments", response_model=list[AssessmentOut])
async def list_assessments(
    principal: CurrentPrincipal, session: DbSession, client_id: ClientId = None
) -> list[AssessmentOut]:
    return await service.list_assessments(session, principal=principal, client_id=client_id)


# ---------------------------------------------------------------- analytics

Weeks = Annotated[int, Query(ge=1, le=104)]


@router.get(
    "/analytics/clients/{client_id}/weekly-volume",
    response_model=list[WeekVolumeOut],
    tags=["analytics"],
)
async def weekly_volume(
    client_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
    weeks: Weeks = 12,
) -> list[WeekVolumeOut]:
    return await analytics.weekly_volume(
        session, rt.catalog, principal=principal, client_id=client_id, weeks=weeks
    )


@router.get(
    "/analytics/clients/{client_id}/adherence",
    response_model=list[AdherenceWeekOut],
    tags=["analytics"],
)
async def adherence(
    client_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, weeks: Weeks = 12
) -> list[AdherenceWeekOut]:
    return await analytics.adherence(session, principal=principal, client_id=client_id, weeks=weeks)


@router.get(
    "/analytics/clients/{client_id}/records",
    response_model=list[RecordHistoryOut],
    tags=["analytics"],
)
async def record_history(
    client_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> list[RecordHistoryOut]:
    """Every personal-record improvement, oldest first."""
    return await analytics.record_history(session, principal=principal, client_id=client_id)


@router.get(
    "/analytics/clients/{client_id}/training-load",
    response_model=list[LoadPointOut],
    tags=["analytics"],
)
async def training_load(
    client_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    days: Annotated[int, Query(ge=7, le=365)] = 42,
) -> list[LoadPointOut]:
    """Daily TRIMP, acute (7-day) and chronic (28-day) means and their ratio (ACWR)."""
    return await analytics.training_load(
        session, principal=principal, client_id=client_id, days=days
    )


@router.get(
    "/analytics/clients/{client_id}/body-metrics", response_model=TrendOut, tags=["analytics"]
)
async def body_metrics_trend(
    client_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    metric: Metric = "weight_kg",
    days: Days = 180,
) -> TrendOut:
    return await service.body_metric_trend(
        session,
        principal=principal,
        client_id=client_id,
        metric=metric,
        days=days,
        level=Level.aggregate,
    )


@router.get("/analytics/gym/progress", response_model=list[GymWeekOut], tags=["analytics"])
async def gym_progress(
    principal: CurrentPrincipal,
    session: DbSession,
    gym_id: uuid.UUID | None = None,
    weeks: Weeks = 12,
) -> list[GymWeekOut]:
    """Gym-wide weekly aggregates (no client's individual data)."""
    return await analytics.gym_weeks(session, principal=principal, gym_id=gym_id, weeks=weeks)
