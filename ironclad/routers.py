from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash, without redirects."""

    def __init__(self) -> None:
        super().__init__()
        # SimpleRouter(trailing_slash=...) only takes a boolean; the regex goes in afterwards.
        self.trailing_slash = "/?"
