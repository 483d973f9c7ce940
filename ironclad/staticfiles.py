"""Static files (the admin's and Swagger UI's), content-hashed and gzipped, served by WhiteNoise."""

import logging

from django.contrib.staticfiles import finders
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's manifest storage, except that a file of an app the manifest does not list
    (collectstatic never ran, or ran before the file existed) is linked by its plain name instead of
    failing the page with a 500. The settings serve the plain names from the apps when nothing is
    collected; a manifest that lacks a file (collected before an upgrade) is reported in the log.

    A name that is no app's file is refused with Django's ValueError, as WhiteNoise expects: to
    tell which collected files are immutable, it asks for the name of each without its last inner
    extension (`jquery.js` for `jquery.init.js`, `bootstrap.css` for `bootstrap.min.css`), and a
    ValueError means "not a hashed copy"."""

    _reported: set[str] = set()

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:  # "Missing staticfiles manifest entry", or not found in STATIC_ROOT
            if not finders.find(name):
                raise
            if self.hashed_files and name not in self._reported:
                self._reported.add(name)
                logger.warning(
                    "Static file %r is not in the collected files: run `python manage.py collectstatic "
                    "--noinput` (after an upgrade) and restart.",
                    name,
                )
            return name
