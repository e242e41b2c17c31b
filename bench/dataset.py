"""Create the benchmark database once and reuse it while parameters and schema are unchanged.

A marker row (table ``bench_dataset``) is written only after a complete load; it holds a
fingerprint of the generator's parameters, its version and every migration on disk. A data
set without the marker (an interrupted load) or with another fingerprint is dropped and made
again from scratch: ``DROP DATABASE``, ``CREATE DATABASE``, our ``migrate`` (as the owner),
then the COPY load.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict

from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from bench import database
from bench.generate import generate
from bench.params import GENERATOR_VERSION, Params


def fingerprint(params: Params) -> str:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migrations = sorted(f"{app}.{name}" for app, name in loader.disk_migrations)
    payload = {"params": asdict(params), "generator": GENERATOR_VERSION, "schema": migrations}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ensure(params: Params, *, regenerate: bool, log: Callable[[str], None]) -> dict:
    """The data set's description (tenants, actors, counts, timings); generated if needed."""
    wanted = fingerprint(params)
    marker = None if regenerate else database.read_marker()
    if marker is not None and marker["fingerprint"] == wanted:
        info = dict(marker["params"])
        info["reused"] = True
        log(
            f"Reusing database {database.bench_name()} (generated in {marker['seconds']:.0f} s; "
            "same parameters and schema). `python -m bench --regenerate` makes it again."
        )
        return info
    log(f"Generating database {database.bench_name()} ...")
    started = time.perf_counter()
    connections.close_all()
    database.drop()
    database.create()
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()
    migrated = time.perf_counter()
    log(f"  create and migrate: {migrated - started:.1f} s")
    info = generate(params, log=log)
    info["migrate_seconds"] = round(migrated - started, 1)
    info["total_seconds"] = round(time.perf_counter() - started, 1)
    database.write_marker(fingerprint=wanted, params=info, seconds=info["total_seconds"])
    log(f"Generated in {info['total_seconds']:.0f} s.")
    info["reused"] = False
    return info
