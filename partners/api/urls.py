"""/api/v1/ (token) and, through TenantMiddleware's prefix, /t/<slug>/api/v1/ (session)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from partners.api import views

router = SimpleRouter(use_regex_path=False)
router.register("tokens", views.TokenViewSet, basename="api-token")
router.register("memberships", views.MembershipViewSet, basename="api-membership")
router.register("invitations", views.InvitationViewSet, basename="api-invitation")
router.register("partners", views.PartnerViewSet, basename="api-partner")
router.register("notifications", views.NotificationViewSet, basename="api-notification")

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("auth/token/", views.TokenCreateView.as_view(), name="api-token-create"),
    path("auth/token/current/", views.TokenCurrentView.as_view(), name="api-token-current"),
    path("me/", views.MeView.as_view(), name="api-me"),
    *router.urls,
]
