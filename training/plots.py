"""Figures of a training run (matplotlib's object API: no pyplot state, no display needed).

Each function returns a :class:`matplotlib.figure.Figure` drawn from test-window data; the
tracking module logs them as PNG artifacts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from vitals.models.scoring import BANDS

_BAND_COLOURS = {"good": "#2e7d32", "average": "#f9a825", "poor": "#c62828"}
_TOP_FEATURES = 15
_SHAP_ROWS = 2000


def roc_figure(y: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> Figure:
    """ROC curve of every model on the same axes."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    for name, p in probabilities.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test window")
    ax.legend(loc="lower right")
    return fig


def reliability_figure(
    y: np.ndarray, probabilities: Mapping[str, np.ndarray], bins: int = 10
) -> Figure:
    """Observed churn rate against mean predicted probability in equal-count bins."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    top = 0.0
    for name, p in probabilities.items():
        parts = np.array_split(np.argsort(p, kind="stable"), bins)
        mean_p = [p[i].mean() for i in parts]
        rate = [y[i].mean() for i in parts]
        top = max(top, *mean_p, *rate)
        ax.plot(mean_p, rate, marker="o", label=name)
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1)
    ax.set(
        xlabel="mean predicted churn probability",
        ylabel="observed churn rate",
        title=f"Reliability ({bins} equal-count bins)",
    )
    ax.legend(loc="upper left")
    return fig


def survival_figure(mean_curve: Mapping[str, Sequence[float]]) -> Figure:
    """Mean predicted survival of the test rows against the test window's Kaplan-Meier curve."""
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    days = mean_curve["days"]
    ax.plot(days, mean_curve["predicted_survival"], label="Vitals, mean predicted")
    ax.step(days, mean_curve["kaplan_meier_test"], where="post", label="observed (Kaplan-Meier)")
    ax.set(xlabel="days after as_of", ylabel="still a customer", title="Survival, test window")
    ax.legend(loc="lower left")
    return fig


def lift_figure(y: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> Figure:
    """Cumulative gains (churners found vs accounts contacted) and lift per risk decile."""
    fig = Figure(figsize=(11, 4.5))
    gains, deciles = fig.subplots(1, 2)
    width = 0.8 / max(1, len(probabilities))
    base = y.mean()
    for k, (name, p) in enumerate(probabilities.items()):
        order = np.argsort(-p, kind="stable")
        found = np.concatenate([[0.0], np.cumsum(y[order]) / max(1, y.sum())])
        gains.plot(np.linspace(0, 1, len(found)), found, label=name)
        lift = [y[part].mean() / base for part in np.array_split(order, 10)]
        deciles.bar(
            np.arange(1, 11) + (k - (len(probabilities) - 1) / 2) * width, lift, width, label=name
        )
    gains.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    gains.set(
        xlabel="share of accounts contacted (riskiest first)",
        ylabel="share of churners found",
        title="Cumulative gains",
    )
    deciles.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    deciles.set(
        xlabel="risk decile (1 = riskiest)",
        ylabel="lift",
        title="Lift per decile",
        xticks=range(1, 11),
    )
    gains.legend(loc="lower right")
    deciles.legend(loc="upper right")
    return fig


def shap_summary_figure(
    contributions: pd.DataFrame, values: pd.DataFrame, title: str, seed: int = 0
) -> Figure:
    """SHAP summary: per top feature, each row's contribution, coloured by the feature's value.

    Args:
        contributions: log-odds contributions per feature (``HealthModel.contributions``; a
            ``base_value`` column is ignored).
        values: the feature values of the same rows (categoricals are shown in grey).
        title: figure title.
        seed: seed of the row sample and of the vertical jitter.
    """
    rng = np.random.default_rng(seed)
    phi = contributions.drop(columns="base_value", errors="ignore")
    if len(phi) > _SHAP_ROWS:
        keep = np.sort(rng.choice(len(phi), _SHAP_ROWS, replace=False))
        phi, values = phi.iloc[keep], values.iloc[keep]
    top = phi.abs().mean().sort_values(ascending=False).index[:_TOP_FEATURES][::-1]
    fig = Figure(figsize=(8, 0.35 * len(top) + 1.5))
    ax = fig.subplots()
    for row, name in enumerate(top):
        x = phi[name].to_numpy(dtype=np.float64)
        colour = _percentile_colour(values[name]) if name in values.columns else None
        jitter = row + rng.uniform(-0.3, 0.3, len(x))
        if colour is None:
            ax.scatter(x, jitter, color="grey", s=4)
        else:
            ax.scatter(x, jitter, c=colour, cmap="coolwarm", vmin=0, vmax=1, s=4)
    ax.axvline(0.0, color="grey", linewidth=1)
    ax.set_yticks(range(len(top)), list(top))
    ax.set(xlabel="contribution to churn log-odds (SHAP)", title=title)
    return fig


def band_figure(scores: pd.DataFrame, y: np.ndarray, profiles: Sequence[str]) -> Figure:
    """Per profile: health-score histogram stacked by band, with the churn rate of each band."""
    shown = [p for p in profiles if (scores["profile"] == p).any()]
    fig = Figure(figsize=(4.2 * max(1, len(shown)), 4))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(shown)), squeeze=False)[0])
    edges = np.linspace(0, 100, 41)
    for ax, profile in zip(axes, shown, strict=False):
        rows = (scores["profile"] == profile).to_numpy()
        health = scores["health_score"].to_numpy()[rows]
        band = scores["band"].to_numpy()[rows]
        stacks = [health[band == b] for b in BANDS]
        labels = [f"{b}: churn {_rate(y[rows][band == b])}" for b in BANDS]
        ax.hist(
            stacks, bins=edges, stacked=True, label=labels, color=[_BAND_COLOURS[b] for b in BANDS]
        )
        ax.set(xlabel="health score", ylabel="snapshots", title=profile)
        ax.legend(loc="upper left", fontsize="small")
    fig.suptitle("Health score by band, test window")
    return fig


def _percentile_colour(column: pd.Series) -> np.ndarray | None:
    if not pd.api.types.is_numeric_dtype(column):
        return None
    return column.rank(pct=True).fillna(0.5).to_numpy()


def _rate(y: np.ndarray) -> str:
    return "n/a" if len(y) == 0 else f"{100 * y.mean():.1f} %"
