/*
 * item: a post on its way through the pipeline together with what the
 * stages found out about it: matched rules with spans, sentiment, the
 * customer join, relationship value, priority with reasons, route. Filters
 * and enrich fill it in; sink/event.c serializes it. This is the "post
 * model" the stages meet through: no stage reads another stage's structs.
 *
 * An item owns everything it points to (strings are copies). One owner at
 * a time; it changes owner through queues.
 *
 * Thread: any; no shared state.
 */
#ifndef HARK_ITEM_H
#define HARK_ITEM_H

#include "hark/common.h"
#include "hark/post.h"

enum hark_action {
    HARK_ACTION_NONE = 0, /* no rule matched */
    HARK_ACTION_TAG,
    HARK_ACTION_ENGAGE,
    HARK_ACTION_DROP
};

enum hark_sentiment_label {
    HARK_SENTIMENT_UNSCORED = 0,
    HARK_SENTIMENT_POSITIVE,
    HARK_SENTIMENT_NEUTRAL,
    HARK_SENTIMENT_NEGATIVE
};

/* A byte range [start, end) of one field of the original post. */
struct hark_span {
    enum hark_field field;
    uint32_t start;
    uint32_t end;
};

struct hark_match {
    char *rule;            /* rule id */
    struct hark_strv tags;
    struct hark_span *spans;
    size_t n_spans;
};

struct hark_sentiment_term {
    char *term;      /* the word or phrase as it appears (lowercased) */
    double valence;  /* its contribution after negation, boosters, caps */
};

struct hark_sentiment {
    double score; /* compound, [-1, 1] */
    enum hark_sentiment_label label;
    struct hark_sentiment_term *terms;
    size_t n_terms;
};

/* Which customer fields an event may carry (customers.export). */
enum {
    HARK_CUST_F_ID = 1u << 0,
    HARK_CUST_F_NAME = 1u << 1,
    HARK_CUST_F_TIER = 1u << 2,
    HARK_CUST_F_SEGMENT = 1u << 3,
    HARK_CUST_F_CLV = 1u << 4,
    HARK_CUST_F_REVENUE = 1u << 5,
    HARK_CUST_F_COUNTS = 1u << 6 /* referrals, recommendations, ... */
};

/* A copy of the joined customer's exportable fields. */
struct hark_customer_view {
    char *id;
    char *name;
    char *tier;
    char *segment;
    double clv;
    double revenue_12m;
    int64_t referrals, recommendations, introductions, positive_mentions;
    bool is_handle_match; /* matched on a handle where a stable id exists */
    unsigned export_mask; /* HARK_CUST_F_* */
};

struct hark_relationship {
    double monetary;
    double relational;
    double total;
};

struct hark_reason {
    char *factor; /* "rules", "sentiment", "customer_value", ... */
    double points;
    char *detail; /* human words: "tier gold", "negative -0.72"; may be NULL */
};

struct hark_priority {
    double score; /* 0-100, after clamping */
    char level[4]; /* "p1".."p4" */
    bool is_clamped;
    struct hark_reason *reasons;
    size_t n_reasons;
};

struct hark_item {
    struct hark_post *post; /* owned */

    /* Delivery bookkeeping, set by ingest and read back from acks. */
    uint32_t src_index;
    uint64_t seq;
    /* Numbered by the pipeline as ingest hands the post over; the emit
     * stage handles posts in this order (core/reorder.c). */
    uint64_t arrival;

    /* filters/ */
    struct hark_match *matches;
    size_t n_matches;
    struct hark_strv tags;        /* union of matched rules' tags, in order */
    struct hark_strv author_tags; /* from author lists */
    enum hark_action action;
    int64_t rule_points;          /* sum of matched rules' priority */
    char *rule_route;             /* queue chosen by the rules, or NULL */
    struct hark_sentiment sentiment;
    char *rules_version;

    /* enrich/ */
    bool has_customer;
    struct hark_customer_view customer;
    struct hark_relationship relationship;
    struct hark_priority priority;
    char *route_queue;   /* NULL when not an engagement item */
    int64_t sla_due_ms;  /* 0 when none */
    int64_t sla_warn_ms; /* SLA warning time; 0 when none */

    /* enrich/relation.c: "advocate", "loyal", "at_risk", "dormant", "new";
     * NULL when not derived */
    char *behaviour_segment;

    /* enrich/conversation.c: the engagement item this post belongs to.
     * item_id (16 hex digits) is NULL when the post is in no item. */
    char *item_id;
    uint32_t item_seq;                /* 1 for the item's first post */
    int item_status;                  /* enum hark_conv_status */
    int64_t item_opened_ms;
    int64_t item_first_unanswered_ms; /* SLA start; 0 = none */
};

/* Takes ownership of `post`. */
struct hark_item *hark_item_new(struct hark_post *post);
void hark_item_free(struct hark_item *item);

/* Appends a match (copies `rule`, takes nothing); returns it to fill in. */
struct hark_match *hark_item_add_match(struct hark_item *item,
                                       const char *rule);
void hark_match_add_span(struct hark_match *m, enum hark_field field,
                         uint32_t start, uint32_t end);
void hark_item_add_reason(struct hark_item *item, const char *factor,
                          double points, const char *detail);
void hark_sentiment_add_term(struct hark_sentiment *s, const char *term,
                             size_t term_len, double valence);
void hark_sentiment_cleanup(struct hark_sentiment *s);
void hark_customer_view_cleanup(struct hark_customer_view *c);

const char *hark_action_name(enum hark_action action);
/* The name of item_status ("open", "answered", "reopened"; NULL for none):
 * the values of enum hark_conv_status (enrich/conversation.h). */
const char *hark_item_status_name(int status);
const char *hark_sentiment_label_name(enum hark_sentiment_label label);

#endif /* HARK_ITEM_H */
