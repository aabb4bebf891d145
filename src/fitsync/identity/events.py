"""Events identity publishes (names from ARCHITECTURE.md)."""

USER_REGISTERED = "user.registered"
