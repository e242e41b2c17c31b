"""Template filters of the Trellis pages."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A cool-off or expiry period in words: "15 minutes", "2 hours", "1 day"."""
    if not isinstance(value, timedelta):
        return ""
    minutes = max(1, round(value.total_seconds() / 60))
    if minutes % (60 * 24) == 0:
        days = minutes // (60 * 24)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
