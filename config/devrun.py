"""``make run``: the whole development stack in one foreground command.

1. Starts the embedded PostgreSQL and Redis (``config.devservices``) unless ``DATABASE_URL`` /
   ``REDIS_URL`` point elsewhere, and remembers which of them it started.
2. Runs ``manage.py migrate --noinput`` and ``manage.py seed_demo`` (idempotent).
3. Starts ``runserver``, a Celery worker and Celery beat as child processes, each in its own
   process group, with ``DEBUG=1``.
4. On Ctrl-C / SIGTERM / SIGHUP, or as soon as any child exits, terminates every child's process
   group (SIGTERM, then SIGKILL after a timeout) and stops the embedded servers it started
   (servers that were already running are left alone). A child dying makes the exit status
   non-zero.

Usage: ``python -m config.devrun`` (``PORT`` changes the runserver port, default 8000).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TRELLIS_DATA_DIR", BASE_DIR / ".data"))
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
DEMO_PASSWORD = "trellis-demo"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class Shutdown(Exception):
    """Raised by the signal handler to unwind into the clean-up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    pgid: int = field(init=False)

    def __post_init__(self) -> None:
        self.pgid = self.process.pid  # process_group=0: the child leads its own group


def _log(message: str) -> None:
    print(f"[devrun] {message}", flush=True)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - not Linux
        return None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if devrun itself is killed with SIGKILL."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _become_subreaper() -> None:
    """Orphaned grandchildren (runserver's reloaded server, celery's pool) are re-parented to
    us rather than to PID 1, so we can reap them and see when a process group is empty."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _read_dotenv() -> None:
    env_file = BASE_DIR / ".env"
    if env_file.exists():
        import environ

        environ.Env.read_env(str(env_file))


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", *args]


def _run_step(name: str, cmd: list[str], env: dict[str, str]) -> None:
    _log(f"{name}: {' '.join(cmd[1:])}")
    result = subprocess.run(cmd, cwd=BASE_DIR, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"[devrun] {name} failed with exit status {result.returncode}")


def _start(name: str, cmd: list[str], env: dict[str, str]) -> Child:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        cmd, cwd=BASE_DIR, env=env, process_group=0, preexec_fn=_die_with_parent
    )
    _log(f"started {name} (pid {process.pid})")
    return Child(name, process)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def _reap_orphans() -> None:
    """Reap exited grandchildren re-parented to us (only called once the children are done)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal_groups(children: list[Child], signum: int) -> None:
    for child in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pgid, signum)


def stop_children(children: list[Child], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every child's process group, wait, then SIGKILL whatever is left."""
    if not children:
        return
    _log("stopping " + ", ".join(c.name for c in children))
    _signal_groups(children, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    forced = False
    while True:
        for child in children:
            child.process.poll()
        if all(child.process.returncode is not None for child in children):
            _reap_orphans()
            if not any(_group_alive(child.pgid) for child in children):
                break
        if time.monotonic() >= deadline and not forced:
            left = [c.name for c in children if _group_alive(c.pgid)]
            _log(f"still running after {timeout:.0f}s, killing: {', '.join(left)}")
            _signal_groups(children, signal.SIGKILL)
            forced = True
            deadline = time.monotonic() + 5
        elif time.monotonic() >= deadline:
            _log("some processes could not be reaped; giving up waiting")
            break
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def banner(base_url: str) -> str:
    p = DEMO_PASSWORD
    lines = [
        "",
        "=" * 72,
        f"  Trellis is running at {base_url}",
        "",
        f"  Demo logins (password for all: {p})",
        f"  tenant acme      {base_url}/t/acme/",
        "    admin@acme.test          tenant admin",
        "    manager@acme.test        channel manager",
        "    finance@acme.test        finance",
        "    marketing@acme.test      marketing",
        "    analyst@acme.test        analyst",
        "    padmin@northwind.test    partner admin (Northwind)",
        "    rep@northwind.test       partner rep (Northwind)",
        f"  tenant globex    {base_url}/t/globex/",
        "    admin@globex.test        tenant admin",
        "    padmin@umbrella.test     partner admin (Umbrella)",
        "  both tenants",
        "    consultant@both.test     picks a tenant after signing in",
        "",
        f"  API docs {base_url}/api/docs/   admin {base_url}/admin/",
        "  Ctrl-C stops runserver, the Celery worker and beat.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    _read_dotenv()
    os.environ["DEBUG"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["PYTHONUNBUFFERED"] = "1"
    DATA_DIR.mkdir(parents=True, exist_ok=True)

    def on_signal(signum: int, _frame) -> None:
        raise Shutdown(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    from config import devservices

    embedded_db = not os.environ.get("DATABASE_URL")
    embedded_redis = not os.environ.get("REDIS_URL")
    started_postgres = started_redis = False
    children: list[Child] = []
    exit_code = 0
    port = os.environ.get("PORT", "8000")
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            if embedded_db:
                started_postgres = devservices.ensure_postgres()
                state = "started" if started_postgres else "already running"
                _log(f"embedded PostgreSQL {state} (socket dir {devservices.pg_socket_dir()})")
            if embedded_redis:
                started_redis = devservices.ensure_redis()
                state = "started" if started_redis else "already running"
                _log(f"embedded Redis {state} ({devservices.redis_socket()})")
        except devservices.EmbeddedServiceError as exc:
            _log(f"cannot start the embedded services: {exc}")
            return 1

        env = dict(os.environ)
        _run_step("migrate", _manage("migrate", "--noinput"), env)
        _run_step("seed_demo", _manage("seed_demo"), env)

        from django.conf import settings

        queue = settings.CELERY_TASK_DEFAULT_QUEUE

        _become_subreaper()
        children.append(_start("runserver", _manage("runserver", f"127.0.0.1:{port}"), env))
        children.append(
            _start(
                "celery worker",
                _celery("worker", "-l", "info", "--concurrency", "2", "-Q", queue),
                env,
            )
        )
        children.append(
            _start(
                "celery beat",
                _celery(
                    "beat",
                    "-l",
                    "info",
                    "--scheduler",
                    "config.beat:DefaultsOnlyDatabaseScheduler",
                    "--pidfile",
                    str(DATA_DIR / "celerybeat.pid"),
                    "--schedule",
                    str(DATA_DIR / "celerybeat-schedule"),
                ),
                env,
            )
        )

        announced = False
        started_at = time.monotonic()
        while True:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    _log(f"{child.name} exited with status {code}; stopping everything")
                    # A signal death (-N) becomes 128+N, like a shell reports it.
                    exit_code = 128 - code if code < 0 else (code or 1)
                    return exit_code
            if not announced and (
                _healthy(f"{base_url}/healthz") or time.monotonic() - started_at > 60
            ):
                print(banner(base_url), flush=True)
                announced = True
            time.sleep(0.5)
    except Shutdown as exc:
        _log(f"received {exc}; shutting down")
        return exit_code
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr, flush=True)
            return 1
        return exc.code or 0
    finally:
        # A second Ctrl-C during clean-up must not abandon the children or the servers.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop_children(children)
        if started_redis:
            devservices.stop_redis()
            _log("stopped the embedded Redis (this run started it)")
        if started_postgres:
            devservices.stop_postgres()
            _log("stopped the embedded PostgreSQL (this run started it)")
        if (embedded_db and not started_postgres) or (embedded_redis and not started_redis):
            _log("left running the embedded services that were already up (make stop stops them)")


if __name__ == "__main__":
    sys.exit(main())
