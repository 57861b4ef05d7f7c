"""k-means at embedding shape (many features, many codes, overlapping clusters), where the
engine keeps bounds per group of codes: the labels of every iteration against a brute force
(the direct formula in the data's type: float64 for float64 rows), near and exact ties
included; scikit-learn's Lloyd as the oracle of a whole fit; and the same bits for any
thread count."""

import numpy as np
import pytest
import scipy.cluster.vq as sp
from sklearn.cluster import KMeans, kmeans_plusplus

import ferrovq

# 48 features and 160 codes: five groups of 32 codes, and more than four rows per code.
N, D, K = 6000, 48, 160


def embeddings(n, d, k, seed, dtype):
    """Rows around k N(0, 1) centres with unit noise: clusters that overlap."""
    r = np.random.default_rng(seed)
    centres = r.normal(size=(k, d))
    x = (centres[r.integers(0, k, n)] + r.normal(size=(n, d))).astype(dtype)
    init = x[r.choice(n, k, replace=False)].copy()
    return x, init


def brute_labels(x, book):
    """Each row's nearest code by the direct formula, the squares summed in feature order
    in the data's type, first on ties."""
    book = book.astype(x.dtype)
    labels = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), 1000):
        block = x[s : s + 1000]
        dist = np.zeros((len(block), len(book)), dtype=x.dtype)
        for f in range(x.shape[1]):
            dist += (block[:, None, f] - book[None, :, f]) ** 2
        labels[s : s + 1000] = dist.argmin(axis=1)
    return labels


# The code equal to another one never gets a row: SciPy's warning of an empty cluster.
@pytest.mark.filterwarnings("ignore:One of the clusters is empty")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_iteration_has_the_labels_of_a_brute_force(dtype):
    x, init = embeddings(N, D, K, seed=1, dtype=dtype)
    # Near ties: rows halfway between two codes, exact copies of codes, and two equal
    # codes (ties go to the lower index).
    for i in range(100):
        a, b = init[i % K], init[(7 * i + 3) % K]
        x[K + i] = (a.astype(np.float64) + b) / 2
    x[K + 100 : K + 120] = init[:20]
    init[K - 1] = init[5]
    book, compared = init, []
    for it in range(1, 13):
        # The labels of iteration `it` are made against the code book after `it - 1`.
        compared.clear()
        step = ferrovq.kmeans2(
            x, init, iter=it, minit="matrix", callback=lambda _, rows: compared.append(rows)
        )
        np.testing.assert_array_equal(step[1], brute_labels(x, book), err_msg=f"iteration {it}")
        book = step[0]
    # By the last iterations the bounds settle most rows.
    assert compared[0] == N and compared[-1] < N / 4, compared


@pytest.mark.filterwarnings("ignore:One of the clusters is empty")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("d", "k"), [(48, 1), (48, 3), (64, 2), (100, 2), (130, 3)])
def test_few_codes_of_many_features_have_the_labels_of_a_brute_force(dtype, d, k):
    """One to three codes of 48 or more features (a bisection's two-centre runs; the
    row-dots kernel where the CPU has AVX-512): every iteration's labels are the brute
    force's, with rows halfway between two codes, rows equal to a code and, for three
    codes, two equal codes."""
    x, init = embeddings(3000, d, k, seed=d + k, dtype=dtype)
    x[:40] = (init[0].astype(np.float64) + init[-1]) / 2
    x[40:50] = init[-1]
    if k == 3:
        init[2] = init[0]
    book = init
    for it in range(1, 5):
        step = ferrovq.kmeans2(x, init, iter=it, minit="matrix")
        np.testing.assert_array_equal(step[1], brute_labels(x, book), err_msg=f"iteration {it}")
        book = step[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_results_do_not_depend_on_the_thread_count(dtype):
    x, init = embeddings(N, D, K, seed=2, dtype=dtype)
    one = ferrovq.kmeans2(x, init, iter=15, minit="matrix", workers=1)
    two = ferrovq.kmeans2(x, init, iter=15, minit="matrix", workers=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_kmeans_fit_matches_scikit_learn():
    x, init = embeddings(N, D, K, seed=3, dtype=np.float64)
    theirs = KMeans(K, init=init, n_init=1, tol=0, max_iter=40, algorithm="lloyd").fit(x)
    ours = ferrovq.KMeans(K, init=init, n_init=1, tol=0, max_iter=40).fit(x)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-9)
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-10)


@pytest.mark.parametrize("d", [16, 24])
def test_plusplus_seeding_of_float32_rows_matches_scipy(d):
    # float32 rows are widened to float64 as the seeding reads them (SciPy widens a copy);
    # 16 features go through the register transposes of float32 tiles, 24 through others.
    r = np.random.default_rng(d)
    centres = r.normal(0, 8, size=(40, d))
    x = (centres[r.integers(0, 40, 3000)] + r.normal(size=(3000, d))).astype(np.float32)
    ours = ferrovq.kmeans2(x, 40, iter=1, minit="++", rng=7)
    theirs = sp.kmeans2(x, 40, iter=1, minit="++", rng=7)
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_greedy_seeding_at_embedding_width_matches_scikit_learn(dtype, weighted):
    """From 128 features and 16 centres the seeding screens rows by integer products (on
    CPUs with AVX2 but not AVX-512); the draws and picks stay scikit-learn's: every seed in
    float64. In float32 scikit-learn sums the candidates' potentials in float32 (BLAS) and
    where two lie within that rounding the other can win (weighted, seed 0 here, with or
    without the screen): 3 of 4 at least (the rate is printed)."""
    x, _ = embeddings(4000, 160, 40, seed=11, dtype=dtype)
    x -= x.mean(axis=0)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(x)) if weighted else None
    same = 0
    for seed in range(4):
        ours = ferrovq.kmeans_plusplus(x, 32, sample_weight=w, random_state=seed)
        theirs = kmeans_plusplus(x, 32, sample_weight=w, random_state=seed)
        if np.array_equal(ours[1], theirs[1]):
            np.testing.assert_array_equal(ours[0], theirs[0])
            same += 1
    print(f"{np.dtype(dtype).name}, weighted={weighted}: {same}/4 seedings identical")
    assert same == 4 if dtype == np.float64 else same >= 3
