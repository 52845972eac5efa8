/*
 * relation_signal: the hark.signal/1 events of enrich/relation.c: signal
 * and segment names, signal lists, and the serialization of one signal
 * (its details per kind, the author, the post, the relationship) with
 * core/jw.c's writer. What raises a signal, and when, is in relation.c.
 *
 * Thread: any; every function works on its arguments only.
 */
#include "relation_int.h"

#include <stdlib.h>
#include <string.h>

#include "hark/jw.h"

/* ---- names ------------------------------------------------------------ */

const char *hark_signal_kind_name(enum hark_signal_kind kind)
{
    switch (kind) {
    case HARK_SIGNAL_ADVOCACY:
        return "advocacy";
    case HARK_SIGNAL_REFERRAL:
        return "referral";
    case HARK_SIGNAL_RECOMMENDATION:
        return "recommendation";
    case HARK_SIGNAL_CHURN_RISK:
        return "churn_risk";
    case HARK_SIGNAL_SILENCE:
        return "silence";
    case HARK_SIGNAL_SEGMENT_CHANGE:
        return "segment_change";
    case HARK_SIGNAL_COUNT_:
        break;
    }
    return "unknown";
}

const char *hark_segment_name(enum hark_segment seg)
{
    switch (seg) {
    case HARK_SEGMENT_NONE:
    case HARK_SEGMENT_NEW:
        return "new";
    case HARK_SEGMENT_LOYAL:
        return "loyal";
    case HARK_SEGMENT_ADVOCATE:
        return "advocate";
    case HARK_SEGMENT_AT_RISK:
        return "at_risk";
    case HARK_SEGMENT_DORMANT:
        return "dormant";
    }
    return "new";
}

/* ---- signal lists ------------------------------------------------------ */

void hark_signal_list_init(struct hark_signal_list *list)
{
    memset(list, 0, sizeof(*list));
}

void hark_signal_list_clear(struct hark_signal_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].key);
        free(list->v[i].payload);
    }
    list->n = 0;
}

void hark_signal_list_cleanup(struct hark_signal_list *list)
{
    hark_signal_list_clear(list);
    free(list->v);
    memset(list, 0, sizeof(*list));
}

struct hark_signal *hark_rel_signal_push(struct hark_signal_list *list)
{
    if (list->n == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 4;
        list->v = hark_xrealloc(list->v, list->cap * sizeof(*list->v));
    }
    struct hark_signal *sig = &list->v[list->n++];
    memset(sig, 0, sizeof(*sig));
    return sig;
}

/* ---- signal events ----------------------------------------------------- */

static void gen_act_details(struct hark_jw *gen,
                            const struct hark_rel_author *a,
                            const struct hark_rel_sig *d)
{
    const char *act = "advocacy";
    const char *tag = "signal:advocacy";
    int64_t count = a->seen.advocacy;
    if (d->kind == HARK_SIGNAL_RECOMMENDATION) {
        act = "recommendation";
        tag = "signal:recommendation";
        count = a->file_recommendations + a->seen.recommendations;
    } else if (d->kind == HARK_SIGNAL_REFERRAL &&
               (d->acts & HARK_ACT_REFERRAL)) {
        act = "referral";
        tag = "signal:referral";
        count = a->file_referrals + a->seen.referrals;
    } else if (d->kind == HARK_SIGNAL_REFERRAL) {
        act = "introduction";
        tag = "signal:introduction";
        count = a->file_introductions + a->seen.introductions;
    }
    hark_jw_key(gen, "act");
    hark_jw_str(gen, act);
    hark_jw_key(gen, "tag");
    hark_jw_str(gen, tag);
    hark_jw_kv_int(gen, "count", count);
    if (d->kind == HARK_SIGNAL_REFERRAL && (d->acts & HARK_ACT_REFERRAL) &&
        (d->acts & HARK_ACT_INTRODUCTION)) {
        hark_jw_kv_int(gen, "introductions",
                a->file_introductions + a->seen.introductions);
    }
}

static void gen_churn_details(struct hark_jw *gen,
                              const struct hark_rel_churn *ch)
{
    const char *primary = ch->is_sentiment ? "sentiment"
                          : ch->is_intent  ? "intent"
                                           : "advocacy";
    hark_jw_key(gen, "baseline");
    hark_jw_str(gen, primary);
    if (ch->is_sentiment) {
        hark_jw_kv_double(gen, "value", ch->dev.value);
        hark_jw_kv_double(gen, "mean", ch->dev.mean);
        hark_jw_kv_double(gen, "sd", ch->dev.sd);
        hark_jw_kv_double(gen, "z", ch->dev.z);
        hark_jw_kv_double(gen, "drop", ch->dev.drop);
        hark_jw_kv_int(gen, "posts", ch->dev.n_prior);
    }
    if (ch->is_intent) {
        hark_jw_key(gen, "intent");
        hark_jw_str(gen, ch->intent_tag);
    }
    if (ch->is_advocate) {
        hark_jw_key(gen, "complaint");
        hark_jw_str(gen, ch->complaint_tag);
        hark_jw_kv_int(gen, "advocacy_acts", ch->advocate_acts);
    }
    hark_jw_key(gen, "triggers");
    hark_jw_array_open(gen);
    if (ch->is_sentiment) {
        hark_jw_str(gen, "sentiment");
    }
    if (ch->is_intent) {
        hark_jw_str(gen, "intent");
    }
    if (ch->is_advocate) {
        hark_jw_str(gen, "advocacy");
    }
    hark_jw_array_close(gen);
}

static void gen_details(struct hark_jw *gen, const struct hark_rel_author *a,
                        const struct hark_rel_sig *d)
{
    hark_jw_map_open(gen);
    switch (d->kind) {
    case HARK_SIGNAL_ADVOCACY:
    case HARK_SIGNAL_REFERRAL:
    case HARK_SIGNAL_RECOMMENDATION:
        gen_act_details(gen, a, d);
        break;
    case HARK_SIGNAL_CHURN_RISK:
        gen_churn_details(gen, d->churn);
        break;
    case HARK_SIGNAL_SILENCE:
        hark_jw_key(gen, "baseline");
        hark_jw_str(gen, "gap");
        hark_jw_kv_double(gen, "silent_hours",
                          (double)d->silent_ms / 3600000.0);
        hark_jw_kv_double(gen, "mean_gap_hours", d->gap_ms / 3600000.0);
        hark_jw_kv_double(gen, "gaps",
                          d->gap_ms > 0 ? (double)d->silent_ms / d->gap_ms
                                        : 0);
        hark_jw_kv_double(gen, "threshold_gaps", d->threshold_gaps);
        hark_jw_key(gen, "last_post");
        hark_jw_time(gen, d->last_post_ms);
        break;
    case HARK_SIGNAL_SEGMENT_CHANGE:
        hark_jw_key(gen, "baseline");
        hark_jw_str(gen, "segment");
        hark_jw_key(gen, "from");
        hark_jw_str(gen, hark_segment_name(d->from));
        hark_jw_key(gen, "to");
        hark_jw_str(gen, hark_segment_name(d->to));
        break;
    case HARK_SIGNAL_COUNT_:
        break;
    }
    hark_jw_map_close(gen);
}

void hark_rel_signal_write(struct hark_signal *sig,
                           const struct hark_rel_author *a,
                           const struct hark_item *item,
                           const char *rules_version, const char event_id[17],
                           const struct hark_rel_sig *d, const double w[4],
                           int64_t now_ms)
{
    struct hark_buf text;
    struct hark_jw jw, *gen = &jw;
    hark_buf_init(&text, 0);
    hark_jw_init(gen, &text);
    hark_jw_map_open(gen);
    hark_jw_key(gen, "schema");
    hark_jw_str(gen, HARK_SCHEMA_SIGNAL);
    hark_jw_key(gen, "event_id");
    hark_jw_str(gen, event_id);
    if (now_ms != 0) {
        hark_jw_key(gen, "emitted_at");
        hark_jw_time(gen, now_ms);
    }
    hark_jw_key(gen, "rules_version");
    hark_jw_str(gen, rules_version);
    hark_jw_key(gen, "signal");
    hark_jw_str(gen, hark_signal_kind_name(d->kind));
    hark_jw_key(gen, "customer");
    if (a->is_customer) {
        hark_jw_map_open(gen);
        hark_jw_key(gen, "id");
        hark_jw_str(gen, a->key);
        hark_jw_map_close(gen);
    } else {
        hark_jw_null(gen);
    }
    hark_jw_key(gen, "author");
    hark_jw_map_open(gen);
    hark_jw_key(gen, "key");
    hark_jw_str(gen, a->key);
    hark_jw_key(gen, "platform");
    hark_jw_str(gen, a->platform);
    hark_jw_key(gen, "id");
    hark_jw_str(gen, a->author_id);
    hark_jw_key(gen, "handle");
    hark_jw_str(gen, a->handle);
    hark_jw_map_close(gen);
    if (item) {
        hark_jw_key(gen, "post");
        hark_post_gen(gen, item->post);
    }
    hark_jw_key(gen, "details");
    gen_details(gen, a, d);
    double relational = hark_rel_relational(a, w);
    double monetary = a->is_customer ? a->clv : 0;
    hark_jw_key(gen, "relationship");
    hark_jw_map_open(gen);
    hark_jw_kv_double(gen, "monetary", monetary);
    hark_jw_kv_double(gen, "relational", relational);
    hark_jw_kv_double(gen, "total", monetary + relational);
    hark_jw_map_close(gen);
    hark_jw_key(gen, "behaviour_segment");
    hark_jw_str(gen, hark_segment_name(a->segment));
    hark_jw_map_close(gen);

    hark_assert(gen->depth == 0);
    size_t len = text.len;
    sig->kind = d->kind;
    memcpy(sig->event_id, event_id, 17);
    sig->key = hark_xstrdup(a->key);
    sig->payload = hark_buf_take(&text);
    sig->payload_len = len;
}
