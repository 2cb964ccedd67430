"""qf-train's library: fit the engine's signal model from `qf-engine features` rows.

What is fitted, on the rows of 1 s bar closes (the cadence of the live regime filter):
  - a K-state Gaussian HMM with diagonal covariances over the live filter's observation
    (obs_ret_bps, obs_vol_bps), by Baum-Welch (scaled forward-backward; the log-likelihood of
    every iteration is kept and must never decrease);
  - one ridge expert per regime over the standardized signal inputs, rows weighted by the
    regime's *filtered* posterior (what the engine has live, not the smoothed one);
  - a gradient-boosted trees expert (XGBoost, squared loss) over the raw signal inputs, NaN as
    missing, as the engine's tree evaluator sees them.
The model file also carries each input's training distribution for the engine's drift statistic:
the deciles of the training rows' values (ties merged) as bin edges and each bin's share, binned
as the engine bins (searchsorted, side="right"; NaN not counted), so live PSI compares like with like.
Walk-forward validation: expanding train window, contiguous test folds in time, and a purge: a
training row whose label window (t_ns, label_end_ns] reaches the test fold's first row is
dropped. The target is the horizon forward return standardized by its training sd.
numpy/sklearn/xgboost from Debian (run with /usr/bin/python3); hand-written Baum-Welch because
Debian ships no hmmlearn.
"""
import hashlib
import json
import math

import numpy as np

FEATURES = ["imbalance", "trade_flow", "ret_fast", "ret_slow", "bollinger_z"]
OBS = ["obs_ret_bps", "obs_vol_bps"]
FORMAT = "qf-signal-model"
VERSION = 2  # 2: the "drift" section (each input's training distribution)
DRIFT_BINS = 10
VAR_FLOOR = 1e-6


# ---------------------------------------------------------------- data

def load_rows(paths, bar="1s"):
    """Rows of the given bar interval from feature CSVs, sorted by (session, time)."""
    import pandas as pd
    frames = []
    for k, p in enumerate(paths):
        df = pd.read_csv(p)
        df["file"] = k
        frames.append(df[df["bar"] == bar])
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["file", "session", "t_ns"], kind="stable").reset_index(drop=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- HMM

def _log_emission(x, means, variances):
    # x: T x D; returns T x K log densities (diagonal Gaussian)
    diff = x[:, None, :] - means[None, :, :]
    return -0.5 * (np.log(2 * np.pi * variances)[None, :, :] + diff * diff / variances[None, :, :]).sum(axis=2)


def forward_filter(x, hmm):
    """Filtered posteriors P(s_t | x_1..t), as the engine's RegimeFilter computes them."""
    A, pi, mu, var = (np.asarray(hmm[k]) for k in ("transition", "initial", "means", "variances"))
    logb = _log_emission(x, mu, var)
    T, K = logb.shape
    out = np.zeros((T, K))
    post = None
    for t in range(T):
        pred = pi if post is None else A.T @ post
        w = pred * np.exp(logb[t] - logb[t].max())
        post = w / w.sum()
        out[t] = post
    return out


def baum_welch(x, k=3, iters=200, tol=1e-7, init=None):
    """Gaussian HMM by EM. Returns (params dict, log-likelihood per iteration)."""
    x = np.asarray(x, dtype=float)
    T, D = x.shape
    if init is None:
        # Deterministic start: states split by quantiles of the last column (volatility).
        order = np.argsort(x[:, -1], kind="stable")
        groups = np.array_split(order, k)
        mu = np.array([x[g].mean(axis=0) for g in groups])
        var = np.array([np.maximum(x[g].var(axis=0), VAR_FLOOR) for g in groups]) + x.var(axis=0) * 0.1
        A = np.full((k, k), 0.1 / max(k - 1, 1)) + np.eye(k) * (0.9 - 0.1 / max(k - 1, 1))
        pi = np.full(k, 1.0 / k)
    else:
        A, pi, mu, var = (np.array(init[n], dtype=float) for n in ("transition", "initial", "means", "variances"))
    history = []
    for _ in range(iters):
        b = np.exp(_log_emission(x, mu, var))
        b_shift = b.max(axis=1, keepdims=True)
        b_shift[b_shift <= 0] = 1e-300
        bs = b / b_shift
        alpha = np.zeros((T, k))
        c = np.zeros(T)
        a = pi * bs[0]
        c[0] = a.sum()
        alpha[0] = a / c[0]
        for t in range(1, T):
            a = (alpha[t - 1] @ A) * bs[t]
            c[t] = a.sum()
            alpha[t] = a / c[t]
        ll = float(np.log(c).sum() + np.log(b_shift).sum())
        history.append(ll)
        beta = np.ones((T, k))
        for t in range(T - 2, -1, -1):
            beta[t] = (A @ (bs[t + 1] * beta[t + 1])) / c[t + 1]
        gamma = alpha * beta
        gamma /= gamma.sum(axis=1, keepdims=True)
        xi = np.zeros((k, k))
        for t in range(T - 1):
            m = np.outer(alpha[t], bs[t + 1] * beta[t + 1]) * A / c[t + 1]
            xi += m
        pi = gamma[0]
        A = xi / xi.sum(axis=1, keepdims=True)
        w = gamma.sum(axis=0)
        mu = (gamma.T @ x) / w[:, None]
        var = np.maximum((gamma.T @ (x * x)) / w[:, None] - mu * mu, VAR_FLOOR)
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol * max(1.0, abs(history[-1])):
            break
    # States ordered by volatility (last observation): 0 calm .. K-1 volatile, as the engine names them.
    order = np.argsort(mu[:, -1], kind="stable")
    params = {"transition": A[np.ix_(order, order)].tolist(), "initial": pi[order].tolist(),
              "means": mu[order].tolist(), "variances": var[order].tolist()}
    return params, history


# ---------------------------------------------------------------- experts

def standardization(X):
    mean = np.nanmean(X, axis=0)
    sd = np.nanstd(X, axis=0)
    sd[~(sd > 0)] = 1.0
    return mean, sd


def standardize(X, mean, sd):
    z = (X - mean) / sd
    z[~np.isfinite(z)] = 0.0  # a missing input carries no information, as in the engine
    return z


def fit_ridge_experts(Z, y, post, alpha=1.0):
    from sklearn.linear_model import Ridge
    K = post.shape[1]
    W = np.zeros((K, Z.shape[1]))
    b = np.zeros(K)
    for k in range(K):
        w = post[:, k]
        if w.sum() < 1e-9:
            continue
        m = Ridge(alpha=alpha).fit(Z, y, sample_weight=w)
        W[k], b[k] = m.coef_, m.intercept_
    return W, b


def fit_trees(X, y, n_trees=100, depth=6, eta=0.1, seed=0):
    import xgboost as xgb
    d = xgb.DMatrix(X, label=y, missing=np.nan)
    params = {"objective": "reg:squarederror", "max_depth": depth, "eta": eta, "subsample": 0.8,
              "seed": seed, "nthread": 1, "base_score": 0.0, "tree_method": "exact"}
    return xgb.train(params, d, num_boost_round=n_trees)


def trees_predict(booster, X):
    import xgboost as xgb
    return booster.predict(xgb.DMatrix(X, missing=np.nan))


def trees_json(booster, X, check_rows=64):
    """The dump the engine loads, plus XGBoost's own predictions for `check_rows` of the rows it
    was fitted on (spread over X, NaN kept as null): the engine refuses the model unless its flat
    evaluator gives the same on each (core/src/signal_model.cpp)."""
    cfg = json.loads(booster.save_config())
    base = float(cfg["learner"]["learner_model_param"]["base_score"])
    picked = X[np.unique(np.linspace(0, len(X) - 1, min(check_rows, len(X))).astype(int))]
    rows = [[None if not np.isfinite(v) else float(v) for v in row] for row in picked]
    check = {"rows": rows, "predictions": [float(p) for p in trees_predict(booster, picked)]}
    return {"base_score": base, "dump": [json.loads(t) for t in booster.get_dump(dump_format="json")],
            "check": check}


# ---------------------------------------------------------------- drift reference

def drift_reference(X, bins=DRIFT_BINS):
    """Per input: interior bin edges (the deciles of its non-missing training values, ties merged)
    and the training share of each bin, binned as the engine bins them (core/drift.hpp)."""
    out = []
    for j, name in enumerate(FEATURES):
        v = X[:, j]
        v = v[np.isfinite(v)]
        if len(v) == 0:
            edges, expected = np.array([]), np.array([1.0])
        else:
            edges = np.unique(np.quantile(v, np.arange(1, bins) / bins))
            counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
            expected = counts / counts.sum()
        out.append({"name": name, "edges": edges.tolist(), "expected": expected.tolist()})
    return {"method": "psi", "bins": bins, "features": out}


def psi(reference, values, floor=1e-4):
    """The engine's statistic for one input: sum (a - e) ln(a / e) over its bins, shares floored."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    edges = np.asarray(reference["edges"])
    a = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1) / max(len(v), 1)
    a = np.maximum(a, floor)
    e = np.maximum(np.asarray(reference["expected"]), floor)
    return float(((a - e) * np.log(a / e)).sum())


# ---------------------------------------------------------------- model

class Fitted:
    def __init__(self, hmm, mean, sd, W, b, booster, trees_weight, y_sd):
        self.hmm, self.mean, self.sd, self.W, self.b = hmm, mean, sd, W, b
        self.booster, self.trees_weight, self.y_sd = booster, trees_weight, y_sd

    def predict(self, X, O):
        """The engine's pre-tanh mixture: (1 - l) * sum_k p_k (w_k.z + b_k) + l * trees(x)."""
        post = forward_filter(O, self.hmm)
        lin = (post * (standardize(X, self.mean, self.sd) @ self.W.T + self.b)).sum(axis=1)
        if self.booster is None:
            return lin
        return (1 - self.trees_weight) * lin + self.trees_weight * trees_predict(self.booster, X)


def fit(df, target="fwd_ret_h_bps", k=3, trees=100, depth=6, trees_weight=0.5, ridge_alpha=1.0):
    X = df[FEATURES].to_numpy(float)
    O = df[OBS].to_numpy(float)
    y_raw = df[target].to_numpy(float)
    y_sd = float(np.std(y_raw)) or 1.0
    y = y_raw / y_sd
    hmm, history = baum_welch(O, k)
    post = forward_filter(O, hmm)
    mean, sd = standardization(X)
    W, b = fit_ridge_experts(standardize(X, mean, sd), y, post, ridge_alpha)
    booster = fit_trees(X, y, trees, depth) if trees > 0 else None
    return Fitted(hmm, mean, sd, W, b, booster, trees_weight if booster is not None else 0.0, y_sd), history


# ---------------------------------------------------------------- walk-forward

def walk_forward_folds(t_ns, label_end_ns, n_folds=4, purge_ns=0):
    """(train_idx, test_idx) per fold: the rows sorted by time are cut into n_folds + 1 blocks;
    fold i tests block i + 1 and trains on every earlier row whose label window ends before the
    test block's first row time minus the purge gap."""
    t_ns = np.asarray(t_ns)
    label_end_ns = np.asarray(label_end_ns)
    order = np.argsort(t_ns, kind="stable")
    blocks = np.array_split(order, n_folds + 1)
    folds = []
    for i in range(1, n_folds + 1):
        test = blocks[i]
        if len(test) == 0:
            continue
        start = t_ns[test].min()
        earlier = np.concatenate(blocks[:i])
        train = earlier[label_end_ns[earlier] + purge_ns < start]
        folds.append((np.sort(train), np.sort(test)))
    return folds


def spearman(a, b):
    from scipy.stats import spearmanr  # noqa: F401  (scipy ships with sklearn on Debian)
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    r = spearmanr(a, b).correlation
    return float(r) if np.isfinite(r) else 0.0


def strategy(position, ret):
    """Per-bar P&L in bps of holding `position` (in [-1, 1]) over each row's next bar."""
    pnl = position * ret
    eq = np.cumsum(pnl)
    peak = np.maximum.accumulate(np.concatenate([[0.0], eq]))[1:]
    dd = float((peak - eq).max()) if len(eq) else 0.0
    sd = float(np.std(pnl))
    return {"return_bps": float(pnl.sum()), "sharpe_per_bar": float(pnl.mean() / sd) if sd > 0 else 0.0,
            "max_drawdown_bps": dd}


def evaluate(pred, df):
    y = df["fwd_ret_h_bps"].to_numpy(float)
    r1 = df["fwd_ret_1_bps"].to_numpy(float)
    ok = np.isfinite(r1)
    nz = (y != 0) & (pred != 0)
    return {"rows": int(len(y)), "ic": spearman(pred, y),
            "hit_rate": float((np.sign(pred[nz]) == np.sign(y[nz])).mean()) if nz.any() else 0.0,
            "model": strategy(np.tanh(pred[ok]), r1[ok]),
            "buy_and_hold": strategy(np.ones(ok.sum()), r1[ok]),
            "zero_signal": strategy(np.zeros(ok.sum()), r1[ok])}


def walk_forward(df, n_folds=4, purge_ns=0, **fit_args):
    t = df["t_ns"].to_numpy(np.int64)
    end = df["label_end_ns"].to_numpy(np.int64)
    out = []
    for train, test in walk_forward_folds(t, end, n_folds, purge_ns):
        if len(train) < 30:
            continue
        model, _ = fit(df.iloc[train], **fit_args)
        te = df.iloc[test]
        pred = model.predict(te[FEATURES].to_numpy(float), te[OBS].to_numpy(float))
        row = evaluate(pred, te)
        row.update({"train_rows": int(len(train)), "train_end_label_ns": int(end[train].max()),
                    "test_start_ns": int(t[test].min()), "test_end_ns": int(t[test].max())})
        out.append(row)
    return out


def model_document(model, df, inputs, history, folds, args):
    trees = None
    if model.booster is not None:
        trees = trees_json(model.booster, df[FEATURES].to_numpy(float))
        trees["weight"] = model.trees_weight
        trees["objective"] = "reg:squarederror"
    doc = {
        "format": FORMAT, "version": VERSION,
        "features": FEATURES, "regime_observation": OBS,
        "target": {"column": args.get("target", "fwd_ret_h_bps"), "sd": model.y_sd},
        "standardization": {"mean": model.mean.tolist(), "sd": model.sd.tolist()},
        "hmm": dict(model.hmm, states=len(model.hmm["initial"]), log_likelihood=history),
        "experts": {"linear": {"weights": model.W.tolist(), "bias": model.b.tolist()}, "trees": trees},
        "training": {"rows": int(len(df)), "start_ns": int(df["t_ns"].min()), "end_ns": int(df["t_ns"].max()),
                     "data": [{"path": p, "sha256": sha256_file(p)} for p in inputs], "args": args},
        "validation": {"folds": folds},
        "drift": drift_reference(df[FEATURES].to_numpy(float)),
    }
    body = json.dumps(doc, sort_keys=True).encode()
    doc["id"] = "qf-" + hashlib.sha256(body).hexdigest()[:12]
    return doc


def fold_table(folds):
    lines = ["fold  train   test    IC      hit    model_bps  sharpe/bar  dd_bps  | b&h_bps  b&h_sharpe  | zero"]
    for i, f in enumerate(folds):
        m, bh, z = f["model"], f["buy_and_hold"], f["zero_signal"]
        lines.append(f"{i:>4} {f['train_rows']:>6} {f['rows']:>6} {f['ic']:>7.3f} {f['hit_rate']:>6.3f} "
                     f"{m['return_bps']:>10.2f} {m['sharpe_per_bar']:>11.3f} {m['max_drawdown_bps']:>7.2f} | "
                     f"{bh['return_bps']:>7.2f} {bh['sharpe_per_bar']:>11.3f} | {z['return_bps']:.1f}")
    return "\n".join(lines)
