"""
A Dask array larger than a worker's memory
==========================================

:mod:`ferrovq.dask` runs SciPy's ``kmeans2`` on a dask array block by block: each iteration
sends the code book to the blocks and merges their per-code sums, so no process ever holds
all the rows. Here the rows are written to disk as a stack of ``.npy`` blocks, 366 MiB in
all, and clustered by one worker whose memory limit is 300 MiB.
"""

import tempfile
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from ferrovq import dask as fvd

centres = np.random.default_rng(0).normal(0, 4, size=(16, 8))
ROWS_PER_BLOCK, BLOCKS = 250_000, 24


def block(block_id=None):
    """One block of rows around the centres, from its own seed: made on demand."""
    rng = np.random.default_rng(block_id[0] + 1)
    return centres[rng.integers(16, size=ROWS_PER_BLOCK)] + rng.normal(size=(ROWS_PER_BLOCK, 8))


def cluster_from_disk():
    """Write the rows to a stack of .npy files, then cluster them on a one-worker cluster;
    the counts of rows per cluster come back, never the rows."""
    rows = da.map_blocks(block, chunks=((ROWS_PER_BLOCK,) * BLOCKS, (8,)), dtype=np.float64)
    with tempfile.TemporaryDirectory() as folder:
        da.to_npy_stack(folder, rows, axis=0)  # written block by block
        x = da.from_npy_stack(folder)
        print(
            f"{x.shape[0]:,} x {x.shape[1]} float64: {x.nbytes / 2**20:.0f} MiB "
            f"in {x.numblocks[0]} blocks"
        )
        with (
            LocalCluster(
                n_workers=1, threads_per_worker=2, memory_limit="300MiB", dashboard_address=None
            ) as cluster,
            Client(cluster),
        ):
            start = time.perf_counter()
            _, labels = fvd.kmeans2(x, 16, iter=10, minit="k-means||", rng=0)
            counts = da.bincount(labels, minlength=16).compute()
            print(f"k-means|| and 10 iterations: {time.perf_counter() - start:.1f} s")
    return counts


# The worker is a separate process, started fresh; the guard keeps it from running this
# script again when it starts.
if __name__ == "__main__":
    counts = cluster_from_disk()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(range(16), counts)
    ax.set(xlabel="cluster", ylabel="rows", title="rows per cluster, never gathered in one place")
    fig.tight_layout()
    plt.show()
