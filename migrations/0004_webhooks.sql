-- Webhooks and their durable outbox. A delivery row is written in the same transaction as
-- the record change it reports, so it exists exactly when the change does; the webhook
-- worker posts it, retries failures with backoff and prunes settled rows after a while.
CREATE TABLE _webhooks (
    id         TEXT PRIMARY KEY DEFAULT ('r' || lower(hex(randomblob(7)))) NOT NULL,
    name       TEXT DEFAULT '' NOT NULL,
    -- the collection's id (names may change)
    collection TEXT NOT NULL,
    -- JSON array, a subset of ["create","update","delete"]
    events     JSON DEFAULT '[]' NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT DEFAULT '' NOT NULL,
    active     BOOLEAN DEFAULT TRUE NOT NULL,
    created    TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL,
    updated    TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);
CREATE INDEX idx_webhooks_collection ON _webhooks (collection);

CREATE TABLE _webhook_deliveries (
    id         TEXT PRIMARY KEY NOT NULL,
    webhook    TEXT NOT NULL REFERENCES _webhooks (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    collection TEXT NOT NULL,
    record     TEXT NOT NULL,
    -- the exact body posted (and signed), fixed when the change is written
    payload    TEXT NOT NULL,
    -- pending (to send or retry), delivered or failed (attempts used up)
    status     TEXT DEFAULT 'pending' NOT NULL,
    attempts   INTEGER DEFAULT 0 NOT NULL,
    -- unix milliseconds of the next attempt, while pending
    next_at    INTEGER DEFAULT 0 NOT NULL,
    response   INTEGER DEFAULT 0 NOT NULL,
    error      TEXT DEFAULT '' NOT NULL,
    created    TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL,
    updated    TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);
CREATE INDEX idx_webhook_deliveries_due ON _webhook_deliveries (status, next_at);
CREATE INDEX idx_webhook_deliveries_webhook ON _webhook_deliveries (webhook, created);

-- migrate:down
DROP TABLE _webhook_deliveries;
DROP TABLE _webhooks;
