"""Races between reviewers and partners, with real threads, real transactions and a barrier
that holds each thread at the worst moment: after it has looked for rivals, before it locks."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from deals import selectors, services
from deals.models import Deal, DealConflict, DealStatus
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(monkeypatch, *jobs, pause_after_barrier: dict | None = None) -> list[str]:
    """Run each job in its own thread (own connection, own transaction). Every call of
    selectors.conflict_candidates waits until all threads have made one, so their windows
    overlap. Returns each job's outcome: "ok", "refused" or the unexpected exception."""
    barrier = threading.Barrier(len(jobs), timeout=20)
    real = selectors.conflict_candidates
    pauses = pause_after_barrier or {}

    def meeting_point(**kwargs):
        found = real(**kwargs)
        barrier.wait()
        time.sleep(pauses.get(threading.current_thread().name, 0))
        return found

    monkeypatch.setattr(selectors, "conflict_candidates", meeting_point)
    outcomes: list[str] = [""] * len(jobs)

    def work(index, job):
        try:
            job()
            outcomes[index] = "ok"
        except ValidationError:
            outcomes[index] = "refused"
        except Exception as exc:
            outcomes[index] = repr(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(i, job), name=f"job-{i}") for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(selectors, "conflict_candidates", real)
    return outcomes


def statuses(tenant, *deals) -> list[str]:
    with tenant_context(tenant):
        return [Deal.objects.get(pk=d.pk).status for d in deals]


@pytest.mark.parametrize("attempt", range(3))
def test_two_reviewers_approving_two_conflicting_registrations_at_once_approve_exactly_one(
    monkeypatch, tenant, register, partner_rep, contoso_rep, channel_manager, second_manager,
    attempt,
):  # fmt: skip
    northwind = register(partner_rep, customer_domain="blueharbor.example")
    contoso = register(contoso_rep, customer_domain="blueharbor.example")

    def approve(manager, deal):
        def job():
            with tenant_context(tenant, manager):
                services.deal_approve(actor=manager, deal=deal)

        return job

    outcomes = run_together(
        monkeypatch, approve(channel_manager, northwind), approve(second_manager, contoso)
    )

    assert sorted(outcomes) == ["ok", "refused"]
    assert sorted(statuses(tenant, northwind, contoso)) == ["approved", "submitted"]


def test_a_partner_answering_while_a_reviewer_approves_its_rival_does_not_deadlock(
    monkeypatch, tenant, partner_rep, contoso_rep, channel_manager
):
    rival = DealFactory(
        actor=partner_rep, status=DealStatus.SUBMITTED, customer_domain="blueharbor.example"
    )
    answering = DealFactory(
        actor=contoso_rep, status=DealStatus.MORE_INFO, customer_domain="blueharbor.example"
    )
    assert rival.pk < answering.pk

    def approve():
        with tenant_context(tenant, channel_manager):
            services.deal_approve(actor=channel_manager, deal=rival)

    def answer():
        with tenant_context(tenant, contoso_rep):
            services.deal_submit(actor=contoso_rep, deal=answering, comment="Here it is.")

    # The reviewer locks the rival, then waits for the answering deal; the partner, holding
    # the answering deal, stores a conflict that points at the rival meanwhile.
    outcomes = run_together(monkeypatch, approve, answer, pause_after_barrier={"job-1": 0.5})

    assert outcomes == ["ok", "ok"]
    assert statuses(tenant, rival, answering) == ["approved", "submitted"]
    with tenant_context(tenant):
        assert list(
            DealConflict.objects.filter(deal=answering).values_list("candidate_id", flat=True)
        ) == [rival.pk]
