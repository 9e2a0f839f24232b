import numpy as np

from qa.search.fusion import fuse, ranked, union_candidates


def test_union_keeps_first_appearance_order():
    assert union_candidates(np.array([3, 1]), np.array([1, 7, 3])).tolist() == [3, 1, 7]
    assert union_candidates(np.array([], dtype=np.int64)).tolist() == []


def test_scores_are_scaled_cosine_plus_bm25_over_the_best():
    cosine = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    bm25 = np.array([0.0, 10.0, 5.0], dtype=np.float32)
    fused = fuse(cosine, bm25, dense_weight=0.5)
    np.testing.assert_allclose(fused, [0.5, 0.25 + 0.5, 0.25], rtol=1e-6)
    assert [pid for pid, _ in ranked(np.array([11, 12, 13]), fused)] == [12, 11, 13]


def test_one_side_missing():
    cosine = np.array([0.2, 0.4], dtype=np.float32)
    np.testing.assert_allclose(fuse(cosine, None, dense_weight=0.6), [0.0, 0.6])
    np.testing.assert_allclose(fuse(None, np.array([2.0, 4.0]), dense_weight=0.6), [0.2, 0.4], rtol=1e-6)
    np.testing.assert_allclose(fuse(np.array([0.5, 0.5]), np.zeros(2), dense_weight=0.5), [0.5, 0.5])
    assert len(fuse(None, None)) == 0


def test_ties_keep_candidate_order():
    assert ranked(np.array([5, 4, 6]), np.array([1.0, 1.0, 2.0])) == [(6, 2.0), (5, 1.0), (4, 1.0)]


def test_the_dense_scale_is_the_dense_lists_own():
    # Two candidates the dense side asked for, two more only BM25 brought, far below.
    cosine = np.array([0.90, 0.80, 0.30, 0.10], dtype=np.float32)
    bm25 = np.zeros(4, dtype=np.float32)
    # Scaled from the cosine just below the dense list's depth (0.30) to the best; lower ones held at 0.
    np.testing.assert_allclose(fuse(cosine, bm25, dense_weight=1.0, dense_depth=2), [1.0, 5 / 6, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(fuse(cosine, bm25, dense_weight=1.0), [1.0, 0.875, 0.25, 0.0], rtol=1e-6)
    # A depth at or beyond the candidates is plain min-max.
    np.testing.assert_allclose(fuse(cosine, bm25, dense_weight=1.0, dense_depth=4), fuse(cosine, bm25, dense_weight=1.0))


def test_a_questions_clauses_share_its_dense_evidence():
    from qa.search.fusion import with_clauses
    from qa.search.ranking import DEFAULT_RANKING

    share = DEFAULT_RANKING.fusion.clause_weight
    cosine, clause = np.array([0.90, 0.80], dtype=np.float32), np.array([0.70, 0.95], dtype=np.float32)
    np.testing.assert_allclose(with_clauses(cosine, clause), (1 - share) * cosine + share * clause)
    np.testing.assert_allclose(with_clauses(cosine, clause, clause_weight=0.0), cosine)
    assert with_clauses(cosine, clause, clause_weight=0.5).argmax() == 1  # the passage that meets every clause
