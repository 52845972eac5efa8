/*
 * Unit tests for filters/normalize.c: NFKC + case folding with an offset
 * map back to the original bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters/normalize_int.h"

static void norm_eq(const char *in, const char *want)
{
    struct hark_normalize norm;
    hark_normalize_init(&norm);
    hark_normalize_text(&norm, in, strlen(in));
    assert_string_equal(norm.text, want);
    assert_int_equal(norm.len, strlen(want));
    hark_normalize_cleanup(&norm);
}

static void test_hark_normalize_text__ascii_lowercased_identity(void **state)
{
    (void)state;
    struct hark_normalize norm;
    hark_normalize_init(&norm);
    hark_normalize_text(&norm, "Hello REFUND!", 13);
    assert_string_equal(norm.text, "hello refund!");
    assert_true(norm.is_identity);
    uint32_t s = 0;
    uint32_t e = 0;
    hark_normalize_span(&norm, 6, 12, &s, &e);
    assert_int_equal(s, 6);
    assert_int_equal(e, 12);
    hark_normalize_cleanup(&norm);
}

static void test_hark_normalize_text__math_bold_and_fullwidth(void **state)
{
    (void)state;
    norm_eq("\xf0\x9d\x90\xab\xf0\x9d\x90\x9e\xf0\x9d\x90\x9f\xf0\x9d\x90\xae"
            "\xf0\x9d\x90\xa7\xf0\x9d\x90\x9d",
            "refund"); /* 𝐫𝐞𝐟𝐮𝐧𝐝 */
    norm_eq("\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xa6\xef\xbc\xb5\xef\xbc\xae"
            "\xef\xbc\xa4",
            "refund"); /* ＲＥＦＵＮＤ */
}

static void test_hark_normalize_text__casefold_and_compose(void **state)
{
    (void)state;
    norm_eq("STRA\xc3\x9f"
            "E",
            "strasse");                     /* STRAßE */
    norm_eq("Cafe\xcc\x81", "caf\xc3\xa9"); /* e + U+0301 -> é */
    norm_eq("CAF\xc3\x89", "caf\xc3\xa9");  /* É -> é */
    norm_eq("\xef\xac\x81le", "file");      /* ﬁ ligature */
    norm_eq("re\xe2\x80\x8b"
            "fund",
            "refund"); /* zero-width space */
    norm_eq("a\xc2\xa0"
            "b",
            "a b"); /* no-break space */
}

static void test_hark_normalize_span__maps_to_original_code_points(void **s)
{
    (void)s;
    /* "Need a 𝐫𝐞𝐟𝐮𝐧𝐝 now": 𝐫 starts at byte 7, 𝐝 ends at byte 31. */
    const char *in = "Need a \xf0\x9d\x90\xab\xf0\x9d\x90\x9e\xf0\x9d\x90\x9f"
                     "\xf0\x9d\x90\xae\xf0\x9d\x90\xa7\xf0\x9d\x90\x9d now";
    struct hark_normalize norm;
    hark_normalize_init(&norm);
    hark_normalize_text(&norm, in, strlen(in));
    assert_string_equal(norm.text, "need a refund now");
    assert_false(norm.is_identity);
    uint32_t start = 0;
    uint32_t end = 0;
    hark_normalize_span(&norm, 7, 13, &start, &end);
    assert_int_equal(start, 7);
    assert_int_equal(end, 31);
    hark_normalize_span(&norm, 14, 17, &start, &end); /* "now" */
    assert_int_equal(start, 32);
    assert_int_equal(end, 35);
    hark_normalize_span(&norm, 8, 9, &start, &end); /* "e" inside */
    assert_int_equal(start, 11);
    assert_int_equal(end, 15);
    hark_normalize_cleanup(&norm);
}

static void test_hark_normalize_span__expansion_maps_whole_source(void **s)
{
    (void)s;
    /* "ﬁx": the ligature (3 bytes) becomes "fi"; both map to [0, 3). */
    struct hark_normalize norm;
    hark_normalize_init(&norm);
    hark_normalize_text(&norm, "\xef\xac\x81x", 4);
    assert_string_equal(norm.text, "fix");
    uint32_t start = 0;
    uint32_t end = 0;
    hark_normalize_span(&norm, 1, 2, &start, &end);
    assert_int_equal(start, 0);
    assert_int_equal(end, 3);
    hark_normalize_span(&norm, 0, 3, &start, &end);
    assert_int_equal(start, 0);
    assert_int_equal(end, 4);
    hark_normalize_cleanup(&norm);
}

static void test_hark_normalize_text__reuses_buffers(void **state)
{
    (void)state;
    struct hark_normalize norm;
    hark_normalize_init(&norm);
    hark_normalize_text(&norm, "\xc3\x89t\xc3\xa9 long enough text", 22);
    const char *text = norm.text;
    const uint32_t *map = norm.map_start;
    hark_normalize_text(&norm, "\xc3\x89t\xc3\xa9", 6);
    assert_string_equal(norm.text, "\xc3\xa9t\xc3\xa9");
    assert_ptr_equal(norm.text, text);
    assert_ptr_equal(norm.map_start, map);
    hark_normalize_text(&norm, "", 0);
    assert_string_equal(norm.text, "");
    assert_int_equal(norm.len, 0);
    hark_normalize_cleanup(&norm);
}

static void test_hark_normalize_dup__same_as_text(void **state)
{
    (void)state;
    char *d = hark_normalize_dup("Money \xef\xbc\xa2"
                                 "ack",
                                 12);
    assert_string_equal(d, "money back");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_normalize_text__ascii_lowercased_identity),
        cmocka_unit_test(test_hark_normalize_text__math_bold_and_fullwidth),
        cmocka_unit_test(test_hark_normalize_text__casefold_and_compose),
        cmocka_unit_test(
            test_hark_normalize_span__maps_to_original_code_points),
        cmocka_unit_test(test_hark_normalize_span__expansion_maps_whole_source),
        cmocka_unit_test(test_hark_normalize_text__reuses_buffers),
        cmocka_unit_test(test_hark_normalize_dup__same_as_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
