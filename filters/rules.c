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
 * Files: this one reads the packs (pass 1), compiles each rule and holds
 * the set and its lifecycle. rules_sentiment.c collects a pack's
 * sentiment phrases as it is read; rules_lists.c compiles the lists and
 * author lists, rules_cond.c a rule's match tree and rules_text.c its
 * regex, keywords and near tests; rules_lint.c warns about the whole set
 * at the end. They share the loader's state, declared in rules_int.h.
 */
#include "hark/rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hark/json.h"

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

/* ------------------------------------------------------------------ */
/* Loader state and the helpers every rules_*.c file uses              */

struct hark_rules_loaded_file {
    dev_t dev; /* the file's identity, for repeats and cycles */
    ino_t ino;
    struct hark_json_doc *doc;
};

void *hark_rules_grow(void *p, size_t n, size_t size)
{
    /* Arrays grow by one; load time is not a hot path. */
    return hark_xrealloc(p, (n + 1) * size);
}

static void located_add(struct hark_rules_located **arr,
                        size_t *n,
                        const struct hark_json_doc *doc,
                        const struct hark_json *v,
                        const char *name,
                        size_t key_offset)
{
    *arr = hark_rules_grow(*arr, *n, sizeof(**arr));
    (*arr)[*n] = (struct hark_rules_located){doc, v, name, key_offset};
    (*n)++;
}

static bool has_errors(const struct hark_rules_loader *ld)
{
    return ld->diag->n_errors > ld->n_errors_before;
}

/* "file:line:column" of `offset` in `doc`, for "first defined at". */
void hark_rules_where(const struct hark_json_doc *doc,
                      size_t offset,
                      char *out,
                      size_t out_len)
{
    int line = 0;
    int column = 0;
    hark_diag_position(doc->text, doc->text_len, offset, &line, &column);
    (void)snprintf(out, out_len, "%s:%d:%d", doc->file ? doc->file : "-", line,
                   column);
}

void hark_rules_buf_puts(struct hark_buf *b, const char *s)
{
    if (hark_buf_add(b, s, strlen(s)) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
}

void hark_rules_lower_into(struct hark_buf *b, const char *s, size_t n)
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

void hark_rules_add_strings(struct hark_rules_loader *ld,
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

/* ------------------------------------------------------------------ */
/* Pass 1: reading files                                               */

static void load_file(struct hark_rules_loader *ld,
                      const char *path,
                      const struct hark_json_doc *from_doc,
                      size_t from_offset);

static void load_includes(struct hark_rules_loader *ld,
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

static void collect_pack(struct hark_rules_loader *ld,
                         const struct hark_json_doc *doc)
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
    hark_rules_collect_phrases(ld, doc, hark_json_get(root, "sentiment"));
}

/*
 * True when the file `st` names is already on the include chain (an error
 * at the include) or already read (a repeat, silently skipped).
 */
static bool is_seen(struct hark_rules_loader *ld,
                    const struct stat *st,
                    const struct hark_json_doc *from_doc,
                    size_t from_offset)
{
    for (size_t i = 0; i < ld->n_stack; i++) {
        const struct hark_rules_loaded_file *lf = &ld->files[ld->stack[i]];
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

static void load_file(struct hark_rules_loader *ld,
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
    ld->files = hark_rules_grow(ld->files, ld->n_files, sizeof(*ld->files));
    ld->files[ld->n_files] =
        (struct hark_rules_loaded_file){st.st_dev, st.st_ino, doc};
    size_t index = ld->n_files++;

    if (hark_cfgmap_check(doc, doc->root, pack_map, "a rule pack", ld->diag) !=
            HARK_OK &&
        doc->root->type != HARK_JSON_OBJECT) {
        return;
    }
    const struct hark_json *inc = hark_json_get(doc->root, "include");
    if (inc && inc->type == HARK_JSON_ARRAY) {
        ld->stack = hark_rules_grow(ld->stack, ld->n_stack, sizeof(*ld->stack));
        ld->stack[ld->n_stack++] = index;
        load_includes(ld, doc, inc);
        ld->n_stack--;
    }
    collect_pack(ld, doc);
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */

static bool parse_action(struct hark_rules_loader *ld,
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
        hark_rules_grow(rules->groups, rules->n_groups, sizeof(*rules->groups));
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
static size_t earlier_id(const struct hark_rules_loader *ld,
                         size_t i,
                         const char *id,
                         const char **ids)
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

static void
id_insert(struct hark_rules_loader *ld, size_t index, const char *id)
{
    size_t mask = ld->id_cap - 1;
    size_t h = hark_hash64(id, strlen(id), HARK_HASH_SEED) & mask;
    while (ld->id_slots[h]) {
        h = (h + 1) & mask;
    }
    ld->id_slots[h] = index + 1;
}

static bool string_ok(struct hark_rules_loader *ld,
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

static void
compile_rule(struct hark_rules_loader *ld, size_t index, const char **ids)
{
    const struct hark_rules_located *p = &ld->prules[index];
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
            const struct hark_rules_located *q = &ld->prules[k];
            char first[512];
            hark_rules_where(q->doc, hark_json_get(q->v, "id")->offset, first,
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
    hark_rules_add_strings(ld, doc, hark_json_get(obj, "tags"), "tags",
                           &r.tags);
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
        struct hark_rules_cctx c = {ld, doc, id ? id : "?"};
        r.match = hark_rules_compile_match(&c, m);
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
    rules->rules =
        hark_rules_grow(rules->rules, rules->n_rules, sizeof(*rules->rules));
    ld->rule_src =
        hark_rules_grow(ld->rule_src, rules->n_rules, sizeof(*ld->rule_src));
    ld->rule_src[rules->n_rules] = index;
    rules->rules[rules->n_rules++] = r;
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

static void loader_cleanup(struct hark_rules_loader *ld)
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
    struct hark_rules_loader ld;
    memset(&ld, 0, sizeof(ld));
    ld.diag = diag;
    ld.n_errors_before = diag->n_errors;
    ld.hash = HARK_HASH_SEED;
    ld.rules = hark_xcalloc(1, sizeof(*ld.rules));
    atomic_init(&ld.rules->refs, 1);

    for (size_t i = 0; i < n_paths; i++) {
        load_file(&ld, paths[i], NULL, 0);
    }
    hark_rules_check_lists(&ld);
    hark_rules_compile_authors(&ld);
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
    hark_rules_lint_groups(&ld);
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
