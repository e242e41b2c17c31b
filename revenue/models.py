"""Commission plans, the double-entry ledger, payouts and MDF (a later issue builds these)."""
