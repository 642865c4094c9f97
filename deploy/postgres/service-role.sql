-- One database role per service, with rights on its own schema only (docs/security.md,
-- "Transport and database roles"). Run once per service, as the database's owner:
--
--   psql -v ON_ERROR_STOP=1 -d hotro -v role=hotro_intake -v schema=intake \
--        -v password_file=/run/secrets/pg-intake-password -f service-role.sql
--
-- The password is read from its file here (never a command-line argument or a URL).
-- compose runs it for the four services from init-roles.sh on a fresh volume.

\set password `cat :'password_file'`

-- a login that can do nothing by itself: no superuser, no new databases or roles
CREATE ROLE :"role" LOGIN PASSWORD :'password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- its schema, owned by it: the tables eventsourcing creates at start are its own, and no
-- other service role has USAGE on it (nothing is granted to PUBLIC)
CREATE SCHEMA :"schema" AUTHORIZATION :"role";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
ALTER ROLE :"role" SET search_path = :"schema";

-- nothing elsewhere: no objects in public (PostgreSQL 15's default, made explicit for older
-- servers), no new schemas, no temporary tables
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT current_database() AS db \gset
REVOKE CREATE, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"role";
