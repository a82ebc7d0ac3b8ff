"""One parser per document format; :mod:`ingest_svc.parsing` picks one by type."""
