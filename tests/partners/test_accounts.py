"""Accounts through the HTTP client: signing in and out, password reset, invitations end to
end, bad input, and the lockout after repeated failures."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from partners.models import Invitation, Membership, User
from partners.tenancy import dangerously_all_tenants, tenant_context
from tests.factories import DEMO_PASSWORD, MembershipFactory, UserFactory
from tests.partners.html import text

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "violet-harbour-1729"


def _link_in(message, path_start: str) -> str:
    """The path of the first link in an email that starts with ``path_start``."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S*)", message.body)
    assert match, message.body
    return match.group(1)


def _count(model, **filters) -> int:
    with dangerously_all_tenants():
        return model.objects.filter(**filters).count()


# ---------------------------------------------------------------- signing in and out


def test_login_by_email_takes_a_one_tenant_user_to_their_tenant(client, channel_manager):
    response = client.post(
        "/accounts/login/",
        {"username": "Manager@Acme.test", "password": DEMO_PASSWORD},
        follow=True,
    )
    assert ("/t/acme/", 302) in response.redirect_chain
    assert response.redirect_chain[-1] == ("/t/acme/console/", 302)
    assert channel_manager.user.full_name in text(response)


def test_login_takes_a_two_tenant_user_to_the_tenant_chooser(client, channel_manager, other_tenant):
    MembershipFactory(tenant=other_tenant, role="finance", user=channel_manager.user)
    response = client.post(
        "/accounts/login/",
        {"username": "manager@acme.test", "password": DEMO_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1] == ("/accounts/tenants/", 302)
    html = response.content.decode()
    assert 'href="/t/acme/"' in html
    assert 'href="/t/globex/"' in html
    assert "Channel manager" in text(response) and "Finance" in text(response)


def test_login_follows_next_to_the_page_that_was_asked_for(client, tenant_admin):
    first = client.get("/t/acme/people/")
    assert first.status_code == 302
    assert first["Location"] == "/accounts/login/?next=/t/acme/people/"
    response = client.post(
        first["Location"], {"username": "admin@acme.test", "password": DEMO_PASSWORD}
    )
    assert response["Location"] == "/t/acme/people/"


def test_wrong_password_shows_a_form_error(client, channel_manager):
    response = client.post(
        "/accounts/login/", {"username": "manager@acme.test", "password": "not-it"}
    )
    assert response.status_code == 400
    assert "Please enter a correct" in text(response)
    assert "_auth_user_id" not in client.session


def test_login_page_offers_the_forgotten_password_link(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'href="/accounts/password-reset/"' in response.content.decode()


def test_logout_signs_the_person_out(login, channel_manager):
    client = login(channel_manager)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/t/acme/console/")["Location"].startswith("/accounts/login/")


def test_tenant_chooser_tells_a_person_without_memberships_how_to_get_access(client):
    user = UserFactory(email="lonely@example.test")
    client.force_login(user, backend="partners.permissions.MembershipBackend")
    response = client.get("/accounts/tenants/")
    assert response.status_code == 200
    assert "does not have access to any partner program" in text(response)


# ---------------------------------------------------------------- password reset


def test_password_reset_end_to_end(client, partner_rep):
    form = client.get("/accounts/password-reset/")
    assert form.status_code == 200
    response = client.post("/accounts/password-reset/", {"email": "rep@northwind.test"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rep@northwind.test"]
    assert "Trellis" in message.subject

    link = _link_in(message, "/accounts/reset/")
    set_password_page = client.get(link, follow=True)
    assert set_password_page.status_code == 200
    set_password_url = set_password_page.redirect_chain[-1][0]
    done = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done["Location"] == "/accounts/reset/done/"
    assert client.get(done["Location"]).status_code == 200

    signed_in = client.post(
        "/accounts/login/",
        {"username": "rep@northwind.test", "password": NEW_PASSWORD},
        follow=True,
    )
    assert signed_in.redirect_chain[-1] == ("/t/acme/portal/", 302)

    # The link works once.
    reused = client.get(link, follow=True)
    assert "can no longer be used" in text(reused)


def test_password_reset_for_an_unknown_email_says_the_same_and_sends_nothing(client, db):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.test"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_password_reset_without_an_email_is_a_400(client, db):
    response = client.post("/accounts/password-reset/", {"email": ""})
    assert response.status_code == 400
    assert mail.outbox == []


def test_password_reset_with_mismatched_passwords_is_a_400_and_keeps_the_old_one(
    client, partner_rep
):
    client.post("/accounts/password-reset/", {"email": "rep@northwind.test"})
    set_password_url = client.get(_link_in(mail.outbox[0], "/accounts/reset/"), follow=True)
    response = client.post(
        set_password_url.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"},
    )
    assert response.status_code == 400
    partner_rep.user.refresh_from_db()
    assert partner_rep.user.check_password(DEMO_PASSWORD)


# ---------------------------------------------------------------- invitations end to end


def test_tenant_admin_invites_a_channel_manager_who_joins_and_lands_on_the_console(
    client, login, tenant_admin, committing
):
    admin_client = login(tenant_admin)
    form = admin_client.get("/t/acme/people/invite/")
    assert form.status_code == 200
    with committing():
        response = admin_client.post(
            "/t/acme/people/invite/",
            {"email": "New.Manager@acme.test", "role": "channel_manager"},
            follow=True,
        )
    assert response.redirect_chain == [("/t/acme/people/", 302)]
    assert "Invitation sent to new.manager@acme.test." in text(response)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.manager@acme.test"]
    assert "Acme" in message.subject
    assert "Channel manager" in message.body
    link = _link_in(message, "/accounts/invite/")

    admin_client.post("/accounts/logout/")
    invitee = client  # the same test client, now signed out
    page = invitee.get(link)
    assert page.status_code == 200
    assert "new.manager@acme.test" in text(page)
    response = invitee.post(
        link,
        {"full_name": "Nia Newman", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain == [("/t/acme/", 302), ("/t/acme/console/", 302)]
    page = text(response)
    assert "Nia Newman" in page
    assert "Channel manager" in page
    assert "Welcome to Acme." in page

    with tenant_context(tenant_admin.tenant):
        membership = Membership.objects.get(user__email="new.manager@acme.test")
        invitation = Invitation.objects.get(email="new.manager@acme.test")
    assert membership.role == "channel_manager"
    assert membership.partner is None
    assert invitation.state == "accepted"
    assert invitation.accepted_by == membership.user
    assert membership.user.check_password(NEW_PASSWORD)


def test_partner_admin_invites_a_colleague_into_their_own_organization(
    login, partner_admin, contoso, committing
):
    client = login(partner_admin)
    form = client.get("/t/acme/people/invite/")
    assert form.status_code == 200
    html = form.content.decode()
    roles = set(re.findall(r'<option value="([a-z_]+)"', html))
    assert roles == {"partner_admin", "partner_rep"}
    assert 'name="partner"' not in html

    with committing():
        response = client.post(
            "/t/acme/people/invite/",
            # A partner of its choosing is ignored: the inviter's organization is forced.
            {"email": "colleague@northwind.test", "role": "partner_rep", "partner": contoso.pk},
        )
    assert response.status_code == 302
    with tenant_context(partner_admin.tenant):
        invitation = Invitation.objects.get(email="colleague@northwind.test")
    assert invitation.partner_id == partner_admin.partner_id
    assert invitation.role == "partner_rep"
    assert "Northwind" in mail.outbox[0].body


@pytest.mark.parametrize("role", ["channel_manager", "tenant_admin", "analyst"])
def test_partner_admin_cannot_invite_to_a_staff_role(login, partner_admin, role):
    response = login(partner_admin).post(
        "/t/acme/people/invite/", {"email": "boss@northwind.test", "role": role}
    )
    assert response.status_code == 400
    assert _count(Invitation) == 0


def test_channel_manager_may_invite_partner_users_but_not_staff(login, channel_manager, partner):
    client = login(channel_manager)
    staff = client.post("/t/acme/people/invite/", {"email": "x@acme.test", "role": "finance"})
    assert staff.status_code == 400
    assert _count(Invitation) == 0
    partner_user = client.post(
        "/t/acme/people/invite/",
        {"email": "y@northwind.test", "role": "partner_admin", "partner": partner.pk},
    )
    assert partner_user.status_code == 302
    assert _count(Invitation, partner=partner, role="partner_admin") == 1


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"role": "channel_manager"}, id="missing email"),
        pytest.param({"email": "not-an-email", "role": "channel_manager"}, id="invalid email"),
        pytest.param({"email": "x@acme.test", "role": "emperor"}, id="unknown role"),
        pytest.param({"email": "x@acme.test"}, id="missing role"),
        pytest.param(
            {"email": "x@northwind.test", "role": "partner_rep"}, id="partner role without partner"
        ),
        pytest.param({}, id="empty form"),
    ],
)
def test_invitation_with_bad_input_is_a_400_and_writes_nothing(login, tenant_admin, data):
    response = login(tenant_admin).post("/t/acme/people/invite/", data)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert _count(Invitation) == 0
    assert mail.outbox == []


def test_staff_role_with_a_partner_is_a_400(login, tenant_admin, partner):
    response = login(tenant_admin).post(
        "/t/acme/people/invite/",
        {"email": "x@acme.test", "role": "finance", "partner": partner.pk},
    )
    assert response.status_code == 400
    assert "Vendor staff do not belong to a partner." in text(response)
    assert _count(Invitation) == 0


def test_inviting_someone_who_is_already_a_member_is_a_400(login, tenant_admin, channel_manager):
    response = login(tenant_admin).post(
        "/t/acme/people/invite/", {"email": "MANAGER@acme.test", "role": "finance"}
    )
    assert response.status_code == 400
    assert "already a member" in text(response)
    assert _count(Invitation) == 0


def test_an_expired_invitation_answers_410_and_creates_nothing(client, tenant_admin, invite):
    issued = invite(tenant_admin, "late@acme.test", "finance")
    with tenant_context(tenant_admin.tenant):
        Invitation.objects.filter(pk=issued.invitation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    url = f"/accounts/invite/{issued.token}/"
    assert client.get(url).status_code == 410
    response = client.post(
        url, {"full_name": "Lee Late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert "expired" in text(response)
    assert not User.objects.filter(email="late@acme.test").exists()
    assert _count(Membership, user__email="late@acme.test") == 0


def test_a_revoked_invitation_answers_410_and_creates_nothing(client, login, tenant_admin, invite):
    issued = invite(tenant_admin, "gone@acme.test", "finance")
    login(tenant_admin).post(f"/t/acme/people/invitations/{issued.invitation.pk}/revoke/")
    client.post("/accounts/logout/")
    url = f"/accounts/invite/{issued.token}/"
    assert client.get(url).status_code == 410
    response = client.post(
        url, {"full_name": "Gene Gone", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert "withdrawn" in text(response)
    assert not User.objects.filter(email="gone@acme.test").exists()


def test_an_invitation_link_cannot_be_used_twice(client, tenant_admin, invite):
    issued = invite(tenant_admin, "once@acme.test", "analyst")
    url = f"/accounts/invite/{issued.token}/"
    data = {"full_name": "Olive Once", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert client.post(url, data).status_code == 302
    client.post("/accounts/logout/")
    again = client.post(url, {**data, "full_name": "Mallory"})
    assert again.status_code == 410
    assert "already been accepted" in text(again)
    assert User.objects.get(email="once@acme.test").full_name == "Olive Once"
    assert _count(Membership, user__email="once@acme.test") == 1


def test_an_unknown_invitation_token_is_a_404(client, db):
    assert client.get("/accounts/invite/not-a-real-token/").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            {"full_name": "Ann", "password1": NEW_PASSWORD, "password2": "something-else-42"},
            id="mismatched passwords",
        ),
        pytest.param(
            {"full_name": "Ann", "password1": "password", "password2": "password"},
            id="common password",
        ),
        pytest.param({"full_name": "Ann", "password1": "12", "password2": "12"}, id="short"),
        pytest.param(
            {"full_name": "Ann", "password1": "joiner@acme", "password2": "joiner@acme"},
            id="too similar to the email",
        ),
        pytest.param(
            {"full_name": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            id="missing name",
        ),
        pytest.param({}, id="empty form"),
    ],
)
def test_accepting_with_bad_input_is_a_400_and_writes_nothing(client, tenant_admin, invite, data):
    issued = invite(tenant_admin, "joiner@acme.test", "analyst")
    response = client.post(f"/accounts/invite/{issued.token}/", data)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert not User.objects.filter(email="joiner@acme.test").exists()
    with tenant_context(tenant_admin.tenant):
        assert Invitation.objects.get(pk=issued.invitation.pk).state == "pending"
    assert "_auth_user_id" not in client.session


def test_an_existing_account_is_asked_to_sign_in_first_then_accepts(
    client, tenant_admin, other_tenant, invite
):
    elsewhere = MembershipFactory(
        tenant=other_tenant, role="finance", user__email="known@globex.test"
    )
    issued = invite(tenant_admin, "known@globex.test", "analyst")
    url = f"/accounts/invite/{issued.token}/"

    page = client.get(url)
    assert page.status_code == 200
    assert "Sign in first" in text(page)
    assert f'href="/accounts/login/?next={url}"' in page.content.decode().replace("%2F", "/")
    refused = client.post(
        url, {"full_name": "X", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert refused.status_code == 400
    elsewhere.user.refresh_from_db()
    assert elsewhere.user.check_password(DEMO_PASSWORD)
    assert _count(Membership, user=elsewhere.user) == 1

    signed_in = client.post(
        f"/accounts/login/?next={url}",
        {"username": "known@globex.test", "password": DEMO_PASSWORD, "next": url},
    )
    assert signed_in["Location"] == url
    accept_page = client.get(url)
    assert "Accept the invitation" in text(accept_page)
    accepted = client.post(url, follow=True)
    assert accepted.redirect_chain == [("/t/acme/", 302), ("/t/acme/console/", 302)]
    assert "Analyst" in text(accepted)
    assert _count(Membership, user=elsewhere.user) == 2


def test_someone_signed_in_as_another_person_cannot_accept(login, analyst, tenant_admin, invite):
    issued = invite(tenant_admin, "someone-else@acme.test", "finance")
    client = login(analyst)
    url = f"/accounts/invite/{issued.token}/"
    page = client.get(url)
    assert "this invitation is for someone-else@acme.test" in text(page)
    response = client.post(url)
    assert response.status_code == 400
    with tenant_context(tenant_admin.tenant):
        assert Invitation.objects.get(pk=issued.invitation.pk).state == "pending"
        assert Membership.objects.get(pk=analyst.pk).role == "analyst"


# ---------------------------------------------------------------- lockout


def test_axes_locks_the_account_out_after_the_failure_limit(client, channel_manager):
    limit = settings.AXES_FAILURE_LIMIT
    for _attempt in range(limit - 1):
        response = client.post(
            "/accounts/login/", {"username": "manager@acme.test", "password": "wrong"}
        )
        assert response.status_code == 400
    locked = client.post("/accounts/login/", {"username": "manager@acme.test", "password": "wrong"})
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in text(locked)
    assert "15 minutes" in text(locked)

    # Even the right password is refused while locked.
    right = client.post(
        "/accounts/login/", {"username": "manager@acme.test", "password": DEMO_PASSWORD}
    )
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
