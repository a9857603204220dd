"""Why health moved between two snapshots of the same accounts, in health points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from vitals.features.catalog import FeatureSpec
from vitals.models import frames
from vitals.models.core import Rows, score_rows, span_change
from vitals.models.explain import ChangeExplanation, change_table
from vitals.models.frames import FeatureLayout
from vitals.models.profiles import FittedProfile
from vitals.models.reasons import split_score_change


def explain_change(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    specs: Sequence[FeatureSpec],
    earlier: Rows,
    now: Rows,
    top_k: int | None,
) -> ChangeExplanation:
    """The score change of each account split over its features, plus the move along its
    profile timeline (see ``HealthModel.explain_change``).

    The earlier rows are scored again over the later rows' stages (the counterfactual): the
    features' shares split ``now - counterfactual`` (:func:`~vitals.models.core.span_change`),
    and ``counterfactual - then`` is the change of profile (a tenure-bound profile left, or a
    stage of the span shortened).
    """
    then = earlier.take(frames.align_accounts(earlier.ids, now.ids))
    counter = then.take(np.arange(len(then.ids)), routed_like=now)
    scored_now = score_rows(profiles, layout, now, contributions=False)
    scored_counter = score_rows(profiles, layout, counter, contributions=False)
    scored_then = score_rows(profiles, layout, then, contributions=False)
    s_now, s_then, s_counter = scored_now.score, scored_then.score, scored_counter.score
    # dS/dL = S: the local slope where L barely moves
    points = split_score_change(
        span_change(profiles, layout, now, counter), s_now - s_counter, (s_now + s_counter) / 2.0
    )
    table = change_table(
        now.ids,
        points,
        specs,
        then.value_getter(layout),
        now.value_getter(layout),
        s_counter - s_then,
        then.profiles,
        now.profiles,
        top_k,
    )
    summary = pd.DataFrame(
        {
            "account_id": now.ids,
            "profile_then": then.profiles,
            "profile_now": now.profiles,
            "score_then": s_then,
            "score_now": s_now,
            "score_change": s_now - s_then,
            "band_then": scored_then.band,
            "band_now": scored_now.band,
        }
    )
    return ChangeExplanation(summary, table)
