"""Static files (the admin's and Swagger UI's), content-hashed and gzipped, served by WhiteNoise."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's manifest storage, except that a file the manifest does not list (collectstatic
    never ran, or ran before the file existed) is linked by its plain name instead of failing the
    page with a 500. The settings serve the plain names from the apps when nothing is collected."""

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:  # "Missing staticfiles manifest entry", or not found in STATIC_ROOT
            return name
