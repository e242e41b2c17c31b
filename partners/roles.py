"""Roles and what each may do: the one table that maps a membership's role to permissions.

The table is loaded into one Django group per role (``sync_role_groups``, run after every
migrate). ``partners.permissions.MembershipBackend`` answers ``user.has_perm`` from the group
of the membership acting in the current tenant, so pages, the API and the admin all ask the
same question the same way. Per-object grants (a manager's assigned partners, a shared deal)
go through django-guardian on top of this.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    TENANT_ADMIN = "tenant_admin", _("Tenant admin")
    CHANNEL_MANAGER = "channel_manager", _("Channel manager")
    FINANCE = "finance", _("Finance")
    MARKETING = "marketing", _("Marketing")
    ANALYST = "analyst", _("Analyst")
    PARTNER_ADMIN = "partner_admin", _("Partner admin")
    PARTNER_REP = "partner_rep", _("Partner rep")


STAFF_ROLES = frozenset(
    {Role.TENANT_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.MARKETING, Role.ANALYST}
)
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_REP})

_VIEW_DIRECTORY = [
    "partners.view_partner",
    "partners.view_membership",
]
# Tiers and their history are read by every staff role; partner users read their own
# tier (the portal home, the API) by rule in the selectors.
_TIERS_READ = ["partners.view_tier", "partners.view_tiercriterion", "partners.view_tierchange"]
# Deal registration (the deals app): staff see every deal of the tenant; partner users see
# their organization's (partner admins) or their own and shared ones (reps), by rule in
# deals.selectors, so they hold register_deal rather than view_deal.
_DEALS_READ = ["deals.view_deal", "deals.view_product", "deals.view_lead", "deals.export_deal"]
_DEALS_REVIEW = [
    *_DEALS_READ,
    "deals.review_deal",
    "deals.record_direct_deal",
    "deals.manage_lead",
    "deals.view_dealconflict",
]
_PARTNER_DEALS = ["deals.register_deal", "deals.respond_lead", "deals.view_product"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.TENANT_ADMIN: [
        "partners.access_staff_console",
        "partners.access_tenant_admin",
        "partners.invite_staff",
        "partners.invite_partner_user",
        "partners.view_tenant",
        "partners.change_tenant",
        "partners.view_partner",
        "partners.view_all_partners",
        "partners.add_partner",
        "partners.change_partner",
        "partners.delete_partner",
        "partners.assign_partner_manager",
        "partners.import_partner",
        "partners.decide_tier_proposal",
        "partners.view_tierproposal",
        "partners.view_partnerstatuschange",
        "partners.view_competency",
        "partners.add_competency",
        "partners.change_competency",
        "partners.delete_competency",
        "partners.view_partnerimport",
        "partners.view_membership",
        "partners.add_membership",
        "partners.change_membership",
        "partners.delete_membership",
        "partners.view_invitation",
        "partners.add_invitation",
        "partners.delete_invitation",
        "partners.view_apitoken",
        "partners.delete_apitoken",
        "partners.view_outboxevent",
        "partners.view_automationrun",
        *_DEALS_REVIEW,
        "deals.add_product",
        "deals.change_product",
        "deals.delete_product",
        "deals.view_engagementrules",
        "deals.change_engagementrules",
        "deals.view_lostreason",
        "deals.add_lostreason",
        "deals.change_lostreason",
        "deals.delete_lostreason",
        # Partner tiers (partners/admin_tiers.py); tier changes are written by the engine.
        "partners.view_tier",
        "partners.add_tier",
        "partners.change_tier",
        "partners.delete_tier",
        "partners.view_tiercriterion",
        "partners.add_tiercriterion",
        "partners.change_tiercriterion",
        "partners.delete_tiercriterion",
        "partners.view_tierchange",
    ],
    Role.CHANNEL_MANAGER: [
        *_DEALS_REVIEW,
        *_TIERS_READ,
        # Channel managers act on the partners assigned to them (a guardian grant of
        # partners.manage_partner per partner); they do not hold view_all_partners.
        "partners.access_staff_console",
        "partners.invite_partner_user",
        "partners.change_partner",
        "partners.decide_tier_proposal",
        "partners.view_tierproposal",
        "partners.view_partnerstatuschange",
        "partners.view_invitation",
        "partners.add_invitation",
        "partners.delete_invitation",
        *_VIEW_DIRECTORY,
    ],
    Role.FINANCE: [
        "partners.access_staff_console",
        "partners.view_all_partners",
        *_VIEW_DIRECTORY,
        *_TIERS_READ,
        *_DEALS_READ,
    ],
    Role.MARKETING: [
        "partners.access_staff_console",
        "partners.view_partner",
        "partners.view_all_partners",
        *_TIERS_READ,
        *_DEALS_READ,
        "deals.manage_lead",
    ],
    Role.ANALYST: [
        "partners.access_staff_console",
        "partners.view_all_partners",
        *_TIERS_READ,
        *_DEALS_READ,
        "partners.view_automationrun",
        *_VIEW_DIRECTORY,
    ],
    Role.PARTNER_ADMIN: [
        "partners.access_partner_portal",
        "partners.change_partner_profile",
        "partners.invite_partner_user",
        "partners.view_invitation",
        "partners.add_invitation",
        "partners.delete_invitation",
        "partners.view_membership",
        *_PARTNER_DEALS,
    ],
    Role.PARTNER_REP: ["partners.access_partner_portal", *_PARTNER_DEALS],
}


def is_staff_role(role: str) -> bool:
    return role in STAFF_ROLES


def is_partner_role(role: str) -> bool:
    return role in PARTNER_ROLES


def invitable_roles(inviter_role: str, inviter_perms: set[str]) -> list[str]:
    """Roles a member may invite someone to: staff need invite_staff for staff roles."""
    roles: list[str] = []
    if "partners.invite_staff" in inviter_perms:
        roles += [r.value for r in Role if r in STAFF_ROLES]
    if "partners.invite_partner_user" in inviter_perms:
        roles += [Role.PARTNER_ADMIN.value, Role.PARTNER_REP.value]
    return roles
