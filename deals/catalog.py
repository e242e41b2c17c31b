"""The tenant's product catalog: who sees which products, and the writes of tenant admins.

Deal lines pick their products from here. Partner users see the active products only (the
ones they may put on a registration); vendor staff with ``deals.view_product`` see every
product, retired ones included, so old deals still explain themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from deals.models import Product
from partners import events
from partners.models import Membership
from partners.money import MAX_AMOUNT, quantize
from partners.permissions import membership_permissions
from partners.tenancy import require_tenant

#: Fields of a product a tenant admin may change.
PRODUCT_FIELDS = ("sku", "name", "category", "list_price", "currency", "active")


def product_list(*, actor: Membership) -> QuerySet[Product]:
    """The products ``actor`` may see (scoped to the tenant by the manager)."""
    queryset = Product.objects.all()
    if actor.is_partner_member:
        queryset = queryset.filter(active=True)
    return queryset.order_by("name", "id")


def product_search(queryset: QuerySet[Product], term: str) -> QuerySet[Product]:
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(Q(sku__icontains=term) | Q(name__icontains=term))


@dataclass
class ProductInput:
    sku: str
    name: str
    list_price: Decimal
    currency: str
    category: str = ""
    active: bool = True


def _require_perm(actor: Membership, perm: str) -> None:
    if perm not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


def _clean(values: dict, *, product_id: int | None) -> dict:
    """Check a product's values; raise ValidationError with every field's reason."""
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    sku = (values.get("sku") or "").strip()
    if not sku:
        errors["sku"] = [_("Enter the SKU.")]
    elif len(sku) > 64:
        errors["sku"] = [_("A SKU has at most 64 characters.")]
    elif Product.objects.filter(sku=sku).exclude(pk=product_id or 0).exists():
        errors["sku"] = [_("Another product already has this SKU.")]
    cleaned["sku"] = sku
    name = (values.get("name") or "").strip()
    if not name:
        errors["name"] = [_("Enter the product's name.")]
    cleaned["name"] = name[:200]
    cleaned["category"] = (values.get("category") or "").strip()[:100]
    currency = (values.get("currency") or "").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        errors["currency"] = [_("Use a three-letter ISO 4217 code, such as USD or EUR.")]
    cleaned["currency"] = currency
    price = values.get("list_price")
    if not isinstance(price, Decimal) or not price.is_finite():
        errors["list_price"] = [_("Enter the list price.")]
    elif price < 0 or price > MAX_AMOUNT:
        errors["list_price"] = [_("The list price is out of range.")]
    elif "currency" not in errors:
        cleaned["list_price"] = quantize(price, currency)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _save(product: Product) -> None:
    # The SKU check above reads before it writes; two admins saving the same SKU at once
    # meet the unique constraint, which answers the same field error instead of a 500.
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        raise ValidationError({"sku": [_("Another product already has this SKU.")]}) from None


def _payload(product: Product) -> dict:
    return {
        "product_id": product.pk,
        "sku": product.sku,
        "list_price": str(product.list_price),
        "currency": product.currency,
        "active": product.active,
    }


@transaction.atomic
def product_create(*, actor: Membership, data: ProductInput) -> Product:
    """A tenant admin adds a product to the catalog."""
    _require_perm(actor, "deals.add_product")
    cleaned = _clean({name: getattr(data, name) for name in PRODUCT_FIELDS}, product_id=None)
    product = Product(tenant=require_tenant(), **cleaned)
    _save(product)
    events.record(tenant=product.tenant, name="product.created", payload=_payload(product))
    return product


@transaction.atomic
def product_update(*, actor: Membership, product: Product, changes: dict) -> Product:
    """A tenant admin changes some of a product's fields (``changes``: name -> new value).

    Deal lines keep the unit price they were registered with, so a new list price applies
    to registrations made from now on only.
    """
    _require_perm(actor, "deals.change_product")
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    product = Product.objects.select_for_update().filter(pk=product.pk).first()
    if product is None:
        raise Http404
    current = {name: getattr(product, name) for name in PRODUCT_FIELDS}
    cleaned = _clean({**current, **changes}, product_id=product.pk)
    if cleaned == current:
        return product
    for name, value in cleaned.items():
        setattr(product, name, value)
    _save(product)
    events.record(tenant=require_tenant(), name="product.updated", payload=_payload(product))
    return product
