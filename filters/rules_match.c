/*
 * rules_match: applying a compiled rule set to a post.
 *
 * Each rule is decided in two steps. First its match tree is evaluated
 * with short-circuits: "all" stops at the first false child, "any" at the
 * first true one, "none" at the first true one, and a text test stops at
 * its first hit. Only when the rule holds is the tree walked again to
 * collect spans: every hit of every text test in the fields it searched,
 * for the "all" children and for each "any" child that holds ("none"
 * children contribute nothing: what they found is why they failed). Most
 * rules fail on most posts, so the common path stays at one PCRE2 call
 * per text test and field.
 *
 * A post's fields are validated as UTF-8 once and normalized once, the
 * first time a rule asks, into buffers that live in the scratch; every
 * pattern then runs with PCRE2_NO_UTF_CHECK. A field that is not valid
 * UTF-8 (it cannot be, after ingest's repair) is treated as absent.
 *
 * A PCRE2 match, depth, heap or JIT stack limit counts as "no match" and
 * is counted in the scratch's stats: a pathological post cannot stall a
 * worker, and it is visible.
 *
 * With a prefilter (filters/prefilter.c), the post's fields are scanned
 * once per database first (the original bytes, and the normalized copy
 * when keyword tests need it), and only the candidate rules are evaluated,
 * in rule order, exactly as above: a rule that is not a candidate cannot
 * match, so the matches are the same as trying every rule. A scan that
 * fails (it should not) makes this post try every rule.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pcre2.h>

#include "hark/item.h"
#include "hark/post.h"
#include "hark/rules.h"

#include "normalize_int.h"
#include "prefilter_int.h"
#include "rules_int.h"

struct field_state {
    const char *s; /* borrowed from the post; NULL when absent */
    size_t len;
    bool is_loaded;
    bool is_normalized;
    struct hark_normalize norm;
};

struct hark_rules_scratch {
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    pcre2_match_data *md;
    const struct hark_post *post;
    struct field_state fields[HARK_RULES_TF_COUNT];
    unsigned char *group_hit;
    size_t group_cap;
    unsigned char *author_hit;
    size_t author_cap;
    struct hark_span spans[HARK_RULES_MAX_SPANS];
    size_t n_spans;
    struct hark_buf key;
    struct hark_normalize list_norm; /* a non-ASCII hashtag or mention */
    struct hark_rules_stats stats;
    struct hark_prefilter_scratch *pf;
    bool is_prefilter_off;
    struct hark_rules_pf_counters pf_counters;
};

struct hark_rules_scratch *hark_rules_scratch_new(void)
{
    struct hark_rules_scratch *sc = hark_xcalloc(1, sizeof(*sc));
    sc->mctx = pcre2_match_context_create(NULL);
    hark_assert(sc->mctx != NULL);
    (void)pcre2_set_match_limit(sc->mctx, HARK_RULES_MATCH_LIMIT);
    (void)pcre2_set_depth_limit(sc->mctx, HARK_RULES_DEPTH_LIMIT);
    sc->jit =
        pcre2_jit_stack_create((size_t)32 * 1024, (size_t)512 * 1024, NULL);
    if (sc->jit) {
        pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);
    }
    sc->md = pcre2_match_data_create(1, NULL);
    hark_assert(sc->md != NULL);
    for (size_t i = 0; i < HARK_RULES_TF_COUNT; i++) {
        hark_normalize_init(&sc->fields[i].norm);
    }
    hark_buf_init(&sc->key, 0);
    hark_normalize_init(&sc->list_norm);
    sc->pf = hark_prefilter_scratch_new();
    return sc;
}

void hark_rules_scratch_free(struct hark_rules_scratch *sc)
{
    if (!sc) {
        return;
    }
    pcre2_match_data_free(sc->md);
    pcre2_jit_stack_free(sc->jit);
    pcre2_match_context_free(sc->mctx);
    for (size_t i = 0; i < HARK_RULES_TF_COUNT; i++) {
        hark_normalize_cleanup(&sc->fields[i].norm);
    }
    free(sc->group_hit);
    free(sc->author_hit);
    hark_buf_cleanup(&sc->key);
    hark_normalize_cleanup(&sc->list_norm);
    hark_prefilter_scratch_free(sc->pf);
    free(sc);
}

void hark_rules_scratch_use_prefilter(struct hark_rules_scratch *sc, bool is_on)
{
    sc->is_prefilter_off = !is_on;
}

const struct hark_rules_pf_counters *
hark_rules_scratch_pf_counters(const struct hark_rules_scratch *sc)
{
    return &sc->pf_counters;
}

const struct hark_rules_stats *
hark_rules_scratch_stats(const struct hark_rules_scratch *sc)
{
    return &sc->stats;
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */

static const char *post_text(const struct hark_post *post,
                             enum hark_rules_tfield f)
{
    switch (f) {
    case HARK_RULES_TF_TEXT:
        return post->text;
    case HARK_RULES_TF_TITLE:
        return post->title;
    case HARK_RULES_TF_SPOILER:
        return post->spoiler_text;
    case HARK_RULES_TF_HANDLE:
        return post->author.handle;
    case HARK_RULES_TF_DISPLAY:
        return post->author.display_name;
    case HARK_RULES_TF_COUNT:
        break;
    }
    return NULL;
}

static struct field_state *field_get(struct hark_rules_scratch *sc,
                                     enum hark_rules_tfield f)
{
    if ((unsigned)f >= HARK_RULES_TF_COUNT) {
        return NULL;
    }
    struct field_state *fs = &sc->fields[f];
    if (!fs->is_loaded) {
        fs->is_loaded = true;
        fs->s = post_text(sc->post, f);
        fs->len = fs->s ? strlen(fs->s) : 0;
        if (fs->s && !hark_utf8_valid(fs->s, fs->len)) {
            fs->s = NULL;
            fs->len = 0;
        }
    }
    return fs->s ? fs : NULL;
}

static const struct hark_normalize *field_norm(struct field_state *fs)
{
    if (!fs->is_normalized) {
        hark_normalize_text(&fs->norm, fs->s, fs->len);
        fs->is_normalized = true;
    }
    return &fs->norm;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void span_add(struct hark_rules_scratch *sc,
                     enum hark_field field,
                     uint32_t start,
                     uint32_t end)
{
    for (size_t i = 0; i < sc->n_spans; i++) {
        const struct hark_span *s = &sc->spans[i];
        if (s->field == field && s->start == start && s->end == end) {
            return;
        }
    }
    if (sc->n_spans < HARK_RULES_MAX_SPANS) {
        sc->spans[sc->n_spans++] = (struct hark_span){field, start, end};
    }
}

static bool is_limit(int rc)
{
    return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
           rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

/* Where to search next after the hit [s, e): past it, or past one code
 * point when the hit was empty. */
static size_t next_start(const char *subject, size_t len, size_t s, size_t e)
{
    if (e > s) {
        return e;
    }
    size_t start = e + 1;
    while (start < len && ((unsigned char)subject[start] & 0xc0) == 0x80) {
        start++;
    }
    return start;
}

/*
 * Searches one field. Without `collect`, stops at the first hit; with it,
 * records every hit (as original byte ranges) until the span cap.
 */
static bool search_field(struct hark_rules_scratch *sc,
                         const struct hark_rules_node *node,
                         enum hark_rules_tfield f,
                         bool collect)
{
    struct field_state *fs = field_get(sc, f);
    if (!fs) {
        return false;
    }
    const struct hark_normalize *norm = NULL;
    const char *subject = fs->s;
    size_t len = fs->len;
    if (node->is_normalized) {
        norm = field_norm(fs);
        subject = norm->text;
        len = norm->len;
    }
    bool matched = false;
    size_t start = 0;
    while (start <= len) {
        int rc = pcre2_match(node->code, (PCRE2_SPTR)subject, len, start,
                             PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
        if (is_limit(rc)) {
            sc->stats.n_match_limit++;
        }
        if (rc < 0) {
            break;
        }
        matched = true;
        if (!collect) {
            break;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        size_t s = ov[0];
        size_t e = ov[1];
        if (e > s && f < (enum hark_rules_tfield)HARK_FIELD_COUNT_) {
            uint32_t os = (uint32_t)s;
            uint32_t oe = (uint32_t)e;
            if (norm) {
                hark_normalize_span(norm, s, e, &os, &oe);
            }
            span_add(sc, (enum hark_field)f, os, oe);
            if (sc->n_spans == HARK_RULES_MAX_SPANS) {
                break;
            }
        }
        start = next_start(subject, len, s, e);
    }
    return matched;
}

static bool test_text(struct hark_rules_scratch *sc,
                      const struct hark_rules_node *node,
                      bool collect)
{
    bool matched = false;
    for (unsigned f = 0; f < HARK_RULES_TF_COUNT; f++) {
        if (!(node->fields & (1U << f))) {
            continue;
        }
        if (search_field(sc, node, (enum hark_rules_tfield)f, collect)) {
            matched = true;
            if (!collect) {
                return true;
            }
        }
    }
    return matched;
}

static bool test_num(const struct hark_post *post,
                     const struct hark_rules_node *node)
{
    int64_t n = 0;
    switch (node->nfield) {
    case HARK_RULES_NF_FOLLOWERS:
        n = post->author.followers;
        break;
    case HARK_RULES_NF_LIKES:
        n = post->likes;
        break;
    case HARK_RULES_NF_REPOSTS:
        n = post->reposts;
        break;
    case HARK_RULES_NF_REPLIES:
        n = post->replies;
        break;
    }
    if (n < 0) {
        return false; /* unknown never satisfies a comparison */
    }
    double v = (double)n;
    if ((node->ops & HARK_RULES_OP_GT) && !(v > node->gt)) {
        return false;
    }
    if ((node->ops & HARK_RULES_OP_GTE) && !(v >= node->gte)) {
        return false;
    }
    if ((node->ops & HARK_RULES_OP_LT) && !(v < node->lt)) {
        return false;
    }
    if ((node->ops & HARK_RULES_OP_LTE) && !(v <= node->lte)) {
        return false;
    }
    if ((node->ops & HARK_RULES_OP_EQ) && !(v == node->eq)) {
        return false;
    }
    return true;
}

/* "en" matches "en", "en-GB", "EN_us"; "en-GB" matches only itself. */
static bool lang_matches(const char *lang, const char *code)
{
    size_t n = strlen(code);
    if (strncasecmp(lang, code, n) != 0) {
        return false;
    }
    return lang[n] == '\0' || lang[n] == '-' || lang[n] == '_';
}

/* Neither a reply nor a repost. */
static bool is_original(const struct hark_post *post)
{
    return post->kind != HARK_KIND_REPLY && post->kind != HARK_KIND_REPOST &&
           !post->is_repost && !(post->in_reply_to && post->in_reply_to[0]);
}

static bool test_set(const struct hark_post *post,
                     const struct hark_rules_node *node)
{
    if (node->sfield == HARK_RULES_SF_KIND) {
        if ((node->kind_mask & HARK_RULES_KIND_ORIGINAL) &&
            is_original(post)) {
            return true;
        }
        return (node->kind_mask & (1U << post->kind)) != 0;
    }
    const char *v = node->sfield == HARK_RULES_SF_LANG       ? post->lang
                    : node->sfield == HARK_RULES_SF_PLATFORM ? post->platform
                                                             : post->source;
    if (!v) {
        return false;
    }
    for (size_t i = 0; i < node->n_values; i++) {
        const char *want = node->values[i];
        bool is_hit = node->sfield == HARK_RULES_SF_LANG ? lang_matches(v, want)
                      : node->sfield == HARK_RULES_SF_PLATFORM
                          ? strcasecmp(v, want) == 0
                          : strcmp(v, want) == 0;
        if (is_hit) {
            return true;
        }
    }
    return false;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80) {
            return false;
        }
    }
    return true;
}

/*
 * Whether the post's value `s` (a hashtag or a mention, folded by the
 * caller when it is not ASCII) is `want` (folded at load),
 * case-insensitively; with `is_bare`, `want` also matches "want@any-host".
 */
static bool folded_is(const char *s, const char *want, bool is_bare)
{
    size_t n = strlen(want);
    return strncasecmp(s, want, n) == 0 &&
           (s[n] == '\0' || (is_bare && s[n] == '@'));
}

/* The host of a link ("https://user@Host.example:8080/x" -> host.example),
 * lowercased into `b`; false when there is none. */
static bool link_host(const char *url, struct hark_buf *b)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
    }
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *colon = memchr(p, ':', n);
    if (colon) {
        n = (size_t)(colon - p);
    }
    while (n > 0 && p[n - 1] == '.') {
        n--;
    }
    hark_buf_reset(b);
    hark_rules_lower_into(b, p, n);
    return n > 0;
}

static bool host_in(const char *host, size_t len, const char *domain)
{
    size_t n = strlen(domain);
    if (len == n) {
        return memcmp(host, domain, n) == 0;
    }
    return len > n && host[len - n - 1] == '.' &&
           memcmp(host + len - n, domain, n) == 0;
}

static bool test_list(struct hark_rules_scratch *sc,
                      const struct hark_rules_node *node)
{
    const struct hark_post *post = sc->post;
    const struct hark_strv *have = node->lfield == HARK_RULES_LF_HASHTAGS
                                       ? &post->hashtags
                                   : node->lfield == HARK_RULES_LF_MENTIONS
                                       ? &post->mentions
                                       : &post->links;
    for (size_t i = 0; i < have->n; i++) {
        const char *s = have->v[i];
        if (!s) {
            continue;
        }
        if (node->lfield == HARK_RULES_LF_DOMAINS) {
            if (!link_host(s, &sc->key)) {
                continue;
            }
            for (size_t k = 0; k < node->n_values; k++) {
                if (host_in(sc->key.ptr, sc->key.len, node->values[k])) {
                    return true;
                }
            }
            continue;
        }
        if (s[0] == '#' || s[0] == '@') {
            s++;
        }
        if (!is_ascii(s)) {
            /* Once per value, into the scratch: no copy per comparison. */
            hark_normalize_text(&sc->list_norm, s, strlen(s));
            s = sc->list_norm.text;
        }
        for (size_t k = 0; k < node->n_values; k++) {
            const char *want = node->values[k];
            bool is_bare = node->lfield == HARK_RULES_LF_MENTIONS &&
                           !strchr(want, '@');
            if (folded_is(s, want, is_bare)) {
                return true;
            }
        }
    }
    return false;
}

/* Most hits of each term of a "near" test looked at per field. */
#define NEAR_MAX_HITS 32

struct near_hit {
    size_t s, e;
};

/* The hits of `code` in subject[0, len), up to NEAR_MAX_HITS. */
static size_t near_hits(struct hark_rules_scratch *sc,
                        const pcre2_code *code,
                        const char *subject,
                        size_t len,
                        struct near_hit *out)
{
    size_t n = 0;
    size_t start = 0;
    while (start <= len && n < NEAR_MAX_HITS) {
        int rc = pcre2_match(code, (PCRE2_SPTR)subject, len, start,
                             PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
        if (rc < 0) {
            if (is_limit(rc)) {
                sc->stats.n_match_limit++;
            }
            break;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        if (ov[1] > ov[0]) {
            out[n++] = (struct near_hit){ov[0], ov[1]};
        }
        start = next_start(subject, len, ov[0], ov[1]);
    }
    return n;
}

/* Whether fewer than `most` words lie in subject[from, to). */
static bool few_words_between(struct hark_rules_scratch *sc,
                              const pcre2_code *words,
                              const char *subject,
                              size_t from,
                              size_t to,
                              uint32_t most)
{
    uint32_t n = 0;
    size_t start = from;
    while (start < to) {
        int rc = pcre2_match(words, (PCRE2_SPTR)subject, to, start,
                             PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
        if (rc < 0) {
            break;
        }
        if (++n >= most) {
            return false;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        start = next_start(subject, to, ov[0], ov[1]);
    }
    return true;
}

/*
 * "near" in one field: a hit of A and a hit of B that do not overlap,
 * with at most within - 1 words between them (A first when ordered).
 * With `collect`, records both hits of every such pair.
 */
static bool near_field(struct hark_rules_scratch *sc,
                       const struct hark_rules_node *node,
                       enum hark_rules_tfield f,
                       bool collect)
{
    struct field_state *fs = field_get(sc, f);
    if (!fs) {
        return false;
    }
    const struct hark_normalize *norm = field_norm(fs);
    struct near_hit a[NEAR_MAX_HITS];
    struct near_hit b[NEAR_MAX_HITS];
    size_t na = near_hits(sc, node->code, norm->text, norm->len, a);
    if (na == 0) {
        return false;
    }
    size_t nb = near_hits(sc, node->code_b, norm->text, norm->len, b);
    bool matched = false;
    for (size_t i = 0; i < na; i++) {
        for (size_t k = 0; k < nb; k++) {
            bool is_a_first = a[i].e <= b[k].s;
            bool is_b_first = b[k].e <= a[i].s;
            if (!is_a_first && (node->is_ordered || !is_b_first)) {
                continue;
            }
            size_t from = is_a_first ? a[i].e : b[k].e;
            size_t to = is_a_first ? b[k].s : a[i].s;
            if (!few_words_between(sc, node->words, norm->text, from, to,
                                   node->within)) {
                continue;
            }
            matched = true;
            if (!collect) {
                return true;
            }
            if (f < (enum hark_rules_tfield)HARK_FIELD_COUNT_) {
                uint32_t os = 0;
                uint32_t oe = 0;
                hark_normalize_span(norm, a[i].s, a[i].e, &os, &oe);
                span_add(sc, (enum hark_field)f, os, oe);
                hark_normalize_span(norm, b[k].s, b[k].e, &os, &oe);
                span_add(sc, (enum hark_field)f, os, oe);
            }
        }
    }
    return matched;
}

static bool test_near(struct hark_rules_scratch *sc,
                      const struct hark_rules_node *node,
                      bool collect)
{
    bool matched = false;
    for (unsigned f = 0; f < HARK_RULES_TF_COUNT; f++) {
        if ((node->fields & (1U << f)) &&
            near_field(sc, node, (enum hark_rules_tfield)f, collect)) {
            matched = true;
            if (!collect) {
                return true;
            }
        }
    }
    return matched;
}

static bool eval(struct hark_rules_scratch *sc,
                 const struct hark_rules_node *node)
{
    switch (node->kind) {
    case HARK_RULES_NODE_TEXT:
        return test_text(sc, node, false);
    case HARK_RULES_NODE_NUM:
        return test_num(sc->post, node);
    case HARK_RULES_NODE_SET:
        return test_set(sc->post, node);
    case HARK_RULES_NODE_LIST:
        return test_list(sc, node);
    case HARK_RULES_NODE_NEAR:
        return test_near(sc, node, false);
    case HARK_RULES_NODE_MATCH:
        break;
    }
    for (size_t i = 0; i < node->n_all; i++) {
        if (!eval(sc, node->all[i])) {
            return false;
        }
    }
    if (node->n_any > 0) {
        bool found = false;
        for (size_t i = 0; i < node->n_any && !found; i++) {
            found = eval(sc, node->any[i]);
        }
        if (!found) {
            return false;
        }
    }
    for (size_t i = 0; i < node->n_none; i++) {
        if (eval(sc, node->none[i])) {
            return false;
        }
    }
    return true;
}

/* Collects the spans of a node already known to hold. */
static void collect(struct hark_rules_scratch *sc,
                    const struct hark_rules_node *node);

/* Collects the spans of a node that may or may not hold. */
static void collect_if(struct hark_rules_scratch *sc,
                       const struct hark_rules_node *node)
{
    if (node->kind == HARK_RULES_NODE_TEXT) {
        (void)test_text(sc, node, true);
    } else if (node->kind == HARK_RULES_NODE_NEAR) {
        (void)test_near(sc, node, true);
    } else if (node->kind == HARK_RULES_NODE_MATCH && eval(sc, node)) {
        collect(sc, node);
    }
}

static void collect(struct hark_rules_scratch *sc,
                    const struct hark_rules_node *node)
{
    if (node->kind == HARK_RULES_NODE_TEXT) {
        (void)test_text(sc, node, true);
        return;
    }
    if (node->kind == HARK_RULES_NODE_NEAR) {
        (void)test_near(sc, node, true);
        return;
    }
    if (node->kind != HARK_RULES_NODE_MATCH) {
        return;
    }
    for (size_t i = 0; i < node->n_all; i++) {
        collect(sc, node->all[i]);
    }
    for (size_t i = 0; i < node->n_any; i++) {
        collect_if(sc, node->any[i]);
    }
}

static int span_cmp(const void *a, const void *b)
{
    const struct hark_span *x = a;
    const struct hark_span *y = b;
    if (x->field != y->field) {
        return x->field < y->field ? -1 : 1;
    }
    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    return x->end < y->end ? -1 : x->end > y->end;
}

/* ------------------------------------------------------------------ */
/* Applying                                                            */

static void strv_add_unique(struct hark_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return;
        }
    }
    hark_strv_add(sv, s, strlen(s));
}

static void *ensure_bytes(unsigned char **p, size_t *cap, size_t n)
{
    if (n > *cap) {
        *p = hark_xrealloc(*p, n);
        *cap = n;
    }
    if (n > 0) {
        memset(*p, 0, n);
    }
    return *p;
}

static void record_match(struct hark_rules_scratch *sc,
                         const struct hark_rules_rule *r,
                         struct hark_item *item)
{
    sc->n_spans = 0;
    collect(sc, r->match);
    qsort(sc->spans, sc->n_spans, sizeof(sc->spans[0]), span_cmp);
    struct hark_match *m = hark_item_add_match(item, r->id);
    for (size_t i = 0; i < r->tags.n; i++) {
        hark_strv_add(&m->tags, r->tags.v[i], strlen(r->tags.v[i]));
        strv_add_unique(&item->tags, r->tags.v[i]);
    }
    for (size_t i = 0; i < sc->n_spans; i++) {
        hark_match_add_span(m, sc->spans[i].field, sc->spans[i].start,
                            sc->spans[i].end);
    }
}

/* Marks every author list that holds `key` (sorted idents, lower bound). */
static void author_lookup(const struct hark_rules *rules,
                          struct hark_rules_scratch *sc,
                          const char *key)
{
    size_t lo = 0;
    size_t hi = rules->n_idents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(rules->idents[mid].key, key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < rules->n_idents && strcmp(rules->idents[lo].key, key) == 0;
         lo++) {
        sc->author_hit[rules->idents[lo].list] = 1;
    }
}

static void apply_authors(const struct hark_rules *rules,
                          struct hark_rules_scratch *sc,
                          struct hark_item *item)
{
    const struct hark_post *post = item->post;
    if (rules->n_idents == 0 || !post->platform) {
        return;
    }
    ensure_bytes(&sc->author_hit, &sc->author_cap, rules->n_authors);
    const char *handle = post->author.handle;
    if (handle && handle[0] == '@') {
        handle++;
    }
    if (handle && handle[0]) {
        hark_buf_reset(&sc->key);
        hark_rules_lower_into(&sc->key, post->platform,
                              strlen(post->platform));
        hark_rules_lower_into(&sc->key, "\x1f@", 2);
        hark_rules_lower_into(&sc->key, handle, strlen(handle));
        author_lookup(rules, sc, sc->key.ptr);
    }
    if (post->author.id && post->author.id[0]) {
        hark_buf_reset(&sc->key);
        hark_rules_lower_into(&sc->key, post->platform,
                              strlen(post->platform));
        if (hark_buf_add(&sc->key, "\x1f#", 2) != HARK_OK ||
            hark_buf_add(&sc->key, post->author.id,
                         strlen(post->author.id) + 1) != HARK_OK) {
            hark_assert(!"unbounded buffer");
        }
        author_lookup(rules, sc, sc->key.ptr);
    }
    for (size_t i = 0; i < rules->n_authors; i++) {
        if (!sc->author_hit[i]) {
            continue;
        }
        const struct hark_strv *tags = &rules->authors[i].tags;
        for (size_t k = 0; k < tags->n; k++) {
            strv_add_unique(&item->author_tags, tags->v[k]);
        }
    }
}

/* What the matched rules decide together, as they are applied in order. */
struct outcome {
    enum hark_action action;
    const char *route;
    int64_t route_priority;
};

static void apply_rule(const struct hark_rules_rule *r,
                       struct hark_rules_scratch *sc,
                       struct hark_item *item,
                       struct outcome *o)
{
    if (r->group >= 0 && sc->group_hit[r->group]) {
        return;
    }
    if (!eval(sc, r->match)) {
        return;
    }
    if (r->group >= 0) {
        sc->group_hit[r->group] = 1;
    }
    record_match(sc, r, item);
    item->rule_points += r->priority;
    if (r->action > o->action) {
        o->action = r->action;
    }
    if (r->action == HARK_ACTION_ENGAGE && r->route &&
        (!o->route || r->priority > o->route_priority)) {
        o->route = r->route;
        o->route_priority = r->priority;
    }
}

/*
 * Runs the prefilter over the post's fields; false when it could not (the
 * caller then tries every rule).
 */
static bool prefilter_scan(const struct hark_prefilter *pf,
                           struct hark_rules_scratch *sc)
{
    if (!hark_prefilter_begin(pf, sc->pf)) {
        return false;
    }
    for (int db = 0; db < HARK_PREFILTER_DB_COUNT; db++) {
        unsigned mask = hark_prefilter_fields(pf, (enum hark_prefilter_db)db);
        for (unsigned f = 0; f < HARK_RULES_TF_COUNT; f++) {
            if (!(mask & (1U << f))) {
                continue;
            }
            struct field_state *fs = field_get(sc, (enum hark_rules_tfield)f);
            if (!fs) {
                continue;
            }
            const char *s = fs->s;
            size_t len = fs->len;
            if (db == HARK_PREFILTER_DB_NORM) {
                const struct hark_normalize *norm = field_norm(fs);
                s = norm->text;
                len = norm->len;
            }
            if (!hark_prefilter_scan(pf, sc->pf, (enum hark_prefilter_db)db, f,
                                     s, len)) {
                return false;
            }
        }
    }
    return true;
}

void hark_rules_apply(const struct hark_rules *rules,
                      struct hark_rules_scratch *sc,
                      struct hark_item *item)
{
    sc->post = item->post;
    for (size_t i = 0; i < HARK_RULES_TF_COUNT; i++) {
        sc->fields[i].is_loaded = false;
        sc->fields[i].is_normalized = false;
    }
    ensure_bytes(&sc->group_hit, &sc->group_cap, rules->n_groups);

    struct outcome o = {HARK_ACTION_NONE, NULL, 0};
    const struct hark_prefilter *pf = rules->prefilter;
    if (pf && !sc->is_prefilter_off && prefilter_scan(pf, sc)) {
        const uint32_t *cand = NULL;
        size_t n = hark_prefilter_candidates(pf, rules, sc->pf, &cand);
        sc->pf_counters.n_posts++;
        sc->pf_counters.n_candidates += n;
        for (size_t i = 0; i < n; i++) {
            apply_rule(&rules->rules[cand[i]], sc, item, &o);
        }
    } else {
        if (pf && !sc->is_prefilter_off) {
            sc->pf_counters.n_fallbacks++;
        }
        for (size_t i = 0; i < rules->n_rules; i++) {
            apply_rule(&rules->rules[i], sc, item, &o);
        }
    }
    item->action = o.action;
    free(item->rule_route);
    item->rule_route = hark_xstrdup(o.route);
    apply_authors(rules, sc, item);
    free(item->rules_version);
    item->rules_version = hark_xstrdup(rules->version);
    sc->post = NULL;
}
