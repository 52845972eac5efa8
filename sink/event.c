/*
 * event: the JSON events hark publishes (DESIGN.md "Events").
 *
 * Every writer here uses the JSON writer of core/jw.c and hark_post_gen,
 * so a part has the same shape in an event and in `hark try --json`.
 * Strings in an item are valid UTF-8 already (ingest repairs them), and
 * the writer does not validate; the DLQ's raw bytes are the one untrusted
 * string, and they are repaired here before writing.
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

#include "hark/jw.h"
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

static void gen_strv(struct hark_jw *gen, const struct hark_strv *sv)
{
    hark_jw_array_open(gen);
    for (size_t i = 0; i < sv->n; i++) {
        hark_jw_str(gen, sv->v[i]);
    }
    hark_jw_array_close(gen);
}

static void gen_matches(struct hark_jw *gen, const struct hark_item *item)
{
    hark_jw_array_open(gen);
    for (size_t i = 0; i < item->n_matches; i++) {
        const struct hark_match *m = &item->matches[i];
        hark_jw_map_open(gen);
        HARK_JW_KEY(gen, "rule");
        hark_jw_str(gen, m->rule);
        HARK_JW_KEY(gen, "tags");
        gen_strv(gen, &m->tags);
        HARK_JW_KEY(gen, "spans");
        hark_jw_array_open(gen);
        for (size_t j = 0; j < m->n_spans; j++) {
            const struct hark_span *sp = &m->spans[j];
            hark_jw_map_open(gen);
            HARK_JW_KEY(gen, "field");
            hark_jw_str(gen, hark_field_name(sp->field));
            HARK_JW_KEY(gen, "start");
            hark_jw_int(gen, sp->start);
            HARK_JW_KEY(gen, "end");
            hark_jw_int(gen, sp->end);
            hark_jw_map_close(gen);
        }
        hark_jw_array_close(gen);
        hark_jw_map_close(gen);
    }
    hark_jw_array_close(gen);
}

static void gen_sentiment(struct hark_jw *gen, const struct hark_sentiment *s)
{
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "score");
    hark_jw_double(gen, s->score);
    HARK_JW_KEY(gen, "label");
    hark_jw_str(gen, hark_sentiment_label_name(s->label));
    HARK_JW_KEY(gen, "terms");
    hark_jw_array_open(gen);
    for (size_t i = 0; i < s->n_terms; i++) {
        hark_jw_map_open(gen);
        HARK_JW_KEY(gen, "term");
        hark_jw_str(gen, s->terms[i].term);
        HARK_JW_KEY(gen, "valence");
        hark_jw_double(gen, s->terms[i].valence);
        hark_jw_map_close(gen);
    }
    hark_jw_array_close(gen);
    hark_jw_map_close(gen);
}

/* Only the fields customers.export lets out; `match` always. */
static void gen_customer(struct hark_jw *gen, const struct hark_item *item)
{
    if (!item->has_customer) {
        hark_jw_null(gen);
        return;
    }
    const struct hark_customer_view *c = &item->customer;
    unsigned mask = c->export_mask;
    hark_jw_map_open(gen);
    if (mask & HARK_CUST_F_ID) {
        HARK_JW_KEY(gen, "id");
        hark_jw_str(gen, c->id);
    }
    if (mask & HARK_CUST_F_NAME) {
        HARK_JW_KEY(gen, "name");
        hark_jw_str(gen, c->name);
    }
    if (mask & HARK_CUST_F_TIER) {
        HARK_JW_KEY(gen, "tier");
        hark_jw_str(gen, c->tier);
    }
    if (mask & HARK_CUST_F_SEGMENT) {
        HARK_JW_KEY(gen, "segment");
        hark_jw_str(gen, c->segment);
    }
    if (mask & HARK_CUST_F_CLV) {
        HARK_JW_KEY(gen, "clv");
        hark_jw_double(gen, c->clv);
    }
    if (mask & HARK_CUST_F_REVENUE) {
        HARK_JW_KEY(gen, "revenue_12m");
        hark_jw_double(gen, c->revenue_12m);
    }
    if (mask & HARK_CUST_F_COUNTS) {
        HARK_JW_KEY(gen, "referrals");
        hark_jw_int(gen, c->referrals);
        HARK_JW_KEY(gen, "recommendations");
        hark_jw_int(gen, c->recommendations);
        HARK_JW_KEY(gen, "introductions");
        hark_jw_int(gen, c->introductions);
        HARK_JW_KEY(gen, "positive_mentions");
        hark_jw_int(gen, c->positive_mentions);
    }
    HARK_JW_KEY(gen, "match");
    hark_jw_str(gen, c->is_handle_match ? "handle" : "id");
    hark_jw_map_close(gen);
}

static void gen_relationship(struct hark_jw *gen, const struct hark_relationship *r)
{
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "monetary");
    hark_jw_double(gen, r->monetary);
    HARK_JW_KEY(gen, "relational");
    hark_jw_double(gen, r->relational);
    HARK_JW_KEY(gen, "total");
    hark_jw_double(gen, r->total);
    hark_jw_map_close(gen);
}

static void gen_priority(struct hark_jw *gen, const struct hark_priority *p)
{
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "score");
    hark_jw_double(gen, p->score);
    HARK_JW_KEY(gen, "level");
    hark_jw_strn(gen, p->level, strnlen(p->level, sizeof(p->level)));
    HARK_JW_KEY(gen, "reasons");
    hark_jw_array_open(gen);
    for (size_t i = 0; i < p->n_reasons; i++) {
        const struct hark_reason *r = &p->reasons[i];
        hark_jw_map_open(gen);
        HARK_JW_KEY(gen, "factor");
        hark_jw_str(gen, r->factor);
        HARK_JW_KEY(gen, "points");
        hark_jw_double(gen, r->points);
        HARK_JW_KEY(gen, "detail");
        hark_jw_str(gen, r->detail);
        hark_jw_map_close(gen);
    }
    hark_jw_array_close(gen);
    HARK_JW_KEY(gen, "clamped");
    hark_jw_bool(gen, p->is_clamped);
    hark_jw_map_close(gen);
}

/* The engagement item a post belongs to (conversation grouping). */
static void gen_item_part(struct hark_jw *gen, const struct hark_item *item)
{
    if (!item->item_id) {
        hark_jw_null(gen);
        return;
    }
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "id");
    hark_jw_str(gen, item->item_id);
    HARK_JW_KEY(gen, "sequence");
    hark_jw_int(gen, item->item_seq);
    HARK_JW_KEY(gen, "status");
    hark_jw_str(gen, hark_item_status_name(item->item_status));
    HARK_JW_KEY(gen, "opened_at");
    hark_jw_time(gen, item->item_opened_ms);
    HARK_JW_KEY(gen, "first_unanswered_at");
    if (item->item_first_unanswered_ms) {
        hark_jw_time(gen, item->item_first_unanswered_ms);
    } else {
        hark_jw_null(gen);
    }
    hark_jw_map_close(gen);
}

static void gen_route(struct hark_jw *gen, const struct hark_item *item)
{
    if (!item->route_queue) {
        hark_jw_null(gen);
        return;
    }
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "queue");
    hark_jw_str(gen, item->route_queue);
    HARK_JW_KEY(gen, "sla_due");
    if (item->sla_due_ms != 0) {
        hark_jw_time(gen, item->sla_due_ms);
    } else {
        hark_jw_null(gen);
    }
    HARK_JW_KEY(gen, "sla_warn_at");
    if (item->sla_warn_ms != 0) {
        hark_jw_time(gen, item->sla_warn_ms);
    } else {
        hark_jw_null(gen);
    }
    hark_jw_map_close(gen);
}

void hark_event_gen_parts(struct hark_jw *gen, const struct hark_item *item)
{
    hark_assert(gen && item && item->post);
    HARK_JW_KEY(gen, "post");
    hark_post_gen(gen, item->post);
    HARK_JW_KEY(gen, "matches");
    gen_matches(gen, item);
    HARK_JW_KEY(gen, "tags");
    gen_strv(gen, &item->tags);
    HARK_JW_KEY(gen, "author_tags");
    gen_strv(gen, &item->author_tags);
    HARK_JW_KEY(gen, "action");
    hark_jw_str(gen, hark_action_name(item->action));
    HARK_JW_KEY(gen, "sentiment");
    gen_sentiment(gen, &item->sentiment);
    HARK_JW_KEY(gen, "customer");
    gen_customer(gen, item);
    /* Derived from the author's behaviour, beside the CRM segment. */
    HARK_JW_KEY(gen, "behaviour_segment");
    hark_jw_str(gen, item->behaviour_segment);
    HARK_JW_KEY(gen, "relationship");
    gen_relationship(gen, &item->relationship);
    HARK_JW_KEY(gen, "priority");
    gen_priority(gen, &item->priority);
    HARK_JW_KEY(gen, "route");
    gen_route(gen, item);
    HARK_JW_KEY(gen, "item");
    gen_item_part(gen, item);
}

/*
 * Where an event is written: straight into `out` when it is unbounded,
 * else into `tmp`, copied by gen_finish (which then enforces the limit and
 * leaves `out` unchanged when the event does not fit).
 */
static void gen_start(struct hark_jw *gen, struct hark_buf *out,
                      struct hark_buf *tmp)
{
    hark_buf_init(tmp, 0);
    hark_jw_init(gen, out->max == 0 ? out : tmp);
    hark_jw_map_open(gen);
}

static hark_err_t gen_finish(struct hark_jw *gen, struct hark_buf *out,
                             struct hark_buf *tmp)
{
    hark_jw_map_close(gen);
    hark_assert(gen->depth == 0);
    hark_err_t err = HARK_OK;
    if (gen->out == tmp) {
        err = hark_buf_add(out, tmp->ptr, tmp->len);
    }
    hark_buf_cleanup(tmp);
    return err;
}

static void gen_header(struct hark_jw *gen,
                       const char *schema,
                       const char *event_id,
                       int64_t emitted_at_ms)
{
    HARK_JW_KEY(gen, "schema");
    hark_jw_str(gen, schema);
    HARK_JW_KEY(gen, "event_id");
    hark_jw_str(gen, event_id);
    if (emitted_at_ms != 0) {
        HARK_JW_KEY(gen, "emitted_at");
        hark_jw_time(gen, emitted_at_ms);
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

    struct hark_jw jw, *gen = &jw;
    struct hark_buf tmp;
    gen_start(gen, out, &tmp);
    gen_header(gen, schema, event_id, emitted_at_ms);
    /* Every event, tombstones too, says which rule set saw it. */
    HARK_JW_KEY(gen, "rules_version");
    hark_jw_str(gen, item->rules_version);
    if (post->is_deleted) {
        HARK_JW_KEY(gen, "post");
        hark_jw_map_open(gen);
        HARK_JW_KEY(gen, "id");
        hark_jw_str(gen, post->id);
        HARK_JW_KEY(gen, "platform");
        hark_jw_str(gen, post->platform);
        hark_jw_map_close(gen);
        HARK_JW_KEY(gen, "deleted");
        hark_jw_bool(gen, true);
    } else {
        hark_event_gen_parts(gen, item);
    }
    return gen_finish(gen, out, &tmp);
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
 * repaired piece by piece and the NULs kept; the writer writes them as \u0000.
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

    struct hark_jw jw, *gen = &jw;
    struct hark_buf tmp;
    gen_start(gen, out, &tmp);
    gen_header(gen, HARK_SCHEMA_DLQ, event_id, emitted_at_ms);
    HARK_JW_KEY(gen, "source");
    hark_jw_str(gen, source);
    HARK_JW_KEY(gen, "url");
    hark_jw_str(gen, url);
    HARK_JW_KEY(gen, "reason");
    hark_jw_str(gen, reason);
    HARK_JW_KEY(gen, "raw");
    hark_jw_strn(gen, text ? text : "", text_len);
    HARK_JW_KEY(gen, "raw_truncated");
    hark_jw_bool(gen, cut < raw_len);
    HARK_JW_KEY(gen, "raw_len");
    hark_jw_int(gen, (int64_t)raw_len);
    hark_err_t err = gen_finish(gen, out, &tmp);
    hark_buf_cleanup(&fixed);
    return err;
}
