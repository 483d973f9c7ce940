from django.apps import AppConfig

# The admin lists two kinds of user: Django's own, who sign in to the admin, and better-auth's,
# who use the app ("app users": accounts.models.User's Meta). Both models are called "user"; this
# names Django's apart on every admin page.
OPERATOR_NAMES = ("operator", "operators")


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "better-auth accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from accounts import schema  # noqa: F401  (registers the OpenAPI auth extension)

        # Set here: Django's own user model has no Meta of ours.
        operator = get_user_model()._meta
        operator.verbose_name, operator.verbose_name_plural = OPERATOR_NAMES
        operator.__dict__.pop("verbose_name_raw", None)  # a cached_property of the old name
