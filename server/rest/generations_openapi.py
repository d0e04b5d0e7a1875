"""OpenAPI paths and schemas of ``/api/generations`` (merged into /openapi.json by ``server.openapi``).

Schemas are generated from the route models; names the contract already defines (``JobResponse``)
are referenced, never redefined, so the contract's schemas stay unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.rest.generation_views import (
    GenerationAccepted,
    GenerationDeleteResponse,
    GenerationListResponse,
    GenerationView,
    RegenerateRequest,
    SelectRequest,
)
from storage.models import GENERATION_STATUSES
from tools.generation.models import GenerateImageParams

CONTRACT_SCHEMAS = set(
    json.loads((Path(__file__).parents[1] / "spec" / "ai-backend.openapi.json").read_text())["components"]["schemas"]
)
MODELS = (
    GenerationView,
    GenerationAccepted,
    GenerationListResponse,
    GenerationDeleteResponse,
    SelectRequest,
    RegenerateRequest,
    GenerateImageParams,
)


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update({name: s for name, s in schema.pop("$defs", {}).items() if name not in CONTRACT_SCHEMAS})
        out[model.__name__] = schema
    return out


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_json("ErrorResponse")}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_SEC = [{"APIKeyAuth": []}]
_UUID = {"type": "string", "format": "uuid"}
_ID = {"name": "generation_id", "in": "path", "required": True, "schema": _UUID}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_OWNED = {"403": _error("Another user's generation"), "404": _error("No such generation (or deleted)")}
_ACCEPTED = {"202": {"description": "Accepted: the generation and its pending job", **_json("GenerationAccepted")}}
_RUN_ERRORS = {
    "400": _error("Bad params (the detail names the field), or no image provider is configured"),
    "404": _error("A reference image is not in the user's library"),
}


def _op(op_id: str, summary: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "summary": summary,
        "description": description,
        "security": _SEC,
        **extra,
        "responses": responses,
    }


def _body(ref: str, required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"required": required, **_json(ref)}}


OPENAPI_SCHEMAS: dict[str, Any] = _schemas()
OPENAPI_PATHS: dict[str, Any] = {
    "/api/generations": {
        "post": _op(
            "create_generation",
            "Generate images",
            "Starts a generate_image job (the same operation as the GENERATE_IMAGE action) and answers 202 with "
            "the generation and its job. Poll GET /api/generations/{id} (or the job). An identical earlier "
            "request is answered from the prompt cache without calling the provider unless cache is false. "
            "Our addition.",
            {**_ACCEPTED, **_RUN_ERRORS, "403": _error("Another user's data")},
            **_body("GenerateImageParams"),
        ),
        "get": _op(
            "list_generations",
            "List generations",
            "The caller's generations, newest first, each with its predictions; soft-deleted ones are left out.",
            {"200": {"description": "OK", **_json("GenerationListResponse")}, "400": _error("Bad query parameter")},
            parameters=[
                _query("user_id", {"type": "string"}, "Admin keys: only this user's."),
                _query("status", {"type": "string", "enum": list(GENERATION_STATUSES)}, "Only this status."),
                _query("entity_type", {"type": "string"}, "Only generations for this kind of entity."),
                _query("entity_id", {"type": "string"}, "Only generations for this entity id."),
                _query("parent_generation_id", _UUID, "Only regenerations of this generation (its lineage)."),
                _query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number."),
                _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size."),
            ],
        ),
    },
    "/api/generations/{generation_id}": {
        "get": _op(
            "get_generation",
            "Get a generation",
            "Its request, status, error (the provider's message) and predictions with image and thumbnail URLs.",
            {"200": {"description": "OK", **_json("GenerationView")}, **_OWNED},
            parameters=[_ID],
        ),
        "delete": _op(
            "delete_generation",
            "Delete a generation (soft)",
            "Cancels it if it still runs and hides it from reads, lists and the prompt cache. Its images stay "
            "in the library.",
            {"200": {"description": "Deleted", **_json("GenerationDeleteResponse")}, **_OWNED},
            parameters=[_ID],
        ),
    },
    "/api/generations/{generation_id}/retry": {
        "post": _op(
            "retry_generation",
            "Retry a failed generation",
            "Runs a failed or cancelled generation again as it was asked for: same generation id, a new job.",
            {**_ACCEPTED, **_RUN_ERRORS, **_OWNED, "400": _error("Not failed or cancelled, or bad params")},
            parameters=[_ID],
        ),
    },
    "/api/generations/{generation_id}/regenerate": {
        "post": _op(
            "regenerate_generation",
            "Regenerate with overrides",
            "A new generation from this one's request with the given params replaced; parent_generation_id "
            "names this one. cache defaults to false (new images).",
            {**_ACCEPTED, **_RUN_ERRORS, **_OWNED},
            parameters=[_ID],
            **_body("RegenerateRequest", required=False),
        ),
    },
    "/api/generations/{generation_id}/select": {
        "post": _op(
            "select_generation_prediction",
            "Choose an image",
            "Marks one prediction (by prediction_id or index; optional when there is one) as the chosen image. "
            "At most one prediction is selected per entity (per generation without an entity).",
            {"200": {"description": "OK", **_json("GenerationView")}, **_OWNED, "400": _error("Not completed")},
            parameters=[_ID],
            **_body("SelectRequest", required=False),
        ),
    },
    "/api/generations/{generation_id}/cancel": {
        "post": _op(
            "cancel_generation",
            "Cancel a generation",
            "Cancels its job (a Replicate prediction is cancelled upstream too). A pending one is cancelled at "
            "once, a running one at its next check.",
            {"200": {"description": "OK", **_json("GenerationView")}, **_OWNED, "400": _error("Already finished")},
            parameters=[_ID],
        ),
    },
    "/api/generations/{generation_id}/predictions/{prediction_id}/image": {
        "get": _op(
            "get_generation_image",
            "A generated image",
            "The full image bytes as the provider made them (the thumbnail is at /api/images/{image_id}/thumbnail).",
            {
                "200": {
                    "description": "Image bytes",
                    "content": {f"image/{t}": _BINARY for t in ("png", "jpeg", "webp")},
                },
                **_OWNED,
            },
            parameters=[
                _ID,
                {"name": "prediction_id", "in": "path", "required": True, "schema": _UUID},
            ],
        ),
    },
}
