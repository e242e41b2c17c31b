"""Admin writes go through the services, in the right tenant, as the right actor."""

import pytest
from django.core import mail

from partners import services
from partners.models import ApiToken, Invitation, Membership, OutboxEvent, Partner
from partners.tenancy import dangerously_all_tenants, tenant_context

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin"


def _membership_form(membership, **changes):
    data = {
        "role": membership.role,
        "partner": membership.partner_id or "",
        "is_active": "on" if membership.is_active else "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_changing_a_role_goes_through_the_service(as_acme_admin, channel_manager, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/membership/{channel_manager.pk}/change/",
        _membership_form(channel_manager, role="finance"),
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Membership.objects.get(pk=channel_manager.pk).role == "finance"
        event = OutboxEvent.objects.filter(name="membership.changed").get()
    assert event.payload["membership_id"] == channel_manager.pk
    with tenant_context(tenant):
        history = Membership.objects.get(pk=channel_manager.pk).history.first()
    assert history.history_user.email == "admin@acme.test"


def test_deactivating_a_member(as_acme_admin, partner_rep, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/membership/{partner_rep.pk}/change/",
        _membership_form(partner_rep, is_active=""),
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Membership.objects.get(pk=partner_rep.pk).is_active is False


def test_a_partner_role_without_a_partner_is_a_form_error(as_acme_admin, channel_manager, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/membership/{channel_manager.pk}/change/",
        _membership_form(channel_manager, role="partner_rep"),
    )
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors
    with tenant_context(tenant):
        assert Membership.objects.get(pk=channel_manager.pk).role == "channel_manager"


def test_a_tenant_admin_cannot_demote_themselves(as_acme_admin, tenant_admin, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/membership/{tenant_admin.pk}/change/",
        _membership_form(tenant_admin, role="analyst"),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    with tenant_context(tenant):
        assert Membership.objects.get(pk=tenant_admin.pk).role == "tenant_admin"


def test_a_membership_cannot_be_moved_to_another_tenants_partner(
    as_acme_admin, partner_rep, umbrella, tenant
):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/membership/{partner_rep.pk}/change/",
        _membership_form(partner_rep, partner=umbrella.pk),
    )
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors
    with tenant_context(tenant):
        assert Membership.objects.get(pk=partner_rep.pk).partner_id == partner_rep.partner_id


def test_inviting_from_the_admin_creates_and_emails_an_invitation(
    as_acme_admin, partner, tenant, tenant_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_acme_admin.post(
            f"{ADMIN}/partners/invitation/add/",
            {"email": "New.Person@Northwind.test", "role": "partner_admin", "partner": partner.pk},
        )
    assert response.status_code == 302
    with tenant_context(tenant):
        invitation = Invitation.objects.get()
    assert invitation.email == "new.person@northwind.test"
    assert invitation.tenant_id == tenant.pk
    assert invitation.invited_by_id == tenant_admin.user_id
    assert invitation.token_hash
    assert [message.to for message in mail.outbox] == [["new.person@northwind.test"]]


def test_inviting_someone_who_is_already_a_member_is_refused_with_a_message(
    as_acme_admin, partner_rep, partner, tenant
):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/invitation/add/",
        {"email": "rep@northwind.test", "role": "partner_rep", "partner": partner.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "already a member" in " ".join(str(m) for m in response.context["messages"])
    with tenant_context(tenant):
        assert not Invitation.objects.exists()


def test_revoking_invitations_with_the_admin_action(as_acme_admin, acme_invitation, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/invitation/",
        {"action": "revoke_invitations", "_selected_action": [acme_invitation.pk]},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Invitation.objects.get(pk=acme_invitation.pk).state == "revoked"


def test_the_revoke_action_cannot_reach_another_tenants_invitation(
    as_acme_admin, globex_invitation, other_tenant
):
    as_acme_admin.post(
        f"{ADMIN}/partners/invitation/",
        {"action": "revoke_invitations", "_selected_action": [globex_invitation.pk]},
    )
    with tenant_context(other_tenant):
        assert Invitation.objects.get(pk=globex_invitation.pk).state == "pending"


def test_revoking_api_tokens_with_the_admin_action(as_acme_admin, partner_rep, tenant):
    with tenant_context(tenant, partner_rep):
        issued = services.api_token_issue(actor=partner_rep, name="CRM sync")
    changelist = as_acme_admin.get(f"{ADMIN}/partners/apitoken/")
    assert issued.token.prefix.encode() in changelist.content
    assert issued.key.encode() not in changelist.content
    response = as_acme_admin.post(
        f"{ADMIN}/partners/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [issued.token.pk]},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None


def test_api_tokens_outbox_and_runs_are_read_only(as_acme_admin, partner_rep, tenant):
    with tenant_context(tenant, partner_rep):
        token = services.api_token_issue(actor=partner_rep, name="CRM sync").token
        event = OutboxEvent.objects.first()
    assert as_acme_admin.get(f"{ADMIN}/partners/apitoken/add/").status_code == 403
    view = as_acme_admin.get(f"{ADMIN}/partners/apitoken/{token.pk}/change/")
    assert view.status_code == 200
    assert b'name="name"' not in view.content  # shown, not editable
    assert (
        as_acme_admin.post(
            f"{ADMIN}/partners/apitoken/{token.pk}/change/", {"name": "renamed"}
        ).status_code
        == 403
    )
    assert as_acme_admin.get(f"{ADMIN}/partners/outboxevent/{event.pk}/change/").status_code == 200
    assert as_acme_admin.get(f"{ADMIN}/partners/outboxevent/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/partners/automationrun/add/").status_code == 403


def test_the_outbox_can_be_filtered_by_event_name(as_acme_admin, partner_rep, tenant):
    with tenant_context(tenant, partner_rep):
        services.api_token_issue(actor=partner_rep, name="CRM sync")
        services.partner_create(actor=None, name="Contoso", domain="contoso.test")
    response = as_acme_admin.get(f"{ADMIN}/partners/outboxevent/", {"name": "partner.created"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


# ---------------------------------------------------------------- operators


def test_an_operator_creates_a_partner_in_the_chosen_tenant(as_operator, other_tenant, tenant):
    response = as_operator.post(
        "/admin/partners/partner/add/",
        {
            "owner_tenant": other_tenant.pk,
            "name": "Initech",
            "domain": "initech.test",
            "status": "active",
        },
    )
    assert response.status_code == 302
    with dangerously_all_tenants():
        initech = Partner.objects.get(name="Initech")
    assert initech.tenant_id == other_tenant.pk


def test_an_operator_must_pick_the_tenant_of_a_new_row(as_operator):
    response = as_operator.post(
        "/admin/partners/partner/add/",
        {"name": "Initech", "domain": "initech.test", "status": "active"},
    )
    assert response.status_code == 200
    assert "owner_tenant" in response.context["adminform"].form.errors


def test_an_operator_cannot_join_a_user_to_another_tenants_partner(as_operator, tenant, umbrella):
    from tests.factories import UserFactory

    user = UserFactory(email="someone@example.test")
    response = as_operator.post(
        "/admin/partners/membership/add/",
        {"owner_tenant": tenant.pk, "user": user.pk, "role": "partner_rep", "partner": umbrella.pk},
    )
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors
    with dangerously_all_tenants():
        assert not Membership.objects.filter(user=user).exists()


def test_an_operator_adds_a_membership_through_the_service(as_operator, tenant, partner):
    from tests.factories import UserFactory

    user = UserFactory(email="someone@example.test")
    response = as_operator.post(
        "/admin/partners/membership/add/",
        {"owner_tenant": tenant.pk, "user": user.pk, "role": "partner_rep", "partner": partner.pk},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        membership = Membership.objects.get(user=user)
        assert OutboxEvent.objects.filter(name="membership.created").exists()
    assert membership.partner_id == partner.pk


def test_an_operator_invites_only_within_the_chosen_tenant(
    as_operator, tenant, other_tenant, globex_invitation
):
    # The same email has a pending invitation at globex; inviting it to acme must not
    # revoke globex's (the service's duplicate handling stays inside one tenant).
    response = as_operator.post(
        "/admin/partners/invitation/add/",
        {"owner_tenant": tenant.pk, "email": "new.rep@umbrella.test", "role": "analyst"},
    )
    assert response.status_code == 302
    with tenant_context(other_tenant):
        assert Invitation.objects.get(pk=globex_invitation.pk).state == "pending"
    with tenant_context(tenant):
        assert Invitation.objects.get(email="new.rep@umbrella.test").state == "pending"


def test_an_operator_creates_a_tenant_through_the_service(as_operator):
    response = as_operator.post(
        "/admin/partners/tenant/add/",
        {
            "name": "Initech",
            "slug": "initech",
            "default_currency": "GBP",
            "time_zone": "Europe/London",
            "settings": "{}",
        },
    )
    assert response.status_code == 302
    from partners.models import Tenant

    assert Tenant.objects.get(slug="initech").default_currency == "GBP"


def test_an_operator_revokes_a_token_of_any_tenant(as_operator, globex_rep, other_tenant):
    with tenant_context(other_tenant, globex_rep):
        token = services.api_token_issue(actor=globex_rep, name="ERP").token
    response = as_operator.post(
        "/admin/partners/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    with tenant_context(other_tenant):
        assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
