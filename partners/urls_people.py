from django.urls import path

from partners import views

urlpatterns = [
    path("", views.people_list, name="list"),
    path("invite/", views.invitation_create, name="invite"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("<int:pk>/edit/", views.membership_edit, name="edit"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.api_token_revoke, name="token-revoke"),
]
