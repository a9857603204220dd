"""The account forest a re-scoring step rolls up: trees and ancestors."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from vitals.serving.ingest.forest import Forest


def tree(pairs: list[tuple[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["account_id", "parent_id"])


def test_an_account_shares_its_tree_with_everyone_below_its_root() -> None:
    forest = Forest.of(
        tree([("P", None), ("B1", "P"), ("D1", "B1"), ("B2", "P"), ("Q", None), ("C", "Q")])
    )

    assert forest.same_trees(["D1"]) == {"P", "B1", "D1", "B2"}
    assert forest.same_trees(["C", "B2"]) == {"P", "B1", "D1", "B2", "Q", "C"}
    assert forest.ancestors(["D1", "C"]) == {"B1", "P", "Q"}
    assert forest.ancestors(["P"]) == set()
    assert forest.same_trees(["unknown"]) == set()


@given(st.lists(st.integers(min_value=-1, max_value=11), min_size=1, max_size=12))
def test_trees_and_ancestors_follow_the_parent_links(parents: list[int]) -> None:
    # account i's parent is an earlier account (or none): a forest without cycles
    pairs = [(f"A{i}", f"A{p % i}" if i and p >= 0 else None) for i, p in enumerate(parents)]
    forest = Forest.of(tree(pairs))
    up = dict(pairs)

    def chain(account: str) -> list[str]:
        found = []
        while (account := up[account]) is not None:
            found.append(account)
        return found

    for account, _ in pairs:
        top = ([account, *chain(account)])[-1]
        assert forest.ancestors([account]) == set(chain(account))
        assert forest.same_trees([account]) == {a for a, _ in pairs if top in [a, *chain(a)]}
