"""The benchmark's own database, ``trellis_bench``, on the server and roles Trellis uses.

- ``create``/``drop`` run as the owner role (``DATABASE_OWNER_URL``) on the maintenance
  database; the schema comes from our ``migrate`` command, as in production.
- Bulk loads go through the runtime role with ``SET LOCAL ROLE <ops role>``: PostgreSQL refuses
  ``COPY FROM`` into a table under row-level security ("COPY FROM not supported with row-level
  security") even for the owner once RLS is forced, and even with ``app.tenant_id`` set. The
  BYPASSRLS ops role is the same greppable escape hatch operator jobs use
  (``partners.tenancy.dangerously_all_tenants``).
- During a load the secondary indexes and foreign keys of the loaded tables are dropped and
  rebuilt afterwards (one index build and one validating join each, instead of a million index
  insertions and trigger calls); unique constraints and primary keys stay.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2
from django.conf import settings
from psycopg2 import sql

MARKER_TABLE = "bench_dataset"


def _dsn(cfg: dict, dbname: str) -> dict:
    params = {
        "dbname": dbname,
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
        "host": cfg.get("HOST") or None,
        "port": cfg.get("PORT") or None,
    }
    params.update(cfg.get("OPTIONS") or {})
    return {key: value for key, value in params.items() if value is not None}


def bench_name() -> str:
    return settings.DATABASES["default"]["NAME"]


def owner_connect(dbname: str | None = None):
    return psycopg2.connect(**_dsn(settings.DATABASE_OWNER, dbname or bench_name()))


def runtime_connect(dbname: str | None = None):
    return psycopg2.connect(**_dsn(settings.DATABASES["default"], dbname or bench_name()))


@contextlib.contextmanager
def _maintenance() -> Iterator:
    """An autocommit owner connection to a database other than the benchmark's."""
    last_error: Exception | None = None
    for dbname in ("postgres", "template1"):
        try:
            conn = owner_connect(dbname)
        except psycopg2.OperationalError as exc:
            last_error = exc
            continue
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()
        return
    raise RuntimeError(f"cannot reach a maintenance database as the owner: {last_error}")


def exists() -> bool:
    with _maintenance() as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [bench_name()])
        return cur.fetchone() is not None


def create() -> None:
    with _maintenance() as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(bench_name())))


def drop() -> None:
    with _maintenance() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(bench_name()))
        )


# ---------------------------------------------------------------- marker row


def read_marker() -> dict | None:
    """The marker of a complete data set, or None (no database, no table, no row)."""
    if not exists():
        return None
    conn = owner_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
            if cur.fetchone()[0] is None:
                return None
            cur.execute(
                sql.SQL("SELECT fingerprint, params, seconds FROM {} WHERE key = 'dataset'").format(
                    sql.Identifier(MARKER_TABLE)
                )
            )
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return {"fingerprint": row[0], "params": row[1], "seconds": row[2]}


def write_marker(*, fingerprint: str, params: dict, seconds: float) -> None:
    conn = owner_connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY,"
                    " fingerprint text NOT NULL, params jsonb NOT NULL,"
                    " seconds double precision NOT NULL,"
                    " generated_at timestamptz NOT NULL DEFAULT now())"
                ).format(sql.Identifier(MARKER_TABLE))
            )
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (key, fingerprint, params, seconds)"
                    " VALUES ('dataset', %s, %s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
                    " params = EXCLUDED.params, seconds = EXCLUDED.seconds, generated_at = now()"
                ).format(sql.Identifier(MARKER_TABLE)),
                [fingerprint, json.dumps(params), seconds],
            )
    finally:
        conn.close()


# ---------------------------------------------------------------- bulk-load support


@dataclass
class Deferred:
    """Indexes and foreign keys taken off the loaded tables, to put back after the load."""

    indexes: list[str]
    foreign_keys: list[tuple[str, str, str]]  # (table, constraint name, definition)


def defer_indexes_and_keys(tables: list[str]) -> Deferred:
    conn = owner_connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """
                SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
                WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
                ORDER BY 1, 2
                """,
                [tables],
            )
            foreign_keys = cur.fetchall()
            cur.execute(
                """
                SELECT x.relname, pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique
                  AND NOT i.indisprimary
                ORDER BY 1
                """,
                [tables],
            )
            indexes = cur.fetchall()
            for table, name, _definition in foreign_keys:
                cur.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(table), sql.Identifier(name)
                    )
                )
            for name, _definition in indexes:
                cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return Deferred(indexes=[d for _n, d in indexes], foreign_keys=foreign_keys)


def parallel(tasks: list[Callable[[], None]], *, workers: int = 2) -> None:
    """Run independent statements on ``workers`` connections at once (the server does the
    work; the machine has two cores). The first failure is raised."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


def _owner_statement(statement) -> Callable[[], None]:
    def run() -> None:
        conn = owner_connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SET maintenance_work_mem = '1GB'")
                cur.execute(statement)
        finally:
            conn.close()

    return run


def restore_indexes_and_keys(deferred: Deferred, *, rows: dict[str, int]) -> None:
    """Build the indexes (the largest tables first, two at a time), then add the keys."""

    def table_rows(definition: str) -> int:
        table = definition.split(" ON ", 1)[1].split(" ", 1)[0].rsplit(".", 1)[-1]
        return rows.get(table, 0)

    parallel(
        [
            _owner_statement(definition)
            for definition in sorted(deferred.indexes, key=table_rows, reverse=True)
        ]
    )
    conn = owner_connect()
    try:
        with conn, conn.cursor() as cur:
            # Validating a foreign key as the owner is subject to FORCEd row-level security:
            # with no tenant set, the referenced rows are invisible and the check is either
            # vacuous or wrong. Lift FORCE for this one transaction (nobody else can see the
            # tables meanwhile: ADD CONSTRAINT locks them), so every key is really checked.
            cur.execute(
                "SELECT relname FROM pg_class WHERE relforcerowsecurity AND relkind = 'r'"
                " AND relnamespace = 'public'::regnamespace"
            )
            forced = [row[0] for row in cur.fetchall()]
            for table in forced:
                cur.execute(
                    sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(
                        sql.Identifier(table)
                    )
                )
            for table, name, definition in deferred.foreign_keys:
                cur.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                        sql.Identifier(table), sql.Identifier(name)
                    )
                    + sql.SQL(definition)
                )
            for table in forced:
                cur.execute(
                    sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(sql.Identifier(table))
                )
    finally:
        conn.close()


def set_sequences(next_ids: dict[str, int]) -> None:
    """Move each table's id sequence past the ids the load assigned itself."""
    conn = owner_connect()
    try:
        with conn, conn.cursor() as cur:
            for table, last_id in next_ids.items():
                cur.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, true)",
                    [table, max(last_id, 1)],
                )
    finally:
        conn.close()


def vacuum_analyze(tables: list[str]) -> None:
    parallel(
        [_owner_statement(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(t))) for t in tables]
    )


@contextlib.contextmanager
def bypass_rls_cursor() -> Iterator:
    """A cursor of the runtime role under the BYPASSRLS ops role, in one transaction."""
    conn = runtime_connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(settings.DATABASE_OPS_ROLE))
            )
            yield cur
    finally:
        conn.close()
