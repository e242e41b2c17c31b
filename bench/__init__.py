"""The deal registration benchmark (``make bench``, ``python -m bench``).

``bench.generate`` fills a separate database (``trellis_bench``) with one large tenant and
many small ones by COPY; ``bench.measure`` times list, search and submit requests through
the real stack (URLconf, middleware, token auth, DRF) against the bare SQL they need.
"""
