-- Every mail hearth sends, kept: delivered over SMTP when configured, otherwise held here
-- (and logged) so nothing is silently dropped. The admin UI shows this outbox.
CREATE TABLE _mails (
    id        TEXT PRIMARY KEY DEFAULT ('r' || lower(hex(randomblob(7)))) NOT NULL,
    recipient TEXT NOT NULL,
    subject   TEXT NOT NULL,
    html      TEXT NOT NULL,
    kind      TEXT DEFAULT '' NOT NULL,
    -- pending (to send), sent, kept (no SMTP configured) or failed
    status    TEXT DEFAULT 'pending' NOT NULL,
    attempts  INTEGER DEFAULT 0 NOT NULL,
    error     TEXT DEFAULT '' NOT NULL,
    created   TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL,
    updated   TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);
CREATE INDEX idx_mails_status ON _mails (status);
CREATE INDEX idx_mails_created ON _mails (created);

-- migrate:down
DROP TABLE _mails;
