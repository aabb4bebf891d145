"""What other contexts (and the composition root) may use of progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.progress.exercises import ExerciseCatalog, TrainingCatalog
from fitsync.progress.timeseries import SampleStore, make_store
from fitsync.progress.wearables import MAX_SAMPLES

__all__ = ["ProgressRuntime", "build_runtime"]


@dataclass
class ProgressRuntime:
    """Progress's ports: the time-series store and the exercise library."""

    store: SampleStore
    catalog: ExerciseCatalog = field(default_factory=TrainingCatalog)
    max_upload_bytes: int = 25 * 1024 * 1024
    max_samples: int = MAX_SAMPLES

    async def close(self) -> None:
        await self.store.close()


def build_runtime(
    engine: AsyncEngine, *, influx_url: str | None, max_upload_bytes: int
) -> ProgressRuntime:
    return ProgressRuntime(store=make_store(engine, influx_url), max_upload_bytes=max_upload_bytes)
