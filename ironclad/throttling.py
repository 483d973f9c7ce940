"""Request rate limits (REST framework throttles): per user when signed in, per client IP
otherwise, and stricter scopes for costly views (`throttle_scope = "chat"`).

Counts live in the default cache: per process with the local-memory cache, shared by every
worker and server with Redis (CACHE_URL). Each client has one counter per fixed window of the
rate's period (`cache.add` then `cache.incr`): constant work per request, and atomic in Redis.
DRF's own throttles keep the list of every recent request time and store it back on each
request, which cost 0.1 ms per request at 600/min (more as the rate grows) and lets concurrent
requests overwrite each other's counts. The price of fixed windows: a client may send up to twice
the rate across a window boundary.
"""

from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

# Imported by REST framework's settings: rest_framework.views may not be imported here.


class FixedWindowThrottle(throttling.SimpleRateThrottle):
    """Rates read from the settings when a request is checked (DRF's classes keep the settings
    they saw first), counted per fixed window."""

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:
        return api_settings.DEFAULT_THROTTLE_RATES

    def allow_request(self, request: Request, view) -> bool:
        if self.rate is None:
            return True
        client = self.get_cache_key(request, view)
        if client is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{client}:{window}"
        self.cache.add(key, 0, timeout=self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's counter expired between add and incr
            self.cache.add(key, 1, timeout=self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the window ends (the `Retry-After` header); at least one."""
        return max(self.window_ends - self.now, 1)


class AnonRateThrottle(FixedWindowThrottle, throttling.AnonRateThrottle):
    """Anonymous requests, per client IP (THROTTLE_ANON_RATE)."""


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
