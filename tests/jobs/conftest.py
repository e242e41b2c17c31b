"""Fixtures for the job tests: a real Celery worker on the embedded Redis, a view into the
broker's queue, and clean outbox handler registrations."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings


@dataclass(frozen=True)
class QueuedTask:
    name: str
    args: list
    kwargs: dict


class BrokerQueue:
    """The test queue on the embedded Redis, read without consuming it."""

    name = settings.CELERY_TASK_DEFAULT_QUEUE

    def __init__(self, app) -> None:
        self.app = app

    def purge(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.default_channel.queue_purge(self.name)

    def tasks(self) -> list[QueuedTask]:
        with self.app.connection_for_write() as conn:
            raw = conn.default_channel.client.lrange(self.name, 0, -1)
        queued = []
        for message in map(json.loads, raw):
            body = message["body"]
            if message["properties"].get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, kwargs, _embed = json.loads(body)
            queued.append(QueuedTask(message["headers"]["task"], args, kwargs))
        return queued


@pytest.fixture
def celery_app():
    from config.celery import app

    return app


@pytest.fixture
def broker_queue(celery_app) -> Iterator[BrokerQueue]:
    """The test queue, empty at the start and purged again at the end of the test."""
    queue = BrokerQueue(celery_app)
    queue.purge()
    yield queue
    queue.purge()


@pytest.fixture
def celery_worker(transactional_db, celery_app, broker_queue):
    """A real worker (solo pool, in a thread) consuming the test queue of the embedded Redis.

    It runs with its own database connection, so it sees only committed rows: tests that use
    it are transactional.
    """
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        queues=[settings.CELERY_TASK_DEFAULT_QUEUE],
        shutdown_timeout=30,
    ) as worker:
        yield worker


@pytest.fixture
def wait_for():
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""

    def _wait_for(check: Callable, timeout: float = 20.0, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"gave up after {timeout}s waiting for {check.__doc__ or check}")
            time.sleep(interval)

    return _wait_for


@pytest.fixture
def outbox_handlers():
    """Register outbox handlers for one test; the registry is restored afterwards."""
    from partners import events

    saved = {name: list(registrations) for name, registrations in events._registry.items()}
    yield events.register
    events._registry.clear()
    events._registry.update(saved)
