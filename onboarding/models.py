"""Partner applications, onboarding templates and runs (a later issue builds these)."""
