"""Fail if a page of the built site loads anything from the network (the site is offline).

Usage: ``python docs/check_offline.py docs/_build/html``. Links (``<a href>``) may point
anywhere; what a browser fetches by itself (``src=``, stylesheet ``<link href>``, CSS
``url(...)`` and ``@import``) must be a local file or a data URI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_REMOTE = re.compile(r"^(https?:)?//", re.I)
_HTML = [re.compile(r'\bsrc\s*=\s*["\']([^"\']+)', re.I),
         re.compile(r'<link\b[^>]*\bhref\s*=\s*["\']([^"\']+)', re.I)]
_CSS = [re.compile(r'url\(\s*["\']?([^"\')]+)', re.I), re.compile(r'@import\s+["\']([^"\']+)', re.I)]


def remote_assets(site: Path) -> list[str]:
    """``file: url`` for every network asset in the site's HTML and CSS files."""
    found = []
    for path in sorted(site.rglob("*")):
        patterns = _HTML if path.suffix == ".html" else _CSS if path.suffix == ".css" else []
        if not patterns:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(site)}: {url}" for pat in patterns for url in pat.findall(text)
                  if _REMOTE.match(url.strip())]
    return found


def main(argv: list[str]) -> int:
    site = Path(argv[0] if argv else "docs/_build/html")
    if not (site / "index.html").is_file():
        print(f"check_offline: no built site at {site} (index.html missing)", file=sys.stderr)
        return 2
    found = remote_assets(site)
    for line in found:
        print(f"network asset: {line}", file=sys.stderr)
    pages = sum(1 for _ in site.rglob("*.html"))
    print(f"check_offline: {pages} pages, {len(found)} network assets")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
