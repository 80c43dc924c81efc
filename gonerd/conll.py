"""Read CoNLL-style column files (CoNLL-2003 IOB1, CoNLL++ / exported IOB2) into documents.

IOB1 is converted to IOB2 *per sentence*, before sentences are joined into documents: converting
after joining would merge adjacent same-type entities across sentence boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gonerd.errors import InputError

DOCSTART = "-DOCSTART-"


@dataclass
class Sentence:
    """One sentence: tokens and their IOB2 tags."""

    tokens: list[str]
    tags: list[str]


@dataclass
class ConllDocument:
    """A ``-DOCSTART-``-delimited document (or the whole file when it has no such markers)."""

    id: str
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        """All tokens of the document, sentences concatenated."""
        return [t for s in self.sentences for t in s.tokens]

    @property
    def tags(self) -> list[str]:
        """All IOB2 tags of the document, sentences concatenated."""
        return [t for s in self.sentences for t in s.tags]

    @property
    def sentence_starts(self) -> list[int]:
        """Token index at which each sentence starts."""
        starts, n = [], 0
        for s in self.sentences:
            starts.append(n)
            n += len(s.tokens)
        return starts


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """Return IOB2 tags for one sentence in IOB1 (identity on tags that already are IOB2).

    The same rule repairs a predicted tag sequence: an ``I-X`` that does not continue an X starts one.
    """
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def iob2_errors(tags: list[str]) -> list[str]:
    """List the ways ``tags`` break strict IOB2 (empty list means valid)."""
    problems = []
    prev = "O"
    for i, tag in enumerate(tags):
        if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
            problems.append(f"token {i}: {tag!r} is not O, B-X or I-X")
        elif tag.startswith("I-") and prev[2:] != tag[2:]:
            problems.append(f"token {i}: {tag!r} follows {prev!r}")
        prev = tag
    return problems


def read_conll(path: str | Path, *, tag_column: int = -1, convert_iob1: bool = True) -> list[ConllDocument]:
    """Read a CoNLL column file into documents of IOB2-tagged sentences.

    ``tag_column`` selects the NER column (last by default). Documents split at ``-DOCSTART-``
    lines; a file without them is one document. Raises :class:`InputError` with the line number
    on a malformed line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    docs: list[ConllDocument] = []
    doc: ConllDocument | None = None
    tokens: list[str] = []
    tags: list[str] = []

    def end_sentence() -> None:
        nonlocal doc, tokens, tags
        if tokens:
            if doc is None:
                doc = ConllDocument(id=f"{path.name}:{len(docs)}")
                docs.append(doc)
            doc.sentences.append(Sentence(tokens, iob1_to_iob2(tags) if convert_iob1 else tags))
        tokens, tags = [], []

    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            cols = line.split()
            if not cols:
                end_sentence()
                continue
            if cols[0] == DOCSTART:
                end_sentence()
                doc = ConllDocument(id=f"{path.name}:{len(docs)}")
                docs.append(doc)
                continue
            if len(cols) < 2:
                raise InputError(f"expected a token and a tag column, got {line.strip()!r}", str(path), line=lineno)
            tag = cols[tag_column]
            if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise InputError(f"tag {tag!r} is not O, B-X or I-X", str(path), line=lineno, field="tag")
            tokens.append(cols[0])
            tags.append(tag)
    end_sentence()
    return [d for d in docs if d.sentences]
