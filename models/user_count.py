"""`user_count`: one row that the database keeps equal to `count(*)` of `users`, so that
`UserConnection.totalCount` is exact and O(1) at any size (issue 16), whatever inserts or
deletes users: the ORM, `bulk_create`, COPY, SQL by hand. On PostgreSQL only, where
`count(*)` of a million users takes tens of milliseconds.

It counts per statement (transition tables: a COPY of a million rows is one update, not a
million); `UPDATE ... SET total = total + n` takes the row's lock, so concurrent
registrations queue on it until their commits and none is lost. TRUNCATE of either table
(the suite empties every table between tests) counts again.

The table is no model: only `services/users.py` reads it, and nothing writes it but these
triggers. Migration 0009 creates it from these statements: a change here needs a new
migration that replaces what 0009 made.
"""

POSTGRES = (
    "CREATE TABLE user_count (id SMALLINT PRIMARY KEY CHECK (id = 1), total BIGINT NOT NULL)",
    """CREATE FUNCTION user_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added BIGINT;
BEGIN
    SELECT count(*) INTO added FROM added_users;
    IF added > 0 THEN
        UPDATE user_count SET total = total + added WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$""",
    """CREATE FUNCTION user_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    removed BIGINT;
BEGIN
    SELECT count(*) INTO removed FROM removed_users;
    IF removed > 0 THEN
        UPDATE user_count SET total = total - removed WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$""",
    """CREATE FUNCTION user_count_recounted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_count (id, total) VALUES (1, (SELECT count(*) FROM users))
    ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total;
    RETURN NULL;
END
$$""",
    "CREATE TRIGGER user_count_on_insert AFTER INSERT ON users REFERENCING NEW TABLE AS added_users "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_count_added()",
    "CREATE TRIGGER user_count_on_delete AFTER DELETE ON users REFERENCING OLD TABLE AS removed_users "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_count_removed()",
    "CREATE TRIGGER user_count_on_truncate AFTER TRUNCATE ON users "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_count_recounted()",
    "CREATE TRIGGER user_count_on_own_truncate AFTER TRUNCATE ON user_count "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_count_recounted()",
    # After the triggers: CREATE TRIGGER locks out writers of `users` until this commits.
    "INSERT INTO user_count (id, total) SELECT 1, count(*) FROM users",
)
POSTGRES_REVERSE = (
    "DROP TRIGGER user_count_on_insert ON users",
    "DROP TRIGGER user_count_on_delete ON users",
    "DROP TRIGGER user_count_on_truncate ON users",
    "DROP TABLE user_count",
    "DROP FUNCTION user_count_added()",
    "DROP FUNCTION user_count_removed()",
    "DROP FUNCTION user_count_recounted()",
)

# Per dialect (Tortoise's `capabilities.dialect`): the statements that create it, then those
# that remove it.
USER_COUNT_SQL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "postgres": (POSTGRES, POSTGRES_REVERSE),
    # None: SQLite has row triggers only, and Tortoise's SQLite client reports a statement's
    # rows as the change in `total_changes`, which would count the trigger's updates too (a
    # DELETE of users would report twice its rows). An embedded database counts its users
    # with `count(*)` (8 ms at a million here).
    "sqlite": ((), ()),
}
