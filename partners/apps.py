from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and tenancy"

    def ready(self) -> None:
        from partners import checks  # noqa: F401  (registers system checks)
        from partners.permissions import sync_role_groups

        # Every app's post_migrate, so permissions of apps migrated after this one are included.
        post_migrate.connect(sync_role_groups, dispatch_uid="sync_role_groups")
