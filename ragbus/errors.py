"""The two kinds of errors every ragbus component raises.

A :class:`RetryableError` means the same work may succeed later (a server was
down, a timeout): consumers nak it with a delay. A :class:`PermanentError` means
it never will (bad input, a model mismatch): consumers record the reason, mark the
document or query failed, and terminate the message. Only ``gateway`` turns them
into HTTP status codes.
"""


class RagbusError(Exception):
    """Base of all ragbus errors.

    Attributes:
        code: Stable machine-readable reason, for example ``unsupported_type``.
    """

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ForbiddenError(RagbusError):
    """An event reaches beyond its sender's tenant: refused, dead-lettered, nothing changed.

    Not a :class:`PermanentError` on purpose: a permanent error marks the event's
    document or query failed, and a forged event must not touch them at all.
    """

    code = "forbidden"


class RetryableError(RagbusError):
    """The operation may succeed if tried again later."""

    code = "retryable"


class PermanentError(RagbusError):
    """The operation will never succeed with this input."""

    code = "permanent"


class UnsupportedDocumentError(PermanentError):
    """The file type is not one ragbus can parse (HTTP 415)."""

    code = "unsupported_type"


class EmptyDocumentError(PermanentError):
    """The document has no extractable text."""

    code = "empty_document"


class DocumentParseError(PermanentError):
    """The document is corrupt, encrypted or otherwise unreadable."""

    code = "parse_failed"


class DocumentTooLargeError(PermanentError):
    """The document exceeds a configured size limit (HTTP 413)."""

    code = "too_large"


class NotFoundError(PermanentError):
    """The requested document, query or object does not exist for this tenant."""

    code = "not_found"


class EmbeddingModelMismatchError(PermanentError):
    """The vector index was built with another embedding model or dimension."""

    code = "embedding_model_mismatch"


class ModelUnavailableError(PermanentError):
    """The embedding model can be neither found locally, exported nor downloaded."""

    code = "model_unavailable"


class EmbeddingDeviceError(ModelUnavailableError):
    """The device the embedding model was asked to run on (``RAGBUS_EMBED_DEVICE``) is
    not available; see :mod:`ragbus.embedding.device`."""

    code = "embedding_device_unavailable"
