"""/api/v1/ routes of deal registration (included from config/urls.py next to the partners
API; under /t/<slug>/api/v1/ too, through TenantMiddleware's prefix)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from deals.api import views

router = SimpleRouter(use_regex_path=False)
router.register("products", views.ProductViewSet, basename="api-product")
router.register("deals", views.DealViewSet, basename="api-deal")

urlpatterns = [
    # Before the router's routes, so "export.csv" is never read as a deal id.
    path("deals/export.csv", views.deal_export_view, name="api-deal-export"),
    *router.urls,
]
