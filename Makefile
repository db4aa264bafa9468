# The README's two commands:  `make demo` (the main job) and `make test` (what CI runs).
#
# Two stacks, each in its own virtual environment under .venv/:
#   new: Python 3.12 + JAX 0.12, with the CUDA kernel compiled and linked whenever nvcc is found;
#   old: Python 3.11 + JAX 0.10.2, the oldest supported, as a CPU-only build (SOFTSPLAT_CUDA=OFF).
# The extension is built with --no-build-isolation so that it compiles against the XLA FFI headers of
# the very jaxlib installed beside it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# pyenv reads PYENV_VERSION; elsewhere it is ignored and python3.12 is whatever is on PATH.
PYTHON_NEW ?= env PYENV_VERSION=3.12.1 python3.12
PYTHON_OLD ?= env PYENV_VERSION=3.11.7 python3.11
JAX_NEW ?= 0.12.0.1
JAX_OLD ?= 0.10.2
HAVE_NVCC := $(shell command -v nvcc >/dev/null 2>&1 && echo 1 || echo 0)
# cuobjdump (from PyPI) lets the tests check which GPU architectures the CUDA module carries.
CUDA_TEST_DEPS := $(if $(filter 1,$(HAVE_NVCC)),nvidia-cuda-cuobjdump==13.2.*,)
# The weight converter's PyTorch reading is tested on the old stack, where a CPU wheel is at hand
# (on Python 3.12 plain `torch` is a multi-GB CUDA build; the converter's mapping is tested on both).
TORCH_OLD ?= torch==2.13.0
PIP_FLAGS ?= -q
PYTEST_ARGS ?=

NEW := .venv/new
OLD := .venv/old

.PHONY: demo test test-new test-old install-new install-old clean

demo: install-new
	$(NEW)/bin/jax-softsplat figure --out out/warping.png

test: test-new test-old

test-new: install-new
	SOFTSPLAT_EXPECT_CUDA=$(HAVE_NVCC) $(NEW)/bin/pytest $(PYTEST_ARGS)

test-old: install-old
	SOFTSPLAT_EXPECT_CUDA=0 $(OLD)/bin/pytest $(PYTEST_ARGS)

install-new:
	@test -x $(NEW)/bin/python || $(PYTHON_NEW) -m venv $(NEW)
	$(NEW)/bin/pip install $(PIP_FLAGS) "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" scikit-build-core pybind11 $(CUDA_TEST_DEPS)
	$(NEW)/bin/pip install $(PIP_FLAGS) --no-build-isolation -C cmake.define.SOFTSPLAT_CUDA=AUTO ".[test]"

install-old:
	@test -x $(OLD)/bin/python || $(PYTHON_OLD) -m venv $(OLD)
	$(OLD)/bin/pip install $(PIP_FLAGS) "jax==$(JAX_OLD)" "jaxlib==$(JAX_OLD)" scikit-build-core pybind11 $(TORCH_OLD)
	$(OLD)/bin/pip install $(PIP_FLAGS) --no-build-isolation -C cmake.define.SOFTSPLAT_CUDA=OFF ".[test]"

clean:
	rm -rf build out
