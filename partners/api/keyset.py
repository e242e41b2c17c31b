"""Cursor pagination by a tuple of keys (keyset pagination).

DRF's CursorPagination positions a page by the first ordering key alone and skips rows that
share it with an offset, capped at 1,000: fine for a nearly unique key, wrong for a sort by
status or tier (thousands of partners share one) and for rows one engine run wrote with the
same timestamp. This pagination keeps the whole tuple of the last row seen and asks for the
rows after it, ``(a, b, id) > (x, y, z)`` spelled out per direction, so any sort pages
exactly and every page is one indexed query.

A view's ``ordering`` is the tuple of keys: plain attributes or annotations (no ``__``), none
of them NULL (annotate ``Coalesce(...)`` for a nullable sort key), the last one unique (the
primary key). A cursor made under another ordering is an invalid cursor (404), like a
garbled one.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.utils.urls import replace_query_param

from partners.api.pagination import CursorPagination


def _json_value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _after(ordering: tuple[str, ...], position: list, *, reverse: bool, inclusive: bool) -> Q:
    """Rows after ``position`` in ``ordering`` (before it when ``reverse``), as a Q."""
    condition = Q()
    disjuncts = []
    for index, (key, value) in enumerate(zip(ordering, position, strict=True)):
        name = key.lstrip("-")
        descending = key.startswith("-") != reverse
        last = index == len(ordering) - 1
        lookup = ("lt" if descending else "gt") + ("e" if last and inclusive else "")
        disjuncts.append(condition & Q(**{f"{name}__{lookup}": value}))
        condition &= Q(**{name: value})
    result = Q()
    for disjunct in disjuncts:
        result |= disjunct
    return result


class KeysetCursorPagination(CursorPagination):
    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        reverse, position, inclusive = self._decode(request)

        keys = self.ordering
        if reverse:
            keys = tuple(k[1:] if k.startswith("-") else f"-{k}" for k in keys)
        queryset = queryset.order_by(*keys)
        if position is not None:
            queryset = queryset.filter(
                _after(self.ordering, position, reverse=reverse, inclusive=inclusive)
            )
        try:
            rows = list(queryset[: self.page_size + 1])
        except (DjangoValidationError, ValueError, TypeError):  # a position of the wrong type
            raise NotFound(self.invalid_cursor_message) from None
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
        self.page = page

        first = self._position(page[0]) if page else None
        last = self._position(page[-1]) if page else None
        self._next = self._previous = None
        if reverse:
            if more:
                self._previous = (True, first, False)
            if page:
                self._next = (False, last, False)
            elif position is not None:  # nothing before it any more: resume at the position
                self._next = (False, position, not inclusive)
        else:
            if more:
                self._next = (False, last, False)
            if page and position is not None:
                self._previous = (True, first, False)
            elif position is not None:
                self._previous = (True, position, not inclusive)
        self.has_next = self._next is not None
        self.has_previous = self._previous is not None
        self.display_page_controls = self.has_next or self.has_previous
        return page

    def _position(self, instance) -> list:
        return [_json_value(getattr(instance, key.lstrip("-"))) for key in self.ordering]

    def _signature(self) -> str:
        return ",".join(self.ordering)

    def _decode(self, request) -> tuple[bool, list | None, bool]:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return False, None, False
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded.encode("ascii")))
            reverse, position, inclusive = bool(data["r"]), data["p"], bool(data.get("i"))
            valid = (
                data.get("k") == self._signature()
                and isinstance(position, list)
                and len(position) == len(self.ordering)
                and all(isinstance(v, str | int) and not isinstance(v, bool) for v in position)
            )
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
            valid = False
        if not valid:
            raise NotFound(self.invalid_cursor_message)
        return reverse, position, inclusive

    def _link(self, cursor: tuple[bool, list, bool] | None) -> str | None:
        if cursor is None:
            return None
        reverse, position, inclusive = cursor
        data = {"k": self._signature(), "r": int(reverse), "p": position}
        if inclusive:
            data["i"] = 1
        encoded = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
        return replace_query_param(self.base_url, self.cursor_query_param, encoded.decode())

    def get_next_link(self):
        return self._link(self._next)

    def get_previous_link(self):
        return self._link(self._previous)
