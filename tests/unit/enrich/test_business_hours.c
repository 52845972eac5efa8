/* Tests for enrich/business_hours.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hark/business_hours.h"

#define MIN_MS 60000LL

/* Epoch ms of an RFC 3339 time (offsets allowed, so tests read local). */
static int64_t t(const char *s)
{
    int64_t ms = 0;
    assert_int_equal(hark_time_parse(s, &ms), HARK_OK);
    return ms;
}

static void assert_time(int64_t got, const char *want)
{
    if (got != t(want)) {
        char ts[32];
        hark_time_format(got, ts);
        fail_msg("got %s, want %s", ts, want);
    }
}

static struct hark_json_doc *parse(const char *text)
{
    struct hark_json_doc *doc = NULL;
    struct hark_json_opts opts = {.allow_comments = true};
    char err[256];
    size_t off = 0;
    assert_int_equal(hark_json_parse(text, strlen(text), "hark.json", &opts,
                                     &doc, err, sizeof(err), &off),
                     HARK_OK);
    return doc;
}

/* A schedule from JSON text that must parse. */
static struct hark_bhours *load(const char *text)
{
    struct hark_json_doc *doc = parse(text);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_bhours *bh = NULL;
    hark_err_t err =
        hark_bhours_parse(doc, doc->root, "business_hours", NULL, &diag, &bh);
    if (err != HARK_OK) {
        fail_msg("parse failed: %s",
                 diag.n_entries ? diag.entries[0].message : "?");
    }
    hark_diag_cleanup(&diag);
    hark_json_doc_free(doc);
    return bh;
}

#define BERLIN_WEEK                                           \
    "{\"timezone\": \"Europe/Berlin\", \"open\": \"09:00\", " \
    "\"close\": \"17:30\"}"

static void test_hark_bhours_add__within_one_day(void **state)
{
    (void)state;
    struct hark_bhours *bh = load(BERLIN_WEEK);
    /* Monday 10:00 + 60 min = 11:00, on the wall clock too. */
    assert_time(
        hark_bhours_add(bh, t("2026-11-02T10:00:00+01:00"), 60 * MIN_MS),
        "2026-11-02T11:00:00+01:00");
    /* Ends exactly at closing time. */
    assert_time(
        hark_bhours_add(bh, t("2026-11-02T16:30:00+01:00"), 60 * MIN_MS),
        "2026-11-02T17:30:00+01:00");
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__out_of_hours_starts_at_opening(void **state)
{
    (void)state;
    struct hark_bhours *bh = load(BERLIN_WEEK);
    /* Before opening: the clock starts at 09:00. */
    assert_time(
        hark_bhours_add(bh, t("2026-11-09T07:00:00+01:00"), 45 * MIN_MS),
        "2026-11-09T09:45:00+01:00");
    /* After closing on Monday: Tuesday 09:00. */
    assert_time(
        hark_bhours_add(bh, t("2026-11-09T20:00:00+01:00"), 30 * MIN_MS),
        "2026-11-10T09:30:00+01:00");
    /* Saturday: Monday 09:00. */
    assert_time(
        hark_bhours_add(bh, t("2026-11-07T10:00:00+01:00"), 60 * MIN_MS),
        "2026-11-09T10:00:00+01:00");
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__weekend_and_dst_end(void **state)
{
    (void)state;
    struct hark_bhours *bh = load(BERLIN_WEEK);
    /*
     * Friday 23 October 2026 17:00 CEST (UTC+2): 30 minutes left that day.
     * Clocks go back on Sunday 25 October; Monday opens at 09:00 CET
     * (UTC+1), so 30 more minutes end at 09:30 CET = 08:30Z (a fixed
     * offset would say 07:30Z).
     */
    int64_t due =
        hark_bhours_add(bh, t("2026-10-23T17:00:00+02:00"), 60 * MIN_MS);
    assert_time(due, "2026-10-26T08:30:00Z");
    assert_time(due, "2026-10-26T09:30:00+01:00");
    /* Two full days (8.5 h each) from Thursday noon over the weekend. */
    assert_time(
        hark_bhours_add(bh, t("2026-10-22T12:00:00+02:00"), 17 * 60 * MIN_MS),
        "2026-10-26T12:00:00+01:00");
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__dst_start_on_a_working_day(void **state)
{
    (void)state;
    struct hark_bhours *bh = load("{\"timezone\": \"Europe/Berlin\", "
                                  "\"days\": [\"mon\", \"tue\", \"wed\", "
                                  "\"thu\", \"fri\", \"sat\", \"sun\"], "
                                  "\"open\": \"09:00\", \"close\": \"17:00\"}");
    /* Saturday 28 March 2026 16:00 CET; Sunday 29 March opens in CEST. */
    assert_time(
        hark_bhours_add(bh, t("2026-03-28T16:00:00+01:00"), 120 * MIN_MS),
        "2026-03-29T08:00:00Z");
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__round_the_clock_is_elapsed_time(void **state)
{
    (void)state;
    /* Open every day 00:00-24:00: the night of 25 October has 25 hours,
     * and 10 hours of open time are exactly 10 hours of real time. */
    struct hark_bhours *bh = load("{\"timezone\": \"Europe/Berlin\", "
                                  "\"days\": [\"mon\", \"tue\", \"wed\", "
                                  "\"thu\", \"fri\", \"sat\", \"sun\"], "
                                  "\"open\": \"00:00\", \"close\": \"24:00\"}");
    int64_t start = t("2026-10-24T22:00:00+02:00");
    assert_int_equal(hark_bhours_add(bh, start, 10 * 60 * MIN_MS),
                     start + 10 * 60 * MIN_MS);
    start = t("2026-03-28T22:00:00+01:00");
    assert_int_equal(hark_bhours_add(bh, start, 10 * 60 * MIN_MS),
                     start + 10 * 60 * MIN_MS);
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__holidays_are_skipped(void **state)
{
    (void)state;
    struct hark_bhours *bh = load("{\"timezone\": \"Europe/Berlin\", "
                                  "\"open\": \"09:00\", \"close\": \"17:30\", "
                                  "\"holidays\": [\"2026-12-25\", "
                                  "\"2026-12-24\"]}");
    /* Wednesday 23 December 17:00: 30 minutes, then 24 and 25 are
     * holidays and 26-27 a weekend: Monday 28 December 09:30. */
    assert_time(
        hark_bhours_add(bh, t("2026-12-23T17:00:00+01:00"), 60 * MIN_MS),
        "2026-12-28T09:30:00+01:00");
    assert_false(hark_bhours_is_open(bh, t("2026-12-24T10:00:00+01:00")));
    assert_true(hark_bhours_is_open(bh, t("2026-12-23T10:00:00+01:00")));
    assert_false(hark_bhours_is_open(bh, t("2026-12-23T17:30:00+01:00")));
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__other_zone(void **state)
{
    (void)state;
    /* New York leaves DST on 1 November 2026, a week after Berlin. */
    struct hark_bhours *bh = load("{\"timezone\": \"America/New_York\", "
                                  "\"open\": \"08:00\", \"close\": \"20:00\"}");
    assert_time(
        hark_bhours_add(bh, t("2026-10-30T19:00:00-04:00"), 120 * MIN_MS),
        "2026-11-02T09:00:00-05:00");
    assert_string_equal(hark_bhours_timezone(bh), "America/New_York");
    hark_bhours_unref(bh);
}

static void test_hark_bhours_add__zero_duration(void **state)
{
    (void)state;
    struct hark_bhours *bh = load(BERLIN_WEEK);
    int64_t open_now = t("2026-11-02T10:00:00+01:00");
    assert_int_equal(hark_bhours_add(bh, open_now, 0), open_now);
    assert_time(hark_bhours_add(bh, t("2026-11-07T10:00:00+01:00"), 0),
                "2026-11-09T09:00:00+01:00");
    hark_bhours_unref(bh);
}

static void test_hark_bhours_ref__shared(void **state)
{
    (void)state;
    struct hark_bhours *bh = load(BERLIN_WEEK);
    struct hark_bhours *again = hark_bhours_ref(bh);
    assert_ptr_equal(again, bh);
    hark_bhours_unref(bh);
    /* still alive through `again` (ASan would flag a use after free) */
    assert_string_equal(hark_bhours_timezone(again), "Europe/Berlin");
    hark_bhours_unref(again);
    hark_bhours_unref(NULL);
    assert_null(hark_bhours_ref(NULL));
}

struct want_error {
    int line;
    int column;
    const char *text;
};

static void
check_errors(const char *text, const struct want_error *want, size_t n_want)
{
    struct hark_json_doc *doc = parse(text);
    struct hark_diag diag;
    hark_diag_init(&diag);
    static const struct hark_cfgmap extra[] = {
        {"levels_24x7", HARK_JSON_ARRAY, false, NULL},
        {NULL, 0, false, NULL},
    };
    struct hark_bhours *bh = (struct hark_bhours *)&diag; /* not NULL */
    assert_int_equal(hark_bhours_parse(doc, doc->root,
                                       "priority.business_hours", extra, &diag,
                                       &bh),
                     HARK_EINVAL);
    assert_null(bh);
    assert_int_equal(diag.n_entries, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_string_equal(diag.entries[i].file, "hark.json");
        assert_int_equal(diag.entries[i].line, want[i].line);
        assert_int_equal(diag.entries[i].column, want[i].column);
        if (!strstr(diag.entries[i].message, want[i].text)) {
            fail_msg("entry %zu: \"%s\" lacks \"%s\"", i,
                     diag.entries[i].message, want[i].text);
        }
    }
    hark_diag_cleanup(&diag);
    hark_json_doc_free(doc);
}

static void test_hark_bhours_parse__unknown_timezone(void **state)
{
    (void)state;
    static const struct want_error want[] = {
        {2, 14,
         "unknown time zone \"Europe/Berln\" in "
         "priority.business_hours.timezone"},
    };
    check_errors("{\"open\": \"09:00\", \"close\": \"17:00\",\n"
                 " \"timezone\": \"Europe/Berln\"}",
                 want, 1);
    /* ICU accepts custom "GMT+3" ids; a schedule wants a real zone. */
    static const struct want_error custom[] = {
        {1, 14, "unknown time zone \"GMT+3\""},
    };
    check_errors("{\"timezone\": \"GMT+3\", \"open\": \"09:00\", "
                 "\"close\": \"17:00\"}",
                 custom, 1);
}

static void test_hark_bhours_parse__bad_values(void **state)
{
    (void)state;
    static const struct want_error want[] = {
        {5, 2, "unknown key \"hollidays\" in priority.business_hours"},
        {2, 18, "unknown day \"monday\" in priority.business_hours.days"},
        {3, 28, "close (\"09:00\") must be later than open (\"10:00\")"},
        {4, 15, "\"YYYY-MM-DD\", not \"2026-02-30\""},
    };
    check_errors("{\"timezone\": \"UTC\",\n"
                 " \"days\": [\"mon\", \"monday\"],\n"
                 " \"open\": \"10:00\", \"close\": \"09:00\",\n"
                 " \"holidays\": [\"2026-02-30\"],\n"
                 " \"hollidays\": [], \"levels_24x7\": []}",
                 want, sizeof(want) / sizeof(want[0]));
    static const struct want_error times[] = {
        {1, 29,
         "priority.business_hours.open must be a time from \"00:00\" "
         "to \"23:59\", not \"9:00\""},
        {1, 46,
         "priority.business_hours.close must be a time from "
         "\"00:01\" to \"24:00\", not \"24:30\""},
    };
    check_errors("{\"timezone\": \"UTC\", \"open\": \"9:00\", \"close\": "
                 "\"24:30\"}",
                 times, 2);
}

static void test_hark_bhours_parse__required_keys(void **state)
{
    (void)state;
    static const struct want_error want[] = {
        {1, 1, "missing required key \"timezone\""},
        {1, 1, "missing required key \"close\""},
    };
    check_errors("{\"open\": \"09:00\"}", want, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
    const struct CMUnitTest tests[] = {
        T(test_hark_bhours_add__within_one_day),
        T(test_hark_bhours_add__out_of_hours_starts_at_opening),
        T(test_hark_bhours_add__weekend_and_dst_end),
        T(test_hark_bhours_add__dst_start_on_a_working_day),
        T(test_hark_bhours_add__round_the_clock_is_elapsed_time),
        T(test_hark_bhours_add__holidays_are_skipped),
        T(test_hark_bhours_add__other_zone),
        T(test_hark_bhours_add__zero_duration),
        T(test_hark_bhours_ref__shared),
        T(test_hark_bhours_parse__unknown_timezone),
        T(test_hark_bhours_parse__bad_values),
        T(test_hark_bhours_parse__required_keys),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
