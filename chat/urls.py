from django.urls import re_path

from chat.views import ChatView, ConversationViewSet
from ironclad.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("conversations", ConversationViewSet, basename="conversation")

urlpatterns = [
    re_path(r"^chat/?$", ChatView.as_view(), name="chat"),
    *router.urls,
]
