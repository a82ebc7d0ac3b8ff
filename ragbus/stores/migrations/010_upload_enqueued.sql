-- The version of each document that JetStream has taken (its document.uploaded was
-- acknowledged), so an upload whose enqueue failed is told apart from one in the
-- queue: listings hide a row never enqueued at any version, a retry of the same
-- bytes re-enqueues it, and the sweeper deletes it (row and blob) if nobody does.
-- Every row before this migration was enqueued or is failed.

ALTER TABLE documents ADD COLUMN IF NOT EXISTS enqueued_version integer
    CHECK (enqueued_version >= 1);
UPDATE documents SET enqueued_version = version;
