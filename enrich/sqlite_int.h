/*
 * sqlite_int: what enrich/'s SQLite stores (relationship state,
 * conversations) share. Private to enrich/.
 *
 * Thread: the caller's (each store has one owner).
 */
#ifndef HARK_SQLITE_INT_H
#define HARK_SQLITE_INT_H

#include <stddef.h>

#include <sqlite3.h>

/*
 * "path: what: reason" into errbuf, saying plainly when the file is locked
 * by another process or damaged (`state` names it: "relationship",
 * "conversation"). `db` may be NULL (out of memory).
 */
void hark_sqlite_errmsg(char *errbuf, size_t errbuf_len, const char *path,
                        const char *what, sqlite3 *db, const char *state);

#endif /* HARK_SQLITE_INT_H */
