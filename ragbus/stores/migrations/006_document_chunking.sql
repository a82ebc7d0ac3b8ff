-- The chunking strategy each document's current version was enqueued with, so a
-- document re-published by the sweeper (or re-run from its blob) is chunked the
-- way its upload asked, not by the deployment default. NULL: none was chosen.

ALTER TABLE documents ADD COLUMN IF NOT EXISTS chunking text
    CHECK (chunking IN ('token_window', 'structure', 'sentence'));
