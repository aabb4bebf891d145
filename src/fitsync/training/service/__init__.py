"""Training's use cases, one module per aggregate: exercises, people (trainer-client),
workouts, programs (and assignments, the client's plan), diets, favourites."""
