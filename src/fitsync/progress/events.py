"""Events progress publishes (names from ARCHITECTURE.md)."""

WORKOUT_LOGGED = "workout.logged"
ACHIEVEMENT_EARNED = "achievement.earned"
ACTIVITY_IMPORTED = "activity.imported"
