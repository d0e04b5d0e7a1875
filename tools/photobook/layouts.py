"""The page layout catalog: 1 to 6 photo slots as fractions of a page's content box.

A layout is chosen per page by how well its slots suit the photos (orientation, which photo
matters most), see ``pages.choose_layout``. Gutters and margins are applied in mm when a
layout is placed on a real page (``place``), so one catalog serves every format.
"""

from __future__ import annotations

from dataclasses import dataclass

Rect = tuple[float, float, float, float]  # x, y, w, h

T = 1 / 3


@dataclass(frozen=True)
class Layout:
    id: str
    slots: tuple[Rect, ...]

    @property
    def size(self) -> int:
        return len(self.slots)


LAYOUTS: tuple[Layout, ...] = (
    Layout("single", ((0, 0, 1, 1),)),
    Layout("two-columns", ((0, 0, 0.5, 1), (0.5, 0, 0.5, 1))),
    Layout("two-rows", ((0, 0, 1, 0.5), (0, 0.5, 1, 0.5))),
    Layout("hero-left-2", ((0, 0, 0.62, 1), (0.62, 0, 0.38, 0.5), (0.62, 0.5, 0.38, 0.5))),
    Layout("hero-top-2", ((0, 0, 1, 0.6), (0, 0.6, 0.5, 0.4), (0.5, 0.6, 0.5, 0.4))),
    Layout("three-columns", ((0, 0, T, 1), (T, 0, T, 1), (2 * T, 0, T, 1))),
    Layout("three-rows", ((0, 0, 1, T), (0, T, 1, T), (0, 2 * T, 1, T))),
    Layout("grid-2x2", ((0, 0, 0.5, 0.5), (0.5, 0, 0.5, 0.5), (0, 0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5))),
    Layout("hero-left-3", ((0, 0, 0.6, 1), (0.6, 0, 0.4, T), (0.6, T, 0.4, T), (0.6, 2 * T, 0.4, T))),
    Layout("hero-top-3", ((0, 0, 1, 0.6), (0, 0.6, T, 0.4), (T, 0.6, T, 0.4), (2 * T, 0.6, T, 0.4))),
    Layout(
        "hero-top-4",
        (
            (0, 0, 1, 0.58),
            (0, 0.58, 0.25, 0.42),
            (0.25, 0.58, 0.25, 0.42),
            (0.5, 0.58, 0.25, 0.42),
            (0.75, 0.58, 0.25, 0.42),
        ),
    ),
    Layout(
        "two-over-three",
        ((0, 0, 0.5, 0.55), (0.5, 0, 0.5, 0.55), (0, 0.55, T, 0.45), (T, 0.55, T, 0.45), (2 * T, 0.55, T, 0.45)),
    ),
    Layout("grid-3x2", tuple((c * T, r * 0.5, T, 0.5) for r in range(2) for c in range(3))),
    Layout("grid-2x3", tuple((c * 0.5, r * T, 0.5, T) for r in range(3) for c in range(2))),
)

BY_SIZE: dict[int, list[Layout]] = {}
for _layout in LAYOUTS:
    BY_SIZE.setdefault(_layout.size, []).append(_layout)
BY_ID = {layout.id: layout for layout in LAYOUTS}
MAX_SLOTS = max(BY_SIZE)


def place(layout: Layout, box: Rect, gutter: float) -> list[Rect]:
    """The layout's slots in mm inside ``box`` (the page minus margins), ``gutter`` mm apart."""
    bx, by, bw, bh = box
    half = gutter / 2
    # grow the box by half a gutter, then shrink every slot by half a gutter: gutters between slots,
    # and the outer edges land exactly on the box.
    gx, gy, gw, gh = bx - half, by - half, bw + gutter, bh + gutter
    return [(gx + x * gw + half, gy + y * gh + half, w * gw - gutter, h * gh - gutter) for x, y, w, h in layout.slots]
