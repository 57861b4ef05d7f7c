"""The performance page's plots, drawn from the tables the pages themselves hold (one source
for the figures): SciPy / ferrovq at every size (sweep.md), and KMeans against its peers
(performance.md)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent


def table(text, header_start):
    """The rows (lists of cells) of the markdown table whose header starts so."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(
            dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        )
    return rows


def ratio(cell):
    m = re.match(r"([\d.]+)x", cell)
    return float(m.group(1)) if m else None


def sweep_plot(rows, out):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, column in zip(axes, ["vq", "kmeans2"], strict=True):
        series = {}
        for r in rows:
            if r["dtype"] != "float64" or ratio(r[column]) is None:
                continue
            key = (int(r["d"]), int(r["k"]))
            series.setdefault(key, []).append((int(r["n"].replace(",", "")), ratio(r[column])))
        for (d, k), points in sorted(series.items()):
            key = f"d={d}, k={k}"
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=key)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set(xscale="log", yscale="log", title=f"{column} (float64)", xlabel="rows")
    axes[0].set_ylabel("SciPy time / ferrovq time")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def peers_plot(rows, out):
    labels = [f"{r['n']} x {r['d']}, k={r['k']}\\n{r['dtype']}" for r in rows]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.4
    for i, (column, name) in enumerate(
        [("vs scikit-learn", "scikit-learn"), ("vs intelex", "scikit-learn-intelex")]
    ):
        xs = [j + (i - 0.5) * width for j in range(len(rows))]
        ax.bar(xs, [ratio(r[column]) for r in rows], width, label=name)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(rows)), [label.replace("\\n", "\n") for label in labels], fontsize=7)
    ax.set_ylabel("peer's fit time / ferrovq's")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(static):
    sweep = (HERE / "sweep.md").read_text()
    peers = (HERE / "performance.md").read_text()
    sweep_plot(table(sweep, "| n | d | k | dtype | vq |"), static / "sweep.png")
    peers_plot(table(peers, "| n | d | k | dtype | ferrovq fit ms |"), static / "kmeans_peers.png")


if __name__ == "__main__":
    main(HERE / "_static")
