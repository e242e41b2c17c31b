"""The partner CSV import pages, at ``/console/partners/import/`` (namespace
``partner_imports``)."""

from django.urls import path

from partners import views_imports

urlpatterns = [
    path("", views_imports.import_upload, name="upload"),
    path("template.csv", views_imports.import_template, name="template"),
    path("export.csv", views_imports.import_export, name="export"),
    path("<int:pk>/", views_imports.import_detail, name="detail"),
    path("<int:pk>/progress/", views_imports.import_progress, name="progress"),
    path("<int:pk>/commit/", views_imports.import_commit, name="commit"),
    path("<int:pk>/cancel/", views_imports.import_cancel, name="cancel"),
    path("<int:pk>/errors.csv", views_imports.import_errors, name="errors"),
]
