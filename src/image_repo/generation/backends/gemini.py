"""Google Gemini image models through the official google-genai SDK.

One `generate_content` call per picture with `response_modalities=["IMAGE"]`;
the picture is the first part that carries `inline_data`. The SDK retries 429
and 5xx answers (and timeouts) with exponential backoff; what is left after
that, and every answer without a picture, becomes a `GenerationFailed` with a
code a client can act on.
"""

from __future__ import annotations

import re

import httpx2
from google import genai
from google.genai import errors, types

from .base import GenerationFailed, Options

# Model names go into the request path: letters, digits, dots and dashes only.
MODEL_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{0,99}")
RETRIED_STATUSES = [408, 429, 500, 502, 503, 504]
# Finish reasons that mean the model would not draw this, rather than failed to.
SAFETY_REASONS = {
    "SAFETY",
    "IMAGE_SAFETY",
    "PROHIBITED_CONTENT",
    "IMAGE_PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_RECITATION",
    "MODEL_ARMOR",
}
MAX_TEXT_IN_MESSAGE = 300


class GeminiBackend:
    name = "gemini"
    notice = None

    def __init__(
        self,
        *,
        api_key: str,
        default_model: str,
        base_url: str | None,
        timeout: float,
        attempts: int,
        retry_delay: float,
    ) -> None:
        self.default_model = default_model
        self.attempts = attempts
        # Kept for the backend's lifetime: a Client that is garbage-collected
        # closes its HTTP connection pool, even under a call in progress.
        self.client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version="v1beta",
                timeout=int(timeout * 1000),
                retry_options=types.HttpRetryOptions(
                    attempts=attempts,
                    initial_delay=retry_delay,
                    max_delay=retry_delay * 16,
                    jitter=retry_delay,
                    http_status_codes=RETRIED_STATUSES,
                ),
            ),
        )

    def accepts_model(self, model: str) -> bool:
        return MODEL_PATTERN.fullmatch(model) is not None

    def generate(self, prompt: str, *, model: str, options: Options) -> bytes:
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=(
                types.ImageConfig(aspect_ratio=options.aspect_ratio)
                if options.aspect_ratio
                else None
            ),
        )
        try:
            response = self.client.models.generate_content(
                model=model, contents=prompt, config=config
            )
        except errors.APIError as error:
            raise self._api_failure(error) from error
        except httpx2.TimeoutException as error:
            raise GenerationFailed(
                "timeout", f"Gemini did not answer in time ({self.attempts} attempts)."
            ) from error
        except httpx2.TransportError as error:
            raise GenerationFailed(
                "backend_unavailable", f"Gemini could not be reached: {error}."
            ) from error
        return picture_from(response)

    def _api_failure(self, error: errors.APIError) -> GenerationFailed:
        status, detail = error.code, error.message or error.status or "no detail"
        if status == 429:
            return GenerationFailed(
                "rate_limited",
                f"Gemini kept answering 429 (quota or rate limit) after {self.attempts} "
                f"attempts: {detail}",
            )
        if status in (401, 403):
            return GenerationFailed(
                "auth_failed", f"Gemini refused the API key ({status}): {detail}"
            )
        if isinstance(error, errors.ServerError):
            return GenerationFailed(
                "backend_unavailable",
                f"Gemini kept failing ({status}) after {self.attempts} attempts: {detail}",
            )
        return GenerationFailed(
            "backend_rejected", f"Gemini refused the request ({status}): {detail}"
        )


def picture_from(response: types.GenerateContentResponse) -> bytes:
    """The bytes of the first image part, or GenerationFailed saying why there is none."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _name(feedback.block_reason)
        raise GenerationFailed(
            "prompt_blocked",
            f"Gemini blocked the prompt ({reason}){_colon(feedback.block_reason_message)}",
        )
    candidate = response.candidates[0] if response.candidates else None
    parts = (candidate.content.parts if candidate and candidate.content else None) or []
    for part in parts:
        if part.inline_data is not None and part.inline_data.data:
            mime_type = part.inline_data.mime_type or "unknown"
            if not mime_type.startswith("image/"):
                raise GenerationFailed(
                    "not_an_image", f"Gemini answered with {mime_type} data, not an image."
                )
            return part.inline_data.data
    reason = _name(candidate.finish_reason) if candidate and candidate.finish_reason else None
    if reason in SAFETY_REASONS:
        raise GenerationFailed(
            "safety_block",
            f"Gemini would not make this picture (finish reason {reason})"
            f"{_colon(candidate.finish_message)}",
        )
    text = " ".join(part.text for part in parts if part.text).strip()
    if text:
        raise GenerationFailed(
            "no_image", f"Gemini answered with text, not a picture: {text[:MAX_TEXT_IN_MESSAGE]}"
        )
    raise GenerationFailed(
        "no_image", f"Gemini's answer held no picture (finish reason {reason or 'none'})."
    )


def _name(value: object) -> str:
    """An SDK enum's name, or the raw string the API sent for one the SDK does not know."""
    return getattr(value, "value", None) or str(value)


def _colon(message: str | None) -> str:
    return f": {message}" if message else "."
