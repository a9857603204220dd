"""The newest stored feature vector per account, cached for ``POST /v1/predict`` by account id.

Vectors change only when a batch run (``vitals score`` / ``backfill``) writes new ones, yet each
request by id would otherwise read the store. Answers, including "no vector", are kept for
``ttl`` seconds: after a batch run, an account may be scored from its previous vector for that
long (the response's ``features_as_of`` says which one was used).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from cachetools import TTLCache

from vitals.serving.store import HealthStore
from vitals.serving.store.db import store_errors
from vitals.serving.store.features_table import StoredFeatures, read_latest_features

MAX_ACCOUNTS = 200_000  # vectors kept at most (about 2 KB each)


class VectorCache:
    """Stored vectors by account id, read from the store on a miss.

    Args:
        store: the health store.
        ttl: seconds an answer is reused; 0 reads the store on every request.
    """

    def __init__(self, store: HealthStore, ttl: float) -> None:
        self.store = store
        self._cache: TTLCache[str, StoredFeatures | None] | None = (
            TTLCache(MAX_ACCOUNTS, ttl) if ttl > 0 else None
        )
        self._lock = threading.Lock()  # requests by id run in the thread pool

    def newest(self, account_ids: Sequence[str]) -> dict[str, StoredFeatures]:
        """Each account's newest stored vector, for the accounts that have one.

        Raises:
            StoreError: the store cannot be read.
        """
        found: dict[str, StoredFeatures] = {}
        missing: list[str] = []
        if self._cache is None:
            missing = list(account_ids)
        else:
            with self._lock:
                for account in account_ids:
                    if account not in self._cache:
                        missing.append(account)
                    elif (vector := self._cache[account]) is not None:
                        found[account] = vector
        if not missing:
            return found
        engine = self.store.engine  # a plain connection: an ORM session costs more than the query
        with store_errors(engine, "read feature vectors"), engine.connect() as conn:
            read = read_latest_features(conn, missing)
        found.update(read)
        if self._cache is not None:
            with self._lock:
                for account in missing:
                    self._cache[account] = read.get(account)
        return found
