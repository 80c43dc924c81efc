"""The README's CLI reference is generated from the parser and must match it."""

from pathlib import Path

from gonerd.cli_reference import BEGIN, END, render_reference, update_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_cli_reference_in_readme_is_current():
    text = README.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == render_reference().strip(), "run `python -m gonerd.cli_reference` and commit README.md"


def test_update_readme_rewrites_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{BEGIN}\nstale\n{END}\n\ntail\n", encoding="utf-8")
    assert update_readme(readme) is True
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# title\n") and text.endswith("\ntail\n")
    assert "#### `gonerd docs`" in text and "stale" not in text
    assert update_readme(readme) is False


def test_readme_names_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_the_reliability_table_counts_the_cases_its_test_files_hold():
    """The Reliability section's case counts are pytest's own collection of the files it names."""
    import re
    import subprocess
    import sys

    text = README.read_text(encoding="utf-8")
    section = text.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"\(`(tests/test_reliability_\w+\.py)`\) \| (\d+) \|", section)
    assert len(rows) == 4
    total = int(re.search(r"`tests/test_reliability_\*\.py`, (\d+) cases", section).group(1))
    assert total == sum(int(n) for _, n in rows)
    for path, cases in rows:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", path],
                             cwd=README.parent, capture_output=True, text=True, check=True).stdout
        assert f"{cases} tests collected" in out, (path, out[-200:])
