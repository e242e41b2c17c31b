"""The members' rate (partners.api.throttling.UserRateThrottle): counted in Redis by a sliding
window, a lease of it at a time per process, shared by every process and token of a member."""

import re
import uuid

import pytest
from django.conf import settings as django_settings

from partners.api import throttling

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_counters(settings):
    """Counters no other test run can flush: a Redis database the test runs do not clear
    (they clear their own, one per xdist worker, on this shared machine) and a key prefix of
    this test's own."""
    default = django_settings.CACHES["default"]
    location = default["LOCATION"]
    if "?db=" in location:  # the embedded Redis: unix://...sock?db=N
        location = re.sub(r"\?db=\d+", "?db=3", location)
    settings.CACHES = {
        **django_settings.CACHES,
        "default": {**default, "LOCATION": location, "KEY_PREFIX": f"throttle-{uuid.uuid4()}"},
    }


URL = "/api/v1/me/"


def _another_process():
    """What another process would have: a Redis client and leases of its own."""
    throttling._scripts.clear()
    throttling._leases.clear()


@pytest.fixture
def rate(settings):
    """Set the ``user`` rate (an hour's window: no test crosses one)."""

    def _rate(value):
        settings.REST_FRAMEWORK = {
            **django_settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "user": value,
            },
        }

    return _rate


def test_a_member_is_throttled_after_the_user_rate(api_as, tenant_admin, rate):
    rate("3/hour")
    client = api_as(tenant_admin)

    statuses = [client.get(URL).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = client.get(URL)
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


def test_every_token_and_process_of_a_member_shares_one_count(
    api_as, tenant_admin, channel_manager, rate
):
    rate("3/hour")
    first, second = api_as(tenant_admin), api_as(tenant_admin)

    assert first.get(URL).status_code == 200
    _another_process()
    assert second.get(URL).status_code == 200
    _another_process()
    assert first.get(URL).status_code == 200
    assert second.get(URL).status_code == 429
    # Another member has a count of their own.
    assert api_as(channel_manager).get(URL).status_code == 200


def test_a_process_serves_its_lease_from_memory_and_all_together_never_exceed_the_rate(
    api_as, tenant_admin, rate, monkeypatch, settings
):
    rate("6/hour")
    monkeypatch.setattr(throttling.UserRateThrottle, "lease_divisor", 2)  # leases of 3
    client = api_as(tenant_admin)
    calls = []
    real = throttling._sliding_window_script

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(throttling, "_sliding_window_script", counted)

    # One process: a round trip for each lease of 3, then refused at the rate.
    assert [client.get(URL).status_code for _ in range(7)] == [200] * 6 + [429]
    assert len(calls) == 3  # two leases, then the refusal

    # Three processes, each taking a lease and serving one request of it: the leases count,
    # so the third process is refused although only two requests were served.
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"throttle-{uuid.uuid4()}"},
    }
    statuses = []
    for _ in range(3):
        _another_process()
        statuses.append(client.get(URL).status_code)
    assert statuses == [200, 200, 429]


def test_the_rate_is_read_when_the_request_comes_in(api_as, tenant_admin, rate):
    client = api_as(tenant_admin)
    rate("1/hour")
    assert client.get(URL).status_code == 200
    assert client.get(URL).status_code == 429
    rate("5/hour")
    assert client.get(URL).status_code == 200


def test_a_throttle_store_outage_lets_requests_through(
    api_as, tenant_admin, rate, monkeypatch, caplog
):
    rate("1/hour")

    def down():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(throttling, "_sliding_window_script", down)
    client = api_as(tenant_admin)

    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert "Throttle store unavailable" in caplog.text


@pytest.mark.parametrize(
    ("current", "previous", "elapsed", "expected"),
    [
        # This window is full: the rest of it.
        (10, 0, 15.0, 45.0),
        (10, 4, 50.0, 10.0),
        # The previous window's share fills the rest: until enough of it has slid out.
        (8, 10, 0.0, 48.0),
        (8, 10, 40.0, 8.0),
        # Free again at once: at least a second.
        (5, 10, 30.0, 1.0),
    ],
)
def test_retry_after_is_when_the_estimate_falls_under_the_limit(
    current, previous, elapsed, expected
):
    throttle = throttling.UserRateThrottle()
    throttle.limit, throttle.duration = 10, 60
    throttle.current, throttle.previous, throttle.elapsed = current, previous, elapsed

    assert throttle.wait() == pytest.approx(expected)
