"""CSV export of a deals list, one format for the console page and the API: the rows the
actor may see, with the list's filters and order.

The file streams, row by row, from a server-side cursor, so an export of a large program does
not sit in memory. Streaming happens after the view has returned, outside the request's tenant
context, so the generator opens its own ``tenant_context`` for the rows it reads.

Amounts are written as the Decimal's text (``1250.00``), never through a float. Text cells
that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return)
are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone

from deals.models import Deal
from partners.models import Membership, Tenant
from partners.partner_csv import formula_safe
from partners.tenancy import tenant_context

COLUMNS = [
    "id",
    "external_id",
    "status",
    "customer_name",
    "customer_domain",
    "country",
    "contact_name",
    "contact_email",
    "contact_phone",
    "currency",
    "total",
    "expected_close_date",
    "stage",
    "deal_type",
    "direct",
    "partner_id",
    "partner",
    "registered_by",
    "created_at",
    "submitted_at",
    "decided_at",
    "protection_ends_at",
    "won_amount",
    "closed_on",
    "lost_reason",
]

_CHUNK = 2000


class _Echo:
    """A file-like object whose write returns what it was given (csv.writer -> str)."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _row(deal: Deal, viewer: Membership) -> list[str]:
    # The same rule as the JSON payload: a partner user sees their own organization and
    # people only, never another partner's name or conflict counts.
    sees_registrant = not viewer.is_partner_member or deal.partner_id == viewer.partner_id
    partner = deal.partner if sees_registrant else None
    registrant = deal.registered_by if sees_registrant else None
    return [
        _cell(deal.pk),
        formula_safe(deal.external_id),
        deal.status,
        formula_safe(deal.customer_name),
        formula_safe(deal.customer_domain),
        deal.country,
        formula_safe(deal.contact_name),
        formula_safe(deal.contact_email),
        formula_safe(deal.contact_phone),
        deal.currency,
        _cell(deal.total),
        _cell(deal.expected_close_date),
        deal.stage,
        deal.deal_type,
        _cell(deal.is_direct),
        _cell(partner.pk if partner else None),
        formula_safe(partner.name) if partner else "",
        formula_safe(registrant.email) if registrant else "",
        _cell(deal.created_at),
        _cell(deal.submitted_at),
        _cell(deal.decided_at),
        _cell(deal.protection_ends_at),
        _cell(deal.won_amount),
        _cell(deal.closed_on),
        formula_safe(deal.lost_reason.name) if deal.lost_reason else "",
    ]


def deals_csv(queryset: QuerySet[Deal], *, viewer: Membership, tenant: Tenant) -> Iterator[str]:
    """Lines of the CSV file of ``queryset`` (already scoped, filtered and ordered)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    with tenant_context(tenant, viewer):
        for deal in queryset.iterator(chunk_size=_CHUNK):
            yield writer.writerow(_row(deal, viewer))


def export_filename(tenant: Tenant) -> str:
    return f"deals-{tenant.slug}-{timezone.localdate().isoformat()}.csv"
