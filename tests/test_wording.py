"""Our documentation is in our own words: no sentence of SciPy's or scikit-learn's
docstrings for the functions and estimators ferrovq reproduces appears in the package's
sources, the documentation pages, the gallery's examples or the README (names, signatures
and facts carry over; prose does not)."""

import inspect
import re
from pathlib import Path

import pytest
import scipy.cluster.vq as scipy_vq
import sklearn.cluster

ROOT = Path(__file__).resolve().parents[1]
SHORTEST = 5  # words: shorter sentences ("The number of clusters.") are common property

# Sentences known to have been copied once, kept here so that they stay out whatever the
# installed versions' docstrings say.
KNOWN = [
    "Assign codes from a code book to observations.",
    "Each observation vector in the 'M' by 'N' `obs` array is compared with the centroids",
    "Performs k-means on a set of observation vectors forming k clusters.",
    "Classify a set of observations into k clusters using the k-means algorithm.",
    "Normalize a group of observations on a per feature basis.",
    "may result in problems (crashes, non-termination)",
    "The features must be whitened first with the whiten function.",
    "Not used, present for API consistency.",
    "Number of features seen during fit.",
]


def _words(text):
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _oracle_docstrings():
    yield from (scipy_vq, scipy_vq.whiten, scipy_vq.vq, scipy_vq.py_vq)
    yield from (scipy_vq.kmeans, scipy_vq.kmeans2, scipy_vq.ClusterError)
    for name in ("KMeans", "MiniBatchKMeans", "BisectingKMeans", "k_means", "kmeans_plusplus"):
        obj = getattr(sklearn.cluster, name)
        yield obj
        if inspect.isclass(obj):
            yield from (f for f in vars(obj).values() if callable(f))


def _their_sentences():
    found = {_words(s) for s in KNOWN}
    for obj in _oracle_docstrings():
        text = " ".join((obj.__doc__ or "").split())
        found.update(_words(s) for s in re.split(r"(?<=[.!?:])\s+", text))
    return {s for s in found if len(s.split()) >= SHORTEST}


def _our_files():
    yield ROOT / "README.md"
    yield from (ROOT / "python" / "ferrovq").rglob("*.py")
    yield from (ROOT / "python" / "ferrovq").rglob("*.pyi")
    yield from (ROOT / "examples").glob("*.py")
    for path in (ROOT / "docs").rglob("*"):
        if path.suffix in (".md", ".rst", ".py") and "_build" not in path.parts:
            if "auto_examples" not in path.parts:
                yield path


THEIRS = sorted(_their_sentences())


def test_the_oracles_give_sentences_to_check():
    assert len(THEIRS) > 200


@pytest.mark.parametrize("path", sorted(_our_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sentence_of_theirs_in_our_text(path):
    ours = f" {_words(path.read_text())} "
    copied = [s for s in THEIRS if f" {s} " in ours]
    assert copied == [], f"{path.name} repeats SciPy's or scikit-learn's prose: {copied}"
