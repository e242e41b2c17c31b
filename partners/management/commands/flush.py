"""``flush`` as the database owner: TRUNCATE is the owner's privilege, not the runtime role's.

Used by transactional tests between test cases; the runtime role cannot empty tables.
"""

from django.core.management.commands.flush import Command as DjangoFlushCommand

from partners.dbroles import owner_connection


class Command(DjangoFlushCommand):
    def handle(self, **options):
        with owner_connection(options["database"]):
            return super().handle(**options)
