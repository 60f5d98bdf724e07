"""Routes of /api/v1/deployments/{id}/schedules, with and without the trailing slash."""

from __future__ import annotations

from codeai.kernel.api.routers import OptionalSlashRouter
from schedules.views import ScheduleViewSet

router = OptionalSlashRouter()
router.register(
    r"deployments/(?P<deployment_id>[^/]+)/schedules", ScheduleViewSet, basename="schedule"
)

urlpatterns = router.urls
