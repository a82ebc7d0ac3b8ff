-- What parsing left out of a document's current version, shown in its detail:
-- lines dropped as running headers or footers, pages without text, and a warning
-- code when that was most of the document (ingest_svc.parsers.parsed.ParseReport).
-- NULL: parsed before this migration, or not parsed yet.

ALTER TABLE documents ADD COLUMN IF NOT EXISTS running_lines_dropped integer
    CHECK (running_lines_dropped >= 0);
ALTER TABLE documents ADD COLUMN IF NOT EXISTS empty_pages integer CHECK (empty_pages >= 0);
ALTER TABLE documents ADD COLUMN IF NOT EXISTS parse_warning text;
