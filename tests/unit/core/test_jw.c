/*
 * The JSON writer must write what yajl_gen writes (consumers and pinned
 * outputs were built on it): the same document through both, compared
 * byte for byte, and parsed back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "hark/jw.h"

/* Every byte below 0x80 (control characters, quote, backslash, solidus)
 * and some multi-byte UTF-8, in one string. */
static size_t nasty_string(char *out)
{
    size_t n = 0;
    for (int c = 0; c < 0x80; c++) {
        out[n++] = (char)c;
    }
    static const char utf8[] = "caf\xc3\xa9 \xe2\x9d\xa4\xef\xb8\x8f "
                               "\xf0\x9f\x98\x82 \xe2\x80\xa8";
    memcpy(out + n, utf8, sizeof(utf8) - 1);
    return n + sizeof(utf8) - 1;
}

static void write_both(yajl_gen g, struct hark_jw *w)
{
    char s[256];
    size_t n = nasty_string(s);

    yajl_gen_map_open(g);
    hark_jw_map_open(w);

    yajl_gen_string(g, (const unsigned char *)"text", 4);
    yajl_gen_string(g, (const unsigned char *)s, n);
    hark_jw_key(w, "text");
    hark_jw_strn(w, s, n);

    yajl_gen_string(g, (const unsigned char *)"k\"ey\n", 5);
    yajl_gen_null(g);
    hark_jw_key(w, "k\"ey\n");
    hark_jw_str(w, NULL);

    yajl_gen_string(g, (const unsigned char *)"nums", 4);
    yajl_gen_array_open(g);
    hark_jw_key(w, "nums");
    hark_jw_array_open(w);
    const long long ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        yajl_gen_integer(g, ints[i]);
        hark_jw_int(w, ints[i]);
    }
    yajl_gen_bool(g, 1);
    yajl_gen_bool(g, 0);
    hark_jw_bool(w, true);
    hark_jw_bool(w, false);
    yajl_gen_array_close(g);
    hark_jw_array_close(w);

    /* empty containers, nested */
    yajl_gen_string(g, (const unsigned char *)"nest", 4);
    yajl_gen_array_open(g);
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    yajl_gen_map_open(g);
    yajl_gen_map_close(g);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *)"a", 1);
    yajl_gen_array_open(g);
    yajl_gen_string(g, (const unsigned char *)"", 0);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    hark_jw_key(w, "nest");
    hark_jw_array_open(w);
    hark_jw_array_open(w);
    hark_jw_array_close(w);
    hark_jw_map_open(w);
    hark_jw_map_close(w);
    hark_jw_map_open(w);
    hark_jw_key(w, "a");
    hark_jw_array_open(w);
    hark_jw_strn(w, "", 0);
    hark_jw_array_close(w);
    hark_jw_map_close(w);
    hark_jw_array_close(w);

    yajl_gen_map_close(g);
    hark_jw_map_close(w);
}

static void test_hark_jw__same_bytes_as_yajl_gen(void **state)
{
    (void)state;
    yajl_gen g = yajl_gen_alloc(NULL);
    struct hark_buf out;
    struct hark_jw w;
    hark_buf_init(&out, 0);
    hark_jw_init(&w, &out);
    write_both(g, &w);
    assert_int_equal(w.depth, 0);

    const unsigned char *want = NULL;
    size_t want_len = 0;
    assert_int_equal(yajl_gen_get_buf(g, &want, &want_len),
                     yajl_gen_status_ok);
    assert_int_equal(out.len, want_len);
    assert_memory_equal(out.ptr, want, want_len);
    assert_int_equal(out.ptr[out.len], '\0');

    char err[128];
    yajl_val v = yajl_tree_parse(out.ptr, err, sizeof(err));
    assert_non_null(v);
    const char *path[] = {"text", NULL};
    yajl_val text = yajl_tree_get(v, path, yajl_t_string);
    assert_non_null(text);
    char s[256];
    size_t n = nasty_string(s);
    s[n] = '\0';
    /* yajl_tree stops at the NUL the string starts with: compare the
     * rest through the escaped form instead. */
    assert_non_null(strstr(out.ptr, "\\u0000\\u0001"));
    assert_non_null(strstr(out.ptr, "\\\"#$%&'()*+,-./0"));
    assert_non_null(strstr(out.ptr, "[\\\\]^_`"));
    yajl_tree_free(v);
    yajl_gen_free(g);
    hark_buf_cleanup(&out);
}

static void test_hark_jw__appends_after_existing_bytes(void **state)
{
    (void)state;
    struct hark_buf out;
    struct hark_jw w;
    hark_buf_init(&out, 0);
    assert_int_equal(hark_buf_add(&out, "X", 1), HARK_OK);
    hark_jw_init(&w, &out);
    hark_jw_array_open(&w);
    hark_jw_double(&w, 0.25);
    hark_jw_double(&w, -3.0);
    hark_jw_double(&w, 1.0 / 0.0);
    hark_jw_raw(&w, "{\"a\":1}", 7);
    hark_jw_array_close(&w);
    assert_string_equal(out.ptr, "X[0.25,-3,null,{\"a\":1}]");
    hark_buf_cleanup(&out);
}

static void test_hark_jw_double__huge_values_whole(void **state)
{
    (void)state;
    struct hark_buf out;
    struct hark_jw w;
    hark_buf_init(&out, 0);
    hark_jw_init(&w, &out);
    hark_jw_double(&w, -1.7976931348623157e308);
    assert_int_equal(out.len, 310); /* '-' and 309 digits, not cut */
    assert_int_equal(out.ptr[0], '-');
    assert_memory_equal(out.ptr + 1, "17976931348623157", 17);
    hark_buf_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_jw__same_bytes_as_yajl_gen),
        cmocka_unit_test(test_hark_jw__appends_after_existing_bytes),
        cmocka_unit_test(test_hark_jw_double__huge_values_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
