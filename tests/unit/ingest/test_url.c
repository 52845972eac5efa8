/*
 * Tests for ingest/url.c: Link header (RFC 8288), query parameters and
 * percent-encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hark/source.h"

#include "ingest/source_int.h"

static void expect_link(const char *header, const char *rel, const char *want)
{
    char *url = hark_link_find(header, rel);
    if (!want) {
        assert_null(url);
        return;
    }
    assert_non_null(url);
    assert_string_equal(url, want);
    free(url);
}

/* The header recorded with timeline_tag_page1.json. */
static const char recorded[] =
    "<http://localhost:3000/api/v1/timelines/tag/fgiztsshwiaqqiztpmmjbtvmes"
    "csculuvmgjgopwoeidbcrixp?limit=10&max_id=117020582177108552>; "
    "rel=\"next\", <http://localhost:3000/api/v1/timelines/tag/fgiztsshwiaq"
    "qiztpmmjbtvmescsculuvmgjgopwoeidbcrixp?limit=10&min_id="
    "117020582251615632>; rel=\"prev\"";

static void test_hark_link_find__recorded_header(void **state)
{
    (void)state;
    expect_link(recorded, "next",
                "http://localhost:3000/api/v1/timelines/tag/fgiztsshwiaqqizt"
                "pmmjbtvmescsculuvmgjgopwoeidbcrixp?limit=10&max_id="
                "117020582177108552");
    expect_link(recorded, "prev",
                "http://localhost:3000/api/v1/timelines/tag/fgiztsshwiaqqizt"
                "pmmjbtvmescsculuvmgjgopwoeidbcrixp?limit=10&min_id="
                "117020582251615632");
    expect_link(recorded, "last", NULL);
}

static void test_hark_link_find__rel_forms(void **state)
{
    (void)state;
    expect_link("<https://a/1>; rel=next", "next", "https://a/1");
    expect_link("<https://a/1>;rel=next,<https://a/2>;rel=prev", "prev",
                "https://a/2");
    expect_link("<https://a/1>; rel=\"prev first\"", "first", "https://a/1");
    expect_link("<https://a/1>; rel=\"prev first\"", "prev", "https://a/1");
    expect_link("<https://a/1>; rel=\"prev first\"", "fir", NULL);
    expect_link("<https://a/1>; REL=\"Next\"", "next", "https://a/1");
    /* Other parameters around rel, some quoted with ',' and ';' inside. */
    expect_link("<https://a/1>; title=\"a, b; rel=next\"; rel=\"prev\"", "next",
                NULL);
    expect_link("<https://a/1>; title=\"a, b; rel=next\"; rel=\"prev\"", "prev",
                "https://a/1");
    expect_link("<https://a/1>; type=\"text/html\"; rel=next", "next",
                "https://a/1");
    /* RFC 8288: a second rel parameter is ignored. */
    expect_link("<https://a/1>; rel=prev; rel=next", "next", NULL);
}

static void test_hark_link_find__odd_input(void **state)
{
    (void)state;
    /* A ',' inside the URL is part of it. */
    expect_link("<https://a/?ids=1,2>; rel=\"next\"", "next",
                "https://a/?ids=1,2");
    /* Garbage before a good link-value is skipped. */
    expect_link("garbage; rel=next, <https://a/2>; rel=\"next\"", "next",
                "https://a/2");
    expect_link("<https://a/1>; rel=\"next", "next", NULL);
    expect_link("<https://a/1; rel=next", "next", NULL);
    expect_link("", "next", NULL);
    expect_link(NULL, "next", NULL);
    expect_link("<https://a/1>; rel=next", "", NULL);
}

static void expect_param(const char *url, const char *name, const char *want)
{
    char *v = hark_url_param(url, name);
    if (!want) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

static void test_hark_url_param__values(void **state)
{
    (void)state;
    const char *url = "https://h/api/v1/timelines/public?limit=40&max_id=123";
    expect_param(url, "max_id", "123");
    expect_param(url, "limit", "40");
    expect_param(url, "min_id", NULL);
    expect_param(url, "max", NULL);
    /* Percent and '+' decoding; a bad escape stays as it is. */
    expect_param("https://h/?q=a%20b+c%2F%e5%85%AC&r=100%&s=%zz", "q",
                 "a b c/\xE5\x85\xAC");
    expect_param("https://h/?q=a%20b+c%2F&r=100%&s=%zz", "r", "100%");
    expect_param("https://h/?q=a%20b+c%2F&r=100%&s=%zz", "s", "%zz");
    /* Encoded names match too. */
    expect_param("https://h/?max%5Fid=7", "max_id", "7");
}

static void test_hark_url_param__edge_cases(void **state)
{
    (void)state;
    expect_param("https://h/path", "a", NULL);
    expect_param("https://h/?a=1#b=2", "b", NULL);
    expect_param("https://h/?a=1#b=2", "a", "1");
    expect_param("https://h/?a=&b", "a", "");
    expect_param("https://h/?a=&b", "b", "");
    expect_param("https://h/?xmax_id=1&max_id=2", "max_id", "2");
    expect_param("https://h/?a=1&a=2", "a", "1");
    expect_param(NULL, "a", NULL);
}

static void test_hark_url_encode__reserved_and_utf8(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    const char *tag = "\xE5\x85\xAC\xE5\xBC\x8F a/b?c#d-e.f_g~h";
    assert_int_equal(hark_url_encode(&buf, tag, strlen(tag)), HARK_OK);
    assert_string_equal(buf.ptr, "%E5%85%AC%E5%BC%8F%20a%2Fb%3Fc%23d-e.f_g~h");
    hark_buf_cleanup(&buf);

    hark_buf_init(&buf, 4);
    assert_int_equal(hark_url_encode(&buf, "a b", 3), HARK_ELIMIT);
    hark_buf_cleanup(&buf);
}

static void expect_redacted(const char *url, const char *want)
{
    char *got = hark_url_redacted(url);
    assert_string_equal(got, want);
    free(got);
}

static void test_hark_url_redacted__secrets_only(void **state)
{
    (void)state;
    /* nothing secret: the very same bytes */
    expect_redacted("https://mastodon.social/api/v1/timelines/tag/acme?"
                    "limit=40&min_id=1",
                    "https://mastodon.social/api/v1/timelines/tag/acme?"
                    "limit=40&min_id=1");
    expect_redacted("http://127.0.0.1:8765/x", "http://127.0.0.1:8765/x");
    expect_redacted("https://newsapi.example/v2/everything?q=acme&"
                    "apiKey=abc123&page=2",
                    "https://newsapi.example/v2/everything?q=acme&"
                    "apiKey=REDACTED&page=2");
    expect_redacted("https://api.example/s?API-KEY=1&token=2&sig=3&keys=4",
                    "https://api.example/s?API-KEY=REDACTED&token=REDACTED&"
                    "sig=REDACTED&keys=4");
    expect_redacted("https://user:pa55@api.example/s?q=1",
                    "https://user:REDACTED@api.example/s?q=1");
    char *odd = hark_url_redacted("not a url?access_token=zz");
    assert_null(strstr(odd, "zz"));
    free(odd);
    assert_null(hark_url_redacted(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_link_find__recorded_header),
        cmocka_unit_test(test_hark_link_find__rel_forms),
        cmocka_unit_test(test_hark_link_find__odd_input),
        cmocka_unit_test(test_hark_url_param__values),
        cmocka_unit_test(test_hark_url_param__edge_cases),
        cmocka_unit_test(test_hark_url_encode__reserved_and_utf8),
        cmocka_unit_test(test_hark_url_redacted__secrets_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
