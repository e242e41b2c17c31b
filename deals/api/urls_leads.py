"""/api/v1/ routes of leads and their routing (included from config/urls.py; under
/t/<slug>/api/v1/ too, through TenantMiddleware's prefix)."""

from rest_framework.routers import SimpleRouter

from deals.api import leads

router = SimpleRouter(use_regex_path=False)
router.register("leads", leads.LeadViewSet, basename="api-lead")
router.register("lead-offers", leads.LeadOfferViewSet, basename="api-lead-offer")

urlpatterns = router.urls
