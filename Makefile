# Set-up and checks. `make demo` and `make test` each create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[keras,torch,onnx,sweep,dask,examples,dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/nnhls demo

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: venv
	$(BIN)/python bench/quantize.py
	$(BIN)/python bench/mlp.py
	$(BIN)/python bench/cnn.py
	$(BIN)/python bench/vendor_compile.py
	$(BIN)/python bench/qkeras_exactness.py
	$(BIN)/python bench/pytorch.py
	$(BIN)/python bench/onnx_digits.py
	$(BIN)/python bench/recurrent.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/emulator.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
