"""Gyms publish no events yet; they react to ``user.registered`` (see handlers.py)."""
