"""drf-spectacular hooks."""


def canonical_paths(endpoints: list[tuple], **kwargs) -> list[tuple]:
    """Routes take an optional trailing slash; the schema documents them without it."""
    return [(path.rstrip("/") or "/", regex, method, view) for path, regex, method, view in endpoints]
