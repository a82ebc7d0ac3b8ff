"""Which candidate sentences are worth embedding: a lexical shortlist.

Scoring a sentence against the question costs a model call per sentence, and on a
CPU that is most of an extractive answer: five SciFact passages hold about 23
sentences (900 tokens), 150-200 ms of one core for all-MiniLM-L6-v2. The sentences
that share no rare word with the question are rarely the ones quoted, so only the
``keep`` sentences with the most question words (weighted by how rare they are among
the candidates) are embedded.
"""

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+")
STEM_CHARS = 6
"""Words are compared on their first 6 characters: a crude stemmer that makes
"regulates", "regulated" and "regulation" one term (and costs nothing)."""
STOPWORDS = frozenset(
    "the and for are but not you all any can had her was one our out has have him his how "
    "its may new now old see two way who did get let put say she too use that with this "
    "from they will would there their what about which when were been than them then "
    "these those into more most some such only also other over very does each where why "
    "while between after before during through under both same being".split()
)


def terms(text: str) -> set[str]:
    """The text's words of 3 characters or more, lower-cased, stopwords out, cut to
    :data:`STEM_CHARS` characters."""
    return {
        w[:STEM_CHARS] for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS
    }


def shortlist(question: str, sentences: Sequence[str], keep: int) -> list[int]:
    """Indices of the ``keep`` sentences sharing most with the question, in input order.

    A sentence scores the sum over the question terms it contains of
    ``log(1 + n / df)``, where ``df`` counts the candidates holding the term: a word
    in every sentence (the topic of all passages) weighs little, a rare one much.
    Ties go to the earlier sentence (the better-ranked passage).

    Args:
        question: The user's question.
        sentences: The candidates, best-ranked passage first.
        keep: How many to keep; all when there are no more than that.
    """
    if len(sentences) <= keep:
        return list(range(len(sentences)))
    wanted = terms(question)
    found = [terms(s) & wanted for s in sentences]
    df = Counter(t for shared in found for t in shared)
    n = len(sentences)
    scores = [sum(math.log(1 + n / df[t]) for t in shared) for shared in found]
    best = sorted(range(n), key=lambda i: (-scores[i], i))[:keep]
    return sorted(best)
