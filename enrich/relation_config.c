/*
 * relation_config: the "relationship" config object (defaults, copy, and
 * the parser with file:line:column errors) for enrich/relation.c.
 *
 * Thread: any; touches no shared state.
 */
#include "hark/relation.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relation_int.h"

#define MAX_WINDOW 100000000

/* ---- config ----------------------------------------------------------- */

static void strv_set(struct hark_strv *sv, const char *s)
{
    hark_strv_cleanup(sv);
    hark_strv_add(sv, s, strlen(s));
}

static void strv_copy(struct hark_strv *to, const struct hark_strv *from)
{
    memset(to, 0, sizeof(*to));
    for (size_t i = 0; i < from->n; i++) {
        hark_strv_add(to, from->v[i], strlen(from->v[i]));
    }
}

void hark_relation_cfg_init(struct hark_relation_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->sentiment_alpha = 0.05;
    cfg->gap_alpha = 0.2;
    cfg->value_clv = 1000;
    cfg->value_relationship = 500;
    cfg->advocate_min_acts = 3;
    cfg->advocate_min_mean = 0.2;
    cfg->churn_k = 4;
    cfg->churn_min_posts = 10;
    cfg->churn_min_drop = 0.6;
    cfg->churn_max_value = -0.3;
    cfg->churn_sd_floor = 0.15;
    strv_set(&cfg->churn_tags, "intent:cancel");
    strv_set(&cfg->complaint_tags, "intent:complaint");
    cfg->at_risk_ms = 30LL * 86400000;
    cfg->silence_gaps = 5;
    cfg->silence_min_posts = 5;
    cfg->silence_min_ms = 72LL * 3600000;
    cfg->segment_min_posts = 5;
    cfg->at_risk_mean = -0.2;
    cfg->dormant_gaps = 10;
    cfg->dormant_min_ms = 30LL * 86400000;
    cfg->is_segment_strangers = false;
    cfg->applied_window = 65536;
    cfg->strangers_ttl_ms = 90LL * 86400000;
    cfg->max_strangers = 0;
}

void hark_relation_cfg_cleanup(struct hark_relation_cfg *cfg)
{
    hark_strv_cleanup(&cfg->churn_tags);
    hark_strv_cleanup(&cfg->complaint_tags);
    memset(cfg, 0, sizeof(*cfg));
}

void hark_rel_cfg_copy(struct hark_relation_cfg *to,
                       const struct hark_relation_cfg *from)
{
    *to = *from;
    strv_copy(&to->churn_tags, &from->churn_tags);
    strv_copy(&to->complaint_tags, &from->complaint_tags);
}

enum num_kind { NUM_DOUBLE, NUM_INT, NUM_MS_HOURS, NUM_MS_DAYS, NUM_SIZE };

/*
 * One numeric setting: where it lives, its unit, and its range. `lo_open`
 * makes the lower bound exclusive (alpha > 0, k > 0).
 */
struct num_field {
    const char *section;
    const char *key;
    size_t offset;
    double lo, hi;
    enum num_kind kind;
    bool lo_open;
};

#define F(sec, key, member, kind, lo, hi, open)                                \
    {sec, key, offsetof(struct hark_relation_cfg, member), lo, hi, kind, open}

static const struct num_field num_fields[] = {
    F("baseline", "sentiment_alpha", sentiment_alpha, NUM_DOUBLE, 0, 1, true),
    F("baseline", "gap_alpha", gap_alpha, NUM_DOUBLE, 0, 1, true),
    F("valuable", "clv", value_clv, NUM_DOUBLE, 0, 1e15, false),
    F("valuable", "relationship", value_relationship, NUM_DOUBLE, 0, 1e15,
      false),
    F("advocate", "min_acts", advocate_min_acts, NUM_INT, 1, 1e9, false),
    F("advocate", "min_mean", advocate_min_mean, NUM_DOUBLE, -1, 1, false),
    F("churn", "k", churn_k, NUM_DOUBLE, 0, 100, true),
    F("churn", "min_posts", churn_min_posts, NUM_INT, 1, 1e9, false),
    F("churn", "min_drop", churn_min_drop, NUM_DOUBLE, 0, 2, false),
    F("churn", "max_value", churn_max_value, NUM_DOUBLE, -1, 1, false),
    F("churn", "sd_floor", churn_sd_floor, NUM_DOUBLE, 0, 2, false),
    F("churn", "at_risk_days", at_risk_ms, NUM_MS_DAYS, 0, 3650, true),
    F("silence", "gaps", silence_gaps, NUM_DOUBLE, 0, 1e6, true),
    F("silence", "min_posts", silence_min_posts, NUM_INT, 1, 1e9, false),
    F("silence", "min_hours", silence_min_ms, NUM_MS_HOURS, 0, 87600, false),
    F("segments", "min_posts", segment_min_posts, NUM_INT, 1, 1e9, false),
    F("segments", "at_risk_mean", at_risk_mean, NUM_DOUBLE, -1, 1, false),
    F("segments", "dormant_gaps", dormant_gaps, NUM_DOUBLE, 0, 1e6, true),
    F("segments", "dormant_min_days", dormant_min_ms, NUM_MS_DAYS, 0, 3650,
      false),
    F(NULL, "applied_window", applied_window, NUM_SIZE, HARK_REL_MIN_WINDOW,
      MAX_WINDOW, false),
    F(NULL, "strangers_ttl_days", strangers_ttl_ms, NUM_MS_DAYS, 0, 36500,
      false),
    F(NULL, "max_strangers", max_strangers, NUM_SIZE, 0, 1e9, false),
};

#undef F

static const struct hark_cfgmap top_map[] = {
    {"baseline", HARK_JSON_OBJECT, false, NULL},
    {"valuable", HARK_JSON_OBJECT, false, NULL},
    {"advocate", HARK_JSON_OBJECT, false, NULL},
    {"churn", HARK_JSON_OBJECT, false, NULL},
    {"silence", HARK_JSON_OBJECT, false, NULL},
    {"segments", HARK_JSON_OBJECT, false, NULL},
    {"applied_window", HARK_JSON_INTEGER, false, NULL},
    {"strangers_ttl_days", HARK_JSON_NUMBER, false, NULL},
    {"max_strangers", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap baseline_map[] = {
    {"sentiment_alpha", HARK_JSON_NUMBER, false, NULL},
    {"gap_alpha", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap valuable_map[] = {
    {"clv", HARK_JSON_NUMBER, false, NULL},
    {"relationship", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap advocate_map[] = {
    {"min_acts", HARK_JSON_INTEGER, false, NULL},
    {"min_mean", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap churn_map[] = {
    {"k", HARK_JSON_NUMBER, false, NULL},
    {"min_posts", HARK_JSON_INTEGER, false, NULL},
    {"min_drop", HARK_JSON_NUMBER, false, NULL},
    {"max_value", HARK_JSON_NUMBER, false, NULL},
    {"sd_floor", HARK_JSON_NUMBER, false, NULL},
    {"intent_tags", HARK_JSON_ARRAY, false, NULL},
    {"complaint_tags", HARK_JSON_ARRAY, false, NULL},
    {"at_risk_days", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap silence_map[] = {
    {"gaps", HARK_JSON_NUMBER, false, NULL},
    {"min_posts", HARK_JSON_INTEGER, false, NULL},
    {"min_hours", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap segments_map[] = {
    {"min_posts", HARK_JSON_INTEGER, false, NULL},
    {"at_risk_mean", HARK_JSON_NUMBER, false, NULL},
    {"dormant_gaps", HARK_JSON_NUMBER, false, NULL},
    {"dormant_min_days", HARK_JSON_NUMBER, false, NULL},
    {"strangers", HARK_JSON_BOOL, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct {
    const char *name;
    const struct hark_cfgmap *map;
} sections[] = {
    {"baseline", baseline_map}, {"valuable", valuable_map},
    {"advocate", advocate_map}, {"churn", churn_map},
    {"silence", silence_map},   {"segments", segments_map},
};

static hark_err_t parse_num(const struct hark_json_doc *doc,
                            const struct hark_json *v,
                            const struct num_field *f, struct hark_diag *diag,
                            struct hark_relation_cfg *cfg)
{
    double d = v->d;
    bool is_low = f->lo_open ? d <= f->lo : d < f->lo;
    if (!isfinite(d) || is_low || d > f->hi) {
        hark_json_error(doc, diag, v->offset,
                        "relationship.%s%s%s must be %s %g and at most %g, "
                        "not %g",
                        f->section ? f->section : "", f->section ? "." : "",
                        f->key, f->lo_open ? "greater than" : "at least",
                        f->lo, f->hi, d);
        return HARK_EINVAL;
    }
    char *p = (char *)cfg + f->offset;
    switch (f->kind) {
    case NUM_DOUBLE:
        memcpy(p, &d, sizeof(d));
        break;
    case NUM_INT: {
        int64_t i = v->i;
        memcpy(p, &i, sizeof(i));
        break;
    }
    case NUM_MS_HOURS: {
        int64_t ms = (int64_t)llround(d * 3600000.0);
        memcpy(p, &ms, sizeof(ms));
        break;
    }
    case NUM_MS_DAYS: {
        int64_t ms = (int64_t)llround(d * 86400000.0);
        memcpy(p, &ms, sizeof(ms));
        break;
    }
    case NUM_SIZE: {
        size_t n = (size_t)v->i;
        memcpy(p, &n, sizeof(n));
        break;
    }
    }
    return HARK_OK;
}

static hark_err_t parse_tags(const struct hark_json_doc *doc,
                             const struct hark_json *arr, const char *key,
                             struct hark_diag *diag, struct hark_strv *out)
{
    hark_err_t err = HARK_OK;
    struct hark_strv sv = {0};
    for (size_t i = 0; i < arr->n; i++) {
        const struct hark_json *v = arr->items[i];
        if (v->type != HARK_JSON_STRING || v->s_len == 0) {
            hark_json_error(doc, diag, v->offset,
                            "relationship.churn.%s must hold non-empty tag "
                            "strings, not %s",
                            key, v->type == HARK_JSON_STRING
                                     ? "an empty string"
                                     : hark_json_type_name(v->type));
            err = HARK_EINVAL;
            continue;
        }
        hark_strv_add(&sv, v->s, v->s_len);
    }
    if (err == HARK_OK) {
        hark_strv_cleanup(out);
        *out = sv;
    } else {
        hark_strv_cleanup(&sv);
    }
    return err;
}

static hark_err_t check_sections(const struct hark_json_doc *doc,
                                 const struct hark_json *obj,
                                 struct hark_diag *diag)
{
    hark_err_t err = HARK_OK;
    for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
        const struct hark_json *sec = hark_json_get(obj, sections[s].name);
        if (!sec || sec->type != HARK_JSON_OBJECT) {
            continue;
        }
        char what[64];
        (void)snprintf(what, sizeof(what), "relationship.%s",
                       sections[s].name);
        if (hark_cfgmap_check(doc, sec, sections[s].map, what, diag) !=
            HARK_OK) {
            err = HARK_EINVAL;
        }
    }
    return err;
}

static hark_err_t parse_nums(const struct hark_json_doc *doc,
                             const struct hark_json *obj,
                             struct hark_diag *diag,
                             struct hark_relation_cfg *cfg)
{
    hark_err_t err = HARK_OK;
    size_t n_fields = sizeof(num_fields) / sizeof(num_fields[0]);
    for (size_t i = 0; i < n_fields; i++) {
        const struct num_field *f = &num_fields[i];
        const struct hark_json *sec =
            f->section ? hark_json_get(obj, f->section) : obj;
        const struct hark_json *v =
            sec && sec->type == HARK_JSON_OBJECT ? hark_json_get(sec, f->key)
                                                 : NULL;
        /* Missing, or a type error the map reported. */
        bool is_int = f->kind == NUM_INT || f->kind == NUM_SIZE;
        if (!v || !(v->type & HARK_JSON_NUMBER) ||
            (is_int && v->type != HARK_JSON_INTEGER)) {
            continue;
        }
        if (parse_num(doc, v, f, diag, cfg) != HARK_OK) {
            err = HARK_EINVAL;
        }
    }
    return err;
}

static hark_err_t parse_into(const struct hark_json_doc *doc,
                             const struct hark_json *obj,
                             struct hark_diag *diag,
                             struct hark_relation_cfg *cfg)
{
    hark_err_t err = hark_cfgmap_check(doc, obj, top_map, "relationship", diag);
    if (check_sections(doc, obj, diag) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (parse_nums(doc, obj, diag, cfg) != HARK_OK) {
        err = HARK_EINVAL;
    }
    const struct hark_json *churn = hark_json_get(obj, "churn");
    const struct hark_json *v = hark_json_get(churn, "intent_tags");
    if (v && v->type == HARK_JSON_ARRAY &&
        parse_tags(doc, v, "intent_tags", diag, &cfg->churn_tags) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(churn, "complaint_tags");
    if (v && v->type == HARK_JSON_ARRAY &&
        parse_tags(doc, v, "complaint_tags", diag, &cfg->complaint_tags) !=
            HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(hark_json_get(obj, "segments"), "strangers");
    if (v && v->type == HARK_JSON_BOOL) {
        cfg->is_segment_strangers = v->b;
    }
    return err;
}

hark_err_t hark_relation_cfg_parse(const struct hark_json_doc *doc,
                                   const struct hark_json *obj,
                                   struct hark_diag *diag,
                                   struct hark_relation_cfg *cfg)
{
    if (!obj) {
        return HARK_OK;
    }
    if (obj->type != HARK_JSON_OBJECT) {
        hark_err_t err =
            hark_cfgmap_check(doc, obj, top_map, "relationship", diag);
        hark_assert(err != HARK_OK); /* not an object */
        return HARK_EINVAL;
    }
    struct hark_relation_cfg tmp;
    hark_rel_cfg_copy(&tmp, cfg);
    hark_err_t err = parse_into(doc, obj, diag, &tmp);
    if (err != HARK_OK) {
        hark_relation_cfg_cleanup(&tmp);
        return err;
    }
    hark_relation_cfg_cleanup(cfg);
    *cfg = tmp;
    return HARK_OK;
}

