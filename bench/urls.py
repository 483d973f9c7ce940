from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as ironclad_urlpatterns


def bare(request: HttpRequest) -> JsonResponse:
    """The yardstick: Django's request cycle and middleware, no authentication, no database."""
    return JsonResponse({"data": {"ok": True}, "meta": {}})


urlpatterns = [path("bench/bare", bare), *ironclad_urlpatterns]
