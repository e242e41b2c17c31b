"""URLs. Tenant pages are reached under /t/<slug>/ (TenantMiddleware strips the prefix and
keeps it in the script prefix, so reverse() yields tenant URLs); the rest are global."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from partners import views
from partners.api.docs import SwaggerDocsView

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("partners.urls_accounts")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("partners.api.urls")),
    path("api/v1/", include("deals.api.urls")),
    path("api/v1/", include("deals.api.urls_leads")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SwaggerDocsView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("console/", include(("partners.urls_console", "console"))),
    path("console/partners/import/", include(("partners.urls_imports", "partner_imports"))),
    path("console/partners/", include(("partners.urls_directory", "partners_console"))),
    path("console/tiers/", include(("partners.urls_tiers_console", "tiers_console"))),
    path("portal/profile/", include(("partners.urls_profile", "profile"))),
    path("portal/", include(("partners.urls_portal", "portal"))),
    path("people/", include(("partners.urls_people", "people"))),
    path("deals/", include(("deals.urls_portal", "deals_portal"))),
    path("console/deals/", include(("deals.urls_console", "deals_console"))),
    path("leads/", include(("deals.urls_leads", "leads"))),
    path("notifications/", include(("partners.urls_notifications", "notifications"))),
]

handler403 = "partners.views.permission_denied"
handler404 = "partners.views.page_not_found"
