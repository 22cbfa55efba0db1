"""The interface every image generator implements, and how it reports failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


@dataclass(frozen=True)
class Options:
    """What a request may ask of any backend beyond the prompt."""

    aspect_ratio: str | None = None


class GenerationFailed(Exception):
    """The backend made no picture. `code` is stable for clients to act on;
    `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Backend(Protocol):
    name: str
    default_model: str
    # Shown on every job this backend runs; None when there is nothing to say.
    notice: str | None

    def generate(self, prompt: str, *, model: str, options: Options) -> bytes:
        """The picture's file bytes (PNG, JPEG...). Raises GenerationFailed."""
        ...

    def accepts_model(self, model: str) -> bool: ...
