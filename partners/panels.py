"""Panels of the staff console's partner page that higher apps contribute.

The partners app may never import deals (the layer contract), yet the partner page shows a
deals summary. So a higher app registers a panel here from its ``AppConfig.ready``: a callable
that takes ``(request, partner)`` and returns ``(template_name, context)``, or None when it has
nothing to show to this request (for example the actor may not read deals). The page renders
every panel in the order they were registered.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from partners.models import Partner

Panel = Callable[[HttpRequest, Partner], tuple[str, dict] | None]

_panels: list[Panel] = []


def register(panel: Panel) -> Panel:
    """Add a panel to the partner page (registering the same callable twice adds it once)."""
    if panel not in _panels:
        _panels.append(panel)
    return panel


def unregister(panel: Panel) -> None:
    if panel in _panels:
        _panels.remove(panel)


def render_panels(request: HttpRequest, partner: Partner) -> list[SafeString]:
    """The HTML of every registered panel that has something to show for ``partner``."""
    rendered = []
    for panel in _panels:
        result = panel(request, partner)
        if result is None:
            continue
        template_name, context = result
        rendered.append(
            render_to_string(template_name, {"partner": partner, **context}, request=request)
        )
    return rendered
