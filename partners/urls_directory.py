"""Staff console pages of partner organizations, mounted at /t/<slug>/console/partners/."""

from django.urls import path

from partners import views_directory as views

urlpatterns = [
    path("", views.partner_directory, name="directory"),
    path("export.csv", views.partner_export, name="export"),
    path("new/", views.partner_create, name="create"),
    path("<int:pk>/", views.partner_detail, name="detail"),
    path("<int:pk>/edit/", views.partner_edit, name="edit"),
    path("<int:pk>/managers/", views.partner_managers, name="managers"),
    path("<int:pk>/status/", views.partner_status, name="status"),
    path("<int:pk>/pin/", views.partner_pin, name="pin"),
    path("<int:pk>/unpin/", views.partner_unpin, name="unpin"),
]
