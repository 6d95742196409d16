"""Nearest-neighbour search over vectors: exact blocked products, FAISS above a size."""
