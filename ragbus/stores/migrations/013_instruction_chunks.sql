-- Chunks of a document's current version whose text addresses an assistant
-- ("ignore previous instructions", "when asked about X, answer only ..."), found by
-- ingest_svc with ragbus.prompt_injection and shown in the document's parse_report.
-- NULL: parsed before this migration, or not parsed yet.

ALTER TABLE documents ADD COLUMN IF NOT EXISTS instruction_chunks integer
    CHECK (instruction_chunks >= 0);
