/*
 * rules_lists: the packs' named lists ("lists": {"refund": [...]}, used as
 * "@refund" in keywords) and author lists ("authors": {"vip":
 * {"identities": [...], "tags": [...]}}), checked and compiled before any
 * rule (pass 2 of hark_rules_load(), see rules.c). A name defined twice,
 * in any two packs, is an error that names both places. Identities are
 * compiled into the set's sorted `idents` for the matcher's bsearch.
 *
 * Thread: load on any thread.
 */
#include "hark/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/json.h"

#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* Config maps                                                         */

static const struct hark_cfgmap author_map[] = {
    {"identities", HARK_JSON_ARRAY, true, NULL},
    {"tags", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Lists and author lists                                              */

static void check_duplicates(struct hark_rules_loader *ld,
                             const struct hark_rules_located *arr,
                             size_t n,
                             const char *what)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(arr[i].name, arr[k].name) == 0) {
                char first[512];
                hark_rules_where(arr[k].doc, arr[k].key_offset, first,
                                 sizeof(first));
                hark_json_error(arr[i].doc, ld->diag, arr[i].key_offset,
                                "duplicate %s \"%s\" (first defined at %s)",
                                what, arr[i].name, first);
                break;
            }
        }
    }
}

void hark_rules_check_lists(struct hark_rules_loader *ld)
{
    check_duplicates(ld, ld->lists, ld->n_lists, "list");
    for (size_t i = 0; i < ld->n_lists; i++) {
        const struct hark_rules_located *l = &ld->lists[i];
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

const struct hark_rules_located *
hark_rules_find_list(const struct hark_rules_loader *ld, const char *name)
{
    for (size_t i = 0; i < ld->n_lists; i++) {
        if (strcmp(ld->lists[i].name, name) == 0 &&
            ld->lists[i].v->type == HARK_JSON_ARRAY) {
            return &ld->lists[i];
        }
    }
    return NULL;
}

static void compile_identity(struct hark_rules_loader *ld,
                             const struct hark_rules_located *a,
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
    hark_rules_lower_into(&key, t->s, plat_len);
    if (hark_buf_add(&key, is_handle ? "\x1f@" : "\x1f#", 2) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
    if (is_handle) {
        hark_rules_lower_into(&key, value, strlen(value));
    } else if (hark_buf_add(&key, value, strlen(value)) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
    rules->idents =
        hark_rules_grow(rules->idents, rules->n_idents, sizeof(*rules->idents));
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

void hark_rules_compile_authors(struct hark_rules_loader *ld)
{
    struct hark_rules *rules = ld->rules;
    check_duplicates(ld, ld->authors, ld->n_authors, "author list");
    for (size_t i = 0; i < ld->n_authors; i++) {
        const struct hark_rules_located *a = &ld->authors[i];
        char what[300];
        (void)snprintf(what, sizeof(what), "author list '%s'", a->name);
        if (hark_cfgmap_check(a->doc, a->v, author_map, what, ld->diag) !=
                HARK_OK &&
            a->v->type != HARK_JSON_OBJECT) {
            continue;
        }
        size_t list = rules->n_authors;
        rules->authors = hark_rules_grow(rules->authors, rules->n_authors,
                                         sizeof(*rules->authors));
        struct hark_rules_author_list *al = &rules->authors[list];
        memset(al, 0, sizeof(*al));
        al->name = hark_xstrdup(a->name);
        rules->n_authors++;
        hark_rules_add_strings(ld, a->doc, hark_json_get(a->v, "tags"), "tags",
                               &al->tags);
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
