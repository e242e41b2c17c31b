"""``migrate`` as the database owner, with tenant isolation operations and runtime grants."""

from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from partners.db_operations import TenantAwareAutodetector
from partners.dbroles import ensure_roles_and_grants, owner_connection


class Command(DjangoMigrateCommand):
    autodetector = TenantAwareAutodetector

    def handle(self, *args, **options):
        database = options["database"]
        with owner_connection(database):
            super().handle(*args, **options)
            ensure_roles_and_grants(database)
