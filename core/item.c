#include "hark/item.h"

#include <stdlib.h>
#include <string.h>

struct hark_item *hark_item_new(struct hark_post *post)
{
    struct hark_item *item = hark_xcalloc(1, sizeof(*item));
    item->post = post;
    item->sentiment.label = HARK_SENTIMENT_UNSCORED;
    return item;
}

void hark_sentiment_cleanup(struct hark_sentiment *s)
{
    for (size_t i = 0; i < s->n_terms; i++) {
        free(s->terms[i].term);
    }
    free(s->terms);
    memset(s, 0, sizeof(*s));
}

void hark_customer_view_cleanup(struct hark_customer_view *c)
{
    free(c->id);
    free(c->name);
    free(c->tier);
    free(c->segment);
    memset(c, 0, sizeof(*c));
}

void hark_item_free(struct hark_item *item)
{
    if (!item) {
        return;
    }
    hark_post_free(item->post);
    for (size_t i = 0; i < item->n_matches; i++) {
        free(item->matches[i].rule);
        hark_strv_cleanup(&item->matches[i].tags);
        free(item->matches[i].spans);
    }
    free(item->matches);
    hark_strv_cleanup(&item->tags);
    hark_strv_cleanup(&item->author_tags);
    free(item->rule_route);
    hark_sentiment_cleanup(&item->sentiment);
    free(item->rules_version);
    hark_customer_view_cleanup(&item->customer);
    for (size_t i = 0; i < item->priority.n_reasons; i++) {
        free(item->priority.reasons[i].factor);
        free(item->priority.reasons[i].detail);
    }
    free(item->priority.reasons);
    free(item->route_queue);
    free(item->behaviour_segment);
    free(item->item_id);
    free(item);
}

struct hark_match *hark_item_add_match(struct hark_item *item,
                                       const char *rule)
{
    item->matches = hark_xrealloc(item->matches, (item->n_matches + 1) *
                                                     sizeof(*item->matches));
    struct hark_match *m = &item->matches[item->n_matches++];
    memset(m, 0, sizeof(*m));
    m->rule = hark_xstrdup(rule);
    return m;
}

void hark_match_add_span(struct hark_match *m, enum hark_field field,
                         uint32_t start, uint32_t end)
{
    m->spans = hark_xrealloc(m->spans, (m->n_spans + 1) * sizeof(*m->spans));
    m->spans[m->n_spans].field = field;
    m->spans[m->n_spans].start = start;
    m->spans[m->n_spans].end = end;
    m->n_spans++;
}

void hark_item_add_reason(struct hark_item *item, const char *factor,
                          double points, const char *detail)
{
    struct hark_priority *p = &item->priority;
    p->reasons = hark_xrealloc(p->reasons, (p->n_reasons + 1) *
                                               sizeof(*p->reasons));
    struct hark_reason *r = &p->reasons[p->n_reasons++];
    r->factor = hark_xstrdup(factor);
    r->points = points;
    r->detail = hark_xstrdup(detail);
}

void hark_sentiment_add_term(struct hark_sentiment *s, const char *term,
                             size_t term_len, double valence)
{
    /* Capacity doubles at every power of two (no field needed). */
    size_t n = s->n_terms;
    if (n == 0 || (n & (n - 1)) == 0) {
        s->terms = hark_xrealloc(s->terms, (n ? n * 2 : 4) * sizeof(*s->terms));
    }
    s->terms[s->n_terms].term = hark_xstrndup(term, term_len);
    s->terms[s->n_terms].valence = valence;
    s->n_terms++;
}

const char *hark_action_name(enum hark_action action)
{
    switch (action) {
    case HARK_ACTION_NONE:
        return "none";
    case HARK_ACTION_TAG:
        return "tag";
    case HARK_ACTION_ENGAGE:
        return "engage";
    case HARK_ACTION_DROP:
        return "drop";
    }
    return "none";
}

const char *hark_sentiment_label_name(enum hark_sentiment_label label)
{
    switch (label) {
    case HARK_SENTIMENT_UNSCORED:
        return "unscored";
    case HARK_SENTIMENT_POSITIVE:
        return "positive";
    case HARK_SENTIMENT_NEUTRAL:
        return "neutral";
    case HARK_SENTIMENT_NEGATIVE:
        return "negative";
    }
    return "unscored";
}

const char *hark_item_status_name(int status)
{
    switch (status) {
    case 1:
        return "open";
    case 2:
        return "answered";
    case 3:
        return "reopened";
    default:
        return NULL;
    }
}
