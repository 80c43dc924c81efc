"""The scale-out estimate (bench/scale_estimate.py): its arithmetic by hand, and the files it writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import scale_estimate  # noqa: E402  (a script folder, not a package)

RAY = {"date": "2026-01-01", "per_core": {"docs_per_s": 10.0, "label_tokens_per_s": 1000.0,
                                          "label_tokens_per_doc": 500.0},
       "docs_ratios": {"ray_2_over_local_1": 2.0}, "label_ratios": {"ray_2_over_local_1": 1.6}}


def test_forward_flops_count_weights_twice_and_attention_per_key():
    # one layer, hidden 2, intermediate 8: weights 4*2*2 + 2*2*8 = 48 -> 96 FLOPs, attention 4*2*3 keys = 24
    assert scale_estimate.forward_flops_per_token(2, 1, 8, 3) == 96 + 24
    assert scale_estimate.forward_flops_per_token(2, 2, 8, 3) == 2 * (96 + 24)


def test_warc_estimate_divides_measured_rates_by_nodes_and_efficiency():
    result = scale_estimate.warc_estimate(RAY, pages_per_tb=36_000.0, cores_per_node=2, price=1.0)
    first = result["rows"][0]  # kept 10 %
    assert first["kept"] == 0.1
    assert first["docs_core_hours"] == 1  # 36,000 pages / 10 per s = 1 h
    label_core_h = 36_000 * 0.1 * 500 / 1000 / 3600  # 0.5 h
    assert result["scaling_efficiency"] == {"docs": 1.0, "label": 0.8}
    assert first["wall_hours_by_nodes"]["1"] == pytest.approx(1 / 2 + label_core_h / (2 * 0.8), abs=0.01)
    assert first["wall_hours_by_nodes"]["4"] == pytest.approx(first["wall_hours_by_nodes"]["1"] / 4, abs=0.01)
    assert first["usd"] == round(1 + label_core_h)


def test_main_writes_json_and_markdown_from_a_ray_result(tmp_path, capsys):
    ray_file = tmp_path / "bench_ray.json"
    ray_file.write_text(json.dumps(RAY))
    out = tmp_path / "estimate.json"
    scale_estimate.main(["--ray-result", str(ray_file), "--out", str(out), "--corpus-gb", "1"])
    result = json.loads(out.read_text())
    assert result["measured_from"]["bench_ray"] == "2026-01-01"
    tokenization = result["measured_from"]["tokenization"]
    assert 2.0 < tokenization["bytes_per_token"] < 8.0  # English prose under a WordPiece vocabulary
    assert result["distill"]["tokens"] == round(1e9 / tokenization["bytes_per_token"])
    base, minilm = (row for row in reversed(result["distill"]["rows"]))
    assert base["gpu_hours"] > minilm["gpu_hours"]
    assert out.with_suffix(".md").read_text() in capsys.readouterr().out


def test_a_missing_ray_result_is_named(tmp_path):
    with pytest.raises(SystemExit, match="bench_ray.json: missing"):
        scale_estimate.main(["--ray-result", str(tmp_path / "bench_ray.json"), "--out", str(tmp_path / "x.json")])
