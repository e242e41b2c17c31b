"""Throttles whose rates are read when a request comes in, not when the module is imported.

DRF's SimpleRateThrottle copies DEFAULT_THROTTLE_RATES into a class attribute at import time,
so a changed setting (an operator's environment in a reloaded worker, a test's override) would
be ignored.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import throttling
from rest_framework.settings import api_settings


class TokenCreateRateThrottle(throttling.SimpleRateThrottle):
    """Token creation takes a password: limit it per client address, signed in or not."""

    scope = "token_create"

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(
                f"No throttle rate set for the {self.scope!r} scope."
            ) from exc

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
