"""Fixtures of the partners page tests: more roles, a second partner organization of Acme,
invitations, and running on-commit callbacks (the emails) as a real commit would."""

from __future__ import annotations

import functools

import pytest

from partners import services
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory


@pytest.fixture
def member(tenant):
    """A membership of Acme with any role: ``member("analyst")``."""

    def _member(role: str, **kwargs):
        email = kwargs.pop("email", f"{role}@acme.test")
        return MembershipFactory(tenant=tenant, role=role, user__email=email, **kwargs)

    return _member


@pytest.fixture
def analyst(member):
    return member("analyst")


@pytest.fixture
def invite(tenant):
    """Issue an invitation as ``actor`` through the service; returns the IssuedInvitation."""

    def _invite(actor, email: str, role: str, partner=None):
        with tenant_context(tenant, actor):
            return services.invitation_create(actor=actor, email=email, role=role, partner=partner)

    return _invite


@pytest.fixture
def quiet_events(monkeypatch):
    """Outbox events still get written; only the Celery hand-off after commit is skipped."""

    class _NoDispatch:
        @staticmethod
        def delay(*args, **kwargs):
            return None

    monkeypatch.setattr("partners.tasks.dispatch_event", _NoDispatch)


@pytest.fixture
def committing(django_capture_on_commit_callbacks, quiet_events):
    """``with committing(): client.post(...)`` runs the on-commit callbacks (emails) of the
    block, which the test transaction would otherwise never run."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)
