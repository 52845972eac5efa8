#include "sqlite_int.h"

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
