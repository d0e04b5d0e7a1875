"""Image providers on loopback that speak the real wire protocols and check every request they get.

``ProviderDouble`` is one uvicorn server (own thread) serving:

- the OpenAI Images API: ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits``
  (multipart), answering ``{"created", "data": [{"b64_json"} | {"url"}]}`` or OpenAI's
  ``{"error": {"message", "type", "param", "code"}}``;
- the Replicate predictions API: ``POST /v1/models/{owner}/{name}/predictions``, ``POST
  /v1/predictions`` (with ``version``), ``GET /v1/predictions/{id}``, ``POST
  /v1/predictions/{id}/cancel``, statuses ``starting`` -> ``processing`` -> ``succeeded`` (or
  ``failed``/``canceled``), outputs as URLs, errors as ``{"title", "detail", "status"}``;
- the output files those URLs name, as real PNG bytes made with Pillow.

A request that breaks the protocol is answered the way the provider would (400/401/422) and
noted in ``problems``; tests assert that list stays empty. ``script`` queues canned answers
(429 with Retry-After, 500, a policy refusal, a slow answer) per endpoint before the normal one.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback import UvicornThread
from tests.support.processes import free_port

OPENAI_FIELDS = {
    "prompt",
    "model",
    "n",
    "size",
    "quality",
    "response_format",
    "style",
    "user",
    "background",
    "moderation",
    "output_format",
    "output_compression",
}
OPENAI_SIZES = {
    "gpt-image-1": {"auto", "1024x1024", "1536x1024", "1024x1536"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
REPLICATE_RATIOS = {"1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"}
VERSION_ID = re.compile(r"^[0-9a-f]{64}$")


def png(size: tuple[int, int] = (96, 64), seed: int = 0) -> bytes:
    """A small real PNG with some structure (analysis and hashes need something to look at)."""
    image = Image.new("RGB", size, ((seed * 47) % 256, 90, 160))
    draw = ImageDraw.Draw(image)
    w, h = size
    for n in range(5):
        x, y = (seed * 11 + n * 19) % max(1, w - 10), (seed * 7 + n * 13) % max(1, h - 10)
        draw.ellipse([x, y, x + w // 4, y + h // 3], fill=((n * 60 + seed * 29) % 256, (n * 35) % 256, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Canned:
    """One scripted answer: a status and JSON body (or raw bytes), headers, and a delay before it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any


TOKEN = "sk-loopback"  # the API key / token every test configures for the providers


class ProviderDouble:
    """Both providers on one loopback port; ``openai_url`` and ``replicate_url`` are the base URLs."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"{self.base}/v1"
        self.replicate_url = f"{self.base}/v1"
        self.seen: list[Seen] = []
        self.problems: list[str] = []
        self.script: dict[str, deque[Canned]] = {}
        self.openai_answer = "b64_json"  # what to answer when the request names no response_format
        self.polls_to_finish = 2  # GETs before a prediction settles
        self.final_status = "succeeded"  # or "failed", or "hang" (stays processing)
        self.prediction_error = "something broke in the model"
        self.predictions: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        self.files: dict[str, bytes] = {}
        self._seed = 0
        routes = [
            Route("/v1/images/generations", self._openai_generate, methods=["POST"]),
            Route("/v1/images/edits", self._openai_edit, methods=["POST"]),
            Route("/v1/models/{owner}/{name}/predictions", self._replicate_create, methods=["POST"]),
            Route("/v1/predictions", self._replicate_create, methods=["POST"]),
            Route("/v1/predictions/{id}", self._replicate_get, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", self._replicate_cancel, methods=["POST"]),
            Route("/files/{name}", self._file, methods=["GET"]),
        ]
        self._server = UvicornThread(Starlette(routes=routes), self.port, timeout_graceful_shutdown=1)

    # -- harness ---------------------------------------------------------------------------

    def __enter__(self) -> ProviderDouble:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()

    def queue(self, endpoint: str, *answers: Canned) -> None:
        """Answer the next requests to ``endpoint`` (openai, replicate.create, replicate.get) with ``answers``."""
        self.script.setdefault(endpoint, deque()).extend(answers)

    def calls(self, path_prefix: str, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(path_prefix) and (method is None or s.method == method)]

    def reset(self) -> None:
        self.seen.clear()
        self.problems.clear()
        self.script.clear()
        self.cancelled.clear()
        self.openai_answer = "b64_json"
        self.polls_to_finish = 2
        self.final_status = "succeeded"

    def _new_png(self) -> bytes:
        self._seed += 1
        return png(seed=self._seed)

    def _refuse(self, problem: str, response: Response) -> Response:
        self.problems.append(problem)
        return response

    async def _canned(self, endpoint: str) -> Response | None:
        answers = self.script.get(endpoint)
        if not answers:
            return None
        answer = answers.popleft()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.body is None or isinstance(answer.body, bytes):
            return Response(answer.body or b"", status_code=answer.status, headers=answer.headers)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    def _bearer_ok(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    async def _file(self, request: Request) -> Response:
        data = self.files.get(request.path_params["name"])
        self.seen.append(Seen(time.monotonic(), "GET", request.url.path, dict(request.headers), None))
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/png")

    # -- OpenAI Images API -----------------------------------------------------------------

    @staticmethod
    def _openai_error(status: int, message: str, param: str | None = None, code: str | None = None) -> Response:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        return JSONResponse({"error": error}, status_code=status)

    def _openai_check(self, body: dict[str, Any]) -> Response | None:
        unknown = sorted(set(body) - OPENAI_FIELDS)
        if unknown:
            return self._refuse(
                f"openai: unknown field {unknown[0]}",
                self._openai_error(400, f"Unrecognized request argument supplied: {unknown[0]}", unknown[0]),
            )
        prompt, model, n = body.get("prompt"), body.get("model", "dall-e-2"), body.get("n", 1)
        if not isinstance(prompt, str) or not prompt.strip():
            return self._refuse("openai: no prompt", self._openai_error(400, "Missing prompt", "prompt"))
        if not isinstance(model, str) or not model:
            return self._refuse("openai: bad model", self._openai_error(400, "Invalid model", "model"))
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            return self._refuse(f"openai: bad n {n!r}", self._openai_error(400, "Invalid n", "n"))
        size = body.get("size")
        allowed = OPENAI_SIZES.get(model)
        if size is not None and (
            not isinstance(size, str)
            or (allowed is not None and size not in allowed)
            or (allowed is None and not re.fullmatch(r"\d+x\d+|auto", size))
        ):
            return self._refuse(
                f"openai: bad size {size!r} for {model}", self._openai_error(400, "Invalid size", "size")
            )
        fmt = body.get("response_format")
        if fmt is not None and (model.startswith("gpt-image") or fmt not in ("url", "b64_json")):
            return self._refuse(
                f"openai: response_format {fmt!r} for {model}",
                self._openai_error(400, "Unknown parameter: 'response_format'.", "response_format"),
            )
        style = body.get("style")
        if style is not None and (model != "dall-e-3" or style not in ("vivid", "natural")):
            return self._refuse(
                f"openai: style {style!r} for {model}", self._openai_error(400, "Invalid style", "style")
            )
        return None

    def _openai_answer(self, body: dict[str, Any]) -> Response:
        fmt = body.get("response_format") or self.openai_answer
        items = []
        for _ in range(int(body.get("n", 1))):
            data = self._new_png()
            if fmt == "url":
                name = f"{uuid.uuid4().hex}.png"
                self.files[name] = data
                items.append({"url": f"{self.base}/files/{name}", "revised_prompt": f"revised: {body['prompt']}"})
            else:
                items.append({"b64_json": base64.b64encode(data).decode("ascii")})
        return JSONResponse({"created": int(time.time()), "data": items})

    async def _openai_generate(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.seen.append(Seen(time.monotonic(), "POST", request.url.path, dict(request.headers), body))
        if not self._bearer_ok(request):
            return self._refuse("openai: no bearer key", self._openai_error(401, "Incorrect API key provided"))
        if not request.headers.get("content-type", "").startswith("application/json") or not isinstance(body, dict):
            return self._refuse(
                "openai: not a JSON object", self._openai_error(400, "We could not parse the JSON body")
            )
        refusal = self._openai_check(body)
        if refusal is not None:
            return refusal
        return await self._canned("openai") or self._openai_answer(body)

    async def _openai_edit(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            self.seen.append(Seen(time.monotonic(), "POST", request.url.path, dict(request.headers), None))
            return self._refuse("openai edits: not multipart", self._openai_error(400, "Expected multipart/form-data"))
        form = await request.form()
        images = [v for k, v in form.multi_items() if k in ("image", "image[]") and isinstance(v, UploadFile)]
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        uploads = [(img.filename, img.content_type, await img.read()) for img in images]
        body: dict[str, Any] = {**fields, "images": uploads}
        self.seen.append(Seen(time.monotonic(), "POST", request.url.path, dict(request.headers), body))
        if not self._bearer_ok(request):
            return self._refuse("openai: no bearer key", self._openai_error(401, "Incorrect API key provided"))
        if not uploads or any(not data or not (ctype or "").startswith("image/") for _, ctype, data in uploads):
            return self._refuse("openai edits: no image files", self._openai_error(400, "Missing image", "image"))
        parsed: dict[str, Any] = dict(fields)
        if "n" in parsed:
            parsed["n"] = int(parsed["n"]) if parsed["n"].isdigit() else parsed["n"]
        refusal = self._openai_check(parsed)
        if refusal is not None:
            return refusal
        return await self._canned("openai") or self._openai_answer(parsed)

    # -- Replicate predictions API ---------------------------------------------------------

    @staticmethod
    def _replicate_error(status: int, title: str, detail: str) -> Response:
        return JSONResponse({"title": title, "detail": detail, "status": status}, status_code=status)

    def _input_problem(self, model_input: Any) -> str | None:
        if not isinstance(model_input, dict):
            return "input: must be an object"
        prompt = model_input.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "input.prompt: is required"
        outputs = model_input.get("num_outputs", 1)
        if not isinstance(outputs, int) or not 1 <= outputs <= 4:
            return "input.num_outputs: Must be between 1 and 4"
        ratio = model_input.get("aspect_ratio")
        if ratio is not None and ratio not in REPLICATE_RATIOS and ratio != "custom":
            return f"input.aspect_ratio: must be one of {sorted(REPLICATE_RATIOS)}"
        seed = model_input.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return "input.seed: Invalid type. Expected: integer"
        if model_input.get("output_format", "webp") not in ("webp", "jpg", "png"):
            return "input.output_format: must be one of webp, jpg, png"
        refs = model_input.get("image_input", [])
        if not isinstance(refs, list) or not all(isinstance(r, str) and r.startswith("data:image/") for r in refs):
            return "input.image_input: must be a list of image URIs"
        return None

    def _prediction_view(self, prediction: dict[str, Any]) -> dict[str, Any]:
        pid = prediction["id"]
        urls = {
            "get": f"{self.replicate_url}/predictions/{pid}",
            "cancel": f"{self.replicate_url}/predictions/{pid}/cancel",
            "web": f"https://replicate.com/p/{pid}",
        }
        return {**prediction, "urls": urls}

    async def _replicate_create(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.seen.append(Seen(time.monotonic(), "POST", request.url.path, dict(request.headers), body))
        if not self._bearer_ok(request):
            return self._refuse(
                "replicate: no bearer token",
                self._replicate_error(401, "Unauthenticated", "You did not pass a valid authentication token"),
            )
        if not isinstance(body, dict):
            return self._refuse("replicate: body not a JSON object", self._replicate_error(400, "Bad request", "JSON"))
        by_model = "owner" in request.path_params
        allowed = {"input", "webhook", "webhook_events_filter", "stream"} | (set() if by_model else {"version"})
        extra = sorted(set(body) - allowed)
        if extra:
            return self._refuse(
                f"replicate: unexpected field {extra[0]}", self._replicate_error(422, "Invalid", f"{extra[0]}: unknown")
            )
        if not by_model and not (isinstance(body.get("version"), str) and VERSION_ID.match(body["version"])):
            return self._refuse(
                "replicate: bad version", self._replicate_error(422, "Invalid version", "version: invalid")
            )
        problem = self._input_problem(body.get("input"))
        if problem is not None:
            return self._refuse(f"replicate: {problem}", self._replicate_error(422, "Input validation failed", problem))
        canned = await self._canned("replicate.create")
        if canned is not None:
            return canned
        pid = uuid.uuid4().hex[:26]
        model = "/".join((request.path_params["owner"], request.path_params["name"])) if by_model else None
        prediction = {
            "id": pid,
            "model": model or "owner/model",
            "version": body.get("version") or "hidden",
            "input": body["input"],
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "_polls": 0,
        }
        self.predictions[pid] = prediction
        return JSONResponse(self._public(prediction), status_code=201)

    def _public(self, prediction: dict[str, Any]) -> dict[str, Any]:
        return self._prediction_view({k: v for k, v in prediction.items() if not k.startswith("_")})

    def _advance(self, prediction: dict[str, Any]) -> None:
        if prediction["status"] not in ("starting", "processing"):
            return
        prediction["_polls"] += 1
        if prediction["_polls"] < self.polls_to_finish or self.final_status == "hang":
            prediction["status"] = "processing"
            prediction["logs"] += f"step {prediction['_polls']}\n"
            return
        if self.final_status == "failed":
            prediction["status"], prediction["error"] = "failed", self.prediction_error
            return
        outputs = []
        for n in range(prediction["input"].get("num_outputs", 1)):
            name = f"{prediction['id']}-{n}.png"
            self.files[name] = self._new_png()
            outputs.append(f"{self.base}/files/{name}")
        prediction["status"], prediction["output"] = "succeeded", outputs
        prediction["metrics"] = {"predict_time": 0.01}

    async def _replicate_get(self, request: Request) -> Response:
        pid = request.path_params["id"]
        self.seen.append(Seen(time.monotonic(), "GET", request.url.path, dict(request.headers), None))
        if not self._bearer_ok(request):
            return self._refuse("replicate: no bearer token", self._replicate_error(401, "Unauthenticated", "token"))
        canned = await self._canned("replicate.get")
        if canned is not None:
            return canned
        prediction = self.predictions.get(pid)
        if prediction is None:
            return self._refuse(f"replicate: GET unknown {pid}", self._replicate_error(404, "Not found", "Not found."))
        self._advance(prediction)
        return JSONResponse(self._public(prediction))

    async def _replicate_cancel(self, request: Request) -> Response:
        pid = request.path_params["id"]
        self.seen.append(Seen(time.monotonic(), "POST", request.url.path, dict(request.headers), None))
        if not self._bearer_ok(request):
            return self._refuse("replicate: no bearer token", self._replicate_error(401, "Unauthenticated", "token"))
        prediction = self.predictions.get(pid)
        if prediction is None:
            return self._refuse(
                f"replicate: cancel unknown {pid}", self._replicate_error(404, "Not found", "Not found.")
            )
        self.cancelled.append(pid)
        if prediction["status"] in ("starting", "processing"):
            prediction["status"] = "canceled"
        return JSONResponse(self._public(prediction))
