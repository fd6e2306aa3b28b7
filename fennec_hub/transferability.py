"""Forward-pass transferability scores, the classic alternative the benchmarks compare against.

:func:`logme` (You et al., "LogME: Practical Assessment of Pre-trained Models for Transfer
Learning", ICML 2021): how well features of a model's forward pass explain the labels, by the
maximised evidence of a Bayesian linear model. Needs features of every candidate model on labelled
target images, which fennec_hub's own ranking does not (``benchmarks/bench_tasks.py`` times both).
"""

from __future__ import annotations

import numpy as np


def logme(features: np.ndarray, labels: np.ndarray, *, max_iter: int = 100, tol: float = 1e-5) -> float:
    """LogME score (higher = better expected transfer) of features ``[n, D]`` for class labels ``[n]``.

    For each class k (one-hot target y_k) the evidence of y = F w + noise with priors
    w ~ N(0, 1/alpha I) and noise ~ N(0, 1/beta) is maximised by the fixed-point updates
    gamma = sum_i beta s_i / (alpha + beta s_i), alpha = gamma / m'm, beta = (n - gamma) / ||F m - y||^2
    with m = beta A^-1 F'y, A = alpha I + beta F'F, all written in the SVD basis of F (s_i = sigma_i^2,
    from the eigendecomposition of the smaller Gram matrix).
    The score is the mean over classes of the maximised log evidence divided by n. Vectorised over
    classes.
    """
    F = np.asarray(features, np.float64)
    y = np.asarray(labels)
    if F.ndim != 2 or len(F) != len(y):
        raise ValueError(f"features must be [n, D] and labels [n]; got {F.shape} and {y.shape}.")
    n, D = F.shape
    classes = np.unique(y)
    Y = (y[:, None] == classes[None, :]).astype(np.float64)  # [n, K]
    # Left singular vectors U and squared singular values s of F from the smaller Gram matrix
    # (eigh of an n x n or D x D matrix: much cheaper than an SVD of a wide feature matrix).
    if n <= D:
        s, U = np.linalg.eigh(F @ F.T)
    else:
        s, V = np.linalg.eigh(F.T @ F)
    keep = s > max(s.max(initial=0.0), 0.0) * 1e-12
    s = s[keep]
    U = U[:, keep] if n <= D else (F @ V[:, keep]) / np.sqrt(s)
    z = U.T @ Y  # [r, K] projections of targets on the left singular vectors
    z2 = z**2
    resid_out = np.maximum((Y**2).sum(0) - z2.sum(0), 0.0)  # part of ||y||^2 outside range(F)
    K = Y.shape[1]
    alpha = np.ones(K)
    beta = np.ones(K)
    for _ in range(max_iter):
        denom = alpha[None, :] + beta[None, :] * s[:, None]  # [r, K]
        gamma = (beta[None, :] * s[:, None] / denom).sum(0)
        mm = (beta[None, :] ** 2 * s[:, None] * z2 / denom**2).sum(0)  # m'm
        res = (alpha[None, :] ** 2 * z2 / denom**2).sum(0) + resid_out  # ||F m - y||^2
        new_alpha = gamma / np.maximum(mm, 1e-12)
        new_beta = (n - gamma) / np.maximum(res, 1e-12)
        done = np.all(np.abs(new_alpha - alpha) / alpha < tol) and np.all(np.abs(new_beta - beta) / beta < tol)
        alpha, beta = new_alpha, new_beta
        if done:
            break
    denom = alpha[None, :] + beta[None, :] * s[:, None]
    mm = (beta[None, :] ** 2 * s[:, None] * z2 / denom**2).sum(0)
    res = (alpha[None, :] ** 2 * z2 / denom**2).sum(0) + resid_out
    logdet = np.log(denom).sum(0) + (D - len(s)) * np.log(alpha)  # log|A|, A is D x D
    evidence = (n / 2 * np.log(beta) + D / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                - beta / 2 * res - alpha / 2 * mm - logdet / 2)
    return float(np.mean(evidence / n))
