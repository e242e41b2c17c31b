"""The benchmark generator's COPY encoding and data shapes (no database needed)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from django.apps import apps

from bench.generate import (
    Company,
    Tables,
    Weighted,
    customer_domain,
    customer_name,
    encode,
    money,
)
from deals.normalize import matchable_domain, normalize_company


def test_copy_tables_write_every_column_of_their_models():
    # Fails when a model gains a column with no default that the generator does not fill.
    tables = Tables.create()
    for table in tables.all():
        model = next(m for m in apps.get_models() if m._meta.db_table == table.table)
        assert sorted(table.columns) == sorted(f.column for f in model._meta.concrete_fields)
    row = tables.deal.row(*["x"] * 34)
    assert row.endswith("\n")
    assert len(row.rstrip("\n").split("\t")) == len(tables.deal.columns)


def test_encode_escapes_what_copy_text_format_reserves():
    assert encode(None) == "\\N"
    assert encode(True) == "t"
    assert encode("a\tb\nc\\d") == "a\\tb\\nc\\\\d"
    assert encode(["US", "DE"]) == '{"US","DE"}'
    assert encode({"a": 1}) == '{"a": 1}'
    assert encode(Decimal("12.50")) == "12.50"
    assert encode(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"


def test_money_formats_cents_as_a_decimal_string():
    assert money(0) == "0.00"
    assert money(123456) == "1234.56"
    assert money(5) == "0.05"


def test_weighted_picks_only_given_values_in_proportion():
    rng = random.Random(1)
    picker = Weighted([("a", 9), ("b", 1)])
    picks = [picker.pick(rng) for _ in range(10_000)]
    assert set(picks) == {"a", "b"}
    assert 0.85 < picks.count("a") / len(picks) < 0.95


def test_typed_customer_names_and_domains_normalize_back_to_the_company():
    rng = random.Random(3)
    company = Company(name="Blue Ridge Analytics", domain="blueridgeanalytics.com", country="US")
    names = {normalize_company(customer_name(rng, company)) for _ in range(500)}
    # Most spellings normalize to the same company; typos and abbreviations stay neighbours.
    assert "blue ridge analytics" in names
    domains = {matchable_domain(customer_domain(rng, company)) for _ in range(500)}
    assert domains <= {"blueridgeanalytics.com", ""}
