"""The beat scheduler installs the default schedule once; edits made in the admin stay."""

from __future__ import annotations

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.beat import DefaultsOnlyDatabaseScheduler
from config.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


def _start_beat() -> DefaultsOnlyDatabaseScheduler:
    return DefaultsOnlyDatabaseScheduler(app=app, lazy=False)


def test_the_default_entries_are_installed_when_missing():
    _start_beat()

    task = PeriodicTask.objects.get(name="tier-engine")
    assert task.task == "partners.run_tier_engine"
    assert (task.crontab.minute, task.crontab.hour) == ("0", "2")
    assert (
        PeriodicTask.objects.filter(name__in=["sweep-outbox", "deal-rules", "lead-offers"]).count()
        == 3
    )


def test_a_schedule_edited_in_the_admin_survives_a_restart_of_beat():
    _start_beat()
    four_am, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="4", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone="UTC",
    )  # fmt: skip
    PeriodicTask.objects.filter(name="tier-engine").update(crontab=four_am)

    _start_beat()

    task = PeriodicTask.objects.get(name="tier-engine")
    assert (task.crontab.minute, task.crontab.hour) == ("30", "4")


def test_a_deleted_entry_comes_back_with_its_default():
    _start_beat()
    PeriodicTask.objects.filter(name="lead-offers").delete()

    _start_beat()

    assert PeriodicTask.objects.get(name="lead-offers").interval.every == 300
