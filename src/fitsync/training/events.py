"""The events training publishes (names from ARCHITECTURE.md).

``program.assigned``: ``data = {assignment_id, program_id, program_name, client_id,
assigned_by, start_date, end_date, sessions}`` (dates ISO 8601; ``sessions`` is the
number of planned workouts).
"""

PROGRAM_ASSIGNED = "program.assigned"
