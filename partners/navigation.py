"""Role-aware navigation: only links the acting membership may open, never dead ones."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def navigation_for(request: HttpRequest) -> list[NavItem]:
    user = request.user
    entries: list[tuple[str, str, str | None]] = [
        (_("Console"), "console:home", "partners.access_staff_console"),
        (_("Portal"), "portal:home", "partners.access_partner_portal"),
        (_("People"), "people:list", "partners.view_membership"),
        (_("API tokens"), "people:tokens", None),
        (_("Admin"), "admin:index", "partners.access_tenant_admin"),
    ]
    items = []
    for label, name, perm in entries:
        if perm and not user.has_perm(perm):
            continue
        url = reverse(name)
        items.append(
            NavItem(
                label=str(label),
                url=url,
                active=request.path.startswith(url)
                and (url.rstrip("/").count("/") > 2 or request.path == url),
            )
        )
    return items
