"""Deal registration, conflicts, approvals, protection and leads (issue #3 builds these)."""
