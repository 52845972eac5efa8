/*
 * score: relationship value, priority with reasons, and routing.
 *
 * Priority (DESIGN.md "Rules and priority") is the sum of the points of
 * each factor, clamped to 0..100. Every factor that added points (or took
 * some away) is one reason, so the reasons add up to the score before
 * clamping:
 *
 *   rules         w_rules x item->rule_points
 *                 detail "priority 40: refund, cancel"
 *   sentiment     w_negative x -compound, when the label is negative
 *                 detail "negative -0.72"
 *   customer      tier points + w_customer x min(1, clv / clv_ref), for a
 *                 known customer; detail "tier gold, clv 12000"
 *   relationship  w_relationship x min(1, relational / clv_ref), when the
 *                 author has relational capital; detail "relational 350"
 *   influence     w_influence x log10(followers + 1), when followers > 0;
 *                 detail "followers 12000"
 *
 * Relationship value: monetary = the customer's CLV (0 for a stranger);
 * relational = rv_referral x referrals + rv_recommendation x
 * recommendations + rv_introduction x introductions + rv_positive x
 * positive_mentions; total = monetary + relational.
 *
 * The "priority" config object, with the defaults (every key optional):
 *
 *   {"weights": {"rules": 1, "negative_sentiment": 30, "customer": 25,
 *                "tier": {"platinum": 20, "gold": 12, "silver": 6},
 *                "influence": 4, "relationship": 10},
 *    "clv_ref": 10000,
 *    "relationship": {"positive_mention": 10, "referral": 250,
 *                     "recommendation": 100, "introduction": 150},
 *    "levels": {"p1": 80, "p2": 60, "p3": 35},
 *    "sla_minutes": {"p1": 60, "p2": 240, "p3": 1440, "p4": 4320},
 *    "sla_warn_percent": 75,
 *    "default_queue": "care",
 *    "export": ["id", "name", "tier", "segment", "clv"]}
 *
 * A "tier" object replaces the default tiers as a whole. Levels must
 * satisfy 100 >= p1 >= p2 >= p3 >= 0; SLAs are whole minutes >= 1;
 * clv_ref > 0.
 *
 * SLA clock. An engage item is due sla_minutes after its start (the first
 * unanswered post) and raises its warning (route.sla_warn_at) when
 * sla_warn_percent of that time has run; 0 turns the warning off. Without
 * "business_hours" the clock runs 24/7. With it
 *
 *   "business_hours": {"timezone": "Europe/Berlin",
 *                      "days": ["mon", "tue", "wed", "thu", "fri"],
 *                      "open": "09:00", "close": "17:30",
 *                      "holidays": ["2026-12-25"],
 *                      "levels_24x7": ["p1"]}
 *
 * the clock of every level not in levels_24x7 runs in open hours only
 * (enrich/business_hours.c): a post out of hours starts its clock at the
 * next opening, and the warning is the same share of open time.
 */
#include "hark/score.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hark_score_cfg_init(struct hark_score_cfg *cfg)
{
    static const struct {
        const char *name;
        double points;
    } tiers[] = {{"platinum", 20}, {"gold", 12}, {"silver", 6}};

    memset(cfg, 0, sizeof(*cfg));
    cfg->w_rules = 1;
    cfg->w_negative = 30;
    cfg->w_customer = 25;
    cfg->n_tiers = sizeof(tiers) / sizeof(tiers[0]);
    cfg->tiers = hark_xcalloc(cfg->n_tiers, sizeof(*cfg->tiers));
    for (size_t i = 0; i < cfg->n_tiers; i++) {
        cfg->tiers[i].name = hark_xstrdup(tiers[i].name);
        cfg->tiers[i].points = tiers[i].points;
    }
    cfg->w_influence = 4;
    cfg->w_relationship = 10;
    cfg->clv_ref = 10000;
    cfg->rv_positive = 10;
    cfg->rv_referral = 250;
    cfg->rv_recommendation = 100;
    cfg->rv_introduction = 150;
    cfg->p1 = 80;
    cfg->p2 = 60;
    cfg->p3 = 35;
    cfg->sla_minutes[0] = 60;
    cfg->sla_minutes[1] = 240;
    cfg->sla_minutes[2] = 1440;
    cfg->sla_minutes[3] = 4320;
    cfg->sla_warn_percent = 75;
    cfg->default_queue = hark_xstrdup("care");
    cfg->export_mask = HARK_CUST_F_ID | HARK_CUST_F_NAME | HARK_CUST_F_TIER |
                       HARK_CUST_F_SEGMENT | HARK_CUST_F_CLV;
}

static void free_tiers(struct hark_score_tier *tiers, size_t n_tiers)
{
    for (size_t i = 0; i < n_tiers; i++) {
        free(tiers[i].name);
    }
    free(tiers);
}

void hark_score_cfg_cleanup(struct hark_score_cfg *cfg)
{
    free_tiers(cfg->tiers, cfg->n_tiers);
    free(cfg->default_queue);
    hark_bhours_unref(cfg->business_hours);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- config --------------------------------------------------------- */

static const struct hark_cfgmap priority_map[] = {
    {"weights", HARK_JSON_OBJECT, false, NULL},
    {"clv_ref", HARK_JSON_NUMBER, false, NULL},
    {"relationship", HARK_JSON_OBJECT, false, NULL},
    {"levels", HARK_JSON_OBJECT, false, NULL},
    {"sla_minutes", HARK_JSON_OBJECT, false, NULL},
    {"sla_warn_percent", HARK_JSON_INTEGER, false, NULL},
    {"business_hours", HARK_JSON_OBJECT, false, NULL},
    {"default_queue", HARK_JSON_STRING, false, NULL},
    {"export", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap weights_map[] = {
    {"rules", HARK_JSON_NUMBER, false, NULL},
    {"negative_sentiment", HARK_JSON_NUMBER, false, NULL},
    {"customer", HARK_JSON_NUMBER, false, NULL},
    {"tier", HARK_JSON_OBJECT, false, NULL},
    {"influence", HARK_JSON_NUMBER, false, NULL},
    {"relationship", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap relationship_map[] = {
    {"positive_mention", HARK_JSON_NUMBER, false, NULL},
    {"referral", HARK_JSON_NUMBER, false, NULL},
    {"recommendation", HARK_JSON_NUMBER, false, NULL},
    {"introduction", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap levels_map[] = {
    {"p1", HARK_JSON_NUMBER, false, NULL},
    {"p2", HARK_JSON_NUMBER, false, NULL},
    {"p3", HARK_JSON_NUMBER, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap sla_map[] = {
    {"p1", HARK_JSON_INTEGER, false, NULL},
    {"p2", HARK_JSON_INTEGER, false, NULL},
    {"p3", HARK_JSON_INTEGER, false, NULL},
    {"p4", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL},
};

/* Keys of priority.business_hours read here (the schedule's own keys are
 * read by hark_bhours_parse). */
static const struct hark_cfgmap bhours_extra_map[] = {
    {"levels_24x7", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct {
    const char *name;
    unsigned bit;
} export_fields[] = {
    {"id", HARK_CUST_F_ID},         {"name", HARK_CUST_F_NAME},
    {"tier", HARK_CUST_F_TIER},     {"segment", HARK_CUST_F_SEGMENT},
    {"clv", HARK_CUST_F_CLV},       {"revenue_12m", HARK_CUST_F_REVENUE},
    {"counts", HARK_CUST_F_COUNTS},
};

/* Sets *out from obj[key] when it is a number (the map checked types). */
static void get_num(const struct hark_json *obj, const char *key, double *out)
{
    const struct hark_json *v = hark_json_get(obj, key);
    if (v && (v->type & HARK_JSON_NUMBER)) {
        *out = v->d;
    }
}

static hark_err_t parse_tiers(const struct hark_json_doc *doc,
                              const struct hark_json *obj,
                              struct hark_diag *diag,
                              struct hark_score_cfg *cfg)
{
    hark_err_t err = HARK_OK;
    struct hark_score_tier *tiers = hark_xcalloc(obj->n, sizeof(*tiers));
    size_t n_tiers = 0;
    for (size_t i = 0; i < obj->n; i++) {
        const struct hark_json *v = obj->items[i];
        if (!(v->type & HARK_JSON_NUMBER)) {
            hark_json_error(doc, diag, v->offset,
                            "tier \"%s\" in priority.weights.tier must be a "
                            "number, not %s",
                            obj->keys[i], hark_json_type_name(v->type));
            err = HARK_EINVAL;
            continue;
        }
        if (obj->keys[i][0] == '\0') {
            hark_json_error(doc, diag, obj->key_offsets[i],
                            "a tier name in priority.weights.tier is empty");
            err = HARK_EINVAL;
            continue;
        }
        tiers[n_tiers].name = hark_xstrdup(obj->keys[i]);
        tiers[n_tiers].points = v->d;
        n_tiers++;
    }
    free_tiers(cfg->tiers, cfg->n_tiers);
    cfg->tiers = tiers;
    cfg->n_tiers = n_tiers;
    return err;
}

static hark_err_t parse_weights(const struct hark_json_doc *doc,
                                const struct hark_json *obj,
                                struct hark_diag *diag,
                                struct hark_score_cfg *cfg)
{
    hark_err_t err =
        hark_cfgmap_check(doc, obj, weights_map, "priority.weights", diag);
    get_num(obj, "rules", &cfg->w_rules);
    get_num(obj, "negative_sentiment", &cfg->w_negative);
    get_num(obj, "customer", &cfg->w_customer);
    get_num(obj, "influence", &cfg->w_influence);
    get_num(obj, "relationship", &cfg->w_relationship);
    const struct hark_json *tier = hark_json_get(obj, "tier");
    if (tier && tier->type == HARK_JSON_OBJECT &&
        parse_tiers(doc, tier, diag, cfg) != HARK_OK) {
        err = HARK_EINVAL;
    }
    return err;
}

static hark_err_t parse_levels(const struct hark_json_doc *doc,
                               const struct hark_json *obj,
                               struct hark_diag *diag,
                               struct hark_score_cfg *cfg)
{
    hark_err_t err =
        hark_cfgmap_check(doc, obj, levels_map, "priority.levels", diag);
    get_num(obj, "p1", &cfg->p1);
    get_num(obj, "p2", &cfg->p2);
    get_num(obj, "p3", &cfg->p3);
    if (!(cfg->p1 <= 100 && cfg->p1 >= cfg->p2 && cfg->p2 >= cfg->p3 &&
          cfg->p3 >= 0)) {
        hark_json_error(doc, diag, obj->offset,
                        "priority.levels must satisfy 100 >= p1 >= p2 >= p3 "
                        ">= 0 (got p1 %g, p2 %g, p3 %g)",
                        cfg->p1, cfg->p2, cfg->p3);
        err = HARK_EINVAL;
    }
    return err;
}

static hark_err_t parse_sla(const struct hark_json_doc *doc,
                            const struct hark_json *obj,
                            struct hark_diag *diag,
                            struct hark_score_cfg *cfg)
{
    static const char *const keys[4] = {"p1", "p2", "p3", "p4"};
    hark_err_t err =
        hark_cfgmap_check(doc, obj, sla_map, "priority.sla_minutes", diag);
    for (int i = 0; i < 4; i++) {
        const struct hark_json *v = hark_json_get(obj, keys[i]);
        if (!v || v->type != HARK_JSON_INTEGER) {
            continue;
        }
        if (v->i < 1 || v->i > 525600) {
            hark_json_error(doc, diag, v->offset,
                            "priority.sla_minutes.%s must be from 1 to 525600 "
                            "(a year), not %lld",
                            keys[i], (long long)v->i);
            err = HARK_EINVAL;
            continue;
        }
        cfg->sla_minutes[i] = (int)v->i;
    }
    return err;
}

static hark_err_t parse_levels_24x7(const struct hark_json_doc *doc,
                                    const struct hark_json *arr,
                                    struct hark_diag *diag, unsigned *mask)
{
    static const char *const keys[4] = {"p1", "p2", "p3", "p4"};
    hark_err_t err = HARK_OK;
    unsigned m = 0;
    for (size_t i = 0; i < arr->n; i++) {
        const char *name = hark_json_str(arr->items[i]);
        int level = 0;
        while (name && level < 4 && strcmp(name, keys[level]) != 0) {
            level++;
        }
        if (!name || level == 4) {
            hark_json_error(doc, diag, arr->items[i]->offset,
                            "unknown level %s%s%s in "
                            "priority.business_hours.levels_24x7; expected "
                            "\"p1\", \"p2\", \"p3\" or \"p4\"",
                            name ? "\"" : "", name ? name : "(not a string)",
                            name ? "\"" : "");
            err = HARK_EINVAL;
            continue;
        }
        m |= 1U << level;
    }
    *mask = m;
    return err;
}

static hark_err_t parse_business_hours(const struct hark_json_doc *doc,
                                       const struct hark_json *obj,
                                       struct hark_diag *diag,
                                       struct hark_score_cfg *cfg)
{
    struct hark_bhours *bh = NULL;
    hark_err_t err = hark_bhours_parse(doc, obj, "priority.business_hours",
                                       bhours_extra_map, diag, &bh);
    unsigned mask = 0;
    const struct hark_json *v = hark_json_get(obj, "levels_24x7");
    if (v && v->type == HARK_JSON_ARRAY &&
        parse_levels_24x7(doc, v, diag, &mask) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (err != HARK_OK) {
        hark_bhours_unref(bh);
        return HARK_EINVAL;
    }
    hark_bhours_unref(cfg->business_hours);
    cfg->business_hours = bh;
    cfg->levels_24x7 = mask;
    return HARK_OK;
}

hark_err_t hark_score_export_parse(const struct hark_json_doc *doc,
                                   const struct hark_json *arr,
                                   struct hark_diag *diag,
                                   unsigned *mask)
{
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        hark_json_error(doc, diag, arr ? arr->offset : 0,
                        "export must be an array of field names");
        return HARK_EINVAL;
    }
    hark_err_t err = HARK_OK;
    unsigned m = 0;
    for (size_t i = 0; i < arr->n; i++) {
        const struct hark_json *v = arr->items[i];
        const char *name = hark_json_str(v);
        size_t f = 0;
        size_t n_fields = sizeof(export_fields) / sizeof(export_fields[0]);
        while (name && f < n_fields &&
               strcmp(name, export_fields[f].name) != 0) {
            f++;
        }
        if (!name || f == n_fields) {
            hark_json_error(doc, diag, v->offset,
                            "unknown customer field %s%s%s in export; "
                            "expected \"id\", \"name\", \"tier\", "
                            "\"segment\", \"clv\", \"revenue_12m\" or "
                            "\"counts\"",
                            name ? "\"" : "", name ? name : "(not a string)",
                            name ? "\"" : "");
            err = HARK_EINVAL;
            continue;
        }
        m |= export_fields[f].bit;
    }
    if (err == HARK_OK) {
        *mask = m;
    }
    return err;
}

static hark_err_t parse_into(const struct hark_json_doc *doc,
                             const struct hark_json *obj,
                             struct hark_diag *diag,
                             struct hark_score_cfg *cfg)
{
    hark_err_t err =
        hark_cfgmap_check(doc, obj, priority_map, "priority", diag);
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        return HARK_EINVAL;
    }
    const struct hark_json *v = hark_json_get(obj, "weights");
    if (v && v->type == HARK_JSON_OBJECT &&
        parse_weights(doc, v, diag, cfg) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(obj, "clv_ref");
    if (v && (v->type & HARK_JSON_NUMBER)) {
        if (v->d > 0) {
            cfg->clv_ref = v->d;
        } else {
            hark_json_error(doc, diag, v->offset,
                            "priority.clv_ref must be greater than 0");
            err = HARK_EINVAL;
        }
    }
    v = hark_json_get(obj, "relationship");
    if (v && v->type == HARK_JSON_OBJECT) {
        if (hark_cfgmap_check(doc, v, relationship_map, "priority.relationship",
                              diag) != HARK_OK) {
            err = HARK_EINVAL;
        }
        get_num(v, "positive_mention", &cfg->rv_positive);
        get_num(v, "referral", &cfg->rv_referral);
        get_num(v, "recommendation", &cfg->rv_recommendation);
        get_num(v, "introduction", &cfg->rv_introduction);
    }
    v = hark_json_get(obj, "levels");
    if (v && v->type == HARK_JSON_OBJECT &&
        parse_levels(doc, v, diag, cfg) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(obj, "sla_minutes");
    if (v && v->type == HARK_JSON_OBJECT &&
        parse_sla(doc, v, diag, cfg) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(obj, "sla_warn_percent");
    if (v && v->type == HARK_JSON_INTEGER) {
        if (v->i >= 0 && v->i <= 99) {
            cfg->sla_warn_percent = (int)v->i;
        } else {
            hark_json_error(doc, diag, v->offset,
                            "priority.sla_warn_percent must be from 0 (no "
                            "warning) to 99, not %" PRId64,
                            v->i);
            err = HARK_EINVAL;
        }
    }
    v = hark_json_get(obj, "business_hours");
    if (v && v->type == HARK_JSON_OBJECT &&
        parse_business_hours(doc, v, diag, cfg) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(obj, "default_queue");
    if (v && v->type == HARK_JSON_STRING) {
        if (v->s_len == 0) {
            hark_json_error(doc, diag, v->offset,
                            "priority.default_queue must not be empty");
            err = HARK_EINVAL;
        } else {
            free(cfg->default_queue);
            cfg->default_queue = hark_xstrdup(v->s);
        }
    }
    v = hark_json_get(obj, "export");
    if (v && v->type == HARK_JSON_ARRAY &&
        hark_score_export_parse(doc, v, diag, &cfg->export_mask) != HARK_OK) {
        err = HARK_EINVAL;
    }
    return err;
}

/*
 * `cfg` must have been initialized (hark_score_cfg_init). Keys not given
 * keep their current values. Success: *cfg holds the new settings.
 * Failure: HARK_EINVAL, *cfg is unchanged, `diag` says why (with
 * file:line:column).
 */
hark_err_t hark_score_cfg_parse(const struct hark_json_doc *doc,
                                const struct hark_json *obj,
                                struct hark_diag *diag,
                                struct hark_score_cfg *cfg)
{
    if (!obj) {
        return HARK_OK;
    }
    struct hark_score_cfg tmp = *cfg;
    /* deep-copy the owned parts so a failure leaves *cfg untouched */
    tmp.default_queue = hark_xstrdup(cfg->default_queue);
    tmp.business_hours = hark_bhours_ref(cfg->business_hours);
    tmp.tiers =
        hark_xcalloc(cfg->n_tiers ? cfg->n_tiers : 1, sizeof(*tmp.tiers));
    for (size_t i = 0; i < cfg->n_tiers; i++) {
        tmp.tiers[i].name = hark_xstrdup(cfg->tiers[i].name);
        tmp.tiers[i].points = cfg->tiers[i].points;
    }
    hark_err_t err = parse_into(doc, obj, diag, &tmp);
    if (err != HARK_OK) {
        hark_score_cfg_cleanup(&tmp);
        return err;
    }
    hark_score_cfg_cleanup(cfg);
    *cfg = tmp;
    return HARK_OK;
}

/* ---- scoring -------------------------------------------------------- */

static char lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

static bool eq_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = lower(*a);
        char y = lower(*b);
        if (x != y) {
            return false;
        }
        if (x == '\0') {
            return true;
        }
    }
}

static const struct hark_score_tier *find_tier(const struct hark_score_cfg *cfg,
                                               const char *tier)
{
    if (!tier) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_tiers; i++) {
        if (eq_nocase(cfg->tiers[i].name, tier)) {
            return &cfg->tiers[i];
        }
    }
    return NULL;
}

/* "12000" for whole numbers, else "12000.50". */
static void fmt_num(char *out, size_t out_len, double v)
{
    if (fabs(v) < 1e15 && v == floor(v)) {
        snprintf(out, out_len, "%.0f", v);
    } else {
        snprintf(out, out_len, "%.2f", v);
    }
}

static void clear_outputs(struct hark_item *item)
{
    struct hark_priority *p = &item->priority;
    for (size_t i = 0; i < p->n_reasons; i++) {
        free(p->reasons[i].factor);
        free(p->reasons[i].detail);
    }
    free(p->reasons);
    memset(p, 0, sizeof(*p));
    free(item->route_queue);
    item->route_queue = NULL;
    item->sla_due_ms = 0;
    item->sla_warn_ms = 0;
}

static void relationship(const struct hark_score_cfg *cfg,
                         struct hark_item *item)
{
    struct hark_relationship *rel = &item->relationship;
    /* A stranger has no CLV, but keeps the relational capital observed
     * for them (hark_relation_adjust sets it before scoring). */
    double observed = item->has_customer ? 0 : rel->relational;
    memset(rel, 0, sizeof(*rel));
    rel->relational = observed;
    if (item->has_customer) {
        const struct hark_customer_view *c = &item->customer;
        rel->monetary = c->clv;
        rel->relational = cfg->rv_referral * (double)c->referrals +
                          cfg->rv_recommendation * (double)c->recommendations +
                          cfg->rv_introduction * (double)c->introductions +
                          cfg->rv_positive * (double)c->positive_mentions;
    }
    rel->total = rel->monetary + rel->relational;
}

/* The rules reason's detail: "priority 40: refund, cancel". */
static void
rules_detail(const struct hark_item *item, char *out, size_t out_len)
{
    char num[32];
    fmt_num(num, sizeof(num), (double)item->rule_points);
    int n = snprintf(out, out_len, "priority %s", num);
    size_t len = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < item->n_matches && len < out_len; i++) {
        const char *sep = i == 0 ? ": " : ", ";
        const char *rule = item->matches[i].rule ? item->matches[i].rule : "";
        if (len + strlen(sep) + strlen(rule) + 5 >= out_len) {
            snprintf(out + len, out_len - len, ", ...");
            break;
        }
        n = snprintf(out + len, out_len - len, "%s%s", sep, rule);
        len += n > 0 ? (size_t)n : 0;
    }
}

static double add(struct hark_item *item,
                  const char *factor,
                  double points,
                  const char *detail)
{
    if (points == 0 || !isfinite(points)) {
        return 0;
    }
    hark_item_add_reason(item, factor, points, detail);
    return points;
}

static double customer_points(const struct hark_score_cfg *cfg,
                              struct hark_item *item)
{
    const struct hark_customer_view *c = &item->customer;
    const struct hark_score_tier *tier = find_tier(cfg, c->tier);
    double share = c->clv > 0 ? fmin(1.0, c->clv / cfg->clv_ref) : 0;
    double points = (tier ? tier->points : 0) + cfg->w_customer * share;
    char num[32];
    char detail[160];
    fmt_num(num, sizeof(num), c->clv);
    if (c->tier) {
        snprintf(detail, sizeof(detail), "tier %s, clv %s", c->tier, num);
    } else {
        snprintf(detail, sizeof(detail), "clv %s", num);
    }
    return add(item, "customer", points, detail);
}

static int level_index(const struct hark_score_cfg *cfg, double score)
{
    if (score >= cfg->p1) {
        return 0;
    }
    if (score >= cfg->p2) {
        return 1;
    }
    if (score >= cfg->p3) {
        return 2;
    }
    return 3;
}

/* The due and warning times of an item at `level` whose clock starts at
 * `start_ms`. */
static void sla_times(const struct hark_score_cfg *cfg, int level,
                      int64_t start_ms, struct hark_item *item)
{
    int64_t sla_ms = (int64_t)cfg->sla_minutes[level] * 60000;
    int64_t warn_ms = sla_ms * cfg->sla_warn_percent / 100;
    const struct hark_bhours *bh = cfg->business_hours;
    if (bh && (cfg->levels_24x7 & (1U << level))) {
        bh = NULL;
    }
    if (!bh) {
        item->sla_due_ms = start_ms + sla_ms;
        item->sla_warn_ms = warn_ms > 0 ? start_ms + warn_ms : 0;
        return;
    }
    item->sla_due_ms = hark_bhours_add(bh, start_ms, sla_ms);
    item->sla_warn_ms = warn_ms > 0 ? hark_bhours_add(bh, start_ms, warn_ms)
                                    : 0;
}

void hark_score_item(const struct hark_score_cfg *cfg,
                     struct hark_item *item,
                     int64_t now_ms)
{
    char detail[256];
    char num[32];
    double sum = 0;
    clear_outputs(item);
    relationship(cfg, item);

    if (item->rule_points != 0) {
        rules_detail(item, detail, sizeof(detail));
        sum += add(item, "rules", cfg->w_rules * (double)item->rule_points,
                   detail);
    }
    const struct hark_sentiment *s = &item->sentiment;
    if (s->label == HARK_SENTIMENT_NEGATIVE && s->score < 0) {
        snprintf(detail, sizeof(detail), "negative %.2f", s->score);
        sum += add(item, "sentiment", cfg->w_negative * -s->score, detail);
    }
    if (item->has_customer) {
        sum += customer_points(cfg, item);
    }
    double relational = item->relationship.relational;
    if (relational > 0) {
        fmt_num(num, sizeof(num), relational);
        snprintf(detail, sizeof(detail), "relational %s", num);
        sum += add(item, "relationship",
                   cfg->w_relationship * fmin(1.0, relational / cfg->clv_ref),
                   detail);
    }
    int64_t followers = item->post ? item->post->author.followers : -1;
    if (followers > 0) {
        snprintf(detail, sizeof(detail), "followers %lld",
                 (long long)followers);
        sum += add(item, "influence",
                   cfg->w_influence * log10((double)followers + 1), detail);
    }

    struct hark_priority *p = &item->priority;
    p->score = sum < 0 ? 0 : (sum > 100 ? 100 : sum);
    p->is_clamped = p->score != sum;
    int level = level_index(cfg, p->score);
    p->level[0] = 'p';
    p->level[1] = (char)('1' + (level & 3)); /* level_index gives 0..3 */
    p->level[2] = '\0';

    if (item->action == HARK_ACTION_ENGAGE) {
        const char *queue = item->rule_route && *item->rule_route
                                ? item->rule_route
                                : cfg->default_queue;
        item->route_queue = hark_xstrdup(queue);
        sla_times(cfg, level, now_ms, item);
    }
}
