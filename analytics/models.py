"""Metric definitions, rollups and dashboards (a later issue builds these)."""
