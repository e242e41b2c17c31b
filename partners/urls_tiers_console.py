"""The staff console's tier pages, under ``/console/tiers/`` (namespace ``tiers_console``)."""

from django.urls import path

from partners import views_tiers_console as views

urlpatterns = [
    path("proposals/", views.proposal_queue, name="proposals"),
    path("proposals/approve/", views.proposal_bulk_approve, name="bulk-approve"),
    path("proposals/<int:pk>/approve/", views.proposal_approve, name="approve"),
    path("proposals/<int:pk>/reject/", views.proposal_reject, name="reject"),
]
