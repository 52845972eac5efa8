/*
 * state_fixture: what the enrich/ tests of a SQLite state file share:
 * removing the file with its siblings, and writing a file whole.
 * Included by tests only; static functions, one copy per test.
 */
#ifndef HARK_TEST_STATE_FIXTURE_H
#define HARK_TEST_STATE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Removes dir/db_name and its -wal, -shm and -journal files. */
static void rm_state(const char *dir, const char *db_name)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s%s", dir, db_name, suffixes[i]);
        (void)unlink(path);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

#endif /* HARK_TEST_STATE_FIXTURE_H */
