"""Role-aware navigation: only links the acting membership may open, never dead ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


# (label, URL name, permission needed or None for every member). Every page listed here
# checks the same permission itself, so a link is shown exactly when it answers 200.
NAVIGATION = [
    (_("Console"), "console:home", "partners.access_staff_console"),
    (_("Partners"), "partners_console:directory", "partners.view_partner"),
    (_("Portal"), "portal:home", "partners.access_partner_portal"),
    (_("Company"), "profile:detail", "partners.access_partner_portal"),
    (_("People"), "people:list", "partners.view_membership"),
    (_("API tokens"), "people:tokens", None),
    (_("Admin"), "admin:index", "partners.access_tenant_admin"),
]


def register(
    label, url_name: str, perm: str | None, *, after: str | None = None, capability=None
) -> None:
    """Add a navigation link from a higher app (in its AppConfig.ready), so this app never
    imports it. ``after`` places it after the link with that URL name; ``capability`` adds
    the sentence the home pages show for ``perm``."""
    entry = (label, url_name, perm)
    if any(existing[1] == url_name for existing in NAVIGATION):
        return
    names = [existing[1] for existing in NAVIGATION]
    if after in names:
        NAVIGATION.insert(names.index(after) + 1, entry)
    else:
        NAVIGATION.insert(len(NAVIGATION) - 2, entry)  # before API tokens and Admin
    if capability and perm and all(existing[0] != perm for existing in CAPABILITIES):
        CAPABILITIES.append((perm, capability))


# What a permission lets a member do, in words, for the home pages.
CAPABILITIES = [
    ("partners.access_tenant_admin", _("Configure the program and manage accounts in the admin")),
    ("partners.invite_staff", _("Invite vendor staff")),
    ("partners.invite_partner_user", _("Invite partner users")),
    ("partners.change_membership", _("Change people's roles and deactivate accounts")),
    ("partners.view_membership", _("See who has access")),
    ("partners.add_partner", _("Add partner organizations")),
    ("partners.change_partner", _("Update partner organizations")),
    ("partners.view_partner", _("See the partner organizations of the program")),
    ("partners.assign_partner_manager", _("Assign channel managers to partners")),
    ("partners.view_automationrun", _("Read the automation run log")),
]


def navigation_for(request: HttpRequest) -> list[NavItem]:
    user = request.user
    links: list[tuple[str, str]] = []
    for label, name, perm in NAVIGATION:
        if perm and not user.has_perm(perm):
            continue
        try:
            links.append((str(label), reverse(name)))
        except NoReverseMatch:  # an app registered a page it does not serve: no dead link
            logger.warning("navigation: no URL named %s", name)
    # One active item: the link whose URL is the longest prefix of the current path
    # (/people/tokens/ is "API tokens", not also "People").
    matches = [url for _label, url in links if request.path.startswith(url)]
    active_url = max(matches, key=len) if matches else None
    return [NavItem(label=label, url=url, active=url == active_url) for label, url in links]


def capabilities_for(permissions: frozenset[str] | set[str]) -> list[str]:
    return [str(text) for perm, text in CAPABILITIES if perm in permissions]


def global_url(request: HttpRequest, name: str, *args, **kwargs) -> str:
    """``reverse()`` without the tenant prefix, for pages that exist outside any tenant
    (sign out, tenant chooser, API docs). Inside a tenant request the script prefix carries
    ``t/<slug>/``; a link to a global page must not, or it would be tied to that tenant."""
    url = reverse(name, args=args or None, kwargs=kwargs or None)
    tenant_prefix = getattr(request, "tenant_prefix", None)
    if tenant_prefix:
        marker = f"{tenant_prefix}/"
        index = url.find(marker)
        if index != -1:
            url = url[:index] + "/" + url[index + len(marker) :]
    return url
