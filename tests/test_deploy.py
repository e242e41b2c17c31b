"""The production configuration passes Django's deployment checklist without a warning.

Runs ``manage.py check --deploy --fail-level WARNING`` in a fresh interpreter with the
environment a production container gets (DEBUG off, a real secret, explicit hosts, external
database and Redis URLs); here the URLs point at the embedded dev servers' sockets.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from config import devservices

BASE_DIR = Path(__file__).resolve().parent.parent

# Only these are inherited from the test process: anything else it carries (DEBUG,
# DJANGO_ALLOW_ASYNC_UNSAFE set by the browser tests, PYTEST_XDIST_WORKER, ...) would make
# the check see something other than a production container.
_INHERIT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def production_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in _INHERIT if key in os.environ}
    socket_dir = devservices.pg_socket_dir()
    secret = secrets.token_urlsafe(45)
    assert len(secret) == 60
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": secret,
            "ALLOWED_HOSTS": "trellis.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://trellis.example.com",
            "SITE_URL": "https://trellis.example.com",
            "DATABASE_URL": f"postgres://{devservices.APP_ROLE}@/{devservices.DB_NAME}"
            f"?host={socket_dir}",
            "DATABASE_OWNER_URL": f"postgres://{devservices.OWNER_ROLE}@/{devservices.DB_NAME}"
            f"?host={socket_dir}",
            "REDIS_URL": devservices.redis_url(db=0),
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        }
    )
    return env


def test_check_deploy_passes_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in result.stdout, output
    assert "WARNINGS:" not in output, output
