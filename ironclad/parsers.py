"""The API's one parser: JSON, bounded and checked.

Imported by REST framework's settings, so nothing here may import rest_framework.views.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers

from ironclad.untrusted import UntrustedInputError, parse_json


class JSONParser(parsers.JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes, checked by ironclad.untrusted (depth,
    NUL characters, 64-bit integers) and refused with a 400 that names the problem in plain words.
    DRF reads the body as a stream, which skips the size check Django makes in `request.body`;
    the same error is raised here (answered 413)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        meta = parser_context["request"].META
        # Read as DRF does: it calls a parser only for a valid, non-zero length, which also bounds
        # what the stream yields.
        length = int(meta.get("CONTENT_LENGTH", meta.get("HTTP_CONTENT_LENGTH", 0)))
        if limit is not None and length > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        try:
            return parse_json(stream.read(), parsers.get_encoding(parser_context))
        except UntrustedInputError as error:
            raise exceptions.ParseError(str(error)) from None
