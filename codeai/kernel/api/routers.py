"""A router whose routes answer with and without the trailing slash."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        # SimpleRouter only takes a boolean; the pattern is a regex, so "/?" works.
        self.trailing_slash = "/?"
