"""The one interface every nearest-neighbour backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    """Top-k inner-product search over the rows of a matrix of unit vectors."""

    def search(
        self, queries: np.ndarray, k: int, *, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, rows), each (n_queries, k), best first.

        ``mask`` (bool, one per row) restricts the candidates; rows beyond the number of
        candidates are -1 with score -inf.
        """
        ...
