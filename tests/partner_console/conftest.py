"""Fixtures of the staff console's partner pages: more staff roles, a second (unassigned)
channel manager, the tenant's competencies and tiers, and reading rows back."""

from __future__ import annotations

import csv
import io

import pytest

from partners.models import Competency, Partner
from partners.selectors import partner_managers
from partners.tenancy import tenant_context
from partners.tiers import Tier
from tests.factories import MembershipFactory

BASE = "/t/acme/console/partners/"


@pytest.fixture
def member(tenant):
    """A membership of Acme with any role: ``member("finance")``."""

    def _member(role: str, **kwargs):
        email = kwargs.pop("email", f"{role}@acme.test")
        return MembershipFactory(tenant=tenant, role=role, user__email=email, **kwargs)

    return _member


@pytest.fixture
def finance(member):
    return member("finance")


@pytest.fixture
def other_manager(member):
    """A channel manager of Acme assigned to no partner."""
    return member("channel_manager", email="other.manager@acme.test")


@pytest.fixture
def competencies(tenant):
    with tenant_context(tenant):
        for name in ("Cloud", "Security", "Data"):
            Competency.objects.create(tenant=tenant, name=name)
    return ["Cloud", "Data", "Security"]


@pytest.fixture
def tiers(tenant):
    with tenant_context(tenant):
        return {
            "silver": Tier.objects.create(tenant=tenant, rank=1, name="Silver"),
            "gold": Tier.objects.create(tenant=tenant, rank=2, name="Gold"),
        }


@pytest.fixture
def stored(tenant):
    """The partner as stored now (with its managers' emails)."""

    def _stored(partner_or_pk):
        pk = getattr(partner_or_pk, "pk", partner_or_pk)
        with tenant_context(tenant):
            found = Partner.objects.select_related("tier").get(pk=pk)
            found.manager_emails = sorted(u.email for u in partner_managers(partner_ids=[pk])[pk])
            return found

    return _stored


@pytest.fixture
def partner_count(tenant):
    def _count() -> int:
        with tenant_context(tenant):
            return Partner.objects.count()

    return _count


def read_csv(response) -> tuple[list[str], list[dict[str, str]]]:
    content = b"".join(response.streaming_content).decode()
    reader = csv.reader(io.StringIO(content))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


@pytest.fixture
def currencies(tenant):
    """Acme's program takes USD and EUR."""
    from deals import services as deal_services

    with tenant_context(tenant):
        rules = deal_services.engagement_rules()
        rules.allowed_currencies = ["USD", "EUR"]
        rules.save()
    return ["USD", "EUR"]
