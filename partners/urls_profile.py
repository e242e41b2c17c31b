from django.urls import path

from partners import views_profile

urlpatterns = [
    path("", views_profile.profile_detail, name="detail"),
    path("edit/", views_profile.profile_edit, name="edit"),
]
