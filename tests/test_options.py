"""The one --config / --set parser: YAML values, typed errors naming the dotted key, precedence."""

from __future__ import annotations

import argparse

import pytest

from gonerd.commands.options import add_config_arguments, load_command_config, parse_overrides
from gonerd.config import LabelConfig, PipelineConfig
from gonerd.errors import ConfigError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return parser.parse_args(list(argv))


def test_values_are_yaml_and_malformed_pairs_are_named():
    assert parse_overrides(["sample.n=40", "filters.min_tokens = 5", "x=true", "y=[a, b]", "z=abc"]) == {
        "sample.n": 40, "filters.min_tokens": 5, "x": True, "y": ["a", "b"], "z": "abc"}
    with pytest.raises(ConfigError, match=r"--set 'sample\.n': expected KEY=VALUE"):
        parse_overrides(["sample.n"])
    with pytest.raises(ConfigError, match=r"--set '=3': expected KEY=VALUE"):
        parse_overrides(["=3"])
    with pytest.raises(ConfigError, match=r"--set y: value '\[a' is not valid YAML"):
        parse_overrides(["y=[a"])


def test_file_then_flags_then_set(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[sample]\nn = 10\nseed = 3\n")
    config = load_command_config(_args("--config", str(path), "--set", "sample.n=20"), PipelineConfig,
                                 **{"sample.n": 15, "sample.seed": None, "workers": 2})
    assert (config.sample.n, config.sample.seed, config.workers) == (20, 3, 2)
    assert load_command_config(_args(), LabelConfig).model == LabelConfig().model


def test_unknown_keys_and_wrong_types_name_the_dotted_key():
    with pytest.raises(ConfigError, match=r"override 'sample\.nn': unknown key 'nn'"):
        load_command_config(_args("--set", "sample.nn=1"), PipelineConfig)
    with pytest.raises(ConfigError, match=r"config\.sample\.n: expected"):
        load_command_config(_args("--set", "sample.n=many"), PipelineConfig)
    with pytest.raises(ConfigError, match=r"config\.strip_articles: expected bool"):
        load_command_config(_args("--set", "strip_articles=maybe"), LabelConfig)


@pytest.mark.parametrize("argv,message", [
    (["label", "docs.parquet", "--out", "OUT", "--set", "strip_articles=maybe"], "config.strip_articles: expected bool"),
    (["build", "in.jsonl", "--out", "OUT", "--set", "label.strip_articles=maybe"], "strip_articles: expected bool"),
    (["build", "in.jsonl", "--out", "OUT", "--set", "build.train=-1"], "config.train: must be"),
    (["build", "in.jsonl", "--out", "OUT", "--set", "sample.nn=1"], "unknown key 'nn'"),
    (["docs", "in.jsonl", "--out", "OUT", "--set", "workers=0"], "config.workers: must be"),
    (["eval-extract", "--pages", "p.jsonl", "--set", "extract.nope=1"], "unknown key 'nope'"),
])
def test_every_config_command_takes_the_same_set_and_refuses_bad_keys_before_work(tmp_path, monkeypatch, capsys,
                                                                                    argv, message):
    from gonerd.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.jsonl").write_text("")
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "OUT").exists()
