"""The admin of partner CSV imports (upload, preview, import); see ``partners/imports.py``."""
