"""Draw the installed app's icons (edge_server/site/static/app/kru-*.png), no image library.

An open book in white on Kru's blue: a plain shape that reads at 48 px on a home screen and
survives a maskable crop (the book stays inside the middle 80 %). Run it after changing the
drawing; the PNGs are committed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "edge_server" / "site" / "static" / "app"
BLUE = (11, 92, 173)
WHITE = (255, 255, 255)


def inside_book(x: float, y: float) -> bool:
    """Return whether the point (0..1 square) is on the open book."""
    # Two pages, each a parallelogram rising to the spine at x = 0.5, with a gap at the spine.
    if not 0.22 <= x <= 0.78 or abs(x - 0.5) < 0.018:
        return False
    lift = 0.05 * (1 - abs(x - 0.5) / 0.28)  # pages curve up towards the spine
    top, bottom = 0.30 - lift, 0.68 - lift
    return top <= y <= bottom


def inside_line(x: float, y: float) -> bool:
    """Return whether the point is on one of the blue text lines drawn on the pages."""
    lift = 0.05 * (1 - abs(x - 0.5) / 0.28)
    for row in (0.38, 0.46, 0.54):
        if 0.27 <= x <= 0.46 or 0.54 <= x <= 0.73:
            if abs(y - (row - lift)) < 0.012:
                return True
    return False


def pixel(x: float, y: float, rounded: bool) -> tuple[int, int, int, int]:
    if rounded:  # the "any" icon: a rounded square with transparent corners
        r = 0.18
        cx = min(max(x, r), 1 - r)
        cy = min(max(y, r), 1 - r)
        if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
            return (0, 0, 0, 0)
    if inside_book(x, y) and not inside_line(x, y):
        return (*WHITE, 255)
    return (*BLUE, 255)


def png(size: int, rounded: bool) -> bytes:
    rows = bytearray()
    for j in range(size):
        rows.append(0)
        for i in range(size):
            rows.extend(pixel((i + 0.5) / size, (j + 0.5) / size, rounded))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"kru-{size}.png").write_bytes(png(size, rounded=True))
    (OUT / "kru-maskable-512.png").write_bytes(png(512, rounded=False))


if __name__ == "__main__":
    main()
