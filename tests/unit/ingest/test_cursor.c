#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/cursor_int.h"

static char *tmp_path(void)
{
    char tmpl[] = "/tmp/hark-cursor-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    close(fd);
    unlink(tmpl);
    return strdup(tmpl);
}

static void test_hark_cursor_advance__waits_for_contiguous_prefix(void **state)
{
    (void)state;
    char *path = tmp_path();
    struct hark_cursor c;
    hark_cursor_init(&c, path, 16);
    uint64_t a = hark_cursor_add_post(&c, hark_cursor_post_hash("1", "r"));
    uint64_t b = hark_cursor_add_post(&c, hark_cursor_post_hash("2", "r"));
    hark_cursor_add_marker(&c, "2");
    uint64_t d = hark_cursor_add_post(&c, hark_cursor_post_hash("3", "r"));
    hark_cursor_add_marker(&c, "3");
    /* Out of order: the later posts finish first. */
    hark_cursor_ack(&c, d);
    hark_cursor_ack(&c, b);
    assert_false(hark_cursor_advance(&c));
    assert_null(c.committed);
    hark_cursor_ack(&c, a);
    assert_true(hark_cursor_advance(&c));
    assert_string_equal(c.committed, "3");
    assert_int_equal(c.n_in_flight, 0);
    hark_cursor_cleanup(&c);
    free(path);
}

static void test_hark_cursor_advance__marker_behind_unacked_post(void **state)
{
    (void)state;
    char *path = tmp_path();
    struct hark_cursor c;
    hark_cursor_init(&c, path, 16);
    uint64_t a = hark_cursor_add_post(&c, hark_cursor_post_hash("1", "r"));
    hark_cursor_add_marker(&c, "1");
    uint64_t b = hark_cursor_add_post(&c, hark_cursor_post_hash("2", "r"));
    hark_cursor_add_marker(&c, "2");
    hark_cursor_ack(&c, a);
    assert_true(hark_cursor_advance(&c));
    assert_string_equal(c.committed, "1");
    /* Repeated and unknown acks change nothing. */
    hark_cursor_ack(&c, a);
    hark_cursor_ack(&c, 999);
    assert_false(hark_cursor_advance(&c));
    assert_string_equal(c.committed, "1");
    assert_int_equal(c.n_in_flight, 1);
    hark_cursor_ack(&c, b);
    assert_true(hark_cursor_advance(&c));
    assert_string_equal(c.committed, "2");
    hark_cursor_cleanup(&c);
    free(path);
}

static void test_hark_cursor_seen__in_flight_and_window(void **state)
{
    (void)state;
    char *path = tmp_path();
    struct hark_cursor c;
    hark_cursor_init(&c, path, 2);
    uint64_t h1 = hark_cursor_post_hash("1", "2026-01-01T00:00:00Z");
    uint64_t h1e = hark_cursor_post_hash("1", "2026-01-02T00:00:00Z");
    assert_true(h1 != h1e); /* an edit is a new revision */
    uint64_t s1 = hark_cursor_add_post(&c, h1);
    assert_true(hark_cursor_seen(&c, h1));
    assert_false(hark_cursor_seen(&c, h1e));
    hark_cursor_ack(&c, s1);
    hark_cursor_advance(&c);
    assert_true(hark_cursor_seen(&c, h1));
    /* The window keeps the last 2 committed posts. */
    for (int i = 2; i <= 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        uint64_t s = hark_cursor_add_post(&c, hark_cursor_post_hash(id, "r"));
        hark_cursor_ack(&c, s);
        hark_cursor_advance(&c);
    }
    assert_false(hark_cursor_seen(&c, h1));
    assert_true(hark_cursor_seen(&c, hark_cursor_post_hash("3", "r")));
    hark_cursor_cleanup(&c);
    free(path);
}

static void test_hark_cursor_save__persists_committed_only(void **state)
{
    (void)state;
    char *path = tmp_path();
    char err[256];
    struct hark_cursor c;
    hark_cursor_init(&c, path, 16);
    uint64_t hdone = hark_cursor_post_hash("10", "r");
    uint64_t hflight = hark_cursor_post_hash("11", "r");
    uint64_t a = hark_cursor_add_post(&c, hdone);
    hark_cursor_add_marker(&c, "10\"x");
    hark_cursor_add_post(&c, hflight); /* still in flight at the "crash" */
    hark_cursor_add_marker(&c, "11");
    hark_cursor_ack(&c, a);
    hark_cursor_advance(&c);
    assert_int_equal(hark_cursor_save(&c, err, sizeof(err)), HARK_OK);
    hark_cursor_cleanup(&c);

    hark_cursor_init(&c, path, 16);
    assert_int_equal(hark_cursor_load(&c, err, sizeof(err)), HARK_OK);
    assert_string_equal(c.committed, "10\"x");
    assert_true(hark_cursor_seen(&c, hdone));
    assert_false(hark_cursor_seen(&c, hflight)); /* refetched, not lost */
    hark_cursor_cleanup(&c);
    unlink(path);
    free(path);
}

static void test_hark_cursor_load__missing_and_corrupt(void **state)
{
    (void)state;
    char *path = tmp_path();
    char err[256];
    struct hark_cursor c;
    hark_cursor_init(&c, path, 16);
    assert_int_equal(hark_cursor_load(&c, err, sizeof(err)), HARK_OK);
    assert_null(c.committed);
    hark_cursor_cleanup(&c);
    FILE *fp = fopen(path, "w");
    fputs("{\"cursor\": \"12", fp);
    fclose(fp);
    hark_cursor_init(&c, path, 16);
    assert_int_equal(hark_cursor_load(&c, err, sizeof(err)), HARK_EINVAL);
    assert_non_null(strstr(err, "corrupt state file"));
    hark_cursor_cleanup(&c);
    unlink(path);
    free(path);
}

static void test_hark_cursor_add_post__many_in_flight(void **state)
{
    (void)state;
    char *path = tmp_path();
    struct hark_cursor c;
    hark_cursor_init(&c, path, 64);
    uint64_t seqs[5000];
    for (int i = 0; i < 5000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        seqs[i] = hark_cursor_add_post(&c, hark_cursor_post_hash(id, "r"));
        if (i % 100 == 99) {
            hark_cursor_add_marker(&c, id);
        }
    }
    for (int i = 4999; i >= 0; i--) {
        hark_cursor_ack(&c, seqs[i]);
    }
    hark_cursor_advance(&c);
    assert_string_equal(c.committed, "4999");
    assert_int_equal(c.ring_len, 0);
    hark_cursor_cleanup(&c);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_cursor_advance__waits_for_contiguous_prefix),
        cmocka_unit_test(test_hark_cursor_advance__marker_behind_unacked_post),
        cmocka_unit_test(test_hark_cursor_seen__in_flight_and_window),
        cmocka_unit_test(test_hark_cursor_save__persists_committed_only),
        cmocka_unit_test(test_hark_cursor_load__missing_and_corrupt),
        cmocka_unit_test(test_hark_cursor_add_post__many_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
