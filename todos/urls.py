from ironclad.routers import OptionalSlashRouter
from todos.views import CategoryViewSet, ChangeViewSet, TaskViewSet

router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")
router.register("categories", CategoryViewSet, basename="category")
router.register("changes", ChangeViewSet, basename="change")

urlpatterns = router.urls
