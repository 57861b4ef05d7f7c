"""End-to-end tests of the ferrovq command line, run as a user would (subprocesses)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import interrupt, interruptible_python
from oracle import scipy_vq as sp

EXE = Path(sys.executable).parent / "ferrovq"


def run(*args, stdin=None, cwd=None):
    cmd = [sys.executable, "-m", "ferrovq", *args]
    return subprocess.run(cmd, capture_output=True, text=True, input=stdin, cwd=cwd, timeout=300)


@pytest.fixture
def blobs_csv(tmp_path):
    r = np.random.default_rng(0)
    x = np.vstack([r.normal(c, 0.3, (40, 3)) for c in (0, 5, 10)])
    path = tmp_path / "blobs.csv"
    np.savetxt(path, x, delimiter=",", header="a,b,c", comments="")
    return path, x


def test_help_for_every_subcommand():
    for sub in ([], ["demo"], ["cluster"], ["vq"]):
        p = run(*sub, "--help")
        assert p.returncode == 0 and "usage: ferrovq" in p.stdout


def test_console_script_is_installed():
    assert EXE.exists(), "the ferrovq console script is not installed beside python"
    p = subprocess.run([str(EXE), "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip()


def test_demo_prints_the_tutorial_numbers_and_writes_a_plot(tmp_path):
    png = tmp_path / "demo.png"
    p = run("demo", "--plot", str(png))
    assert p.returncode == 0, p.stderr
    assert "ferrovq: Distortion: 0.6258523704544776" in p.stdout
    # The demo compares with SciPy where it is installed (not at the Python 3.10 end of
    # `make matrix`: SciPy 1.17 needs 3.11).
    if importlib.util.find_spec("scipy") is None:
        assert "scipy: not installed" in p.stdout
    else:
        assert "scipy: Distortion: 0.6258523704544776" in p.stdout
        assert "labels identical: True; centroids agree to 1e-9: True" in p.stdout
    check_png(png, 640, 480)


def check_png(path, width, height):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[:2] == (height, width)
    assert float(np.std(img[..., :3])) > 0.01, "the plot is blank"


@pytest.mark.parametrize("ext", [".npz", ".json", ".csv"])
def test_cluster_writes_results(blobs_csv, tmp_path, ext):
    path, x = blobs_csv
    out = tmp_path / f"out{ext}"
    p = run("cluster", str(path), "-k", "3", "--seed", "1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "cluster sizes: " in p.stdout
    assert sorted(map(int, p.stdout.split("cluster sizes: ")[1].split("\n")[0].split())) == [
        40,
        40,
        40,
    ]
    if ext == ".npz":
        with np.load(out) as npz:
            z = dict(npz)

        ref_c, ref_l = sp.kmeans2(x, 3, minit="++", seed=1)
        np.testing.assert_array_equal(z["labels"], ref_l)
        np.testing.assert_allclose(z["centroids"], ref_c, rtol=1e-12)
    elif ext == ".json":
        data = json.loads(out.read_text())
        assert len(data["labels"]) == 120 and len(data["centroids"]) == 3
    else:
        table = np.loadtxt(out, delimiter=",", skiprows=1)
        assert table.shape == (120,)


def test_cluster_from_stdin_with_plot_of_principal_components(blobs_csv, tmp_path):
    path, _ = blobs_csv
    png = tmp_path / "c.png"
    p = run("cluster", "-", "-k", "3", "--plot", str(png), "--whiten", stdin=path.read_text())
    assert p.returncode == 0, p.stderr
    check_png(png, 640, 480)


def test_vq_subcommand(blobs_csv, tmp_path):
    path, x = blobs_csv
    book = tmp_path / "book.npy"
    np.save(book, x[[0, 50, 100]])
    out = tmp_path / "codes.npz"
    p = run("vq", str(path), "--codebook", str(book), "--out", str(out))
    assert p.returncode == 0, p.stderr
    np.testing.assert_array_equal(np.load(out)["labels"], np.repeat([0, 1, 2], 40))


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["cluster", "missing.csv", "-k", "2"], "no such file"),
        ("1,2\n3,x\n", ["cluster", "IN", "-k", "1"], "row 2, column 2: 'x' is not a number"),
        ("1,2\n3,4,5\n", ["cluster", "IN", "-k", "1"], "row 2 has 3 columns, expected 2"),
        (
            "1,2\n3,4\n",
            ["cluster", "IN", "-k", "5", "--minit", "points"],
            "larger than the number of rows",
        ),
        (
            "1,2\n3,4\n",
            ["vq", "IN", "--codebook", "BOOK"],
            "code book has 3 columns but the data has 2",
        ),
    ],
)
def test_errors_exit_2_without_traceback(tmp_path, content, args, message):
    inp = tmp_path / "in.csv"
    if content is not None:
        inp.write_text(content)
    (tmp_path / "book.csv").write_text("1,2,3\n")
    args = [
        str(inp) if a == "IN" else str(tmp_path / "book.csv") if a == "BOOK" else a for a in args
    ]
    p = run(*args, cwd=tmp_path)
    assert p.returncode == 2
    assert message in p.stderr
    assert "Traceback" not in p.stderr


class FakeTerminal:
    def __init__(self, tty):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_only_on_a_terminal_and_not_when_quiet():
    import ferrovq
    from ferrovq.cli import Progress

    x = np.random.default_rng(0).normal(size=(2000, 3))
    for tty, enabled, drawn in [(True, True, True), (False, True, False), (True, False, False)]:
        term = FakeTerminal(tty)
        bar = Progress(5, enabled=enabled, stream=term, delay=0.0)
        ferrovq.kmeans2(x, 4, iter=5, minit="++", rng=0, callback=bar)
        bar.close()
        assert ("iteration 5/5" in term.text) is drawn
        assert term.text.endswith("\n") is drawn


def test_cluster_quiet(blobs_csv):
    path, _ = blobs_csv
    p = run("cluster", str(path), "-k", "3", "--quiet")
    assert p.returncode == 0 and "cluster sizes" in p.stdout and p.stderr == ""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/dev/full", "cannot write /dev/full: No space left on device"),
        ("NOWHERE/out.json", "cannot write"),
    ],
)
def test_a_write_that_fails_exits_2_with_one_line(blobs_csv, tmp_path, target, message):
    path, _ = blobs_csv
    target = target.replace("NOWHERE", str(tmp_path / "missing-folder"))
    p = run("cluster", str(path), "-k", "3", "--seed", "1", "--quiet", "--out", target)
    assert p.returncode == 2
    assert message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [path], "a temporary file was left behind"


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_an_interrupted_write_leaves_the_old_file(tmp_path, failure):
    from ferrovq._atomic import replace_atomically

    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)
    with pytest.raises(failure):
        with replace_atomically(target) as f:
            f.write(b"half of the new")
            raise failure()
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    with replace_atomically(target) as f:
        f.write(b"new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640, "the replaced file keeps its permissions"
    assert list(tmp_path.iterdir()) == [target]


def test_sigint_during_a_run_leaves_the_old_output_or_a_whole_new_one(tmp_path):
    import signal
    import time

    x = np.random.default_rng(0).normal(size=(400_000, 2))
    inp = tmp_path / "big.npy"
    np.save(inp, x)
    out = tmp_path / "out.json"
    for delay in (0.5, 1.0, 1.5, 2.0):
        out.write_text("old")
        args = ["cluster", str(inp), "-k", "8", "--quiet", "--seed", "1", "--out", str(out)]
        script = f"import sys; from ferrovq.cli import main; sys.exit(main({args!r}))"
        with interruptible_python(script, stderr=subprocess.PIPE, text=True) as p:
            time.sleep(delay)
            interrupt(p)
            _, err = p.communicate(timeout=120)
        # 130: interrupted in main; -SIGINT: before the interpreter reached it (imports).
        assert p.returncode in (0, 130, -signal.SIGINT), err
        text = out.read_text()
        if p.returncode == 130:
            assert err.strip() == "ferrovq: interrupted"
        if text != "old":
            assert len(json.loads(text)["labels"]) == len(x)
        assert sorted(f.name for f in tmp_path.iterdir()) == ["big.npy", "out.json"]
