/*
 * baseline: each author's usual behaviour and how far a post is from it.
 *
 * Sentiment: an exponentially weighted mean and variance of the compound
 * score (Welford's update with weight alpha, West 1979):
 *
 *     d = x - mean;  mean += a d;  var = (1 - a) (var + a d^2)
 *
 * with a = max(alpha, 1/n), so the first 1/alpha posts are a plain
 * running mean and population variance (no bias toward the first post)
 * and later ones forget with a half-life of about ln 2 / alpha posts.
 *
 * A post is a sharp drop when, against the baseline *before* it,
 *
 *     z = (x - mean) / max(sd, sd_floor) <= -k,
 *     mean - x >= min_drop,   x <= max_value,   n_scored >= min_posts.
 *
 * The floor keeps a very steady author (sd near 0) from alarming on a
 * small dip; min_drop and max_value ask for a drop that a human would call
 * one (from happy to plainly negative); min_posts waits until the
 * baseline means something. The false-alarm rate of the defaults on
 * synthetic authors is in docs/internals/relationship.md.
 *
 * Gaps: the same EW mean over the time between consecutive posts (post
 * time, not arrival time, so a backfill does not look like a burst).
 */
#include "relation_int.h"

#include <math.h>

void hark_baseline_add_sentiment(struct hark_baseline *bl, double alpha,
                                 double x)
{
    if (!isfinite(x)) {
        return;
    }
    bl->n_scored++;
    double a = 1.0 / (double)bl->n_scored;
    if (a < alpha) {
        a = alpha;
    }
    double d = x - bl->sent_mean;
    bl->sent_mean += a * d;
    bl->sent_var = (1 - a) * (bl->sent_var + a * d * d);
}

void hark_baseline_add_post(struct hark_baseline *bl, double gap_alpha,
                            int64_t t_ms)
{
    bl->n_posts++;
    if (bl->last_post_ms == 0) {
        bl->first_post_ms = t_ms;
        bl->last_post_ms = t_ms;
        return;
    }
    if (t_ms < bl->last_post_ms) {
        /* Out of order (a late page): counted, but says nothing of gaps. */
        if (t_ms < bl->first_post_ms) {
            bl->first_post_ms = t_ms;
        }
        return;
    }
    double gap = (double)(t_ms - bl->last_post_ms);
    bl->last_post_ms = t_ms;
    bl->n_gaps++;
    double a = 1.0 / (double)bl->n_gaps;
    if (a < gap_alpha) {
        a = gap_alpha;
    }
    bl->gap_mean_ms += a * (gap - bl->gap_mean_ms);
}

bool hark_baseline_sentiment_drop(const struct hark_baseline *bl,
                                  const struct hark_relation_cfg *cfg,
                                  double x, struct hark_deviation *dev)
{
    double sd = sqrt(bl->sent_var > 0 ? bl->sent_var : 0);
    double sd_used = sd > cfg->churn_sd_floor ? sd : cfg->churn_sd_floor;
    dev->value = x;
    dev->mean = bl->sent_mean;
    dev->sd = sd;
    dev->z = sd_used > 0 ? (x - bl->sent_mean) / sd_used : 0;
    dev->drop = bl->sent_mean - x;
    dev->n_prior = bl->n_scored;
    return bl->n_scored >= cfg->churn_min_posts && dev->z <= -cfg->churn_k &&
           dev->drop >= cfg->churn_min_drop && x <= cfg->churn_max_value;
}

int64_t hark_rel_advocacy_acts(const struct hark_rel_author *a)
{
    return a->file_recommendations + a->file_referrals +
           a->file_introductions + a->seen.recommendations +
           a->seen.referrals + a->seen.introductions + a->seen.advocacy;
}

double hark_rel_relational(const struct hark_rel_author *a, const double w[4])
{
    double positive =
        (double)(a->file_positive_mentions + a->seen.positive_mentions);
    double referrals = (double)(a->file_referrals + a->seen.referrals);
    double recs =
        (double)(a->file_recommendations + a->seen.recommendations);
    double intros = (double)(a->file_introductions + a->seen.introductions);
    return w[0] * positive + w[1] * referrals + w[2] * recs + w[3] * intros;
}

bool hark_rel_is_valuable(const struct hark_rel_author *a,
                          const struct hark_relation_cfg *cfg,
                          double relational)
{
    double monetary = a->is_customer ? a->clv : 0;
    if (a->is_customer && a->clv >= cfg->value_clv) {
        return true;
    }
    if (monetary + relational >= cfg->value_relationship) {
        return true;
    }
    return hark_rel_advocacy_acts(a) >= cfg->advocate_min_acts;
}

static bool is_recent_churn(const struct hark_rel_author *a,
                            const struct hark_relation_cfg *cfg,
                            int64_t now_ms)
{
    return a->last_churn_ms != 0 && now_ms - a->last_churn_ms < cfg->at_risk_ms;
}

static bool is_dormant(const struct hark_rel_author *a,
                       const struct hark_relation_cfg *cfg, int64_t now_ms)
{
    const struct hark_baseline *bl = &a->bl;
    if (bl->n_posts < cfg->segment_min_posts || bl->n_gaps == 0 ||
        bl->last_post_ms == 0) {
        return false;
    }
    double after = cfg->dormant_gaps * bl->gap_mean_ms;
    if (after < (double)cfg->dormant_min_ms) {
        after = (double)cfg->dormant_min_ms;
    }
    return (double)(now_ms - bl->last_post_ms) > after;
}

/*
 * In order: dormant (silent well beyond the usual gap), at_risk (a recent
 * churn_risk, or a sentiment mean at or below at_risk_mean), advocate
 * (enough advocacy acts, and a friendly mean once it is known), new (too
 * few posts to say), loyal (the rest: regular and not unhappy).
 */
enum hark_segment hark_rel_segment(const struct hark_rel_author *a,
                                   const struct hark_relation_cfg *cfg,
                                   int64_t now_ms)
{
    const struct hark_baseline *bl = &a->bl;
    bool has_baseline = bl->n_scored >= cfg->segment_min_posts;
    if (is_dormant(a, cfg, now_ms)) {
        return HARK_SEGMENT_DORMANT;
    }
    if (is_recent_churn(a, cfg, now_ms) ||
        (has_baseline && bl->sent_mean <= cfg->at_risk_mean)) {
        return HARK_SEGMENT_AT_RISK;
    }
    if (hark_rel_advocacy_acts(a) >= cfg->advocate_min_acts &&
        (!has_baseline || bl->sent_mean >= cfg->advocate_min_mean)) {
        return HARK_SEGMENT_ADVOCATE;
    }
    if (bl->n_posts < cfg->segment_min_posts) {
        return HARK_SEGMENT_NEW;
    }
    return HARK_SEGMENT_LOYAL;
}

int64_t hark_rel_silence_after_ms(const struct hark_rel_author *a,
                                  const struct hark_relation_cfg *cfg)
{
    const struct hark_baseline *bl = &a->bl;
    if (bl->n_posts < cfg->silence_min_posts || bl->n_gaps == 0) {
        return 0;
    }
    double after = cfg->silence_gaps * bl->gap_mean_ms;
    if (after < (double)cfg->silence_min_ms) {
        after = (double)cfg->silence_min_ms;
    }
    return after > 9e18 ? INT64_MAX : (int64_t)after;
}
