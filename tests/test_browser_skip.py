"""Without Chromium the browser tests skip and say how to run them;
REQUIRE_BROWSER=1 makes that a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parent.parent
BROWSER_TESTS = ["tests/browser/test_docs.py"]


def run_browser_tests(**env: str) -> subprocess.CompletedProcess:
    """The docs' browser tests, with Chromium looked for where it is not."""
    inherited = {k: v for k, v in os.environ.items() if k != "REQUIRE_BROWSER"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", *BROWSER_TESTS],
        cwd=ROOT,
        env={**inherited, "CHROMIUM": "/nonexistent/chromium", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_chromium_the_browser_tests_skip_and_say_how_to_run_them():
    result = run_browser_tests()

    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
    assert "apt-get install chromium" in result.stdout
    assert "REQUIRE_BROWSER=1" in result.stdout


def test_with_require_browser_a_missing_chromium_fails():
    result = run_browser_tests(REQUIRE_BROWSER="1")

    assert result.returncode == 1, result.stdout
    assert "2 errors" in result.stdout
    assert "Chromium not found at /nonexistent/chromium" in result.stdout
