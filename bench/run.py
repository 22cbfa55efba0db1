"""`make bench`: every figure as a ratio against a baseline measured in the same run.

.venv/bin/python bench/run.py [figure numbers...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from image_repo.allocator import keep_big_blocks

keep_big_blocks()  # the floors are measured under the same allocator as the server

import ingest  # noqa: E402 - after the allocator settings
import serving  # noqa: E402
import thumbnail  # noqa: E402

FIGURES = {1: ingest.measure, 3: thumbnail.measure, 4: serving.measure}


def main() -> None:
    wanted = {int(n) for n in sys.argv[1:]} or set(FIGURES)
    rows = []
    with tempfile.TemporaryDirectory(prefix="image-repo-bench-") as folder:
        for number, measure in FIGURES.items():
            if number in wanted:
                rows += measure(Path(folder))
    print("| # | figure | ours | baseline | ratio | goal | met |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.number} | {row.figure} | {row.ours} | {row.baseline} | "
            f"{row.ratio:.2f} | {row.goal or '-'} | {row.met} |"
        )


if __name__ == "__main__":
    main()
