"""The data card: Hub YAML header, measured numbers, and hand-written parts surviving regeneration."""

from __future__ import annotations

import json

import pytest
import yaml

from gonerd.card import blocks, hand_written, merge_card, split_front_matter, write_card
from gonerd.dataset import build_dataset
from gonerd.errors import InputError
from gonerd.schema import TAGS
from gonerd.stats import corpus_from_dataset, write_stats
from labeled_sample import labeled_sample

REPORT = {"inputs": ["gonerd/sample/doj_releases.jsonl"], "n_input_files": 1,
          "stages": [{"stage": "read", "in": 30, "out": 30}, {"stage": "filter:min_tokens", "in": 30, "out": 27},
                     {"stage": "dedup", "in": 27, "out": 25}],
          "exclusions_by_filter": {"min_tokens": 3, "minhash": 2}}


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("card_ds")
    build_dataset(labeled_sample(), out)
    write_stats([corpus_from_dataset(out)], out / "stats")
    (out / "report.json").write_text(json.dumps(REPORT))
    return out


def test_header_parses_and_describes_the_dataset(dataset_dir):
    text = write_card(dataset_dir, report_path=dataset_dir / "report.json").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["language"] == ["en"] and meta["task_categories"] == ["token-classification"]
    assert meta["task_ids"] == ["named-entity-recognition"] and meta["size_categories"] == ["n<1K"]
    feats = {f["name"]: f for f in meta["dataset_info"]["features"]}
    assert list(feats) == ["id", "url", "domain", "tokens", "ner_tags", "label_source"]
    names = feats["ner_tags"]["list"]["class_label"]["names"]
    assert [names[str(i)] for i in range(len(TAGS))] == list(TAGS)
    splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
    assert sum(splits.values()) == 65 and set(splits) == {"train", "validation", "test"}
    files = {d["split"]: d["path"] for d in meta["configs"][0]["data_files"]}
    assert files["train"] == "data/train-*"
    # Measured numbers and pipeline counts appear; label quality is honestly "not measured".
    assert "| filter:min_tokens | 30 | 27 | 3 |" in text and "| justice.gov | 25 | 0.385 | 0.385 |" in text
    assert "not measured" in text and "2023.emnlp-industry.6" in text
    assert "450 Fifth Street NW" in text  # MISC schema example from gonerd.schema
    assert set(blocks(text)) >= {"summary", "sources", "filtering", "labeling", "schema", "statistics",
                                 "limitations", "citation"}


def test_hand_edits_survive_regeneration_and_eval_is_rendered(dataset_dir, tmp_path):
    path = write_card(dataset_dir)
    meta, body = split_front_matter(path.read_text())
    meta["annotations_creators"] = ["crowdsourced"]  # a generated key: regenerated
    meta["homepage"] = "https://example.org/gonerd"  # a hand-added key: kept
    body = body.replace("## Licensing\n", "## Licensing\n\nHand-written licence note.\n")
    body = body.replace("not measured", "EDITED INSIDE A BLOCK")
    path.write_text("---\n" + yaml.safe_dump(meta) + "---\n" + body + "\n## Contact\n\nops@example.org\n")
    evaluation = {"gold": "hand-labeled sample", "ALL": {"precision": 0.71, "recall": 0.64, "f1": 0.673, "support": 120},
                  "MISC": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 10}}
    (tmp_path / "eval.json").write_text(json.dumps(evaluation))
    text = write_card(dataset_dir, eval_path=tmp_path / "eval.json").read_text()
    new_meta, _ = split_front_matter(text)
    assert new_meta["homepage"] == "https://example.org/gonerd"
    assert new_meta["annotations_creators"] == ["machine-generated"]
    assert "Hand-written licence note." in text and text.rstrip().endswith("ops@example.org")
    assert "EDITED INSIDE A BLOCK" not in text and "| ALL | 0.710 | 0.640 | 0.673 | 120 |" in text
    assert "gold `hand-labeled sample`" in text and "not measured" not in text
    # A source outside the dataset folder is named by its file name alone, never by the machine's path.
    assert "given to the build, `eval.json`" in text and str(tmp_path) not in text
    assert hand_written(text)[0] == {"homepage": "https://example.org/gonerd"}
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="bad.json.*line 1.*not valid JSON"):
        write_card(dataset_dir, eval_path=tmp_path / "bad.json")


def test_merge_appends_new_blocks_and_keeps_unknown_ones():
    generated = "---\nlicense: other\n---\n\n<!-- gonerd:begin a -->\nA2\n<!-- gonerd:end a -->\n\n" \
                "<!-- gonerd:begin b -->\nB2\n<!-- gonerd:end b -->\n"
    existing = "---\nlicense: mit\nfoo: 1\n---\n\nintro\n<!-- gonerd:begin a -->\nA1\n<!-- gonerd:end a -->\noutro\n"
    merged = merge_card(existing, generated)
    meta, body = split_front_matter(merged)
    assert meta == {"license": "other", "foo": 1}
    assert body.index("intro") < body.index("A2") < body.index("outro") < body.index("B2")
    assert "A1" not in merged


def _render(comparisons, label_eval=None):
    from collections import Counter

    from gonerd.card import render_card
    from gonerd.stats import Corpus, compute_stats

    ours = compute_stats(Corpus("GONERD", [100, 700, 5000, 300], Counter({"O": 6000, "B-PER": 100}), ["a.org"] * 4))
    return render_card(stats=[ours, *comparisons], stats_markdown="(tables)", label_eval=label_eval,
                       split_sizes={"train": {"num_examples": 4, "num_bytes": 10}}, download_size=10,
                       label_sources=Counter({"spacy:x+rules:misc@2": 3, "human:ann": 1}), figure=None)


def test_card_claims_come_from_the_numbers():
    from collections import Counter

    from gonerd.stats import Corpus, compute_stats

    text = _render([])
    assert "reproduce" not in text and "CoNLL-2003 columns" not in text  # no comparison ran: no claim
    assert "truncated" not in text and "overlapping windows" in text and "`--truncate`" in text
    assert "50.0% longer than 512 tokens, 25.0% longer than 4,096" in text
    assert "3 of 4 documents carry machine pre-labels" in text and "were scored for this build" in text
    assert "it covers only age, address, phone" in text and "most examples exceed" not in text
    assert "news" not in split_front_matter(text)[0]["tags"]
    # A CoNLL column that is not the paper's: the card names the differing figures instead.
    other = compute_stats(Corpus("CoNLL-2003", [3, 9, 14], Counter({"O": 20, "B-PER": 6})))
    text = _render([other])
    assert "they differ from the paper's figures in Table 1 lengths mean (8.7, paper 14.5)" in text
    assert "are reproduced" not in text
    evaluation = {"gonerd_gold": {"docs": "/home/someone/run/documents", "scores": {"PER": {"precision": 1, "recall": 1, "f1": 0.791, "support": 43},
                                             "ORG": {"precision": 1, "recall": 1, "f1": 0.608, "support": 83},
                                             "ALL": {"precision": 1, "recall": 1, "f1": 0.712, "support": 126}}}}
    text = _render([], evaluation)
    assert "entity F1 0.712, weakest on ORG (0.608)" in text
    assert "docs `documents`" in text and "/home/someone" not in text  # no machine paths in a published card


@pytest.mark.shared
def test_card_says_reproduced_when_the_real_conll_matches_the_paper(shared_data):
    from gonerd.stats import compute_stats, corpus_from_conll

    files = [shared_data / "conll2003" / f for f in ("eng.train", "eng.testa", "eng.testb")]
    text = _render([compute_stats(corpus_from_conll(files))])
    assert "all 18 CoNLL-2003 figures the paper prints (Tables 1 and 9, at the paper's rounding) are reproduced" in text
