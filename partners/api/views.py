"""API views of the partners app (a helper fills these in)."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiRootView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"schema": "/api/schema/", "docs": "/api/docs/"})


TokenCreateView = ApiRootView
TokenCurrentView = ApiRootView
MeView = ApiRootView
