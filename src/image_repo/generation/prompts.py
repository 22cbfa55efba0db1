"""Named styles: templates that wrap the user's prompt before a backend sees it.

The styles live in `styles.toml` beside this module, so adding one is an edit
to that file, not to code.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

STYLES_FILE = "styles.toml"


class UnknownStyle(ValueError):
    """The request names a style that does not exist."""


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    template: str


class PromptManager:
    def __init__(self, styles: Mapping[str, Style]) -> None:
        self._styles = dict(styles)

    @classmethod
    def from_toml(cls, text: str) -> PromptManager:
        """Styles from TOML tables `[name]` with `description` and `template`.

        Raises ValueError for a template that does not hold exactly the one
        `{prompt}` field, so that a broken file fails at start-up, not per request.
        """
        styles = {}
        for name, table in tomllib.loads(text).items():
            template = table["template"]
            try:
                fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
            except ValueError as error:
                raise ValueError(f"style {name!r}: the template is malformed: {error}") from None
            if fields != {"prompt"}:
                raise ValueError(
                    f"style {name!r}: the template must use {{prompt}} and no other field"
                )
            styles[name] = Style(name, table["description"], template)
        return cls(styles)

    def styles(self) -> list[Style]:
        return sorted(self._styles.values(), key=lambda style: style.name)

    def names(self) -> list[str]:
        return sorted(self._styles)

    def render(self, prompt: str, style: str | None) -> str:
        """The prompt the backend is given: the style's template around `prompt`
        (braces in `prompt` are kept as typed), or `prompt` itself without a style."""
        if style is None:
            return prompt
        try:
            chosen = self._styles[style]
        except KeyError:
            raise UnknownStyle(
                f"there is no style {style!r}; the styles are {', '.join(self.names())}"
            ) from None
        return chosen.template.format(prompt=prompt)


@cache
def prompt_manager() -> PromptManager:
    """The styles shipped with the package."""
    text = resources.files(__package__).joinpath(STYLES_FILE).read_text(encoding="utf-8")
    return PromptManager.from_toml(text)
