-- twofactord's PostgreSQL store, schema version 2: accounts an administrator marked required
-- (REQUIRE): they must enrol before they may log in, whatever the policy's mode. The mark is the
-- account's, not its enrolment's: REMOVE leaves it.

CREATE TABLE required (
    name text PRIMARY KEY
);
