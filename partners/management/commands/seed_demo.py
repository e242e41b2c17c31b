"""``manage.py seed_demo``: two demo tenants with staff, partners and partner users.

Development only (refuses to run with DEBUG off). Idempotent: tenants are found by slug,
people by email, partners by domain and memberships by (tenant, user), so a second run
creates nothing. Everything is written through ``partners.services`` inside the tenant.
Every demo login uses the password ``trellis-demo``.

The higher apps add their own demo data: each installed app with a ``demo`` module holding
``seed_tenant(*, tenant, memberships, partners)`` is called for each tenant, in
INSTALLED_APPS order, after its people exist (``deals.demo``: catalog, rules, deals, leads).
Partners does not import them: they are looked up by name, like admin modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from partners import selectors, services
from partners.models import (
    Competency,
    Invitation,
    Membership,
    Partner,
    PartnerSegment,
    PartnerStatus,
    PartnerType,
    Tenant,
    User,
)
from partners.roles import Role
from partners.tenancy import tenant_context

DEMO_PASSWORD = "trellis-demo"
DUMMY_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: Role
    partner_domain: str | None = None


@dataclass(frozen=True)
class DemoInvitation:
    email: str
    role: Role
    invited_by: str
    partner_domain: str | None = None


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    currency: str
    time_zone: str
    partners: tuple[tuple[str, str], ...]  # (name, domain)
    people: tuple[DemoPerson, ...]
    invitations: tuple[DemoInvitation, ...] = ()
    competencies: tuple[str, ...] = ()
    # domain -> (legal name, type, segment, employees)
    profiles: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    # Partners that are not (yet, or no longer) active: (name, domain, status, reason).
    other_partners: tuple[tuple[str, str, str, str], ...] = ()
    # Channel manager email -> the partner domains assigned to them.
    managers: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _partner_people(domain: str, admin_name: str, rep_name: str) -> tuple[DemoPerson, ...]:
    return (
        DemoPerson(f"padmin@{domain}", admin_name, Role.PARTNER_ADMIN, domain),
        DemoPerson(f"rep@{domain}", rep_name, Role.PARTNER_REP, domain),
    )


CONSULTANT = ("consultant@both.test", "Jordan Ellis")

DEMO_TENANTS: tuple[DemoTenant, ...] = (
    DemoTenant(
        slug="acme",
        name="Acme Cloud",
        currency="USD",
        time_zone="America/New_York",
        partners=(
            ("Northwind", "northwind.test"),
            ("Contoso", "contoso.test"),
            ("Initech", "initech.test"),
        ),
        people=(
            DemoPerson("admin@acme.test", "Avery Chen", Role.TENANT_ADMIN),
            DemoPerson("manager@acme.test", "Marcus Bell", Role.CHANNEL_MANAGER),
            DemoPerson("finance@acme.test", "Priya Raman", Role.FINANCE),
            DemoPerson("marketing@acme.test", "Sofia Alvarez", Role.MARKETING),
            DemoPerson("analyst@acme.test", "Daniel Okafor", Role.ANALYST),
            DemoPerson(*CONSULTANT, Role.ANALYST),
            *_partner_people("northwind.test", "Nora Lindqvist", "Ravi Patel"),
            *_partner_people("contoso.test", "Claire Dubois", "Tom Becker"),
            *_partner_people("initech.test", "Irene Walsh", "Samir Haddad"),
        ),
        competencies=("cloud migration", "data analytics", "managed services", "security"),
        profiles={
            "northwind.test": (
                "Northwind Traders LLC",
                PartnerType.RESELLER,
                PartnerSegment.MID_MARKET,
                240,
            ),
            "contoso.test": (
                "Contoso Ltd.",
                PartnerType.SYSTEMS_INTEGRATOR,
                PartnerSegment.ENTERPRISE,
                1800,
            ),
            "initech.test": ("Initech Solutions GmbH", PartnerType.MSP, PartnerSegment.SMB, 65),
        },
        other_partners=(
            ("Pied Piper", "piedpiper.test", PartnerStatus.APPLICANT, ""),
            ("Hooli XYZ", "hoolixyz.test", PartnerStatus.ONBOARDING, ""),
            (
                "Soylent",
                "soylent.test",
                PartnerStatus.SUSPENDED,
                "Unpaid invoices since August; reinstated once settled.",
            ),
        ),
        # Marcus manages two of the three active partners; Initech is the admin's own.
        managers={
            "manager@acme.test": ("northwind.test", "contoso.test", "soylent.test"),
            "admin@acme.test": ("initech.test",),
        },
        invitations=(
            DemoInvitation("events@acme.test", Role.MARKETING, invited_by="admin@acme.test"),
            DemoInvitation(
                "sales@northwind.test",
                Role.PARTNER_REP,
                invited_by="padmin@northwind.test",
                partner_domain="northwind.test",
            ),
        ),
    ),
    DemoTenant(
        slug="globex",
        name="Globex Corporation",
        currency="EUR",
        time_zone="Europe/Berlin",
        partners=(
            ("Umbrella", "umbrella.test"),
            ("Hooli", "hooli.test"),
            ("Vandelay", "vandelay.test"),
        ),
        people=(
            DemoPerson("admin@globex.test", "Greta Hoffmann", Role.TENANT_ADMIN),
            DemoPerson("manager@globex.test", "Lukas Weber", Role.CHANNEL_MANAGER),
            DemoPerson("finance@globex.test", "Elena Rossi", Role.FINANCE),
            DemoPerson("marketing@globex.test", "Jonas Schmidt", Role.MARKETING),
            DemoPerson("analyst@globex.test", "Mia Novak", Role.ANALYST),
            DemoPerson(*CONSULTANT, Role.CHANNEL_MANAGER),
            *_partner_people("umbrella.test", "Hannah Keller", "Oliver Brandt"),
            *_partner_people("hooli.test", "Isabel Moreno", "Kenji Watanabe"),
            *_partner_people("vandelay.test", "Arthur Vance", "Leila Nasser"),
        ),
        competencies=(
            "data analytics",
            "industrial iot",
            "logistics",
            "managed services",
            "security",
        ),
        profiles={
            "umbrella.test": (
                "Umbrella Systems AG",
                PartnerType.DISTRIBUTOR,
                PartnerSegment.ENTERPRISE,
                5200,
            ),
            "hooli.test": (
                "Hooli Europe S.r.l.",
                PartnerType.TECHNOLOGY,
                PartnerSegment.MID_MARKET,
                430,
            ),
            "vandelay.test": (
                "Vandelay Industries B.V.",
                PartnerType.REFERRAL,
                PartnerSegment.SMB,
                38,
            ),
        },
        other_partners=(("Kramerica", "kramerica.test", PartnerStatus.APPLICANT, ""),),
        managers={
            "manager@globex.test": ("umbrella.test", "hooli.test"),
            CONSULTANT[0]: ("vandelay.test",),
        },
        invitations=(
            DemoInvitation("controller@globex.test", Role.FINANCE, invited_by="admin@globex.test"),
        ),
    ),
)


@dataclass
class SeedReport:
    logins: list[tuple[str, str, str]]  # (email, tenant slug, role)
    invitations: list[tuple[str, str, str, str]]  # (email, tenant slug, role, accept URL)
    created: int = 0


def _app_seeders() -> list[Callable[..., int]]:
    """``seed_tenant`` of every installed app's ``demo`` module, in INSTALLED_APPS order."""
    seeders = []
    for config in apps.get_app_configs():
        if config.name == "partners" or not module_has_submodule(config.module, "demo"):
            continue
        seeder = getattr(import_module(f"{config.name}.demo"), "seed_tenant", None)
        if seeder is not None:
            seeders.append(seeder)
    return seeders


class Command(BaseCommand):
    help = "Create the demo tenants, staff, partners and partner users (DEBUG only, idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--quiet", action="store_true", help="Do not print the table of demo logins."
        )

    def handle(self, *args, quiet: bool = False, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates accounts with a published password: it runs only with DEBUG on."
            )
        report = SeedReport(logins=[], invitations=[])
        # The invitees are made-up .test addresses: no email goes out, the table shows the
        # accept links instead. (The mails are sent on commit, so this wraps the transaction.)
        with override_settings(EMAIL_BACKEND=DUMMY_EMAIL_BACKEND), transaction.atomic():
            for demo in DEMO_TENANTS:
                self._seed_tenant(demo, report)
        if not quiet:
            self._print_report(report)

    # ------------------------------------------------------------ seeding

    def _seed_tenant(self, demo: DemoTenant, report: SeedReport) -> None:
        tenant = Tenant.objects.filter(slug=demo.slug).first()
        if tenant is None:
            tenant = services.tenant_create(
                name=demo.name,
                slug=demo.slug,
                default_currency=demo.currency,
                time_zone=demo.time_zone,
            )
            report.created += 1
        with tenant_context(tenant):
            for name in demo.competencies:
                report.created += Competency.objects.get_or_create(tenant=tenant, name=name)[1]
            partners = {
                domain: self._partner(name=name, domain=domain, report=report,
                                      profile=demo.profiles.get(domain))
                for name, domain in demo.partners
            }  # fmt: skip
            for name, domain, status, reason in demo.other_partners:
                self._other_partner(name, domain, status, reason, report)
            memberships: dict[str, Membership] = {}
            for person in demo.people:
                user = self._user(person, report)
                partner = partners[person.partner_domain] if person.partner_domain else None
                membership = Membership.objects.filter(user=user).first()
                if membership is None:
                    membership = services.membership_create(
                        actor=None, user=user, role=person.role, partner=partner
                    )
                    report.created += 1
                memberships[person.email] = membership
                report.logins.append((person.email, tenant.slug, membership.role))
            for invitation in demo.invitations:
                self._invitation(tenant, invitation, memberships, partners, report)
            self._managers(demo, memberships)
            for seed_app_data in _app_seeders():
                report.created += seed_app_data(
                    tenant=tenant, memberships=memberships, partners=partners
                )

    def _partner(
        self, *, name: str, domain: str, report: SeedReport, profile: tuple | None = None
    ) -> Partner:
        partner = Partner.objects.filter(domain=domain).first()
        fields = {}
        if profile:
            legal_name, partner_type, segment, employees = profile
            fields = {"legal_name": legal_name, "partner_type": partner_type,
                      "segment": segment, "employee_count": employees}  # fmt: skip
        if partner is None:
            partner = services.partner_create(actor=None, name=name, domain=domain, **fields)
            report.created += 1
        elif fields and not partner.legal_name:
            # Demo data from before partner profiles existed: fill the profile in.
            partner = services.partner_update(actor=None, partner=partner, **fields)
        return partner

    def _other_partner(
        self, name: str, domain: str, status: str, reason: str, report: SeedReport
    ) -> None:
        if Partner.objects.filter(domain=domain).exists():
            return
        first = PartnerStatus.ACTIVE if status == PartnerStatus.SUSPENDED else status
        partner = services.partner_create(actor=None, name=name, domain=domain, status=first)
        if status != first:
            services.partner_set_status(actor=None, partner=partner, status=status, reason=reason)
        report.created += 1

    def _managers(self, demo: DemoTenant, memberships: dict[str, Membership]) -> None:
        """Assign channel managers; a partner that already has managers is left as it is."""
        by_domain = {p.domain: p for p in Partner.objects.all()}
        assigned = selectors.partner_managers(partner_ids=[p.pk for p in by_domain.values()])
        wanted: dict[str, list[Membership]] = {}
        for email, domains in demo.managers.items():
            for domain in domains:
                wanted.setdefault(domain, []).append(memberships[email])
        for domain, managers in wanted.items():
            partner = by_domain[domain]
            if not assigned.get(partner.pk):
                services.partner_assign_managers(actor=None, partner=partner, managers=managers)

    def _user(self, person: DemoPerson, report: SeedReport) -> User:
        user = User.objects.filter(email__iexact=person.email).first()
        if user is None:
            # People are global, not tenant-owned: there is no tenant service for them.
            user = User.objects.create_user(
                email=person.email, password=DEMO_PASSWORD, full_name=person.full_name
            )
            report.created += 1
        return user

    def _invitation(
        self,
        tenant: Tenant,
        demo: DemoInvitation,
        memberships: dict[str, Membership],
        partners: dict[str, Partner],
        report: SeedReport,
    ) -> None:
        already_member = Membership.objects.filter(user__email__iexact=demo.email).exists()
        pending = Invitation.objects.filter(
            email__iexact=demo.email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).exists()
        if already_member:
            return
        if pending:
            report.invitations.append((demo.email, tenant.slug, demo.role, ""))
            return
        issued = services.invitation_create(
            actor=memberships[demo.invited_by],
            email=demo.email,
            role=demo.role,
            partner=partners[demo.partner_domain] if demo.partner_domain else None,
        )
        report.created += 1
        report.invitations.append((demo.email, tenant.slug, demo.role, issued.url))

    # ------------------------------------------------------------ output

    def _print_report(self, report: SeedReport) -> None:
        login_url = f"{settings.SITE_URL.rstrip('/')}/accounts/login/"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({report.created} rows created). Sign in at {login_url} "
                f"with password {DEMO_PASSWORD!r}:"
            )
        )
        rows = [("URL", "EMAIL", "TENANT", "ROLE")]
        rows += [(login_url, email, slug, role) for email, slug, role in report.logins]
        self._table(rows)
        if report.invitations:
            self.stdout.write("")
            self.stdout.write("Pending invitations (each link is shown once, when it is created):")
            rows = [("EMAIL", "TENANT", "ROLE", "ACCEPT LINK")]
            rows += [
                (email, slug, role, url or "(created by an earlier run)")
                for email, slug, role, url in report.invitations
            ]
            self._table(rows)

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        for index, row in enumerate(rows):
            cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
            self.stdout.write("  ".join(cells).rstrip())
            if index == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
