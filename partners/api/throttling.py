"""Throttles whose rates are read when a request comes in, not when the module is imported.

DRF's SimpleRateThrottle copies DEFAULT_THROTTLE_RATES into a class attribute at import time,
so a changed setting (an operator's environment in a reloaded worker, a test's override) would
be ignored.

:class:`UserRateThrottle` (every tenant endpoint, see ``partners.api.base``) counts in Redis,
so the limit holds across processes and servers. DRF's stores the list of every request's
timestamp in the cache (up to the whole rate, 1,200 floats, unpickled and pickled again on
every request) with a read and a write, two round trips and a Redis client built for each.
Ours keeps two counters per member, this window's and the previous one's, and weighs the
previous by how much of it the sliding window still covers (the usual sliding-window
estimate); a Lua script checks and counts atomically, so two processes cannot both take the
last request of the window. A process takes a lease of a small share of the rate at a time
(1% of it, at least one request: 12 of 1,200 a minute) and serves it from memory, so most
requests make no round trip at all. A lease counts in Redis when it is taken, so all the
processes together never serve more than the rate; a lease a process does not use up still
counts, so the limit errs on the strict side, by at most a lease per process.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework import throttling
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)


def _rate(scope: str) -> tuple[int, int]:
    """(requests, seconds) of a scope's rate, read from the settings now."""
    try:
        rate = api_settings.DEFAULT_THROTTLE_RATES[scope]
    except KeyError as exc:
        raise ImproperlyConfigured(f"No throttle rate set for the {scope!r} scope.") from exc
    number, period = rate.split("/")
    return int(number), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]


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


# KEYS: this window's counter, the previous window's. ARGV: the limit, the share of the
# previous window still inside the sliding window, the counter's lifetime in seconds, the
# lease wanted. Returns {requests granted (0: refused), this window's count, the previous's}.
_SLIDING_WINDOW = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local free = tonumber(ARGV[1]) - current - previous * tonumber(ARGV[2])
if free <= 0 then
  return {0, current, previous}
end
local grant = math.min(tonumber(ARGV[4]), math.ceil(free))
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {grant, current + grant, previous}
"""

#: (cache, scope, member, window, rate) -> requests of the lease still to serve
_leases: dict[tuple, int] = {}
_leases_lock = threading.Lock()

# One Redis client per connection pool (Django's cache builds a client for each call; its
# pools are per thread), with the script registered once. A script holds its client and the
# client its pool, so a pool's id cannot be reused while it is a key here.
_scripts: dict[int, object] = {}


def _sliding_window_script():
    """The registered script on the default cache's Redis, or None if the cache is not Redis."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    pool = backend._cache._get_connection_pool(write=True)
    script = _scripts.get(id(pool))
    if script is None:
        client = backend._cache._lib.Redis(connection_pool=pool)
        script = client.register_script(_SLIDING_WINDOW)
        if len(_scripts) > 64:  # pools replaced over time (settings changed in tests)
            _scripts.clear()
        _scripts[id(pool)] = script
    return script


class UserRateThrottle(throttling.BaseThrottle):
    """The ``user`` rate per member (per client address for anonymous requests), counted in
    Redis by a sliding window, served from a process's lease. A Redis outage lets requests
    through (logged): throttling is a guard, not a reason to refuse service."""

    scope = "user"
    #: A lease is this share of the rate (at least one request).
    lease_divisor = 100

    def allow_request(self, request, view) -> bool:
        self.limit, self.duration = _rate(self.scope)
        user = getattr(request, "user", None)
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        now = time.time()
        window = int(now // self.duration)
        self.elapsed = now - window * self.duration
        lease = (cache.make_key(""), self.scope, ident, window, self.limit, self.duration)
        with _leases_lock:
            if _leases.get(lease, 0) > 0:
                _leases[lease] -= 1
                return True
        weight = 1.0 - self.elapsed / self.duration
        base = f"throttle:{self.scope}:{ident}"
        keys = [f"{base}:{window}", f"{base}:{window - 1}"]
        try:
            script = _sliding_window_script()
            if script is None:
                return self._allow_without_redis(keys, weight)
            granted, self.current, self.previous = script(
                keys=[cache.make_key(key) for key in keys],
                args=[
                    self.limit,
                    repr(weight),
                    2 * self.duration,
                    max(1, self.limit // self.lease_divisor),
                ],
            )
        except Exception:
            logger.warning("Throttle store unavailable; request let through.", exc_info=True)
            return True
        if granted > 1:
            with _leases_lock:
                if len(_leases) > 10_000:
                    _leases.clear()
                _leases[lease] = _leases.get(lease, 0) + granted - 1
        return granted > 0

    def _allow_without_redis(self, keys: list[str], weight: float) -> bool:
        """The same count through the cache API, for a cache other than Redis (not atomic)."""
        current = cache.get(keys[0]) or 0
        previous = cache.get(keys[1]) or 0
        self.current, self.previous = current, previous
        if current + previous * weight >= self.limit:
            return False
        cache.set(keys[0], current + 1, 2 * self.duration)
        return True

    def wait(self) -> float:
        """Seconds until the sliding window's estimate falls under the limit again."""
        remaining = self.duration - self.elapsed
        if self.current >= self.limit or not self.previous:
            # This window is full (the script never counts past the limit): from the next
            # window on, its requests weigh less than the limit at once.
            return max(1.0, remaining)
        # current + previous * (1 - (elapsed + t) / duration) < limit
        seconds = self.duration * (1 - (self.limit - self.current) / self.previous) - self.elapsed
        return max(1.0, seconds)
