#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "hark/json.h"
#include "hark/post.h"
#include "hark/queue.h"

static void test_hark_utf8_repair__replaces_and_counts(void **state)
{
    (void)state;
    unsigned n = 0;
    /* a stray continuation byte, a truncated 3-byte sequence, an overlong
     * encoding and a surrogate, between valid text */
    const char in[] = "ok \x80 caf\xc3\xa9 \xe2\x82 \xc0\xaf \xed\xa0\x80 end";
    char *out = hark_utf8_repair(in, sizeof(in) - 1, &n);
    assert_true(hark_utf8_valid(out, strlen(out)));
    assert_non_null(strstr(out, "caf\xc3\xa9"));
    assert_true(strncmp(out, "ok \xef\xbf\xbd caf", 10) == 0);
    assert_true(n >= 4);
    free(out);
    n = 0;
    out = hark_utf8_repair("plain \xf0\x9f\x98\x80", 10, &n);
    assert_int_equal(n, 0);
    assert_string_equal(out, "plain \xf0\x9f\x98\x80");
    free(out);
}

static void test_hark_post_from_json__normalized_form(void **state)
{
    (void)state;
    const char *line =
        "{\"id\": \"1\", \"platform\": \"mastodon\", \"kind\": \"reply\","
        " \"text\": \"hi \\ud83d\\ude00\", \"author\": {\"id\": \"9\","
        " \"handle\": \"a@b.social\", \"followers\": 12},"
        " \"hashtags\": [\"x\", 3], \"metrics\": {\"likes\": 4},"
        " \"edited_at\": \"2026-01-02T00:00:00Z\","
        " \"created_at\": \"2026-01-01T00:00:00Z\", \"extra\": true}";
    struct hark_json_opts opts = {.validate_utf8 = false};
    struct hark_json_doc *doc = NULL;
    char err[128];
    size_t off;
    assert_int_equal(hark_json_parse(line, strlen(line), NULL, &opts, &doc,
                                     err, sizeof(err), &off),
                     HARK_OK);
    struct hark_post *post = NULL;
    assert_int_equal(hark_post_from_json(doc->root, &post, err, sizeof(err)),
                     HARK_OK);
    assert_string_equal(post->text, "hi \xf0\x9f\x98\x80");
    assert_int_equal(post->kind, HARK_KIND_REPLY);
    assert_int_equal(post->author.followers, 12);
    assert_int_equal(post->hashtags.n, 1);
    assert_int_equal(post->likes, 4);
    assert_string_equal(hark_post_revision(post), "2026-01-02T00:00:00Z");
    struct hark_post *copy = hark_post_dup(post);
    assert_string_equal(copy->author.handle, "a@b.social");
    hark_post_free(copy);
    hark_post_free(post);
    hark_json_doc_free(doc);

    const char *bad = "[1, 2]";
    assert_int_equal(hark_json_parse(bad, strlen(bad), NULL, &opts, &doc, err,
                                     sizeof(err), &off),
                     HARK_OK);
    assert_int_equal(hark_post_from_json(doc->root, &post, err, sizeof(err)),
                     HARK_EINVAL);
    assert_null(post);
    hark_json_doc_free(doc);
}

static void test_hark_time_parse__forms(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(hark_time_parse("2026-11-01T12:00:00.123Z", &ms), HARK_OK);
    char out[32];
    hark_time_format(ms, out);
    assert_string_equal(out, "2026-11-01T12:00:00.123Z");
    int64_t ms2 = 0;
    assert_int_equal(hark_time_parse("2026-11-01T14:00:00.123+02:00", &ms2),
                     HARK_OK);
    assert_true(ms == ms2);
    assert_int_equal(hark_time_parse("1970-01-01T00:00:00Z", &ms), HARK_OK);
    assert_true(ms == 0);
    assert_int_equal(hark_time_parse("2026-13-01T00:00:00Z", &ms), HARK_EINVAL);
    assert_int_equal(hark_time_parse("yesterday", &ms), HARK_EINVAL);
    assert_int_equal(hark_time_parse("2026-08-01T13:55:00.729285Z", &ms),
                     HARK_OK);
    hark_time_format(ms, out);
    assert_string_equal(out, "2026-08-01T13:55:00.729Z");
}

static void test_hark_queue__bounded_fifo_and_close(void **state)
{
    (void)state;
    struct hark_queue *q = hark_queue_new(2);
    int a = 1, b = 2, c = 3;
    assert_int_equal(hark_queue_push(q, &a, 0), HARK_OK);
    assert_int_equal(hark_queue_push(q, &b, 0), HARK_OK);
    assert_int_equal(hark_queue_push(q, &c, 10), HARK_EAGAIN);
    void *v = NULL;
    assert_int_equal(hark_queue_pop(q, &v, 0), HARK_OK);
    assert_ptr_equal(v, &a);
    hark_queue_close(q);
    assert_int_equal(hark_queue_push(q, &c, 0), HARK_ECLOSED);
    assert_int_equal(hark_queue_pop(q, &v, -1), HARK_OK); /* drains */
    assert_ptr_equal(v, &b);
    assert_int_equal(hark_queue_pop(q, &v, -1), HARK_ECLOSED);
    hark_queue_free(q);
}

static void test_hark_jw_double__four_decimals(void **state)
{
    (void)state;
    const double in[] = {0, -0.0, 1, -1, 0.5, 12.34567, -0.42149, 0.00004,
                         0.00005, 100, -2.1, 1e20};
    const char *want[] = {"0", "0", "1", "-1", "0.5", "12.3457", "-0.4215",
                          "0", "0.0001", "100", "-2.1",
                          "100000000000000000000"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        struct hark_buf out;
        struct hark_jw jw;
        hark_buf_init(&out, 0);
        hark_jw_init(&jw, &out);
        hark_jw_array_open(&jw);
        hark_jw_double(&jw, in[i]);
        hark_jw_array_close(&jw);
        char got[64];
        snprintf(got, sizeof(got), "%.*s", (int)out.len - 2, out.ptr + 1);
        assert_string_equal(got, want[i]);
        hark_buf_cleanup(&out);
    }
}

static void test_hark_buf__limit(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 8);
    assert_int_equal(hark_buf_add(&buf, "12345678", 8), HARK_OK);
    assert_int_equal(hark_buf_add(&buf, "9", 1), HARK_ELIMIT);
    assert_int_equal(buf.len, 8);
    assert_string_equal(buf.ptr, "12345678");
    hark_buf_cleanup(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_utf8_repair__replaces_and_counts),
        cmocka_unit_test(test_hark_post_from_json__normalized_form),
        cmocka_unit_test(test_hark_time_parse__forms),
        cmocka_unit_test(test_hark_queue__bounded_fifo_and_close),
        cmocka_unit_test(test_hark_buf__limit),
        cmocka_unit_test(test_hark_jw_double__four_decimals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
