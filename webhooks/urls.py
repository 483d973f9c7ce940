from ironclad.routers import OptionalSlashRouter
from webhooks.views import WebhookViewSet

router = OptionalSlashRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
