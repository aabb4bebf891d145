"""Training: exercise library and search, workouts, programs, diet plans, assignments."""
