/*
 * A positioned JSON tree on top of yajl's callback parser.
 *
 * yajl_get_bytes_consumed() inside a callback is the end offset of the
 * token just read (verified on yajl 2.1.0). The start of the token is found
 * by scanning back from there: over the token's own characters for
 * literals and numbers, to the opening quote for strings (every quote
 * inside a JSON string is escaped, so the first unescaped one going back is
 * the opening one).
 *
 * Nodes and strings live in one arena per document, freed in one call.
 */
#include "hark/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

/* ---- arena ---- */

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    char data[];
};

struct arena {
    struct chunk *head;
    size_t chunk_size; /* of the next chunk; sized to the input at first */
};

static void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > a->chunk_size ? n : a->chunk_size;
        a->chunk_size = 16384;
        struct chunk *c = hark_xmalloc(sizeof(*c) + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free(struct arena *a)
{
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

/* ---- parse state ---- */

/*
 * An open container. Its items are collected on the shared slot stack of
 * the parse (from `base` up) and copied into the arena when it closes, so
 * a document costs no allocation per container.
 */
struct frame {
    struct hark_json *node;
    size_t base;
    const char *pending_key;
    size_t pending_key_offset;
};

struct slot {
    struct hark_json *item;
    const char *key;   /* objects only */
    size_t key_offset; /* objects only */
};

struct pctx {
    yajl_handle yh;
    const char *text;
    size_t len;
    struct arena *arena;
    struct hark_json *root;
    struct frame *stack;
    size_t depth;
    size_t stack_cap;
    struct slot *slots; /* items of the open containers */
    size_t n_slots;
    size_t slots_cap;
    unsigned max_depth;
    bool is_too_deep;
};

static bool is_token_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '-' || c == '+' || c == '.';
}

static size_t consumed(const struct pctx *ctx)
{
    size_t n = yajl_get_bytes_consumed(ctx->yh);
    return n > ctx->len ? ctx->len : n;
}

/* Start offset of the literal or number that ends at or before `end`. */
static size_t literal_start(const struct pctx *ctx)
{
    size_t i = consumed(ctx);
    while (i > 0 && !is_token_char(ctx->text[i - 1])) {
        i--;
    }
    while (i > 0 && is_token_char(ctx->text[i - 1])) {
        i--;
    }
    return i;
}

/* Start offset (the opening quote) of the string that just ended. */
static size_t string_start(const struct pctx *ctx)
{
    size_t i = consumed(ctx);
    while (i > 0 && ctx->text[i - 1] != '"') {
        i--;
    }
    if (i == 0) {
        return 0;
    }
    i--; /* the closing quote */
    while (i > 0) {
        i--;
        if (ctx->text[i] == '"') {
            size_t bs = 0;
            while (i >= bs + 1 && ctx->text[i - bs - 1] == '\\') {
                bs++;
            }
            if (bs % 2 == 0) {
                return i;
            }
        }
    }
    return 0;
}

static size_t bracket_start(const struct pctx *ctx, char bracket)
{
    size_t i = consumed(ctx);
    while (i > 0 && ctx->text[i - 1] != bracket) {
        i--;
    }
    return i > 0 ? i - 1 : 0;
}

static struct hark_json *new_node(struct pctx *ctx, enum hark_json_type type,
                                  size_t offset)
{
    struct hark_json *node = arena_alloc(ctx->arena, sizeof(*node));
    memset(node, 0, sizeof(*node));
    node->type = type;
    node->offset = offset;
    return node;
}

static int attach(struct pctx *ctx, struct hark_json *node)
{
    if (ctx->depth == 0) {
        ctx->root = node;
        return 1;
    }
    const struct frame *f = &ctx->stack[ctx->depth - 1];
    if (ctx->n_slots == ctx->slots_cap) {
        ctx->slots_cap = ctx->slots_cap ? ctx->slots_cap * 2 : 64;
        ctx->slots =
            hark_xrealloc(ctx->slots, ctx->slots_cap * sizeof(*ctx->slots));
    }
    struct slot *sl = &ctx->slots[ctx->n_slots++];
    sl->item = node;
    sl->key = f->pending_key;
    sl->key_offset = f->pending_key_offset;
    return 1;
}

static int cb_null(void *ud)
{
    struct pctx *ctx = ud;
    return attach(ctx, new_node(ctx, HARK_JSON_NULL, literal_start(ctx)));
}

static int cb_bool(void *ud, int v)
{
    struct pctx *ctx = ud;
    struct hark_json *node = new_node(ctx, HARK_JSON_BOOL, literal_start(ctx));
    node->b = v != 0;
    return attach(ctx, node);
}

static int cb_number(void *ud, const char *s, size_t len)
{
    struct pctx *ctx = ud;
    char tmp[64];
    bool is_int = true;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
            is_int = false;
        }
    }
    size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    struct hark_json *node = new_node(ctx, HARK_JSON_DOUBLE, literal_start(ctx));
    node->d = strtod(tmp, NULL);
    if (is_int) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            node->type = HARK_JSON_INTEGER;
            node->i = v;
        } else {
            node->i = node->d > 0 ? INT64_MAX : INT64_MIN;
        }
    } else {
        node->i = (node->d >= 9.2e18 || node->d <= -9.2e18)
                      ? (node->d > 0 ? INT64_MAX : INT64_MIN)
                      : (int64_t)node->d;
    }
    return attach(ctx, node);
}

/*
 * The opening quote of the string yajl just passed: a string without
 * escapes is passed in place (it points into our text), so the quote is the
 * byte before it; a decoded one is found by scanning back.
 */
static size_t string_offset(const struct pctx *ctx, const unsigned char *s)
{
    uintptr_t p = (uintptr_t)s;
    uintptr_t base = (uintptr_t)ctx->text;
    /* integers: s may point into yajl's own buffer, another object */
    if (p > base && p <= base + ctx->len && ctx->text[p - base - 1] == '"') {
        return (size_t)(p - base) - 1;
    }
    return string_start(ctx);
}

static int cb_string(void *ud, const unsigned char *s, size_t len)
{
    struct pctx *ctx = ud;
    struct hark_json *node =
        new_node(ctx, HARK_JSON_STRING, string_offset(ctx, s));
    node->s = arena_strndup(ctx->arena, (const char *)s, len);
    node->s_len = len;
    return attach(ctx, node);
}

static int cb_map_key(void *ud, const unsigned char *s, size_t len)
{
    struct pctx *ctx = ud;
    struct frame *f = &ctx->stack[ctx->depth - 1];
    f->pending_key = arena_strndup(ctx->arena, (const char *)s, len);
    f->pending_key_offset = string_offset(ctx, s);
    return 1;
}

static int push_container(struct pctx *ctx, enum hark_json_type type,
                          char bracket)
{
    if (ctx->depth >= ctx->max_depth) {
        ctx->is_too_deep = true;
        return 0;
    }
    struct hark_json *node = new_node(ctx, type, bracket_start(ctx, bracket));
    attach(ctx, node);
    if (ctx->depth == ctx->stack_cap) {
        ctx->stack_cap = ctx->stack_cap ? ctx->stack_cap * 2 : 16;
        ctx->stack =
            hark_xrealloc(ctx->stack, ctx->stack_cap * sizeof(*ctx->stack));
    }
    struct frame *f = &ctx->stack[ctx->depth++];
    memset(f, 0, sizeof(*f));
    f->node = node;
    f->base = ctx->n_slots;
    return 1;
}

static int pop_container(struct pctx *ctx)
{
    struct frame *f = &ctx->stack[--ctx->depth];
    struct hark_json *node = f->node;
    size_t n = ctx->n_slots - f->base;
    const struct slot *sl = ctx->slots + f->base;
    node->n = n;
    if (n) {
        node->items = arena_alloc(ctx->arena, n * sizeof(*node->items));
        for (size_t i = 0; i < n; i++) {
            node->items[i] = sl[i].item;
        }
        if (node->type == HARK_JSON_OBJECT) {
            node->keys = arena_alloc(ctx->arena, n * sizeof(*node->keys));
            node->key_offsets =
                arena_alloc(ctx->arena, n * sizeof(*node->key_offsets));
            for (size_t i = 0; i < n; i++) {
                node->keys[i] = sl[i].key;
                node->key_offsets[i] = sl[i].key_offset;
            }
        }
    }
    ctx->n_slots = f->base;
    return 1;
}

static int cb_start_map(void *ud)
{
    return push_container(ud, HARK_JSON_OBJECT, '{');
}

static int cb_end_map(void *ud)
{
    return pop_container(ud);
}

static int cb_start_array(void *ud)
{
    return push_container(ud, HARK_JSON_ARRAY, '[');
}

static int cb_end_array(void *ud)
{
    return pop_container(ud);
}

static const yajl_callbacks callbacks = {
    cb_null,      cb_bool,    NULL,           NULL,        cb_number,
    cb_string,    cb_start_map, cb_map_key,   cb_end_map,  cb_start_array,
    cb_end_array,
};

static void clean_message(const char *msg, char *errbuf, size_t errbuf_len)
{
    /* yajl's message is "parse error: what\n   context\n   (caret)\n";
     * keep the first line without the prefix. */
    const char *p = msg;
    if (strncmp(p, "parse error: ", 13) == 0) {
        p += 13;
    } else if (strncmp(p, "lexical error: ", 15) == 0) {
        p += 15;
    }
    size_t n = strcspn(p, "\n");
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '.')) {
        n--;
    }
    snprintf(errbuf, errbuf_len, "%.*s", (int)n, p);
}

hark_err_t hark_json_parse(const char *text, size_t len, const char *file,
                           const struct hark_json_opts *opts,
                           struct hark_json_doc **out, char *errbuf,
                           size_t errbuf_len, size_t *err_offset)
{
    *out = NULL;
    if (err_offset) {
        *err_offset = 0;
    }
    struct hark_json_doc *doc = hark_xcalloc(1, sizeof(*doc));
    struct arena *arena = hark_xcalloc(1, sizeof(*arena));
    doc->arena_ = arena;
    /* One chunk holds a small document whole: its text, about one node per
     * 16 bytes of input, and the strings. */
    arena->chunk_size = len < 65536 ? len * 8 + 1024 : 16384;
    char *copy = arena_alloc(arena, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    doc->text = copy;
    doc->text_len = len;
    doc->file = file ? arena_strndup(arena, file, strlen(file)) : NULL;

    struct pctx ctx = {0};
    ctx.text = copy;
    ctx.len = len;
    ctx.arena = arena;
    ctx.max_depth = opts && opts->max_depth ? opts->max_depth : 64;
    ctx.yh = yajl_alloc(&callbacks, NULL, &ctx);
    if (opts && opts->allow_comments) {
        yajl_config(ctx.yh, yajl_allow_comments, 1);
    }
    if (opts && !opts->validate_utf8) {
        yajl_config(ctx.yh, yajl_dont_validate_strings, 1);
    }
    yajl_status st = yajl_parse(ctx.yh, (const unsigned char *)copy, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(ctx.yh);
    }
    hark_err_t err = HARK_OK;
    if (st != yajl_status_ok || !ctx.root) {
        size_t off = yajl_get_bytes_consumed(ctx.yh);
        if (ctx.is_too_deep) {
            snprintf(errbuf, errbuf_len, "nested deeper than %u levels",
                     ctx.max_depth);
        } else if (st == yajl_status_ok) {
            snprintf(errbuf, errbuf_len, "empty document");
        } else {
            unsigned char *msg = yajl_get_error(ctx.yh, 0, NULL, 0);
            clean_message((const char *)msg, errbuf, errbuf_len);
            yajl_free_error(ctx.yh, msg);
            if (off >= len) {
                off = len;
            } else if (off > 0) {
                off--; /* yajl counts the offending byte as consumed */
            }
        }
        if (err_offset) {
            *err_offset = off > len ? len : off;
        }
        err = HARK_EINVAL;
    }
    free(ctx.slots);
    free(ctx.stack);
    yajl_free(ctx.yh);
    if (err != HARK_OK) {
        hark_json_doc_free(doc);
        return err;
    }
    doc->root = ctx.root;
    *out = doc;
    return HARK_OK;
}

hark_err_t hark_json_load_file(const char *path, struct hark_diag *diag,
                               struct hark_json_doc **out)
{
    *out = NULL;
    char errbuf[512];
    char *text = NULL;
    size_t len = 0;
    hark_err_t err =
        hark_file_read(path, 64u << 20, &text, &len, errbuf, sizeof(errbuf));
    if (err != HARK_OK) {
        hark_diag_line(diag, HARK_DIAG_ERROR, path, 0, "%s", errbuf);
        return HARK_EIO;
    }
    struct hark_json_opts opts = {.allow_comments = true,
                                  .validate_utf8 = true,
                                  .max_depth = 64};
    size_t off = 0;
    err = hark_json_parse(text, len, path, &opts, out, errbuf, sizeof(errbuf),
                          &off);
    if (err != HARK_OK) {
        hark_diag_at(diag, HARK_DIAG_ERROR, path, text, len, off,
                     "invalid JSON: %s", errbuf);
    }
    free(text);
    return err;
}

void hark_json_doc_free(struct hark_json_doc *doc)
{
    if (!doc) {
        return;
    }
    arena_free(doc->arena_);
    free(doc);
}

const struct hark_json *hark_json_get(const struct hark_json *obj,
                                      const char *key)
{
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        return NULL;
    }
    /* Linear, as objects are small; the first byte is compared inline,
     * which saves most strcmp calls (posts look up ~20 keys each). */
    char first = key[0];
    for (size_t i = 0; i < obj->n; i++) {
        const char *k = obj->keys[i];
        if (k[0] == first && strcmp(k, key) == 0) {
            return obj->items[i];
        }
    }
    return NULL;
}

size_t hark_json_key_offset(const struct hark_json *obj, const char *key)
{
    if (!obj) {
        return 0;
    }
    if (obj->type == HARK_JSON_OBJECT) {
        for (size_t i = 0; i < obj->n; i++) {
            if (strcmp(obj->keys[i], key) == 0) {
                return obj->key_offsets[i];
            }
        }
    }
    return obj->offset;
}

const struct hark_json *hark_json_pointer(const struct hark_json *root,
                                          const char *pointer)
{
    const struct hark_json *cur = root;
    const char *p = pointer;
    char tok[256];
    while (cur && *p) {
        if (*p != '/') {
            return NULL;
        }
        p++;
        size_t n = 0;
        while (*p && *p != '/' && n < sizeof(tok) - 1) {
            if (p[0] == '~' && p[1] == '1') {
                tok[n++] = '/';
                p += 2;
            } else if (p[0] == '~' && p[1] == '0') {
                tok[n++] = '~';
                p += 2;
            } else {
                tok[n++] = *p++;
            }
        }
        tok[n] = '\0';
        if (cur->type == HARK_JSON_OBJECT) {
            cur = hark_json_get(cur, tok);
        } else if (cur->type == HARK_JSON_ARRAY) {
            char *end = NULL;
            unsigned long idx = strtoul(tok, &end, 10);
            if (n == 0 || *end != '\0' || idx >= cur->n) {
                return NULL;
            }
            cur = cur->items[idx];
        } else {
            return NULL;
        }
    }
    return cur;
}

const char *hark_json_str(const struct hark_json *v)
{
    return v && v->type == HARK_JSON_STRING ? v->s : NULL;
}

int64_t hark_json_int(const struct hark_json *v, int64_t def)
{
    return v && (v->type & HARK_JSON_NUMBER) ? v->i : def;
}

double hark_json_num(const struct hark_json *v, double def)
{
    return v && (v->type & HARK_JSON_NUMBER) ? v->d : def;
}

bool hark_json_bool(const struct hark_json *v, bool def)
{
    return v && v->type == HARK_JSON_BOOL ? v->b : def;
}

const char *hark_json_type_name(enum hark_json_type type)
{
    switch (type) {
    case HARK_JSON_NULL:
        return "null";
    case HARK_JSON_BOOL:
        return "boolean";
    case HARK_JSON_INTEGER:
        return "integer";
    case HARK_JSON_DOUBLE:
        return "number";
    case HARK_JSON_STRING:
        return "string";
    case HARK_JSON_ARRAY:
        return "array";
    case HARK_JSON_OBJECT:
        return "object";
    }
    return "value";
}

static void vreport(const struct hark_json_doc *doc, struct hark_diag *diag,
                    enum hark_diag_severity sev, size_t offset,
                    const char *fmt, va_list ap) HARK_PRINTF(5, 0);

static void vreport(const struct hark_json_doc *doc, struct hark_diag *diag,
                    enum hark_diag_severity sev, size_t offset,
                    const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    hark_diag_at(diag, sev, doc ? doc->file : NULL, doc ? doc->text : NULL,
                 doc ? doc->text_len : 0, offset, "%s", msg);
}

void hark_json_error(const struct hark_json_doc *doc, struct hark_diag *diag,
                     size_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(doc, diag, HARK_DIAG_ERROR, offset, fmt, ap);
    va_end(ap);
}

void hark_json_warning(const struct hark_json_doc *doc, struct hark_diag *diag,
                       size_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(doc, diag, HARK_DIAG_WARNING, offset, fmt, ap);
    va_end(ap);
}

static void types_text(unsigned types, char *out, size_t out_len)
{
    out[0] = '\0';
    if ((types & HARK_JSON_NUMBER) == HARK_JSON_NUMBER) {
        types = (types & ~(unsigned)HARK_JSON_NUMBER) | HARK_JSON_DOUBLE;
    }
    size_t n = 0;
    for (unsigned bit = 1; bit <= HARK_JSON_OBJECT; bit <<= 1) {
        if (!(types & bit)) {
            continue;
        }
        int w = snprintf(out + n, out_len - n, "%s%s", n ? " or " : "",
                         hark_json_type_name((enum hark_json_type)bit));
        if (w < 0 || (size_t)w >= out_len - n) {
            break;
        }
        n += (size_t)w;
    }
}

hark_err_t hark_cfgmap_check(const struct hark_json_doc *doc,
                             const struct hark_json *obj,
                             const struct hark_cfgmap *map, const char *what,
                             struct hark_diag *diag)
{
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        hark_json_error(doc, diag, obj ? obj->offset : 0,
                        "%s must be an object, not %s", what,
                        obj ? hark_json_type_name(obj->type) : "missing");
        return HARK_EINVAL;
    }
    hark_err_t err = HARK_OK;
    for (size_t i = 0; i < obj->n; i++) {
        const struct hark_cfgmap *row = map;
        while (row->key && strcmp(row->key, obj->keys[i]) != 0) {
            row++;
        }
        if (!row->key) {
            char expected[512];
            size_t n = 0;
            expected[0] = '\0';
            for (const struct hark_cfgmap *r = map; r->key; r++) {
                if (r->not_built) {
                    continue;
                }
                int w = snprintf(expected + n, sizeof(expected) - n, "%s\"%s\"",
                                 n ? ", " : "", r->key);
                if (w < 0 || (size_t)w >= sizeof(expected) - n) {
                    break;
                }
                n += (size_t)w;
            }
            hark_json_error(doc, diag, obj->key_offsets[i],
                            "unknown key \"%s\" in %s; expected one of %s",
                            obj->keys[i], what, expected);
            err = HARK_EINVAL;
            continue;
        }
        if (row->not_built) {
            hark_json_error(doc, diag, obj->key_offsets[i],
                            "\"%s\" in %s is not built yet: %s", row->key,
                            what, row->not_built);
            err = HARK_EINVAL;
            continue;
        }
        const struct hark_json *v = obj->items[i];
        if (!(v->type & row->types)) {
            char want[128];
            types_text(row->types, want, sizeof(want));
            hark_json_error(doc, diag, v->offset,
                            "\"%s\" in %s must be %s, not %s", row->key, what,
                            want, hark_json_type_name(v->type));
            err = HARK_EINVAL;
        }
    }
    for (const struct hark_cfgmap *r = map; r->key; r++) {
        if (r->is_required && !hark_json_get(obj, r->key)) {
            hark_json_error(doc, diag, obj->offset,
                            "%s is missing required key \"%s\"", what, r->key);
            err = HARK_EINVAL;
        }
    }
    return err;
}
