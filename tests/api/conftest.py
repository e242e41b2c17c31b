"""Fixtures of the API tests: clients authenticated as a membership, a second partner
organization of the tenant, and invitations and tokens made directly in their tenant."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from partners import services
from partners.models import Invitation
from partners.selectors import hash_secret
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def issue_token():
    """Issue an API token for a membership; returns services.IssuedToken (key and row)."""

    def _issue(membership, name="test token"):
        with tenant_context(membership.tenant, membership):
            return services.api_token_issue(actor=membership, name=name)

    return _issue


@pytest.fixture
def api_as(issue_token):
    """An APIClient that sends a fresh token of ``membership``."""

    def _as(membership):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(membership).key}")
        return client

    return _as


@pytest.fixture
def session_as():
    """An APIClient signed in with the session (CSRF enforced, like a browser)."""

    def _as(membership, enforce_csrf_checks=True):
        client = APIClient(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(membership.user, backend="partners.permissions.MembershipBackend")
        return client

    return _as


@pytest.fixture
def other_partner(tenant):
    return PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")


@pytest.fixture
def other_partner_admin(tenant, other_partner):
    return MembershipFactory(
        tenant=tenant,
        role="partner_admin",
        partner=other_partner,
        user__email="padmin@contoso.test",
    )


@pytest.fixture
def analyst(tenant):
    return MembershipFactory(tenant=tenant, role="analyst", user__email="analyst@acme.test")


@pytest.fixture
def make_invitation():
    """A pending invitation row, written directly in its tenant (no email is sent)."""

    def _make(tenant, email, role="partner_rep", partner=None, invited_by=None, **extra):
        values = {
            "tenant": tenant,
            "email": email,
            "role": role,
            "partner": partner,
            "token_hash": hash_secret(secrets.token_urlsafe(32)),
            "invited_by": invited_by,
            "expires_at": timezone.now() + timedelta(days=7),
            **extra,
        }
        with tenant_context(tenant):
            return Invitation.objects.create(**values)

    return _make


@pytest.fixture
def in_tenant():
    """``with in_tenant(tenant): ...`` to read rows back in a test."""
    return tenant_context
