/*
 * rules_sentiment: a pack's "sentiment" object, the domain phrases that
 * hark_sentiment_score_with() counts on top of the lexicon, e.g.
 * "sentiment": {"phrases": {"still waiting": -2.0}}. They are collected
 * from every pack in load order (part of pass 1, see rules.c) and owned by
 * the set.
 *
 * Thread: load on any thread; the set's phrases are immutable.
 */
#include "hark/rules.h"

#include <stdlib.h>
#include <string.h>

#include "hark/json.h"
#include "hark/sentiment.h"

#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* Config maps                                                         */

static const struct hark_cfgmap sentiment_map[] = {
    {"phrases", HARK_JSON_OBJECT, false, NULL},
    {NULL, 0, false, NULL},
};

/* "sentiment": {"phrases": {"still waiting": -2.0, ...}}: domain terms. */
void hark_rules_collect_phrases(struct hark_rules_loader *ld,
                                const struct hark_json_doc *doc,
                                const struct hark_json *v)
{
    if (!v) {
        return;
    }
    /* Unknown keys are reported; the phrases are still checked. */
    hark_err_t keys = hark_cfgmap_check(doc, v, sentiment_map,
                                        "\"sentiment\"", ld->diag);
    (void)keys;
    const struct hark_json *ph = hark_json_get(v, "phrases");
    if (ph && ph->type != HARK_JSON_OBJECT) {
        return;
    }
    for (size_t i = 0; ph && i < ph->n; i++) {
        const struct hark_json *val = ph->items[i];
        const char *key = ph->keys[i];
        if (!(val->type & HARK_JSON_NUMBER) || val->d < -4 || val->d > 4) {
            hark_json_error(doc, ld->diag, val->offset,
                            "sentiment phrase \"%s\" needs a valence "
                            "between -4 and 4", key);
            continue;
        }
        size_t len = strlen(key);
        if (len == 0) {
            hark_json_error(doc, ld->diag, ph->key_offsets[i],
                            "an empty sentiment phrase");
            continue;
        }
        struct hark_rules *r = ld->rules;
        r->phrases = hark_xrealloc(r->phrases,
                                   (r->n_phrases + 1) * sizeof(*r->phrases));
        char *lower = hark_xstrndup(key, len);
        for (char *c = lower; *c; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                *c = (char)(*c - 'A' + 'a');
            }
        }
        r->phrases[r->n_phrases].phrase = lower;
        r->phrases[r->n_phrases].len = len;
        r->phrases[r->n_phrases].valence = val->d;
        r->n_phrases++;
    }
}

const struct hark_sentiment_phrase *
hark_rules_sentiment_phrases(const struct hark_rules *rules, size_t *n)
{
    *n = rules->n_phrases;
    return rules->phrases;
}
