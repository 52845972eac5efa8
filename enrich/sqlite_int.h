/*
 * sqlite_int: what enrich/'s SQLite stores (relationship state,
 * conversations) share: opening and locking the file, running a commit
 * in one transaction, and the small statement helpers. Private to enrich/.
 *
 * Thread: the caller's (each store has one owner).
 */
#ifndef HARK_SQLITE_INT_H
#define HARK_SQLITE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "hark/common.h"

/*
 * "path: what: reason" into errbuf, saying plainly when the file is locked
 * by another process or damaged (`state` names it: "relationship",
 * "conversation"). `db` may be NULL (out of memory).
 */
void hark_sqlite_errmsg(char *errbuf, size_t errbuf_len, const char *path,
                        const char *what, sqlite3 *db, const char *state);

/*
 * Opens or creates `path` (WAL, locking_mode=EXCLUSIVE, synchronous=FULL),
 * takes the exclusive lock, runs `schema_sql` in a transaction and checks
 * meta.schema_version against `schema_version`.
 *
 * *db is set whenever SQLite returned a handle, on failure too: the caller
 * closes it (sqlite3_close) as it closes the rest of its store. Failure:
 * HARK_EIO and `errbuf` says why (hark_sqlite_errmsg, `state` names the
 * state).
 */
HARK_MUST_CHECK hark_err_t hark_sqlite_open(const char *path,
                                            const char *schema_sql,
                                            int schema_version,
                                            const char *state, sqlite3 **db,
                                            char *errbuf, size_t errbuf_len);

/* Writes inside the open transaction; NULL, or what failed (for the
 * message). */
typedef const char *hark_sqlite_write_fn(void *opaque);

/*
 * BEGIN IMMEDIATE, write(opaque), COMMIT. Failure: HARK_EIO, the
 * transaction rolled back, `errbuf` says what failed.
 */
HARK_MUST_CHECK hark_err_t hark_sqlite_commit(sqlite3 *db, const char *path,
                                              const char *state,
                                              hark_sqlite_write_fn *write,
                                              void *opaque, char *errbuf,
                                              size_t errbuf_len);

/* sqlite3_exec without a callback; the SQLite result code. */
int hark_sqlite_exec(sqlite3 *db, const char *sql);

/* Prepares a statement kept until close; true on success. */
bool hark_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);

/* Steps a bound statement once, resets it and clears its bindings;
 * SQLITE_DONE on success. */
int hark_sqlite_run(sqlite3_stmt *s);

#endif /* HARK_SQLITE_INT_H */
