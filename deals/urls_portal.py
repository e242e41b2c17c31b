"""Partner portal pages of deal registration, mounted at /t/<slug>/deals/ (deals_portal)."""

from django.urls import path

from deals import views_portal as views

urlpatterns = [
    path("", views.deal_list, name="list"),
    path("new/", views.deal_register, name="register"),
    path("customer-hint/", views.customer_hint, name="customer-hint"),
    path("<int:pk>/", views.deal_detail, name="detail"),
    path("<int:pk>/edit/", views.deal_edit, name="edit"),
    path("<int:pk>/submit/", views.deal_submit, name="submit"),
    path("<int:pk>/won/", views.deal_mark_won, name="won"),
    path("<int:pk>/lost/", views.deal_mark_lost, name="lost"),
    path("<int:pk>/extension/", views.deal_request_extension, name="extension"),
]
