"""partners.notifications.notify, the facility every app's handlers use."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail

from partners import notifications
from partners.models import Membership, Notification
from partners.tasks import send_notification_email
from partners.tenancy import CrossTenantReference, tenant_context

pytestmark = pytest.mark.django_db


def _notify(tenant, **kwargs) -> list[Notification]:
    values = {"kind": "test.news", "title": "Quarterly review", "url": "portal/"}
    values.update(kwargs)
    with tenant_context(tenant):
        return notifications.notify(**values)


def test_it_notifies_each_active_recipient_once_and_emails_each_once(
    tenant, partner_rep, partner_admin, colleague_rep, delivered
):
    with tenant_context(tenant):
        Membership.objects.filter(pk=colleague_rep.pk).update(is_active=False)
        colleague_rep.refresh_from_db()

    with delivered():
        made = _notify(tenant, recipients=[partner_rep, partner_admin, partner_rep, colleague_rep])

    assert sorted(n.recipient_id for n in made) == sorted([partner_rep.pk, partner_admin.pk])
    assert sorted(m.to[0] for m in mail.outbox) == ["padmin@northwind.test", "rep@northwind.test"]
    with tenant_context(tenant):
        assert Notification.objects.filter(emailed_at__isnull=True).count() == 0


def test_without_email_it_only_writes_the_inbox(tenant, partner_rep, delivered):
    with delivered():
        _notify(tenant, recipients=[partner_rep], email=False)

    assert mail.outbox == []


def test_nothing_is_emailed_when_the_transaction_rolls_back(
    tenant, partner_rep, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        tenant_context(tenant),
    ):
        notifications.notify(recipients=[partner_rep], kind="k", title="t")
        raise RuntimeError("the handler failed after notifying")

    assert mail.outbox == []
    with tenant_context(tenant):
        assert not Notification.objects.exists()


def test_it_refuses_a_recipient_of_another_tenant(tenant, partner_rep, outsider):
    with pytest.raises(CrossTenantReference):
        _notify(tenant, recipients=[partner_rep, outsider])

    with tenant_context(tenant):
        assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "a\\b"]
)
def test_it_refuses_a_link_that_leaves_the_tenant(tenant, partner_rep, url):
    with pytest.raises(notifications.UnsafeNotificationLink):
        _notify(tenant, recipients=[partner_rep], url=url)


def test_a_leading_slash_is_dropped_from_the_link(tenant, partner_rep):
    [notice] = _notify(tenant, recipients=[partner_rep], url="/deals/3/", email=False)

    assert notice.url == "deals/3/"


def test_an_email_that_fails_is_retried_and_sent_once(tenant, partner_rep, delivered, monkeypatch):
    from django.core.mail import send_mail as real_send_mail

    attempts = []

    def flaky_send_mail(*args, **kwargs):
        attempts.append(args[0])
        if len(attempts) == 1:
            raise smtplib.SMTPServerDisconnected("mail server went away")
        return real_send_mail(*args, **kwargs)

    monkeypatch.setattr("partners.notifications.send_mail", flaky_send_mail)

    with delivered():
        [notice] = _notify(tenant, recipients=[partner_rep])

    assert len(attempts) == 2
    assert [m.to for m in mail.outbox] == [["rep@northwind.test"]]
    with tenant_context(tenant):
        notice.refresh_from_db()
    assert notice.emailed_at is not None


def test_the_email_task_run_twice_sends_one_email(tenant, partner_rep, delivered):
    with delivered():
        [notice] = _notify(tenant, recipients=[partner_rep])

    assert send_notification_email.apply(args=(tenant.pk, notice.pk)).get() is False
    assert len(mail.outbox) == 1


def test_a_member_deactivated_before_the_email_goes_out_gets_none(
    tenant, partner_rep, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        [notice] = _notify(tenant, recipients=[partner_rep])
    with tenant_context(tenant):
        Membership.objects.filter(pk=partner_rep.pk).update(is_active=False)

    assert len(callbacks) == 1
    assert send_notification_email.apply(args=(tenant.pk, notice.pk)).get() is False
    assert mail.outbox == []


def test_members_with_permission_follows_the_role_table(
    tenant, tenant_admin, channel_manager, finance, partner_admin, partner_rep, contoso_rep,
    partner,
):  # fmt: skip
    with tenant_context(tenant):
        reviewers = notifications.members_with_permission("deals.review_deal", staff=True)
        responders = notifications.members_with_permission(
            "deals.respond_lead", partner_id=partner.pk
        )

    assert {m.user.email for m in reviewers} == {"admin@acme.test", "manager@acme.test"}
    assert {m.user.email for m in responders} == {"padmin@northwind.test", "rep@northwind.test"}
