"""Request rate limits (REST framework throttles): per user when signed in, per client IP
otherwise, and stricter scopes for costly views (`throttle_scope = "chat"`).

Counts live in the default cache (shared between processes with Redis: CACHE_URL), one counter
per client per fixed window (`cache.add`, then `cache.incr`): constant work and atomic, where DRF's
own list of request times grows with the rate and loses concurrent counts. The price: up to twice
the rate across a window boundary.
"""

from django.core.cache.backends.base import BaseCache
from rest_framework import exceptions, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from ironclad.metrics import THROTTLED

# Imported by REST framework's settings: rest_framework.views may not be imported here.


def count_in_window(cache: BaseCache, key: str, duration: int) -> int:
    """Add one to the counter `key` of a window of `duration` seconds; the count, this one included.
    Atomic in Redis; the counter expires with its window."""
    cache.add(key, 0, timeout=duration + 1)
    try:
        return cache.incr(key)
    except ValueError:  # the window's counter expired between add and incr
        cache.add(key, 1, timeout=duration + 1)
        return 1


class FixedWindowThrottle(throttling.SimpleRateThrottle):
    """Rates read from the settings when a request is checked (DRF's classes keep the settings
    they saw first), counted per fixed window."""

    # Set by SimpleRateThrottle from the rate: None when the rate is off (None).
    num_requests: int | None
    duration: int | None

    @property  # DRF only reads it
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # type: ignore[override]
        # The stubs type the rates as numbers; they are strings such as "600/min", or None.
        return api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[return-value]

    def allow_request(self, request: Request, view) -> bool:
        if self.rate is None:
            return True
        client = self.get_cache_key(request, view)
        if client is None:
            return True
        return self.allow_client(client)

    def allow_client(self, client: str) -> bool:
        """Count one request of `client` (a cache key) in the current window; False when over."""
        if self.num_requests is None or self.duration is None:
            return True  # no rate: callers check that first
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        if count_in_window(self.cache, f"{client}:{window}", self.duration) <= self.num_requests:
            return True
        THROTTLED.labels(self.scope).inc()
        return False

    def wait(self) -> float:
        """Seconds until the window ends (the `Retry-After` header); at least one."""
        return max(self.window_ends - self.now, 1)


class AnonRateThrottle(FixedWindowThrottle, throttling.AnonRateThrottle):
    """Anonymous requests, per client IP (THROTTLE_ANON_RATE)."""

    def failed_credential_key(self, request: Request) -> str:
        # get_cache_key would read request.user, which is being authenticated.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def charge_failed_credential(request: Request) -> None:
    """Count a request whose credential was refused as an anonymous one, and raise Throttled
    when the client is over the anonymous rate (the 429 then replaces the 401)."""
    throttle = AnonRateThrottle()
    if throttle.rate is not None and not throttle.allow_client(throttle.failed_credential_key(request)):
        raise exceptions.Throttled(throttle.wait())


class UserRateThrottle(FixedWindowThrottle, throttling.UserRateThrottle):
    """Signed-in requests, per user (THROTTLE_USER_RATE)."""


class ScopedRateThrottle(FixedWindowThrottle, throttling.ScopedRateThrottle):
    """Views with a `throttle_scope`, per user (e.g. THROTTLE_CHAT_RATE for the chat)."""

    def allow_request(self, request: Request, view) -> bool:
        # DRF's scoped throttle learns its rate from the view; its own allow_request does this.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
