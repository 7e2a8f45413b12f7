"""The audience link as a QR code.

segno (pure Python, no dependencies) encodes it: a QR encoder is several hundred lines of
Reed-Solomon and masking that we would otherwise own. Error correction M survives a
screen's glare or a slightly crumpled print; the quiet zone is the 4 modules the standard
asks for, since the code is often placed on busy slides and stream layouts.
"""

from __future__ import annotations

import io
from functools import lru_cache

import segno


@lru_cache(maxsize=256)
def svg(url: str) -> bytes:
    """A black-on-white SVG QR code of `url` (cached: the same link, the same bytes)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out,
        kind="svg",
        scale=10,
        border=4,
        dark="#000",
        light="#fff",  # dropped on a dark slide, a transparent code would not scan
        xmldecl=False,
        title="Audience page link",
    )
    return out.getvalue()
