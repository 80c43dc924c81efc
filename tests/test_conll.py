"""CoNLL reading: IOB1 → IOB2 per sentence, strict IOB2 checks, the real CoNLL-2003 counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from gonerd.conll import iob1_to_iob2, iob2_errors, read_conll
from gonerd.errors import InputError

# Two documents cut from CoNLL-2003 eng.train (lines 5721-5735 and 1935-1952).
SNIPPET = Path(__file__).parent / "data" / "pipeline" / "conll2003_snippet.txt"


def entities(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) spans of strict IOB2 tags."""
    spans, start = [], None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not tag.startswith("I-"):
            spans.append((start, i, tags[start][2:]))
            start = None
        if tag.startswith("B-"):
            start = i
    return spans


def test_iob1_to_iob2():
    assert iob1_to_iob2(["I-LOC", "I-LOC", "B-LOC", "O", "I-LOC", "I-PER", "I-PER"]) == \
        ["B-LOC", "I-LOC", "B-LOC", "O", "B-LOC", "B-PER", "I-PER"]
    iob2 = ["B-PER", "I-PER", "O", "B-ORG", "B-ORG"]
    assert iob1_to_iob2(iob2) == iob2
    assert iob1_to_iob2([]) == []


def test_iob2_errors():
    assert iob2_errors(["B-PER", "I-PER", "O", "B-LOC"]) == []
    assert iob2_errors(["I-PER"]) == ["token 0: 'I-PER' follows 'O'"]
    assert iob2_errors(["B-PER", "I-LOC", "X"]) == ["token 1: 'I-LOC' follows 'B-PER'",
                                                     "token 2: 'X' is not O, B-X or I-X"]


def test_read_snippet_documents_and_iob2():
    docs = read_conll(SNIPPET)
    assert [d.id for d in docs] == ["conll2003_snippet.txt:0", "conll2003_snippet.txt:1"]
    first, second = docs
    assert [len(s.tokens) for s in first.sentences] == [7, 7] and first.sentence_starts == [0, 7]
    assert first.tokens[6:8] == ["Phil", "Mickelson"]
    # "Phil" ends sentence 1 and "Mickelson" starts sentence 2, both I-PER in IOB1: two entities.
    assert first.tags[6:8] == ["B-PER", "B-PER"]
    assert len(entities(first.tags)) == 6
    # Inside a sentence, IOB1's B- marks an adjacent same-type entity: "Golan Heights" | "Israel".
    i = second.tokens.index("Israel")
    assert second.tags[i - 2:i + 1] == ["B-LOC", "I-LOC", "B-LOC"]
    assert [second.tokens[a:b] for a, b, _ in entities(second.tags)] == [
        ["Benjamin", "Netanyahu"], ["Golan", "Heights"], ["Israel"], ["Syria"]]
    assert all(iob2_errors(d.tags) == [] for d in docs)


def test_read_without_conversion_keeps_tags():
    docs = read_conll(SNIPPET, convert_iob1=False)
    assert docs[0].tags[0] == "I-PER" and iob2_errors(docs[0].tags)


def test_read_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("EU NNP I-NP I-ORG\nrejects\n")
    with pytest.raises(InputError, match="line 2") as err:
        read_conll(bad)
    assert err.value.path == str(bad) and err.value.line == 2
    bad.write_text("EU NNP I-NP ORG\n")
    with pytest.raises(InputError, match="field 'tag'"):
        read_conll(bad)
    with pytest.raises(InputError, match="no such file"):
        read_conll(tmp_path / "missing.txt")


def test_file_without_docstart_is_one_document(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("EU I-ORG\nrejects O\n\nPeter I-PER\nBlackburn I-PER\n")
    (doc,) = read_conll(path)
    assert doc.tags == ["B-ORG", "O", "B-PER", "I-PER"] and len(doc.sentences) == 2


@pytest.mark.shared
@pytest.mark.parametrize("name,counts", [("eng.train", (946, 14041, 203621, 23499)),
                                         ("eng.testb", (231, 3453, 46435, 5648))])
def test_shared_conll2003_counts(shared_data, name, counts):
    path = shared_data / "conll2003" / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    docs = read_conll(path)
    n_sent = sum(len(d.sentences) for d in docs)
    n_tok = sum(len(d.tokens) for d in docs)
    n_ent = sum(len(entities(d.tags)) for d in docs)
    assert (len(docs), n_sent, n_tok, n_ent) == counts
    assert all(iob2_errors(s.tags) == [] for d in docs for s in d.sentences)
