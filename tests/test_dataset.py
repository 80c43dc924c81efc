"""Building the DatasetDict from real labeled documents: splits, features, both load paths."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import datasets
import pytest

from gonerd.config import BuildConfig
from gonerd.dataset import SPLITS, build_dataset, check_record, features, load_gonerd, shard_path, split_documents
from gonerd.errors import InputError
from gonerd.schema import TAGS
from labeled_sample import labeled_sample


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("gonerd_ds")
    records = labeled_sample()
    return out, records, build_dataset(records, out, BuildConfig(seed=3))


def test_build_writes_hub_layout_and_both_loaders_round_trip(built):
    out, records, dd = built
    assert list(dd) == list(SPLITS)
    for split in SPLITS:
        assert (out / shard_path(split)).is_file()
    by_id = {r["id"]: r for r in records}
    from_parquet = datasets.load_dataset("parquet", data_files={s: str(out / shard_path(s)) for s in SPLITS})
    from_disk = datasets.load_from_disk(str(out / "arrow"))
    for loaded in (from_parquet, from_disk, load_gonerd(out)):
        assert loaded["train"].features["ner_tags"].feature.names == list(TAGS)
        assert sum(len(loaded[s]) for s in SPLITS) == len(records)
        for split in SPLITS:
            for row in loaded[split]:
                src = by_id[row["id"]]
                assert row["tokens"] == src["tokens"]
                assert [TAGS[t] for t in row["ner_tags"]] == src["ner_tags"]
                assert (row["url"], row["domain"], row["label_source"]) == (src["url"], src["domain"],
                                                                             src["label_source"])
    assert dd["train"].features == features()


def test_splits_are_by_document_disjoint_seeded_and_stratified(built):
    _, records, dd = built
    ids = {s: set(dd[s]["id"]) for s in SPLITS}
    assert not (ids["train"] & ids["validation"]) and not (ids["train"] & ids["test"])
    assert not (ids["validation"] & ids["test"])
    # 36 single-document domains are pooled and split like a domain: the totals follow 80/10/10.
    sizes = {s: len(dd[s]) for s in SPLITS}
    assert abs(sizes["train"] - 52) <= 1 and abs(sizes["validation"] - 6.5) <= 1, sizes
    assert abs(sizes["test"] - 6.5) <= 1, sizes
    # justice.gov (25 docs) is spread over every split in proportion.
    doj = {s: Counter(dd[s]["domain"])["justice.gov"] for s in SPLITS}
    assert doj["train"] in (19, 20, 21) and doj["validation"] >= 2 and doj["test"] >= 2, doj
    # Single-document domains reach every split through their pool.
    singles = {d for d, n in Counter(r["domain"] for r in records).items() if n == 1}
    assert singles and all(singles & set(dd[s]["domain"]) for s in SPLITS)
    rows = [check_record(r, "r") for r in records]
    again = split_documents(list(reversed(rows)), BuildConfig(seed=3))
    assert {s: {r["id"] for r in again[s]} for s in SPLITS} == ids
    other = split_documents(rows, BuildConfig(seed=4))
    assert {s: {r["id"] for r in other[s]} for s in SPLITS} != ids


def test_tiny_inputs_and_bad_records(tmp_path):
    one = labeled_sample()[:1]
    dd = build_dataset(one, tmp_path / "one")
    assert (len(dd["train"]), len(dd["validation"]), len(dd["test"])) == (1, 0, 0)
    assert len(load_gonerd(tmp_path / "one")["train"]) == 1
    bad = labeled_sample()[:2]
    bad[1]["ner_tags"] = bad[1]["ner_tags"][:-1]
    with pytest.raises(InputError, match=r"record 1 .*field 'ner_tags'.*tokens but"):
        build_dataset(bad, tmp_path / "bad")
    bad = labeled_sample()[:2]
    bad[0]["ner_tags"] = ["B-DATE"] + bad[0]["ner_tags"][1:]
    with pytest.raises(InputError, match="unknown tag.*B-DATE"):
        build_dataset(bad, tmp_path / "bad")
    dup = labeled_sample()[:2]
    dup[1]["id"] = dup[0]["id"]
    with pytest.raises(InputError, match="duplicate document id"):
        build_dataset(dup, tmp_path / "bad")
    with pytest.raises(InputError, match="not a gonerd dataset"):
        load_gonerd(tmp_path)


@pytest.mark.slow
def test_build_command_runs_every_stage_on_the_bundled_sample(tmp_path, capsys):
    import json
    from pathlib import Path

    import yaml

    from gonerd.cli import main
    from gonerd.label.io import read_labeled
    from gonerd.label.merge import record_offsets, token_span
    from gonerd.pipeline.io import read_documents

    sample = Path(__file__).resolve().parents[1] / "gonerd" / "sample"
    out, cards = tmp_path / "build", tmp_path / "cards"
    assert main(["build", str(sample / "pages.jsonl"), str(sample / "doj_releases.jsonl"), "--out", str(out),
                 "--card-copy", str(cards), "--import-corrections", str(sample / "gold_test.conll"), "--quiet"]) == 0
    docs = read_documents(out / "documents")
    labeled = {r["id"]: r for r in read_labeled(out / "labeled")}
    dd = load_gonerd(out)
    assert sorted(i for s in SPLITS for i in dd[s]["id"]) == sorted(d["id"] for d in docs) == sorted(labeled)
    row = dd["train"][0]
    assert row["tokens"] == labeled[row["id"]]["tokens"]
    assert [TAGS[t] for t in row["ner_tags"]] == labeled[row["id"]]["ner_tags"]
    report = json.loads((out / "documents" / "report.json").read_text())
    card = (out / "README.md").read_text()
    for stage in report["stages"]:
        assert f"| {stage['stage']} | {stage['in']:,} | {stage['out']:,} |" in card
    meta = yaml.safe_load(card.split("---\n")[1])
    assert sum(s["num_examples"] for s in meta["dataset_info"]["splits"]) == len(docs)
    assert (cards / "README.md").read_text() == card and (cards / "stats" / "figure1.png").is_file()
    # The copy carries the files its figures come from, and the card names them.
    for name in ("stats.json", "stats.md"):
        assert (cards / "stats" / name).read_bytes() == (out / "stats" / name).read_bytes()
    assert "from its report `documents/report.json`" in card and "Tables from `stats/stats.json`" in card
    stats = json.loads((out / "stats" / "stats.json").read_text())["corpora"][0]
    assert stats["table1_lengths"]["count"] == len(docs)
    printed = capsys.readouterr()
    assert f"Table 1: mean {stats['table1_lengths']['mean']:.1f}" in printed.out
    # --quiet silences every progress bar: the pipeline's, labeling's and the datasets library's own
    assert not [ln for ln in printed.err.replace("\r", "\n").splitlines() if "/s]" in ln or "%|" in ln], printed.err
    assert datasets.is_progress_bar_enabled()  # switched back for whatever runs next in the process
    # tokens are words: no whitespace-only token in any split; the labeled text is reconstructable
    assert not [t for s in SPLITS for tokens in dd[s]["tokens"] for t in tokens if not t.strip()]
    for r in labeled.values():
        joined = "".join(t + w for t, w in zip(r["tokens"], r["whitespace"]))
        lead = r["text"][:len(r["text"]) - len(joined)]
        assert not lead.strip() and lead + joined == r["text"]
    # an entity across a line break is one span: B-X I-X … over the words on both sides
    across = [(r, s) for r in labeled.values() for s in r["spans"] if "\n" in r["text"][s["start"]:s["end"]]]
    assert across
    for r, s in across:
        (first, last) = token_span(s["start"], s["end"], record_offsets(r))
        label = s["label"]
        assert r["ner_tags"][first:last] == [f"B-{label}"] + [f"I-{label}"] * (last - first - 1)
    # the bundled hand labels cover exactly the seeded test split, and the card says so
    assert set(dd["test"]["label_source"]) == {"human:gold"}
    assert not any(src.startswith("human:") for s in ("train", "validation") for src in dd[s]["label_source"])
    assert "expert-generated" in meta["annotations_creators"] and "`human:gold`: 6 documents" in card


@pytest.mark.parametrize(("index", "tags", "message"), [
    (5, ["O", "I-PER"], r"token 6: 'I-PER' follows 'O'"),
    (5, ["B-PER", "I-ORG"], r"token 6: 'I-ORG' follows 'B-PER'"),
    (0, ["I-LOC"], r"token 0: 'I-LOC' follows 'O'"),
])
def test_iob2_order_is_checked_naming_document_and_token(tmp_path, index, tags, message):
    records = labeled_sample()[:3]
    bad = records[2]
    bad["ner_tags"] = ["O"] * len(bad["tokens"])
    bad["ner_tags"][index:index + len(tags)] = tags
    expected = rf"record 2 \(id '{bad['id']}'\).*field 'ner_tags'.*not strict IOB2.*{message}"
    with pytest.raises(InputError, match=expected):
        build_dataset(records, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_split_ratios_are_honoured_and_checked():
    from gonerd.errors import ConfigError

    rows = [check_record(r, "r") for r in labeled_sample()]
    only_train = split_documents(rows, BuildConfig(train=1.0, validation=0.0, test=0.0))
    assert (len(only_train["train"]), len(only_train["validation"]), len(only_train["test"])) == (65, 0, 0)
    # min_domain_docs=1: every domain is split, so the totals follow 60/20/20 closely.
    even = split_documents(rows, BuildConfig(train=0.6, validation=0.2, test=0.2, min_domain_docs=1))
    assert [abs(len(even[s]) - 65 * r) <= 1.5 for s, r in zip(SPLITS, (0.6, 0.2, 0.2))] == [True] * 3
    with pytest.raises(ConfigError, match="split ratios"):
        split_documents(rows, BuildConfig(train=-1.0))


def test_hand_labelled_documents_are_their_split_and_the_others_share_the_other_splits():
    from gonerd.errors import ConfigError

    rows = [check_record(r, "r") for r in labeled_sample()]
    human = {rows[i]["id"] for i in (0, 10, 20, 30)}
    rows = [{**r, "label_source": "human:gold"} if r["id"] in human else r for r in rows]
    parts = split_documents(rows, BuildConfig(seed=1))
    assert {r["id"] for r in parts["test"]} == human  # the test split is the hand-labelled documents
    sizes = {s: len(parts[s]) for s in SPLITS}
    assert abs(sizes["train"] - 61 * 8 / 9) <= 1 and sum(sizes.values()) == 65, sizes  # 80:10 of the other 61
    spread = split_documents(rows, BuildConfig(seed=1, hand_labelled_split=""))
    assert {r["id"] for r in spread["test"]} != {r["id"] for r in parts["test"]}
    only = split_documents(rows, BuildConfig(train=0.0, validation=1.0, test=0.0, hand_labelled_split="validation"))
    assert {r["id"] for r in only["validation"]} == human and len(only["train"]) + len(only["test"]) == 61
    everyone = [{**r, "label_source": "human:gold"} for r in rows]  # an annotation export: dealt as usual
    ids = {s: [r["id"] for r in part] for s, part in split_documents(everyone, BuildConfig(seed=1)).items()}
    assert ids == {s: [r["id"] for r in part] for s, part in spread.items()}
    with pytest.raises(ConfigError, match="hand_labelled_split: expected one of train, validation, test"):
        split_documents(rows, BuildConfig(hand_labelled_split="dev"))


def test_a_bad_hand_labelled_split_is_refused_before_anything_is_written(tmp_path, capsys):
    from gonerd.cli import main

    pages = Path(__file__).resolve().parents[1] / "gonerd" / "sample" / "pages.jsonl"
    assert main(["build", str(pages), "--out", str(tmp_path / "b"), "--set", "build.hand_labelled_split=dev",
                 "--quiet"]) == 2
    assert 'hand_labelled_split: expected one of train, validation, test or "", got \'dev\'' in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
