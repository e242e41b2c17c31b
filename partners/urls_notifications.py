"""In-app notifications of the acting member (any role): /t/<slug>/notifications/."""

from django.urls import path

from partners import views

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read-all/", views.notification_read_all, name="read-all"),
    path("<int:pk>/read/", views.notification_read, name="read"),
    path("<int:pk>/open/", views.notification_open, name="open"),
]
