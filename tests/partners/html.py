"""Reading the pages the way a person does: links, forms and text, not raw markup."""

from __future__ import annotations

from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nav_stack: list[str] = []
        self.nav_links: dict[str, list[tuple[str, str, bool]]] = {}
        self._link: dict | None = None
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "nav":
            self.nav_stack.append(attributes.get("aria-label", ""))
        if tag == "a" and self.nav_stack:
            self._link = {
                "href": attributes.get("href", ""),
                "text": "",
                "current": attributes.get("aria-current") == "page",
            }

    def handle_endtag(self, tag):
        if tag == "nav" and self.nav_stack:
            self.nav_stack.pop()
        if tag == "a" and self._link is not None:
            self.nav_links.setdefault(self.nav_stack[-1], []).append(
                (self._link["text"].strip(), self._link["href"], self._link["current"])
            )
            self._link = None

    def handle_data(self, data):
        self.text.append(data)
        if self._link is not None:
            self._link["text"] += data


def parse(response) -> _Page:
    page = _Page()
    page.feed(response.content.decode())
    return page


def main_nav(response) -> dict[str, str]:
    """Label -> URL of the role-aware main navigation."""
    return {label: url for label, url, _current in parse(response).nav_links.get("Main", [])}


def active_nav(response) -> list[str]:
    return [label for label, _url, current in parse(response).nav_links.get("Main", []) if current]


def text(response) -> str:
    return " ".join(" ".join(parse(response).text).split())
