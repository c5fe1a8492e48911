-- The system schema: settings, collection definitions and the superusers auth collection.
-- Table and column names follow PocketBase's so the data stays familiar in the sqlite3 shell.

CREATE TABLE _params (
    id      TEXT PRIMARY KEY NOT NULL,
    value   JSON DEFAULT NULL,
    created TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL,
    updated TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);

-- Signs CSRF tokens and other server-side secrets; never leaves the database.
INSERT INTO _params (id, value) VALUES ('hearthSecret', json_quote(lower(hex(randomblob(32)))));

CREATE TABLE _collections (
    id         TEXT PRIMARY KEY DEFAULT ('r' || lower(hex(randomblob(7)))) NOT NULL,
    system     BOOLEAN DEFAULT FALSE NOT NULL,
    type       TEXT DEFAULT 'base' NOT NULL,
    name       TEXT UNIQUE NOT NULL COLLATE NOCASE,
    fields     JSON DEFAULT '[]' NOT NULL,
    indexes    JSON DEFAULT '[]' NOT NULL,
    listRule   TEXT DEFAULT NULL,
    viewRule   TEXT DEFAULT NULL,
    createRule TEXT DEFAULT NULL,
    updateRule TEXT DEFAULT NULL,
    deleteRule TEXT DEFAULT NULL,
    options    JSON DEFAULT '{}' NOT NULL,
    created    TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL,
    updated    TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);
CREATE INDEX idx__collections_type ON _collections (type);

CREATE TABLE _superusers (
    id              TEXT PRIMARY KEY DEFAULT ('r' || lower(hex(randomblob(7)))) NOT NULL,
    password        TEXT DEFAULT '' NOT NULL,
    tokenKey        TEXT DEFAULT '' NOT NULL,
    email           TEXT DEFAULT '' NOT NULL,
    emailVisibility BOOLEAN DEFAULT FALSE NOT NULL,
    verified        BOOLEAN DEFAULT FALSE NOT NULL,
    created         TEXT DEFAULT '' NOT NULL,
    updated         TEXT DEFAULT '' NOT NULL
);
CREATE UNIQUE INDEX idx_tokenKey_pbc_3142635823 ON _superusers (tokenKey);
CREATE UNIQUE INDEX idx_email_pbc_3142635823 ON _superusers (email COLLATE NOCASE) WHERE email != '';

-- Each token kind gets its own random secret, combined with the record's tokenKey when signing.
INSERT INTO _collections (id, system, type, name, fields, indexes, options) VALUES (
    'pbc_3142635823', TRUE, 'auth', '_superusers',
    '[{"autogeneratePattern":"[a-z0-9]{15}","help":"","hidden":false,"id":"text3208210256","max":15,"min":15,"name":"id","pattern":"^[a-z0-9]+$","presentable":false,"primaryKey":true,"required":true,"system":true,"type":"text"},{"cost":0,"help":"","hidden":true,"id":"password901924565","max":0,"min":8,"name":"password","pattern":"","presentable":false,"required":true,"system":true,"type":"password"},{"autogeneratePattern":"[a-zA-Z0-9]{50}","help":"","hidden":true,"id":"text2504183744","max":60,"min":30,"name":"tokenKey","pattern":"","presentable":false,"primaryKey":false,"required":true,"system":true,"type":"text"},{"exceptDomains":[],"help":"","hidden":false,"id":"email3885137012","name":"email","onlyDomains":[],"presentable":false,"required":true,"system":true,"type":"email"},{"help":"","hidden":false,"id":"bool1547992806","name":"emailVisibility","presentable":false,"required":false,"system":true,"type":"bool"},{"help":"","hidden":false,"id":"bool256245529","name":"verified","presentable":false,"required":false,"system":true,"type":"bool"},{"hidden":false,"id":"autodate2990389176","name":"created","onCreate":true,"onUpdate":false,"presentable":false,"system":true,"type":"autodate"},{"hidden":false,"id":"autodate3332085495","name":"updated","onCreate":true,"onUpdate":true,"presentable":false,"system":true,"type":"autodate"}]',
    '["CREATE UNIQUE INDEX `idx_tokenKey_pbc_3142635823` ON `_superusers` (`tokenKey`)", "CREATE UNIQUE INDEX `idx_email_pbc_3142635823` ON `_superusers` (`email`) WHERE `email` != ''''"]',
    json_set('{"authRule":"","manageRule":null,"authAlert":{"enabled":true,"emailTemplate":{"subject":"Login from a new location","body":"<p>Hello,</p>\n<p>We noticed a login to your {APP_NAME} account from a new location:</p>\n<p><em>{ALERT_INFO}</em></p>\n<p><strong>If this wasn''t you, you should immediately change your {APP_NAME} account password to revoke access from all other locations.</strong></p>\n<p>If this was you, you may disregard this email.</p>\n<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>"}},"oauth2":{"providers":[],"mappedFields":{"id":"","name":"","username":"","avatarURL":""},"enabled":false},"passwordAuth":{"enabled":true,"identityFields":["email"]},"mfa":{"enabled":false,"duration":600,"rule":""},"otp":{"enabled":false,"duration":180,"length":8,"emailTemplate":{"subject":"OTP for {APP_NAME}","body":"<p>Hello,</p>\n<p>Your one-time password is: <strong>{OTP}</strong></p>\n<p><i>If you didn''t ask for the one-time password, you can ignore this email.</i></p>\n<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>"}},"authToken":{"duration":86400},"passwordResetToken":{"duration":1800},"emailChangeToken":{"duration":1800},"verificationToken":{"duration":86400},"fileToken":{"duration":180},"verificationTemplate":{"subject":"Verify your {APP_NAME} email","body":"<p>Hello,</p>\n<p>Thank you for joining us at {APP_NAME}.</p>\n<p>Click on the button below to verify your email address.</p>\n<p>\n  <a class=\"btn\" href=\"{APP_URL}/_/#/auth/confirm-verification/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Verify</a>\n</p>\n<p><i>If you didn''t recently register, please ignore this email.</i></p>\n<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>"},"resetPasswordTemplate":{"subject":"Reset your {APP_NAME} password","body":"<p>Hello,</p>\n<p>Click on the button below to reset your password.</p>\n<p>\n  <a class=\"btn\" href=\"{APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Reset password</a>\n</p>\n<p><i>If you didn''t ask to reset your password, please ignore this email.</i></p>\n<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>"},"confirmEmailChangeTemplate":{"subject":"Confirm your {APP_NAME} new email address","body":"<p>Hello,</p>\n<p>Click on the button below to confirm your new email address.</p>\n<p>\n  <a class=\"btn\" href=\"{APP_URL}/_/#/auth/confirm-email-change/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Confirm new email</a>\n</p>\n<p><i>If you didn''t ask to change your email address, please ignore this email.</i></p>\n<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>"}}',
        '$.authToken.secret', lower(hex(randomblob(25))),
        '$.passwordResetToken.secret', lower(hex(randomblob(25))),
        '$.emailChangeToken.secret', lower(hex(randomblob(25))),
        '$.verificationToken.secret', lower(hex(randomblob(25))),
        '$.fileToken.secret', lower(hex(randomblob(25))))
);

-- migrate:down
DROP TABLE _superusers;
DROP TABLE _collections;
DROP TABLE _params;
