"""The API docs page: Swagger UI from drf-spectacular-sidecar's static files, no CDN.

The split view serves its start-up script from a URL (``?script``), so the page runs under
our Content-Security-Policy without inline script. Its template still carries one small inline
``<style>`` block; rather than allowing ``'unsafe-inline'`` styles, the page allows exactly
that block by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re

from drf_spectacular.views import SpectacularSwaggerSplitView

_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


class SwaggerDocsView(SpectacularSwaggerSplitView):
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.GET.get("script") is None and response.status_code == 200:
            response.render()
            blocks = _STYLE_BLOCK.findall(response.content.decode())
            if blocks:
                response._csp_update = {"style-src": [_csp_hash(block) for block in blocks]}
        return response
