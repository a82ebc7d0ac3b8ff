"""ragbus: retrieval-augmented generation as small event-driven services over NATS."""

__version__ = "0.1.0"
