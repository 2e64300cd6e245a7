-- twofactord's PostgreSQL store, schema version 1. Applied by the daemon at start, inside one
-- transaction under an advisory lock (PostgresStore.migrate); never edit a released file: add
-- V2__... instead. Secrets are sealed with the master key exactly as in the MapDB store (the user
-- name is the associated data); the database never sees the key, only its check value in meta.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE users (
    name          text PRIMARY KEY,
    sealed_secret bytea    NOT NULL,
    generation    integer  NOT NULL,
    last_step     bigint   NOT NULL,
    failures      integer  NOT NULL,
    lockout_level integer  NOT NULL,
    locked_until  bigint   NOT NULL,
    enrolled_at   bigint   NOT NULL,
    last_used_at  bigint   NOT NULL,
    backup_hashes bytea    NOT NULL,
    backup_used   integer  NOT NULL
);

CREATE TABLE pending (
    name          text PRIMARY KEY,
    sealed_secret bytea  NOT NULL,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL
);
