"""The bootstrap's count sampler draws exactly Multinomial(N, c / N), by either method."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ratings.resample import TABLE_CHUNK_ROUNDS, CountSampler, PoissonTables, map_chunks

COUNTS = np.array([1, 1, 2, 3, 3, 7, 40, 40, 500, 1200], dtype=float)


def _table_rounds(counts: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    sampler = CountSampler(counts)
    assert sampler.chunk_rounds == TABLE_CHUNK_ROUNDS  # the Poisson-table path
    generator = np.random.default_rng(seed)
    return np.concatenate([np.asarray(sampler.draw_chunk(generator, TABLE_CHUNK_ROUNDS))
                           for _ in range(rounds // TABLE_CHUNK_ROUNDS)])


def test_poisson_tables_give_poisson_variates():
    tables = PoissonTables(np.array([0, 1, 1, 9, 400]))
    x = tables.draw(np.random.default_rng(1), 20_000)
    assert x.shape == (5, 20_000)
    assert (x[0] == 0).all()
    for row, mean in ((1, 1), (2, 1), (3, 9), (4, 400)):
        assert x[row].mean() == pytest.approx(mean, rel=0.03)
        assert x[row].var() == pytest.approx(mean, rel=0.05)
    # the two cells of count 1 share one histogram but are independent of each other
    assert abs(np.corrcoef(x[1], x[2])[0, 1]) < 0.03
    # a chi-square goodness of fit for the count-9 cell
    observed = np.bincount(x[3].astype(int), minlength=30)[:30]
    expected = stats.poisson.pmf(np.arange(30), 9) * x.shape[1]
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-4


def test_table_rounds_are_multinomial_with_exactly_n_battles():
    n = int(COUNTS.sum())
    draws = _table_rounds(COUNTS, 20_000, seed=3)
    assert (draws.sum(axis=1) == n).all()
    p = COUNTS / n
    np.testing.assert_allclose(draws.mean(axis=0), COUNTS, rtol=0.03, atol=0.03)
    np.testing.assert_allclose(draws.var(axis=0), n * p * (1 - p), rtol=0.06)
    # multinomial cells are negatively correlated: cov = -n p_i p_j
    cov = np.cov(draws[:, 8], draws[:, 9])[0, 1]
    assert cov == pytest.approx(-n * p[8] * p[9], rel=0.1)
    # the marginal of a small cell is Binomial(n, p)
    observed = np.bincount(draws[:, 5].astype(int), minlength=25)[:25]
    expected = stats.binom.pmf(np.arange(25), n, p[5]) * len(draws)
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-4


def test_table_and_per_round_methods_agree_in_distribution():
    per_round = CountSampler(COUNTS).draw_rounds(np.random.default_rng(5), 20_000)
    tables = _table_rounds(COUNTS, 20_000, seed=6)
    for cell in range(len(COUNTS)):
        result = stats.ks_2samp(per_round[:, cell], tables[:, cell])
        assert result.pvalue > 1e-4, cell


def test_map_chunks_results_do_not_depend_on_threads():
    counts = np.arange(1, 400, dtype=float)
    one = map_chunks(lambda d: np.asarray(d)[:, :3].copy(), counts, 600, seed=9, threads=1)
    two = map_chunks(lambda d: np.asarray(d)[:, :3].copy(), counts, 600, seed=9, threads=2)
    np.testing.assert_array_equal(one, two)
    assert one.shape == (600, 3)
