"""Request rate limits (REST framework throttles): per user when signed in, per client IP
otherwise, and stricter scopes for costly views (`throttle_scope = "chat"`).

Counts live in the default cache: per process with the local-memory cache, shared by every
worker and server with Redis (CACHE_URL).
"""

from rest_framework import throttling
from rest_framework.settings import api_settings


class SettingsRates:
    """Rates read from the settings when a request is checked, not when DRF was imported (its
    classes keep the first settings they saw), and a `Retry-After` on every refusal."""

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:
        return api_settings.DEFAULT_THROTTLE_RATES

    def wait(self) -> float:
        # DRF gives no wait when the history is longer than the rate allows (after the rate was
        # lowered); the oldest request then still says when the next one is allowed.
        wait = super().wait()
        if wait is None:
            wait = self.duration - (self.now - self.history[-1])
        return wait


class AnonRateThrottle(SettingsRates, throttling.AnonRateThrottle):
    """Anonymous requests, per client IP (THROTTLE_ANON_RATE)."""


class UserRateThrottle(SettingsRates, throttling.UserRateThrottle):
    """Signed-in requests, per user (THROTTLE_USER_RATE)."""


class ScopedRateThrottle(SettingsRates, throttling.ScopedRateThrottle):
    """Views with a `throttle_scope`, per user (e.g. THROTTLE_CHAT_RATE for the chat)."""
