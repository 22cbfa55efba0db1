"""Styles: templates around the user's prompt."""

from __future__ import annotations

import pytest

from image_repo.generation.prompts import PromptManager, UnknownStyle, prompt_manager

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

STYLES = """
[ink]
description = "Ink on paper."
template = "An ink drawing of {prompt}, on paper."
"""


def test_a_style_wraps_the_prompt():
    styles = PromptManager.from_toml(STYLES)

    assert styles.render("a heron", "ink") == "An ink drawing of a heron, on paper."
    assert styles.render("a heron", None) == "a heron"


def test_braces_in_the_prompt_are_kept_as_typed():
    styles = PromptManager.from_toml(STYLES)

    assert styles.render("a {heron} {0} {prompt}", "ink") == (
        "An ink drawing of a {heron} {0} {prompt}, on paper."
    )


def test_an_unknown_style_names_the_known_ones():
    with pytest.raises(UnknownStyle, match="there is no style 'oil'; the styles are ink"):
        PromptManager.from_toml(STYLES).render("a heron", "oil")


@pytest.mark.parametrize(
    "template", ["No prompt here.", "{prompt} in {colour}", "{0} {prompt}", "{prompt"]
)
def test_a_template_must_hold_the_prompt_and_nothing_else(template):
    with pytest.raises(ValueError, match="bad"):
        PromptManager.from_toml(f'[bad]\ndescription = "x"\ntemplate = "{template}"\n')


def test_the_shipped_styles_load_and_each_uses_the_prompt():
    styles = prompt_manager().styles()

    assert [style.name for style in styles] == sorted(style.name for style in styles)
    assert len(styles) >= 5
    for style in styles:
        assert "a heron" in prompt_manager().render("a heron", style.name)
