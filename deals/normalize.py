"""Normalizing customer identity for conflict detection: domains and company names."""

from __future__ import annotations

import re
import unicodedata

from partners.domains import normalize_domain

# Domains of free mail providers: a customer "at gmail.com" identifies nobody.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "zoho.com",
        "fastmail.com",
        "tutanota.com",
        "hey.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "virgilio.it",
        "rediffmail.com",
    ]
)

# Legal-form words dropped from the end of a company name ("Acme Inc." == "ACME").
LEGAL_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "llc",
        "lc",
        "ltd",
        "limited",
        "gmbh",
        "mbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "plc",
        "pty",
        "pte",
        "oy",
        "oyj",
        "ab",
        "as",
        "asa",
        "srl",
        "spa",
        "kg",
        "ohg",
        "ug",
        "kk",
        "lp",
        "llp",
        "pc",
        "se",
        "sl",
        "de",
        "cv",
        "kgaa",
        "ltda",
        "sro",
        "aps",
        "kft",
        "bhd",
        "sdn",
        "pvt",
        "bvba",
        "sprl",
        "ooo",
        "oao",
        "zao",
        "pao",
        # Russian OOO, OAO, ZAO, PAO in Cyrillic (escaped: they look like Latin letters)
        "\u043e\u043e\u043e",
        "\u043e\u0430\u043e",
        "\u0437\u0430\u043e",
        "\u043f\u0430\u043e",
        "holding",
        "holdings",
        "group",
    ]
)

# Letters and digits of any script stay ("Яндекс", "Müller" -> "muller"); the rest separates.
_NON_WORD = re.compile(r"[\W_]+")
# "S.A.", "L.L.C.", "B.V": initials written with dots are one word ("sa", "llc", "bv").
_DOTTED_INITIALS = re.compile(r"\b[^\W\d_](?:\.[^\W\d_])+\b\.?")


def is_free_mail(domain: str) -> bool:
    return normalize_domain(domain) in FREE_MAIL_DOMAINS


def matchable_domain(value: str | None) -> str:
    """The normalized domain, or '' for free-mail domains (which never count as a match)."""
    domain = normalize_domain(value)
    return "" if domain in FREE_MAIL_DOMAINS else domain


def normalize_company(name: str | None) -> str:
    """``The ACME, Inc.`` -> ``acme``: case, accents, punctuation and legal suffixes go."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    text = _DOTTED_INITIALS.sub(lambda match: match.group(0).replace(".", ""), text)
    words = [w for w in _NON_WORD.split(text) if w]
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    # "GmbH & Co. KG" goes as a whole: the "and" between legal forms goes with them.
    while len(words) > 1 and (words[-1] in LEGAL_SUFFIXES or words[-1] == "and"):
        words.pop()
    return " ".join(words)
