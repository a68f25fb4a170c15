-- PostgreSQL with two roles, so that the app cannot change or delete its own audit log (NEN 7513).
--
--   referrals_owner  owns the database and its schema; only `flask db upgrade` logs in with it
--                    (MIGRATION_DATABASE_URL).
--   referrals_app    the app, its workers and its other commands (DATABASE_URL): reads and writes
--                    every table, but may only read and add rows to audit_events. Not being the
--                    owner, it cannot ALTER, DISABLE TRIGGER, DROP or TRUNCATE anything either.
--
-- Replace referrals_owner, referrals_app, the database name referrals and the passwords.
-- Neither role may be a superuser: a superuser passes every privilege and trigger.
-- tests/test_audit_append_only.py runs this file, section by section, against a fresh database.

-- 1. Once, as a superuser (psql -U postgres): the roles and the database.
CREATE ROLE referrals_owner LOGIN PASSWORD 'change-me-owner';
CREATE ROLE referrals_app LOGIN PASSWORD 'change-me-app';
CREATE DATABASE referrals OWNER referrals_owner;
REVOKE ALL ON DATABASE referrals FROM PUBLIC;
GRANT CONNECT ON DATABASE referrals TO referrals_app;

-- 2. Once, as a superuser, connected to the new database (psql -U postgres -d referrals).
-- Only the owner creates objects; tables and sequences it creates later give the app role
-- read and write access by default.
ALTER SCHEMA public OWNER TO referrals_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO referrals_app;
ALTER DEFAULT PRIVILEGES FOR ROLE referrals_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO referrals_app;
ALTER DEFAULT PRIVILEGES FOR ROLE referrals_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO referrals_app;

-- 3. After every `flask db upgrade`, as referrals_owner (psql -U referrals_owner -d referrals).
-- With REFERRALS_APP_ROLE=referrals_app set, migrations/env.py runs exactly these statements
-- itself, in the transaction of the migration: a table that a migration creates or rebuilds gets
-- the default privileges of section 2, which include UPDATE and DELETE, so the REVOKE on
-- audit_events must follow every migration.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO referrals_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO referrals_app;
REVOKE ALL ON alembic_version FROM PUBLIC, referrals_app;
GRANT SELECT ON alembic_version TO referrals_app;
REVOKE ALL ON audit_events FROM PUBLIC, referrals_app;
GRANT SELECT, INSERT ON audit_events TO referrals_app;
