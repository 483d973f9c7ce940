from django.apps import AppConfig

# The admin lists two kinds of user: Django's own, who sign in to the admin, and better-auth's,
# who use the app. Both models are called "user"; these names tell them apart on every admin page.
OPERATOR_NAMES = ("operator", "operators")
APP_USER_NAMES = ("app user", "app users")


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "better-auth accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from accounts import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from accounts.models import User

        # Set here rather than in Meta: a display name only, not worth a migration (and Django's
        # own user model has no Meta of ours).
        for model, (singular, plural) in ((get_user_model(), OPERATOR_NAMES), (User, APP_USER_NAMES)):
            model._meta.verbose_name = singular
            model._meta.verbose_name_plural = plural
            model._meta.__dict__.pop("verbose_name_raw", None)  # a cached_property of the old name
