from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import signed_in_user
from accounts.serializers import MeSerializer
from ironclad.views import StrictQueryParams


class MeView(StrictQueryParams, APIView):
    """The signed-in better-auth user."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(signed_in_user(request)).data)
