"""Template filters of the lead pages: the routing reason in words, and time left to answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


def _trigger_text(value: str) -> str:
    texts = {
        "created": _("New lead"),
        "declined": _("The previous partner declined"),
        "expired": _("The previous partner did not answer in time"),
        "manual": _("Routed again by staff"),
    }
    return str(texts.get(value, value))


def _match_text(value: str) -> str:
    texts = {"match": _("Match"), "no match": _("No match"), "not given": _("Not given")}
    return str(texts.get(value, value))


def _percent(value) -> str:
    try:
        return f"{number_format(Decimal(value) * 100, decimal_pos=0)} %"
    except (InvalidOperation, TypeError, ValueError):
        return "—"


@register.filter
def reason_factors(reason: dict | None) -> list[tuple[str, str]]:
    """The factors of a routing decision (LeadOffer.reason) as (label, value) in words."""
    if not isinstance(reason, dict) or not reason:
        return []
    factors: list[tuple[str, str]] = []
    for key, label in (("country", _("Country")), ("region", _("Region"))):
        if key in reason:
            factors.append((label, _match_text(reason[key])))
    if "competency" in reason:
        competency = reason["competency"]
        factors.append(
            (_("Competency"), _("Not required") if competency == "not required" else competency)
        )
    if "win_rate" in reason:
        won, lost = int(reason.get("won", 0)), int(reason.get("lost", 0))
        if won + lost:
            text = _("%(rate)s (%(won)d won, %(lost)d lost)") % {
                "rate": _percent(reason["win_rate"]), "won": won, "lost": lost,
            }  # fmt: skip
        else:
            text = _("%(rate)s assumed: no closed deal yet") % {
                "rate": _percent(reason["win_rate"])
            }
        factors.append((_("Win rate"), text))
    if "open_leads" in reason:
        factors.append(
            (_("Open leads"), _("%(open)s of %(capacity)s") % {
                "open": reason["open_leads"], "capacity": reason.get("capacity", "—"),
            })
        )  # fmt: skip
    if "tier" in reason:
        factors.append((_("Tier"), str(reason["tier"])))
    if "candidates" in reason:
        factors.append((_("Candidates"), str(reason["candidates"])))
    if "trigger" in reason:
        factors.append((_("Why now"), _trigger_text(reason["trigger"])))
    return factors


@register.filter
def time_left(expires_at: datetime | None) -> str:
    """ "2 days 3 hours", "5 hours 10 minutes", "12 minutes", or "" once it has passed."""
    if not isinstance(expires_at, datetime):
        return ""
    minutes = int((expires_at - timezone.now()).total_seconds() // 60)
    if minutes <= 0:
        return ""
    days, rest = divmod(minutes, 60 * 24)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes and not days:
        parts.append(
            ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
        )
    return " ".join(parts[:2])
