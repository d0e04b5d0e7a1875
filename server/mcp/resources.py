"""MCP resources under ``ai-backend://``: jobs, images (with thumbnails) and photobooks (with page PNGs).

Tool results link here: a job handle to its job, a result naming an ``image_id`` to that
photo's thumbnail, and any ``ai-backend://`` URI in a result (photobook pages, later) as
is. Every read checks the caller may see that user's data, like the other doors.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from server.calls import client_message, get_job
from server.mcp.door import IMAGE_URI, JOB_URI, PHOTOBOOK_PAGE_URI, PHOTOBOOK_URI, THUMBNAIL_URI, McpDoor
from storage.blobs import BlobStore
from storage.images import hash_hex
from storage.models import Image, Photobook
from storage.photobooks import get_photobook
from tools.errors import ToolFailure
from tools.imports.analysis import as_jpeg


def _not_found(what: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=f"{what} not found")


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _not_found(what) from None


def image_summary(row: Image) -> dict[str, Any]:
    """What a client (or model) needs to know about a photo; the raw descriptor stays out."""
    return {
        "image_id": str(row.id),
        "user_id": row.user_id,
        "original_image_id": row.original_image_id,
        "image_type": row.image_type,
        "data_source": row.data_source,
        "format": row.format,
        "width": row.width,
        "height": row.height,
        "byte_size": row.byte_size,
        "sha256": row.sha256,
        "captured_at": row.captured_at.isoformat() if row.captured_at else None,
        "capture_time_local": row.capture_time_local,
        "gps": {"lat": row.gps_lat, "lon": row.gps_lon, "alt": row.gps_alt} if row.gps_lat is not None else None,
        "camera": " ".join(part for part in (row.camera_make, row.camera_model) if part) or None,
        "face_count": row.face_count,
        "quality_score": row.quality_score,
        "phash": hash_hex(row.phash),
        "thumbnail": THUMBNAIL_URI.format(image_id=row.id) if row.thumbnail_key else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def register_resources(server: MCPServer, door: McpDoor) -> None:
    @server.resource(
        JOB_URI,
        name="job",
        title="Job",
        description="A job as JSON: status, progress, result or error, and child job counts. Same shape as "
        "GET /api/jobs/{job_id} and the get_job tool.",
        mime_type="application/json",
    )
    async def read_job(job_id: str, ctx: Context) -> str:
        parsed = _uuid(job_id, "Job")
        try:
            principal = door.principal(ctx.request_context.request)
            job = await get_job(door.runtime.service, principal, parsed)
        except ToolFailure as exc:
            raise MCPError(code=INVALID_PARAMS, message=client_message(exc)) from None
        return job.model_dump_json(indent=2)

    async def owned_image(image_id: str, ctx: Context) -> Image:
        row = await door.image(_uuid(image_id, "Image"))
        if row is None:
            raise _not_found("Image")
        principal = door.principal(ctx.request_context.request)
        if not principal.can_act_for(row.user_id):
            raise MCPError(code=INVALID_PARAMS, message="this API key may not access this image")
        return row

    @server.resource(
        IMAGE_URI,
        name="image",
        title="Photo",
        description="An imported photo as JSON: size, format, capture time and place, camera, faces, quality, and "
        "the URI of its thumbnail.",
        mime_type="application/json",
    )
    async def read_image(image_id: str, ctx: Context) -> str:
        return json.dumps(image_summary(await owned_image(image_id, ctx)), indent=2)

    @server.resource(
        THUMBNAIL_URI,
        name="thumbnail",
        title="Photo thumbnail",
        description="The photo's thumbnail (JPEG, longest side AI_BACKEND_THUMBNAIL_SIZE px), correctly oriented.",
        mime_type="image/jpeg",
    )
    async def read_thumbnail(image_id: str, ctx: Context) -> bytes:
        row = await owned_image(image_id, ctx)
        thumb = await door.thumbnail(row.id, row.user_id)
        if thumb is None:
            raise _not_found("Thumbnail")
        data, mime = thumb
        if mime != "image/jpeg":  # stored before analysis version 4 (WebP): the template declares JPEG
            data = await asyncio.to_thread(as_jpeg, data)
        return data

    async def owned_book(photobook_id: str, ctx: Context) -> Photobook:
        parsed = _uuid(photobook_id, "Photobook")
        async with door.runtime.sessions() as session:
            row = await get_photobook(session, parsed)
        if row is None or not door.principal(ctx.request_context.request).can_act_for(row.user_id):
            raise _not_found("Photobook")
        return row

    @server.resource(
        PHOTOBOOK_URI,
        name="photobook",
        title="Photobook",
        description="A book made by suggest_photobook, as JSON: chapters, pages with slots, crops and texts, the "
        "cover and the photos left out. Same shape as GET /api/photobooks/{photobook_id}.",
        mime_type="application/json",
    )
    async def read_photobook(photobook_id: str, ctx: Context) -> str:
        return json.dumps((await owned_book(photobook_id, ctx)).book, indent=2)

    @server.resource(
        PHOTOBOOK_PAGE_URI,
        name="photobook_page",
        title="Photobook page",
        description="One rendered page of a book as PNG (0 is the cover), to look at the layout.",
        mime_type="image/png",
    )
    async def read_photobook_page(photobook_id: str, number: str, ctx: Context) -> bytes:
        row = await owned_book(photobook_id, ctx)
        if not number.isdigit() or int(number) >= len(row.page_keys):
            raise _not_found("Page")
        blobs = BlobStore.in_data_dir(door.runtime.settings.data_dir)
        data = await asyncio.to_thread(blobs.get, row.page_keys[int(number)])
        if data is None:
            raise _not_found("Page")
        return data
