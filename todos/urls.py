from ironclad.routers import OptionalSlashRouter
from todos.views import CategoryViewSet, TaskViewSet

router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")
router.register("categories", CategoryViewSet, basename="category")

urlpatterns = router.urls
