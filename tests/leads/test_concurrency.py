"""Races in lead routing, with real threads and transactions and a barrier that lets them
reach the critical step together: two leads routed at once never overfill a partner, and two
people accepting the same offer at once make one registration."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from deals import leads, services
from deals.models import Deal, Lead, LeadOffer, LeadStatus
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(monkeypatch, name: str, *jobs) -> list[str]:
    """Run each job in its own thread; each waits at ``leads.<name>`` until all arrive."""
    barrier = threading.Barrier(len(jobs), timeout=20)
    real = getattr(leads, name)

    def meeting_point(*args, **kwargs):
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(leads, name, meeting_point)
    outcomes = [""] * len(jobs)

    def work(index, job):
        try:
            job()
            outcomes[index] = "ok"
        except ValidationError:
            outcomes[index] = "refused"
        except Exception as exc:  # pragma: no cover - reported by the assertion
            outcomes[index] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(leads, name, real)
    return outcomes


@pytest.mark.parametrize("attempt", range(3))
def test_two_leads_routed_at_once_never_overfill_a_partner(
    monkeypatch, tenant, routing_partner, channel_manager, attempt
):
    routing_partner("Solo", ["DE"], capacity=1)
    with tenant_context(tenant):
        services.engagement_rules()  # made once up front, not by both threads at the barrier

    def create(name):
        def job():
            with tenant_context(tenant, channel_manager):
                leads.lead_create(
                    actor=channel_manager, data=leads.LeadInput(company_name=name, country="DE")
                )

        return job

    outcomes = run_together(monkeypatch, "_lock_routing", create("Alpha"), create("Beta"))

    assert outcomes == ["ok", "ok"]
    with tenant_context(tenant):
        assert sorted(Lead.objects.values_list("status", flat=True)) == [
            LeadStatus.OFFERED,
            LeadStatus.UNROUTED,
        ]
        assert LeadOffer.objects.count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_people_accepting_the_same_offer_at_once_make_one_registration(
    monkeypatch, tenant, routing_partner, make_lead, pending_offer, rep_of, attempt
):
    solo = routing_partner("Solo", ["DE"])
    lead = make_lead()
    offer = pending_offer(lead)
    rep, admin = rep_of(solo), rep_of(solo, role="partner_admin")

    def accept(member):
        def job():
            with tenant_context(tenant, member):
                leads.lead_accept(actor=member, offer=offer)

        return job

    outcomes = run_together(monkeypatch, "_lock_lead", accept(rep), accept(admin))

    assert sorted(outcomes) == ["ok", "refused"]
    with tenant_context(tenant):
        assert Deal.objects.count() == 1
        assert Lead.objects.get(pk=lead.pk).deal_id == Deal.objects.get().pk
