"""The installed package, not the checkout: build a wheel, install it into a fresh venv, run eval-labels.

The fresh venv reaches the heavy dependencies (torch, spaCy and its model, ...) of the main venv
through a ``.pth`` line, so nothing is downloaded; the main venv's editable install of this
repository stays invisible (``.pth`` files inside a directory added by a ``.pth`` line are not
processed), which the test checks before it trusts the result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "gonerd", "kd", "annotation")


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.mark.slow
def test_eval_labels_from_a_built_wheel_reads_its_package_data(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ folder.
    src = tmp_path / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                  str(src)])
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("gonerd-*.whl")

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    python = venv / "bin" / "python"
    # Install before the .pth line exists, so pip sees only the fresh venv.
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)])
    assert installed.returncode == 0, installed.stderr
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "main_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in os.environ.items() if k not in ("GONERD_DATA", "PYTHONPATH")}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    where = _run([str(python), "-c", "import gonerd, spacy; print(gonerd.__file__)"], cwd=cwd, env=env)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site), "the editable checkout leaked into the fresh venv"

    gonerd = str(venv / "bin" / "gonerd")
    run = _run([gonerd, "eval-labels", "--no-conll", "--out", "eval.json"], cwd=cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "MISC gold over CoNLL texts skipped: data root" in run.stdout  # no checkout beside an installed package
    result = json.loads((cwd / "eval.json").read_text())
    misc = result["misc"]["misc_gold.jsonl"]
    assert Path(misc["file"]) == site / "gonerd" / "data" / "misc_gold.jsonl"
    assert misc["scores"]["ALL"]["support"] == 165

    # CoNLL-2003 cannot ship: without it, one line that says where it was looked for and what to pass.
    missing = _run([gonerd, "eval-labels", "--no-misc"], cwd=cwd, env=env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "CoNLL-2003 test file not found under the data root" in missing.stderr and "--data-root" in missing.stderr
