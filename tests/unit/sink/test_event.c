/*
 * Tests for sink/event.c: the event JSON, read back with yajl_tree.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "hark/event.h"
#include "hark/item.h"
#include "hark/post.h"

/* 2026-11-01T12:00:00.123Z */
#define T_EMIT 1793534400123LL

static struct hark_item *make_item(void)
{
    struct hark_post *post = hark_post_new();
    post->id = hark_xstrdup("109876");
    post->platform = hark_xstrdup("mastodon");
    post->source = hark_xstrdup("acme-tag");
    post->url = hark_xstrdup("https://mastodon.social/@alice/109876");
    post->created_at = hark_xstrdup("2026-11-01T11:59:00.000Z");
    free(post->text);
    post->text = hark_xstrdup("my acme router died again, refund please");
    post->author.id = hark_xstrdup("4242");
    post->author.handle = hark_xstrdup("alice@mastodon.social");
    post->author.followers = 12;

    struct hark_item *item = hark_item_new(post);
    item->rules_version = hark_xstrdup("r-2026-11-01");
    struct hark_match *m = hark_item_add_match(item, "care.refund");
    hark_strv_add(&m->tags, "intent:refund", strlen("intent:refund"));
    hark_match_add_span(m, HARK_FIELD_TEXT, 34, 40);
    hark_match_add_span(m, HARK_FIELD_TEXT, 3, 7);
    hark_strv_add(&item->tags, "intent:refund", strlen("intent:refund"));
    hark_strv_add(&item->author_tags, "vip", 3);
    item->action = HARK_ACTION_ENGAGE;
    item->sentiment.score = -0.5719;
    item->sentiment.label = HARK_SENTIMENT_NEGATIVE;
    hark_sentiment_add_term(&item->sentiment, "died", 4, -0.55);

    item->has_customer = true;
    item->customer.id = hark_xstrdup("C-001");
    item->customer.name = hark_xstrdup("Alice Example");
    item->customer.tier = hark_xstrdup("gold");
    item->customer.segment = hark_xstrdup("smb");
    item->customer.clv = 1234.5;
    item->customer.revenue_12m = 300.25;
    item->customer.referrals = 2;
    item->customer.recommendations = 1;
    item->customer.introductions = 0;
    item->customer.positive_mentions = 5;
    item->customer.export_mask = ~0U;

    item->relationship.monetary = 0.6;
    item->relationship.relational = 0.25;
    item->relationship.total = 0.85;
    item->priority.score = 72.5;
    (void)snprintf(item->priority.level, sizeof(item->priority.level), "p2");
    hark_item_add_reason(item, "rules", 40, NULL);
    hark_item_add_reason(item, "customer_value", 20, "tier gold");
    item->route_queue = hark_xstrdup("care");
    item->sla_due_ms = T_EMIT + 3600000;
    item->sla_warn_ms = T_EMIT + 2700000;
    return item;
}

static char *
build(const struct hark_item *item, const char *schema, int64_t emitted_at_ms)
{
    struct hark_buf out;
    hark_buf_init(&out, 0);
    assert_int_equal(hark_event_build(item, schema, emitted_at_ms, &out),
                     HARK_OK);
    assert_non_null(out.ptr);
    assert_null(strchr(out.ptr, '\n'));
    return hark_buf_take(&out);
}

static yajl_val parse(const char *text)
{
    char err[256];
    yajl_val v = yajl_tree_parse(text, err, sizeof(err));
    if (!v) {
        fail_msg("not JSON (%s): %s", err, text);
    }
    return v;
}

/* A member by a path of keys; array elements via at(). */
static yajl_val get(yajl_val v, const char *key)
{
    assert_non_null(v);
    const char *path[] = {key, NULL};
    return yajl_tree_get(v, path, yajl_t_any);
}

static yajl_val at(yajl_val arr, size_t i)
{
    assert_true(YAJL_IS_ARRAY(arr));
    assert_true(i < arr->u.array.len);
    return arr->u.array.values[i];
}

static void assert_str(yajl_val v, const char *want)
{
    assert_non_null(v);
    assert_true(YAJL_IS_STRING(v));
    assert_string_equal(YAJL_GET_STRING(v), want);
}

static const char *str_of(yajl_val v)
{
    assert_non_null(v);
    assert_true(YAJL_IS_STRING(v));
    const char *s = YAJL_GET_STRING(v);
    assert_non_null(s);
    return s;
}

static void assert_num(yajl_val v, double want)
{
    assert_non_null(v);
    assert_true(YAJL_IS_NUMBER(v));
    double got = YAJL_GET_DOUBLE(v);
    assert_true(got > want - 1e-9 && got < want + 1e-9);
}

static void assert_keys(yajl_val obj, const char *const *want, size_t n_want)
{
    assert_true(YAJL_IS_OBJECT(obj));
    assert_int_equal(obj->u.object.len, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_string_equal(obj->u.object.keys[i], want[i]);
    }
}

static void test_hark_event_build__fields_and_order(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    char *text = build(item, HARK_SCHEMA_ENGAGEMENT, T_EMIT);
    yajl_val ev = parse(text);

    static const char *const keys[] = {
        "schema",   "event_id",     "emitted_at",  "rules_version", "post",
        "matches",  "tags",         "author_tags", "action",        "sentiment",
        "customer", "behaviour_segment", "relationship", "priority",
        "route", "item",
    };
    assert_keys(ev, keys, sizeof(keys) / sizeof(keys[0]));
    assert_str(get(ev, "schema"), "hark.engagement/1");
    assert_int_equal(strlen(str_of(get(ev, "event_id"))), 16);
    assert_str(get(ev, "emitted_at"), "2026-11-01T12:00:00.123Z");
    assert_str(get(ev, "rules_version"), "r-2026-11-01");
    assert_str(get(get(ev, "post"), "id"), "109876");
    assert_str(get(get(get(ev, "post"), "author"), "handle"),
               "alice@mastodon.social");

    yajl_val matches = get(ev, "matches");
    assert_int_equal(matches->u.array.len, 1);
    yajl_val m = at(matches, 0);
    assert_str(get(m, "rule"), "care.refund");
    assert_str(at(get(m, "tags"), 0), "intent:refund");
    yajl_val spans = get(m, "spans");
    assert_int_equal(spans->u.array.len, 2);
    static const char *const span_keys[] = {"field", "start", "end"};
    assert_keys(at(spans, 0), span_keys, 3);
    assert_str(get(at(spans, 0), "field"), "text");
    assert_num(get(at(spans, 0), "start"), 34);
    assert_num(get(at(spans, 0), "end"), 40);
    assert_num(get(at(spans, 1), "start"), 3);

    assert_str(at(get(ev, "tags"), 0), "intent:refund");
    assert_str(at(get(ev, "author_tags"), 0), "vip");
    assert_str(get(ev, "action"), "engage");

    yajl_val sent = get(ev, "sentiment");
    assert_num(get(sent, "score"), -0.5719);
    assert_str(get(sent, "label"), "negative");
    assert_str(get(at(get(sent, "terms"), 0), "term"), "died");
    assert_num(get(at(get(sent, "terms"), 0), "valence"), -0.55);

    yajl_val cust = get(ev, "customer");
    static const char *const cust_keys[] = {
        "id",
        "name",
        "tier",
        "segment",
        "clv",
        "revenue_12m",
        "referrals",
        "recommendations",
        "introductions",
        "positive_mentions",
        "match",
    };
    assert_keys(cust, cust_keys, sizeof(cust_keys) / sizeof(cust_keys[0]));
    assert_str(get(cust, "id"), "C-001");
    assert_num(get(cust, "clv"), 1234.5);
    assert_num(get(cust, "positive_mentions"), 5);
    assert_str(get(cust, "match"), "id");

    assert_num(get(get(ev, "relationship"), "total"), 0.85);
    yajl_val prio = get(ev, "priority");
    assert_num(get(prio, "score"), 72.5);
    assert_str(get(prio, "level"), "p2");
    assert_true(YAJL_IS_FALSE(get(prio, "clamped")));
    yajl_val reasons = get(prio, "reasons");
    assert_int_equal(reasons->u.array.len, 2);
    assert_str(get(at(reasons, 0), "factor"), "rules");
    assert_true(YAJL_IS_NULL(get(at(reasons, 0), "detail")));
    assert_str(get(at(reasons, 1), "detail"), "tier gold");
    assert_num(get(at(reasons, 1), "points"), 20);

    yajl_val route = get(ev, "route");
    assert_str(get(route, "queue"), "care");
    assert_str(get(route, "sla_due"), "2026-11-01T13:00:00.123Z");
    assert_str(get(route, "sla_warn_at"), "2026-11-01T12:45:00.123Z");

    yajl_tree_free(ev);
    free(text);
    hark_item_free(item);
}

static void test_hark_event_build__appends_and_omits_emitted_at(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    struct hark_buf out;
    hark_buf_init(&out, 0);
    assert_int_equal(hark_buf_add(&out, "X", 1), HARK_OK);
    assert_int_equal(hark_event_build(item, HARK_SCHEMA_POST, 0, &out),
                     HARK_OK);
    assert_int_equal(out.ptr[0], 'X');
    yajl_val ev = parse(out.ptr + 1);
    assert_null(get(ev, "emitted_at"));
    assert_str(get(ev, "schema"), "hark.post/1");
    yajl_tree_free(ev);
    hark_buf_cleanup(&out);
    hark_item_free(item);
}

static void test_hark_event_build__buffer_limit(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    struct hark_buf out;
    hark_buf_init(&out, 64);
    assert_int_equal(hark_event_build(item, HARK_SCHEMA_POST, T_EMIT, &out),
                     HARK_ELIMIT);
    assert_int_equal(out.len, 0);
    hark_buf_cleanup(&out);
    hark_item_free(item);
}

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void test_hark_event_id__documented_hash(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    static const char input[] = "mastodon\x1f"
                                "109876\x1f"
                                "2026-11-01T11:59:00.000Z\x1f"
                                "hark.post/1";
    char want[17];
    (void)snprintf(want, sizeof(want), "%016" PRIx64,
                   fnv(0xcbf29ce484222325ULL, input, sizeof(input) - 1));
    char id[17];
    hark_event_id(item, HARK_SCHEMA_POST, id);
    assert_string_equal(id, want);
    hark_item_free(item);
}

static void test_hark_event_id__stable_across_runs_and_reloads(void **state)
{
    (void)state;
    struct hark_item *a = make_item();
    struct hark_item *b = make_item();
    free(b->rules_version);
    b->rules_version = hark_xstrdup("r-2026-12-24");
    b->priority.score = 10;
    char id_a[17];
    char id_b[17];
    hark_event_id(a, HARK_SCHEMA_ENGAGEMENT, id_a);
    hark_event_id(b, HARK_SCHEMA_ENGAGEMENT, id_b);
    assert_string_equal(id_a, id_b);

    /* And the events built at different times carry that same id. */
    char *ta = build(a, HARK_SCHEMA_ENGAGEMENT, T_EMIT);
    char *tb = build(b, HARK_SCHEMA_ENGAGEMENT, T_EMIT + 99999);
    yajl_val ea = parse(ta);
    yajl_val eb = parse(tb);
    assert_str(get(ea, "event_id"), id_a);
    assert_str(get(eb, "event_id"), id_a);
    yajl_tree_free(ea);
    yajl_tree_free(eb);
    free(ta);
    free(tb);
    hark_item_free(a);
    hark_item_free(b);
}

static void test_hark_event_id__differs_by_schema_revision_post(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    char post_id[17];
    char eng_id[17];
    char edited_id[17];
    char other_id[17];
    hark_event_id(item, HARK_SCHEMA_POST, post_id);
    hark_event_id(item, HARK_SCHEMA_ENGAGEMENT, eng_id);
    assert_string_not_equal(post_id, eng_id);

    item->post->edited_at = hark_xstrdup("2026-11-01T12:30:00.000Z");
    hark_event_id(item, HARK_SCHEMA_POST, edited_id);
    assert_string_not_equal(post_id, edited_id);

    free(item->post->id);
    item->post->id = hark_xstrdup("109877");
    hark_event_id(item, HARK_SCHEMA_POST, other_id);
    assert_string_not_equal(edited_id, other_id);
    hark_item_free(item);
}

static void test_hark_event_build__tombstone(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    char live_id[17];
    hark_event_id(item, HARK_SCHEMA_POST, live_id);
    item->post->is_deleted = true;
    char *text = build(item, HARK_SCHEMA_POST, T_EMIT);
    yajl_val ev = parse(text);
    static const char *const keys[] = {"schema", "event_id", "emitted_at",
                                       "rules_version", "post", "deleted"};
    assert_keys(ev, keys, 6);
    static const char *const post_keys[] = {"id", "platform"};
    assert_keys(get(ev, "post"), post_keys, 2);
    assert_str(get(get(ev, "post"), "id"), "109876");
    assert_str(get(get(ev, "post"), "platform"), "mastodon");
    assert_true(YAJL_IS_TRUE(get(ev, "deleted")));
    /* A consumer deduplicating on event_id must not drop the deletion. */
    assert_string_not_equal(str_of(get(ev, "event_id")), live_id);
    yajl_tree_free(ev);
    free(text);
    hark_item_free(item);
}

static void test_hark_event_build__customer_export_mask(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    item->customer.export_mask = HARK_CUST_F_ID | HARK_CUST_F_TIER;
    item->customer.is_handle_match = true;
    char *text = build(item, HARK_SCHEMA_ENGAGEMENT, T_EMIT);
    yajl_val ev = parse(text);
    static const char *const keys[] = {"id", "tier", "match"};
    assert_keys(get(ev, "customer"), keys, 3);
    assert_str(get(get(ev, "customer"), "match"), "handle");
    assert_null(strstr(text, "Alice Example"));
    assert_null(strstr(text, "1234.5"));
    yajl_tree_free(ev);
    free(text);
    hark_item_free(item);
}

static void test_hark_event_build__stranger_and_no_route(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    hark_customer_view_cleanup(&item->customer);
    item->has_customer = false;
    free(item->route_queue);
    item->route_queue = NULL;
    item->sla_due_ms = 0;
    char *text = build(item, HARK_SCHEMA_POST, T_EMIT);
    yajl_val ev = parse(text);
    assert_true(YAJL_IS_NULL(get(ev, "customer")));
    assert_true(YAJL_IS_NULL(get(ev, "route")));
    yajl_tree_free(ev);
    free(text);
    hark_item_free(item);
}

static void test_hark_event_gen_parts__inside_callers_map(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    struct hark_buf out;
    struct hark_jw jw;
    hark_buf_init(&out, 0);
    hark_jw_init(&jw, &out);
    hark_jw_map_open(&jw);
    hark_jw_kv_int(&jw, "line", 7);
    hark_event_gen_parts(&jw, item);
    hark_jw_map_close(&jw);
    assert_int_equal(jw.depth, 0);
    char *text = hark_buf_take(&out);
    yajl_val v = parse(text);
    static const char *const keys[] = {
        "line",         "post",     "matches",   "tags",
        "author_tags",  "action",   "sentiment", "customer",
        "behaviour_segment", "relationship", "priority", "route", "item",
    };
    assert_keys(v, keys, sizeof(keys) / sizeof(keys[0]));
    yajl_tree_free(v);
    free(text);
    hark_item_free(item);
}

static void test_hark_event_key__customer_then_author(void **state)
{
    (void)state;
    struct hark_item *item = make_item();
    struct hark_buf key;
    hark_buf_init(&key, 0);
    hark_event_key(item, &key);
    assert_string_equal(key.ptr, "C-001");

    item->has_customer = false;
    hark_buf_reset(&key);
    hark_event_key(item, &key);
    assert_string_equal(key.ptr, "mastodon:4242");

    free(item->post->author.id);
    item->post->author.id = NULL;
    hark_buf_reset(&key);
    hark_event_key(item, &key);
    assert_string_equal(key.ptr, "mastodon:alice@mastodon.social");
    hark_buf_cleanup(&key);
    hark_item_free(item);
}

static char *
dlq(const char *raw, size_t raw_len, size_t max_raw, const char *reason)
{
    struct hark_buf out;
    hark_buf_init(&out, 0);
    assert_int_equal(hark_event_dlq("acme-tag", "https://x.example/api?p=1",
                                    reason, raw, raw_len, max_raw, T_EMIT,
                                    &out),
                     HARK_OK);
    return hark_buf_take(&out);
}

static void test_hark_event_dlq__shape(void **state)
{
    (void)state;
    char *text = dlq("{oops", 5, 100, "parse error at byte 5");
    yajl_val ev = parse(text);
    static const char *const keys[] = {
        "schema", "event_id", "emitted_at",    "source",  "url",
        "reason", "raw",      "raw_truncated", "raw_len",
    };
    assert_keys(ev, keys, sizeof(keys) / sizeof(keys[0]));
    assert_str(get(ev, "schema"), "hark.dlq/1");
    assert_str(get(ev, "source"), "acme-tag");
    assert_str(get(ev, "url"), "https://x.example/api?p=1");
    assert_str(get(ev, "reason"), "parse error at byte 5");
    assert_str(get(ev, "raw"), "{oops");
    assert_true(YAJL_IS_FALSE(get(ev, "raw_truncated")));
    assert_num(get(ev, "raw_len"), 5);
    yajl_tree_free(ev);
    free(text);
}

static void test_hark_event_dlq__truncates_on_utf8_boundary(void **state)
{
    (void)state;
    static const char raw[] = "ab\xe2\x82\xac"
                              "cd"; /* "ab€cd", 7 bytes */
    for (size_t max = 2; max <= 4; max++) {
        char *text = dlq(raw, 7, max, "r");
        yajl_val ev = parse(text); /* yajl_tree validates UTF-8 */
        assert_str(get(ev, "raw"), "ab");
        assert_true(YAJL_IS_TRUE(get(ev, "raw_truncated")));
        assert_num(get(ev, "raw_len"), 7);
        yajl_tree_free(ev);
        free(text);
    }
    char *text = dlq(raw, 7, 5, "r");
    yajl_val ev = parse(text);
    assert_str(get(ev, "raw"), "ab\xe2\x82\xac");
    yajl_tree_free(ev);
    free(text);
}

static void test_hark_event_dlq__repairs_and_keeps_nul(void **state)
{
    (void)state;
    static const char raw[] = "a\xff"
                              "b\0c";
    char *text = dlq(raw, 5, 100, "r");
    yajl_val ev = parse(text);
    yajl_tree_free(ev);
    assert_non_null(strstr(text, "\"raw\":\"a\xef\xbf\xbd"
                                 "b\\u0000c\""));
    free(text);
}

static void test_hark_event_dlq__event_id(void **state)
{
    (void)state;
    char *a = dlq("{oops", 5, 100, "reason one");
    char *b = dlq("{oops", 5, 100, "reason one");
    char *c = dlq("{oops", 5, 100, "reason two");
    char *d = dlq("{oopz", 5, 100, "reason one");
    yajl_val ea = parse(a);
    yajl_val eb = parse(b);
    yajl_val ec = parse(c);
    yajl_val ed = parse(d);
    const char *ia = str_of(get(ea, "event_id"));
    assert_int_equal(strlen(ia), 16);
    assert_string_equal(ia, str_of(get(eb, "event_id")));
    assert_string_not_equal(ia, str_of(get(ec, "event_id")));
    assert_string_not_equal(ia, str_of(get(ed, "event_id")));
    yajl_tree_free(ea);
    yajl_tree_free(eb);
    yajl_tree_free(ec);
    yajl_tree_free(ed);
    free(a);
    free(b);
    free(c);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_event_build__fields_and_order),
        cmocka_unit_test(test_hark_event_build__appends_and_omits_emitted_at),
        cmocka_unit_test(test_hark_event_build__buffer_limit),
        cmocka_unit_test(test_hark_event_id__documented_hash),
        cmocka_unit_test(test_hark_event_id__stable_across_runs_and_reloads),
        cmocka_unit_test(test_hark_event_id__differs_by_schema_revision_post),
        cmocka_unit_test(test_hark_event_build__tombstone),
        cmocka_unit_test(test_hark_event_build__customer_export_mask),
        cmocka_unit_test(test_hark_event_build__stranger_and_no_route),
        cmocka_unit_test(test_hark_event_gen_parts__inside_callers_map),
        cmocka_unit_test(test_hark_event_key__customer_then_author),
        cmocka_unit_test(test_hark_event_dlq__shape),
        cmocka_unit_test(test_hark_event_dlq__truncates_on_utf8_boundary),
        cmocka_unit_test(test_hark_event_dlq__repairs_and_keeps_nul),
        cmocka_unit_test(test_hark_event_dlq__event_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
