"""A minimal PDF writer: one JPEG per page, placed full-page at the book's size.

Pillow can write multi-page PDFs, but only from images all held in memory at once (or by
incremental appends that repeat the page tree each time); a book of 100 pages is better
streamed page by page. Each page here costs only its JPEG bytes.
"""

from __future__ import annotations

from typing import BinaryIO


class PdfWriter:
    def __init__(self, out: BinaryIO, title: str = "") -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_id = 3  # 1: catalog, 2: page tree
        self.title = title
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.out.tell()
        self._write(f"{number} 0 obj\n".encode() + body)
        if stream is not None:
            self._write(b"\nstream\n" + stream + b"\nendstream")
        self._write(b"\nendobj\n")

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def add_jpeg_page(self, jpeg: bytes, pixel_size: tuple[int, int], page_pt: tuple[float, float]) -> None:
        """One page of ``page_pt`` points showing ``jpeg`` (RGB, ``pixel_size``) edge to edge."""
        w, h = page_pt
        image_id, content_id, page_id = self._new_id(), self._new_id(), self._new_id()
        px, py = pixel_size
        self._object(
            image_id,
            f"<< /Type /XObject /Subtype /Image /Width {px} /Height {py} /ColorSpace /DeviceRGB "
            f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(jpeg)} >>".encode(),
            jpeg,
        )
        content = f"q {w:.2f} 0 0 {h:.2f} 0 0 cm /Im0 Do Q".encode()
        self._object(content_id, f"<< /Length {len(content)} >>".encode(), content)
        self._object(
            page_id,
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w:.2f} {h:.2f}] "
            f"/Resources << /XObject << /Im0 {image_id} 0 R >> >> /Contents {content_id} 0 R >>".encode(),
        )
        self.pages.append(page_id)

    def close(self) -> None:
        kids = " ".join(f"{p} 0 R" for p in self.pages)
        self._object(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode())
        self._object(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        safe = self.title.encode("utf-16-be")
        info_id = self._new_id()
        self._object(info_id, b"<< /Producer (ai-backend) /Title <feff" + safe.hex().encode() + b"> >>")
        xref = self.out.tell()
        count = max(self.offsets) + 1
        lines = [f"xref\n0 {count}\n", "0000000000 65535 f \n"]
        for number in range(1, count):
            offset = self.offsets.get(number)
            lines.append(f"{offset:010d} 00000 n \n" if offset is not None else "0000000000 65535 f \n")
        self._write("".join(lines).encode())
        self._write(
            f"trailer\n<< /Size {count} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        )
