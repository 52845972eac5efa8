/*
 * rules_int: the compiled form of a rule set, shared by the loader
 * (filters/rules.c and the rules_*.c files it is cut into) and the matcher
 * (filters/rules_match.c); and, at the end, the loader's own state.
 *
 * A compiled set is immutable once hark_rules_load() returns; every worker
 * reads it without locks. PCRE2 codes are JIT-compiled at load, so they
 * are shareable; match data, the JIT stack and the normalized copies of a
 * post's fields live in the per-thread scratch.
 *
 * A Hyperscan prefilter (filters/prefilter.c, built at the end of
 * hark_rules_load()) picks the candidate rules of each post; the matcher
 * then evaluates only those, one at a time, exactly as it evaluates every
 * rule without a prefilter. Every text test carries `text_id` (its index
 * among the set's text tests, in rule order) and `pf_pattern` (what the
 * prefilter compiles for it: the regex itself, or the keyword trie without
 * its boundary assertions).
 *
 * Thread: see above.
 */
#ifndef HARK_RULES_INT_H
#define HARK_RULES_INT_H

#include <stdatomic.h>

#include <pcre2.h>

#include "hark/rules.h"
#include "hark/sentiment.h"

struct hark_prefilter;

/* What a text test looks at. Bits of rules_node.fields. */
enum hark_rules_tfield {
    HARK_RULES_TF_TEXT = 0, /* == HARK_FIELD_TEXT */
    HARK_RULES_TF_TITLE,    /* == HARK_FIELD_TITLE */
    HARK_RULES_TF_SPOILER,  /* == HARK_FIELD_SPOILER */
    HARK_RULES_TF_HANDLE,   /* author.handle (no spans: not a post field) */
    HARK_RULES_TF_DISPLAY,  /* author.display_name (no spans) */
    HARK_RULES_TF_COUNT
};

#define HARK_RULES_TF_DEFAULT                                   \
    ((1U << HARK_RULES_TF_TEXT) | (1U << HARK_RULES_TF_TITLE) | \
     (1U << HARK_RULES_TF_SPOILER))

enum hark_rules_nfield {
    HARK_RULES_NF_FOLLOWERS = 0,
    HARK_RULES_NF_LIKES,
    HARK_RULES_NF_REPOSTS,
    HARK_RULES_NF_REPLIES
};

enum hark_rules_sfield {
    HARK_RULES_SF_LANG = 0,
    HARK_RULES_SF_PLATFORM,
    HARK_RULES_SF_SOURCE,
    HARK_RULES_SF_KIND
};

enum hark_rules_node_kind {
    HARK_RULES_NODE_MATCH = 0, /* {"all", "any", "none"} */
    HARK_RULES_NODE_TEXT,      /* "regex" or "keywords" */
    HARK_RULES_NODE_NUM,       /* "gt", "gte", "lt", "lte", "eq" */
    HARK_RULES_NODE_SET,       /* "lang", "platform", "source", "kind" */
    HARK_RULES_NODE_LIST,      /* "hashtags", "mentions", "domains" */
    HARK_RULES_NODE_NEAR       /* "near": two keyword tests within N words */
};

/* What a HARK_RULES_NODE_LIST test looks at. */
enum hark_rules_lfield {
    HARK_RULES_LF_HASHTAGS = 0,
    HARK_RULES_LF_MENTIONS,
    HARK_RULES_LF_DOMAINS
};

/* kind_mask bit for "original": neither a reply nor a repost. */
#define HARK_RULES_KIND_ORIGINAL (1U << 4)

enum {
    HARK_RULES_OP_GT = 1U << 0,
    HARK_RULES_OP_GTE = 1U << 1,
    HARK_RULES_OP_LT = 1U << 2,
    HARK_RULES_OP_LTE = 1U << 3,
    HARK_RULES_OP_EQ = 1U << 4
};

struct hark_rules_node {
    enum hark_rules_node_kind kind;

    /* HARK_RULES_NODE_MATCH */
    struct hark_rules_node **all, **any, **none;
    size_t n_all, n_any, n_none;

    /* HARK_RULES_NODE_TEXT */
    pcre2_code *code;
    bool is_normalized; /* keywords without "case": run on the copy */
    unsigned fields;    /* bits of enum hark_rules_tfield */
    uint32_t text_id;   /* index among the set's text tests */
    char *pf_pattern;   /* for the prefilter; NULL: none (always tried) */

    /* HARK_RULES_NODE_NUM */
    enum hark_rules_nfield nfield;
    unsigned ops; /* HARK_RULES_OP_* */
    double gt, gte, lt, lte, eq;

    /* HARK_RULES_NODE_SET */
    enum hark_rules_sfield sfield;
    char **values; /* lowercased for lang and platform */
    size_t n_values;
    unsigned kind_mask; /* HARK_RULES_SF_KIND: bits of enum hark_post_kind,
                           and HARK_RULES_KIND_ORIGINAL */

    /* HARK_RULES_NODE_LIST: `values` lowercased, without '#' / '@' */
    enum hark_rules_lfield lfield;

    /* HARK_RULES_NODE_NEAR: `code` is term A (on the normalized copy of
     * `fields`), `code_b` term B, `words` finds the words between them.
     * For the prefilter A and B are two text tests: text_id and
     * pf_pattern for A, text_id_b and pf_pattern_b for B; the node can
     * hold only when both hit. */
    pcre2_code *code_b;
    uint32_t text_id_b;
    char *pf_pattern_b;
    pcre2_code *words;
    uint32_t within;  /* at most this many words apart (>= 1) */
    bool is_ordered; /* A must come before B */
};

struct hark_rules_rule {
    char *id;
    struct hark_strv tags;
    enum hark_action action;
    int64_t priority;
    char *route; /* NULL when none */
    int group;   /* index into rules->groups, or -1 */
    struct hark_rules_node *match;
};

/* One identity of an author list: "platform\x1f@handle" or "platform\x1f#id",
 * lowercased except for ids. Sorted by key for bsearch. */
struct hark_rules_ident {
    char *key;
    size_t list; /* index into rules->authors */
};

struct hark_rules_author_list {
    char *name;
    struct hark_strv tags;
};

struct hark_rules {
    atomic_size_t refs;
    struct hark_rules_rule *rules;
    size_t n_rules;
    char **groups;
    size_t n_groups;
    struct hark_rules_author_list *authors;
    size_t n_authors;
    struct hark_rules_ident *idents;
    size_t n_idents;
    size_t n_text;                    /* text tests (text_id < n_text) */
    struct hark_prefilter *prefilter; /* NULL: every rule on every post */
    char version[16];                 /* "r-" + 12 hex digits */
    struct hark_sentiment_phrase *phrases; /* packs' "sentiment" phrases */
    size_t n_phrases;
    char **files;                     /* every file loaded, includes too */
    size_t n_files;
};

/* Most spans one matched rule reports. */
#define HARK_RULES_MAX_SPANS 16

/* PCRE2 limits per match call. */
#define HARK_RULES_MATCH_LIMIT 100000u
#define HARK_RULES_DEPTH_LIMIT 10000u

void hark_rules_node_free(struct hark_rules_node *node);
int hark_rules_ident_cmp(const void *a, const void *b);

/*
 * Replaces the set's prefilter with `pf` (taken, may be NULL: no
 * prefilter) and frees the old one. Only before the set is shared (tests,
 * benchmarks).
 */
void hark_rules_set_prefilter_take(struct hark_rules *rules,
                                   struct hark_prefilter *pf);

/*
 * Whether hark_rules_apply() with this scratch uses the set's prefilter
 * (the default) or tries every rule (the reference the prefilter is
 * checked against). Thread: the scratch's owner.
 */
void hark_rules_scratch_use_prefilter(struct hark_rules_scratch *scratch,
                                      bool is_on);

/* Per-scratch prefilter counters (tests, benchmarks). */
struct hark_rules_pf_counters {
    uint64_t n_posts;      /* posts that went through the prefilter */
    uint64_t n_candidates; /* candidate rules evaluated, summed */
    uint64_t n_fallbacks;  /* posts where the scan failed: every rule */
};

const struct hark_rules_pf_counters *
hark_rules_scratch_pf_counters(const struct hark_rules_scratch *scratch);

/* ---- The loader: only the rules*.c files that build a set ---------- */

/*
 * hark_rules_load() is cut into files along its passes (see rules.c); they
 * share the loader's state below while one load runs, on one thread. The
 * matcher and the prefilter never see a loader.
 */
struct hark_buf;
struct hark_diag;
struct hark_json;
struct hark_json_doc;
struct hark_rules_loaded_file;

/* A JSON value together with the document it came from. */
struct hark_rules_located {
    const struct hark_json_doc *doc;
    const struct hark_json *v;
    const char *name;  /* list / author list name, or NULL */
    size_t key_offset; /* where the name is */
};

struct hark_rules_loader {
    struct hark_diag *diag;
    size_t n_errors_before;
    bool has_eio;
    uint64_t hash;

    struct hark_rules_loaded_file *files;
    size_t n_files;
    size_t *stack; /* indices into files: the include chain */
    size_t n_stack;

    struct hark_rules_located *prules;
    size_t n_prules;
    struct hark_rules_located *lists;
    size_t n_lists;
    struct hark_rules_located *authors;
    size_t n_authors;

    struct hark_rules *rules; /* being built */

    size_t *rule_src; /* per compiled rule: its index into prules */

    size_t *id_slots; /* rule ids seen so far (see earlier_id) */
    size_t id_cap;    /* a power of two, over twice the rules */
};

/* What compiling one rule's match tree needs (rules_cond.c, rules_text.c). */
struct hark_rules_cctx {
    struct hark_rules_loader *ld;
    const struct hark_json_doc *doc;
    const char *rule_id;
};

/* Arrays grow by one element: hark_xrealloc() to n + 1 elements. */
void *hark_rules_grow(void *p, size_t n, size_t size);

/* "file:line:column" of `offset` in `doc` into out[0..out_len). */
void hark_rules_where(const struct hark_json_doc *doc,
                      size_t offset,
                      char *out,
                      size_t out_len);

/* Append `s`, or s[0..n) with ASCII lowercased, to the unbounded `b`. */
void hark_rules_buf_puts(struct hark_buf *b, const char *s);
void hark_rules_lower_into(struct hark_buf *b, const char *s, size_t n);

/*
 * Adds the strings of the JSON array `arr` (may be NULL) to `out` once
 * each; anything else than a non-empty string is an error about `what`.
 */
void hark_rules_add_strings(struct hark_rules_loader *ld,
                            const struct hark_json_doc *doc,
                            const struct hark_json *arr,
                            const char *what,
                            struct hark_strv *out);

/* Lists and author lists (rules_lists.c), before any rule. */
void hark_rules_check_lists(struct hark_rules_loader *ld);
void hark_rules_compile_authors(struct hark_rules_loader *ld);

/* The list `name` (an array), or NULL. Borrowed from the loader. */
const struct hark_rules_located *
hark_rules_find_list(const struct hark_rules_loader *ld, const char *name);

/* A pack's "sentiment" object `v` (may be NULL) into ld->rules->phrases. */
void hark_rules_collect_phrases(struct hark_rules_loader *ld,
                                const struct hark_json_doc *doc,
                                const struct hark_json *v);

/*
 * The match object `obj` as a new tree (free it with
 * hark_rules_node_free()), or NULL after reporting every problem.
 */
struct hark_rules_node *hark_rules_compile_match(struct hark_rules_cctx *c,
                                                 const struct hark_json *obj);

/*
 * The text tests of a condition (rules_text.c): each fills `node` (its
 * codes and prefilter patterns, owned by the node) and returns false after
 * reporting a problem.
 */
bool hark_rules_cond_regex(struct hark_rules_cctx *c,
                           const struct hark_json *v,
                           bool is_case,
                           struct hark_rules_node *node);
bool hark_rules_cond_keywords(struct hark_rules_cctx *c,
                              const struct hark_json *arr,
                              bool is_case,
                              struct hark_rules_node *node);
bool hark_rules_cond_near(struct hark_rules_cctx *c,
                          const struct hark_json *v,
                          struct hark_rules_node *node);

/* Warnings about the compiled set as a whole (rules_lint.c). */
void hark_rules_lint_groups(struct hark_rules_loader *ld);

#endif /* HARK_RULES_INT_H */
