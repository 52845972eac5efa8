/* Tests for enrich/score.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hark/score.h"

#define NOW_MS 1793534400000LL /* 2026-11-01T12:00:00Z */

static struct hark_item *make_item(int64_t rule_points, int64_t followers)
{
    struct hark_post *post = hark_post_new();
    post->platform = hark_xstrdup("mastodon");
    post->author.followers = followers;
    struct hark_item *item = hark_item_new(post);
    item->rule_points = rule_points;
    return item;
}

static void make_customer(struct hark_item *item, const char *tier, double clv)
{
    item->has_customer = true;
    item->customer.id = hark_xstrdup("c1");
    item->customer.tier = hark_xstrdup(tier);
    item->customer.clv = clv;
}

static const struct hark_reason *reason(const struct hark_item *item,
                                        const char *factor)
{
    for (size_t i = 0; i < item->priority.n_reasons; i++) {
        if (strcmp(item->priority.reasons[i].factor, factor) == 0) {
            return &item->priority.reasons[i];
        }
    }
    return NULL;
}

static double reasons_sum(const struct hark_item *item)
{
    double sum = 0;
    for (size_t i = 0; i < item->priority.n_reasons; i++) {
        sum += item->priority.reasons[i].points;
    }
    return sum;
}

static void test_hark_score_cfg_init__defaults(void **state)
{
    (void)state;
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_true(cfg.w_rules == 1);
    assert_true(cfg.w_negative == 30);
    assert_true(cfg.w_customer == 25);
    assert_int_equal(cfg.n_tiers, 3);
    assert_string_equal(cfg.tiers[1].name, "gold");
    assert_true(cfg.tiers[1].points == 12);
    assert_true(cfg.clv_ref == 10000);
    assert_true(cfg.p1 == 80 && cfg.p2 == 60 && cfg.p3 == 35);
    assert_int_equal(cfg.sla_minutes[0], 60);
    assert_int_equal(cfg.sla_minutes[3], 4320);
    assert_int_equal(cfg.sla_warn_percent, 75);
    assert_null(cfg.business_hours); /* the clock runs 24/7 */
    assert_string_equal(cfg.default_queue, "care");
    assert_int_equal(cfg.export_mask,
                     HARK_CUST_F_ID | HARK_CUST_F_NAME | HARK_CUST_F_TIER |
                         HARK_CUST_F_SEGMENT | HARK_CUST_F_CLV);
    hark_score_cfg_cleanup(&cfg);
}

static void test_hark_score_item__reasons_add_up(void **state)
{
    (void)state;
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    struct hark_item *item = make_item(32, 999);
    hark_item_add_match(item, "refund");
    hark_item_add_match(item, "cancel");
    item->sentiment.label = HARK_SENTIMENT_NEGATIVE;
    item->sentiment.score = -0.72;
    make_customer(item, "Gold", 5000);
    item->customer.referrals = 1;
    item->customer.positive_mentions = 5;
    hark_score_item(&cfg, item, NOW_MS);

    const struct hark_reason *r = reason(item, "rules");
    assert_non_null(r);
    assert_true(r->points == 32);
    assert_string_equal(r->detail, "priority 32: refund, cancel");
    r = reason(item, "sentiment");
    assert_non_null(r);
    assert_true(fabs(r->points - 21.6) < 1e-9);
    assert_string_equal(r->detail, "negative -0.72");
    r = reason(item, "customer");
    assert_non_null(r);
    assert_true(fabs(r->points - (12 + 12.5)) < 1e-9); /* tier + clv share */
    assert_string_equal(r->detail, "tier Gold, clv 5000");
    r = reason(item, "relationship");
    assert_non_null(r);
    assert_true(fabs(r->points - 10 * 300.0 / 10000) < 1e-9);
    assert_string_equal(r->detail, "relational 300");
    r = reason(item, "influence");
    assert_non_null(r);
    assert_true(fabs(r->points - 12) < 1e-9); /* 4 x log10(1000) */
    assert_string_equal(r->detail, "followers 999");
    assert_int_equal(item->priority.n_reasons, 5);

    assert_true(fabs(item->priority.score - reasons_sum(item)) < 1e-9);
    assert_true(fabs(item->priority.score - 90.4) < 1e-9);
    assert_false(item->priority.is_clamped);
    assert_string_equal(item->priority.level, "p1");

    assert_true(item->relationship.monetary == 5000);
    assert_true(item->relationship.relational == 250 + 50);
    assert_true(item->relationship.total == 5300);

    /* scoring again replaces, never appends */
    hark_score_item(&cfg, item, NOW_MS);
    assert_int_equal(item->priority.n_reasons, 5);
    hark_item_free(item);
    hark_score_cfg_cleanup(&cfg);
}

static void test_hark_score_item__clamped(void **state)
{
    (void)state;
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    struct hark_item *item = make_item(150, -1);
    hark_score_item(&cfg, item, NOW_MS);
    assert_true(item->priority.score == 100);
    assert_true(item->priority.is_clamped);
    assert_true(reasons_sum(item) == 150);
    hark_item_free(item);

    item = make_item(-30, 99); /* a rule that lowers priority */
    hark_score_item(&cfg, item, NOW_MS);
    assert_true(item->priority.score == 0);
    assert_true(item->priority.is_clamped);
    assert_true(fabs(reasons_sum(item) - (-30 + 8)) < 1e-9);
    assert_string_equal(item->priority.level, "p4");
    hark_item_free(item);
    hark_score_cfg_cleanup(&cfg);
}

static void test_hark_score_item__levels(void **state)
{
    (void)state;
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);

    static const struct {
        int64_t points;
        const char *level;
    } cases[] = {{100, "p1"}, {80, "p1"}, {79, "p2"}, {60, "p2"},
                 {59, "p3"},  {35, "p3"}, {34, "p4"}, {0, "p4"}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hark_item *item = make_item(cases[i].points, -1);
        hark_score_item(&cfg, item, NOW_MS);
        assert_true(item->priority.score == (double)cases[i].points);
        assert_string_equal(item->priority.level, cases[i].level);
        assert_false(item->priority.is_clamped);
        hark_item_free(item);
    }
    hark_score_cfg_cleanup(&cfg);
}

static void test_hark_score_item__route_and_sla(void **state)
{
    (void)state;
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    struct hark_item *item = make_item(90, -1);
    item->action = HARK_ACTION_ENGAGE;
    hark_score_item(&cfg, item, NOW_MS);
    assert_string_equal(item->route_queue, "care");
    assert_int_equal(item->sla_due_ms, NOW_MS + 60 * 60000LL);
    assert_int_equal(item->sla_warn_ms, NOW_MS + 45 * 60000LL); /* 75% */
    hark_item_free(item);

    item = make_item(40, -1);
    item->action = HARK_ACTION_ENGAGE;
    item->rule_route = hark_xstrdup("billing");
    hark_score_item(&cfg, item, NOW_MS);
    assert_string_equal(item->priority.level, "p3");
    assert_string_equal(item->route_queue, "billing");
    assert_int_equal(item->sla_due_ms, NOW_MS + 1440 * 60000LL);
    hark_item_free(item);

    /* tag items get a priority but no route */
    item = make_item(90, -1);
    item->action = HARK_ACTION_TAG;
    hark_score_item(&cfg, item, NOW_MS);
    assert_string_equal(item->priority.level, "p1");
    assert_null(item->route_queue);
    assert_int_equal(item->sla_due_ms, 0);
    assert_int_equal(item->sla_warn_ms, 0);
    hark_item_free(item);
    hark_score_cfg_cleanup(&cfg);
}

static void test_hark_score_item__stranger(void **state)
{
    (void)state;
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    struct hark_item *item = make_item(0, 0);
    item->sentiment.label = HARK_SENTIMENT_POSITIVE;
    item->sentiment.score = 0.9;
    hark_score_item(&cfg, item, NOW_MS);
    assert_true(item->relationship.monetary == 0);
    assert_true(item->relationship.relational == 0);
    assert_true(item->relationship.total == 0);
    assert_int_equal(item->priority.n_reasons, 0); /* nothing added points */
    assert_true(item->priority.score == 0);
    assert_string_equal(item->priority.level, "p4");
    hark_item_free(item);

    /* a customer without tier or CLV adds no customer reason */
    item = make_item(10, -1);
    make_customer(item, "bronze", 0);
    hark_score_item(&cfg, item, NOW_MS);
    assert_null(reason(item, "customer"));
    assert_true(item->priority.score == 10);
    hark_item_free(item);

    /* the CLV share stops at clv_ref */
    item = make_item(0, -1);
    make_customer(item, "platinum", 1e9);
    hark_score_item(&cfg, item, NOW_MS);
    assert_true(reason(item, "customer")->points == 20 + 25);
    assert_string_equal(reason(item, "customer")->detail,
                        "tier platinum, clv 1000000000");
    hark_item_free(item);
    hark_score_cfg_cleanup(&cfg);
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

static void test_hark_score_cfg_parse__overrides(void **state)
{
    (void)state;
    struct hark_json_doc *doc =
        parse("{\"weights\": {\"rules\": 2, \"negative_sentiment\": 10,\n"
              "  \"customer\": 5, \"influence\": 0, \"relationship\": 1,\n"
              "  \"tier\": {\"VIP\": 40}},\n"
              " \"clv_ref\": 100,\n"
              " \"relationship\": {\"referral\": 1, \"positive_mention\": 2,\n"
              "   \"recommendation\": 3, \"introduction\": 4},\n"
              " \"levels\": {\"p1\": 90, \"p2\": 50, \"p3\": 10},\n"
              " \"sla_minutes\": {\"p1\": 15, \"p4\": 10080},\n"
              " \"default_queue\": \"support\",\n"
              " \"export\": [\"id\", \"revenue_12m\", \"counts\"]}\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_int_equal(hark_score_cfg_parse(doc, doc->root, &diag, &cfg),
                     HARK_OK);
    assert_int_equal(diag.n_entries, 0);
    assert_true(cfg.w_rules == 2 && cfg.w_negative == 10);
    assert_true(cfg.w_customer == 5 && cfg.w_influence == 0);
    assert_true(cfg.w_relationship == 1);
    assert_int_equal(cfg.n_tiers, 1); /* replaces the defaults */
    assert_string_equal(cfg.tiers[0].name, "VIP");
    assert_true(cfg.tiers[0].points == 40);
    assert_true(cfg.clv_ref == 100);
    assert_true(cfg.rv_referral == 1 && cfg.rv_positive == 2);
    assert_true(cfg.rv_recommendation == 3 && cfg.rv_introduction == 4);
    assert_true(cfg.p1 == 90 && cfg.p2 == 50 && cfg.p3 == 10);
    assert_int_equal(cfg.sla_minutes[0], 15);
    assert_int_equal(cfg.sla_minutes[1], 240); /* kept */
    assert_int_equal(cfg.sla_minutes[3], 10080);
    assert_string_equal(cfg.default_queue, "support");
    assert_int_equal(cfg.export_mask,
                     HARK_CUST_F_ID | HARK_CUST_F_REVENUE | HARK_CUST_F_COUNTS);

    struct hark_item *item = make_item(30, 1000);
    make_customer(item, "vip", 50);
    item->action = HARK_ACTION_ENGAGE;
    hark_score_item(&cfg, item, NOW_MS);
    /* 60 rules + 40 tier + 2.5 clv share, no influence (weight 0) */
    assert_true(fabs(item->priority.score - 100) < 1e-9);
    assert_true(item->priority.is_clamped);
    assert_null(reason(item, "influence"));
    assert_string_equal(item->route_queue, "support");
    assert_int_equal(item->sla_due_ms, NOW_MS + 15 * 60000LL);
    hark_item_free(item);

    /* NULL keeps what is there */
    assert_int_equal(hark_score_cfg_parse(doc, NULL, &diag, &cfg), HARK_OK);
    assert_string_equal(cfg.default_queue, "support");
    hark_score_cfg_cleanup(&cfg);
    hark_json_doc_free(doc);
    hark_diag_cleanup(&diag);
}

static void test_hark_score_cfg_parse__unknown_key_has_position(void **state)
{
    (void)state;
    struct hark_json_doc *doc = parse("{\n"
                                      "  \"weights\": {\"rules\": 2},\n"
                                      "  \"levles\": {}\n"
                                      "}\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_int_equal(hark_score_cfg_parse(doc, doc->root, &diag, &cfg),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    assert_string_equal(diag.entries[0].file, "hark.json");
    assert_int_equal(diag.entries[0].line, 3);
    assert_int_equal(diag.entries[0].column, 3);
    assert_non_null(
        strstr(diag.entries[0].message, "unknown key \"levles\" in priority"));
    assert_true(cfg.w_rules == 1); /* unchanged on failure */
    hark_score_cfg_cleanup(&cfg);
    hark_json_doc_free(doc);
    hark_diag_cleanup(&diag);
}

static void test_hark_score_cfg_parse__bad_values(void **state)
{
    (void)state;
    struct hark_json_doc *doc =
        parse("{\"weights\": {\"tier\": {\"gold\": \"high\"}, \"rulez\": 1},\n"
              " \"clv_ref\": 0,\n"
              " \"levels\": {\"p1\": 50, \"p2\": 60},\n"
              " \"sla_minutes\": {\"p2\": 0, \"p3\": 1.5},\n"
              " \"default_queue\": \"\",\n"
              " \"export\": [\"id\", \"email\"]}\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_int_equal(hark_score_cfg_parse(doc, doc->root, &diag, &cfg),
                     HARK_EINVAL);

    static const struct {
        int line;
        const char *text;
    } want[] = {
        {1, "unknown key \"rulez\" in priority.weights"},
        {1, "tier \"gold\" in priority.weights.tier must be a number, not "
            "string"},
        {2, "priority.clv_ref must be greater than 0"},
        {3, "priority.levels must satisfy 100 >= p1 >= p2 >= p3 >= 0 (got p1 "
            "50, p2 60, p3 35)"},
        {4, "\"p3\" in priority.sla_minutes must be"},
        {4, "priority.sla_minutes.p2 must be from 1 to 525600 (a year), not 0"},
        {5, "priority.default_queue must not be empty"},
        {6, "unknown customer field \"email\" in export; expected \"id\""},
    };

    assert_int_equal(diag.n_entries, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < diag.n_entries; i++) {
        assert_int_equal(diag.entries[i].line, want[i].line);
        if (!strstr(diag.entries[i].message, want[i].text)) {
            fail_msg("entry %zu: \"%s\" lacks \"%s\"", i,
                     diag.entries[i].message, want[i].text);
        }
    }
    /* nothing was taken over */
    assert_int_equal(cfg.n_tiers, 3);
    assert_string_equal(cfg.default_queue, "care");
    hark_score_cfg_cleanup(&cfg);
    hark_json_doc_free(doc);
    hark_diag_cleanup(&diag);
}

static int64_t t(const char *s)
{
    int64_t ms = 0;
    assert_int_equal(hark_time_parse(s, &ms), HARK_OK);
    return ms;
}

/* An engage item at `level_points` scored from `start`. */
static struct hark_item *score_at(const struct hark_score_cfg *cfg,
                                  int64_t rule_points, int64_t start)
{
    struct hark_item *item = make_item(rule_points, -1);
    item->action = HARK_ACTION_ENGAGE;
    hark_score_item(cfg, item, start);
    return item;
}

static void test_hark_score_item__business_hours_sla(void **state)
{
    (void)state;
    struct hark_json_doc *doc = parse(
        "{\"sla_minutes\": {\"p1\": 60, \"p2\": 240},\n"
        " \"sla_warn_percent\": 50,\n"
        " \"business_hours\": {\"timezone\": \"Europe/Berlin\",\n"
        "   \"days\": [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"],\n"
        "   \"open\": \"09:00\", \"close\": \"17:30\",\n"
        "   \"holidays\": [\"2026-12-25\"], \"levels_24x7\": [\"p1\"]}}");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_int_equal(hark_score_cfg_parse(doc, doc->root, &diag, &cfg),
                     HARK_OK);
    assert_non_null(cfg.business_hours);
    assert_int_equal(cfg.levels_24x7, 1U);

    /* p2 (240 min) from Friday 23 October 16:30 CEST: 60 min on Friday,
     * DST ends on Sunday, 180 min from Monday 09:00 CET. Warning at 50%
     * (120 min): Monday 10:00 CET. */
    struct hark_item *item = score_at(&cfg, 70, t("2026-10-23T16:30:00+02:00"));
    assert_string_equal(item->priority.level, "p2");
    assert_int_equal(item->sla_due_ms, t("2026-10-26T12:00:00+01:00"));
    assert_int_equal(item->sla_warn_ms, t("2026-10-26T10:00:00+01:00"));
    hark_item_free(item);

    /* p1 is 24/7: Saturday night + 60 min, warning at 30 min. */
    int64_t sat = t("2026-10-24T23:00:00+02:00");
    item = score_at(&cfg, 90, sat);
    assert_string_equal(item->priority.level, "p1");
    assert_int_equal(item->sla_due_ms, sat + 60 * 60000LL);
    assert_int_equal(item->sla_warn_ms, sat + 30 * 60000LL);
    hark_item_free(item);

    /* A copy made by a second parse shares the schedule (reference). */
    struct hark_json_doc *doc2 = parse("{\"sla_warn_percent\": 0}");
    assert_int_equal(hark_score_cfg_parse(doc2, doc2->root, &diag, &cfg),
                     HARK_OK);
    assert_non_null(cfg.business_hours);
    item = score_at(&cfg, 70, t("2026-12-24T17:00:00+01:00"));
    /* 30 min on Thursday, Friday is a holiday: Monday 12:30. */
    assert_int_equal(item->sla_due_ms, t("2026-12-28T12:30:00+01:00"));
    assert_int_equal(item->sla_warn_ms, 0); /* warnings off */
    hark_item_free(item);
    assert_int_equal(diag.n_entries, 0);
    hark_score_cfg_cleanup(&cfg);
    hark_json_doc_free(doc2);
    hark_json_doc_free(doc);
    hark_diag_cleanup(&diag);
}

static void test_hark_score_cfg_parse__business_hours_errors(void **state)
{
    (void)state;
    struct hark_json_doc *doc = parse(
        "{\"sla_warn_percent\": 100,\n"
        " \"business_hours\": {\"timezone\": \"Mars/Olympus\",\n"
        "   \"open\": \"09:00\", \"close\": \"17:00\",\n"
        "   \"levels_24x7\": [\"p0\"]}}");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_int_equal(hark_score_cfg_parse(doc, doc->root, &diag, &cfg),
                     HARK_EINVAL);
    static const struct {
        int line, column;
        const char *text;
    } want[] = {
        {1, 22, "priority.sla_warn_percent must be from 0 (no warning) to "
                "99, not 100"},
        {2, 33, "unknown time zone \"Mars/Olympus\" in "
                "priority.business_hours.timezone"},
        {4, 20, "unknown level \"p0\" in priority.business_hours.levels_24x7"},
    };
    assert_int_equal(diag.n_entries, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < diag.n_entries; i++) {
        assert_string_equal(diag.entries[i].file, "hark.json");
        assert_int_equal(diag.entries[i].line, want[i].line);
        assert_int_equal(diag.entries[i].column, want[i].column);
        if (!strstr(diag.entries[i].message, want[i].text)) {
            fail_msg("entry %zu: \"%s\" lacks \"%s\"", i,
                     diag.entries[i].message, want[i].text);
        }
    }
    assert_null(cfg.business_hours);
    assert_int_equal(cfg.sla_warn_percent, 75);
    hark_score_cfg_cleanup(&cfg);
    hark_json_doc_free(doc);
    hark_diag_cleanup(&diag);
}

static void test_hark_score_cfg_parse__not_an_object(void **state)
{
    (void)state;
    struct hark_json_doc *doc = parse("[1]");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_score_cfg cfg;
    hark_score_cfg_init(&cfg);
    assert_int_equal(hark_score_cfg_parse(doc, doc->root, &diag, &cfg),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    assert_non_null(
        strstr(diag.entries[0].message, "priority must be an object"));
    hark_score_cfg_cleanup(&cfg);
    hark_json_doc_free(doc);
    hark_diag_cleanup(&diag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_score_cfg_init__defaults),
        cmocka_unit_test(test_hark_score_item__reasons_add_up),
        cmocka_unit_test(test_hark_score_item__clamped),
        cmocka_unit_test(test_hark_score_item__levels),
        cmocka_unit_test(test_hark_score_item__route_and_sla),
        cmocka_unit_test(test_hark_score_item__stranger),
        cmocka_unit_test(test_hark_score_cfg_parse__overrides),
        cmocka_unit_test(test_hark_score_cfg_parse__unknown_key_has_position),
        cmocka_unit_test(test_hark_score_cfg_parse__bad_values),
        cmocka_unit_test(test_hark_score_cfg_parse__not_an_object),
        cmocka_unit_test(test_hark_score_item__business_hours_sla),
        cmocka_unit_test(test_hark_score_cfg_parse__business_hours_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
