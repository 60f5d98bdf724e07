"""The shared kernel: building blocks every app imports (API bases, roles, settings parsing,
logging, limits, outbound calls). It imports no app and nothing of the wiring above it."""
