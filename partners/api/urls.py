from django.urls import path

from partners.api import views

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("auth/token/", views.TokenCreateView.as_view(), name="api-token-create"),
    path("auth/token/current/", views.TokenCurrentView.as_view(), name="api-token-current"),
    path("me/", views.MeView.as_view(), name="api-me"),
]
