from django.urls import path

from partners import views

urlpatterns = [path("", views.console_home, name="home")]
