"""Progress of long commands: `flask images import` on a terminal (a pty), in a pipe
(plain lines, as under cron), and quiet; and the progress module's own plain mode."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from support import jpeg

from image_repo import progress

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parent.parent
PICTURES = 12


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Twelve pictures (one twice, under another name) and a file that is no picture."""
    folder = tmp_path / "to-import"
    (folder / "deeper").mkdir(parents=True)
    for seed in range(PICTURES - 1):
        (folder / f"photo-{seed:02d}.jpg").write_bytes(jpeg(seed=900 + seed))
    (folder / "deeper" / "copy.jpg").write_bytes(jpeg(seed=900))
    (folder / "notes.txt").write_text("not a picture")
    return folder


@pytest.fixture
def flask_env(migrated_database: str, storage_dir: Path, token) -> dict[str, str]:
    """The app's settings for a `flask` command (alice exists: `token`)."""
    return {
        **os.environ,
        "DATABASE_URL": migrated_database,
        "FILE_STORAGE_LOCATION": str(storage_dir),
    }


def flask_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("flask")), "--app", "image_repo", *args]


def on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `command` on a pseudo-terminal 120 columns wide; its exit status and
    everything it showed there."""
    terminal, its_other_end = os.openpty()
    # A new pty has no size at all.
    fcntl.ioctl(its_other_end, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=its_other_end, stdout=its_other_end, stderr=its_other_end
    )
    os.close(its_other_end)
    screen = read_all(terminal)
    return process.wait(timeout=60), screen


def test_import_on_a_terminal_shows_a_bar(folder, flask_env, query):
    status, screen = on_a_terminal(
        flask_command("images", "import", str(folder), "--owner", "alice"), flask_env
    )
    assert status == 0, screen

    assert "\r" in screen, "the bar is redrawn in place"
    assert re.search(
        r"import: +100%.*13/13 \[.*files/s, 11 stored, 1 duplicate, 1 refused\]", screen
    )
    assert re.search(r"refused \S*notes\.txt: .*format", screen)
    assert re.search(
        r"import: 13 files in [\d.]+ s \([\d.]+/s\): 11 stored, 1 duplicate, 1 refused\.", screen
    )
    assert query("SELECT COUNT(*) FROM images") == [(11,)]


def read_all(terminal: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: the other end is closed, the command has ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(terminal)
    return b"".join(chunks).decode()


def in_a_pipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`flask images ...` with its output in pipes, as under cron."""
    done = subprocess.run(
        flask_command("images", *args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def import_in_a_pipe(folder: Path, env: dict[str, str], *options: str):
    return in_a_pipe(env, "import", str(folder), *options)


def test_import_in_a_pipe_prints_plain_lines(folder, flask_env):
    done = import_in_a_pipe(folder, flask_env)

    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr
    assert len(lines) >= 5, "a line at least every tenth of the way"
    for line in lines:
        assert re.fullmatch(r"import: \d+/13 files \(\d+%\), [\d.]+/s(, \d+ \w+)+", line), line
    assert lines[-1].startswith("import: 13/13 files (100%)")
    out = done.stdout.splitlines()
    assert len(out) == 2
    assert re.fullmatch(r"refused \S*notes\.txt: .*", out[0])
    assert re.fullmatch(
        r"import: 13 files in [\d.]+ s \([\d.]+/s\): 11 stored, 1 duplicate, 1 refused\.", out[1]
    )


def test_import_quiet_prints_only_the_refused_files(folder, flask_env, query):
    done = import_in_a_pipe(folder, flask_env, "--quiet")
    assert done.stderr == ""
    [line] = done.stdout.splitlines()
    assert line.startswith("refused ") and "notes.txt" in line
    assert query("SELECT COUNT(*) FROM images") == [(11,)]


def test_unknown_totals_get_a_line_every_interval():
    """As fsck uses it: checks whose number is not known up front."""
    lines, out = io.StringIO(), io.StringIO()
    with progress.track(None, "fsck", unit="checks", stream=lines, out=out, interval=0) as bar:
        bar.advance(1, "ok")
        bar.advance(1, "ok")
        bar.write("found     orphan-original  originals/ab/cd/abcd.jpg  (no row refers to it)")
        bar.advance(1, "problem")
    assert lines.getvalue().splitlines() == [
        line
        for line in lines.getvalue().splitlines()
        if re.fullmatch(r"fsck: \d checks, [\d.]+/s, \d ok(, 1 problem)?", line)
    ]
    assert len(lines.getvalue().splitlines()) == 3
    found, summary = out.getvalue().splitlines()
    assert found.startswith("found     orphan-original")
    assert re.fullmatch(r"fsck: 3 checks in [\d.]+ s \([\d.]+/s\): 2 ok, 1 problem\.", summary)


def test_the_summary_is_printed_when_the_work_fails():
    out = io.StringIO()
    with (
        pytest.raises(RuntimeError),
        progress.track(5, "rebuild", stream=io.StringIO(), out=out) as bar,
    ):
        bar.advance(2, "done")
        raise RuntimeError("disk gone")
    assert out.getvalue().startswith("rebuild: 2 items in ")


def test_fsck_on_a_terminal_shows_a_bar_and_in_a_pipe_plain_lines(folder, flask_env):
    import_in_a_pipe(folder, flask_env, "--owner", "alice")

    status, screen = on_a_terminal(flask_command("images", "fsck"), flask_env)

    assert status == 0, screen
    assert "\r" in screen, "the bar is redrawn in place"
    assert re.search(r"fsck: \d+ checks \[", screen), screen
    assert "Checked 11 pictures (11 images)" in screen

    piped = in_a_pipe(flask_env, "fsck", "--quiet")
    assert (piped.stdout, piped.stderr) == ("", "")  # nothing wrong: cron stays silent
