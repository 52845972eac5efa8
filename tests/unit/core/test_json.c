#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/diag.h"
#include "hark/json.h"

static struct hark_json_doc *parse(const char *text)
{
    struct hark_json_opts opts = {.allow_comments = true,
                                  .validate_utf8 = true};
    struct hark_json_doc *doc = NULL;
    char err[256];
    size_t off;
    assert_int_equal(hark_json_parse(text, strlen(text), "t.json", &opts,
                                     &doc, err, sizeof(err), &off),
                     HARK_OK);
    return doc;
}

static void test_hark_json_parse__positions(void **state)
{
    (void)state;
    const char *text = "{\n  // comment\n  \"a\": \"x\\\"y\",\n  \"b\": [1, -2.5e3, true, null],\n  \"c\": {\"d\": 12345678901234}\n}";
    struct hark_json_doc *doc = parse(text);
    const struct hark_json *root = doc->root;
    assert_int_equal(root->type, HARK_JSON_OBJECT);
    assert_int_equal(root->offset, 0);
    const struct hark_json *a = hark_json_get(root, "a");
    assert_string_equal(a->s, "x\"y");
    assert_int_equal(a->offset, strstr(text, "\"x\\\"") - text);
    assert_int_equal(hark_json_key_offset(root, "a"), strstr(text, "\"a\"") - text);
    const struct hark_json *b = hark_json_get(root, "b");
    assert_int_equal(b->n, 4);
    assert_int_equal(b->offset, strchr(text, '[') - text);
    assert_int_equal(b->items[0]->type, HARK_JSON_INTEGER);
    assert_int_equal(b->items[0]->offset, strstr(text, "1,") - text);
    assert_int_equal(b->items[1]->type, HARK_JSON_DOUBLE);
    assert_int_equal(b->items[1]->offset, strstr(text, "-2.5e3") - text);
    assert_true(b->items[1]->d == -2500.0);
    assert_int_equal(b->items[2]->offset, strstr(text, "true") - text);
    assert_int_equal(b->items[3]->type, HARK_JSON_NULL);
    const struct hark_json *d = hark_json_pointer(root, "/c/d");
    assert_non_null(d);
    assert_int_equal(d->i, 12345678901234LL);
    assert_ptr_equal(hark_json_pointer(root, "/b/2"), b->items[2]);
    assert_null(hark_json_pointer(root, "/b/9"));
    hark_json_doc_free(doc);
}

static void test_hark_json_parse__error_offset(void **state)
{
    (void)state;
    const char *text = "{\"a\": 1,\n \"b\": }";
    struct hark_json_opts opts = {.validate_utf8 = true};
    struct hark_json_doc *doc = NULL;
    char err[256];
    size_t off = 0;
    assert_int_equal(hark_json_parse(text, strlen(text), "t.json", &opts,
                                     &doc, err, sizeof(err), &off),
                     HARK_EINVAL);
    assert_null(doc);
    assert_true(strlen(err) > 0);
    int line, col;
    hark_diag_position(text, strlen(text), off, &line, &col);
    assert_int_equal(line, 2);
    assert_true(col >= 7);
}

static void test_hark_json_parse__truncated_and_deep(void **state)
{
    (void)state;
    struct hark_json_opts opts = {.validate_utf8 = false, .max_depth = 64};
    struct hark_json_doc *doc = NULL;
    char err[256];
    size_t off;
    const char *trunc = "[{\"id\": \"1\", \"content\": \"abc";
    assert_int_equal(hark_json_parse(trunc, strlen(trunc), NULL, &opts, &doc,
                                     err, sizeof(err), &off),
                     HARK_EINVAL);
    size_t n = 10000;
    char *deep = malloc(n * 2 + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(hark_json_parse(deep, 2 * n, NULL, &opts, &doc, err,
                                     sizeof(err), &off),
                     HARK_EINVAL);
    assert_non_null(strstr(err, "nested deeper than 64"));
    free(deep);
    const char *html = "<html><body>502 Bad Gateway</body></html>";
    assert_int_equal(hark_json_parse(html, strlen(html), NULL, &opts, &doc,
                                     err, sizeof(err), &off),
                     HARK_EINVAL);
}

static void test_hark_cfgmap_check__unknown_and_type(void **state)
{
    (void)state;
    const char *text = "{\"name\": \"x\",\n \"intervall_s\": 3,\n \"stream\": true, \"base_url\": 5}";
    struct hark_json_doc *doc = parse(text);
    static const struct hark_cfgmap map[] = {
        {"name", HARK_JSON_STRING, true, NULL},
        {"base_url", HARK_JSON_STRING, true, NULL},
        {"interval_s", HARK_JSON_NUMBER, false, NULL},
        {"stream", HARK_JSON_BOOL, false, "streaming comes later"},
        {NULL, 0, false, NULL}};
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(hark_cfgmap_check(doc, doc->root, map, "source", &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 3);
    assert_int_equal(diag.entries[0].line, 2);
    assert_int_equal(diag.entries[0].column, 2);
    assert_string_equal(diag.entries[0].message,
                        "unknown key \"intervall_s\" in source; expected one "
                        "of \"name\", \"base_url\", \"interval_s\"");
    assert_non_null(strstr(diag.entries[1].message, "not built yet"));
    assert_string_equal(diag.entries[2].message,
                        "\"base_url\" in source must be string, not integer");
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    hark_diag_print(&diag, fp);
    fclose(fp);
    assert_non_null(strstr(buf, "t.json:2:2: error: unknown key"));
    assert_non_null(strstr(buf, "\n     \"intervall_s\": 3,\n     ^\n"));
    free(buf);
    hark_diag_cleanup(&diag);
    hark_json_doc_free(doc);
}

static void test_hark_diag_position__counts_characters(void **state)
{
    (void)state;
    const char *text = "\"ünï\": x";
    int line, col;
    hark_diag_position(text, strlen(text), strchr(text, 'x') - text, &line,
                       &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_json_parse__positions),
        cmocka_unit_test(test_hark_json_parse__error_offset),
        cmocka_unit_test(test_hark_json_parse__truncated_and_deep),
        cmocka_unit_test(test_hark_cfgmap_check__unknown_and_type),
        cmocka_unit_test(test_hark_diag_position__counts_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
