"""Wrong passwords at the admin's sign-in, limited per username and per client IP.

Past THROTTLE_ADMIN_LOGIN_USERNAME_RATE failures for one username, or
THROTTLE_ADMIN_LOGIN_IP_RATE failures from one client IP, a sign-in answers 429 until the window
ends, without its password being checked: the right password is refused too, so the limit tells
a guesser nothing. The counts live in the default cache, one counter per fixed window
(ironclad.throttling.count_in_window), as the API's throttles keep theirs.
"""

import contextlib
import hashlib
import math
import re
import time
import unicodedata
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from rest_framework.throttling import BaseThrottle

from ironclad.throttling import count_in_window

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

REFUSAL_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Too many failed sign-ins</title></head>
<body>
<h1>Too many failed sign-ins</h1>
<p>There have been too many wrong passwords for this username, or from your network. Sign-in is
paused: try again in {minutes} minute(s).</p>
</body>
</html>
"""


def parse_rate(rate: str) -> tuple[int, int]:
    """A number of failures per period: "5/15min" is (5, 900), "20/hour" is (20, 3600)."""
    match = re.fullmatch(r"(\d+)/(\d*)([a-z]+)", rate)
    if match is None:
        raise ValueError(f"{rate!r} is not a rate such as 5/15min")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * SECONDS[unit[0]]


class FailureCounter:
    """The failed sign-ins of one username or one client IP in the current window of the rate."""

    timer = staticmethod(time.time)

    def __init__(self, name: str, rate: str) -> None:
        self.limit, self.duration = parse_rate(rate)
        now = self.timer()
        window = int(now // self.duration)
        self.key = f"admin_login_{name}:{window}"
        self.retry_after = math.ceil((window + 1) * self.duration - now)

    def add(self) -> int:
        """Counts one failure; returns the window's count with it."""
        return count_in_window(cache, self.key, self.duration)

    def take_back(self) -> None:
        with contextlib.suppress(ValueError):  # the window has ended meanwhile
            cache.decr(self.key)


def username_key(username: str) -> str:
    """One cache-safe name for every spelling Django's form would sign in the same way, and more:
    the form strips and NFKC-normalises the username; case is folded too."""
    normalised = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(normalised.encode()).hexdigest()


def counters(request: HttpRequest) -> list[FailureCounter]:
    """The limits that apply to this sign-in: its username's and its client IP's, unless off."""
    username = username_key(request.POST.get("username", ""))
    # The client IP as REST framework's throttles read it (NUM_PROXIES).
    # get_ident reads only META, which the admin's plain HttpRequest has as a DRF Request does.
    ip = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    rates = {
        f"username_{username}": settings.THROTTLE_ADMIN_LOGIN_USERNAME_RATE,
        f"ip_{ip}": settings.THROTTLE_ADMIN_LOGIN_IP_RATE,
    }
    return [FailureCounter(name, rate) for name, rate in rates.items() if rate is not None]


def refusal(retry_after: int) -> HttpResponse:
    response = HttpResponse(
        REFUSAL_PAGE.format(minutes=math.ceil(retry_after / 60)), status=HTTPStatus.TOO_MANY_REQUESTS
    )
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


def limit_failed_sign_ins(login: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The admin's login view, refusing a sign-in once its username or client IP has failed too often.

    A sign-in is counted as a failure before its password is checked, so that guesses sent in
    parallel cannot all slip in under the limit, and taken back if it succeeds or is refused.
    """

    @wraps(login)
    def limited_login(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return login(request, *args, **kwargs)
        limits = counters(request)
        over = [counter for counter in limits if counter.add() > counter.limit]
        if over:
            for counter in limits:
                counter.take_back()
            return refusal(max(counter.retry_after for counter in over))
        response = login(request, *args, **kwargs)
        # Signed in: the admin redirects. Wrong credentials: the form again (200).
        if response.status_code == HTTPStatus.FOUND:
            for counter in limits:
                counter.take_back()
        return response

    return limited_login
