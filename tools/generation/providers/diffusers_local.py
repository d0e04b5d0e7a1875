"""A local diffusers pipeline (optional extra ``ai-backend[diffusers]``), on the GPU when there is one.

The pipeline is loaded from ``AI_BACKEND_DIFFUSERS_MODEL_PATH`` with ``local_files_only``:
nothing is ever downloaded. diffusers and torch are imported only when this provider runs,
so the service starts (and the other providers work) without them. One pipeline per
process is kept loaded; runs are serialised on it, in a thread, and stop at the next
denoising step when the job is cancelled.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import random
import threading
from pathlib import Path
from typing import Any

from tools.errors import InvalidParams, JobCancelled, UpstreamError
from tools.generation.providers.base import ProviderImage, ProviderRequest, ProviderRun, prompt_with_style, size_for
from tools.settings import Settings

EXTRA_HINT = "pip install 'ai-backend[diffusers]'"
_pipelines: dict[tuple[str, str], Any] = {}
_load_lock = threading.Lock()
_run_lock = threading.Lock()


class _Stopped(Exception):
    """Raised from the step callback to stop a run whose job was cancelled."""


def model_folder(settings: Settings) -> Path:
    """The configured pipeline folder, or ``InvalidParams`` saying what to set."""
    path = settings.diffusers_model_path
    if path is None:
        raise InvalidParams(
            "provider: the diffusers provider needs a local pipeline folder: set AI_BACKEND_DIFFUSERS_MODEL_PATH "
            "(models are never downloaded)"
        )
    path = Path(os.path.expanduser(str(path)))
    if not (path / "model_index.json").is_file():
        raise InvalidParams(
            f"provider: AI_BACKEND_DIFFUSERS_MODEL_PATH {str(path)!r} is not a diffusers pipeline folder "
            "(no model_index.json in it)"
        )
    return path


def check_available(settings: Settings) -> Path:
    """Refuse clearly when the model folder or the optional extra is missing; cheap, loads nothing."""
    path = model_folder(settings)
    missing = [name for name in ("diffusers", "torch") if importlib.util.find_spec(name) is None]
    if missing:
        raise InvalidParams(
            f"provider: the diffusers provider needs the optional extra ({', '.join(missing)} not installed): "
            f"{EXTRA_HINT}"
        )
    return path


def _device(settings: Settings) -> str:
    import torch

    if settings.diffusers_device:
        return settings.diffusers_device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _pipeline(path: Path, device: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces beside local_files_only: never download
    import torch
    from diffusers import AutoPipelineForText2Image

    key = (str(path), device)
    with _load_lock:
        if key not in _pipelines:
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
            pipe = AutoPipelineForText2Image.from_pretrained(str(path), torch_dtype=dtype, local_files_only=True)
            _pipelines[key] = pipe.to(device)
        return _pipelines[key]


def _run(path: Path, device: str, request: ProviderRequest, seeds: list[int], stop: threading.Event) -> list[bytes]:
    import torch
    from PIL import Image

    pipe = _pipeline(path, device)

    def on_step(pipeline: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if stop.is_set():
            raise _Stopped()
        return kwargs

    common: dict[str, Any] = {
        "prompt": prompt_with_style(request, negative_inline=False),
        "num_images_per_prompt": len(seeds),
        "generator": [torch.Generator(device="cpu" if device == "mps" else device).manual_seed(s) for s in seeds],
        "callback_on_step_end": on_step,
    }
    if request.negative_prompt:
        common["negative_prompt"] = request.negative_prompt
    size = size_for(request, megapixels=1.0, multiple=64)
    if size:
        common["width"], common["height"] = size
    with _run_lock:
        if request.references:
            from diffusers import AutoPipelineForImage2Image

            init = Image.open(io.BytesIO(request.references[0].data)).convert("RGB")
            if size:
                init = init.resize(size)
            common.pop("width", None)
            common.pop("height", None)
            result = AutoPipelineForImage2Image.from_pipe(pipe)(image=init, strength=0.75, **common)
        else:
            result = pipe(**common)
    encoded = []
    for image in result.images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return encoded


class DiffusersLocal:
    name = "diffusers"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def generate(self, request: ProviderRequest, run: ProviderRun) -> list[ProviderImage]:
        path = check_available(self.settings)
        device = await asyncio.to_thread(_device, self.settings)
        base = request.seed if request.seed is not None else random.randrange(2**31)
        seeds = [(base + n) % 2**32 for n in range(request.count)]
        stop = threading.Event()
        await run.progress(10, f"running the local pipeline on {device}")
        work = asyncio.create_task(asyncio.to_thread(_run, path, device, request, seeds, stop))
        try:
            while not work.done():
                run.check_cancelled()
                await asyncio.wait({work}, timeout=0.25)
            encoded = work.result()
        except _Stopped:
            raise JobCancelled() from None
        except (JobCancelled, asyncio.CancelledError):
            stop.set()  # the thread stops at its next denoising step
            raise
        except Exception as exc:
            raise UpstreamError(f"diffusers: the pipeline failed: {type(exc).__name__}: {exc}") from None
        return [ProviderImage(data=data, seed=seed) for data, seed in zip(encoded, seeds, strict=False)]
