/*
 * rules_cond: compiling a rule's "match" object into its tree of nodes
 * (struct hark_rules_node, rules_int.h): "all", "any" and "none" of
 * conditions or nested match objects, each condition holding exactly one
 * test. The numeric, set ("lang", "platform", "source", "kind") and list
 * ("hashtags", "mentions", "domains") tests are compiled here, the text
 * tests in rules_text.c. Every problem is reported with its position.
 *
 * Thread: load on any thread.
 */
#include "hark/rules.h"

#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "hark/json.h"

#include "normalize_int.h"
#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* Config maps                                                         */

static const struct hark_cfgmap match_map[] = {
    {"all", HARK_JSON_ARRAY, false, NULL},
    {"any", HARK_JSON_ARRAY, false, NULL},
    {"none", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

#define STR_OR_ARRAY (HARK_JSON_STRING | HARK_JSON_ARRAY)

static const struct hark_cfgmap cond_map[] = {
    {"field", HARK_JSON_STRING, false, NULL},
    {"case", HARK_JSON_BOOL, false, NULL},
    {"regex", HARK_JSON_STRING, false, NULL},
    {"keywords", HARK_JSON_ARRAY, false, NULL},
    {"gt", HARK_JSON_NUMBER, false, NULL},
    {"gte", HARK_JSON_NUMBER, false, NULL},
    {"lt", HARK_JSON_NUMBER, false, NULL},
    {"lte", HARK_JSON_NUMBER, false, NULL},
    {"eq", HARK_JSON_NUMBER, false, NULL},
    {"lang", STR_OR_ARRAY, false, NULL},
    {"platform", STR_OR_ARRAY, false, NULL},
    {"source", STR_OR_ARRAY, false, NULL},
    {"kind", STR_OR_ARRAY, false, NULL},
    {"hashtags", HARK_JSON_ARRAY, false, NULL},
    {"mentions", HARK_JSON_ARRAY, false, NULL},
    {"domains", HARK_JSON_ARRAY, false, NULL},
    {"near", HARK_JSON_OBJECT, false, NULL},
    {NULL, 0, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Conditions                                                          */

static struct hark_rules_node *node_new(enum hark_rules_node_kind kind)
{
    struct hark_rules_node *node = hark_xcalloc(1, sizeof(*node));
    node->kind = kind;
    return node;
}

void hark_rules_node_free(struct hark_rules_node *node)
{
    if (!node) {
        return;
    }
    for (size_t i = 0; i < node->n_all; i++) {
        hark_rules_node_free(node->all[i]);
    }
    for (size_t i = 0; i < node->n_any; i++) {
        hark_rules_node_free(node->any[i]);
    }
    for (size_t i = 0; i < node->n_none; i++) {
        hark_rules_node_free(node->none[i]);
    }
    free(node->all);
    free(node->any);
    free(node->none);
    pcre2_code_free(node->code);
    pcre2_code_free(node->code_b);
    pcre2_code_free(node->words);
    free(node->pf_pattern);
    free(node->pf_pattern_b);
    for (size_t i = 0; i < node->n_values; i++) {
        free(node->values[i]);
    }
    free(node->values);
    free(node);
}

/* Lowercases ASCII; NFKC + case folds anything else, as keywords do. */
static char *fold_dup(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            return hark_normalize_dup(s, len);
        }
    }
    struct hark_buf b;
    hark_buf_init(&b, 0);
    hark_rules_lower_into(&b, s, len);
    char *out = hark_buf_take(&b);
    hark_buf_cleanup(&b);
    return out;
}

/* A domain is a host name: letters, digits, '-', '.', '_' (and UTF-8). */
static bool is_domain(const char *s)
{
    if (!s[0]) {
        return false;
    }
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x80 && !(ch == '-' || ch == '.' || ch == '_' ||
                           (ch >= '0' && ch <= '9') ||
                           (ch >= 'a' && ch <= 'z'))) {
            return false;
        }
    }
    return true;
}

/* "hashtags", "mentions", "domains": a list of values, any one holds. */
static bool cond_list(struct hark_rules_cctx *c,
                      const struct hark_json *arr,
                      enum hark_rules_lfield lfield,
                      struct hark_rules_node *node)
{
    static const char *const what[] = {"hashtags", "mentions", "domains"};
    node->lfield = lfield;
    if (arr->n == 0) {
        hark_json_error(c->doc, c->ld->diag, arr->offset,
                        "\"%s\" is empty: it could never match",
                        what[lfield]);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < arr->n; i++) {
        const struct hark_json *t = arr->items[i];
        if (t->type != HARK_JSON_STRING || t->s_len == 0) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "%s must be non-empty strings, not %s",
                            what[lfield],
                            t->type == HARK_JSON_STRING
                                ? "\"\""
                                : hark_json_type_name(t->type));
            ok = false;
            continue;
        }
        const char *s = t->s;
        size_t len = t->s_len;
        char lead = lfield == HARK_RULES_LF_HASHTAGS   ? '#'
                    : lfield == HARK_RULES_LF_MENTIONS ? '@'
                                                       : '.';
        if (s[0] == lead) {
            s++;
            len--;
        }
        if (lfield == HARK_RULES_LF_DOMAINS && len > 0 && s[len - 1] == '.') {
            len--;
        }
        char *v = fold_dup(s, len);
        const char *at = strchr(v, '@');
        bool is_bad = v[0] == '\0';
        if (lfield == HARK_RULES_LF_MENTIONS) {
            is_bad = is_bad || at == v || (at && (at[1] == '\0' ||
                                                  strchr(at + 1, '@')));
        } else if (lfield == HARK_RULES_LF_DOMAINS) {
            is_bad = is_bad || !is_domain(v);
        } else {
            is_bad = is_bad || strpbrk(v, "# \t\n") != NULL;
        }
        if (is_bad) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            lfield == HARK_RULES_LF_HASHTAGS
                                ? "bad hashtag \"%s\"; expected a tag such "
                                  "as \"acme\" or \"#acme\""
                            : lfield == HARK_RULES_LF_MENTIONS
                                ? "bad mention \"%s\"; expected a handle "
                                  "such as \"acme\" or \"@acme@host\""
                                : "bad domain \"%s\"; expected a host name "
                                  "such as \"example.com\"",
                            t->s);
            free(v);
            ok = false;
            continue;
        }
        node->values = hark_rules_grow(node->values, node->n_values,
                                       sizeof(*node->values));
        node->values[node->n_values++] = v;
    }
    return ok;
}

enum test_kind {
    TEST_NONE = 0,
    TEST_REGEX,
    TEST_KEYWORDS,
    TEST_COMPARE,
    TEST_LANG,
    TEST_PLATFORM,
    TEST_SOURCE,
    TEST_KIND,
    TEST_HASHTAGS,
    TEST_MENTIONS,
    TEST_DOMAINS,
    TEST_NEAR
};

static enum test_kind test_of(const char *key)
{
    static const struct {
        const char *key;
        enum test_kind test;
    } tests[] = {
        {"regex", TEST_REGEX},       {"keywords", TEST_KEYWORDS},
        {"gt", TEST_COMPARE},        {"gte", TEST_COMPARE},
        {"lt", TEST_COMPARE},        {"lte", TEST_COMPARE},
        {"eq", TEST_COMPARE},        {"lang", TEST_LANG},
        {"platform", TEST_PLATFORM}, {"source", TEST_SOURCE},
        {"kind", TEST_KIND},         {"hashtags", TEST_HASHTAGS},
        {"mentions", TEST_MENTIONS}, {"domains", TEST_DOMAINS},
        {"near", TEST_NEAR},
    };

    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (strcmp(tests[i].key, key) == 0) {
            return tests[i].test;
        }
    }
    return TEST_NONE;
}

static const char *const text_fields[] = {
    "text", "title", "spoiler_text", "author.handle", "author.display_name",
};

static const char *const num_fields[] = {
    "author.followers",
    "metrics.likes",
    "metrics.reposts",
    "metrics.replies",
};

static bool cond_field(struct hark_rules_cctx *c,
                       const struct hark_json *obj,
                       enum test_kind test,
                       struct hark_rules_node *node)
{
    const struct hark_json *f = hark_json_get(obj, "field");
    if (test == TEST_REGEX || test == TEST_KEYWORDS || test == TEST_NEAR) {
        if (!f) {
            node->fields = HARK_RULES_TF_DEFAULT;
            return true;
        }
        for (size_t i = 0; i < HARK_RULES_TF_COUNT; i++) {
            if (strcmp(f->s, text_fields[i]) == 0) {
                node->fields = 1U << i;
                return true;
            }
        }
        hark_json_error(c->doc, c->ld->diag, f->offset,
                        "unknown field \"%s\"; expected \"text\", \"title\", "
                        "\"spoiler_text\", \"author.handle\" or "
                        "\"author.display_name\"",
                        f->s);
        return false;
    }
    if (test == TEST_COMPARE) {
        if (!f) {
            hark_json_error(c->doc, c->ld->diag, obj->offset,
                            "a comparison needs \"field\": "
                            "\"author.followers\", \"metrics.likes\", "
                            "\"metrics.reposts\" or \"metrics.replies\"");
            return false;
        }
        for (size_t i = 0; i < sizeof(num_fields) / sizeof(num_fields[0]);
             i++) {
            if (strcmp(f->s, num_fields[i]) == 0) {
                node->nfield = (enum hark_rules_nfield)i;
                return true;
            }
        }
        hark_json_error(c->doc, c->ld->diag, f->offset,
                        "unknown field \"%s\" for a comparison; expected "
                        "\"author.followers\", \"metrics.likes\", "
                        "\"metrics.reposts\" or \"metrics.replies\"",
                        f->s);
        return false;
    }
    if (f) {
        hark_json_error(c->doc, c->ld->diag, hark_json_key_offset(obj, "field"),
                        "\"field\" does not apply to this test; it is for "
                        "\"regex\", \"keywords\", \"near\" and "
                        "comparisons");
        return false;
    }
    return true;
}

static bool cond_compare(const struct hark_json *obj,
                         struct hark_rules_node *node)
{
    static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq"};
    double *vals[] = {&node->gt, &node->gte, &node->lt, &node->lte, &node->eq};
    for (size_t i = 0; i < 5; i++) {
        const struct hark_json *v = hark_json_get(obj, ops[i]);
        if (v) {
            node->ops |= 1U << i;
            *vals[i] = hark_json_num(v, 0);
        }
    }
    return true;
}

static bool add_kind(struct hark_rules_cctx *c,
                     const struct hark_json *s,
                     struct hark_rules_node *node)
{
    static const char *const kinds[] = {"post", "comment", "reply", "repost"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (strcmp(s->s, kinds[k]) == 0) {
            node->kind_mask |= 1U << k;
            return true;
        }
    }
    if (strcmp(s->s, "original") == 0) {
        node->kind_mask |= HARK_RULES_KIND_ORIGINAL;
        return true;
    }
    hark_json_error(c->doc, c->ld->diag, s->offset,
                    "unknown kind \"%s\"; expected \"post\", \"comment\", "
                    "\"reply\", \"repost\" or \"original\"",
                    s->s);
    return false;
}

static bool cond_set(struct hark_rules_cctx *c,
                     const struct hark_json *v,
                     enum test_kind test,
                     struct hark_rules_node *node)
{
    const struct hark_json *const *items = &v;
    size_t n = 1;
    if (v->type == HARK_JSON_ARRAY) {
        items = (const struct hark_json *const *)v->items;
        n = v->n;
        if (n == 0) {
            hark_json_error(c->doc, c->ld->diag, v->offset,
                            "an empty list here could never match");
            return false;
        }
    }
    node->sfield = test == TEST_LANG       ? HARK_RULES_SF_LANG
                   : test == TEST_PLATFORM ? HARK_RULES_SF_PLATFORM
                   : test == TEST_SOURCE   ? HARK_RULES_SF_SOURCE
                                           : HARK_RULES_SF_KIND;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const struct hark_json *s = items[i];
        if (s->type != HARK_JSON_STRING || s->s_len == 0) {
            hark_json_error(c->doc, c->ld->diag, s->offset,
                            "expected a non-empty string, not %s",
                            s->type == HARK_JSON_STRING
                                ? "\"\""
                                : hark_json_type_name(s->type));
            ok = false;
            continue;
        }
        if (test == TEST_KIND) {
            ok = add_kind(c, s, node) && ok;
            continue;
        }
        struct hark_buf b;
        hark_buf_init(&b, 0);
        if (test == TEST_SOURCE) {
            hark_rules_buf_puts(&b, s->s);
        } else {
            hark_rules_lower_into(&b, s->s, s->s_len);
        }
        node->values = hark_rules_grow(node->values, node->n_values,
                                       sizeof(*node->values));
        node->values[node->n_values++] = hark_buf_take(&b);
        hark_buf_cleanup(&b);
    }
    return ok;
}

static bool cond_test(struct hark_rules_cctx *c,
                      const struct hark_json *obj,
                      enum test_kind *out,
                      size_t *test_key)
{
    enum test_kind test = TEST_NONE;
    const char *first = NULL;
    bool ok = true;
    for (size_t i = 0; i < obj->n; i++) {
        enum test_kind t = test_of(obj->keys[i]);
        if (t == TEST_NONE) {
            continue;
        }
        if (test == TEST_NONE) {
            test = t;
            first = obj->keys[i];
            *test_key = i;
        } else if (t != test) {
            hark_json_error(c->doc, c->ld->diag, obj->key_offsets[i],
                            "a condition has one test; found \"%s\" and "
                            "\"%s\" (use \"all\" or \"any\" to combine)",
                            first, obj->keys[i]);
            ok = false;
        }
    }
    if (test == TEST_NONE) {
        hark_json_error(c->doc, c->ld->diag, obj->offset,
                        "condition has no test; expected one of \"regex\", "
                        "\"keywords\", \"gt\", \"gte\", \"lt\", \"lte\", "
                        "\"eq\", \"lang\", \"platform\", \"source\", "
                        "\"kind\", \"hashtags\", \"mentions\", "
                        "\"domains\" or \"near\"");
        ok = false;
    }
    *out = test;
    return ok;
}

static struct hark_rules_node *compile_cond(struct hark_rules_cctx *c,
                                            const struct hark_json *obj)
{
    if (hark_cfgmap_check(c->doc, obj, cond_map, "a condition", c->ld->diag) !=
        HARK_OK) {
        return NULL;
    }
    enum test_kind test = TEST_NONE;
    size_t test_key = 0;
    if (!cond_test(c, obj, &test, &test_key)) {
        return NULL;
    }
    const struct hark_json *tv = obj->items[test_key];
    bool is_text = test == TEST_REGEX || test == TEST_KEYWORDS;
    const struct hark_json *cs = hark_json_get(obj, "case");
    if (cs && !is_text) {
        hark_json_error(c->doc, c->ld->diag, hark_json_key_offset(obj, "case"),
                        "\"case\" applies only to \"regex\" and "
                        "\"keywords\"");
        return NULL;
    }
    bool is_case = hark_json_bool(cs, false);
    bool is_list = test == TEST_HASHTAGS || test == TEST_MENTIONS ||
                   test == TEST_DOMAINS;
    struct hark_rules_node *node =
        node_new(is_text                ? HARK_RULES_NODE_TEXT
                 : test == TEST_COMPARE ? HARK_RULES_NODE_NUM
                 : is_list              ? HARK_RULES_NODE_LIST
                 : test == TEST_NEAR    ? HARK_RULES_NODE_NEAR
                                        : HARK_RULES_NODE_SET);
    if (is_text || test == TEST_NEAR) {
        node->text_id = (uint32_t)c->ld->rules->n_text++;
    }
    if (test == TEST_NEAR) {
        node->text_id_b = (uint32_t)c->ld->rules->n_text++;
    }
    bool ok = cond_field(c, obj, test, node);
    switch (test) {
    case TEST_REGEX:
        ok = hark_rules_cond_regex(c, tv, is_case, node) && ok;
        break;
    case TEST_KEYWORDS:
        ok = hark_rules_cond_keywords(c, tv, is_case, node) && ok;
        break;
    case TEST_COMPARE:
        ok = cond_compare(obj, node) && ok;
        break;
    case TEST_LANG:
    case TEST_PLATFORM:
    case TEST_SOURCE:
    case TEST_KIND:
        ok = cond_set(c, tv, test, node) && ok;
        break;
    case TEST_HASHTAGS:
        ok = cond_list(c, tv, HARK_RULES_LF_HASHTAGS, node) && ok;
        break;
    case TEST_MENTIONS:
        ok = cond_list(c, tv, HARK_RULES_LF_MENTIONS, node) && ok;
        break;
    case TEST_DOMAINS:
        ok = cond_list(c, tv, HARK_RULES_LF_DOMAINS, node) && ok;
        break;
    case TEST_NEAR:
        ok = hark_rules_cond_near(c, tv, node) && ok;
        break;
    case TEST_NONE:
        break;
    }
    if (!ok) {
        hark_rules_node_free(node);
        return NULL;
    }
    return node;
}

static bool is_match_object(const struct hark_json *obj)
{
    return hark_json_get(obj, "all") || hark_json_get(obj, "any") ||
           hark_json_get(obj, "none");
}

static bool compile_list(struct hark_rules_cctx *c,
                         const struct hark_json *arr,
                         struct hark_rules_node ***out,
                         size_t *n_out)
{
    bool ok = true;
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        return true;
    }
    *out = hark_xcalloc(arr->n ? arr->n : 1, sizeof(struct hark_rules_node *));
    for (size_t i = 0; i < arr->n; i++) {
        const struct hark_json *x = arr->items[i];
        struct hark_rules_node *child = NULL;
        if (x->type != HARK_JSON_OBJECT) {
            hark_json_error(c->doc, c->ld->diag, x->offset,
                            "expected a condition or a match object, not %s",
                            hark_json_type_name(x->type));
        } else if (is_match_object(x)) {
            child = hark_rules_compile_match(c, x);
        } else {
            child = compile_cond(c, x);
        }
        if (!child) {
            ok = false;
            continue;
        }
        (*out)[(*n_out)++] = child;
    }
    return ok;
}

struct hark_rules_node *hark_rules_compile_match(struct hark_rules_cctx *c,
                                                 const struct hark_json *obj)
{
    bool ok = hark_cfgmap_check(c->doc, obj, match_map, "a match object",
                                c->ld->diag) == HARK_OK;
    if (obj->type != HARK_JSON_OBJECT) {
        return NULL;
    }
    const struct hark_json *all = hark_json_get(obj, "all");
    const struct hark_json *any = hark_json_get(obj, "any");
    const struct hark_json *none = hark_json_get(obj, "none");
    if (!all && !any && !none) {
        hark_json_error(c->doc, c->ld->diag, obj->offset,
                        "empty match: expected \"all\", \"any\" or \"none\"");
        return NULL;
    }
    if (any && any->type == HARK_JSON_ARRAY && any->n == 0) {
        hark_json_error(c->doc, c->ld->diag, any->offset,
                        "\"any\" is empty: it could never match");
        ok = false;
    }
    struct hark_rules_node *node = node_new(HARK_RULES_NODE_MATCH);
    ok = compile_list(c, all, &node->all, &node->n_all) && ok;
    ok = compile_list(c, any, &node->any, &node->n_any) && ok;
    ok = compile_list(c, none, &node->none, &node->n_none) && ok;
    if (!ok) {
        hark_rules_node_free(node);
        return NULL;
    }
    return node;
}
