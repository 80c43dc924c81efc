"""Typed pipeline config: TOML/YAML loading, errors naming the dotted key, type-checked overrides."""

from __future__ import annotations

import re

import pytest

from gonerd.config import (BuildConfig, DedupConfig, FilterConfig, LabelConfig, PipelineConfig, SampleConfig, bounds,
                           from_dict, load_config, with_overrides)
from gonerd.errors import ConfigError


def test_defaults():
    assert load_config(None) == PipelineConfig()
    cfg = PipelineConfig()
    assert cfg.filters.min_language_score == 0.8 and cfg.sample.domain_shares == {"justice.gov": 0.25}


def test_toml_and_yaml_give_the_same_config(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("shard_size = 8\n[filters]\nmin_tokens = 100\nmax_tokens = 5000\n"
                    "[sample]\nn = 40\nseed = 3\n[sample.domain_shares]\n\"justice.gov\" = 0.3\n\"bbc.co.uk\" = 0.1\n"
                    "[dedup]\nthreshold = 1\n")
    yaml = tmp_path / "c.yaml"
    yaml.write_text("shard_size: 8\nfilters: {min_tokens: 100, max_tokens: 5000}\n"
                    "sample:\n  n: 40\n  seed: 3\n  domain_shares: {justice.gov: 0.3, bbc.co.uk: 0.1}\n"
                    "dedup:\n  threshold: 1\n")
    a, b = load_config(toml), load_config(yaml)
    assert a == b
    assert a.shard_size == 8 and a.filters == FilterConfig(min_tokens=100, max_tokens=5000)
    assert a.sample == SampleConfig(n=40, seed=3, domain_shares={"justice.gov": 0.3, "bbc.co.uk": 0.1})
    assert a.dedup == DedupConfig(threshold=1.0) and isinstance(a.dedup.threshold, float)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == PipelineConfig()


def test_null_turns_a_filter_off(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("filters:\n  min_language_score: null\n  max_code_line_ratio: ~\n")
    cfg = load_config(path)
    assert cfg.filters.min_language_score is None and cfg.filters.max_code_line_ratio is None


@pytest.mark.parametrize("text,message", [
    ("[filters]\nmin_tokenz = 3\n", "c.toml.filters: unknown key(s) min_tokenz"),
    ("[dedup]\nnum_perm = 1.5\n", "c.toml.dedup.num_perm: expected int, got 1.5"),
    ("[dedup]\nnum_perm = true\n", "c.toml.dedup.num_perm: expected int, got True"),
    ("[sample]\ndomain_shares = 3\n", "c.toml.sample.domain_shares: expected a table"),
    ("[sample.domain_shares]\n\"justice.gov\" = \"a lot\"\n", "c.toml.sample.domain_shares.justice.gov: expected float"),
    ("filters = 3\n", "c.toml.filters: expected a table"),
    ("[extract\n", "not valid TOML"),
])
def test_errors_name_the_dotted_key(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


def test_with_overrides_type_checks():
    cfg = with_overrides(PipelineConfig(), {"sample.n": 40, "filters.min_tokens": None, "dedup.threshold": 1,
                                            "workers": 2})
    assert (cfg.sample.n, cfg.filters.min_tokens, cfg.dedup.threshold, cfg.workers) == (40, None, 1.0, 2)
    assert PipelineConfig().sample.n is None  # the original is untouched
    with pytest.raises(ConfigError, match=r"config\.sample\.n: expected int, got 'forty'"):
        with_overrides(PipelineConfig(), {"sample.n": "forty"})
    with pytest.raises(ConfigError, match="unknown key 'nn'"):
        with_overrides(PipelineConfig(), {"sample.nn": 1})
    with pytest.raises(ConfigError, match="no section 'sampel'"):
        with_overrides(PipelineConfig(), {"sampel.n": 1})


def test_from_dict_other_dataclass():
    assert from_dict(DedupConfig, {"shingle_size": 5}) == DedupConfig(shingle_size=5)
    with pytest.raises(ConfigError, match="config: expected a table"):
        from_dict(DedupConfig, [1])


@pytest.mark.parametrize("cls,key,value,expected", [
    (PipelineConfig, "shard_size", 0, "config.shard_size: must be ≥ 1, got 0"),
    (PipelineConfig, "workers", -1, "config.workers: must be ≥ 1"),
    (PipelineConfig, "dedup.num_perm", 0, "config.dedup.num_perm: must be ≥ 1"),
    (PipelineConfig, "dedup.threshold", float("nan"), "config.dedup.threshold: must be in [0, 1], got nan"),
    (PipelineConfig, "filters.min_language_score", 1.01, "config.filters.min_language_score: must be in [0, 1]"),
    (PipelineConfig, "filters.max_tokens", 10, "config.filters.max_tokens: 10 is below min_tokens 50"),
    (PipelineConfig, "sample.n", -3, "config.sample.n: must be ≥ 0"),
    (PipelineConfig, "sample.domain_shares", {"a.gov": 0.7, "b.gov": 0.4}, "shares sum to 1.1, must be ≤ 1"),
    (BuildConfig, "length_thresholds", [512, 0], "config.length_thresholds[1]: must be ≥ 1"),
    (BuildConfig, "train", -0.1, "config.train: must be ≥ 0"),
    (LabelConfig, "batch_size", 0, "config.batch_size: must be ≥ 1"),
])
def test_values_out_of_range_name_the_dotted_key(cls, key, value, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        with_overrides(cls(), {key: value})


def test_bounds_accept_the_edges_and_none():
    config = with_overrides(PipelineConfig(), {"dedup.threshold": 0, "filters.min_language_score": 1,
                                               "filters.max_tokens": None, "sample.n": 0,
                                               "sample.domain_shares": {"a.gov": 0.5, "b.gov": 0.5}})
    assert config.dedup.threshold == 0 and config.sample.n == 0
    assert bounds(0, 1) == {"bounds": (0, 1)}
    with pytest.raises(ConfigError, match=r"train \+ validation \+ test must be > 0"):
        with_overrides(BuildConfig(), {"train": 0.0, "validation": 0.0, "test": 0.0})
