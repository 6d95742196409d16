"""Persistence: the catalog database, vector files, score tables and the SQL engine.

Only this package imports SQLAlchemy, DuckDB and pyarrow.
"""

from tagscope.store.catalog import Catalog
from tagscope.store.vectors import VectorStore
from tagscope.store.workspace import WorkspacePaths

__all__ = ["Catalog", "VectorStore", "WorkspacePaths"]
