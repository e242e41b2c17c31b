"""The tier engine against concurrent writers, with real threads and transactions: two runs of
one tenant never both record a change (the per-tenant advisory lock), and a pin committed
while a run is under way is not overwritten by it (the compare-and-swap write)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from partners import tier_engine
from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from partners.tier_engine import EVENT, tier_pin, tiers_evaluate
from partners.tiers import TierChange

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(job) -> threading.Thread:
    def work():
        try:
            job()
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def waiting_for_an_advisory_lock(timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def test_a_second_run_waits_for_the_first_and_records_no_change_twice(
    monkeypatch, tenant, ladder, scores, make_partner, reload
):
    partners = [make_partner() for _ in range(3)]
    for partner in partners:
        scores[partner.pk] = Decimal("60")
    # The first run holds its transaction open after writing, until the second has started.
    first_wrote = threading.Event()
    second_started = threading.Event()
    real_apply = tier_engine._apply
    outcomes: dict[str, list] = {}

    def slow_apply(*args, **kwargs):
        applied = real_apply(*args, **kwargs)
        if threading.current_thread().name == "first":
            first_wrote.set()
            second_started.wait(timeout=10)
        return applied

    monkeypatch.setattr(tier_engine, "_apply", slow_apply)

    def run(name):
        def job():
            threading.current_thread().name = name
            outcomes[name] = tiers_evaluate(tenant=tenant, dry_run=False)

        return job

    first = in_thread(run("first"))
    assert first_wrote.wait(timeout=20)
    second = in_thread(run("second"))
    assert waiting_for_an_advisory_lock(), "the second run did not wait for the first"
    second_started.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert len(outcomes["first"]) == 3
    assert outcomes["second"] == []  # it waited for the first, then found nothing to do
    with tenant_context(tenant):
        assert TierChange.objects.count() == 3
        assert OutboxEvent.objects.filter(name=EVENT).count() == 3
    assert {reload(p).tier for p in partners} == {ladder["gold"]}


def test_a_pin_committed_during_a_run_is_not_overwritten(
    monkeypatch, tenant, ladder, scores, make_partner, reload
):
    pinned, other = make_partner(), make_partner()
    scores[pinned.pk] = scores[other.pk] = Decimal("60")
    real_apply = tier_engine._apply

    def pin_meanwhile(*args, **kwargs):
        # After the engine read the partners, before it writes: an admin pins one of them.
        def pin():
            with tenant_context(tenant):
                tier_pin(
                    partner=pinned, tier=ladder["silver"],
                    until=timezone.localdate() + timedelta(days=30),
                )  # fmt: skip

        in_thread(pin).join(timeout=20)
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(tier_engine, "_apply", pin_meanwhile)

    proposals = tiers_evaluate(tenant=tenant, dry_run=False)

    assert [p.partner_id for p in proposals] == [other.pk]
    assert reload(pinned).tier == ladder["silver"]
    assert reload(other).tier == ladder["gold"]
    with tenant_context(tenant):
        kinds = list(TierChange.objects.filter(partner=pinned).values_list("kind", flat=True))
    assert kinds == ["pin"]


def test_a_partner_suspended_during_a_run_keeps_its_tier(
    monkeypatch, tenant, ladder, scores, make_partner, reload
):
    partner = make_partner()
    scores[partner.pk] = Decimal("60")
    real_apply = tier_engine._apply

    def suspend_meanwhile(*args, **kwargs):
        def suspend():
            with tenant_context(tenant):
                Partner.objects.filter(pk=partner.pk).update(status="suspended")

        in_thread(suspend).join(timeout=20)
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(tier_engine, "_apply", suspend_meanwhile)

    assert tiers_evaluate(tenant=tenant, dry_run=False) == []
    assert reload(partner).tier is None
