"""Which sentences the extractive answerer embeds (generate_svc.shortlist)."""

import pytest

from generate_svc.shortlist import shortlist, terms

pytestmark = pytest.mark.unit

SENTENCES = [
    "Vitamin D deficiency is common in older adults living in northern countries.",  # 0
    "The study enrolled 1,200 participants over five years.",  # 1
    "Supplementation reduced the rate of hip fractures by a third.",  # 2
    "Participants were recruited from twelve clinics.",  # 3
    "Fractures of the hip were rarer among those who took supplements.",  # 4
]


def test_terms_are_stemmed_lower_case_without_stopwords() -> None:
    assert terms("The Regulation of regulated genes, and THE cells") == {"regula", "genes", "cells"}


def test_the_sentences_sharing_rare_question_words_are_kept_in_order() -> None:
    kept = shortlist("Does vitamin D supplementation prevent hip fractures?", SENTENCES, 3)

    assert kept == [0, 2, 4]


def test_all_are_kept_when_there_are_no_more_than_asked() -> None:
    assert shortlist("anything", SENTENCES, 5) == [0, 1, 2, 3, 4]
    assert shortlist("anything", [], 3) == []


def test_without_shared_words_the_best_ranked_passages_come_first() -> None:
    assert shortlist("quantum chromodynamics", SENTENCES, 2) == [0, 1]
