"""Watch-file summaries against the published figures of the real files (tests/data/progress).

Tolerances: durations within 1 s, distances within 0.5 % (and 1 m), means of heart rate,
power and cadence within 0.5 (bpm, W, rpm), maxima and counts exact. The expected values
are the figures of the shared data README (fitdecode / gpxpy / tcxreader, see there).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fitsync.progress import wearables
from tests.progress.fitwriter import synthetic_ride

DATA = Path(__file__).parent.parent / "data" / "progress"


def parse(relative: str) -> wearables.ParsedActivity:
    path = DATA / relative
    data = path.read_bytes()
    fmt = wearables.detect_format(path.name, data[:4096])
    return wearables.parse(io.BytesIO(data), fmt)


GROUND_TRUTH: list[tuple[str, dict[str, Any]]] = [
    (
        "fit/4078723797.fit",
        dict(
            sport="cycling",
            started_at="2019-09-20T14:10:03+00:00",
            elapsed_s=8355.6,
            moving_s=8355.6,
            distance_m=57567.24,
            hr_avg=164.71,
            hr_max=190,
            power_avg=219.07,
            cadence_avg=77.41,
            laps=1,
            samples=8357,
        ),
    ),
    (
        "fit/2020-06-01-16-52-40.fit",
        dict(
            sport="cycling",
            started_at="2020-06-01T14:52:40+00:00",
            elapsed_s=113.15,
            moving_s=93.7,
            distance_m=668.19,
            hr_avg=150.03,
            hr_max=156,
            power_avg=149.31,
            cadence_avg=79.99,
            laps=5,
            samples=96,
        ),
    ),
    (
        "fit/Edge810-Vector-2013-08-16-15-35-10.fit",
        dict(
            started_at="2013-08-16T18:05:10+00:00",
            elapsed_s=4700.05,
            distance_m=41339.38,
            hr_avg=153.86,
            hr_max=176,
            power_avg=275.49,
            power_max=619,
            cadence_avg=87.41,
            laps=8,
            samples=4700,
        ),
    ),
    (
        "fit/sample-activity.fit",
        dict(elapsed_s=11741.57, moving_s=10699.36, distance_m=88797.21, hr_avg=165.52, laps=4),
    ),
    (
        # Heart rate only in chained files' hr messages: the session's figures are used.
        "fit/event_timestamp.fit",
        dict(sport="swimming", elapsed_s=4567.485, moving_s=4371.56, hr_avg=142, hr_max=161),
    ),
    (
        "fit/sample_mulitple_header.fit",
        dict(sport="multisport", elapsed_s=9491.348, distance_m=52533.68, hr_avg=173.19),
    ),
    (
        "fit/20744294788_ACTIVITY.fit",
        dict(elapsed_s=4569.776, moving_s=4469.072, hr_avg=114.44, power_avg=217.27),
    ),
    (
        "gpx/activity_5039744860.gpx",
        dict(
            sport="cycling",
            started_at="2020-06-01T14:52:40+00:00",
            elapsed_s=126,
            distance_m=900.3,
            ascent_m=2.9,
            hr_avg=150.03,
            hr_max=156,
            cadence_avg=79.99,
            samples=96,
        ),
    ),
    (
        "gpx/riderx3.gpx",
        dict(elapsed_s=2469, distance_m=5775.3, ascent_m=328.9, hr_avg=141.83, hr_max=171),
    ),
    ("gpx/korita-zbevnica.gpx", dict(distance_m=14913.7, samples=513)),
    (
        "tcx/activity_5039744860.tcx",
        dict(
            sport="cycling",
            elapsed_s=126,
            moving_s=126,
            distance_m=668.19,
            calories=12,
            hr_avg=149.98,
            hr_max=156,
            cadence_avg=80.34,
            power_avg=150.52,
            laps=5,
        ),
    ),
    (
        "tcx/running_activity_1.tcx",
        dict(
            sport="running",
            started_at="2014-12-26T10:00:39+00:00",
            elapsed_s=3270,
            distance_m=14332.28,
            calories=1182,
            hr_avg=176.66,
            hr_max=181,
            laps=15,
        ),
    ),
    (
        "tcx/pool_swim-activity_1.tcx",
        dict(elapsed_s=1531, moving_s=1530.67, distance_m=1500, calories=329, samples=32),
    ),
    (
        "tcx/sup_activity_1.tcx",
        dict(elapsed_s=1112, distance_m=1157.51, calories=92, hr_avg=88.13, hr_max=106, laps=2),
    ),
]


def assert_matches(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, want in expected.items():
        got = actual[key]
        if key == "started_at":
            assert str(got).replace(" ", "T").startswith(want[:19]), (key, got, want)
        elif key in ("elapsed_s", "moving_s"):
            assert got == pytest.approx(want, abs=1.0), (key, got, want)
        elif key == "distance_m":
            assert got == pytest.approx(want, rel=0.005, abs=1.0), (key, got, want)
        elif key in ("hr_avg", "power_avg", "cadence_avg", "ascent_m"):
            assert got == pytest.approx(want, abs=0.5), (key, got, want)
        else:
            assert got == want, (key, got, want)


@pytest.mark.parametrize(("relative", "expected"), GROUND_TRUTH, ids=[g[0] for g in GROUND_TRUTH])
def test_summary_matches_the_published_figures(relative: str, expected: dict[str, Any]) -> None:
    parsed = parse(relative)
    actual = {**parsed.__dict__, "samples": len(parsed.samples)}
    assert_matches(actual, expected)


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("malformed/derived_empty.fit", "empty"),
        ("malformed/derived_not-a-fit.fit", "does not look like a FIT"),
        ("malformed/derived_garmin-fenix-5-run_bad-file-crc.fit", "CRC"),
        ("malformed/derived_garmin-fenix-5-run_header-only.fit", "truncated"),
        ("malformed/derived_garmin-fenix-5-run_truncated-3000B.fit", "truncated"),
        ("malformed/nick.fit", "truncated"),
        ("malformed/coros-pace-2-cycling-misaligned-fields.fit", "damaged"),
        ("malformed/derived_riderx3_truncated.gpx", "malformed or truncated"),
        ("malformed/derived_pool_swim-activity_1_truncated.tcx", "malformed or truncated"),
        ("gpx/route.gpx", "a route is not an activity"),
        ("fit/compressed-speed-distance.fit", "device-relative timestamps"),
    ],
)
def test_broken_files_are_refused_with_a_reason(relative: str, reason: str) -> None:
    with pytest.raises(wearables.BadFile, match=reason):
        parse(relative)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<gpx version="1.1"><trk><name>&lol3;</name></trk></gpx>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE TrainingCenterDatabase [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<TrainingCenterDatabase><Activities><Activity Sport="Running"><Id>&xxe;</Id>
</Activity></Activities></TrainingCenterDatabase>"""


@pytest.mark.parametrize(("data", "fmt"), [(BILLION_LAUGHS, "gpx"), (XXE, "tcx")])
def test_xml_with_a_dtd_is_refused(data: bytes, fmt: wearables.Format) -> None:
    with pytest.raises(wearables.BadFile, match="DTD or entities"):
        wearables.parse(io.BytesIO(data), fmt)


def test_file_named_gpx_holding_fit_data_is_refused() -> None:
    data = (DATA / "fit/garmin-fenix-5-run.fit").read_bytes()
    with pytest.raises(wearables.BadFile, match=r"named \.gpx but holds FIT"):
        wearables.detect_format("ride.gpx", data[:4096])


def test_unknown_extension_is_refused() -> None:
    with pytest.raises(wearables.BadFile, match=r"send a \.fit, \.gpx or \.tcx"):
        wearables.detect_format("notes.txt", b"hello")


def test_sample_cap_is_enforced() -> None:
    data = synthetic_ride(start=datetime(2025, 1, 1, tzinfo=UTC), seconds=300)
    with pytest.raises(wearables.BadFile, match="more than 100 samples"):
        wearables.parse(io.BytesIO(data), "fit", max_samples=100)


def test_synthetic_fit_round_trips() -> None:
    start = datetime(2025, 1, 1, 7, tzinfo=UTC)
    parsed = wearables.parse(
        io.BytesIO(synthetic_ride(start=start, seconds=3600)), "fit", max_samples=10_000
    )
    assert parsed.started_at == start
    assert len(parsed.samples) == 3600
    assert parsed.elapsed_s == 3600
    assert parsed.power_np is not None
    assert parsed.power_np >= (parsed.power_avg or 0)
    assert parsed.samples.values("lat")[0] == pytest.approx(46.05, abs=1e-6)
