"""Template context: who is acting, in which tenant, and what they may reach."""

from __future__ import annotations

from django.http import HttpRequest

from partners.navigation import navigation_for


def tenancy(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "navigation": navigation_for(request) if membership else [],
    }
