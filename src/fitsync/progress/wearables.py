"""Reading watch files: Garmin FIT (fitdecode), GPX (gpxpy) and TCX (a hardened XML parse).

Every reader takes a binary file object and returns a :class:`ParsedActivity`: the summary
figures and the per-second samples in compact columns. Anything wrong with the file raises
:class:`BadFile` with a reason a person can act on. XML is first read with ``defusedxml``,
which refuses document type declarations, entities and external references (XXE, billion
laughs) before any other parser sees the bytes.

Summary definitions (what the tests check against the files' published figures):
- FIT: elapsed / moving time, distance, ascent, calories from the ``session`` message(s)
  (summed over sessions); heart rate, power and cadence means and maxima over the ``record``
  messages that carry them (falling back to the session's when no record has heart rate).
- GPX: gpxpy's 2-D length, moving time and uphill; elapsed time from the first to the last
  timed point; extension ``hr``/``cad``/``power`` statistics over the track points.
- TCX: moving time, distance and calories are the sums over laps; elapsed time from the
  first to the last trackpoint; heart rate, cadence and watts over the trackpoints.
"""

from __future__ import annotations

import hashlib
import io
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Literal
from xml.etree.ElementTree import Element, ParseError

import fitdecode
import gpxpy
import gpxpy.gpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from fitsync.progress import domain

Format = Literal["fit", "gpx", "tcx"]
FORMATS: tuple[Format, ...] = ("fit", "gpx", "tcx")
MAX_SAMPLES = 250_000  # about 69 hours at one sample a second

_NO_INT = -32768
_NO_POS = -(2**31)
_NAN = float("nan")
SEMICIRCLE_DEG = 180 / 2**31


class BadFile(ValueError):
    """The file cannot be imported; the message says why."""


@dataclass
class Samples:
    """Per-second samples as compact columns; missing values are sentinels (NaN, -32768)."""

    t: array[float] = field(default_factory=lambda: array("d"))  # POSIX seconds
    hr: array[int] = field(default_factory=lambda: array("h"))
    power: array[int] = field(default_factory=lambda: array("h"))
    cadence: array[int] = field(default_factory=lambda: array("h"))
    speed: array[float] = field(default_factory=lambda: array("f"))  # m/s
    lat: array[int] = field(default_factory=lambda: array("i"))  # 1e-7 degrees
    lon: array[int] = field(default_factory=lambda: array("i"))
    alt: array[float] = field(default_factory=lambda: array("f"))  # m
    distance: array[float] = field(default_factory=lambda: array("f"))  # m from the start
    cap: int = MAX_SAMPLES

    def __len__(self) -> int:
        return len(self.t)

    def add(
        self,
        t: float,
        *,
        hr: float | None = None,
        power: float | None = None,
        cadence: float | None = None,
        speed: float | None = None,
        lat: float | None = None,
        lon: float | None = None,
        alt: float | None = None,
        distance: float | None = None,
    ) -> None:
        """Append a sample; one at the same instant as the previous one replaces it."""
        if self.t and self.t[-1] == t:
            self._pop()
        elif len(self.t) >= self.cap:
            raise BadFile(f"the file has more than {self.cap} samples")
        self.t.append(t)
        self.hr.append(_small(hr, 0, 255))
        self.power.append(_small(power, 0, 5000))
        self.cadence.append(_small(cadence, 0, 255))
        self.speed.append(_float(speed))
        self.lat.append(_pos(lat, 90))
        self.lon.append(_pos(lon, 180))
        self.alt.append(_float(alt))
        self.distance.append(_float(distance))

    def _pop(self) -> None:
        for column in self._columns():
            column.pop()

    def _columns(self) -> list[array[Any]]:
        return [
            self.t,
            self.hr,
            self.power,
            self.cadence,
            self.speed,
            self.lat,
            self.lon,
            self.alt,
            self.distance,
        ]

    def finish(self) -> None:
        """Put samples written out of order into time order (last one per instant wins)."""
        if all(self.t[i] < self.t[i + 1] for i in range(len(self.t) - 1)):
            return
        order: dict[float, int] = {}
        for i, t in enumerate(self.t):
            order[t] = i
        keep = [order[t] for t in sorted(order)]
        for column in self._columns():
            picked = [column[i] for i in keep]
            del column[:]
            column.extend(picked)

    def values(self, name: str) -> list[Any]:
        """A column with None for missing values (lat/lon in degrees)."""
        column = getattr(self, name)
        if name in ("lat", "lon"):
            return [None if v == _NO_POS else v / 1e7 for v in column]
        if column.typecode == "h":
            return [None if v == _NO_INT else v for v in column]
        return [None if math.isnan(v) else v for v in column]

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """(t, hr, power, cadence, speed, lat, lon, alt, distance) with None for missing."""
        for t, hr, pw, cad, spd, lat, lon, alt, dist in zip(*self._columns(), strict=True):
            yield (
                t,
                None if hr == _NO_INT else hr,
                None if pw == _NO_INT else pw,
                None if cad == _NO_INT else cad,
                None if spd != spd else spd,
                None if lat == _NO_POS else lat,
                None if lon == _NO_POS else lon,
                None if alt != alt else alt,
                None if dist != dist else dist,
            )


def _small(value: float | None, lo: int, hi: int) -> int:
    if value is None or not isinstance(value, int | float) or value != value:
        return _NO_INT
    return round(value) if lo <= value <= hi else _NO_INT


def _float(value: float | None) -> float:
    if value is None or not isinstance(value, int | float) or math.isinf(value):
        return _NAN
    return float(value)


def _pos(degrees: float | None, limit: float) -> int:
    if degrees is None or not isinstance(degrees, int | float) or not -limit <= degrees <= limit:
        return _NO_POS
    return round(degrees * 1e7)


@dataclass
class ParsedActivity:
    source_format: Format
    sport: str
    started_at: datetime
    elapsed_s: float | None = None
    moving_s: float | None = None
    distance_m: float | None = None
    ascent_m: float | None = None
    hr_avg: float | None = None
    hr_max: int | None = None
    power_avg: float | None = None
    power_max: int | None = None
    power_np: float | None = None
    cadence_avg: float | None = None
    calories: int | None = None
    laps: int | None = None
    sub_sport: str | None = None
    device: str | None = None
    samples: Samples = field(default_factory=Samples)


@dataclass
class _Stat:
    n: int = 0
    total: float = 0.0
    top: float | None = None

    def add(self, value: Any) -> None:
        if isinstance(value, int | float) and value == value:
            self.n += 1
            self.total += value
            self.top = value if self.top is None or value > self.top else self.top

    @property
    def mean(self) -> float | None:
        return round(self.total / self.n, 2) if self.n else None

    @property
    def max(self) -> int | None:
        return int(self.top) if self.top is not None else None


# ---------------------------------------------------------------- detection


def detect_format(filename: str | None, head: bytes) -> Format:
    """The format from the file's first bytes, checked against its name's extension."""
    name = (filename or "").lower()
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if len(head) >= 12 and head[8:12] == b".FIT":
        sniffed: Format | None = "fit"
    else:
        text = head[:4096].decode("utf-8", "replace").lower()
        sniffed = "gpx" if "<gpx" in text else "tcx" if "<trainingcenterdatabase" in text else None
    if sniffed is None:
        if ext in FORMATS and not head.strip():
            raise BadFile("the file is empty")
        if ext in FORMATS:
            raise BadFile(f"the file does not look like a {ext.upper()} file")
        raise BadFile("unsupported file type: send a .fit, .gpx or .tcx file")
    if ext in FORMATS and ext != sniffed:
        raise BadFile(f"the file is named .{ext} but holds {sniffed.upper()} data")
    return sniffed


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def parse(stream: IO[bytes], fmt: Format, *, max_samples: int = MAX_SAMPLES) -> ParsedActivity:
    """Read a whole file (blocking: run it in a worker thread)."""
    stream.seek(0)
    if fmt == "fit":
        parsed = _parse_fit(stream, max_samples)
    else:
        _check_xml(stream)
        stream.seek(0)
        parsed = (
            _parse_gpx(stream, max_samples) if fmt == "gpx" else _parse_tcx(stream, max_samples)
        )
    parsed.samples.finish()
    if not len(parsed.samples):
        raise BadFile("the file holds no timed samples")
    s = parsed.samples
    parsed.power_np = domain.normalized_power(s.t, s.values("power"))
    return parsed


# ---------------------------------------------------------------- FIT

_FIT_SPORTS = {"generic": "other", "fitness_equipment": "fitness_equipment"}


FIT_EPOCH_S = 631065600  # 1989-12-31T00:00:00Z
FIT_RELATIVE_LIMIT = 0x10000000  # smaller date_time values count from the device's power-up


def _fit_seconds(value: Any) -> float:
    """A raw FIT ``date_time`` as POSIX seconds."""
    if isinstance(value, int) and value >= FIT_RELATIVE_LIMIT:
        return float(value + FIT_EPOCH_S)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    raise BadFile(
        "the FIT file has device-relative timestamps only (no clock time), "
        "so the activity cannot be placed in time"
    )


def _fit_time(value: Any) -> datetime:
    return datetime.fromtimestamp(_fit_seconds(value), UTC)


def _parse_fit(stream: IO[bytes], max_samples: int) -> ParsedActivity:
    samples = Samples(cap=max_samples)
    hr, power, cadence = _Stat(), _Stat(), _Stat()
    sessions: list[dict[str, Any]] = []
    laps = 0
    device: str | None = None
    try:
        reader = fitdecode.FitReader(
            stream,
            check_crc=fitdecode.CrcCheck.ENABLED,
            error_handling=fitdecode.ErrorHandling.RAISE,
            keep_raw_chunks=False,
            # Raw values (date_time as an integer): a third faster than the default.
            processor=fitdecode.DataProcessorBase(),
        )
        with reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                name = frame.name
                if name == "record":
                    values = {f.name: f.value for f in frame.fields}
                    ts = values.get("timestamp")
                    if ts is None:
                        continue
                    t = _fit_seconds(ts)
                    lat, lon = values.get("position_lat"), values.get("position_long")
                    speed = values.get("enhanced_speed")
                    alt = values.get("enhanced_altitude")
                    samples.add(
                        t,
                        hr=values.get("heart_rate"),
                        power=values.get("power"),
                        cadence=values.get("cadence"),
                        speed=speed if speed is not None else values.get("speed"),
                        lat=lat * SEMICIRCLE_DEG if isinstance(lat, int) else None,
                        lon=lon * SEMICIRCLE_DEG if isinstance(lon, int) else None,
                        alt=alt if alt is not None else values.get("altitude"),
                        distance=values.get("distance"),
                    )
                    hr.add(values.get("heart_rate"))
                    power.add(values.get("power"))
                    cadence.add(values.get("cadence"))
                elif name == "session":
                    sessions.append({f.name: f.value for f in frame.fields})
                elif name == "lap":
                    laps += 1
                elif name == "file_id" and device is None:
                    maker = frame.get_value("manufacturer", fallback=None)
                    product = frame.get_value("garmin_product", fallback=None) or frame.get_value(
                        "product", fallback=None
                    )
                    device = " ".join(str(p) for p in (maker, product) if p is not None) or None
    except fitdecode.FitError as exc:
        raise BadFile(f"the FIT file is damaged or truncated: {exc}") from None
    if not sessions and not len(samples):
        raise BadFile("the FIT file holds no activity (no session and no records)")
    if not sessions:
        raise BadFile("the FIT file holds no session: it is incomplete or truncated")

    def total(key: str) -> float | None:
        values = [s[key] for s in sessions if isinstance(s.get(key), int | float)]
        return round(sum(values), 3) if values else None

    sports = list(dict.fromkeys(str(s.get("sport") or "generic") for s in sessions))
    sport = sports[0] if len(sports) == 1 else "multisport"
    started = min(_fit_time(s.get("start_time") or s.get("timestamp")) for s in sessions)
    parsed = ParsedActivity(
        source_format="fit",
        sport=_FIT_SPORTS.get(sport, sport),
        sub_sport=str(sessions[0].get("sub_sport")) if sessions[0].get("sub_sport") else None,
        started_at=started,
        elapsed_s=total("total_elapsed_time"),
        moving_s=total("total_timer_time"),
        distance_m=total("total_distance"),
        ascent_m=total("total_ascent"),
        calories=int(total("total_calories") or 0) or None,
        laps=laps,
        device=device,
        samples=samples,
    )
    _set_stats(parsed, hr, power, cadence)
    if parsed.hr_avg is None:  # heart rate kept outside the records (e.g. swims)
        session_hr = _Stat()
        for s in sessions:
            session_hr.add(s.get("avg_heart_rate"))
        parsed.hr_avg = session_hr.mean
        parsed.hr_max = max(
            (int(s["max_heart_rate"]) for s in sessions if s.get("max_heart_rate")), default=None
        )
    return parsed


def _set_stats(parsed: ParsedActivity, hr: _Stat, power: _Stat, cadence: _Stat) -> None:
    parsed.hr_avg, parsed.hr_max = hr.mean, hr.max
    parsed.power_avg, parsed.power_max = power.mean, power.max
    parsed.cadence_avg = cadence.mean


# ---------------------------------------------------------------- XML (GPX, TCX)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _check_xml(stream: IO[bytes]) -> None:
    """Refuse DTDs, entities, external references and malformed XML, reading as a stream."""
    try:
        for _event, elem in iterparse(
            stream, events=("end",), forbid_dtd=True, forbid_entities=True, forbid_external=True
        ):
            elem.clear()
    except DefusedXmlException as exc:
        raise BadFile(
            f"the XML declares a DTD or entities, which are refused ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        raise BadFile(f"the XML is malformed or truncated: {exc}") from None


def _xml_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


_GPX_SPORTS = {
    "1": "cycling",
    "9": "running",
    "10": "walking",
    "biking": "cycling",
    "cycling": "cycling",
    "ride": "cycling",
    "road_biking": "cycling",
    "mountain_biking": "cycling",
    "running": "running",
    "run": "running",
    "trail_running": "running",
    "walking": "walking",
    "hiking": "hiking",
    "swimming": "swimming",
}


def _gpx_extensions(point: gpxpy.gpx.GPXTrackPoint) -> dict[str, float]:
    found: dict[str, float] = {}

    def walk(elements: list[Element]) -> None:
        for element in elements:
            name = _local(element.tag).lower()
            if name in ("hr", "cad", "power", "watts"):
                value = _num(element.text)
                if value is not None:
                    found.setdefault("power" if name == "watts" else name, value)
            walk(list(element))

    walk(point.extensions)
    return found


def _parse_gpx(stream: IO[bytes], max_samples: int) -> ParsedActivity:
    raw = stream.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile("the GPX file is not UTF-8 text") from None
    del raw
    try:
        gpx = gpxpy.parse(text)
    except gpxpy.gpx.GPXException as exc:
        raise BadFile(f"the GPX file cannot be read: {exc}") from None
    del text
    samples = Samples(cap=max_samples)
    hr, power, cadence = _Stat(), _Stat(), _Stat()
    previous: gpxpy.gpx.GPXTrackPoint | None = None
    distance = 0.0
    sport_type: str | None = None
    for track in gpx.tracks:
        sport_type = sport_type or (track.type or None)
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    continue
                t = (
                    point.time if point.time.tzinfo else point.time.replace(tzinfo=UTC)
                ).timestamp()
                speed = None
                if previous is not None and previous.time is not None:
                    step = point.distance_2d(previous) or 0.0
                    distance += step
                    dt = t - previous.time.replace(tzinfo=previous.time.tzinfo or UTC).timestamp()
                    speed = step / dt if dt > 0 else None
                previous = point
                ext = _gpx_extensions(point)
                samples.add(
                    t,
                    hr=ext.get("hr"),
                    power=ext.get("power"),
                    cadence=ext.get("cad"),
                    speed=speed,
                    lat=point.latitude,
                    lon=point.longitude,
                    alt=point.elevation,
                    distance=distance,
                )
                hr.add(ext.get("hr"))
                power.add(ext.get("power"))
                cadence.add(ext.get("cad"))
    if not len(samples):
        raise BadFile("the GPX file has no track points with a time (a route is not an activity)")
    moving = gpx.get_moving_data()
    updown = gpx.get_uphill_downhill()
    parsed = ParsedActivity(
        source_format="gpx",
        sport=_GPX_SPORTS.get((sport_type or "").strip().lower(), "other"),
        started_at=datetime.fromtimestamp(min(samples.t), UTC),
        elapsed_s=round(max(samples.t) - min(samples.t), 3),
        moving_s=round(moving.moving_time, 3) if moving else None,
        distance_m=round(gpx.length_2d(), 2),
        ascent_m=round(updown.uphill, 1) if updown else None,
        samples=samples,
        device=gpx.creator,
    )
    _set_stats(parsed, hr, power, cadence)
    return parsed


_TCX_SPORTS = {"biking": "cycling", "running": "running", "other": "other"}


def _parse_tcx(stream: IO[bytes], max_samples: int) -> ParsedActivity:
    samples = Samples(cap=max_samples)
    hr, power, cadence = _Stat(), _Stat(), _Stat()
    sport: str | None = None
    started: datetime | None = None
    laps = 0
    lap_time = lap_distance = lap_calories = 0.0
    has_calories = False
    point: dict[str, Any] = {}
    path: list[str] = []
    ascent = 0.0
    alt_ref: float | None = None
    activities = 0
    try:
        for event, elem in iterparse(
            stream,
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        ):
            name = _local(elem.tag)
            if event == "start":
                path.append(name)
                if name == "Activity":
                    activities += 1
                    sport = sport or elem.get("Sport")
                elif name == "Lap":
                    laps += 1
                    started = started or _xml_time(elem.get("StartTime"))
                elif name == "Trackpoint":
                    point = {}
                continue
            path.pop()
            parent = path[-1] if path else ""
            text = elem.text
            if "Trackpoint" in path or name == "Trackpoint":
                if name == "Trackpoint":
                    t = point.get("time")
                    if t is not None:
                        alt = point.get("alt")
                        if alt is not None:
                            if alt_ref is not None and alt - alt_ref >= 1.0:
                                ascent += alt - alt_ref
                                alt_ref = alt
                            elif alt_ref is None or alt < alt_ref:
                                alt_ref = alt
                        samples.add(
                            t.timestamp(), **{k: v for k, v in point.items() if k != "time"}
                        )
                        hr.add(point.get("hr"))
                        power.add(point.get("power"))
                        cadence.add(point.get("cadence"))
                    elem.clear()
                elif name == "Time":
                    point["time"] = _xml_time(text)
                elif name == "LatitudeDegrees":
                    point["lat"] = _num(text)
                elif name == "LongitudeDegrees":
                    point["lon"] = _num(text)
                elif name == "AltitudeMeters":
                    point["alt"] = _num(text)
                elif name == "DistanceMeters":
                    point["distance"] = _num(text)
                elif name == "Value" and parent == "HeartRateBpm":
                    point["hr"] = _num(text)
                elif name in ("Cadence", "RunCadence"):
                    point.setdefault("cadence", _num(text))
                elif name == "Watts":
                    point["power"] = _num(text)
                elif name == "Speed":
                    point["speed"] = _num(text)
            elif parent == "Lap":
                if name == "TotalTimeSeconds":
                    lap_time += _num(text) or 0.0
                elif name == "DistanceMeters":
                    lap_distance += _num(text) or 0.0
                elif name == "Calories" and _num(text) is not None:
                    has_calories = True
                    lap_calories += _num(text) or 0.0
            elif name == "Id" and parent == "Activity":
                started = started or _xml_time(text)
            if name in ("Lap", "Track"):
                elem.clear()
    except DefusedXmlException as exc:
        raise BadFile(
            f"the XML declares a DTD or entities, which are refused ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        raise BadFile(f"the TCX file is malformed or truncated: {exc}") from None
    if not activities:
        raise BadFile("the TCX file holds no activity")
    if not len(samples):
        raise BadFile("the TCX file has no trackpoints with a time")
    first, last = min(samples.t), max(samples.t)
    parsed = ParsedActivity(
        source_format="tcx",
        sport=_TCX_SPORTS.get((sport or "other").lower(), (sport or "other").lower()),
        started_at=started or datetime.fromtimestamp(first, UTC),
        elapsed_s=round(last - first, 3),
        moving_s=round(lap_time, 3) if laps else None,
        distance_m=round(lap_distance, 2) if laps else None,
        ascent_m=round(ascent, 1) if alt_ref is not None else None,
        calories=round(lap_calories) if has_calories else None,
        laps=laps,
        samples=samples,
    )
    _set_stats(parsed, hr, power, cadence)
    return parsed


def as_format(name: str) -> Format:
    for fmt in FORMATS:
        if fmt == name:
            return fmt
    raise ValueError(f"unknown format {name!r}")


def open_bytes(data: bytes) -> IO[bytes]:
    return io.BytesIO(data)
