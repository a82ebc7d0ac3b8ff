-- Conversations, and what a query needs to be a conversation turn, a resumable
-- stream and a priced LLM call.

CREATE TABLE conversations (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    user_id    text,                      -- the creator; null when anonymous
    title      text,
    visibility text        NOT NULL DEFAULT 'private'
        CHECK (visibility IN ('private', 'tenant')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX conversations_tenant_updated ON conversations (tenant_id, updated_at DESC);

-- A query in a conversation is one turn: the user's message is `question`, the
-- answer is the assistant's. `standalone_question` is what was retrieved and
-- answered (the follow-up condensed with the history).
ALTER TABLE queries ADD COLUMN conversation_id uuid;
ALTER TABLE queries ADD COLUMN standalone_question text;
-- The streamed pieces by seq (a JSON array of strings), so a client can resume.
ALTER TABLE queries ADD COLUMN deltas jsonb;
ALTER TABLE queries ADD COLUMN confidence double precision;
-- LLM tokens, attempts and cost (schemas.queries.Usage); null offline.
ALTER TABLE queries ADD COLUMN usage jsonb;

CREATE INDEX queries_tenant_conversation ON queries (tenant_id, conversation_id, created_at)
    WHERE conversation_id IS NOT NULL;
