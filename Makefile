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
SAN := .venv/sanitize
# The operator's tests, which `make sanitize` runs against the CPU kernel built with AddressSanitizer
# and UndefinedBehaviorSanitizer.
OPERATOR_TESTS := tests/test_hand_computed.py tests/test_against_reference.py tests/test_gradients.py \
	tests/test_bad_input.py tests/test_fused_and_stable.py tests/test_threads.py tests/test_properties.py
# Python itself is not instrumented, so the sanitizer runtimes are preloaded; leak checking is off
# because the interpreter keeps its allocations until exit by design. pytest then captures only
# Python's streams (--capture=sys): a sanitizer's report is written to file descriptor 2 just before
# it aborts, and with pytest's default capture of that descriptor the report died with the process.
SAN_ENV := LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: demo figure test test-new test-old sanitize install-new install-old install-sanitize clean

# Interpolates the shared sample pair (or a generated one) with the default model; prints the paths.
demo: install-new
	$(NEW)/bin/jax-softsplat demo --out out

# The paper's warping figure (one frame splatted in the four modes).
figure: install-new
	$(NEW)/bin/jax-softsplat figure --out out/warping.png

test: test-new test-old sanitize

test-new: install-new
	SOFTSPLAT_EXPECT_CUDA=$(HAVE_NVCC) $(NEW)/bin/pytest $(PYTEST_ARGS)

test-old: install-old
	SOFTSPLAT_EXPECT_CUDA=0 $(OLD)/bin/pytest $(PYTEST_ARGS)

sanitize: install-sanitize
	$(SAN_ENV) SOFTSPLAT_EXPECT_CUDA=0 $(SAN)/bin/pytest -p no:cacheprovider --capture=sys $(PYTEST_ARGS) \
		$(OPERATOR_TESTS)

install-new:
	@test -x $(NEW)/bin/python || $(PYTHON_NEW) -m venv $(NEW)
	$(NEW)/bin/pip install $(PIP_FLAGS) "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" scikit-build-core pybind11 $(CUDA_TEST_DEPS)
	$(NEW)/bin/pip install $(PIP_FLAGS) --no-build-isolation -C cmake.define.SOFTSPLAT_CUDA=AUTO ".[test]"

install-old:
	@test -x $(OLD)/bin/python || $(PYTHON_OLD) -m venv $(OLD)
	$(OLD)/bin/pip install $(PIP_FLAGS) "jax==$(JAX_OLD)" "jaxlib==$(JAX_OLD)" scikit-build-core pybind11 $(TORCH_OLD)
	$(OLD)/bin/pip install $(PIP_FLAGS) --no-build-isolation -C cmake.define.SOFTSPLAT_CUDA=OFF ".[test]"

install-sanitize:
	@test -x $(SAN)/bin/python || $(PYTHON_NEW) -m venv $(SAN)
	$(SAN)/bin/pip install $(PIP_FLAGS) "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" scikit-build-core pybind11
	$(SAN)/bin/pip install $(PIP_FLAGS) --no-build-isolation -C build-dir=build/sanitize \
		-C cmake.define.SOFTSPLAT_CUDA=OFF -C cmake.define.SOFTSPLAT_SANITIZE=address,undefined ".[test]"

clean:
	rm -rf build out

# ---- GPU emulation (tests only; docs/gpu.md) ----------------------------------------------------
# cuda_ops.cu compiled for the host through cuda/gpu_emulation.h, as the module _gpu_emulated of a
# build of its own (never a wheel's). The operator tests run against it twice: with the blocks of each
# launch run one after another, then with their warps shared among four host threads, whose atomics
# really race (the tests marked summation_order, which compare separate calls bit for bit, are left
# out of that run); tests/test_gpu_emulation.py compares it with the CPU kernel. The race check runs
# every kernel concurrently under ThreadSanitizer, after a control that TSan must catch.
EMU := .venv/gpu-emulation
EMU_BUILD := build/gpu-emulation
EMU_ENV := JAX_SOFTSPLAT_CPU_KERNEL=gpu-emulated SOFTSPLAT_EXPECT_GPU_EMULATION=1 SOFTSPLAT_EXPECT_CUDA=0
EMU_TSAN := TSAN_OPTIONS=halt_on_error=1:exitcode=66

.PHONY: test-gpu-emulation install-gpu-emulation gpu-emulation-race-check

test-gpu-emulation: gpu-emulation-race-check
	$(EMU_ENV) JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE=sequential $(EMU)/bin/pytest -p no:cacheprovider \
		$(PYTEST_ARGS) $(OPERATOR_TESTS) tests/test_gpu_emulation.py
	$(EMU_ENV) JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE=concurrent:4 $(EMU)/bin/pytest -p no:cacheprovider \
		-m "not summation_order" $(PYTEST_ARGS) $(OPERATOR_TESTS)

install-gpu-emulation:
	@test -x $(EMU)/bin/python || $(PYTHON_NEW) -m venv $(EMU)
	$(EMU)/bin/pip install $(PIP_FLAGS) "jax==$(JAX_NEW)" "jaxlib==$(JAX_NEW)" scikit-build-core pybind11
	$(EMU)/bin/pip install $(PIP_FLAGS) --no-build-isolation -C build-dir=$(EMU_BUILD) \
		-C cmake.define.SOFTSPLAT_CUDA=OFF -C cmake.define.SOFTSPLAT_GPU_EMULATION=ON ".[test]"

gpu-emulation-race-check: install-gpu-emulation
	mkdir -p $(EMU_BUILD)-tsan
	$(CXX) -std=c++20 -O1 -g -fsanitize=thread -DSOFTSPLAT_GPU_EMULATION -Icuda \
		-I"$$($(EMU)/bin/python -c 'import jax; print(jax.ffi.include_dir())')" \
		cuda/gpu_emulation_race_check.cc -o $(EMU_BUILD)-tsan/race_check
	status=0; $(EMU_TSAN) $(EMU_BUILD)-tsan/race_check --race-control >$(EMU_BUILD)-tsan/control.log 2>&1 \
		|| status=$$?; test $$status = 66 && grep -q "ThreadSanitizer: data race" $(EMU_BUILD)-tsan/control.log \
		|| { echo "the race check's control (plain += from four threads) was not reported by TSan"; exit 1; }
	$(EMU_TSAN) $(EMU_BUILD)-tsan/race_check
