"""``makemigrations`` that adds row-level security and same-tenant foreign keys by itself."""

from django.core.management.commands.makemigrations import Command as DjangoMakemigrations

from partners.db_operations import TenantAwareAutodetector


class Command(DjangoMakemigrations):
    autodetector = TenantAwareAutodetector
