"""One atomic-write helper: unique temporary names, all-or-nothing, files and folders."""

from __future__ import annotations

import pytest

from crowdlens.io.atomic import atomic_path, replace_atomically


def test_a_file_appears_whole_and_no_temporary_is_left(tmp_path):
    target = tmp_path / "sub" / "report.html"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and not tmp.exists()
        tmp.write_text("new", encoding="utf-8")
        assert not target.exists()  # nothing at the target until the block ends
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_two_writers_of_one_target_get_different_temporary_names(tmp_path):
    target = tmp_path / "report.html"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        first.write_text("first", encoding="utf-8")
        second.write_text("second", encoding="utf-8")
    # The inner block ends first, so the outer writer's file is the one left.
    assert target.read_text(encoding="utf-8") == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failed_write_leaves_the_old_target_and_no_temporary(tmp_path):
    target = tmp_path / "results.parquet"
    target.mkdir()
    (target / "part-0.parquet").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "part-0.parquet").write_bytes(b"half")
        raise RuntimeError("boom")
    assert (target / "part-0.parquet").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]


def test_a_folder_replaces_a_folder(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new", encoding="utf-8")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_replace_atomically_moves_a_file_over_a_file(tmp_path):
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_text("a", encoding="utf-8")
    dst.write_text("b", encoding="utf-8")
    replace_atomically(src, dst)
    assert dst.read_text(encoding="utf-8") == "a" and not src.exists()
