"""``manage.py create_tenant``: the operator's way to open a tenant (and its first admin).

    python manage.py create_tenant --name "Acme Inc" --slug acme \\
        [--currency EUR] [--time-zone Europe/Berlin] [--admin-email admin@acme.example]

With ``--admin-email``, an existing account becomes the tenant's admin at once; otherwise an
invitation to the tenant admin role is emailed (its link is printed too, for the operator to
hand over if mail is not set up yet). Everything happens in one transaction: a refused
invitation leaves no half-made tenant behind.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from partners import services
from partners.models import Tenant, User
from partners.roles import Role
from partners.tenancy import tenant_context


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
        )
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create a tenant and, optionally, invite (or appoint) its first tenant admin."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Display name of the tenant.")
        parser.add_argument("--slug", required=True, help="URL slug: /t/<slug>/.")
        parser.add_argument("--currency", default="USD", help="ISO 4217 code (default USD).")
        parser.add_argument("--time-zone", default="UTC", help="IANA zone (default UTC).")
        parser.add_argument("--admin-email", help="The first tenant admin's email address.")

    def handle(self, *args, **options):
        slug = options["slug"].strip()
        admin_email = (options.get("admin_email") or "").strip().lower()
        if Tenant.objects.filter(slug__iexact=slug).exists():
            raise CommandError(f"A tenant with the slug '{slug}' already exists; choose another.")
        if admin_email:
            try:
                validate_email(admin_email)
            except ValidationError as exc:
                raise CommandError(f"--admin-email: {_messages(exc)}") from exc

        try:
            with transaction.atomic():
                tenant = services.tenant_create(
                    name=options["name"].strip(),
                    slug=slug,
                    default_currency=options["currency"],
                    time_zone=options["time_zone"],
                )
                admin_line = self._first_admin(tenant, admin_email) if admin_email else None
        except ValidationError as exc:
            raise CommandError(f"Tenant not created. {_messages(exc)}") from exc

        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant '{tenant.name}' (slug {tenant.slug}, id {tenant.pk}, "
                f"currency {tenant.default_currency}, time zone {tenant.time_zone})."
            )
        )
        self.stdout.write(f"Tenant admin: /t/{tenant.slug}/admin/")
        if admin_line:
            self.stdout.write(admin_line)

    def _first_admin(self, tenant: Tenant, email: str) -> str:
        user = User.objects.filter(email__iexact=email).first()
        with tenant_context(tenant):
            if user is not None:
                services.membership_create(actor=None, user=user, role=Role.TENANT_ADMIN)
                return f"Made the existing user {user.email} tenant admin of {tenant.slug}."
            issued = services.invitation_create(actor=None, email=email, role=Role.TENANT_ADMIN)
        return (
            f"Invited {email} as tenant admin (expires {issued.invitation.expires_at:%Y-%m-%d}). "
            f"Invitation link: {issued.url}"
        )
