"""Leads under /t/<slug>/leads/ (namespace ``leads``): the staff console's lead pages and,
under offered/, the partner portal's offered leads."""

from django.urls import path

from deals import views_leads as views

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_create, name="create"),
    path("import/", views.lead_import, name="import"),
    path("import/commit/", views.lead_import_commit, name="import-commit"),
    path("import/leads.csv", views.lead_import_template, name="import-template"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/reroute/", views.lead_reroute, name="reroute"),
    path("offered/", views.offer_list, name="offered"),
    path("offered/<int:pk>/", views.offer_detail, name="offer"),
    path("offered/<int:pk>/accept/", views.offer_accept, name="offer-accept"),
    path("offered/<int:pk>/decline/", views.offer_decline, name="offer-decline"),
]
