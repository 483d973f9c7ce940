from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ironclad.errors import api_not_found
from ironclad.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health, name="health"),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^api/", include("accounts.urls")),
    re_path(r"^api/", include("todos.urls")),
    re_path(r"^api/", include("chat.urls")),
    # The original plans' front ends put the user id in the path; same views, 403 unless it is yours.
    re_path(r"^api/(?P<user_id>[^/]+)/", include(("todos.urls", "todos"), namespace="compat")),
    re_path(r"^api/(?P<user_id>[^/]+)/", include(("chat.urls", "chat"), namespace="compat-chat")),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]

handler500 = "ironclad.errors.server_error"
