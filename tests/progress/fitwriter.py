"""A small FIT encoder for synthetic activities (fitdecode reads FIT but cannot write it).

Writes a valid FIT 2.0 activity: ``file_id``, one ``record`` per second (timestamp, heart
rate, power, cadence, speed, distance, position, altitude), one ``lap``, one ``session``
and the ``activity`` message, with header and file CRCs. Used by the tests and by
``bench/progress.py``.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)

_CRC_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip

ENUM, UINT8, UINT16, SINT32, UINT32 = 0x00, 0x02, 0x84, 0x85, 0x86
_FORMATS = {ENUM: "B", UINT8: "B", UINT16: "H", SINT32: "i", UINT32: "I"}


def crc16(data: bytes, crc: int = 0) -> int:
    for byte in data:
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[byte & 0xF]
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[(byte >> 4) & 0xF]
    return crc


class _Message:
    def __init__(self, local: int, global_num: int, fields: list[tuple[int, int]]):
        self.local = local
        self.fields = fields
        self.definition = struct.pack("<BBBHB", 0x40 | local, 0, 0, global_num, len(fields))
        for num, base in fields:
            self.definition += struct.pack("<BBB", num, struct.calcsize(_FORMATS[base]), base)
        self.pack = struct.Struct("<B" + "".join(_FORMATS[b] for _, b in fields)).pack

    def data(self, *values: int) -> bytes:
        return self.pack(self.local, *values)


def fit_time(when: datetime) -> int:
    return int((when - FIT_EPOCH).total_seconds())


def synthetic_ride(
    *, start: datetime, seconds: int, sport: int = 2, hr_base: int = 130, seed: int = 0
) -> bytes:
    """A ``seconds``-long ride at 1 Hz (sport 2 = cycling) as FIT bytes."""
    file_id = _Message(0, 0, [(0, ENUM), (1, UINT16), (2, UINT16), (4, UINT32)])
    record = _Message(
        1,
        20,
        [
            (253, UINT32),  # timestamp
            (3, UINT8),  # heart_rate
            (7, UINT16),  # power
            (4, UINT8),  # cadence
            (6, UINT16),  # speed, mm/s
            (5, UINT32),  # distance, cm
            (0, SINT32),  # position_lat, semicircles
            (1, SINT32),  # position_long
            (2, UINT16),  # altitude, (m + 500) * 5
        ],
    )
    lap = _Message(2, 19, [(253, UINT32), (2, UINT32), (7, UINT32), (8, UINT32), (9, UINT32)])
    session = _Message(
        3,
        18,
        [
            (253, UINT32),
            (2, UINT32),  # start_time
            (7, UINT32),  # total_elapsed_time, ms
            (8, UINT32),  # total_timer_time, ms
            (9, UINT32),  # total_distance, cm
            (5, ENUM),  # sport
            (6, ENUM),  # sub_sport
            (11, UINT16),  # total_calories
        ],
    )
    activity = _Message(4, 34, [(253, UINT32), (1, UINT16), (2, ENUM)])
    t0 = fit_time(start)
    body = bytearray()
    body += file_id.definition + file_id.data(4, 255, 1, t0)
    body += record.definition
    distance_cm = 0
    lat0, lon0 = 46.05, 14.5
    for i in range(seconds):
        phase = (i + seed) / 300
        hr = hr_base + int(25 * math.sin(phase)) + (i % 7)
        power = 180 + int(60 * math.sin(phase * 1.7)) + (i * 13 % 40)
        speed_mms = 8000 + int(1500 * math.sin(phase))
        distance_cm += speed_mms // 10
        lat = lat0 + 0.00005 * i
        lon = lon0 + 0.00003 * math.sin(i / 100)
        alt = 300 + 50 * math.sin(i / 900)
        body += record.data(
            t0 + i,
            hr,
            power,
            85 + (i % 10),
            speed_mms,
            distance_cm,
            round(lat * 2**31 / 180),
            round(lon * 2**31 / 180),
            round((alt + 500) * 5),
        )
    end = t0 + seconds - 1
    body += lap.definition + lap.data(end, t0, seconds * 1000, seconds * 1000, distance_cm)
    body += session.definition + session.data(
        end, t0, seconds * 1000, seconds * 1000, distance_cm, sport, 0, seconds // 4
    )
    body += activity.definition + activity.data(end, 1, 0)
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(body), b".FIT")
    header += struct.pack("<H", crc16(header))
    data = header + bytes(body)
    return data + struct.pack("<H", crc16(data))
