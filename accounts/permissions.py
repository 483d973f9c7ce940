from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView


class PathUserIsSignedIn(permissions.BasePermission):
    """The compatibility prefix /api/{user_id}/..., for front ends that put the user id in the
    path: only the signed-in user's own id. Listed after IsAuthenticated, so 401 comes before 403."""

    message = "The user id in the path is not the signed-in user."

    def has_permission(self, request: Request, view: APIView) -> bool:
        path_user_id = view.kwargs.get("user_id")
        return path_user_id is None or path_user_id == request.user.pk


OWN_PATH = [permissions.IsAuthenticated, PathUserIsSignedIn]
