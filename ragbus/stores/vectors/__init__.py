"""The vector store port and its adapters (Qdrant, pgvector)."""

from ragbus.stores.vectors.base import ChunkRecord, ScoredChunk, VectorStore

__all__ = ["ChunkRecord", "ScoredChunk", "VectorStore"]
