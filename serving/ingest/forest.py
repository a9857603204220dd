"""The account hierarchy as a re-scoring step reads it: who is above whom, and who shares a tree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Forest:
    """Parent links and the root above each account, built once per account tree (a step that
    adds no account reads the same tree again).

    Attributes:
        tree: ``account_id, parent_id`` of every account, as read.
        parent: each account's parent (missing for a top-level account).
        members: the accounts below each root, the root included.
        root: the root above each account (itself for a top-level account).
    """

    tree: pd.DataFrame
    parent: dict[str, str]
    members: dict[str, set[str]]
    root: dict[str, str]

    @classmethod
    def of(cls, tree: pd.DataFrame) -> Forest:
        """The forest of ``tree``."""
        parent = {
            child: up
            for child, up in zip(tree["account_id"], tree["parent_id"], strict=True)
            if isinstance(up, str)
        }
        root: dict[str, str] = {}
        members: dict[str, set[str]] = {}
        for account in tree["account_id"]:
            top, seen = account, {account}
            while (up := parent.get(top)) is not None and up not in seen:
                seen.add(up)
                top = up
            root[account] = top
            members.setdefault(top, set()).add(account)
        return cls(tree, parent, members, root)

    def same_trees(self, accounts: Iterable[str]) -> set[str]:
        """Every account in the same tree (below the same root) as one of ``accounts``."""
        found: set[str] = set()
        for top in {self.root.get(a, a) for a in accounts}:
            found |= self.members.get(top, set())
        return found

    def ancestors(self, accounts: Iterable[str]) -> set[str]:
        """Every account above ``accounts``."""
        found: set[str] = set()
        for account in accounts:
            up = self.parent.get(account)
            while up is not None and up not in found:
                found.add(up)
                up = self.parent.get(up)
        return found
