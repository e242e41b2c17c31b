"""The lead routing rule: which partner is offered a lead next, and why.

A partner is a candidate for a lead when it is an active partner of the lead's tenant that

- serves the lead's country, or the lead's region (when the lead names one);
- has the competency the lead needs (when it names one);
- has never been offered this lead (a partner who declined, timed out or had the offer
  withdrawn is never asked again: ``lead_offered_once_per_partner`` enforces it in the database,
  this filter keeps the router from trying);
- has room: fewer open leads than its ``lead_capacity``. Open leads are pending offers and
  accepted ones whose registration is still open (no deal yet, or a deal not yet won, lost,
  rejected or expired).

Candidates are scored, highest first::

    score = WIN_RATE_WEIGHT * win_rate
          + LOAD_WEIGHT * (1 - open_leads / lead_capacity)
          + GEOGRAPHY_WEIGHT * (1 for a country match, REGION_ONLY_MATCH for a region match)
          + TIER_WEIGHT * tier_score            (see tier_score_sql)

``tier_score`` is the partner's tier's ``lead_routing_priority`` over the highest priority of
the tenant's tiers (0 without a tier). ``win_rate`` is won / (won + lost) of the partner's
registrations closed in the last ``WIN_RATE_WINDOW_DAYS`` days; a partner with none closed
gets ``NEUTRAL_WIN_RATE``, so a new partner is neither favoured nor starved. Ties go to the
partner with fewer open leads, then to the oldest partner (lowest id). Scores are rounded to
4 places before comparing (the precision LeadOffer.score keeps), so the tie-breaks apply to
what the console shows.

Everything is computed set-wise in one SQL statement per lead, for every candidate at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from deals.models import Lead

#: Weight of the partner's past win rate (0-1).
WIN_RATE_WEIGHT = Decimal("0.50")
#: Weight of the free share of the partner's lead capacity (0-1): spreads leads out.
LOAD_WEIGHT = Decimal("0.30")
#: Weight of the geography match: serving the lead's country beats serving only its region.
GEOGRAPHY_WEIGHT = Decimal("0.20")
#: What a region-only match counts for, against 1 for a country match.
REGION_ONLY_MATCH = Decimal("0.5")
#: Weight of the partner's tier's lead-routing priority (0-1, the highest priority 1).
TIER_WEIGHT = Decimal("0.20")
#: The win rate assumed for a partner with no closed registration in the window.
NEUTRAL_WIN_RATE = Decimal("0.5")
#: How far back closed registrations count towards the win rate.
WIN_RATE_WINDOW_DAYS = 365

#: Registrations that still occupy an accepted lead (see the module docstring).
_OPEN_DEAL_STATUSES = ["submitted", "more_info", "approved"]


def tier_score_sql(partner_alias: str) -> str:
    """SQL for a partner's tier score in [0, 1] (1 for the tenant's highest priority).

    The partner's tier's ``lead_routing_priority`` divided by the highest priority of the
    tenant's tiers, rounded to 4 places. It is 0 for a partner without a tier, and for every
    partner when no tier of the tenant has a positive priority; negative priorities count as 0.
    """
    p = partner_alias
    return f"""coalesce((
        SELECT round(
            greatest(t.lead_routing_priority, 0)::numeric
            / nullif(greatest((SELECT max(m.lead_routing_priority) FROM partners_tier m
                               WHERE m.tenant_id = t.tenant_id), 0), 0), 4)
        FROM partners_tier t
        WHERE t.id = {p}.tier_id AND t.tenant_id = {p}.tenant_id
    ), 0::numeric)"""


@dataclass(frozen=True)
class Candidate:
    partner_id: int
    score: Decimal
    country_match: bool
    region_match: bool
    won: int
    lost: int
    win_rate: Decimal
    open_leads: int
    capacity: int
    tier_score: Decimal
    candidates: int = 1

    def reason(self, lead: Lead, *, trigger: str) -> dict:
        """Every factor of the decision, for LeadOffer.reason (JSON: decimals as strings)."""
        return {
            "country": "match" if self.country_match else "no match",
            "region": (
                "not given" if not lead.region else "match" if self.region_match else "no match"
            ),
            "competency": lead.competency or "not required",
            "win_rate": str(self.win_rate),
            "won": self.won,
            "lost": self.lost,
            "open_leads": self.open_leads,
            "capacity": self.capacity,
            "tier": str(self.tier_score),
            "weights": weights(),
            "score": str(self.score),
            "candidates": self.candidates,
            "trigger": trigger,
        }


def weights() -> dict[str, str]:
    return {
        "win_rate": str(WIN_RATE_WEIGHT),
        "load": str(LOAD_WEIGHT),
        "geography": str(GEOGRAPHY_WEIGHT),
        "region_only_match": str(REGION_ONLY_MATCH),
        "tier": str(TIER_WEIGHT),
    }


_CANDIDATES_SQL = """
WITH eligible AS (
    SELECT p.id, p.lead_capacity, {tier_score} AS tier_score,
           EXISTS (SELECT 1 FROM unnest(p.countries) AS c(code)
                   WHERE upper(c.code) = %(country)s) AS country_match,
           (%(region)s <> '' AND EXISTS (SELECT 1 FROM unnest(p.regions) AS r(name)
                                         WHERE lower(r.name) = %(region)s)) AS region_match
    FROM partners_partner p
    WHERE p.tenant_id = %(tenant)s
      AND p.status = 'active'
      AND p.lead_capacity > 0
      AND (%(competency)s = '' OR EXISTS (SELECT 1 FROM unnest(p.competencies) AS k(name)
                                          WHERE lower(k.name) = %(competency)s))
      AND NOT EXISTS (SELECT 1 FROM deals_leadoffer o
                      WHERE o.tenant_id = %(tenant)s AND o.lead_id = %(lead)s
                        AND o.partner_id = p.id)
),
serving AS (
    SELECT * FROM eligible WHERE country_match OR region_match
),
loads AS (
    SELECT o.partner_id, count(*) AS open_leads
    FROM deals_leadoffer o
    JOIN deals_lead l ON l.tenant_id = o.tenant_id AND l.id = o.lead_id
    LEFT JOIN deals_deal d ON d.tenant_id = l.tenant_id AND d.id = l.deal_id
    WHERE o.tenant_id = %(tenant)s
      AND o.partner_id IN (SELECT id FROM serving)
      AND (o.status = 'pending'
           OR (o.status = 'accepted' AND l.status = 'accepted'
               AND (d.id IS NULL OR d.status = ANY(%(open_deal_statuses)s))))
    GROUP BY o.partner_id
),
records AS (
    SELECT d.partner_id,
           count(*) FILTER (WHERE d.status = 'won') AS won,
           count(*) FILTER (WHERE d.status = 'lost') AS lost
    FROM deals_deal d
    WHERE d.tenant_id = %(tenant)s
      AND d.partner_id IN (SELECT id FROM serving)
      AND d.status IN ('won', 'lost')
      AND d.closed_on >= %(since)s
    GROUP BY d.partner_id
),
scored AS (
    SELECT s.id, s.lead_capacity, s.country_match, s.region_match, s.tier_score,
           coalesce(r.won, 0) AS won, coalesce(r.lost, 0) AS lost,
           coalesce(ld.open_leads, 0) AS open_leads,
           round(CASE WHEN coalesce(r.won, 0) + coalesce(r.lost, 0) = 0
                      THEN %(neutral_win_rate)s::numeric
                      ELSE r.won::numeric / (r.won + r.lost) END, 4) AS win_rate
    FROM serving s
    LEFT JOIN loads ld ON ld.partner_id = s.id
    LEFT JOIN records r ON r.partner_id = s.id
    WHERE coalesce(ld.open_leads, 0) < s.lead_capacity
)
SELECT id, round(
           %(w_win)s::numeric * win_rate
         + %(w_load)s::numeric * (1 - open_leads::numeric / lead_capacity)
         + %(w_geo)s::numeric * (CASE WHEN country_match THEN 1
                                       ELSE %(region_only)s::numeric END)
         + %(w_tier)s::numeric * tier_score, 4) AS score,
       country_match, region_match, won, lost, win_rate, open_leads, lead_capacity, tier_score,
       count(*) OVER () AS candidates
FROM scored
ORDER BY score DESC, open_leads ASC, id ASC
LIMIT %(limit)s
"""


def route_candidates(lead: Lead, *, limit: int = 50) -> list[Candidate]:
    """The partners that may be offered ``lead``, best first (see the module docstring); at
    most ``limit`` of them, each knowing how many there were in all."""
    since = timezone.localdate() - timedelta(days=WIN_RATE_WINDOW_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            _CANDIDATES_SQL.format(tier_score=tier_score_sql("p")),
            {
                "tenant": lead.tenant_id,
                "lead": lead.pk,
                "country": (lead.country or "").upper(),
                "region": (lead.region or "").strip().lower(),
                "competency": (lead.competency or "").strip().lower(),
                "open_deal_statuses": _OPEN_DEAL_STATUSES,
                "since": since,
                "neutral_win_rate": NEUTRAL_WIN_RATE,
                "w_win": WIN_RATE_WEIGHT,
                "w_load": LOAD_WEIGHT,
                "w_geo": GEOGRAPHY_WEIGHT,
                "region_only": REGION_ONLY_MATCH,
                "w_tier": TIER_WEIGHT,
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    return [
        Candidate(
            partner_id=row[0],
            score=Decimal(row[1]),
            country_match=bool(row[2]),
            region_match=bool(row[3]),
            won=int(row[4]),
            lost=int(row[5]),
            win_rate=Decimal(row[6]),
            open_leads=int(row[7]),
            capacity=int(row[8]),
            tier_score=Decimal(row[9]),
            candidates=int(row[10]),
        )
        for row in rows
    ]


_EXPLAIN_SQL = """
SELECT
    count(*) FILTER (WHERE serves) AS serving,
    count(*) FILTER (WHERE serves AND competent) AS competent,
    count(*) FILTER (WHERE serves AND competent AND NOT offered) AS not_offered,
    count(*) FILTER (WHERE serves AND competent AND NOT offered AND open_leads < lead_capacity)
        AS with_capacity
FROM (
    SELECT p.lead_capacity,
           (EXISTS (SELECT 1 FROM unnest(p.countries) AS c(code)
                    WHERE upper(c.code) = %(country)s)
            OR (%(region)s <> '' AND EXISTS (SELECT 1 FROM unnest(p.regions) AS r(name)
                                             WHERE lower(r.name) = %(region)s))) AS serves,
           (%(competency)s = '' OR EXISTS (SELECT 1 FROM unnest(p.competencies) AS k(name)
                                           WHERE lower(k.name) = %(competency)s)) AS competent,
           EXISTS (SELECT 1 FROM deals_leadoffer o
                   WHERE o.tenant_id = %(tenant)s AND o.lead_id = %(lead)s
                     AND o.partner_id = p.id) AS offered,
           (SELECT count(*) FROM deals_leadoffer o
            JOIN deals_lead l ON l.tenant_id = o.tenant_id AND l.id = o.lead_id
            LEFT JOIN deals_deal d ON d.tenant_id = l.tenant_id AND d.id = l.deal_id
            WHERE o.tenant_id = %(tenant)s AND o.partner_id = p.id
              AND (o.status = 'pending'
                   OR (o.status = 'accepted' AND l.status = 'accepted'
                       AND (d.id IS NULL OR d.status = ANY(%(open_deal_statuses)s))))) AS open_leads
    FROM partners_partner p
    WHERE p.tenant_id = %(tenant)s AND p.status = 'active'
) partners
"""


def explain_no_candidate(lead: Lead) -> dict[str, int]:
    """Why no partner was left: how many active partners pass each filter in turn."""
    with connection.cursor() as cursor:
        cursor.execute(
            _EXPLAIN_SQL,
            {
                "tenant": lead.tenant_id,
                "lead": lead.pk,
                "country": (lead.country or "").upper(),
                "region": (lead.region or "").strip().lower(),
                "competency": (lead.competency or "").strip().lower(),
                "open_deal_statuses": _OPEN_DEAL_STATUSES,
            },
        )
        row = cursor.fetchone()
    return {
        "serving_geography": int(row[0] or 0),
        "with_competency": int(row[1] or 0),
        "not_offered_before": int(row[2] or 0),
        "with_capacity": int(row[3] or 0),
    }
