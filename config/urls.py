from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerView

from accounts.admin_login import limit_failed_sign_ins
from ironclad.errors import api_not_found
from ironclad.health import health
from ironclad.home import index
from ironclad.metrics import metrics
from ironclad.schema_view import SchemaView

# The admin's pages say whose they are; their "View site" link leads to / (ironclad.home).
admin.site.site_header = "Ironclad"
admin.site.site_title = "Ironclad admin"
admin.site.index_title = "Ironclad administration"
admin.site.site_url = "/"

urlpatterns = [
    path("", index, name="index"),
    # Ahead of the admin's own route to the same view: wrong passwords are limited.
    path("admin/login/", limit_failed_sign_ins(admin.site.login)),
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health, name="health"),
    re_path(r"^metrics/?$", metrics, name="metrics"),
    re_path(r"^api/schema/?$", SchemaView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^api/", include("accounts.urls")),
    re_path(r"^api/", include("todos.urls")),
    re_path(r"^api/", include("chat.urls")),
    re_path(r"^api/", include("webhooks.urls")),
    # Some front ends put the user id in the path; same views, 403 unless it is yours.
    re_path(r"^api/(?P<user_id>[^/]+)/", include(("todos.urls", "todos"), namespace="compat")),
    re_path(r"^api/(?P<user_id>[^/]+)/", include(("chat.urls", "chat"), namespace="compat-chat")),
    # [\s\S], not ".": a path may hold a (percent-encoded) newline.
    re_path(r"^api/(?P<path>[\s\S]*)$", api_not_found),
    # Agents (docs/mcp.md): /mcp and its OAuth metadata.
    path("", include("agents.urls")),
]

handler400 = "ironclad.errors.bad_request"
handler404 = "ironclad.errors.page_not_found"
handler500 = "ironclad.errors.server_error"
