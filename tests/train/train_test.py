#!/usr/bin/python3
"""qf-train's fitting and validation on synthetic data whose truth is known (no engine needed):
Baum-Welch recovers a regime-switching process and never lowers its log-likelihood; walk-forward
folds never train on a row whose label window reaches the test fold; a planted nonlinear relation
is learned out of sample while a shuffled-label control stays near 0; the drift reference holds
each input's training deciles, so training data scores PSI ~0 against it and a level shift does not."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "train"))
import qf_train as qt  # noqa: E402

TRUE_A = np.array([[0.96, 0.03, 0.01], [0.04, 0.92, 0.04], [0.02, 0.06, 0.92]])
TRUE_MU = np.array([[0.0, 0.5], [1.0, 1.5], [-1.5, 4.0]])
TRUE_VAR = np.array([[0.04, 0.01], [0.25, 0.04], [1.0, 0.25]])


def simulate(T, seed):
    rng = np.random.default_rng(seed)
    s = np.zeros(T, dtype=int)
    for t in range(1, T):
        s[t] = rng.choice(3, p=TRUE_A[s[t - 1]])
    x = TRUE_MU[s] + rng.standard_normal((T, 2)) * np.sqrt(TRUE_VAR[s])
    return x, s


class BaumWelch(unittest.TestCase):
    def test_should_recover_transition_matrix_and_means_of_synthetic_regimes(self):
        x, _ = simulate(20_000, 7)
        params, history = qt.baum_welch(x, 3, iters=300)
        A = np.array(params["transition"])
        mu = np.array(params["means"])
        var = np.array(params["variances"])
        np.testing.assert_allclose(A, TRUE_A, atol=0.015)
        np.testing.assert_allclose(mu, TRUE_MU, atol=0.05)
        np.testing.assert_allclose(var, TRUE_VAR, rtol=0.1)

    def test_log_likelihood_should_never_decrease_across_iterations(self):
        x, _ = simulate(3_000, 11)
        # A poor start makes EM climb for many iterations.
        init = {"transition": np.full((3, 3), 1 / 3), "initial": np.full(3, 1 / 3),
                "means": [[0.1, 1.0], [0.0, 1.1], [0.2, 1.2]], "variances": np.ones((3, 2))}
        _, history = qt.baum_welch(x, 3, iters=100, tol=0, init=init)
        self.assertGreater(len(history), 50)
        steps = np.diff(history)
        self.assertTrue((steps >= -1e-8 * np.abs(np.array(history[1:]))).all(), f"LL decreased: {steps.min()}")
        self.assertGreater(history[-1] - history[0], 1000.0)

    def test_filter_should_follow_the_true_regime(self):
        x, s = simulate(5_000, 3)
        params, _ = qt.baum_welch(x, 3)
        post = qt.forward_filter(x, params)
        self.assertGreater((post.argmax(axis=1) == s).mean(), 0.9)


class WalkForward(unittest.TestCase):
    def test_no_training_row_label_window_should_reach_its_test_fold(self):
        rng = np.random.default_rng(1)
        t = np.cumsum(rng.integers(500_000_000, 1_500_000_000, 2_000))
        end = t + 10_000_000_000  # a 10 s label horizon
        folds = qt.walk_forward_folds(t, end, n_folds=5, purge_ns=2_000_000_000)
        self.assertEqual(len(folds), 5)
        for train, test in folds:
            self.assertGreater(len(train), 0)
            # From the timestamps: every training label window closes before the fold opens.
            self.assertLess(end[train].max() + 2_000_000_000, t[test].min())
            self.assertEqual(len(np.intersect1d(train, test)), 0)
        # The purge really removes rows: those just before the fold are gone.
        train, test = folds[0]
        before = np.where(t < t[test].min())[0]
        self.assertGreater(len(before) - len(train), 5)


class Trees(unittest.TestCase):
    def test_should_learn_a_planted_nonlinear_relation_and_not_a_shuffled_one(self):
        rng = np.random.default_rng(5)
        n = 6_000
        X = rng.standard_normal((n, 5))
        X[rng.random(n) < 0.05, 4] = np.nan  # missing values, as bollinger_z before warm-up
        y = np.sign(X[:, 0] * X[:, 1]) + 0.5 * np.abs(X[:, 2]) - 0.4 + 0.5 * rng.standard_normal(n)
        tr, te = slice(0, 4_000), slice(4_000, n)
        ic = qt.spearman(qt.trees_predict(qt.fit_trees(X[tr], y[tr], 100, 6), X[te]), y[te])
        control = qt.spearman(qt.trees_predict(qt.fit_trees(X[tr], rng.permutation(y[tr]), 100, 6), X[te]), y[te])
        # A linear fit cannot see sign(x0 x1): the trees must.
        from sklearn.linear_model import Ridge
        linear = qt.spearman(Ridge().fit(np.nan_to_num(X[tr]), y[tr]).predict(np.nan_to_num(X[te])), y[te])
        self.assertGreater(ic, 0.6)
        self.assertLess(abs(control), 0.06)
        self.assertGreater(ic, linear + 0.3)


class DriftReference(unittest.TestCase):
    def test_should_hold_deciles_with_their_training_shares_and_score_a_level_shift(self):
        rng = np.random.default_rng(11)
        X = rng.standard_normal((5_000, 5))
        X[:, 1] = rng.integers(-2, 3, 5_000)  # ties: edges merge, shares stay exact
        X[:200, 4] = np.nan  # not counted
        ref = qt.drift_reference(X)
        self.assertEqual([f["name"] for f in ref["features"]], qt.FEATURES)
        f0 = ref["features"][0]
        self.assertEqual(len(f0["edges"]), 9)
        np.testing.assert_allclose(f0["edges"], np.quantile(X[:, 0], np.arange(1, 10) / 10))
        np.testing.assert_allclose(f0["expected"], 0.1, atol=2e-4)
        f1 = ref["features"][1]
        self.assertEqual(f1["edges"], sorted(set(f1["edges"])))
        self.assertLess(len(f1["edges"]), 9)
        shares = {v: float(np.mean(X[:, 1] == v)) for v in (-2, -1, 0, 1, 2)}
        # bin b holds the values in [edges[b-1], edges[b]): the last bin holds everything >= the top edge
        self.assertAlmostEqual(f1["expected"][-1], shares[2] if f1["edges"][-1] == 2 else shares[1] + shares[2])
        for f in ref["features"]:
            self.assertAlmostEqual(sum(f["expected"]), 1.0)
        fresh = rng.standard_normal(300)
        self.assertLess(qt.psi(f0, fresh), 0.1)
        self.assertGreater(qt.psi(f0, fresh + 1.5), 0.25)


if __name__ == "__main__":
    unittest.main()
