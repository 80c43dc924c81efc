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
