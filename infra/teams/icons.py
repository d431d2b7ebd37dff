"""Draw Beacon's Teams icons with the standard library: `python -m infra.teams.icons`.

Teams wants a 192×192 full-colour icon and a 32×32 outline icon that is white on a transparent
background. Both show the same symbol, a rotating beacon light: a dome on a base with rays. The
output is deterministic, so regenerating does not change committed files unless this code changes.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
ACCENT = (0xC4, 0x31, 0x4B)  # the manifest's accentColor, #C4314B
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # supersampling per axis, for smooth edges

Shape = Callable[[float, float], bool]  # (x, y) in the symbol's unit square, y pointing down


def _disc(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _rect(x0: float, y0: float, x1: float, y1: float) -> Shape:
    return lambda x, y: x0 <= x <= x1 and y0 <= y <= y1


def _capsule(ax: float, ay: float, bx: float, by: float, r: float) -> Shape:
    """All points within r of the segment a–b: a stroke with round ends."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy

    def inside(x: float, y: float) -> bool:
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        px, py = ax + t * dx, ay + t * dy
        return (x - px) ** 2 + (y - py) ** 2 <= r * r

    return inside


def _rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> Shape:
    core = [_rect(x0 + r, y0, x1 - r, y1), _rect(x0, y0 + r, x1, y1 - r)]
    corners = [_disc(x0 + r, y0 + r, r), _disc(x1 - r, y0 + r, r),
               _disc(x0 + r, y1 - r, r), _disc(x1 - r, y1 - r, r)]
    parts = core + corners
    return lambda x, y: any(part(x, y) for part in parts)


def _union(*shapes: Shape) -> Shape:
    return lambda x, y: any(shape(x, y) for shape in shapes)


def _rays() -> list[Shape]:
    """Five rays around the dome, pointing away from its centre (0.5, 0.52)."""
    rays = []
    for degrees in (-90, -135, -45, 180, 0):
        angle = math.radians(degrees)
        ux, uy = math.cos(angle), math.sin(angle)
        inner, outer = 0.36, 0.47
        rays.append(_capsule(0.5 + inner * ux, 0.52 + inner * uy, 0.5 + outer * ux, 0.52 + outer * uy, 0.04))
    return rays


DOME = _union(_disc(0.5, 0.52, 0.25), _rect(0.25, 0.52, 0.75, 0.76))
BASE = _rounded_rect(0.14, 0.80, 0.86, 0.94, 0.04)
SYMBOL = _union(DOME, BASE, *_rays())
SHINE = _capsule(0.40, 0.44, 0.40, 0.66, 0.045)  # the glint on the dome, cut out of the symbol


def _coverage(shape: Shape, cut: Shape, px: int, py: int, box: tuple[float, float, float]) -> float:
    """The fraction of pixel (px, py) covered by shape minus cut; box = (left, top, size) in pixels."""
    left, top, size = box
    hits = 0
    for sy in range(SAMPLES):
        y = (py + (sy + 0.5) / SAMPLES - top) / size
        for sx in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES - left) / size
            if 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and shape(x, y) and not cut(x, y):
                hits += 1
    return hits / (SAMPLES * SAMPLES)


def _png(width: int, height: int, color_type: int, rows: list[bytes]) -> bytes:
    """A non-interlaced 8-bit PNG; color_type 2 = RGB, 6 = RGBA."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def color_icon(size: int = 192) -> bytes:
    """White beacon on the accent colour, full bleed; the symbol sits in the central half."""
    box = (size * 0.25, size * 0.25, size * 0.5)
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            a = _coverage(SYMBOL, SHINE, px, py, box)
            row += bytes(round(bg + (fg - bg) * a) for fg, bg in zip(WHITE, ACCENT, strict=True))
        rows.append(bytes(row))
    return _png(size, size, 2, rows)


def outline_icon(size: int = 32) -> bytes:
    """White beacon on transparent; only alpha varies, so every visible pixel is pure white."""
    margin = size * 0.06
    box = (margin, margin, size - 2 * margin)
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            row += bytes((*WHITE, round(255 * _coverage(SYMBOL, SHINE, px, py, box))))
        rows.append(bytes(row))
    return _png(size, size, 6, rows)


def main() -> None:
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        path = HERE / name
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
