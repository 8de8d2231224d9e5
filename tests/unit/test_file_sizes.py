"""No file over 400 lines (.ai/rules.md rule 10): every tracked source, test, bench and
migration file (.py, .js, .css, .html) is checked, so a file that grows past it fails here
and is split by meaning."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
FOLDERS = ("src", "tests", "bench", "alembic")
SUFFIXES = (".py", ".js", ".css", ".html")


def _tracked() -> list[Path]:
    git = shutil.which("git")
    assert git is not None, "git is needed to list the tracked files"
    listed = subprocess.run(  # noqa: S603 (fixed arguments)
        [git, "ls-files", "-z", "--", *FOLDERS],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name.endswith(SUFFIXES)]


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_check_sees_the_files_it_is_meant_to() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in _tracked()}
    assert "src/main.py" in files
    assert "src/repositories/event/log.py" in files
    assert any(name.startswith("alembic/") for name in files)
    assert any(name.endswith(".js") for name in files)
    assert not any(name.endswith(".md") for name in files)


def test_no_file_is_over_400_lines() -> None:
    tracked = [path for path in _tracked() if path.exists()]
    too_long = {
        path.relative_to(ROOT).as_posix(): _lines(path) for path in tracked if _lines(path) > LIMIT
    }
    assert too_long == {}


def test_a_file_of_401_lines_would_be_caught(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (LIMIT + 1), encoding="utf-8")
    assert _lines(long) > LIMIT
    short = tmp_path / "short.py"
    short.write_text("x = 1\n" * LIMIT, encoding="utf-8")
    assert _lines(short) == LIMIT
