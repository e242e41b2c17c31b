"""In-app notifications (and their emails): a platform facility every app reuses.

An app tells people about something from an outbox handler (see ``partners.events``)::

    notifications.notify(
        recipients=notifications.members_with_permission("deals.review_deal", staff=True),
        kind="deal.submitted", title=..., body=..., url=f"console/deals/{deal.pk}/", event=event,
    )

``notify`` writes one row per recipient in the caller's transaction (the handler's, so the
rows commit with the handler's acknowledgement) and, once that commits, enqueues one email
per recipient (``partners.send_notification_email``: retried, and sent at most once per row).
People read them at ``/t/<slug>/notifications/``, see the unread count in the header, and
through ``/api/v1/notifications/``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Membership, Notification, OutboxEvent
from partners.permissions import role_permissions
from partners.roles import PARTNER_ROLES, STAFF_ROLES
from partners.tenancy import CrossTenantReference, require_tenant

TITLE_MAX = 200


class UnsafeNotificationLink(ValueError):
    """A notification link that is not a plain path inside the tenant."""


def tenant_path(url: str) -> str:
    """``url`` as a path relative to the tenant root (``deals/12/``).

    Absolute addresses, scheme-relative ``//host`` links and backslashes are refused: the
    link is rendered under the tenant's prefix in pages and emails and must stay there.
    """
    path = (url or "").strip()
    if "://" in path or path.startswith("//") or "\\" in path or ":" in path.split("/", 1)[0]:
        raise UnsafeNotificationLink(f"not a path inside the tenant: {url!r}")
    return path.lstrip("/")


# ---------------------------------------------------------------- recipients


def members_with_permission(
    perm: str, *, partner_id: int | None = None, staff: bool = False
) -> list[Membership]:
    """Active members of the current tenant whose role holds ``perm``.

    ``partner_id`` narrows to one partner organization's people; ``staff=True`` to vendor
    staff. Roles come from the one role table (partners.roles), not from role names here.
    """
    roles = [role for role, perms in role_permissions().items() if perm in perms]
    if staff:
        roles = [role for role in roles if role in STAFF_ROLES]
    if partner_id is not None:
        roles = [role for role in roles if role in PARTNER_ROLES]
    queryset = Membership.objects.select_related("user").filter(
        role__in=roles, is_active=True, user__is_active=True
    )
    if partner_id is not None:
        queryset = queryset.filter(partner_id=partner_id)
    return list(queryset.order_by("pk"))


# ---------------------------------------------------------------- writes


def notify(
    *,
    recipients: Iterable[Membership],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    event: OutboxEvent | None = None,
    email: bool = True,
) -> list[Notification]:
    """Notify each recipient once (duplicates and inactive members are skipped).

    Runs in the caller's transaction; the emails are enqueued only once it commits, so a
    handler that fails (and rolls back) sends nothing and its retry sends them once.
    """
    tenant = require_tenant()
    path = tenant_path(url)
    unique: dict[int, Membership] = {}
    for membership in recipients:
        if membership.tenant_id != tenant.pk:
            raise CrossTenantReference(f"Membership {membership.pk} belongs to another tenant.")
        if membership.is_active:
            unique.setdefault(membership.pk, membership)
    if event is not None and event.tenant_id != tenant.pk:
        raise CrossTenantReference(f"Event {event.pk} belongs to another tenant.")
    if not unique:
        return []
    now = timezone.now()
    created = Notification.objects.bulk_create(
        Notification(
            tenant=tenant,
            recipient=membership,
            kind=kind,
            title=title.strip()[:TITLE_MAX],
            body=body.strip(),
            url=path,
            event=event,
            created_at=now,
        )
        for membership in unique.values()
    )
    if email:
        from partners.tasks import send_notification_email

        for notification in created:
            # robust: a broker outage must not undo the notification rows.
            transaction.on_commit(
                functools.partial(send_notification_email.delay, tenant.pk, notification.pk),
                robust=True,
            )
    return created


def mark_read(*, actor: Membership, notification: Notification) -> Notification:
    """Mark one of the actor's own notifications read (reading it again changes nothing)."""
    if notification.recipient_id != actor.pk:
        raise PermissionDenied(_("This notification is not yours."))
    if notification.read_at is None:
        now = timezone.now()
        updated = Notification.objects.filter(
            pk=notification.pk, recipient=actor, read_at__isnull=True
        ).update(read_at=now)
        if updated:
            notification.read_at = now
        else:  # read meanwhile (another tab): keep the first reading
            notification.refresh_from_db(fields=["read_at"])
    return notification


def mark_all_read(*, actor: Membership) -> int:
    """Mark every unread notification of the actor read; returns how many changed."""
    return Notification.objects.filter(recipient=actor, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def notification_email_send(*, notification_id: int) -> bool:
    """Send the email of one notification, once. Returns whether an email went out.

    The row is locked while the email is sent, so two deliveries of the task cannot both
    send it; a failure leaves ``emailed_at`` empty and the task retries.
    """
    notification = (
        Notification.objects.select_related("recipient__user", "tenant")
        .select_for_update(of=("self",))
        .filter(pk=notification_id, emailed_at__isnull=True)
        .first()
    )
    if notification is None:
        return False
    recipient = notification.recipient
    if not recipient.is_active or not recipient.user.is_active:
        return False
    tenant = notification.tenant
    tenant_root = f"{settings.SITE_URL.rstrip('/')}/t/{tenant.slug}/"
    context = {
        "notification": notification,
        "tenant": tenant,
        "recipient": recipient.user,
        "url": f"{tenant_root}{notification.url}" if notification.url else "",
        "inbox_url": f"{tenant_root}notifications/",
    }
    subject = f"[{tenant.name}] {notification.title}".replace("\n", " ")
    body = render_to_string("emails/notification.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.user.email])
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return True


# ---------------------------------------------------------------- reads


def notification_list(*, actor: Membership, unread_only: bool = False) -> QuerySet[Notification]:
    """The actor's own notifications, newest first. Nobody reads another member's."""
    queryset = Notification.objects.filter(recipient=actor)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-id")


def unread_count(*, actor: Membership) -> int:
    """One COUNT over the inbox index."""
    return Notification.objects.filter(recipient=actor, read_at__isnull=True).count()
