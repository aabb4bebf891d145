"""Every page of the web app, in one router (the API stays under ``/api``)."""

from __future__ import annotations

from fastapi import APIRouter

from fitsync.web import coach, member, owner, pages, talk

router = APIRouter(include_in_schema=False)
for module in (pages, member, coach, owner, talk):
    router.include_router(module.router)
