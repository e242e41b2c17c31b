"""Fixtures of the partner import tests: Acme's tiers, competencies and managers, CSV files
built from rows, uploads through the console, and ``jobs()``, which runs what a commit
would set off (the Celery jobs, inline, and the invitation emails)."""

from __future__ import annotations

import contextlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from partners import partner_csv
from partners.models import Competency, PartnerImport
from partners.tenancy import tenant_context
from partners.tiers import Tier

IMPORTS = "/t/acme/console/partners/import/"


def csv_file(rows: list[dict], *, columns=partner_csv.COLUMNS) -> str:
    """A CSV text: the header, then one line per row (missing columns are empty)."""
    return partner_csv.to_csv_text(
        [list(columns)] + [[row.get(column, "") for column in columns] for row in rows]
    )


def good_rows() -> list[dict]:
    return [
        {
            "name": "Fabrikam",
            "legal_name": "Fabrikam Ltd",
            "domain": "https://www.Fabrikam.com/about",
            "partner_type": "distributor",
            "segment": "enterprise",
            "status": "active",
            "employee_count": "250",
            "countries": "us; DE",
            "regions": "EMEA;North America",
            "competencies": "Cloud;Security",
            "lead_capacity": "20",
            "tier": "Gold",
            "managers": "manager@acme.test",
            "admin_email": "Boss@Fabrikam.com",
            "admin_name": "Fay Boss",
        },
        {
            "name": "Litware",
            "domain": "litware.test",
            "partner_type": "msp",
            "status": "onboarding",
            "admin_email": "owner@litware.test",
        },
        {"name": "Proseware", "domain": "proseware.test"},
    ]


@pytest.fixture
def program(tenant):
    """Acme's tiers and competencies, as the good rows name them."""
    with tenant_context(tenant):
        tiers = {
            "Silver": Tier.objects.create(tenant=tenant, rank=1, name="Silver"),
            "Gold": Tier.objects.create(tenant=tenant, rank=2, name="Gold"),
        }
        for name in ("Cloud", "Security", "Networking"):
            Competency.objects.create(tenant=tenant, name=name)
    return tiers


@pytest.fixture
def jobs(django_capture_on_commit_callbacks, monkeypatch, settings):
    """``with jobs(): ...``: the block's on-commit work runs as after a real commit (the
    import jobs, inline, and the emails). Outbox events are written, not dispatched."""
    from config.celery import app

    class _NoDispatch:
        @staticmethod
        def delay(*args, **kwargs):
            return None

    monkeypatch.setattr("partners.tasks.dispatch_event", _NoDispatch)
    monkeypatch.setattr("partners.tasks.dispatch_events", _NoDispatch)  # events.record_many

    @contextlib.contextmanager
    def _jobs():
        previous = app.conf.task_always_eager, app.conf.task_eager_propagates
        app.conf.task_always_eager = app.conf.task_eager_propagates = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                yield
        finally:
            app.conf.task_always_eager, app.conf.task_eager_propagates = previous

    return _jobs


@pytest.fixture
def upload(jobs):
    """``upload(client, text)``: post a file to the upload page and run the check job."""

    def _upload(client, text: str | bytes, *, filename: str = "partners.csv", url=IMPORTS):
        data = text.encode() if isinstance(text, str) else text
        with jobs():
            return client.post(url, {"file": SimpleUploadedFile(filename, data, "text/csv")})

    return _upload


def latest_import(tenant) -> PartnerImport:
    with tenant_context(tenant):
        return PartnerImport.objects.order_by("-pk").first()
