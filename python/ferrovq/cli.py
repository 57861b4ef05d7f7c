"""The ``ferrovq`` command line."""

from __future__ import annotations

import argparse
import io
import sys
import time
from contextlib import contextmanager

import numpy as np

import ferrovq
from ferrovq._atomic import replace_atomically


def _tutorial_data(n_per):
    """The three-blob data of the SciPy k-means tutorial."""
    np.random.seed(0)
    return np.vstack(
        [
            np.random.normal(0, 0.5, (n_per, 2)),
            np.random.normal(3, 0.5, (n_per, 2)),
            np.random.normal(6, 0.5, (n_per, 2)),
        ]
    )


def _scipy_vq():
    try:
        from scipy.cluster import vq
    except ImportError:
        return None
    return vq


def _demo(args):
    sp = _scipy_vq()
    print("ferrovq", ferrovq.__version__, "- the SciPy k-means tutorial's examples\n")
    examples = [
        ("Standard k-means (kmeans, 150 points)", 50, "kmeans"),
        ("K-means++ (kmeans2 minit='++')", 50, "kmeans2"),
        ("Vector quantization (kmeans, 300 points)", 100, "kmeans"),
    ]
    for title, n_per, fn in examples:
        print(f"== {title}")
        for name, mod in (("ferrovq", ferrovq), ("scipy", sp)):
            if mod is None:
                print("scipy: not installed")
                continue
            data = _tutorial_data(n_per)
            if fn == "kmeans":
                centroids, distortion = mod.kmeans(data, 3)
                print(f"{name}: Centroids:\n{centroids}\n{name}: Distortion: {distortion}")
            else:
                centroids, _ = mod.kmeans2(data, 3, minit="++")
                print(f"{name}: Centroids:\n{centroids}")
        print()
    _demo_large(sp, args.plot)
    return 0


def _demo_large(sp, plot_path):
    """Cluster a larger generated data set with ferrovq and SciPy; compare time and answer."""
    r = np.random.default_rng(7)
    n, d, k = 300_000, 8, 16
    centres = r.normal(0, 10, size=(k, d))
    data = centres[r.integers(0, k, n)] + r.normal(size=(n, d))
    print(f"== A larger data set: {n:,} points, {d} features, k={k}, kmeans2(minit='++', rng=1)")
    t = time.perf_counter()
    ours = ferrovq.kmeans2(data, k, minit="++", rng=1)
    t_ours = time.perf_counter() - t
    print(f"ferrovq: {t_ours:.3f} s")
    if sp is not None:
        t = time.perf_counter()
        theirs = sp.kmeans2(data, k, minit="++", rng=1)
        t_theirs = time.perf_counter() - t
        same_labels = bool(np.array_equal(ours[1], theirs[1]))
        close = bool(np.allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-9))
        print(f"scipy:   {t_theirs:.3f} s  -> ferrovq is {t_theirs / t_ours:.1f}x faster")
        print(f"labels identical: {same_labels}; centroids agree to 1e-9: {close}")
    try:
        _plot(
            plot_path,
            data[:20_000],
            ours[1][:20_000],
            ours[0],
            "K-Means Clustering using ferrovq (first two principal components)",
        )
        print(f"plot written to {plot_path}")
    except UsageError as e:
        print(f"no plot: {e}")


class Progress:
    """A one-line progress bar on a terminal, for runs that take more than `delay` seconds.

    Used as the ``callback`` of `ferrovq.kmeans2`; it costs nothing on the fast path (one
    Python call per Lloyd iteration) and prints nothing when disabled or off a terminal.
    """

    def __init__(self, total, enabled=True, stream=None, delay=1.0):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and self.stream.isatty()
        self.total, self.delay = total, delay
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, iteration, rows_compared):
        if not self.enabled or time.perf_counter() - self.start < self.delay:
            return
        width = 30
        filled = width * iteration // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(
            f"\r[{bar}] iteration {iteration}/{self.total}, {rows_compared} rows compared"
        )
        self.stream.flush()
        self.shown = True

    def close(self):
        """End the bar's line, if one was drawn."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class UsageError(Exception):
    """An input problem the user can act on: reported without a traceback, exit code 2."""


def _load(path):
    """Observations from .npy, .npz (first array), .csv/.txt (numeric, optional header
    row) or standard input ('-', CSV)."""
    from pathlib import Path

    if path != "-" and not Path(path).exists():
        raise UsageError(f"{path}: no such file")
    suffix = "" if path == "-" else Path(path).suffix.lower()
    try:
        if suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if not z.files:
                    raise UsageError(f"{path}: the .npz file holds no array")
                data = z[z.files[0]]
        else:
            data = _read_text(sys.stdin if path == "-" else open(path), path)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: {e}") from e
    data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise UsageError(f"{path}: expected numeric data, got dtype {data.dtype}")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0:
        raise UsageError(f"{path}: expected a non-empty 2-D table of observations")
    return data.astype(np.float64, copy=False)


def _read_text(stream, name):
    """A numeric CSV/whitespace table; a first row that is not numeric is a header."""
    rows = []
    with stream:
        lines = [ln for ln in stream.read().splitlines() if ln.strip()]
    sep = "," if lines and "," in lines[0] else None
    width = None
    for number, line in enumerate(lines, start=1):
        cells = [c.strip() for c in (line.split(sep) if sep else line.split())]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if number == 1:
                continue  # header row
            col = next(i for i, c in enumerate(cells, start=1) if not _is_number(c))
            raise UsageError(
                f"{name}: row {number}, column {col}: {cells[col - 1]!r} is not a number"
            ) from None
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise UsageError(f"{name}: row {number} has {len(values)} columns, expected {width}")
        rows.append(values)
    if not rows:
        raise UsageError(f"{name}: no numeric rows")
    return np.array(rows)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def _output(path):
    """A file to write `path` into, whole or not at all (see ``_atomic``); a failure to
    write becomes a one-line UsageError."""
    try:
        with replace_atomically(path) as f:
            yield f
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


def _save(path, **arrays):
    """Write results as .npz, .json or .csv (by extension)."""
    import json
    from pathlib import Path

    suffix = Path(path).suffix.lower()
    with _output(path) as f:
        if suffix == ".json":
            text = json.dumps({k: np.asarray(v).tolist() for k, v in arrays.items()}, indent=1)
            f.write(text.encode())
        elif suffix == ".csv":
            # One table: a row per observation with its label (and distance if known).
            cols = {k: np.asarray(v) for k, v in arrays.items() if np.ndim(v) == 1}
            header = ",".join(cols)
            table = np.column_stack(list(cols.values()))
            np.savetxt(f, table, delimiter=",", header=header, comments="", fmt="%.17g")
        else:
            # Zipped in memory first: a zip archive left open on a file that failed to write
            # (a full disk) reports its own error again when collected (numpy 1.25).
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            f.write(buffer.getbuffer())


def _plot(path, data, labels, centroids, title):
    """A scatter plot in the tutorial's style (first two principal components for d > 2)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'ferrovq[plot]'") from None
    x, c = data, centroids
    if data.shape[1] > 2:
        mu = data.mean(axis=0)
        _, _, vt = np.linalg.svd(data - mu, full_matrices=False)
        x, c = (data - mu) @ vt[:2].T, (centroids - mu) @ vt[:2].T
    elif data.shape[1] == 1:
        x = np.column_stack([data[:, 0], np.zeros(len(data))])
        c = np.column_stack([centroids[:, 0], np.zeros(len(centroids))])
    fig = plt.figure(figsize=(8, 6))
    for i in range(len(centroids)):
        plt.scatter(x[labels == i, 0], x[labels == i, 1], s=8, label=f"Cluster {i + 1}")
    plt.scatter(c[:, 0], c[:, 1], c="red", marker="X", s=200, label="Centroids")
    plt.title(title)
    plt.xlabel("Feature 1" if data.shape[1] <= 2 else "PC 1")
    plt.ylabel("Feature 2" if data.shape[1] <= 2 else "PC 2")
    if len(centroids) <= 12:
        plt.legend()
    from pathlib import Path

    try:
        with _output(path) as f:
            fig.savefig(f, format=Path(path).suffix[1:].lower() or "png", dpi=80)
    finally:
        plt.close(fig)


def _cluster(args):
    data = _load(args.input)
    if args.k < 1:
        raise UsageError(f"-k must be at least 1, got {args.k}")
    if args.k > data.shape[0] and args.minit != "++":
        raise UsageError(f"-k {args.k} is larger than the number of rows ({data.shape[0]})")
    if args.whiten:
        data = ferrovq.whiten(data)
    start = time.perf_counter()
    progress = Progress(args.iter, enabled=not args.quiet)
    try:
        centroids, labels = ferrovq.kmeans2(
            data,
            args.k,
            iter=args.iter,
            minit=args.minit,
            missing=args.missing,
            seed=args.seed,
            workers=args.workers,
            callback=progress,
        )
    except ferrovq.ClusterError as e:
        raise UsageError(f"{e} (--missing raise)") from None
    finally:
        progress.close()
    elapsed = time.perf_counter() - start
    _, dist = ferrovq.vq(data, centroids, workers=args.workers)
    distortion = float(np.mean(dist))
    sizes = np.bincount(labels, minlength=len(centroids))
    print(
        f"{data.shape[0]} observations, {data.shape[1]} features, k={args.k}, "
        f"minit={args.minit}, {args.iter} iterations in {elapsed:.3f} s"
    )
    print("cluster sizes:", " ".join(str(s) for s in sizes))
    print(f"distortion (mean distance to centroid): {distortion:.10g}")
    if args.out:
        _save(args.out, centroids=centroids, labels=labels, distortion=np.float64(distortion))
        print(f"wrote {args.out}")
    if args.plot:
        _plot(args.plot, data, labels, centroids, f"ferrovq k-means, k={args.k}")
        print(f"wrote {args.plot}")
    return 0


def _vq(args):
    data = _load(args.input)
    book = _load(args.codebook)
    if book.shape[1] != data.shape[1]:
        raise UsageError(
            f"the code book has {book.shape[1]} columns but the data has {data.shape[1]}"
        )
    codes, dist = ferrovq.vq(data, book, workers=args.workers)
    print(
        f"{data.shape[0]} observations against {book.shape[0]} codes; "
        f"mean distance {float(np.mean(dist)):.10g}"
    )
    if args.out:
        _save(args.out, labels=codes, distances=dist)
        print(f"wrote {args.out}")
    return 0


def build_parser():
    """The argument parser of the ``ferrovq`` command."""
    parser = argparse.ArgumentParser(
        prog="ferrovq", description="k-means and vector quantization, SciPy-compatible."
    )
    parser.add_argument("--version", action="version", version=ferrovq.__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the tutorial's examples beside SciPy")
    demo.add_argument("--plot", default="ferrovq-demo.png", help="where to write the plot")
    demo.set_defaults(func=_demo)

    cl = sub.add_parser("cluster", help="k-means (kmeans2) on a file of observations")
    cl.add_argument("input", help=".npy, .npz, .csv or .txt file, or - for CSV on stdin")
    cl.add_argument("-k", type=int, required=True, help="number of clusters")
    cl.add_argument("--minit", choices=["random", "points", "++"], default="++")
    cl.add_argument("--iter", type=int, default=10, help="Lloyd iterations (default 10)")
    cl.add_argument("--seed", type=int, default=None, help="random seed")
    cl.add_argument("--whiten", action="store_true", help="scale features to unit variance")
    cl.add_argument("--missing", choices=["warn", "raise"], default="warn")
    cl.add_argument("--workers", type=int, default=None, help="threads (default: all)")
    cl.add_argument("--out", help="write centroids, labels, distortion (.npz, .json, .csv)")
    cl.add_argument("--plot", help="write a scatter plot (.png)")
    cl.add_argument("--quiet", action="store_true", help="no progress bar")
    cl.set_defaults(func=_cluster)

    v = sub.add_parser("vq", help="assign codes from an existing code book")
    v.add_argument("input", help="observations (.npy, .npz, .csv, .txt or -)")
    v.add_argument("--codebook", required=True, help="code book file, one code per row")
    v.add_argument("--workers", type=int, default=None)
    v.add_argument("--out", help="write labels and distances (.npz, .json, .csv)")
    v.set_defaults(func=_vq)
    return parser


def main(argv=None):
    """Entry point of the ``ferrovq`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"ferrovq: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Any output being written was left as it was (see _atomic); 130 = 128 + SIGINT.
        print("ferrovq: interrupted", file=sys.stderr)
        return 130
