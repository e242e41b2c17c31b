"""The beat scheduler: django-celery-beat's database scheduler, except that the entries of
``CELERY_BEAT_SCHEDULE`` are defaults, installed only when missing. The stock scheduler
writes them over the database rows every time beat starts, so a schedule edited in the admin
(say, the tier engine moved from 02:00 to 04:00) would be undone by the next restart."""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler


class DefaultsOnlyDatabaseScheduler(DatabaseScheduler):
    def update_from_dict(self, mapping):
        existing = set(
            PeriodicTask.objects.filter(name__in=list(mapping)).values_list("name", flat=True)
        )
        missing = {name: entry for name, entry in mapping.items() if name not in existing}
        return super().update_from_dict(missing)
