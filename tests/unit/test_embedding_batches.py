"""How ``FastEmbedEmbedder`` groups texts into model calls (``length_batches``)."""

import pytest

from ragbus.embedding.fastembed_embedder import length_batches

pytestmark = pytest.mark.unit


def test_every_index_once_shortest_first() -> None:
    lengths = [250, 12, 256, 40, 13, 251, 41, 11]
    batches = length_batches(lengths, max_size=64)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_lengths_far_apart_go_to_different_calls() -> None:
    lengths = [250, 12, 256, 40, 13, 251, 41, 11]
    batches = length_batches(lengths, max_size=64)
    assert [[lengths[i] for i in batch] for batch in batches] == [
        [11, 12, 13],
        [40, 41],
        [250, 251, 256],
    ]


def test_a_call_holds_at_most_max_size_texts() -> None:
    batches = length_batches([100] * 10, max_size=4)
    assert [len(batch) for batch in batches] == [4, 4, 2]


def test_no_texts_no_calls() -> None:
    assert length_batches([], max_size=64) == []
