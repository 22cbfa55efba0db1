"""`make bench`: every figure as a ratio against a baseline measured in the same run.

    .venv/bin/python bench/run.py [1 3 4 6 7 8 9 10 12 13 14 15]

measures the figures named (1 brings 2 with it, 4 brings 5), or all of them.
Figures 4, 5, 8, 9, 10 and 12 drive the servers with wrk; without wrk they are left out.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from image_repo.allocator import keep_big_blocks

keep_big_blocks()  # the floors are measured under the same allocator as the server

import generation  # noqa: E402 - after the allocator settings
import ingest  # noqa: E402
import list_scaling  # noqa: E402
import near_duplicates  # noqa: E402
import object_storage  # noqa: E402
import servers  # noqa: E402
import serving  # noqa: E402
import text_filters  # noqa: E402
import thumbnail  # noqa: E402
import thumbor_peer  # noqa: E402

FIGURES = {
    1: ingest.measure,
    3: thumbnail.measure,
    4: serving.measure,
    6: list_scaling.measure,
    7: generation.measure,
    8: object_storage.measure,
    9: thumbor_peer.measure,
    10: text_filters.measure,
    12: servers.measure,
    13: near_duplicates.hash_cost,
    14: near_duplicates.similar_scaling,
    15: near_duplicates.check_cost,
}


def main() -> None:
    wanted = {int(n) for n in sys.argv[1:]} or set(FIGURES)
    if wanted & {4, 8, 9, 10, 12} and shutil.which("wrk") is None:
        print("figures 4, 5, 8, 9, 10 and 12 left out: they need wrk (apt-get install wrk)")
        wanted -= {4, 8, 9, 10, 12}
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
