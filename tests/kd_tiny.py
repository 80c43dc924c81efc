"""Tiny random-initialised BERT token classifiers for the kd tests (weights are not the point)."""

from __future__ import annotations

from pathlib import Path

from gonerd.schema import LABELS

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def label_kwargs() -> dict:
    """Config keywords giving a token-classification head the GONERD tag set."""
    return {"num_labels": len(LABELS), "id2label": dict(enumerate(LABELS)),
            "label2id": {label: i for i, label in enumerate(LABELS)}}


def build_tokenizer(words: list[str], vocab_size: int = 150):
    """A fast WordPiece tokenizer trained on ``words`` (small vocabulary, so words split into pieces)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(words, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)


def build_model_dir(path: Path, words: list[str], *, head: bool = True, tokenizer: bool = True, seed: int = 0,
                    vocab_size: int = 150) -> Path:
    """Save a 2-layer, hidden-32 BERT (with or without a token-classification head) and its tokenizer."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertModel

    torch.manual_seed(seed)
    tok = build_tokenizer(words, vocab_size)
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                        **label_kwargs())
    model = BertForTokenClassification(config) if head else BertModel(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    if tokenizer:
        tok.save_pretrained(str(path))
    return path


def conll_words(path: Path) -> list[str]:
    """All tokens of a CoNLL file (the tokenizer's training text)."""
    from gonerd.conll import read_conll

    return [t for d in read_conll(path) for t in d.tokens]


def train_tiny(out: Path, data: Path, *, epochs: float = 12.0, **overrides):
    """Fine-tune a fresh-headed tiny BERT on a CoNLL file (train = dev) and return the summary."""
    from kd.config import NerDataConfig, NerTrainConfig
    from kd.train import train_ner

    model = build_model_dir(out / "init", conll_words(data), head=False)
    cfg = NerTrainConfig(model=str(model), output_dir=str(out / "run"),
                         data=NerDataConfig(train=str(data), dev=str(data)), max_length=24, stride=6,
                         epochs=epochs, batch_size=2, eval_batch_size=8, learning_rate=3e-3, warmup_ratio=0.1,
                         weight_decay=0.0, log_every=3, torch_threads=1, **overrides)
    return cfg, train_ner(cfg, progress=False)


def build_longformer_dir(path: Path, words: list[str], seed: int = 0) -> Path:
    """Save a 2-layer Longformer (attention window 8) with a byte-level BPE tokenizer trained on ``words``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LongformerConfig, LongformerForTokenClassification, RobertaTokenizerFast

    torch.manual_seed(seed)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator([" ".join(words)], trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    fast = RobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                model_max_length=64)
    config = LongformerConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=66, attention_window=8,
                              pad_token_id=fast.pad_token_id, bos_token_id=0, eos_token_id=2,
                              **label_kwargs())
    path.mkdir(parents=True, exist_ok=True)
    LongformerForTokenClassification(config).save_pretrained(str(path))
    fast.save_pretrained(str(path))
    return path


def build_bigbird_dir(path: Path, words: list[str], seed: int = 0) -> Path:
    """Save a 2-layer BigBird (block-sparse configured, block size 4) with a tiny WordPiece tokenizer.

    Inputs this short run with full attention: BigBird switches below its block-sparse minimum.
    """
    import torch
    from transformers import BigBirdConfig, BigBirdForTokenClassification

    torch.manual_seed(seed)
    tok = build_tokenizer(words)
    config = BigBirdConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                           attention_type="block_sparse", block_size=4, num_random_blocks=1,
                           **label_kwargs())
    path.mkdir(parents=True, exist_ok=True)
    BigBirdForTokenClassification(config).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def build_nystromformer_dir(path: Path, words: list[str], seed: int = 0) -> Path:
    """Save a 2-layer Nyströmformer in landmark mode (4 landmarks, value convolution) with a tiny tokenizer."""
    import torch
    from transformers import NystromformerConfig, NystromformerForTokenClassification

    torch.manual_seed(seed)
    tok = build_tokenizer(words)
    config = NystromformerConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=66, num_landmarks=4,
                                 segment_means_seq_len=16, conv_kernel_size=3, pad_token_id=tok.pad_token_id,
                                 **label_kwargs())
    path.mkdir(parents=True, exist_ok=True)
    NystromformerForTokenClassification(config).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def build_lsg_dir(path: Path, words: list[str], *, sparsity_type: str = "pooling", seed: int = 0) -> Path:
    """Convert a tiny BERT token classifier to LSG (block 4, 2 sparse tokens a side, factor 2, 128 positions)."""
    from kd.convert import convert_bert_to_lsg

    bert = build_model_dir(path.parent / f"{path.name}-bert", words, seed=seed)
    return convert_bert_to_lsg(bert, path, max_length=128, block_size=4, sparse_block_size=2, sparsity_factor=2,
                               sparsity_type=sparsity_type)


def gonerd_style_split(conll: Path, label_sources: list[str]):
    """The documents of a CoNLL file as a split of a GONERD build (the build's columns and ClassLabel tags),
    row ``i`` labelled by ``label_sources[i]``."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    from kd.data import conll_examples

    docs = conll_examples(conll, unit="document").examples
    feats = Features({"id": Value("string"), "url": Value("string"), "domain": Value("string"),
                      "tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=list(LABELS))),
                      "label_source": Value("string")})
    return Dataset.from_dict({"id": [d.id for d in docs], "url": [f"https://example.org/{d.id}" for d in docs],
                              "domain": ["example.org"] * len(docs), "tokens": [d.tokens for d in docs],
                              "ner_tags": [[LABELS.index(t) for t in d.tags] for d in docs],
                              "label_source": label_sources}, features=feats)
