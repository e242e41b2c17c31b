"""/api/v1/ (token) and, through TenantMiddleware's prefix, /t/<slug>/api/v1/ (session)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from partners.api import views, views_tiers

router = SimpleRouter(use_regex_path=False)
router.register("tokens", views.TokenViewSet, basename="api-token")
router.register("memberships", views.MembershipViewSet, basename="api-membership")
router.register("invitations", views.InvitationViewSet, basename="api-invitation")
router.register("partners", views.PartnerViewSet, basename="api-partner")
router.register("notifications", views.NotificationViewSet, basename="api-notification")
router.register("tiers", views_tiers.TierViewSet, basename="api-tier")
router.register("tier-changes", views_tiers.TierChangeViewSet, basename="api-tier-change")
router.register("tier-proposals", views_tiers.TierProposalViewSet, basename="api-tier-proposal")
router.register("competencies", views_tiers.CompetencyViewSet, basename="api-competency")

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("auth/token/", views.TokenCreateView.as_view(), name="api-token-create"),
    path("auth/token/current/", views.TokenCurrentView.as_view(), name="api-token-current"),
    path("me/", views.MeView.as_view(), name="api-me"),
    *router.urls,
]
