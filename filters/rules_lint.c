/*
 * rules_lint: warnings about a compiled set as a whole, after every rule
 * is compiled (the end of pass 2, see rules.c): rules of an ordered group
 * that can never apply. A warning does not stop the set from loading.
 *
 * Thread: load on any thread.
 */
#include "hark/rules.h"

#include <string.h>

#include "hark/json.h"

#include "rules_int.h"

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
void hark_rules_lint_groups(struct hark_rules_loader *ld)
{
    const struct hark_rules *rules = ld->rules;
    for (size_t i = 0; i < rules->n_rules; i++) {
        const struct hark_rules_rule *r = &rules->rules[i];
        if (r->group < 0) {
            continue;
        }
        const struct hark_rules_located *p = &ld->prules[ld->rule_src[i]];
        size_t offset = hark_json_get(p->v, "id")->offset;
        for (size_t k = 0; k < i; k++) {
            const struct hark_rules_rule *e = &rules->rules[k];
            if (e->group != r->group) {
                continue;
            }
            const struct hark_rules_located *q = &ld->prules[ld->rule_src[k]];
            bool is_all = is_always(e->match);
            if (!is_all && !json_equal(hark_json_get(q->v, "match"),
                                       hark_json_get(p->v, "match"))) {
                continue;
            }
            char first[512];
            hark_rules_where(q->doc, hark_json_get(q->v, "id")->offset, first,
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
