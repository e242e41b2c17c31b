"""Content negotiation for the API's CSV export (the rows come from deals.export)."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation

from deals.export import deals_csv, export_filename

__all__ = ["JSONErrorsNegotiation", "deals_csv", "export_filename"]


class JSONErrorsNegotiation(BaseContentNegotiation):
    """The export answers CSV whatever ``Accept`` says (so ``Accept: text/csv`` is no 406),
    and its errors keep the API's JSON body."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)
