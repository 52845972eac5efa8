/*
 * score: relationship value, priority with reasons, and routing
 * (enrich/score.c). The settings are part of the config snapshot.
 *
 * Thread: any; reads only the settings and the item it is given.
 */
#ifndef HARK_SCORE_H
#define HARK_SCORE_H

#include "hark/business_hours.h"
#include "hark/common.h"
#include "hark/diag.h"
#include "hark/item.h"
#include "hark/json.h"

/* Points for a customer tier (priority.weights.tier). */
struct hark_score_tier {
    char *name;    /* matched ASCII case-insensitively to customer.tier */
    double points;
};

/* Defaults: see hark_score_cfg_init() in enrich/score.c. */
struct hark_score_cfg {
    /* priority weights: points per unit of each factor */
    double w_rules;        /* x sum of the matched rules' priority */
    double w_negative;     /* x -compound, when negative */
    double w_customer;     /* points for a known customer at full value */
    struct hark_score_tier *tiers; /* points per tier, owned */
    size_t n_tiers;
    double w_influence;    /* x log10(followers + 1) */
    double w_relationship; /* x min(1, relational / clv_ref) */
    double clv_ref;        /* CLV that earns the full customer points */
    /* relational capital weights (value per counted act) */
    double rv_positive, rv_referral, rv_recommendation, rv_introduction;
    /* level thresholds: score >= p1 -> p1, ... else p4 */
    double p1, p2, p3;
    int sla_minutes[4];   /* per level p1..p4 */
    char *default_queue;  /* engage rules without a route */
    unsigned export_mask; /* customers.export */
    /* SLA warning: when this share of the SLA time has run (1..99); 0 =
     * no warning */
    int sla_warn_percent;
    /* priority.business_hours: one reference (NULL = the SLA clock runs
     * 24/7 for every level) */
    struct hark_bhours *business_hours;
    unsigned levels_24x7; /* bit 0 = p1 ... bit 3 = p4: clock runs 24/7 */
};

void hark_score_cfg_init(struct hark_score_cfg *cfg);
void hark_score_cfg_cleanup(struct hark_score_cfg *cfg);

/*
 * Reads the "priority" object of the config (NULL = defaults); unknown
 * keys are errors.
 */
HARK_MUST_CHECK hark_err_t hark_score_cfg_parse(const struct hark_json_doc *doc,
                                                const struct hark_json *obj,
                                                struct hark_diag *diag,
                                                struct hark_score_cfg *cfg);

/*
 * Reads an array of customer field names ("id", "name", "tier", "segment",
 * "clv", "revenue_12m", "counts") into a HARK_CUST_F_* mask, for
 * customers.export. Errors go to `diag`; *mask is unchanged on failure.
 */
HARK_MUST_CHECK hark_err_t hark_score_export_parse(
    const struct hark_json_doc *doc, const struct hark_json *arr,
    struct hark_diag *diag, unsigned *mask);

/*
 * Fills item->relationship, item->priority and, for engage items,
 * item->route_queue, item->sla_due_ms and item->sla_warn_ms, counted from
 * `now_ms` (the SLA start: the item's first unanswered post): the level's
 * SLA minutes later, in open hours when business hours apply to the level.
 */
void hark_score_item(const struct hark_score_cfg *cfg, struct hark_item *item,
                     int64_t now_ms);

#endif /* HARK_SCORE_H */
