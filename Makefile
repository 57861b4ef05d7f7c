# The few tasks a person runs. Everything installs into ./.venv, so a fresh clone needs
# only python3 (>= 3.10, with venv), cargo and access to PyPI and crates.io.
#
#   make demo   build, install and run the demo (ferrovq beside SciPy)
#   make test   build, install, then cargo test (also of the portable SIMD path) and pytest
#               against the installed wheel
#   make lint   cargo fmt/clippy/doc, ruff, stubtest
#   make bench  the side-by-side benchmark (benches/compare.py)
#   make bench-sklearn  KMeans against scikit-learn, intelex and faiss (sklearn_compare.py)
#   make bench-dask  ferrovq.dask against dask-ml and in-memory ferrovq (dask_compare.py)
#   make bench-embeddings  embedding-scale k-means against faiss, scikit-learn, intelex
#               (embeddings.py: iterations, convergence, assignment rate, seeding,
#               defaults, k-means|| against faiss)
#   make bench-sparse  the k-means family on sparse rows against scikit-learn (sparse_compare.py)
#   make docs   the documentation site in docs/_build/html (Sphinx, warnings are errors),
#               running the example gallery (examples/)
#   make bench-threads  vq from 1, 2 and 8 threads under Python 3.14 and free-threaded 3.14t
#   make sweep  SciPy / ferrovq ratios at every size (benches/sweep.py, ~30 min)
#   make wheel  the portable wheels (manylinux2014, glibc >= 2.17) in dist/: abi3 and the
#               free-threaded cp314t, checked by auditwheel
#   make sdist  the source distribution in dist/, built and smoke-tested in a fresh venv
#   make matrix the wheels' tests on Python 3.10 (numpy 1.25), 3.13 and 3.14 (the API
#               modules), and 3.14t
#   make simd-levels  the same bits from the AVX-512, AVX2 and baseline builds of the kernels:
#               the Rust tests and a digest of the answers under QEMU's user-mode emulator
#               (needs qemu-x86_64, Debian's qemu-user; about fifteen minutes)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
WHEELS := target/wheels-make

.PHONY: demo test lint docs simd-levels bench bench-sklearn bench-dask bench-embeddings bench-sparse bench-threads sweep wheel sdist matrix oracle install venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.9.4,<2"

venv: $(PY)

# Always rebuild: the wheel is what users install, so it is what the tests test: the
# portable abi3 wheel `make wheel` ships (zig links it against glibc 2.17's symbols, so it
# installs on RHEL 8, Ubuntu 20.04, Amazon Linux 2 and newer; maturin finds zig through
# the venv's `python -m ziglang`).
ZIG_BUILD = PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m maturin build --release --quiet \
	--zig --compatibility manylinux2014

install: $(PY)
	$(PY) -m pip install -q ziglang
	rm -rf $(WHEELS)
	$(ZIG_BUILD) -o $(WHEELS)
	$(PY) -m pip install -q --force-reinstall --no-deps $(WHEELS)/ferrovq-*.whl
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[test,plot,dev]"

demo: install
	$(VENV)/bin/ferrovq demo

test: install
	cargo test --quiet
	cargo test --quiet --features portable
	cd tests && ../$(PY) -m pytest -c ../pyproject.toml --rootdir=.. -p no:cacheprovider

lint: install
	cargo fmt --check
	cargo clippy --quiet --all-targets --features python -- -D warnings
	cargo clippy --quiet --all-targets --features portable -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps
	$(PY) -m ruff check python tests benches docs examples tools
	$(PY) -m ruff format --check python tests benches docs examples tools
	$(PY) -m mypy.stubtest ferrovq._core

# The kernels' builds for CPUs without AVX-512, and without AVX, run under emulation: the
# Rust tests (their references are exact, mostly bit for bit), then every level's answers
# compared.
simd-levels: install
	command -v qemu-x86_64 >/dev/null || { echo "simd-levels needs qemu-x86_64 (qemu-user)" >&2; exit 1; }
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="qemu-x86_64 -cpu max" cargo test --quiet --release --lib
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="qemu-x86_64 -cpu Nehalem" cargo test --quiet --release --lib
	$(PY) tools/simd_levels.py

bench: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[bench]"
	$(PY) benches/compare.py

bench-sklearn: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[bench]"
	$(PY) benches/sklearn_compare.py

docs: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[docs]"
	rm -rf docs/_build docs/auto_examples
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench-embeddings: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[bench]"
	$(PY) benches/embeddings.py

# vq from 1, 2 and 8 Python threads under CPython 3.14 and the free-threaded 3.14t, each in
# a venv holding the wheel and numpy only (the table on the "Free-threaded Python" page).
bench-sparse: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[bench]"
	$(PY) benches/sparse_compare.py

bench-threads: wheel $(PYTHONS)/3.14/.built
	rm -rf target/bench-threads
	$(PY_314) -m venv target/bench-threads/py314
	$(PY_314T) -m venv target/bench-threads/py314t
	target/bench-threads/py314/bin/pip install -q --only-binary=:all: "$(WHEEL_ABI3)"
	target/bench-threads/py314t/bin/pip install -q --only-binary=:all: "$(WHEEL_314T)"
	@echo "| Python | input | 1 thread | 2 threads | 8 threads |"
	@echo "|---|---|---|---|---|"
	@target/bench-threads/py314/bin/python benches/threads.py
	@target/bench-threads/py314t/bin/python benches/threads.py

bench-dask: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[bench]"
	$(PY) benches/dask_compare.py

sweep: install
	$(PY) -m pip install -q "$$(ls $(WHEELS)/ferrovq-*.whl)[bench]"
	$(PY) benches/sweep.py

# CPython 3.14 and its free-threaded build, made from CPython's source once and cached
# outside the clone (tools/build-python.sh; a few minutes each on two cores).
PYTHONS ?= $(HOME)/.cache/ferrovq/pythons
PY_314  := $(PYTHONS)/3.14/bin/python3.14
PY_314T := $(PYTHONS)/3.14t/bin/python3.14t

$(PYTHONS)/%/.built:
	FERROVQ_PYTHONS=$(PYTHONS) tools/build-python.sh $*

# Two wheels: the abi3 wheel `make install` built and tested, for every CPython >= 3.10
# with the GIL, and one for the free-threaded 3.14t (the stable ABI does not cover it),
# linked the same way.
WHEEL_ABI3 = $$(ls dist/ferrovq-*-abi3-*.whl)
WHEEL_314T = $$(ls dist/ferrovq-*-cp314t-*.whl)

wheel: install $(PYTHONS)/3.14t/.built
	$(PY) -m pip install -q auditwheel
	rm -rf dist && mkdir dist
	cp $(WHEELS)/ferrovq-*.whl dist/
	$(ZIG_BUILD) -i $(PY_314T) -o dist
	ls $(WHEEL_ABI3) $(WHEEL_314T)
	for w in dist/ferrovq-*.whl; do \
		$(PY) -m auditwheel show $$w > target/auditwheel.txt || exit 1; \
		cat target/auditwheel.txt; \
		grep -q '"manylinux_2_17_x86_64"' target/auditwheel.txt || exit 1; \
	done

# The sdist must build from itself alone (cargo present): install it into a throwaway venv
# and run a k-means there, outside the source tree. Built without pip's wheel cache, and
# without the release profile's whole-program optimisation (what is checked is that it
# builds and runs; a user's install from the sdist keeps the profile).
sdist: $(PY)
	rm -rf dist/*.tar.gz target/sdist-venv
	$(PY) -m maturin sdist -o dist
	$(PY) -m venv target/sdist-venv
	CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
		target/sdist-venv/bin/pip install -q --no-cache-dir dist/ferrovq-*.tar.gz
	cd /tmp && $(abspath target/sdist-venv)/bin/python -c "import numpy as np, ferrovq; \
		x = np.random.default_rng(0).normal(size=(2000, 3)); \
		c, l = ferrovq.kmeans2(x, 4, rng=0); assert c.shape == (4, 3) and len(l) == 2000; \
		print('sdist', ferrovq.__version__, 'builds and runs')"

# The wheels' tests in fresh venvs holding only the wheel, its dependencies and the test
# tools, all from wheels (where only some modules run, not byte-compiled at install: 40 s a
# venv, where those modules compile what they import in 10-25 s; the whole suite under 3.14t
# took 90 s longer so): the free-threaded 3.14t with the newest numpy runs the whole suite
# (the many-thread stress test included, with the GIL left to ferrovq and its dependencies
# to keep off). Python 3.13 and 3.14 run the API modules (QUICK_SUITE) against the abi3
# wheel: `make test` runs the whole suite on the .venv's Python and 3.14t on 3.14's
# language, so the Dask clusters and subprocesses would run again for nothing new. The
# oldest end, Python
# 3.10 with numpy 1.25, runs all but the scikit-learn modules (scikit-learn 1.9, their
# oracle and the [sklearn] extra, needs Python 3.11); SciPy 1.17 does not install there
# either, so the SciPy-API tests get its recorded answers (tests/oracle.py, recorded by
# `make oracle`), with hypothesis pinned to the version that drew the recorded examples.
PY_NEW ?= $(shell pyenv prefix 3.13 2>/dev/null)/bin/python
PY_OLD ?= $(shell pyenv prefix 3.10 2>/dev/null)/bin/python
HYPOTHESIS_PIN := hypothesis==6.168.5
SKLEARN_SUITE := test_sklearn.py test_sklearn_compat.py test_sklearn_own_tests.py test_wording.py \
	test_bisecting_kmeans.py test_minibatch_kmeans.py test_engine.py test_dask_kmeans.py \
	test_embeddings.py test_free_threading.py
ORACLE_SUITE := test_vq.py test_kmeans.py test_properties.py test_fuzz.py test_cli.py
PYTEST := -m pytest -c ../pyproject.toml --rootdir=.. -p no:cacheprovider -q

QUICK_SUITE := test_vq.py test_kmeans.py test_properties.py test_fuzz.py test_sklearn.py \
	test_minibatch_kmeans.py test_bisecting_kmeans.py test_engine.py test_wording.py \
	test_docstrings.py

# $(call suite,interpreter,venv name,wheel tag: abi3 or cp314t,test modules: all if empty)
define suite
	$(1) -m venv target/matrix/$(2)
	target/matrix/$(2)/bin/pip install -q $(if $(4),--no-compile) --only-binary=:all: \
		"$$(ls dist/ferrovq-*-$(3)-*.whl)[test,plot]"
	cd tests && $(abspath target/matrix/$(2))/bin/python $(PYTEST) $(4)
endef

matrix: wheel $(PYTHONS)/3.14/.built
	rm -rf target/matrix && mkdir -p target/matrix
	$(call suite,$(PY_NEW),py313,abi3,$(QUICK_SUITE))
	$(call suite,$(PY_314),py314,abi3,$(QUICK_SUITE))
	$(call suite,$(PY_314T),py314t,cp314t)
	$(PY_OLD) -m venv target/matrix/old
	target/matrix/old/bin/pip install -q --no-compile --only-binary=:all: "numpy==1.25.*" \
		pytest pytest-timeout \
		"$(HYPOTHESIS_PIN)" \
		"matplotlib>=3.7" "dask[array]>=2024.8" "distributed>=2024.8" "$(WHEEL_ABI3)"
	target/matrix/old/bin/python -c "import numpy; assert numpy.__version__.startswith('1.25')"
	cd tests && FERROVQ_ORACLE=replay ../target/matrix/old/bin/python $(PYTEST) \
		$(addprefix --ignore=,$(SKLEARN_SUITE))

# Record SciPy 1.17's answers to the SciPy-API tests for the Python 3.10 end of `make matrix`
# (tests/data/scipy-1.17-outcomes.pkl.xz). Run it when those tests change.
oracle: wheel
	rm -rf target/oracle
	$(PY_NEW) -m venv target/oracle
	target/oracle/bin/pip install -q "$(WHEEL_ABI3)[test,plot]" "$(HYPOTHESIS_PIN)"
	cd tests && FERROVQ_ORACLE=record ../target/oracle/bin/python $(PYTEST) $(ORACLE_SUITE)
