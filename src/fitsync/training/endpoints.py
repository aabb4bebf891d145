"""Training's HTTP layer: thin, one service call per endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncConnection

from fitsync.kernel import clock
from fitsync.kernel.auth import CurrentPrincipal
from fitsync.kernel.http import DbSession, db_session
from fitsync.kernel.pagination import Page, Paging
from fitsync.training.schemas import (
    AssignIn,
    AssignmentOut,
    Category,
    DietAssignmentOut,
    DietPlanIn,
    DietPlanOut,
    EnergyIn,
    EnergyOut,
    EquipmentOut,
    ExerciseIn,
    ExerciseOut,
    ExercisePatchIn,
    ExerciseSummary,
    FavouriteOut,
    Level,
    MuscleOut,
    PlanOut,
    ProgramIn,
    ProgramOut,
    RatingIn,
    RatingOut,
    TargetType,
    TrainerClientOut,
    WorkoutIn,
    WorkoutOut,
    WorkoutSummary,
    WorkoutUpdateIn,
)
from fitsync.training.service import (
    diets,
    exercises,
    favourites,
    people,
    plan,
    programs,
    workouts,
)

router = APIRouter(tags=["training"])


def _json(document: str) -> Response:
    """A body the service rendered already (hot reads): FastAPI passes a Response through
    without validating it again; ``response_model`` still documents it."""
    return Response(document, media_type="application/json")


@asynccontextmanager
async def _one_statement(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection in autocommit, for a hot read that is one statement stating its own
    tenant (see migration 0100's HOT_READS): one round trip, where a unit of work adds
    BEGIN, the tenant's statement and COMMIT."""
    async with request.app.state.container.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


# The request's unit of work (kernel.http.DbSession), opened only on the path that needs it.
_unit_of_work = asynccontextmanager(db_session)


SearchQuery = Annotated[str | None, Query(max_length=200, description="Typo-tolerant search")]


# --- lookups and exercises ---------------------------------------------------------------


@router.get("/muscles", response_model=list[MuscleOut])
async def list_muscles(_principal: CurrentPrincipal, session: DbSession) -> list[MuscleOut]:
    return await exercises.list_muscles(session)


@router.get("/equipment", response_model=list[EquipmentOut])
async def list_equipment(_principal: CurrentPrincipal, session: DbSession) -> list[EquipmentOut]:
    return await exercises.list_equipment(session)


@router.get("/exercises", response_model=Page[ExerciseSummary])
async def list_exercises(
    request: Request,
    principal: CurrentPrincipal,
    page: Paging,
    q: SearchQuery = None,
    muscle: Annotated[str | None, Query(max_length=50)] = None,
    equipment: Annotated[str | None, Query(max_length=50)] = None,
    level: Level | None = None,
    category: Category | None = None,
) -> Response:
    """Search (``q``, ranked: one statement) or browse (by name); bodies rendered by SQL."""
    filters = exercises.facets(
        muscle=muscle,
        equipment=equipment,
        level=level.value if level else None,
        category=category.value if category else None,
    )
    if q:
        async with _one_statement(request) as conn:
            return _json(
                await exercises.search_exercises(
                    conn, principal=principal, page=page, q=q, filters=filters
                )
            )
    async with _unit_of_work(request, principal) as session:
        return _json(
            await exercises.browse_exercises(
                session, principal=principal, page=page, filters=filters
            )
        )


@router.post("/exercises", status_code=status.HTTP_201_CREATED, response_model=ExerciseOut)
async def create_exercise(
    body: ExerciseIn, principal: CurrentPrincipal, session: DbSession
) -> ExerciseOut:
    return await exercises.create_exercise(session, principal=principal, values=body.model_dump())


@router.get("/exercises/{exercise_id}", response_model=ExerciseOut)
async def get_exercise(
    exercise_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ExerciseOut:
    return await exercises.get_exercise(session, principal=principal, exercise_id=exercise_id)


@router.patch("/exercises/{exercise_id}", response_model=ExerciseOut)
async def update_exercise(
    exercise_id: uuid.UUID, body: ExercisePatchIn, principal: CurrentPrincipal, session: DbSession
) -> ExerciseOut:
    return await exercises.update_exercise(
        session,
        principal=principal,
        exercise_id=exercise_id,
        changes=body.model_dump(exclude_unset=True),
    )


@router.delete("/exercises/{exercise_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_exercise(
    exercise_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await exercises.delete_exercise(session, principal=principal, exercise_id=exercise_id)


# --- trainer-client ----------------------------------------------------------------------


@router.put("/trainers/{trainer_id}/clients/{client_id}", response_model=TrainerClientOut)
async def link_trainer(
    trainer_id: uuid.UUID,
    client_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
) -> TrainerClientOut:
    """Make the trainer one of the client's trainers (201 when new, 200 when it was)."""
    link, created = await people.link(
        session, principal=principal, trainer_id=trainer_id, client_id=client_id
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return link


@router.delete("/trainers/{trainer_id}/clients/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_trainer(
    trainer_id: uuid.UUID, client_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await people.unlink(session, principal=principal, trainer_id=trainer_id, client_id=client_id)


@router.get("/trainers/{trainer_id}/clients", response_model=Page[TrainerClientOut])
async def list_trainer_clients(
    trainer_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Page[TrainerClientOut]:
    items = await people.list_clients(session, principal=principal, trainer_id=trainer_id)
    return Page[TrainerClientOut](items=items)


@router.get("/clients/{client_id}/trainers", response_model=Page[TrainerClientOut])
async def list_client_trainers(
    client_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Page[TrainerClientOut]:
    items = await people.list_trainers(session, principal=principal, client_id=client_id)
    return Page[TrainerClientOut](items=items)


# --- workouts ----------------------------------------------------------------------------


@router.post("/workouts", status_code=status.HTTP_201_CREATED, response_model=WorkoutOut)
async def create_workout(
    body: WorkoutIn, principal: CurrentPrincipal, session: DbSession
) -> WorkoutOut:
    return await workouts.create_workout(session, principal=principal, values=body)


@router.get("/workouts", response_model=Page[WorkoutSummary])
async def list_workouts(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    q: SearchQuery = None,
    is_template: bool | None = None,
    mine: bool = False,
) -> Page[WorkoutSummary]:
    return await workouts.list_workouts(
        session, principal=principal, page=page, q=q, is_template=is_template, mine=mine
    )


@router.get("/workouts/{workout_id}", response_model=WorkoutOut)
async def get_workout(
    workout_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> WorkoutOut:
    return await workouts.get_workout(
        session, principal=principal, workout_id=workout_id, version=version
    )


@router.put("/workouts/{workout_id}", response_model=WorkoutOut)
async def update_workout(
    workout_id: uuid.UUID,
    body: WorkoutUpdateIn,
    principal: CurrentPrincipal,
    session: DbSession,
    update_assignees: Annotated[
        bool, Query(description="Move active assignments to the new version")
    ] = False,
) -> WorkoutOut:
    """Save a new version; assignments keep theirs unless ``update_assignees``."""
    return await workouts.update_workout(
        session,
        principal=principal,
        workout_id=workout_id,
        values=body,
        update_assignees=update_assignees,
    )


@router.delete("/workouts/{workout_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_workout(
    workout_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await workouts.delete_workout(session, principal=principal, workout_id=workout_id)


@router.post(
    "/workouts/{workout_id}/copy", status_code=status.HTTP_201_CREATED, response_model=WorkoutOut
)
async def copy_workout(
    workout_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> WorkoutOut:
    """A private copy for the caller to edit (e.g. of a gym template)."""
    return await workouts.copy_workout(session, principal=principal, workout_id=workout_id)


# --- programs, assignments, the client's plan --------------------------------------------


@router.post("/programs", status_code=status.HTTP_201_CREATED, response_model=ProgramOut)
async def create_program(
    body: ProgramIn, principal: CurrentPrincipal, session: DbSession
) -> ProgramOut:
    return await programs.create_program(session, principal=principal, values=body)


@router.get("/programs", response_model=Page[ProgramOut])
async def list_programs(
    principal: CurrentPrincipal, session: DbSession, page: Paging, q: SearchQuery = None
) -> Page[ProgramOut]:
    return await programs.list_programs(session, principal=principal, page=page, q=q)


@router.get("/programs/assignments", response_model=Page[AssignmentOut])
async def list_assignments(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    client_id: uuid.UUID | None = None,
) -> Page[AssignmentOut]:
    return await programs.list_assignments(
        session, principal=principal, client_id=client_id, page=page
    )


@router.post("/programs/assignments/{assignment_id}/cancel", response_model=AssignmentOut)
async def cancel_assignment(
    assignment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> AssignmentOut:
    return await programs.cancel_assignment(
        session, principal=principal, assignment_id=assignment_id
    )


@router.get("/programs/{program_id}", response_model=ProgramOut)
async def get_program(
    program_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ProgramOut:
    return await programs.get_program(session, principal=principal, program_id=program_id)


@router.post(
    "/programs/{program_id}/assign",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentOut,
)
async def assign_program(
    program_id: uuid.UUID, body: AssignIn, principal: CurrentPrincipal, session: DbSession
) -> AssignmentOut:
    return await programs.assign_program(
        session,
        principal=principal,
        program_id=program_id,
        client_id=body.client_id,
        start_date=body.start_date,
    )


@router.put("/programs/{program_id}/rating", response_model=RatingOut)
async def rate_program(
    program_id: uuid.UUID, body: RatingIn, principal: CurrentPrincipal, session: DbSession
) -> RatingOut:
    return await favourites.rate_program(
        session, principal=principal, program_id=program_id, stars=body.stars, comment=body.comment
    )


@router.get("/me/plan", response_model=PlanOut, response_model_by_alias=True)
async def my_plan(
    request: Request,
    principal: CurrentPrincipal,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    """The caller's planned workouts from ``from`` to ``to`` (default: the next 7 days)."""
    default_from, default_to = plan.default_plan_range(clock.now().date())
    start = from_ or default_from
    end = to or (start + (default_to - default_from))
    async with _one_statement(request) as conn:
        return _json(await plan.my_plan(conn, principal=principal, start=start, end=end))


@router.get("/me/diet-plans", response_model=list[DietAssignmentOut])
async def my_diet_plans(principal: CurrentPrincipal, session: DbSession) -> list[DietAssignmentOut]:
    return await diets.my_diet_plans(session, principal=principal)


# --- diet plans --------------------------------------------------------------------------


@router.post("/diet-plans/energy-estimate", response_model=EnergyOut)
async def estimate_energy(body: EnergyIn, _principal: CurrentPrincipal) -> EnergyOut:
    """BMR (Mifflin-St Jeor; Katch-McArdle with body fat) → TDEE → calories and macros."""
    return diets.estimate(body)


@router.post("/diet-plans", status_code=status.HTTP_201_CREATED, response_model=DietPlanOut)
async def create_diet_plan(
    body: DietPlanIn, principal: CurrentPrincipal, session: DbSession
) -> DietPlanOut:
    return await diets.create_diet_plan(session, principal=principal, values=body)


@router.get("/diet-plans", response_model=Page[DietPlanOut])
async def list_diet_plans(
    principal: CurrentPrincipal, session: DbSession, page: Paging
) -> Page[DietPlanOut]:
    return await diets.list_diet_plans(session, principal=principal, page=page)


@router.get("/diet-plans/{plan_id}", response_model=DietPlanOut)
async def get_diet_plan(
    plan_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> DietPlanOut:
    return await diets.get_diet_plan(session, principal=principal, plan_id=plan_id)


@router.post(
    "/diet-plans/{plan_id}/assign",
    status_code=status.HTTP_201_CREATED,
    response_model=DietAssignmentOut,
)
async def assign_diet_plan(
    plan_id: uuid.UUID, body: AssignIn, principal: CurrentPrincipal, session: DbSession
) -> DietAssignmentOut:
    return await diets.assign_diet_plan(
        session,
        principal=principal,
        plan_id=plan_id,
        client_id=body.client_id,
        start_date=body.start_date,
    )


# --- favourites --------------------------------------------------------------------------


@router.get("/favourites", response_model=Page[FavouriteOut])
async def list_favourites(
    principal: CurrentPrincipal, session: DbSession, type: TargetType | None = None
) -> Page[FavouriteOut]:
    items = await favourites.list_favourites(session, principal=principal, target_type=type)
    return Page[FavouriteOut](items=items)


@router.put("/favourites/{target_type}/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def add_favourite(
    target_type: TargetType, target_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await favourites.add_favourite(
        session, principal=principal, target_type=target_type, target_id=target_id
    )


@router.delete("/favourites/{target_type}/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_favourite(
    target_type: TargetType, target_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await favourites.remove_favourite(
        session, principal=principal, target_type=target_type, target_id=target_id
    )
