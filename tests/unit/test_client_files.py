"""Which files ``ragbus ingest`` picks from folders: supported types, include/exclude globs."""

from pathlib import Path

import pytest

from ragbus_tools.client import collect_files
from ragbus_tools.follow import DocumentOutcome

pytestmark = pytest.mark.unit


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in (
        "README.md",
        "LICENSE.md",
        "notes.txt",
        "image.png",
        "guide/intro.md",
        "guide/LICENSE-3rdparty.md",
        "guide/deep/page.html",
        "drafts/todo.md",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return tmp_path


def names(files: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in files]


def test_folder_walk_keeps_supported_types_sorted(tree: Path) -> None:
    assert names(collect_files([tree]), tree) == [
        "LICENSE.md",
        "README.md",
        "drafts/todo.md",
        "guide/LICENSE-3rdparty.md",
        "guide/deep/page.html",
        "guide/intro.md",
        "notes.txt",
    ]


def test_include_matches_at_any_depth_and_exclude_matches_names(tree: Path) -> None:
    files = collect_files([tree], include=["*.md"], exclude=["LICENSE*"])
    assert names(files, tree) == ["README.md", "drafts/todo.md", "guide/intro.md"]


def test_globs_with_a_slash_match_the_relative_path(tree: Path) -> None:
    assert names(collect_files([tree], include=["guide/*"]), tree) == [
        "guide/LICENSE-3rdparty.md",
        "guide/deep/page.html",
        "guide/intro.md",
    ]
    assert "drafts/todo.md" not in names(collect_files([tree], exclude=["drafts/*"]), tree)


def test_globs_are_relative_to_each_folder_given(tree: Path) -> None:
    files = collect_files([tree / "guide"], include=["intro.md", "deep/*.html"])
    assert names(files, tree) == ["guide/deep/page.html", "guide/intro.md"]


def test_named_files_are_taken_whatever_the_globs(tree: Path) -> None:
    files = collect_files([tree / "LICENSE.md", tree / "image.png"], exclude=["LICENSE*"])
    assert names(files, tree) == ["LICENSE.md", "image.png"]


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        collect_files([tmp_path / "nope"])


def test_outcome_progress_never_goes_backwards() -> None:
    outcome = DocumentOutcome("a.md", "uploaded", document_id="1")
    outcome.apply({"status": "embedding", "progress": {"done": 64, "total": 130}})
    outcome.apply({"status": "embedding", "progress": {"done": 0, "total": 130}})
    assert (outcome.status, outcome.done, outcome.total) == ("embedding", 64, 130)
