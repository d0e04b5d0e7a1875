"""The book formats we lay out for, kept as data: page size in mm and the printer's page limits.

Page counts are inner pages (the cover is extra); printers bind in steps of ``page_step``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BookFormat:
    id: str
    name: str
    width_mm: float
    height_mm: float
    pages_min: int
    pages_max: int
    page_step: int

    @property
    def aspect(self) -> float:
        return self.width_mm / self.height_mm

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "width_mm": self.width_mm,
            "height_mm": self.height_mm,
            "pages_min": self.pages_min,
            "pages_max": self.pages_max,
            "page_step": self.page_step,
        }


FORMATS: dict[str, BookFormat] = {
    f.id: f
    for f in (
        BookFormat("a4-portrait", "A4 portrait", 210.0, 297.0, 24, 160, 2),
        BookFormat("a4-landscape", "A4 landscape", 297.0, 210.0, 24, 160, 2),
        BookFormat("square-30", "30x30 square", 300.0, 300.0, 20, 140, 2),
        BookFormat("square-20", "20x20 square", 200.0, 200.0, 12, 100, 2),
    )
}
DEFAULT_FORMAT = "a4-landscape"


def snap_pages(count: int, low: int, high: int, step: int) -> int:
    """``count`` moved into [low, high] and onto the binding step (up if it fits, else down)."""
    count = max(low, min(high, count))
    rest = count % step
    if rest:
        up = count + step - rest
        count = up if up <= high else count - rest
    return count
