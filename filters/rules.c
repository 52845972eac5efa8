/*
 * rules: loading and compiling rule packs (DESIGN.md "Rules and priority").
 *
 * Loading runs in two passes so that a pack may use a list or refer to a
 * rule defined in any other pack, whatever the include order:
 *
 *   1. read: every file given, and depth first what it includes (a file's
 *      includes come before its own rules, like a C #include at the top).
 *      A file reached twice is read once; a file that includes itself,
 *      directly or not, is an error at the include. Each document stays
 *      alive until the end of the load, so every later error can still
 *      point at its file:line:column. The bytes of every file read, in
 *      this order, are hashed into rules_version.
 *   2. compile: lists and author lists by name (duplicates are errors that
 *      name both places), then every rule in order: ids unique across all
 *      packs, match trees into PCRE2 codes (keywords of one condition are
 *      one pattern), groups into indices.
 *
 * Every problem is reported and loading goes on, so one `hark check` shows
 * all of them (the diag caps itself). A set with any error is not built.
 *
 * Keyword patterns. The terms of one condition become one alternation,
 * longest first (so a phrase wins over a word it starts with), between
 * word-boundary assertions that understand Unicode:
 *
 *     (?<![\p{L}\p{M}\p{N}_])(?:money\s+back|refund)(?![\p{L}\p{M}\p{N}_])
 *
 * A space in a phrase matches any run of white space, `*` any run of
 * letters and digits, `?` exactly one, an apostrophe any of ' ’ ʼ (people
 * type "can’t" as often as "can't"). Without "case": true the terms are
 * normalized by the very function that normalizes the post's text (NFKC,
 * case folding), and the pattern runs on that normalized copy.
 */
#include "hark/rules.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcre2.h>

#include "hark/json.h"

#include "normalize_int.h"
#include "prefilter_int.h"
#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* Config maps                                                         */

static const struct hark_cfgmap pack_map[] = {
    {"rules", HARK_JSON_ARRAY, false, NULL},
    {"include", HARK_JSON_ARRAY, false, NULL},
    {"lists", HARK_JSON_OBJECT, false, NULL},
    {"authors", HARK_JSON_OBJECT, false, NULL},
    {"sentiment", HARK_JSON_OBJECT, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap sentiment_map[] = {
    {"phrases", HARK_JSON_OBJECT, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap rule_map[] = {
    {"id", HARK_JSON_STRING, true, NULL},
    {"match", HARK_JSON_OBJECT, true, NULL},
    {"tags", HARK_JSON_ARRAY, false, NULL},
    {"action", HARK_JSON_STRING, false, NULL},
    {"priority", HARK_JSON_INTEGER, false, NULL},
    {"route", HARK_JSON_STRING, false, NULL},
    {"group", HARK_JSON_STRING, false, NULL},
    {"description", HARK_JSON_STRING, false, NULL},
    {NULL, 0, false, NULL},
};

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

static const struct hark_cfgmap near_map[] = {
    {"terms", HARK_JSON_ARRAY, true, NULL},
    {"within", HARK_JSON_INTEGER, true, NULL},
    {"ordered", HARK_JSON_BOOL, false, NULL},
    {NULL, 0, false, NULL},
};

static const struct hark_cfgmap author_map[] = {
    {"identities", HARK_JSON_ARRAY, true, NULL},
    {"tags", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Loader state                                                        */

struct loaded_file {
    dev_t dev; /* the file's identity, for repeats and cycles */
    ino_t ino;
    struct hark_json_doc *doc;
};

/* A JSON value together with the document it came from. */
struct located {
    const struct hark_json_doc *doc;
    const struct hark_json *v;
    const char *name;  /* list / author list name, or NULL */
    size_t key_offset; /* where the name is */
};

struct loader {
    struct hark_diag *diag;
    size_t n_errors_before;
    bool has_eio;
    uint64_t hash;

    struct loaded_file *files;
    size_t n_files;
    size_t *stack; /* indices into files: the include chain */
    size_t n_stack;

    struct located *prules;
    size_t n_prules;
    struct located *lists;
    size_t n_lists;
    struct located *authors;
    size_t n_authors;

    struct hark_rules *rules; /* being built */

    size_t *rule_src; /* per compiled rule: its index into prules */

    size_t *id_slots; /* rule ids seen so far (see earlier_id) */
    size_t id_cap;    /* a power of two, over twice the rules */
};

static void *grow(void *p, size_t n, size_t size)
{
    /* Arrays grow by one; load time is not a hot path. */
    return hark_xrealloc(p, (n + 1) * size);
}

static void located_add(struct located **arr,
                        size_t *n,
                        const struct hark_json_doc *doc,
                        const struct hark_json *v,
                        const char *name,
                        size_t key_offset)
{
    *arr = grow(*arr, *n, sizeof(**arr));
    (*arr)[*n] = (struct located){doc, v, name, key_offset};
    (*n)++;
}

static bool has_errors(const struct loader *ld)
{
    return ld->diag->n_errors > ld->n_errors_before;
}

/* "file:line:column" of `offset` in `doc`, for "first defined at". */
static void
where(const struct hark_json_doc *doc, size_t offset, char *out, size_t out_len)
{
    int line = 0;
    int column = 0;
    hark_diag_position(doc->text, doc->text_len, offset, &line, &column);
    (void)snprintf(out, out_len, "%s:%d:%d", doc->file ? doc->file : "-", line,
                   column);
}

/* ------------------------------------------------------------------ */
/* Pass 1: reading files                                               */

static void load_file(struct loader *ld,
                      const char *path,
                      const struct hark_json_doc *from_doc,
                      size_t from_offset);

static void load_includes(struct loader *ld,
                          const struct hark_json_doc *doc,
                          const struct hark_json *inc)
{
    for (size_t i = 0; i < inc->n; i++) {
        const struct hark_json *item = inc->items[i];
        if (item->type != HARK_JSON_STRING || item->s_len == 0) {
            hark_json_error(doc, ld->diag, item->offset,
                            "\"include\" must list file names, not %s",
                            hark_json_type_name(item->type));
            continue;
        }
        char *path = hark_path_resolve(doc->file, item->s);
        load_file(ld, path, doc, item->offset);
        free(path);
    }
}

/* "sentiment": {"phrases": {"still waiting": -2.0, ...}}: domain terms. */
static void collect_phrases(struct loader *ld, const struct hark_json_doc *doc,
                            const struct hark_json *v)
{
    if (!v) {
        return;
    }
    /* Problems are in diag; the phrases are still checked one by one. */
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

static void collect_pack(struct loader *ld, const struct hark_json_doc *doc)
{
    const struct hark_json *root = doc->root;
    const struct hark_json *v = hark_json_get(root, "lists");
    if (v && v->type == HARK_JSON_OBJECT) {
        for (size_t i = 0; i < v->n; i++) {
            located_add(&ld->lists, &ld->n_lists, doc, v->items[i], v->keys[i],
                        v->key_offsets[i]);
        }
    }
    v = hark_json_get(root, "authors");
    if (v && v->type == HARK_JSON_OBJECT) {
        for (size_t i = 0; i < v->n; i++) {
            located_add(&ld->authors, &ld->n_authors, doc, v->items[i],
                        v->keys[i], v->key_offsets[i]);
        }
    }
    v = hark_json_get(root, "rules");
    if (v && v->type == HARK_JSON_ARRAY) {
        for (size_t i = 0; i < v->n; i++) {
            located_add(&ld->prules, &ld->n_prules, doc, v->items[i], NULL, 0);
        }
    }
    collect_phrases(ld, doc, hark_json_get(root, "sentiment"));
}

/*
 * True when the file `st` names is already on the include chain (an error
 * at the include) or already read (a repeat, silently skipped).
 */
static bool is_seen(struct loader *ld,
                    const struct stat *st,
                    const struct hark_json_doc *from_doc,
                    size_t from_offset)
{
    for (size_t i = 0; i < ld->n_stack; i++) {
        const struct loaded_file *lf = &ld->files[ld->stack[i]];
        if (lf->dev != st->st_dev || lf->ino != st->st_ino) {
            continue;
        }
        char chain[1024];
        size_t n = 0;
        chain[0] = '\0';
        for (size_t k = i; k < ld->n_stack; k++) {
            const char *f = ld->files[ld->stack[k]].doc->file;
            int w = snprintf(chain + n, sizeof(chain) - n, "%s -> ", f);
            if (w < 0 || (size_t)w >= sizeof(chain) - n) {
                break;
            }
            n += (size_t)w;
        }
        hark_json_error(from_doc, ld->diag, from_offset, "include cycle: %s%s",
                        chain, lf->doc->file);
        return true;
    }
    for (size_t i = 0; i < ld->n_files; i++) {
        if (ld->files[i].dev == st->st_dev && ld->files[i].ino == st->st_ino) {
            return true; /* included twice: read once */
        }
    }
    return false;
}

static void load_file(struct loader *ld,
                      const char *path,
                      const struct hark_json_doc *from_doc,
                      size_t from_offset)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    bool has_stat = stat(path, &st) == 0;
    if (!has_stat && from_doc) {
        hark_json_error(from_doc, ld->diag, from_offset,
                        "cannot include \"%s\": %s", path, strerror(errno));
        ld->has_eio = true;
        return;
    }
    /* (Without a stat, hark_json_load_file reports why.) */
    if (has_stat && is_seen(ld, &st, from_doc, from_offset)) {
        return;
    }
    struct hark_json_doc *doc = NULL;
    hark_err_t err = hark_json_load_file(path, ld->diag, &doc);
    if (err != HARK_OK) {
        if (err == HARK_EIO) {
            ld->has_eio = true;
        }
        return;
    }
    ld->hash = hark_hash64(doc->text, doc->text_len, ld->hash);
    ld->files = grow(ld->files, ld->n_files, sizeof(*ld->files));
    ld->files[ld->n_files] = (struct loaded_file){st.st_dev, st.st_ino, doc};
    size_t index = ld->n_files++;

    if (hark_cfgmap_check(doc, doc->root, pack_map, "a rule pack", ld->diag) !=
            HARK_OK &&
        doc->root->type != HARK_JSON_OBJECT) {
        return;
    }
    const struct hark_json *inc = hark_json_get(doc->root, "include");
    if (inc && inc->type == HARK_JSON_ARRAY) {
        ld->stack = grow(ld->stack, ld->n_stack, sizeof(*ld->stack));
        ld->stack[ld->n_stack++] = index;
        load_includes(ld, doc, inc);
        ld->n_stack--;
    }
    collect_pack(ld, doc);
}

/* ------------------------------------------------------------------ */
/* Lists and author lists                                              */

static void check_duplicates(struct loader *ld,
                             const struct located *arr,
                             size_t n,
                             const char *what)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(arr[i].name, arr[k].name) == 0) {
                char first[512];
                where(arr[k].doc, arr[k].key_offset, first, sizeof(first));
                hark_json_error(arr[i].doc, ld->diag, arr[i].key_offset,
                                "duplicate %s \"%s\" (first defined at %s)",
                                what, arr[i].name, first);
                break;
            }
        }
    }
}

static void check_lists(struct loader *ld)
{
    check_duplicates(ld, ld->lists, ld->n_lists, "list");
    for (size_t i = 0; i < ld->n_lists; i++) {
        const struct located *l = &ld->lists[i];
        if (l->v->type != HARK_JSON_ARRAY) {
            hark_json_error(l->doc, ld->diag, l->v->offset,
                            "list \"%s\" must be an array of terms, not %s",
                            l->name, hark_json_type_name(l->v->type));
            continue;
        }
        for (size_t k = 0; k < l->v->n; k++) {
            const struct hark_json *t = l->v->items[k];
            if (t->type != HARK_JSON_STRING) {
                hark_json_error(l->doc, ld->diag, t->offset,
                                "list \"%s\" must hold strings, not %s",
                                l->name, hark_json_type_name(t->type));
            } else if (t->s[0] == '@') {
                hark_json_error(l->doc, ld->diag, t->offset,
                                "a list cannot use another list (\"%s\")",
                                t->s);
            }
        }
    }
}

static const struct located *find_list(const struct loader *ld,
                                       const char *name)
{
    for (size_t i = 0; i < ld->n_lists; i++) {
        if (strcmp(ld->lists[i].name, name) == 0 &&
            ld->lists[i].v->type == HARK_JSON_ARRAY) {
            return &ld->lists[i];
        }
    }
    return NULL;
}

static void lower_into(struct hark_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (hark_buf_addc(b, c) != HARK_OK) {
            hark_assert(!"unbounded buffer");
        }
    }
}

static void add_strings(struct loader *ld,
                        const struct hark_json_doc *doc,
                        const struct hark_json *arr,
                        const char *what,
                        struct hark_strv *out)
{
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        return;
    }
    for (size_t i = 0; i < arr->n; i++) {
        const struct hark_json *t = arr->items[i];
        if (t->type != HARK_JSON_STRING || t->s_len == 0) {
            hark_json_error(doc, ld->diag, t->offset,
                            "%s must be non-empty strings, not %s", what,
                            t->type == HARK_JSON_STRING
                                ? "\"\""
                                : hark_json_type_name(t->type));
            continue;
        }
        bool seen = false;
        for (size_t k = 0; k < out->n && !seen; k++) {
            seen = strcmp(out->v[k], t->s) == 0;
        }
        if (!seen) {
            hark_strv_add(out, t->s, t->s_len);
        }
    }
}

static void compile_identity(struct loader *ld,
                             const struct located *a,
                             const struct hark_json *t,
                             size_t list)
{
    struct hark_rules *rules = ld->rules;
    if (t->type != HARK_JSON_STRING) {
        hark_json_error(a->doc, ld->diag, t->offset,
                        "identities must be strings, not %s",
                        hark_json_type_name(t->type));
        return;
    }
    const char *colon = strchr(t->s, ':');
    if (!colon || colon == t->s || colon[1] == '\0' ||
        (colon[1] == '@' && colon[2] == '\0')) {
        hark_json_error(a->doc, ld->diag, t->offset,
                        "bad identity \"%s\"; expected \"platform:id\" or "
                        "\"platform:@handle\"",
                        t->s);
        return;
    }
    size_t plat_len = (size_t)(colon - t->s);
    const char *value = colon + 1;
    bool is_handle = value[0] == '@';
    if (is_handle) {
        value++;
        if (plat_len == 8 && strncmp(t->s, "mastodon", 8) == 0 &&
            !strchr(value, '@')) {
            hark_json_error(a->doc, ld->diag, t->offset,
                            "mastodon identity \"%s\" needs user@host", t->s);
            return;
        }
    }
    struct hark_buf key;
    hark_buf_init(&key, 0);
    lower_into(&key, t->s, plat_len);
    if (hark_buf_add(&key, is_handle ? "\x1f@" : "\x1f#", 2) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
    if (is_handle) {
        lower_into(&key, value, strlen(value));
    } else if (hark_buf_add(&key, value, strlen(value)) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
    rules->idents =
        grow(rules->idents, rules->n_idents, sizeof(*rules->idents));
    rules->idents[rules->n_idents].key = hark_buf_take(&key);
    rules->idents[rules->n_idents].list = list;
    rules->n_idents++;
    hark_buf_cleanup(&key);
}

int hark_rules_ident_cmp(const void *a, const void *b)
{
    const struct hark_rules_ident *x = a;
    const struct hark_rules_ident *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0) {
        return c;
    }
    return x->list < y->list ? -1 : x->list > y->list;
}

static void compile_authors(struct loader *ld)
{
    struct hark_rules *rules = ld->rules;
    check_duplicates(ld, ld->authors, ld->n_authors, "author list");
    for (size_t i = 0; i < ld->n_authors; i++) {
        const struct located *a = &ld->authors[i];
        char what[300];
        (void)snprintf(what, sizeof(what), "author list '%s'", a->name);
        if (hark_cfgmap_check(a->doc, a->v, author_map, what, ld->diag) !=
                HARK_OK &&
            a->v->type != HARK_JSON_OBJECT) {
            continue;
        }
        size_t list = rules->n_authors;
        rules->authors =
            grow(rules->authors, rules->n_authors, sizeof(*rules->authors));
        struct hark_rules_author_list *al = &rules->authors[list];
        memset(al, 0, sizeof(*al));
        al->name = hark_xstrdup(a->name);
        rules->n_authors++;
        add_strings(ld, a->doc, hark_json_get(a->v, "tags"), "tags", &al->tags);
        if (al->tags.n == 0) {
            hark_json_warning(a->doc, ld->diag, a->key_offset,
                              "author list '%s' has no tags: it does nothing",
                              a->name);
        }
        const struct hark_json *ids = hark_json_get(a->v, "identities");
        if (!ids || ids->type != HARK_JSON_ARRAY) {
            continue;
        }
        for (size_t k = 0; k < ids->n; k++) {
            compile_identity(ld, a, ids->items[k], list);
        }
    }
    if (rules->n_idents > 1) {
        qsort(rules->idents, rules->n_idents, sizeof(*rules->idents),
              hark_rules_ident_cmp);
    }
}

/* ------------------------------------------------------------------ */
/* Conditions                                                          */

struct cctx {
    struct loader *ld;
    const struct hark_json_doc *doc;
    const char *rule_id;
};

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

/*
 * The byte offset in the raw JSON string starting at `raw` (just after its
 * opening quote) where decoded byte `decoded` lies: \n, \\, \" are two raw
 * bytes for one, \uXXXX six (twelve for a surrogate pair) for up to four.
 */
static size_t raw_offset(const char *raw, size_t raw_len, size_t decoded)
{
    size_t i = 0;
    size_t d = 0;
    while (i < raw_len && raw[i] != '"' && d < decoded) {
        if (raw[i] != '\\' || i + 1 >= raw_len) {
            i++;
            d++;
            continue;
        }
        if (raw[i + 1] != 'u' || i + 6 > raw_len) {
            i += 2;
            d++;
            continue;
        }
        char hex[5] = {raw[i + 2], raw[i + 3], raw[i + 4], raw[i + 5], 0};
        unsigned long cp = strtoul(hex, NULL, 16);
        size_t adv = 6;
        size_t bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
        if (cp >= 0xd800 && cp <= 0xdbff && i + 12 <= raw_len &&
            raw[i + 6] == '\\' && raw[i + 7] == 'u') {
            adv = 12;
            bytes = 4;
        }
        if (d + bytes > decoded) {
            break;
        }
        i += adv;
        d += bytes;
    }
    return i;
}

static pcre2_code *compile_regex(const char *pattern,
                                 size_t len,
                                 uint32_t opts,
                                 int *errcode,
                                 PCRE2_SIZE *erroff)
{
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, len, opts, errcode, erroff, NULL);
    if (code) {
        /* Without JIT support PCRE2 falls back to its interpreter. */
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    }
    return code;
}

/* Whether `code` can match an empty string (its minimum length is 0). */
static bool matches_empty(const pcre2_code *code)
{
    uint32_t min = 1;
    return pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &min) == 0 &&
           min == 0;
}

static bool cond_regex(struct cctx *c,
                       const struct hark_json *v,
                       bool is_case,
                       struct hark_rules_node *node)
{
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (is_case ? 0 : PCRE2_CASELESS);
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    node->code = compile_regex(v->s, v->s_len, opts, &errcode, &erroff);
    if (!node->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0) {
            (void)snprintf((char *)msg, sizeof(msg), "error %d", errcode);
        }
        size_t start = v->offset + 1;
        size_t raw =
            raw_offset(c->doc->text + start, c->doc->text_len - start, erroff);
        hark_json_error(c->doc, c->ld->diag, start + raw,
                        "rule '%s': %s (at pattern offset %zu)", c->rule_id,
                        (const char *)msg, (size_t)erroff);
        return false;
    }
    bool is_empty = matches_empty(node->code);
    if (is_empty) {
        hark_json_warning(c->doc, c->ld->diag, v->offset,
                          "rule '%s': regex \"%s\" matches the empty "
                          "string, so it holds on every post",
                          c->rule_id, v->s);
    }
    node->is_normalized = false;
    /* Hyperscan patterns are NUL-terminated: one with a NUL inside has no
     * prefilter and is tried on every post; so is one that matches the
     * empty string (Hyperscan refuses those; it is always a candidate). */
    if (strlen(v->s) == v->s_len && !is_empty) {
        node->pf_pattern = hark_xstrdup(v->s);
    }
    return true;
}

/* One keyword term as it will be compiled, with where it was written. */
struct term {
    char *text; /* normalized unless "case" */
    const struct hark_json_doc *doc;
    size_t offset;
};

static void buf_puts(struct hark_buf *b, const char *s)
{
    if (hark_buf_add(b, s, strlen(s)) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
}

#define WORD_CLASS  "[\\p{L}\\p{M}\\p{N}]"
#define BOUND_CLASS "[\\p{L}\\p{M}\\p{N}_]"

/*
 * Keyword terms are compiled into a trie of "atoms" (one code point, an
 * escaped metacharacter, \s+ or a wildcard class), emitted as nested
 * groups: "refund", "refunds", "money back" become
 * (?:refund(?:s)?|money\s+back). PCRE2 tries the alternatives of a group
 * one by one at every candidate position, so a flat alternation of fifty
 * terms costs fifty attempts; the trie costs one per level.
 */
struct trie {
    char *atom; /* the regex text of the edge into this node */
    struct trie **kids;
    size_t n_kids;
    bool is_end; /* a term ends here */
};

static void trie_free(struct trie *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_kids; i++) {
        trie_free(t->kids[i]);
    }
    free(t->kids);
    free(t->atom);
    free(t);
}

static struct trie *trie_child(struct trie *t, const char *atom)
{
    for (size_t i = 0; i < t->n_kids; i++) {
        if (strcmp(t->kids[i]->atom, atom) == 0) {
            return t->kids[i];
        }
    }
    struct trie *kid = hark_xcalloc(1, sizeof(*kid));
    kid->atom = hark_xstrdup(atom);
    t->kids = grow(t->kids, t->n_kids, sizeof(struct trie *));
    t->kids[t->n_kids++] = kid;
    return kid;
}

static void trie_emit(const struct trie *t, struct hark_buf *b);

static void trie_emit_kids(const struct trie *t, struct hark_buf *b)
{
    if (t->n_kids == 0) {
        return;
    }
    if (t->n_kids == 1 && !t->is_end) {
        buf_puts(b, t->kids[0]->atom);
        trie_emit_kids(t->kids[0], b);
        return;
    }
    buf_puts(b, "(?:");
    for (size_t i = 0; i < t->n_kids; i++) {
        if (i > 0) {
            buf_puts(b, "|");
        }
        trie_emit(t->kids[i], b);
    }
    /* A term ending here: the longer ones are tried first (greedy ?). */
    buf_puts(b, t->is_end ? ")?" : ")");
}

static void trie_emit(const struct trie *t, struct hark_buf *b)
{
    buf_puts(b, t->atom);
    trie_emit_kids(t, b);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

#define APOSTROPHES "['\\x{2019}\\x{02bc}]"

/*
 * The atom for the code point at *sp (advancing *sp to its last byte):
 * a wildcard class, an apostrophe class, an escaped metacharacter or the
 * code point itself.
 */
static const char *term_atom(const char **sp, char atom[8], bool *is_literal)
{
    const char *s = *sp;
    unsigned char ch = (unsigned char)*s;
    *is_literal = true;
    if (ch == '*' || ch == '?') {
        *is_literal = false;
        return ch == '*' ? WORD_CLASS "*" : WORD_CLASS;
    }
    if (ch == '\'') {
        return APOSTROPHES;
    }
    if (strncmp(s, "\xe2\x80\x99", 3) == 0) { /* U+2019 */
        *sp = s + 2;
        return APOSTROPHES;
    }
    if (strchr("\\^$.[]|()+{}#-/", ch)) {
        atom[0] = '\\';
        atom[1] = (char)ch;
        atom[2] = '\0';
        return atom;
    }
    /* One whole code point: a group must not split UTF-8. */
    size_t n = 1;
    while (n < 4 && ((unsigned char)s[n] & 0xc0) == 0x80) {
        n++;
    }
    memcpy(atom, s, n);
    atom[n] = '\0';
    *sp = s + n - 1;
    return atom;
}

/*
 * Adds one term to the trie; false (and an error) when the term is not a
 * usable keyword.
 */
static bool term_insert(struct cctx *c, const struct term *t, struct trie *root)
{
    const char *s = t->text;
    bool has_literal = false;
    bool at_word_start = true;
    struct trie *node = root;
    while (is_blank(*s)) {
        s++;
    }
    for (; *s; s++) {
        if (is_blank(*s)) {
            while (is_blank(s[1])) {
                s++;
            }
            if (s[1] != '\0') {
                node = trie_child(node, "\\s+");
            }
            at_word_start = true;
            continue;
        }
        char atom[8];
        bool is_star = *s == '*';
        bool is_literal = false;
        const char *a = term_atom(&s, atom, &is_literal);
        if (is_star && at_word_start) {
            hark_json_error(t->doc, c->ld->diag, t->offset,
                            "keyword \"%s\": \"*\" may only be inside or "
                            "at the end of a word",
                            t->text);
            return false;
        }
        has_literal = has_literal || is_literal;
        node = trie_child(node, a);
        at_word_start = false;
    }
    if (!has_literal) {
        hark_json_error(t->doc, c->ld->diag, t->offset,
                        "keyword \"%s\" has no letters to match", t->text);
        return false;
    }
    node->is_end = true;
    return true;
}

/*
 * Lint: a word of `t` with fewer than 3 letters before a "*" matches far
 * too many words ("ab*"). A "*" that starts a word is an error elsewhere.
 */
static void lint_stem(struct cctx *c, const struct term *t)
{
    size_t n_stem = 0; /* code points of the word so far, not wildcards */
    bool at_word_start = true;
    for (const char *s = t->text; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (is_blank(*s)) {
            n_stem = 0;
            at_word_start = true;
        } else if (ch == '*') {
            if (!at_word_start && n_stem < 3) {
                hark_json_warning(t->doc, c->ld->diag, t->offset,
                                  "keyword \"%s\": only %zu letter%s "
                                  "before \"*\" (use at least 3, or it "
                                  "matches too many words)",
                                  t->text, n_stem, n_stem == 1 ? "" : "s");
                return;
            }
        } else {
            at_word_start = false;
            n_stem += ch != '?' && (ch & 0xc0) != 0x80;
        }
    }
}

static int term_cmp(const void *a, const void *b)
{
    const struct term *x = a;
    const struct term *y = b;
    size_t lx = strlen(x->text);
    size_t ly = strlen(y->text);
    if (lx != ly) {
        return lx > ly ? -1 : 1; /* longest first */
    }
    return strcmp(x->text, y->text);
}

static void term_add(struct term **terms,
                     size_t *n,
                     const char *s,
                     size_t len,
                     bool is_case,
                     const struct hark_json_doc *doc,
                     size_t offset)
{
    *terms = grow(*terms, *n, sizeof(**terms));
    (*terms)[*n].text =
        is_case ? hark_xstrndup(s, len) : hark_normalize_dup(s, len);
    (*terms)[*n].doc = doc;
    (*terms)[*n].offset = offset;
    (*n)++;
}

static bool collect_terms(struct cctx *c,
                          const struct hark_json *const *items,
                          size_t n_items,
                          bool is_case,
                          struct term **terms,
                          size_t *n)
{
    bool ok = true;
    for (size_t i = 0; i < n_items; i++) {
        const struct hark_json *t = items[i];
        if (t->type != HARK_JSON_STRING || t->s_len == 0) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "keywords must be non-empty strings, not %s",
                            t->type == HARK_JSON_STRING
                                ? "\"\""
                                : hark_json_type_name(t->type));
            ok = false;
            continue;
        }
        if (t->s[0] != '@') {
            term_add(terms, n, t->s, t->s_len, is_case, c->doc, t->offset);
            continue;
        }
        const struct located *l = find_list(c->ld, t->s + 1);
        if (!l) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "unknown list \"%s\"", t->s);
            ok = false;
            continue;
        }
        for (size_t k = 0; k < l->v->n; k++) {
            const struct hark_json *lt = l->v->items[k];
            if (lt->type == HARK_JSON_STRING && lt->s_len > 0 &&
                lt->s[0] != '@') {
                term_add(terms, n, lt->s, lt->s_len, is_case, l->doc,
                         lt->offset);
            }
        }
    }
    return ok;
}

/*
 * Compiles the keyword terms `items` (`arr` is where they were written,
 * for errors) into node->code and node->pf_pattern.
 */
static bool keywords_compile(struct cctx *c,
                             const struct hark_json *arr,
                             const struct hark_json *const *items,
                             size_t n_items,
                             bool is_case,
                             struct hark_rules_node *node)
{
    struct term *terms = NULL;
    size_t n = 0;
    struct hark_buf b;
    hark_buf_init(&b, 0);
    bool ok = collect_terms(c, items, n_items, is_case, &terms, &n);
    if (ok && n == 0) {
        hark_json_error(c->doc, c->ld->diag, arr->offset,
                        "\"keywords\" is empty: it could never match");
        ok = false;
    }
    for (size_t i = 0; i < n; i++) {
        lint_stem(c, &terms[i]);
    }
    if (ok) {
        qsort(terms, n, sizeof(*terms), term_cmp);
        struct trie *root = hark_xcalloc(1, sizeof(*root));
        root->atom = hark_xstrdup("");
        for (size_t i = 0; i < n; i++) {
            ok = term_insert(c, &terms[i], root) && ok;
        }
        buf_puts(&b, "(?<!" BOUND_CLASS ")(?:");
        trie_emit_kids(root, &b);
        buf_puts(&b, ")(?!" BOUND_CLASS ")");
        trie_free(root);
    }
    if (ok) {
        /* The prefilter looks for the terms without the boundaries (a
         * superset of the matches; PCRE2 confirms), one alternative per
         * term: a trie's shared prefixes hide the literals a term needs
         * ("b(?:etter\s+business\s+bureau|bb)"). */
        struct hark_buf pf;
        hark_buf_init(&pf, 0);
        buf_puts(&pf, "(?:");
        for (size_t i = 0; i < n; i++) {
            struct trie *one = hark_xcalloc(1, sizeof(*one));
            one->atom = hark_xstrdup("");
            if (term_insert(c, &terms[i], one)) {
                buf_puts(&pf, i ? "|" : "");
                trie_emit_kids(one, &pf);
            }
            trie_free(one);
        }
        buf_puts(&pf, ")");
        node->pf_pattern = hark_buf_take(&pf);
        hark_buf_cleanup(&pf);
    }
    if (ok) {
        uint32_t opts = PCRE2_UTF | PCRE2_UCP;
        int errcode = 0;
        PCRE2_SIZE erroff = 0;
        node->code = compile_regex(b.ptr, b.len, opts, &errcode, &erroff);
        if (!node->code) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0) {
                (void)snprintf((char *)msg, sizeof(msg), "error %d", errcode);
            }
            hark_json_error(c->doc, c->ld->diag, arr->offset,
                            "rule '%s': keywords do not compile: %s",
                            c->rule_id, (const char *)msg);
            ok = false;
        } else if (matches_empty(node->code)) {
            hark_json_warning(c->doc, c->ld->diag, arr->offset,
                              "rule '%s': these keywords match the empty "
                              "string, so they hold on every post",
                              c->rule_id);
        }
        node->is_normalized = !is_case;
    }
    for (size_t i = 0; i < n; i++) {
        free(terms[i].text);
    }
    free(terms);
    hark_buf_cleanup(&b);
    return ok;
}

static bool cond_keywords(struct cctx *c,
                          const struct hark_json *arr,
                          bool is_case,
                          struct hark_rules_node *node)
{
    return keywords_compile(c, arr,
                            (const struct hark_json *const *)arr->items,
                            arr->n, is_case, node);
}

/*
 * "near": {"terms": [A, B], "within": N, "ordered": bool}, A and B keyword
 * terms (a string or a list of them), on the normalized copy.
 */
static bool cond_near(struct cctx *c,
                      const struct hark_json *v,
                      struct hark_rules_node *node)
{
    bool ok = hark_cfgmap_check(c->doc, v, near_map, "\"near\"",
                                c->ld->diag) == HARK_OK;
    const struct hark_json *terms = hark_json_get(v, "terms");
    const struct hark_json *within = hark_json_get(v, "within");
    if (!terms || terms->type != HARK_JSON_ARRAY || !within ||
        within->type != HARK_JSON_INTEGER) {
        return false; /* (reported above) */
    }
    if (terms->n != 2) {
        hark_json_error(c->doc, c->ld->diag, terms->offset,
                        "\"terms\" must hold two keyword terms (or lists "
                        "of them), not %zu",
                        terms->n);
        ok = false;
    }
    if (within->i < 1 || within->i > 1000) {
        hark_json_error(c->doc, c->ld->diag, within->offset,
                        "\"within\" must be a number of words from 1 to "
                        "1000, not %lld",
                        (long long)within->i);
        ok = false;
    }
    pcre2_code *codes[2] = {NULL, NULL};
    char *pfs[2] = {NULL, NULL};
    for (size_t i = 0; i < 2 && i < terms->n; i++) {
        const struct hark_json *t = terms->items[i];
        struct hark_rules_node tmp;
        memset(&tmp, 0, sizeof(tmp));
        bool is_one = t->type == HARK_JSON_STRING;
        if (!is_one && t->type != HARK_JSON_ARRAY) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "a \"near\" term must be a keyword or a list "
                            "of keywords, not %s",
                            hark_json_type_name(t->type));
            ok = false;
            continue;
        }
        const struct hark_json *const *items =
            is_one ? &t : (const struct hark_json *const *)t->items;
        if (keywords_compile(c, t, items, is_one ? 1 : t->n, false, &tmp)) {
            codes[i] = tmp.code;
            pfs[i] = tmp.pf_pattern;
        } else {
            ok = false;
            free(tmp.pf_pattern);
        }
    }
    node->code = codes[0];
    node->code_b = codes[1];
    node->pf_pattern = pfs[0];
    node->pf_pattern_b = pfs[1];
    if (!ok) {
        return false;
    }
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    node->words = compile_regex(BOUND_CLASS "+", strlen(BOUND_CLASS "+"),
                                PCRE2_UTF | PCRE2_UCP, &errcode, &erroff);
    hark_assert(node->words != NULL);
    node->within = (uint32_t)within->i;
    node->is_ordered = hark_json_bool(hark_json_get(v, "ordered"), false);
    node->is_normalized = true;
    return true;
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
    lower_into(&b, s, len);
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
static bool cond_list(struct cctx *c,
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
        node->values =
            grow(node->values, node->n_values, sizeof(*node->values));
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

static bool cond_field(struct cctx *c,
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

static bool add_kind(struct cctx *c,
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

static bool cond_set(struct cctx *c,
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
            buf_puts(&b, s->s);
        } else {
            lower_into(&b, s->s, s->s_len);
        }
        node->values =
            grow(node->values, node->n_values, sizeof(*node->values));
        node->values[node->n_values++] = hark_buf_take(&b);
        hark_buf_cleanup(&b);
    }
    return ok;
}

static bool cond_test(struct cctx *c,
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

static struct hark_rules_node *compile_cond(struct cctx *c,
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
        ok = cond_regex(c, tv, is_case, node) && ok;
        break;
    case TEST_KEYWORDS:
        ok = cond_keywords(c, tv, is_case, node) && ok;
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
        ok = cond_near(c, tv, node) && ok;
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

static struct hark_rules_node *compile_match(struct cctx *c,
                                             const struct hark_json *obj);

static bool compile_list(struct cctx *c,
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
            child = compile_match(c, x);
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

static struct hark_rules_node *compile_match(struct cctx *c,
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

/* ------------------------------------------------------------------ */
/* Rules                                                               */

static bool parse_action(struct loader *ld,
                         const struct hark_json_doc *doc,
                         const struct hark_json *v,
                         enum hark_action *out)
{
    *out = HARK_ACTION_TAG;
    if (!v || v->type != HARK_JSON_STRING) {
        return true;
    }
    if (strcmp(v->s, "engage") == 0) {
        *out = HARK_ACTION_ENGAGE;
    } else if (strcmp(v->s, "drop") == 0) {
        *out = HARK_ACTION_DROP;
    } else if (strcmp(v->s, "tag") != 0) {
        hark_json_error(doc, ld->diag, v->offset,
                        "unknown action \"%s\"; expected \"engage\", \"tag\" "
                        "or \"drop\"",
                        v->s);
        return false;
    }
    return true;
}

static int group_index(struct hark_rules *rules, const char *name)
{
    for (size_t i = 0; i < rules->n_groups; i++) {
        if (strcmp(rules->groups[i], name) == 0) {
            return (int)i;
        }
    }
    rules->groups =
        grow(rules->groups, rules->n_groups, sizeof(*rules->groups));
    rules->groups[rules->n_groups] = hark_xstrdup(name);
    return (int)rules->n_groups++;
}

static void rule_cleanup(struct hark_rules_rule *r)
{
    free(r->id);
    hark_strv_cleanup(&r->tags);
    free(r->route);
    hark_rules_node_free(r->match);
}

/*
 * Index of an earlier rule with the same id, or SIZE_MAX: an open
 * addressing table of the ids seen so far (slot = index + 1, 0 = empty),
 * so 10,000 rules are not 50 million strcmp() calls.
 */
static size_t
earlier_id(const struct loader *ld, size_t i, const char *id, const char **ids)
{
    (void)i;
    size_t mask = ld->id_cap - 1;
    for (size_t h = hark_hash64(id, strlen(id), HARK_HASH_SEED) & mask;
         ld->id_slots[h]; h = (h + 1) & mask) {
        if (strcmp(ids[ld->id_slots[h] - 1], id) == 0) {
            return ld->id_slots[h] - 1;
        }
    }
    return SIZE_MAX;
}

static void id_insert(struct loader *ld, size_t index, const char *id)
{
    size_t mask = ld->id_cap - 1;
    size_t h = hark_hash64(id, strlen(id), HARK_HASH_SEED) & mask;
    while (ld->id_slots[h]) {
        h = (h + 1) & mask;
    }
    ld->id_slots[h] = index + 1;
}

static bool string_ok(struct loader *ld,
                      const struct hark_json_doc *doc,
                      const struct hark_json *v,
                      const char *key)
{
    if (v && v->type == HARK_JSON_STRING && v->s_len == 0) {
        hark_json_error(doc, ld->diag, v->offset, "\"%s\" must not be empty",
                        key);
        return false;
    }
    return true;
}

static void compile_rule(struct loader *ld, size_t index, const char **ids)
{
    const struct located *p = &ld->prules[index];
    const struct hark_json *obj = p->v;
    const struct hark_json_doc *doc = p->doc;
    const char *id = obj->type == HARK_JSON_OBJECT
                         ? hark_json_str(hark_json_get(obj, "id"))
                         : NULL;
    char what[300];
    if (id) {
        (void)snprintf(what, sizeof(what), "rule '%s'", id);
    } else {
        (void)snprintf(what, sizeof(what), "a rule");
    }
    bool ok = hark_cfgmap_check(doc, obj, rule_map, what, ld->diag) == HARK_OK;
    if (obj->type != HARK_JSON_OBJECT) {
        return;
    }
    const struct hark_json *idv = hark_json_get(obj, "id");
    ok = string_ok(ld, doc, idv, "id") && ok;
    if (id && id[0]) {
        size_t k = earlier_id(ld, index, id, ids);
        if (k != SIZE_MAX) {
            const struct located *q = &ld->prules[k];
            char first[512];
            where(q->doc, hark_json_get(q->v, "id")->offset, first,
                  sizeof(first));
            hark_json_error(doc, ld->diag, idv->offset,
                            "duplicate rule id \"%s\" (first defined at %s)",
                            id, first);
            ok = false;
        } else {
            ids[index] = id;
            id_insert(ld, index, id);
        }
    }
    struct hark_rules_rule r;
    memset(&r, 0, sizeof(r));
    r.group = -1;
    ok = parse_action(ld, doc, hark_json_get(obj, "action"), &r.action) && ok;
    r.priority = hark_json_int(hark_json_get(obj, "priority"), 0);
    add_strings(ld, doc, hark_json_get(obj, "tags"), "tags", &r.tags);
    const struct hark_json *route = hark_json_get(obj, "route");
    const struct hark_json *group = hark_json_get(obj, "group");
    ok = string_ok(ld, doc, route, "route") && ok;
    ok = string_ok(ld, doc, group, "group") && ok;
    if (hark_json_str(route) && r.action != HARK_ACTION_ENGAGE && ok) {
        hark_json_warning(doc, ld->diag, route->offset,
                          "rule '%s': \"route\" has no effect unless the "
                          "action is \"engage\"",
                          id ? id : "?");
    }
    const struct hark_json *m = hark_json_get(obj, "match");
    if (m && m->type == HARK_JSON_OBJECT) {
        struct cctx c = {ld, doc, id ? id : "?"};
        r.match = compile_match(&c, m);
        ok = r.match != NULL && ok;
    }
    if (!ok || !id || !r.match) {
        rule_cleanup(&r);
        return;
    }
    r.id = hark_xstrdup(id);
    r.route = hark_xstrdup(hark_json_str(route));
    if (hark_json_str(group)) {
        r.group = group_index(ld->rules, group->s);
    }
    struct hark_rules *rules = ld->rules;
    rules->rules = grow(rules->rules, rules->n_rules, sizeof(*rules->rules));
    ld->rule_src = grow(ld->rule_src, rules->n_rules, sizeof(*ld->rule_src));
    ld->rule_src[rules->n_rules] = index;
    rules->rules[rules->n_rules++] = r;
}

/* ------------------------------------------------------------------ */
/* Lints                                                               */

/* Same JSON value: objects whatever their key order, arrays in order. */
static bool json_equal(const struct hark_json *a, const struct hark_json *b)
{
    if (a->type != b->type) {
        bool is_num_a = (a->type & HARK_JSON_NUMBER) != 0;
        bool is_num_b = (b->type & HARK_JSON_NUMBER) != 0;
        return is_num_a && is_num_b && a->d == b->d;
    }
    switch (a->type) {
    case HARK_JSON_NULL:
        return true;
    case HARK_JSON_BOOL:
        return a->b == b->b;
    case HARK_JSON_INTEGER:
    case HARK_JSON_DOUBLE:
        return a->d == b->d;
    case HARK_JSON_STRING:
        return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0;
    case HARK_JSON_ARRAY:
        if (a->n != b->n) {
            return false;
        }
        for (size_t i = 0; i < a->n; i++) {
            if (!json_equal(a->items[i], b->items[i])) {
                return false;
            }
        }
        return true;
    case HARK_JSON_OBJECT:
        if (a->n != b->n) {
            return false;
        }
        for (size_t i = 0; i < a->n; i++) {
            const struct hark_json *o = hark_json_get(b, a->keys[i]);
            if (!o || !json_equal(a->items[i], o)) {
                return false;
            }
        }
        return true;
    }
    return false;
}

/* A match tree that holds on every post ({"all": []} and the like). */
static bool is_always(const struct hark_rules_node *node)
{
    if (node->kind != HARK_RULES_NODE_MATCH || node->n_none > 0) {
        return false;
    }
    for (size_t i = 0; i < node->n_all; i++) {
        if (!is_always(node->all[i])) {
            return false;
        }
    }
    bool has_any = node->n_any == 0;
    for (size_t i = 0; i < node->n_any && !has_any; i++) {
        has_any = is_always(node->any[i]);
    }
    return has_any;
}

/*
 * In an ordered group only the first matching rule applies: a later rule
 * with the same match as an earlier one, or any rule after one that
 * always holds, can never apply.
 */
static void lint_groups(struct loader *ld)
{
    const struct hark_rules *rules = ld->rules;
    for (size_t i = 0; i < rules->n_rules; i++) {
        const struct hark_rules_rule *r = &rules->rules[i];
        if (r->group < 0) {
            continue;
        }
        const struct located *p = &ld->prules[ld->rule_src[i]];
        size_t offset = hark_json_get(p->v, "id")->offset;
        for (size_t k = 0; k < i; k++) {
            const struct hark_rules_rule *e = &rules->rules[k];
            if (e->group != r->group) {
                continue;
            }
            const struct located *q = &ld->prules[ld->rule_src[k]];
            bool is_all = is_always(e->match);
            if (!is_all && !json_equal(hark_json_get(q->v, "match"),
                                       hark_json_get(p->v, "match"))) {
                continue;
            }
            char first[512];
            where(q->doc, hark_json_get(q->v, "id")->offset, first,
                  sizeof(first));
            hark_json_warning(
                p->doc, ld->diag, offset,
                is_all ? "rule '%s' is shadowed in group \"%s\": rule '%s' "
                         "(%s) matches every post and comes first"
                       : "rule '%s' is shadowed in group \"%s\": rule '%s' "
                         "(%s) has the same match and comes first",
                r->id, rules->groups[r->group], e->id, first);
            break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* The set                                                             */

static void rules_free(struct hark_rules *rules)
{
    hark_prefilter_free(rules->prefilter);
    for (size_t i = 0; i < rules->n_phrases; i++) {
        free((char *)(uintptr_t)rules->phrases[i].phrase);
    }
    free(rules->phrases);
    for (size_t i = 0; i < rules->n_files; i++) {
        free(rules->files[i]);
    }
    free(rules->files);
    for (size_t i = 0; i < rules->n_rules; i++) {
        rule_cleanup(&rules->rules[i]);
    }
    free(rules->rules);
    for (size_t i = 0; i < rules->n_groups; i++) {
        free(rules->groups[i]);
    }
    free(rules->groups);
    for (size_t i = 0; i < rules->n_authors; i++) {
        free(rules->authors[i].name);
        hark_strv_cleanup(&rules->authors[i].tags);
    }
    free(rules->authors);
    for (size_t i = 0; i < rules->n_idents; i++) {
        free(rules->idents[i].key);
    }
    free(rules->idents);
    free(rules);
}

/*
 * The prefilter is an accelerator: when it cannot be built (no usable CPU,
 * disabled by HARK_PREFILTER=0) the set works without it, trying every
 * rule, with the same results.
 */
static void build_prefilter(struct hark_rules *rules)
{
    struct hark_prefilter_opts opts;
    hark_prefilter_opts_default(&opts);
    if (!opts.is_enabled) {
        return;
    }
    struct hark_prefilter *pf = NULL;
    if (hark_prefilter_build(rules, &opts, &pf) == HARK_OK) {
        rules->prefilter = pf;
    }
}

static void loader_cleanup(struct loader *ld)
{
    for (size_t i = 0; i < ld->n_files; i++) {
        hark_json_doc_free(ld->files[i].doc);
    }
    free(ld->files);
    free(ld->stack);
    free(ld->prules);
    free(ld->id_slots);
    free(ld->rule_src);
    free(ld->lists);
    free(ld->authors);
}

hark_err_t hark_rules_load(const char *const *paths,
                           size_t n_paths,
                           struct hark_diag *diag,
                           struct hark_rules **out)
{
    *out = NULL;
    struct loader ld;
    memset(&ld, 0, sizeof(ld));
    ld.diag = diag;
    ld.n_errors_before = diag->n_errors;
    ld.hash = HARK_HASH_SEED;
    ld.rules = hark_xcalloc(1, sizeof(*ld.rules));
    atomic_init(&ld.rules->refs, 1);

    for (size_t i = 0; i < n_paths; i++) {
        load_file(&ld, paths[i], NULL, 0);
    }
    check_lists(&ld);
    compile_authors(&ld);
    const char **ids =
        hark_xcalloc(ld.n_prules ? ld.n_prules : 1, sizeof(*ids));
    ld.id_cap = 16;
    while (ld.id_cap < 2 * ld.n_prules + 1) {
        ld.id_cap *= 2;
    }
    ld.id_slots = hark_xcalloc(ld.id_cap, sizeof(*ld.id_slots));
    for (size_t i = 0; i < ld.n_prules; i++) {
        compile_rule(&ld, i, ids);
    }
    free(ids);
    lint_groups(&ld);
    ld.rules->files = hark_xcalloc(ld.n_files ? ld.n_files : 1, sizeof(char *));
    for (size_t i = 0; i < ld.n_files; i++) {
        const char *f = ld.files[i].doc->file;
        ld.rules->files[ld.rules->n_files++] = hark_xstrdup(f ? f : "");
    }
    (void)snprintf(ld.rules->version, sizeof(ld.rules->version), "r-%012llx",
                   (unsigned long long)(ld.hash & 0xffffffffffffULL));

    hark_err_t err = HARK_OK;
    if (has_errors(&ld)) {
        err = ld.has_eio ? HARK_EIO : HARK_EINVAL;
        rules_free(ld.rules);
    } else {
        build_prefilter(ld.rules);
        *out = ld.rules;
    }
    loader_cleanup(&ld);
    return err;
}

void hark_rules_set_prefilter_take(struct hark_rules *rules,
                                   struct hark_prefilter *pf)
{
    hark_prefilter_free(rules->prefilter);
    rules->prefilter = pf;
}

struct hark_rules *hark_rules_ref(struct hark_rules *rules)
{
    if (rules) {
        atomic_fetch_add_explicit(&rules->refs, 1, memory_order_relaxed);
    }
    return rules;
}

void hark_rules_unref(struct hark_rules *rules)
{
    if (!rules) {
        return;
    }
    if (atomic_fetch_sub_explicit(&rules->refs, 1, memory_order_acq_rel) == 1) {
        rules_free(rules);
    }
}

const char *hark_rules_version(const struct hark_rules *rules)
{
    return rules->version;
}

size_t hark_rules_count(const struct hark_rules *rules)
{
    return rules ? rules->n_rules : 0;
}

size_t hark_rules_n_files(const struct hark_rules *rules)
{
    return rules->n_files;
}

const char *hark_rules_file(const struct hark_rules *rules, size_t i)
{
    return i < rules->n_files ? rules->files[i] : NULL;
}

const struct hark_sentiment_phrase *
hark_rules_sentiment_phrases(const struct hark_rules *rules, size_t *n)
{
    *n = rules->n_phrases;
    return rules->phrases;
}
