"""Photobook routes: the stored book as JSON, its preview PDF and its page PNGs (0 = cover).

A book belongs to one user: another user's key gets 404, as if the book did not exist.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.rest.common import path_uuid, principal_of
from server.rest.errors import ApiError
from server.rest.jobs import runtime_of
from storage.blobs import BlobStore
from storage.models import Photobook
from storage.photobooks import get_photobook
from tools.photobook.models import PhotobookResult


async def _owned_book(request: Request) -> Photobook:
    photobook_id = path_uuid(request, "photobook_id", "Photobook")
    async with runtime_of(request).sessions() as session:
        row = await get_photobook(session, photobook_id)
    if row is None or not principal_of(request).can_act_for(row.user_id):
        raise ApiError(404, "Photobook not found")
    return row


async def _blob(request: Request, key: str | None, media_type: str, filename: str) -> Response:
    blobs = BlobStore.in_data_dir(runtime_of(request).settings.data_dir)
    data = await asyncio.to_thread(blobs.get, key) if key else None
    if data is None:
        raise ApiError(404, "preview not found (it is rendered when the book is made)")
    headers = {"Cache-Control": "private, max-age=3600", "Content-Disposition": f'inline; filename="{filename}"'}
    return Response(data, media_type=media_type, headers=headers)


async def get_book(request: Request) -> JSONResponse:
    row = await _owned_book(request)
    return JSONResponse(row.book | {"user_id": row.user_id, "created_at": row.created_at.isoformat()})


async def get_preview_pdf(request: Request) -> Response:
    row = await _owned_book(request)
    return await _blob(request, row.preview_key, "application/pdf", f"photobook-{row.id}.pdf")


async def get_page_png(request: Request) -> Response:
    row = await _owned_book(request)
    raw = request.path_params["number"]
    if not raw.isdigit() or int(raw) >= len(row.page_keys):
        raise ApiError(404, f"page {raw!r} not found: pages are 0 (the cover) to {len(row.page_keys) - 1}")
    number = int(raw)
    return await _blob(request, row.page_keys[number], "image/png", f"photobook-{row.id}-page-{number}.png")


routes = [
    Route("/api/photobooks/{photobook_id}", get_book, methods=["GET"]),
    Route("/api/photobooks/{photobook_id}/preview.pdf", get_preview_pdf, methods=["GET"]),
    Route("/api/photobooks/{photobook_id}/pages/{number}.png", get_page_png, methods=["GET"]),
]


# -- OpenAPI additions (merged into /openapi.json by server.openapi) ------------------------


def _schemas() -> dict[str, Any]:
    schema = PhotobookResult.model_json_schema(ref_template="#/components/schemas/{model}")
    out: dict[str, Any] = schema.pop("$defs", {})
    out["PhotobookResult"] = schema
    return out


_ID = {"name": "photobook_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
_SEC = [{"APIKeyAuth": []}]
_404 = {
    "description": "No such book for this key",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


def _binary(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}


OPENAPI_SCHEMAS: dict[str, Any] = _schemas()
OPENAPI_PATHS: dict[str, Any] = {
    "/api/photobooks/{photobook_id}": {
        "get": {
            "operationId": "get_photobook",
            "summary": "Get a suggested photobook",
            "description": "The book SUGGEST_PHOTOBOOK made: chapters, pages with slots (mm), crops, texts, "
            "cover, left-out photos with reasons. Our addition.",
            "security": _SEC,
            "parameters": [_ID],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotobookResult"}}},
                },
                "404": _404,
            },
        }
    },
    "/api/photobooks/{photobook_id}/preview.pdf": {
        "get": {
            "operationId": "get_photobook_preview_pdf",
            "summary": "The book's preview PDF",
            "description": "Every page (cover first) at the format's size, rendered from the stored images.",
            "security": _SEC,
            "parameters": [_ID],
            "responses": {"200": _binary("application/pdf", "The PDF"), "404": _404},
        }
    },
    "/api/photobooks/{photobook_id}/pages/{number}.png": {
        "get": {
            "operationId": "get_photobook_page_png",
            "summary": "One page of the book as PNG",
            "description": "Page `number` (0 = the cover) at 100 dpi.",
            "security": _SEC,
            "parameters": [_ID, {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _binary("image/png", "The page"), "404": _404},
        }
    },
}
