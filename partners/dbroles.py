"""Database roles: migrations run as the owner, the app runs as a role RLS applies to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.db import connections

_OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT")


@contextlib.contextmanager
def owner_connection(alias: str = "default") -> Iterator[None]:
    """Run the block on ``alias`` with the owner's credentials (DATABASE_OWNER_URL)."""
    connection = connections[alias]
    saved = {key: connection.settings_dict.get(key) for key in _OWNER_KEYS}
    owner = settings.DATABASE_OWNER
    if all(owner.get(key) == saved[key] for key in _OWNER_KEYS):
        yield
        return
    connection.close()
    connection.settings_dict.update({key: owner.get(key) for key in _OWNER_KEYS})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def runtime_role() -> str:
    return settings.DATABASES["default"]["USER"]


def ensure_roles_and_grants(alias: str = "default") -> None:
    """Create the runtime and ops roles if the owner may, then grant table privileges.

    Idempotent; run by ``migrate`` (as the owner) after every migration.
    """
    connection = connections[alias]
    app_role = runtime_role()
    ops_role = settings.DATABASE_OPS_ROLE
    app_password = settings.DATABASES["default"].get("PASSWORD") or ""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        can_create_roles = bool(cursor.fetchone()[0])
        cursor.execute("SELECT current_user")
        owner_role = cursor.fetchone()[0]
        if can_create_roles:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ops_role])
            if not cursor.fetchone():
                cursor.execute(f"CREATE ROLE {q(ops_role)} NOLOGIN BYPASSRLS")
            if app_role != owner_role:
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role])
                if not cursor.fetchone():
                    cursor.execute(
                        f"CREATE ROLE {q(app_role)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD %s",
                        [app_password or None],
                    )
                elif app_password:
                    # Keep the role's password in step with DATABASE_URL (rotated secrets).
                    cursor.execute(f"ALTER ROLE {q(app_role)} PASSWORD %s", [app_password])
                cursor.execute(f"GRANT {q(ops_role)} TO {q(app_role)}")
        for role in {app_role, ops_role}:
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {q(role)}")
            cursor.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q(role)}"
            )
            cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q(role)}")
