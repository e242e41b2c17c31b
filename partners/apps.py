from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and tenancy"
    default = True

    def ready(self) -> None:
        from partners import (
            checks,  # noqa: F401  (registers system checks)
            metrics,  # noqa: F401  (registers the partners app's tier metrics)
            navigation,
            partner_notifications,
            tier_notifications,
        )
        from partners.permissions import sync_role_groups

        tier_notifications.register()
        partner_notifications.register()
        # The staff console's tier approval queue (partners/views_tiers_console.py).
        navigation.register(
            _("Tier approvals"), "tiers_console:proposals", "partners.decide_tier_proposal",
            after="partners_console:directory",
            capability=_("Approve or reject proposed tier changes"),
        )  # fmt: skip

        # Every app's post_migrate, so permissions of apps migrated after this one are included.
        post_migrate.connect(sync_role_groups, dispatch_uid="sync_role_groups")


class TrellisAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the tenant-scoped site as ``admin.site``.

    Listed in INSTALLED_APPS in place of ``django.contrib.admin`` (Django's documented way to
    override the default admin site), so every app's ``admin.site.register`` lands on it.
    """

    default = False  # not the AppConfig Django picks for the "partners" entry
    default_site = "partners.admin_base.TrellisAdminSite"
