"""Image generators behind one small interface, chosen per job by name.

`gemini` asks Google's Gemini image models through the google-genai SDK;
`local` draws a deterministic placeholder picture without any network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ASPECT_RATIOS, Backend, GenerationFailed, Options
from .local import LocalBackend

__all__ = ["ASPECT_RATIOS", "NOTICES", "Backend", "GenerationFailed", "Options", "make_backends"]

# What every job of a backend should tell its reader.
NOTICES = {LocalBackend.name: LocalBackend.notice}


def make_backends(config: Mapping[str, Any]) -> dict[str, Backend]:
    """Every backend this configuration can run: `local` always, `gemini` with a key."""
    backends: dict[str, Backend] = {"local": LocalBackend()}
    if config["GEMINI_API_KEY"]:
        # google-genai takes a third of a second to import: only servers with a key pay it.
        from .gemini import GeminiBackend

        backends["gemini"] = GeminiBackend(
            api_key=config["GEMINI_API_KEY"],
            default_model=config["GEMINI_MODEL"],
            base_url=config["GEMINI_BASE_URL"],
            timeout=config["GEMINI_TIMEOUT"],
            attempts=config["GEMINI_ATTEMPTS"],
            retry_delay=config["GEMINI_RETRY_DELAY"],
        )
    if config["GENERATION_BACKEND"] not in backends:
        raise ValueError(
            f"GENERATION_BACKEND={config['GENERATION_BACKEND']!r} is not available; "
            f"set GEMINI_API_KEY for gemini, or use one of {', '.join(backends)}"
        )
    return backends
