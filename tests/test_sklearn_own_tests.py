"""scikit-learn's own tests of KMeans, k_means, MiniBatchKMeans and BisectingKMeans, run
against ferrovq's: the installed scikit-learn's test_k_means.py and test_bisect_k_means.py
in a child pytest, with those names swapped for ours in ``sklearn.cluster`` before the
modules import them (tests/sklearn_swap.py), float32 cases included."""

import os
import re
import subprocess
import sys
from pathlib import Path

import sklearn

HERE = Path(__file__).resolve().parent
TESTS = Path(sklearn.__file__).parent / "cluster" / "tests"
SUITES = [TESTS / "test_k_means.py", TESTS / "test_bisect_k_means.py"]


def test_scikit_learns_own_tests_pass_on_ferrovq(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(HERE), SKLEARN_RUN_FLOAT32_TESTS="1")
    cmd = [sys.executable, "-m", "pytest", "-p", "sklearn_swap", "-p", "no:cacheprovider"]
    cmd += ["-q", *map(str, SUITES)]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    summary = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 300 and "failed" not in summary and "error" not in summary, summary
