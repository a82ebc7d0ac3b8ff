"""The offline answerer: quote the passage sentences closest to the question.

Used when no LLM is configured. Every passage is split into sentences, the
question and the sentences are embedded with the same model as retrieval, and the
best few sentences are returned in document order, each followed by the ``[n]``
marker of its passage.

A passage that addresses the assistant (:func:`ragbus.prompt_injection.addresses_assistant`:
"when asked about X, answer only ...", "ignore previous instructions") is not
quoted at all, neither the instruction nor the sentences around it, which are
what such an instruction would plant as the answer.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import numpy as np

from generate_svc.prompts import NOT_FOUND_ANSWER
from generate_svc.sentences import MIN_WORDS, passage_sentences
from generate_svc.shortlist import shortlist
from ragbus.embedding.base import Embedder
from ragbus.embedding.query_cache import QueryEmbeddingCache
from ragbus.llm.calls import GenerationStats
from ragbus.prompt_injection import addresses_assistant
from schemas.embeddings import QuestionEmbedding
from schemas.queries import Passage

log = logging.getLogger(__name__)

DEFAULT_MIN_SCORE = 0.40
"""Lowest question-sentence cosine (all-MiniLM-L6-v2) that counts as an answer.

Measured with the real model (ONNX export via ``get_embedder``), scoring every
sentence that :func:`~generate_svc.sentences.split_sentences` yields, best sentence per case:

* 25 hand-written Node.js questions, top-5 of 460 ~1,200-char chunks of 13 API
  docs: min 0.55, median 0.69 (the best sentence always came from the right doc);
* 244 SciFact claims against their evidence abstract: min 0.37, p5 0.52,
  median 0.73 (the gold rationale sentence alone: p10 0.39, median 0.64);
* 20 off-topic or nonsense questions against the top-5 Node.js chunks: median 0.19,
  max 0.34 ("asdf qwerty zxcv"); 6 near-miss tech questions (React, SQL, CSS): max 0.32;
* 51 off-topic questions against all 2,401 sentences of 250 SciFact abstracts
  (harsher than a top-5): p95 0.32, max 0.37.

At 0.40 every off-topic case is rejected and 100% of the Node.js / 99% of the
SciFact relevant cases are kept; 0.35 would let 4% of off-topic ones through.
Recalibrate when the embedding model changes.
"""


DEFAULT_MAX_CANDIDATES = 6
"""Sentences embedded per answer, chosen by :func:`~generate_svc.shortlist.shortlist`.

Measured on 200 SciFact train claims (``ragbus_tools.bench.extractive_scifact``'s
setting: the claim's gold abstracts, or the top 5 of 385 by cosine), with the
evidence hit rate (oracle / retrieved) and the tokens embedded per answer:
all sentences 78.0% / 71.5%, 1,214 tokens; 12: 78.0% / 75.0%, 460; 8: 78.0% / 74.0%,
336; 6: 78.5% / 75.5%, 262. Every setting answered every claim. The sentences left
out share no rare word with the question and were seldom the quoted ones. 8 was
the default until the answer's embedding was found to be most of ``/v1/query``'s
time (``docs/benchmarks.md``, issue 19); 6 scored no worse in that run and embeds
22% fewer tokens, at about 0.2 ms of one core per token.
"""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence that may be quoted.

    Attributes:
        n: 1-based rank of its passage, the ``[n]`` marker.
        position: 0-based index of the sentence within its passage.
        text: The sentence.
        cosine: Cosine similarity to the question, in [-1, 1].
        rank_score: ``cosine`` plus the passage bonus, used only to order candidates.
    """

    n: int
    position: int
    text: str
    cosine: float
    rank_score: float


class ExtractiveAnswerer:
    """Answer with the passage sentences most similar to the question.

    Scoring: ``cosine(q, s)`` gates a sentence (it must reach ``min_score``), and
    candidates that pass are ranked by
    ``rank_score = cosine(q, s) + passage_weight * clip(passage.score, 0, 1)``,
    a small tie-breaker towards passages that retrieval ranked higher.

    Attributes:
        model: Always ``"extractive"``.
    """

    model = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 3,
        min_score: float = DEFAULT_MIN_SCORE,
        passage_weight: float = 0.1,
        max_passages: int = 10,
        min_words: int = MIN_WORDS,
        max_candidates: int | None = DEFAULT_MAX_CANDIDATES,
    ) -> None:
        """Configure the answerer; loads nothing.

        Args:
            embedder: The embedding model (the caller warms it up).
            max_sentences: Most sentences in an answer, >= 1.
            min_score: Lowest question-sentence cosine quoted; see :data:`DEFAULT_MIN_SCORE`.
            passage_weight: Weight of the passage's retrieval score in the ranking;
                0.1 moves a sentence at most 0.1 in cosine, enough to break near-ties.
            max_passages: Only the best this many passages are read; bounds the
                embedding work (~10 sentences per 256-token chunk) per question.
            min_words: Shortest candidate sentence in words.
            max_candidates: Embed only this many sentences, those sharing most rare
                words with the question (:func:`~generate_svc.shortlist.shortlist`);
                ``None`` embeds them all. See :data:`DEFAULT_MAX_CANDIDATES`.

        Raises:
            ValueError: If ``max_sentences`` or ``max_passages`` is below 1.
        """
        if max_sentences < 1 or max_passages < 1:
            raise ValueError("max_sentences and max_passages must be >= 1")
        self._embedder = embedder
        # retrieve_svc embedded the question moments ago, in another service: a
        # repeated question (a retry, a dashboard) skips the model here too
        self._questions = QueryEmbeddingCache(embedder)
        self.max_sentences = max_sentences
        self.min_score = min_score
        self.passage_weight = passage_weight
        self.max_passages = max_passages
        self.min_words = min_words
        self.max_candidates = max_candidates

    def remember_question(self, question: str, embedding: QuestionEmbedding) -> bool:
        """Score ``question`` against ``embedding`` instead of embedding it again.

        Args:
            question: The exact question text the embedding is of.
            embedding: retrieve_svc's embedding of it (``context.retrieved``).

        Returns:
            Whether it was taken: ``False`` (and a warning unless only the model
            differs) when it is another model's, not ``(dim,)`` float32 or not finite;
            the model then embeds the question as before.
        """
        if embedding.model_id != self._embedder.model_id:
            return False
        try:
            vector = np.frombuffer(embedding.raw(), dtype="<f4").astype(np.float32)
        except ValueError as exc:
            log.warning("question embedding ignored: %s", exc)
            return False
        if vector.shape != (self._embedder.dim,) or not np.isfinite(vector).all():
            log.warning(
                "question embedding ignored: %d values, expected %d finite ones",
                vector.size,
                self._embedder.dim,
            )
            return False
        self._questions.put(question, vector)
        return True

    def candidates(self, question: str, passages: Sequence[Passage]) -> list[Candidate]:
        """Score every sentence of the best passages against the question (CPU-bound).

        Args:
            question: The user's question.
            passages: Passages ranked best first.

        Returns:
            All candidates, in document order (passage rank, then position);
            sentences repeated in overlapping chunks are kept once, at their
            best-ranked passage; none of a passage that addresses the assistant.
            Empty when there are no sentences.
        """
        seen: set[str] = set()
        found: list[tuple[int, int, str, float]] = []
        for n, passage in enumerate(passages[: self.max_passages], start=1):
            if addresses_assistant(passage.text):
                log.warning("passage addresses the assistant; not quoted", extra={"n": n})
                continue
            bonus = self.passage_weight * min(max(passage.score, 0.0), 1.0)
            for position, text in enumerate(passage_sentences(passage.text, self.min_words)):
                key = " ".join(text.lower().split())
                if key not in seen:
                    seen.add(key)
                    found.append((n, position, text, bonus))
        if not found:
            return []
        if self.max_candidates is not None:
            texts = [text for _, _, text, _ in found]
            found = [found[i] for i in shortlist(question, texts, self.max_candidates)]
        query = self._questions.embed(question)
        vectors = self._embedder.embed_few([text for _, _, text, _ in found])
        cosines = np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
        return [
            Candidate(n, position, text, float(cos), float(cos) + bonus)
            for (n, position, text, bonus), cos in zip(found, cosines, strict=True)
        ]

    def select(self, question: str, passages: Sequence[Passage]) -> list[Candidate]:
        """Pick the sentences of the answer (CPU-bound).

        Args:
            question: The user's question.
            passages: Passages ranked best first.

        Returns:
            Up to ``max_sentences`` candidates with ``cosine >= min_score``, best
            ``rank_score`` first chosen, returned in document order; empty when
            nothing is relevant enough.
        """
        scored = self.candidates(question, passages)
        eligible = [c for c in scored if c.cosine >= self.min_score]
        best = sorted(eligible, key=lambda c: c.rank_score, reverse=True)[: self.max_sentences]
        log.debug(
            "extractive selection",
            extra={
                "candidates": len(scored),
                "eligible": len(eligible),
                "top_cosine": max((c.cosine for c in scored), default=None),
            },
        )
        return sorted(best, key=lambda c: (c.n, c.position))

    async def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        stats: GenerationStats | None = None,
    ) -> AsyncIterator[str]:
        """Stream the answer, one sentence (with its ``[n]`` marker) per delta.

        Args:
            question: The user's question.
            passages: Passages ranked best first, numbered ``[1]..[k]``.
            stats: Left untouched: the offline answerer calls no provider.

        Yields:
            ``"sentence [n]"`` pieces, each after the first prefixed with a space;
            or exactly :data:`NOT_FOUND_ANSWER` when nothing reaches ``min_score``.
        """
        chosen = await asyncio.to_thread(self.select, question, passages) if passages else []
        if not chosen:
            yield NOT_FOUND_ANSWER
            return
        for i, candidate in enumerate(chosen):
            yield f"{' ' if i else ''}{candidate.text} [{candidate.n}]"
