"""JSONL reading and atomic writes of the pipeline's io module."""

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
