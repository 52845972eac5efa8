#include "sqlite_int.h"

#include <inttypes.h>
#include <stdio.h>

void hark_sqlite_errmsg(char *errbuf, size_t errbuf_len, const char *path,
                        const char *what, sqlite3 *db, const char *state)
{
    if (!errbuf || errbuf_len == 0) {
        return;
    }
    int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
        (void)snprintf(errbuf, errbuf_len,
                       "%s: %s: the file is locked by another process (is "
                       "another hark running with the same state_dir?)",
                       path, what);
    } else if ((code & 0xff) == SQLITE_NOTADB ||
               (code & 0xff) == SQLITE_CORRUPT) {
        (void)snprintf(errbuf, errbuf_len,
                       "%s: %s: %s (the %s state is damaged; move the file "
                       "away to start with empty state)",
                       path, what, msg, state);
    } else {
        (void)snprintf(errbuf, errbuf_len, "%s: %s: %s", path, what, msg);
    }
}

int hark_sqlite_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

bool hark_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
                              NULL) == SQLITE_OK;
}

int hark_sqlite_run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static hark_err_t check_version(sqlite3 *db, const char *path,
                                int schema_version, const char *state,
                                char *errbuf, size_t errbuf_len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT value FROM meta WHERE key = "
                           "'schema_version'",
                           -1, &s, NULL) != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, path,
                           "read the schema version", db, state);
        return HARK_EIO;
    }
    hark_err_t err = HARK_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s, 0);
        if (v != schema_version) {
            (void)snprintf(errbuf, errbuf_len,
                           "%s: schema version %" PRId64 " is not %d "
                           "(written by another version of hark)",
                           path, v, schema_version);
            err = HARK_EIO;
        }
    }
    sqlite3_finalize(s);
    return err;
}

hark_err_t hark_sqlite_open(const char *path, const char *schema_sql,
                            int schema_version, const char *state,
                            sqlite3 **db, char *errbuf, size_t errbuf_len)
{
    const char *what = "open";
    if (sqlite3_open_v2(path, db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        goto fail;
    }
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, 200);
    /* Exclusive locking first: WAL then needs no shared memory, and the
     * BEGIN IMMEDIATE below takes the lock we keep until close. */
    what = "lock";
    if (hark_sqlite_exec(*db, "PRAGMA locking_mode=EXCLUSIVE") != SQLITE_OK) {
        goto fail;
    }
    what = "read the database";
    if (hark_sqlite_exec(*db, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        hark_sqlite_exec(*db, "PRAGMA synchronous=FULL") != SQLITE_OK) {
        goto fail;
    }
    what = "lock";
    if (hark_sqlite_exec(*db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        goto fail;
    }
    what = "create the schema";
    if (hark_sqlite_exec(*db, schema_sql) != SQLITE_OK) {
        goto fail_rollback;
    }
    what = "commit the schema";
    if (hark_sqlite_exec(*db, "COMMIT") != SQLITE_OK) {
        goto fail_rollback;
    }
    return check_version(*db, path, schema_version, state, errbuf,
                         errbuf_len);

fail_rollback:
    hark_sqlite_errmsg(errbuf, errbuf_len, path, what, *db, state);
    (void)hark_sqlite_exec(*db, "ROLLBACK");
    return HARK_EIO;
fail:
    hark_sqlite_errmsg(errbuf, errbuf_len, path, what, *db, state);
    return HARK_EIO;
}

hark_err_t hark_sqlite_commit(sqlite3 *db, const char *path,
                              const char *state, hark_sqlite_write_fn *write,
                              void *opaque, char *errbuf, size_t errbuf_len)
{
    if (hark_sqlite_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, path, "begin a transaction",
                           db, state);
        return HARK_EIO;
    }
    const char *what = write(opaque);
    if (!what && hark_sqlite_exec(db, "COMMIT") != SQLITE_OK) {
        what = "commit";
    }
    if (what) {
        hark_sqlite_errmsg(errbuf, errbuf_len, path, what, db, state);
        if (!sqlite3_get_autocommit(db)) {
            (void)hark_sqlite_exec(db, "ROLLBACK");
        }
        return HARK_EIO;
    }
    return HARK_OK;
}
