"""Staff console pages of deal registration, mounted at /t/<slug>/console/deals/."""

from django.urls import path

from deals import views_console as views

urlpatterns = [
    path("", views.deal_list, name="list"),
    path("export.csv", views.deal_export, name="export"),
    path("queue/", views.review_queue, name="queue"),
    path("queue/approve/", views.bulk_approve, name="bulk-approve"),
    path("direct/new/", views.deal_record_direct, name="record-direct"),
    path("<int:pk>/", views.deal_detail, name="detail"),
    path("<int:pk>/approve/", views.deal_approve, name="approve"),
    path("<int:pk>/reject/", views.deal_reject, name="reject"),
    path("<int:pk>/request-info/", views.deal_request_info, name="request-info"),
    path("<int:pk>/extension/", views.deal_decide_extension, name="extension"),
    path("<int:pk>/won/", views.deal_mark_won, name="won"),
    path("<int:pk>/lost/", views.deal_mark_lost, name="lost"),
]
