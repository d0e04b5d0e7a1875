"""The one interface every image provider implements, and what crosses it.

A provider turns a ``ProviderRequest`` into image bytes. It knows nothing of jobs or the
library: the operation hands it a ``ProviderRun`` (cancellation check, progress) and
stores what comes back. Providers raise ``tools.errors`` failures only, so a provider's
refusal reads the same on every door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from tools.errors import InvalidParams

PROVIDERS = ("openai", "replicate", "diffusers")


@dataclass(frozen=True)
class ReferenceImage:
    """A photo from the user's library given to the provider as a reference."""

    image_id: str
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class ProviderRequest:
    prompt: str
    model: str
    count: int = 1
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    seed: int | None = None
    style: str | None = None
    references: tuple[ReferenceImage, ...] = ()


@dataclass(frozen=True)
class ProviderImage:
    """One generated image: its encoded bytes, and what the provider said about it."""

    data: bytes
    seed: int | None = None
    provider_prediction_id: str | None = None
    revised_prompt: str | None = None


@dataclass
class ProviderRun:
    """What a provider may do while it works: check for cancel, report progress, note its upstream id."""

    check_cancelled: Callable[[], None]
    progress: Callable[[float, str], Awaitable[None]]
    on_submitted: Callable[[str], Awaitable[None]] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    async def submitted(self, provider_prediction_id: str) -> None:
        if self.on_submitted is not None:
            await self.on_submitted(provider_prediction_id)


class ImageProvider(Protocol):
    """An image-generation backend chosen by settings (``AI_BACKEND_IMAGE_PROVIDER``)."""

    name: str

    async def generate(self, request: ProviderRequest, run: ProviderRun) -> list[ProviderImage]:
        """Make ``request.count`` images (a provider may return fewer); raise a ``ToolFailure`` on failure."""
        ...


class ContentPolicyRefusal(InvalidParams):
    """The provider refused the prompt (or an image it made) under its content policy.

    An ``InvalidParams`` (400): the caller has to change the prompt; retrying will not help.
    """

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(f"prompt: refused by the {provider} content policy: {detail}")
        self.provider = provider


def prompt_with_style(request: ProviderRequest, *, negative_inline: bool) -> str:
    """The prompt text for providers without separate style (and negative prompt) fields."""
    text = request.prompt.strip()
    if request.style:
        text = f"{text}. Style: {request.style.strip()}"
    if negative_inline and request.negative_prompt:
        text = f"{text}. Avoid: {request.negative_prompt.strip()}"
    return text


def size_for(request: ProviderRequest, *, megapixels: float = 1.0, multiple: int = 64) -> tuple[int, int] | None:
    """Explicit width/height, else a size of about ``megapixels`` for the aspect ratio, else ``None``."""
    if request.width and request.height:
        return request.width, request.height
    if not request.aspect_ratio:
        return None
    w_part, h_part = (int(p) for p in request.aspect_ratio.split(":"))
    ratio = w_part / h_part
    height = (megapixels * 1_000_000 / ratio) ** 0.5
    width = height * ratio
    return max(multiple, round(width / multiple) * multiple), max(multiple, round(height / multiple) * multiple)
