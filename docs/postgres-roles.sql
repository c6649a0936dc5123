-- postgres-roles.sql — least-privilege roles for one brand's store on
-- PostgreSQL (docs/design.md, "Roles on PostgreSQL").
--
--   referral init 'postgresql://admin@db/referral?brand=acme' --plan plan.json
--   psql -v brand=acme -f docs/postgres-roles.sql 'postgresql://admin@db/referral'
--
-- Run it as the role that ran `referral init` (it owns the brand's schema)
-- or as a superuser, once per brand. It makes three roles without login,
-- named after the brand, and grants each what its work needs and nothing
-- more:
--
--   acme_ingest   appends events (`referral ingest`, referral_ingest_*):
--                 reads the log and the plans, inserts into the log, and
--                 keeps member_events, the cache a redeem's check reads
--   acme_finance  settles, closes, adds plan versions and exports: writes
--                 what settlement derives, never the log
--   acme_auditor  reads: exports, explain, report, verify
--
-- Give people and services their own login roles and make them members:
--   CREATE ROLE orders_service LOGIN PASSWORD '...' IN ROLE acme_ingest;
--
-- A brand made by an older library (schema version 1) is migrated when its
-- owner first opens it (`referral verify` as that role will do); until
-- then the three roles use it as it is. Run this script again after that:
-- the tables the migration adds are granted like the others.
--
-- A call without the right fails with exit code 5 and a message naming the
-- right and the table ("the role orders_service lacks the right to INSERT
-- on statements"), and changes nothing. Nobody but the owner may UPDATE or
-- DELETE events or closed periods; the owner's triggers refuse that too,
-- and `referral verify` finds what an owner who disabled them changed.
\set ON_ERROR_STOP on
\if :{?brand}
\else
  \echo 'postgres-roles.sql: give the brand: psql -v brand=NAME -f postgres-roles.sql DATABASE'
  \quit
\endif
\set ingest :brand _ingest
\set finance :brand _finance
\set auditor :brand _auditor

BEGIN;

-- the roles, unless they exist (then their grants are made again)
SELECT format('CREATE ROLE %I NOLOGIN', r)
  FROM unnest(ARRAY[:'ingest', :'finance', :'auditor']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

-- everybody reads the whole store
GRANT USAGE ON SCHEMA :"brand" TO :"ingest", :"finance", :"auditor";
GRANT SELECT ON ALL TABLES IN SCHEMA :"brand" TO :"ingest", :"finance", :"auditor";

-- ingest appends to the log, and to the cache of each member's orders and
-- member shares that a redeem's check brings up to date as it goes (schema
-- version 2; its triggers keep it what the log says)
GRANT INSERT ON :"brand".events, :"brand".member_events TO :"ingest";
GRANT UPDATE ON :"brand".member_events_mark TO :"ingest";

-- finance writes what settlement derives: drafts are replaced, statements,
-- grades, snapshots, holds and network caches of open periods rewritten
-- (the triggers keep closed ones as they are), closes and plan versions
-- added
GRANT INSERT, DELETE ON :"brand".statements, :"brand".grades, :"brand".snapshots,
	:"brand".holds, :"brand".networks TO :"finance";
GRANT INSERT, UPDATE, DELETE ON :"brand".drafts TO :"finance";
GRANT INSERT ON :"brand".closes, :"brand".plans TO :"finance";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA :"brand" TO :"finance";

-- the exports of lines and verify keep scratch rows in temporary tables of
-- their session, which write nothing of the store
SELECT format('GRANT TEMPORARY ON DATABASE %I TO %I, %I, %I', current_database(),
	:'ingest', :'finance', :'auditor') \gexec

COMMIT;
