"""JSONL reading, atomic writes, output locks and one-line output errors."""

import errno
import os

import pytest

from gonerd.errors import InputError
from gonerd.pipeline.io import atomic_write, iter_jsonl, write_jsonl


def test_iter_jsonl_gives_line_numbers_and_skips_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_jsonl([{"a": 1}, {"b": "é"}], path)
    path.write_text(path.read_text(encoding="utf-8") + "\n" + '{"c": [1, 2]}\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (2, {"b": "é"}), (4, {"c": [1, 2]})]


def test_iter_jsonl_names_file_and_line_of_bad_json(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\n{"broken": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl, line 2: not valid JSON"):
        list(iter_jsonl(path))
    with pytest.raises(InputError, match="no such file"):
        list(iter_jsonl(tmp_path / "missing.jsonl"))


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write(target, "{}\n")
    assert target.read_text() == "{}\n" and [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_write_atomically_removes_its_temporary_file_on_failure(tmp_path):
    from gonerd.errors import OutputError
    from gonerd.pipeline.outdir import temporary_path, write_atomically

    def fail(tmp):
        tmp.write_text("half")
        raise PermissionError(13, "Permission denied")

    with pytest.raises(OutputError, match=r"out\.json: cannot write \(Permission denied\)"):
        write_atomically(tmp_path / "out.json", fail)
    assert list(tmp_path.iterdir()) == []
    names = {temporary_path(tmp_path / "x").name for _ in range(3)}
    assert len(names) == 3 and all(f".x.{os.getpid()}-" in n for n in names)


def test_output_error_tells_a_full_disk_from_other_failures(tmp_path):
    from gonerd.errors import DiskFullError, OutputError
    from gonerd.pipeline.outdir import output_error

    full = output_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert isinstance(full, DiskFullError) and full.exit_code == 1 and "re-run to resume" in str(full)
    other = output_error(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    assert isinstance(other, OutputError) and other.exit_code == 2 and "Read-only file system" in str(other)


def test_output_lock_refuses_a_second_holder_and_releases(tmp_path):
    from gonerd.errors import OutputError
    from gonerd.pipeline.outdir import LOCK_FILE, output_lock

    out = tmp_path / "out"
    with output_lock(out, "gonerd first") as locked:
        assert locked == out and (out / LOCK_FILE).is_file()
        # flock belongs to an open file: a second open in this very process is refused too.
        with pytest.raises(OutputError, match=rf"in use by pid {os.getpid()} on .* gonerd first"):
            with output_lock(out, "gonerd second"):
                pass
    assert not (out / LOCK_FILE).exists()
    with output_lock(out, "gonerd third"):
        pass


def test_check_output_file(tmp_path):
    from gonerd.errors import OutputError
    from gonerd.pipeline.outdir import check_output_file, make_directory

    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="f: is a file"):
        check_output_file(tmp_path / "f" / "scores.json")
    with pytest.raises(OutputError, match="is a directory"):
        check_output_file(tmp_path)
    check_output_file(tmp_path / "new" / "scores.json")
    assert (tmp_path / "new").is_dir()
    with pytest.raises(OutputError, match="is a file, expected a directory"):
        make_directory(tmp_path / "f")
