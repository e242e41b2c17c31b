"""Template context: who is acting, in which tenant, and what they may reach."""

from __future__ import annotations

import functools

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from partners import notifications, selectors
from partners.navigation import global_url, navigation_for


def _account_urls(request: HttpRequest) -> dict[str, str]:
    in_tenant = getattr(request, "membership", None) is not None
    return {
        # Inside a tenant, home is the tenant's home; elsewhere (and on the 404 page shown
        # to a non-member, whose URL still carries the tenant) the global one.
        "home": reverse("home") if in_tenant else global_url(request, "home"),
        "login": global_url(request, "login"),
        "logout": global_url(request, "logout"),
        "tenants": global_url(request, "tenant-choose"),
        "password_reset": global_url(request, "password_reset"),
    }


def tenancy(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)

    def has_several_tenants() -> bool:
        # Looked up only when a template asks (the header of signed-in pages).
        if user is None or not user.is_authenticated:
            return False
        return len(selectors.memberships_for_user(user=user)) > 1

    @functools.cache
    def unread_notification_count() -> int:
        # Counted only when a template shows it (the header), once per response.
        if membership is None:
            return 0
        return notifications.unread_count(actor=membership)

    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "navigation": navigation_for(request) if membership else [],
        "has_several_tenants": has_several_tenants,
        "unread_notification_count": unread_notification_count,
        "account_urls": SimpleLazyObject(lambda: _account_urls(request)),
    }
