/*
 * event: the JSON events hark publishes (DESIGN.md "Events").
 *
 * Every writer here uses one compact yajl_gen and the hark_gen_* helpers of
 * core/post.c, so a part has the same shape in an event and in `hark try
 * --json`. Strings in an item are valid UTF-8 already (ingest repairs
 * them), so yajl's own UTF-8 validation stays off; the DLQ's raw bytes are
 * the one untrusted string, and they are repaired here before writing.
 *
 * Event ids hash the fields that name a post revision, separated by a 0x1f
 * byte (ASCII unit separator, which cannot occur in ids or timestamps), so
 * ("ab", "c") and ("a", "bc") never collide by concatenation. Nothing that
 * changes between runs or reloads (rules_version, the clock) goes in.
 */
#include "hark/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "hark/post.h"

#define SEP 0x1f

static uint64_t hash_field(uint64_t h, const char *s, size_t len, bool has_sep)
{
    if (has_sep) {
        unsigned char sep = SEP;
        h = hark_hash64(&sep, 1, h);
    }
    if (s && len > 0) {
        h = hark_hash64(s, len, h);
    }
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s, bool has_sep)
{
    return hash_field(h, s, s ? strlen(s) : 0, has_sep);
}

static void format_id(uint64_t h, char out[17])
{
    (void)snprintf(out, 17, "%016" PRIx64, h);
}

void hark_event_id(const struct hark_item *item,
                   const char *schema,
                   char out[17])
{
    hark_assert(item && item->post && schema);
    const struct hark_post *post = item->post;
    uint64_t h = HARK_HASH_SEED;
    h = hash_str(h, post->platform, false);
    h = hash_str(h, post->id, true);
    h = hash_str(h, hark_post_revision(post), true);
    h = hash_str(h, schema, true);
    if (post->is_deleted) {
        /*
         * A tombstone often carries the revision of the post it deletes;
         * without this it would share that event's id and be dropped by
         * any consumer that deduplicates on event_id.
         */
        h = hash_str(h, "deleted", true);
    }
    format_id(h, out);
}

void hark_event_key(const struct hark_item *item, struct hark_buf *out)
{
    hark_assert(item && item->post && out);
    const struct hark_post *post = item->post;
    hark_err_t err;
    if (item->has_customer && item->customer.id) {
        err = hark_buf_add(out, item->customer.id, strlen(item->customer.id));
    } else {
        const char *who =
            post->author.id ? post->author.id : post->author.handle;
        err = hark_buf_printf(
            out, "%s:%s", post->platform ? post->platform : "", who ? who : "");
    }
    /* A key is short; a buffer too small for it is a caller's bug. */
    hark_assert(err == HARK_OK);
}

static void gen_strv(yajl_gen gen, const struct hark_strv *sv)
{
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < sv->n; i++) {
        hark_gen_str(gen, sv->v[i]);
    }
    yajl_gen_array_close(gen);
}

static void gen_matches(yajl_gen gen, const struct hark_item *item)
{
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < item->n_matches; i++) {
        const struct hark_match *m = &item->matches[i];
        yajl_gen_map_open(gen);
        hark_gen_key(gen, "rule");
        hark_gen_str(gen, m->rule);
        hark_gen_key(gen, "tags");
        gen_strv(gen, &m->tags);
        hark_gen_key(gen, "spans");
        yajl_gen_array_open(gen);
        for (size_t j = 0; j < m->n_spans; j++) {
            const struct hark_span *sp = &m->spans[j];
            yajl_gen_map_open(gen);
            hark_gen_key(gen, "field");
            hark_gen_str(gen, hark_field_name(sp->field));
            hark_gen_key(gen, "start");
            hark_gen_int(gen, sp->start);
            hark_gen_key(gen, "end");
            hark_gen_int(gen, sp->end);
            yajl_gen_map_close(gen);
        }
        yajl_gen_array_close(gen);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
}

static void gen_sentiment(yajl_gen gen, const struct hark_sentiment *s)
{
    yajl_gen_map_open(gen);
    hark_gen_key(gen, "score");
    hark_gen_double(gen, s->score);
    hark_gen_key(gen, "label");
    hark_gen_str(gen, hark_sentiment_label_name(s->label));
    hark_gen_key(gen, "terms");
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < s->n_terms; i++) {
        yajl_gen_map_open(gen);
        hark_gen_key(gen, "term");
        hark_gen_str(gen, s->terms[i].term);
        hark_gen_key(gen, "valence");
        hark_gen_double(gen, s->terms[i].valence);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
    yajl_gen_map_close(gen);
}

/* Only the fields customers.export lets out; `match` always. */
static void gen_customer(yajl_gen gen, const struct hark_item *item)
{
    if (!item->has_customer) {
        hark_gen_null(gen);
        return;
    }
    const struct hark_customer_view *c = &item->customer;
    unsigned mask = c->export_mask;
    yajl_gen_map_open(gen);
    if (mask & HARK_CUST_F_ID) {
        hark_gen_key(gen, "id");
        hark_gen_str(gen, c->id);
    }
    if (mask & HARK_CUST_F_NAME) {
        hark_gen_key(gen, "name");
        hark_gen_str(gen, c->name);
    }
    if (mask & HARK_CUST_F_TIER) {
        hark_gen_key(gen, "tier");
        hark_gen_str(gen, c->tier);
    }
    if (mask & HARK_CUST_F_SEGMENT) {
        hark_gen_key(gen, "segment");
        hark_gen_str(gen, c->segment);
    }
    if (mask & HARK_CUST_F_CLV) {
        hark_gen_key(gen, "clv");
        hark_gen_double(gen, c->clv);
    }
    if (mask & HARK_CUST_F_REVENUE) {
        hark_gen_key(gen, "revenue_12m");
        hark_gen_double(gen, c->revenue_12m);
    }
    if (mask & HARK_CUST_F_COUNTS) {
        hark_gen_key(gen, "referrals");
        hark_gen_int(gen, c->referrals);
        hark_gen_key(gen, "recommendations");
        hark_gen_int(gen, c->recommendations);
        hark_gen_key(gen, "introductions");
        hark_gen_int(gen, c->introductions);
        hark_gen_key(gen, "positive_mentions");
        hark_gen_int(gen, c->positive_mentions);
    }
    hark_gen_key(gen, "match");
    hark_gen_str(gen, c->is_handle_match ? "handle" : "id");
    yajl_gen_map_close(gen);
}

static void gen_relationship(yajl_gen gen, const struct hark_relationship *r)
{
    yajl_gen_map_open(gen);
    hark_gen_key(gen, "monetary");
    hark_gen_double(gen, r->monetary);
    hark_gen_key(gen, "relational");
    hark_gen_double(gen, r->relational);
    hark_gen_key(gen, "total");
    hark_gen_double(gen, r->total);
    yajl_gen_map_close(gen);
}

static void gen_priority(yajl_gen gen, const struct hark_priority *p)
{
    yajl_gen_map_open(gen);
    hark_gen_key(gen, "score");
    hark_gen_double(gen, p->score);
    hark_gen_key(gen, "level");
    hark_gen_strn(gen, p->level, strnlen(p->level, sizeof(p->level)));
    hark_gen_key(gen, "reasons");
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < p->n_reasons; i++) {
        const struct hark_reason *r = &p->reasons[i];
        yajl_gen_map_open(gen);
        hark_gen_key(gen, "factor");
        hark_gen_str(gen, r->factor);
        hark_gen_key(gen, "points");
        hark_gen_double(gen, r->points);
        hark_gen_key(gen, "detail");
        hark_gen_str(gen, r->detail);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
    hark_gen_key(gen, "clamped");
    hark_gen_bool(gen, p->is_clamped);
    yajl_gen_map_close(gen);
}

static void gen_time(yajl_gen gen, int64_t epoch_ms)
{
    char ts[32];
    hark_time_format(epoch_ms, ts);
    hark_gen_str(gen, ts);
}

/* The engagement item a post belongs to (conversation grouping). */
static void gen_item_part(yajl_gen gen, const struct hark_item *item)
{
    if (!item->item_id) {
        hark_gen_null(gen);
        return;
    }
    yajl_gen_map_open(gen);
    hark_gen_key(gen, "id");
    hark_gen_str(gen, item->item_id);
    hark_gen_key(gen, "sequence");
    hark_gen_int(gen, item->item_seq);
    hark_gen_key(gen, "status");
    hark_gen_str(gen, hark_item_status_name(item->item_status));
    hark_gen_key(gen, "opened_at");
    gen_time(gen, item->item_opened_ms);
    hark_gen_key(gen, "first_unanswered_at");
    if (item->item_first_unanswered_ms) {
        gen_time(gen, item->item_first_unanswered_ms);
    } else {
        hark_gen_null(gen);
    }
    yajl_gen_map_close(gen);
}

static void gen_route(yajl_gen gen, const struct hark_item *item)
{
    if (!item->route_queue) {
        hark_gen_null(gen);
        return;
    }
    yajl_gen_map_open(gen);
    hark_gen_key(gen, "queue");
    hark_gen_str(gen, item->route_queue);
    hark_gen_key(gen, "sla_due");
    if (item->sla_due_ms != 0) {
        gen_time(gen, item->sla_due_ms);
    } else {
        hark_gen_null(gen);
    }
    yajl_gen_map_close(gen);
}

void hark_event_gen_parts(yajl_gen gen, const struct hark_item *item)
{
    hark_assert(gen && item && item->post);
    hark_gen_key(gen, "post");
    hark_post_gen(gen, item->post);
    hark_gen_key(gen, "matches");
    gen_matches(gen, item);
    hark_gen_key(gen, "tags");
    gen_strv(gen, &item->tags);
    hark_gen_key(gen, "author_tags");
    gen_strv(gen, &item->author_tags);
    hark_gen_key(gen, "action");
    hark_gen_str(gen, hark_action_name(item->action));
    hark_gen_key(gen, "sentiment");
    gen_sentiment(gen, &item->sentiment);
    hark_gen_key(gen, "customer");
    gen_customer(gen, item);
    /* Derived from the author's behaviour, beside the CRM segment. */
    hark_gen_key(gen, "behaviour_segment");
    hark_gen_str(gen, item->behaviour_segment);
    hark_gen_key(gen, "relationship");
    gen_relationship(gen, &item->relationship);
    hark_gen_key(gen, "priority");
    gen_priority(gen, &item->priority);
    hark_gen_key(gen, "route");
    gen_route(gen, item);
    hark_gen_key(gen, "item");
    gen_item_part(gen, item);
}

static yajl_gen gen_new(void)
{
    yajl_gen gen = yajl_gen_alloc(NULL);
    hark_assert(gen);
    yajl_gen_config(gen, yajl_gen_beautify, 0);
    yajl_gen_config(gen, yajl_gen_validate_utf8, 0);
    return gen;
}

/*
 * Closes the outer map, appends the text to `out` and frees `gen`. A
 * generator in a bad state (a key where a value belongs) is our bug.
 */
static hark_err_t gen_finish(yajl_gen gen, struct hark_buf *out)
{
    hark_err_t err = HARK_EINTERNAL;
    const unsigned char *text = NULL;
    size_t text_len = 0;
    if (yajl_gen_map_close(gen) == yajl_gen_status_ok &&
        yajl_gen_get_buf(gen, &text, &text_len) == yajl_gen_status_ok) {
        err = hark_buf_add(out, text, text_len);
    }
    yajl_gen_free(gen);
    return err;
}

static void gen_header(yajl_gen gen,
                       const char *schema,
                       const char *event_id,
                       int64_t emitted_at_ms)
{
    hark_gen_key(gen, "schema");
    hark_gen_str(gen, schema);
    hark_gen_key(gen, "event_id");
    hark_gen_str(gen, event_id);
    if (emitted_at_ms != 0) {
        hark_gen_key(gen, "emitted_at");
        gen_time(gen, emitted_at_ms);
    }
}

hark_err_t hark_event_build(const struct hark_item *item,
                            const char *schema,
                            int64_t emitted_at_ms,
                            struct hark_buf *out)
{
    hark_assert(item && item->post && schema && out);
    const struct hark_post *post = item->post;
    char event_id[17];
    hark_event_id(item, schema, event_id);

    yajl_gen gen = gen_new();
    yajl_gen_map_open(gen);
    gen_header(gen, schema, event_id, emitted_at_ms);
    /* Every event, tombstones too, says which rule set saw it. */
    hark_gen_key(gen, "rules_version");
    hark_gen_str(gen, item->rules_version);
    if (post->is_deleted) {
        hark_gen_key(gen, "post");
        yajl_gen_map_open(gen);
        hark_gen_key(gen, "id");
        hark_gen_str(gen, post->id);
        hark_gen_key(gen, "platform");
        hark_gen_str(gen, post->platform);
        yajl_gen_map_close(gen);
        hark_gen_key(gen, "deleted");
        hark_gen_bool(gen, true);
    } else {
        hark_event_gen_parts(gen, item);
    }
    return gen_finish(gen, out);
}

/*
 * Where to cut `raw` so that at most `max` bytes remain and no UTF-8
 * sequence is split: back off over continuation bytes (at most three, the
 * longest tail of a valid sequence; beyond that the input is not UTF-8
 * anyway and repair takes care of it).
 */
static size_t utf8_cut(const char *raw, size_t raw_len, size_t max)
{
    if (raw_len <= max) {
        return raw_len;
    }
    size_t cut = max;
    for (int i = 0; i < 3 && cut > 0; i++) {
        if (((unsigned char)raw[cut] & 0xc0) != 0x80) {
            break;
        }
        cut--;
    }
    if (cut > 0 && ((unsigned char)raw[cut] & 0xc0) == 0x80) {
        cut = max;
    }
    return cut;
}

/*
 * Repairs raw[0..len) into `out`. hark_utf8_repair returns a C string, so
 * raw bytes with NULs in them (binary garbage is a DLQ's daily bread) are
 * repaired piece by piece and the NULs kept; yajl writes them as \u0000.
 */
static void repair_into(const char *raw, size_t len, struct hark_buf *out)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nul = memchr(raw + pos, '\0', len - pos);
        size_t piece = nul ? (size_t)(nul - (raw + pos)) : len - pos;
        unsigned n_repaired = 0;
        char *fixed = hark_utf8_repair(raw + pos, piece, &n_repaired);
        hark_err_t err = hark_buf_add(out, fixed, strlen(fixed));
        free(fixed);
        if (err == HARK_OK && nul) {
            err = hark_buf_addc(out, '\0');
        }
        hark_assert(err == HARK_OK); /* unbounded buffer */
        pos += piece + (nul ? 1 : 0);
    }
}

hark_err_t hark_event_dlq(const char *source,
                          const char *url,
                          const char *reason,
                          const char *raw,
                          size_t raw_len,
                          size_t max_raw,
                          int64_t emitted_at_ms,
                          struct hark_buf *out)
{
    hark_assert(out && (raw || raw_len == 0));
    uint64_t h = HARK_HASH_SEED;
    h = hash_str(h, HARK_SCHEMA_DLQ, false);
    h = hash_str(h, source, true);
    h = hash_str(h, reason, true);
    h = hash_field(h, raw, raw_len, true);
    char event_id[17];
    format_id(h, event_id);

    size_t cut = utf8_cut(raw, raw_len, max_raw);
    struct hark_buf fixed;
    hark_buf_init(&fixed, 0);
    const char *text = raw;
    size_t text_len = cut;
    if (cut > 0 && !hark_utf8_valid(raw, cut)) {
        repair_into(raw, cut, &fixed);
        text = fixed.ptr;
        text_len = fixed.len;
    }

    yajl_gen gen = gen_new();
    yajl_gen_map_open(gen);
    gen_header(gen, HARK_SCHEMA_DLQ, event_id, emitted_at_ms);
    hark_gen_key(gen, "source");
    hark_gen_str(gen, source);
    hark_gen_key(gen, "url");
    hark_gen_str(gen, url);
    hark_gen_key(gen, "reason");
    hark_gen_str(gen, reason);
    hark_gen_key(gen, "raw");
    hark_gen_strn(gen, text ? text : "", text_len);
    hark_gen_key(gen, "raw_truncated");
    hark_gen_bool(gen, cut < raw_len);
    hark_gen_key(gen, "raw_len");
    hark_gen_int(gen, (int64_t)raw_len);
    hark_err_t err = gen_finish(gen, out);
    hark_buf_cleanup(&fixed);
    return err;
}
