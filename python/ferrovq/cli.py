"""The ``ferrovq`` command line."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import ferrovq


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
    return 0


def build_parser():
    """The argument parser of the ``ferrovq`` command."""
    parser = argparse.ArgumentParser(
        prog="ferrovq", description="k-means and vector quantization, SciPy-compatible."
    )
    parser.add_argument("--version", action="version", version=ferrovq.__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the tutorial's examples beside SciPy")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Entry point of the ``ferrovq`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    status = args.func(args)
    if getattr(args, "verbose", False):
        print(f"done in {time.perf_counter() - start:.3f} s", file=sys.stderr)
    return status
