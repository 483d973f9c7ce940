"""/api/schema: drf-spectacular's schema view, with the schema generated and rendered once per
process instead of on every request."""

import threading
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

# How many schemas, and renderings of them, are kept at most: the client chooses `?version=`,
# `?lang=` and the parameters of its Accept header (`indent=2`), so each may be new. Past that
# many, the one used longest ago goes: a client asking for new ones never evicts the plain schema
# that every other client keeps asking for.
KEPT = 8

type SchemaKey = tuple[str | None, str | None]  # the version asked for, and the language

_schemas: dict[SchemaKey, dict[str, Any]] = {}
# By the schema's key, the renderer's class and the media type accepted: the body, Content-Type.
_renderings: dict[tuple[object, ...], tuple[bytes, str | None]] = {}
_reordering = threading.Lock()  # a worker's threads share the stores


def kept[K, V](store: dict[K, V], key: K, make: Callable[[], V]) -> V:
    """`store[key]`, made first if it is not there yet; the store keeps the KEPT used last."""
    with _reordering:
        found = store.pop(key, None)
        if found is not None:
            store[key] = found  # now the most recently used: dicts keep insertion order
            return found
    found = make()  # outside the lock: a worker's other threads need not wait for it
    with _reordering:
        while len(store) >= KEPT:
            del store[next(iter(store))]  # the least recently used
        store[key] = found
    return found


@receiver(setting_changed)
def forget_schemas(**kwargs: Any) -> None:
    """Forget every schema and rendering: they are made from the code and the settings, which only
    a test changes within a process (it also calls this when it changes a model or a serializer)."""
    _schemas.clear()
    _renderings.clear()


class SchemaView(SpectacularAPIView):
    """drf-spectacular's view, which generated the schema for each request (30 ms, 200 ms for a
    worker's first) and rendered it (YAML: 20 ms). The schema depends on the code, the settings,
    the version and the language asked for, not on who asks: each worker generates it once per
    version and language, and makes each rendering once, then answers the same bytes."""

    def _get_schema_response(self, request: Request) -> Response:
        # drf-spectacular's own (0.30), with the schema and its renderings kept.
        version = self.api_version or request.version or self._get_version_parameter(request)
        key: SchemaKey = (version, translation.get_language())
        schema = kept(_schemas, key, lambda: self.generate(version))
        disposition = f'inline; filename="{self._get_filename(request, version)}"'
        return KeptRenderingResponse(schema, schema_key=key, headers={"Content-Disposition": disposition})

    def generate(self, version: str | None) -> dict[str, Any]:
        generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
        # Without the request, as `manage.py spectacular` generates it (the schema CI validates):
        # drf-spectacular would copy its headers into the requests it makes up for each view.
        return generator.get_schema(request=None, public=self.serve_public)


class KeptRenderingResponse(Response):
    """A schema's response, whose body is rendered once per renderer and media type."""

    def __init__(self, data: dict[str, Any], *, schema_key: SchemaKey, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.schema_key = schema_key

    @property
    def rendered_content(self) -> Any:  # bytes: DRF's renderers' answer
        key = (*self.schema_key, type(self.accepted_renderer), self.accepted_media_type)
        content, content_type = kept(_renderings, key, self.render_anew)
        if content_type is None:
            del self["Content-Type"]
        else:
            self["Content-Type"] = content_type
        return content

    def render_anew(self) -> tuple[bytes, str | None]:
        content = super().rendered_content  # sets Content-Type
        return content, self.get("Content-Type")
