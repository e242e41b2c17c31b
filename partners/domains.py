"""Website domains: normalizing and checking them (partners' and customers' alike)."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
# One DNS label: letters (any script, for IDNs) or digits, hyphens inside.
_LABEL = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")


def normalize_domain(value: str | None) -> str:
    """``https://WWW.Acme.com/about`` -> ``acme.com``; an email gives its domain."""
    text = (value or "").strip().lower()
    if not text:
        return ""
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    text = _SCHEME.sub("", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1]  # user:pass@host
    text = text.split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    return text


def is_valid_domain(value: str | None) -> bool:
    """Whether ``value`` normalizes to a plausible host name: two or more labels, such as
    ``acme.com`` (``localhost``, ``acme`` or ``acme..com`` are not a customer's website)."""
    domain = normalize_domain(value)
    labels = domain.split(".")
    return (
        len(domain) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


__all__ = ["is_valid_domain", "normalize_domain"]
