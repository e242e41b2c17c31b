"""Cursor pagination ordered by the view's stable key.

DRF's CursorPagination orders by ``-created`` unless told otherwise; our rows are paged by a
key that never changes and never repeats (the primary key by default), so a page boundary can
not skip or repeat a row while rows are added. A view sets ``ordering`` to choose the key.
"""

from __future__ import annotations

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    ordering = "-pk"
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "ordering", None) or self.ordering
        if isinstance(ordering, str):
            return (ordering,)
        return tuple(ordering)
