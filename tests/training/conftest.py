"""Training tests rely on the root ``clean_state``, which keeps the exercise library."""
