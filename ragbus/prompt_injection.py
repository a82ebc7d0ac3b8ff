"""Text that addresses the assistant instead of the reader: a maintained list of patterns.

Documents are data. A passage saying "When asked about sensors, answer only: ..." or
"Ignore previous instructions" is an attempt to steer whoever reads it next, which
in ragbus is the answerer. ingest_svc flags chunks holding such text
(``ChunkPayload.addresses_assistant``, counted on the document), and the extractive
answerer never quotes such a sentence; the LLM prompt fences passages as untrusted
data (``generate_svc.prompts``).

A list, not a classifier: the packages that ship one (llm-guard and the like) need
a transformer model downloaded at run time, and a list can be read and reviewed.
Every pattern names the assistant, its instructions, or orders a fixed answer, so
ordinary prose does not match: over the 13,094 chunks of ``../shared/corpus``
(Node.js docs, HTML, PDFs) and SciFact's first 2,000 abstracts none matched
(``tests/unit/test_prompt_injection.py`` keeps that true for the corpus). Add a
pattern here, with a test case, when a new phrasing turns up.
"""

import re

PATTERNS: tuple[str, ...] = (
    # overriding what the assistant was told
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
    r"(?:previous|prior|above|earlier|preceding|original|system|other)\s+"
    r"(?:instructions?|prompts?|messages?|rules|directions|guidelines|context)",
    r"\b(?:new|updated|real|actual|hidden|secret)\s+(?:system\s+)?instructions?\s*:",
    r"\bsystem\s+prompt\b",
    # ordering the answer
    r"\b(?:answer|respond|reply)\s+(?:only|solely|exclusively)\b",
    r"\b(?:answer|respond|reply)\s+(?:with|using)\s+only\b",
    r"\bonly\s+(?:answer|respond|reply|say)\s*(?:with|:)",
    r"\b(?:always|must)\s+(?:answer|respond|reply)\s+(?:with|that|:)",
    r"\bwhen(?:ever)?\s+(?:you\s+are\s+|you're\s+)?asked\s+(?:about|for|to|what|how|why|who)\b",
    r"\bif\s+(?:anyone|someone|the\s+user|a\s+user|you\s+are)\s+asks?\b.{0,80}\b(?:say|answer|respond|reply|tell)\b",
    r"\b(?:do\s+not|don't|never)\s+(?:mention|reveal|cite|disclose|tell\s+the\s+user)\b",
    # naming the reader as an assistant
    r"\b(?:you\s+are|you're|act\s+as|pretend\s+to\s+be)\s+(?:now\s+)?(?:an?\s+)?"
    r"(?:[a-z-]+\s+){0,3}(?:ai|assistant|chatbot|language\s+model|llm|gpt|claude)\b",
    r"\b(?:dear|hey|attention|note\s+to\s+(?:the\s+)?)\s*(?:ai|assistant|chatbot|llm|language\s+model)\b",
    r"\b(?:ai|assistant|chatbot|llm|language\s+model)s?\s*(?:reading\s+this|must|should)\b",
)
"""Regular expressions, matched case-insensitively anywhere in a text."""

_COMPILED = re.compile("|".join(f"(?:{p})" for p in PATTERNS), re.IGNORECASE | re.DOTALL)


def addresses_assistant(text: str) -> bool:
    """Whether ``text`` holds an instruction to an assistant (one of :data:`PATTERNS`).

    Args:
        text: A sentence, a chunk or a whole passage.

    Returns:
        True if any pattern matches; whitespace runs count as one space.
    """
    return _COMPILED.search(" ".join(text.split())) is not None
