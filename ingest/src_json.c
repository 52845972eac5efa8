/*
 * src_json: the generic JSON adapter: any HTTP API that answers a JSON
 * list of posts, mapped with JSON pointers (RFC 6901) from the config.
 *
 *   {"type": "json", "url": "https://api.x.com/2/tweets/search/recent?
 *    query=acme", "items": "/data", "fields": {"id": "/id", "text":
 *    "/text"}, "cursor": {"param": "pagination_token", "from":
 *    "/meta/next_token", "since_param": "since_id"},
 *    "headers_env": {"Authorization": "X_AUTH_HEADER"}}
 *
 * Keys: `url` (or `base_url` + `path`); `items`, the pointer to the array
 * ("" when the body is the array); `fields`, pointers relative to an item
 * (id and text required; created_at, author_id, author_handle,
 * author_name, url, title, lang, in_reply_to optional); `cursor`:
 * `param` + `from` (the query parameter of the next page and the pointer
 * into the response that holds its value), `since_param` (the query
 * parameter that asks for items newer than the committed mark) and
 * `max_field` (the item pointer whose largest value is the mark, default
 * the id); `order` ("newest_first", the default, or "oldest_first");
 * `limit_param` (gets page_limit); `headers_env` {"Header": "ENV_VAR"}
 * (sent with every request; values read from the environment each time,
 * never logged); `params_env` {"api_key": "ENV_VAR"} (the same for APIs
 * that take a key only in the query: added to the URL curl fetches, never
 * to the one logged); `platform` (default "json"); `max_pages` (default
 * 50).
 *
 * The mark (committed cursor) is the newest item seen:
 *   "t:<RFC 3339>|<id>" when fields.created_at is mapped (and no
 *       max_field): an item is old when it is earlier, or as early with
 *       the same id;
 *   "id:<value>" otherwise (max_field's value, or the id): an item is old
 *       when its value orders at or before the mark (decimal strings by
 *       number, as hark_id_cmp does); ids that are not decimal have no
 *       order, so only the mark's own id is old.
 *
 * Walks. newest_first: from the newest page back through the `from`
 * tokens until an old item (or since_param's filter) ends it, at most
 * max_pages pages (backfill_pages on a first run); the mark moves when the
 * walk ends (is_forward false), and a walk cut at max_pages says so.
 * oldest_first: forward from the mark (since_param required, so a poll can
 * resume there), each page's newest item committed as soon as it is
 * acknowledged (is_forward). Old items are never delivered.
 *
 * Thread: ingest thread only (the state is not shared).
 */
#include "hark/source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"

#define JSON_MAX_PAGES 50

enum field {
    F_ID = 0,
    F_TEXT,
    F_CREATED_AT,
    F_AUTHOR_ID,
    F_AUTHOR_HANDLE,
    F_AUTHOR_NAME,
    F_URL,
    F_TITLE,
    F_LANG,
    F_IN_REPLY_TO,
    F_COUNT_
};

static const char *const field_names[F_COUNT_] = {
    "id",     "text",          "created_at", "author_id", "author_handle",
    "author_name", "url", "title",      "lang",      "in_reply_to",
};

static const char field_list[] =
    "\"id\", \"text\", \"created_at\", \"author_id\", \"author_handle\", "
    "\"author_name\", \"url\", \"title\", \"lang\" or \"in_reply_to\"";

enum key_kind { KEY_TIME, KEY_VALUE };

struct header_env {
    char *name;
    char *env; /* the variable's name, never its value */
};

struct json_src {
    char *name;
    char *platform;
    char *url; /* the request URL without paging parameters */
    char *items;
    char *fields[F_COUNT_]; /* NULL = not mapped */
    char *cursor_param;
    char *cursor_from;
    char *since_param;
    char *max_field; /* NULL = the id */
    char *limit_param;
    int limit;
    bool is_oldest_first;
    enum key_kind key;
    int backfill_pages;
    int max_pages;
    struct header_env *headers;
    size_t n_headers;
    struct header_env *params; /* params_env: secret query parameters */
    size_t n_params;
    /* from the last build_url: one request in flight per source */
    char *mark;
    char *token;
    int page_index;
};

static const struct hark_cfgmap json_cfgmap[] = {
    {"path", HARK_JSON_STRING, false, NULL},
    {"items", HARK_JSON_STRING, true, NULL},
    {"fields", HARK_JSON_OBJECT, true, NULL},
    {"cursor", HARK_JSON_OBJECT, false, NULL},
    {"order", HARK_JSON_STRING, false, NULL},
    {"headers_env", HARK_JSON_OBJECT, false, NULL},
    {"params_env", HARK_JSON_OBJECT, false, NULL},
    {"limit_param", HARK_JSON_STRING, false, NULL},
    {"platform", HARK_JSON_STRING, false, NULL},
    {"max_pages", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL},
};

/* ---- config ---- */

static void json_free(void *state)
{
    struct json_src *j = state;
    if (!j) {
        return;
    }
    free(j->name);
    free(j->platform);
    free(j->url);
    free(j->items);
    for (size_t i = 0; i < F_COUNT_; i++) {
        free(j->fields[i]);
    }
    free(j->cursor_param);
    free(j->cursor_from);
    free(j->since_param);
    free(j->max_field);
    free(j->limit_param);
    for (size_t i = 0; i < j->n_headers; i++) {
        free(j->headers[i].name);
        free(j->headers[i].env);
    }
    free(j->headers);
    for (size_t i = 0; i < j->n_params; i++) {
        free(j->params[i].name);
        free(j->params[i].env);
    }
    free(j->params);
    free(j->mark);
    free(j->token);
    free(j);
}

struct ctx {
    const struct hark_json_doc *doc;
    struct hark_diag *diag;
    bool is_ok;
};

/* An RFC 6901 pointer: "" or "/a/b", with "~" only as "~0" or "~1". */
static bool check_pointer(struct ctx *c,
                          const struct hark_json *v,
                          const char *what)
{
    if (!v) {
        return true;
    }
    if (v->type != HARK_JSON_STRING) {
        hark_json_error(c->doc, c->diag, v->offset,
                        "%s must be a JSON pointer (a string)", what);
        c->is_ok = false;
        return false;
    }
    if (v->s[0] != '\0' && v->s[0] != '/') {
        hark_json_error(c->doc, c->diag, v->offset,
                        "%s \"%s\" is not a JSON pointer: it must start "
                        "with '/' (or be \"\" for the whole value)",
                        what, v->s);
        c->is_ok = false;
        return false;
    }
    for (const char *p = v->s; *p; p++) {
        if (*p == '~' && p[1] != '0' && p[1] != '1') {
            hark_json_error(c->doc, c->diag, v->offset,
                            "%s \"%s\": '~' must be written \"~0\" (and "
                            "'/' inside a key \"~1\")",
                            what, v->s);
            c->is_ok = false;
            return false;
        }
    }
    return true;
}

/* A query parameter name: non-empty, no '&', '=', '?', '#' or space. */
static bool check_param(struct ctx *c, const struct hark_json *v,
                        const char *what)
{
    if (!v) {
        return true;
    }
    if (v->type != HARK_JSON_STRING) {
        hark_json_error(c->doc, c->diag, v->offset,
                        "%s must be a query parameter name (a string)", what);
        c->is_ok = false;
        return false;
    }
    if (!v->s[0] || v->s[strcspn(v->s, "&=?# \t\r\n")] != '\0') {
        hark_json_error(c->doc, c->diag, v->offset,
                        "%s \"%s\" is not a query parameter name", what,
                        v->s);
        c->is_ok = false;
        return false;
    }
    return true;
}

static void read_fields(struct ctx *c,
                        const struct hark_json *fields,
                        struct json_src *j)
{
    if (!fields || fields->type != HARK_JSON_OBJECT) {
        c->is_ok = false; /* reported by the cfgmap check */
        return;
    }
    for (size_t i = 0; i < fields->n; i++) {
        size_t f = 0;
        while (f < F_COUNT_ && strcmp(fields->keys[i], field_names[f]) != 0) {
            f++;
        }
        if (f == F_COUNT_) {
            hark_json_error(c->doc, c->diag, fields->key_offsets[i],
                            "unknown field \"%s\"; expected %s",
                            fields->keys[i], field_list);
            c->is_ok = false;
            continue;
        }
        char what[64];
        snprintf(what, sizeof(what), "fields.%s", field_names[f]);
        if (check_pointer(c, fields->items[i], what) && j) {
            free(j->fields[f]);
            j->fields[f] = hark_xstrdup(fields->items[i]->s);
        }
    }
    for (size_t f = F_ID; f <= F_TEXT; f++) {
        if (!hark_json_get(fields, field_names[f])) {
            hark_json_error(c->doc, c->diag, fields->offset,
                            "\"fields\" needs \"%s\" (a JSON pointer into "
                            "an item, like \"/%s\")",
                            field_names[f], field_names[f]);
            c->is_ok = false;
        }
    }
}

static void read_cursor(struct ctx *c,
                        const struct hark_json *cur,
                        struct json_src *j)
{
    static const char *const keys[] = {"param", "from", "since_param",
                                       "max_field", NULL};
    if (!cur) {
        return;
    }
    if (cur->type != HARK_JSON_OBJECT) {
        c->is_ok = false; /* reported by the cfgmap check */
        return;
    }
    for (size_t i = 0; i < cur->n; i++) {
        size_t k = 0;
        while (keys[k] && strcmp(cur->keys[i], keys[k]) != 0) {
            k++;
        }
        if (!keys[k]) {
            hark_json_error(c->doc, c->diag, cur->key_offsets[i],
                            "unknown key \"%s\" in \"cursor\"; expected "
                            "\"param\", \"from\", \"since_param\" or "
                            "\"max_field\"",
                            cur->keys[i]);
            c->is_ok = false;
        }
    }
    const struct hark_json *param = hark_json_get(cur, "param");
    const struct hark_json *from = hark_json_get(cur, "from");
    const struct hark_json *since = hark_json_get(cur, "since_param");
    const struct hark_json *max = hark_json_get(cur, "max_field");
    bool is_param_ok = check_param(c, param, "cursor.param");
    bool is_from_ok = check_pointer(c, from, "cursor.from");
    bool is_since_ok = check_param(c, since, "cursor.since_param");
    bool is_max_ok = check_pointer(c, max, "cursor.max_field");
    if (!param != !from) {
        hark_json_error(c->doc, c->diag,
                        param ? hark_json_key_offset(cur, "param")
                              : hark_json_key_offset(cur, "from"),
                        "\"cursor\" needs both \"param\" (the query "
                        "parameter of the next page) and \"from\" (where "
                        "the response holds its value)");
        c->is_ok = false;
    }
    if (!j) {
        return;
    }
    if (param && from && is_param_ok && is_from_ok) {
        j->cursor_param = hark_xstrdup(param->s);
        j->cursor_from = hark_xstrdup(from->s);
    }
    if (since && is_since_ok) {
        j->since_param = hark_xstrdup(since->s);
    }
    if (max && is_max_ok) {
        j->max_field = hark_xstrdup(max->s);
    }
}

static bool is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          *s == '_')) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_')) {
            return false;
        }
    }
    return true;
}

/*
 * headers_env ({"Header": "ENV_VAR"}) or params_env ({"param": "ENV_VAR"}):
 * names checked (an HTTP token; a query parameter needs no more than not
 * being empty), values the NAMES of variables, kept in *out.
 */
static void read_env_map(struct ctx *c, const struct hark_json *obj,
                         bool is_header, struct header_env **out,
                         size_t *n_out)
{
    const char *key = is_header ? "headers_env" : "params_env";
    if (!obj) {
        return;
    }
    if (obj->type != HARK_JSON_OBJECT) {
        c->is_ok = false; /* reported by the cfgmap check */
        return;
    }
    *out = hark_xcalloc(obj->n ? obj->n : 1, sizeof(**out));
    for (size_t i = 0; i < obj->n; i++) {
        const char *name = obj->keys[i];
        const struct hark_json *v = obj->items[i];
        bool is_name = *name != '\0';
        for (const char *p = name; is_header && *p; p++) {
            is_name = is_name && is_token_char((unsigned char)*p);
        }
        if (!is_name) {
            hark_json_error(c->doc, c->diag, obj->key_offsets[i],
                            is_header ? "\"%s\" is not an HTTP header name"
                                      : "\"%s\" is not a query parameter name",
                            name);
            c->is_ok = false;
            continue;
        }
        if (v->type != HARK_JSON_STRING || !is_env_name(v->s)) {
            hark_json_error(c->doc, c->diag, v->offset,
                            "%s maps a %s to the NAME of an environment "
                            "variable (like \"ACME_API_KEY\"), never to the "
                            "secret itself",
                            key, is_header ? "header" : "query parameter");
            c->is_ok = false;
            continue;
        }
        const char *set = getenv(v->s);
        if (!set || !*set) {
            hark_json_warning(c->doc, c->diag, v->offset,
                              "environment variable %s is not set; requests "
                              "will fail until it is",
                              v->s);
        }
        (*out)[*n_out].name = hark_xstrdup(name);
        (*out)[*n_out].env = hark_xstrdup(v->s);
        (*n_out)++;
    }
}

static bool is_platform_name(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-')) {
            return false;
        }
    }
    return true;
}

/* Where the request goes: `url`, or base_url + path. */
static char *request_url(struct ctx *c,
                         const struct hark_source_cfg *cfg,
                         const struct hark_json *obj)
{
    const struct hark_json *url = hark_json_get(obj, "url");
    const struct hark_json *base = hark_json_get(obj, "base_url");
    const struct hark_json *path = hark_json_get(obj, "path");
    const char *b = cfg->base_url ? cfg->base_url : "";
    if (url && base) {
        hark_json_error(c->doc, c->diag, hark_json_key_offset(obj, "url"),
                        "give \"url\" (the whole request URL) or "
                        "\"base_url\" and \"path\", not both");
        c->is_ok = false;
        return NULL;
    }
    if (url && path) {
        hark_json_error(c->doc, c->diag, hark_json_key_offset(obj, "path"),
                        "\"path\" goes with \"base_url\"; with \"url\", put "
                        "the whole request URL there");
        c->is_ok = false;
        return NULL;
    }
    if (strncmp(b, "http://", 7) != 0 && strncmp(b, "https://", 8) != 0) {
        c->is_ok = false; /* the engine reports it */
        return NULL;
    }
    if (path && path->type == HARK_JSON_STRING && path->s[0] != '/') {
        hark_json_error(c->doc, c->diag, path->offset,
                        "\"path\" must start with '/'");
        c->is_ok = false;
        return NULL;
    }
    if (path && path->type != HARK_JSON_STRING) {
        c->is_ok = false;
        return NULL;
    }
    return hark_xasprintf("%s%s", b, path ? path->s : "");
}

static hark_err_t json_init(const struct hark_source_cfg *cfg,
                            const struct hark_json_doc *doc,
                            const struct hark_json *obj,
                            struct hark_diag *diag,
                            void **state)
{
    struct ctx c = {doc, diag, true};
    struct json_src *j = hark_xcalloc(1, sizeof(*j));

    *state = NULL;
    j->url = request_url(&c, cfg, obj);
    const struct hark_json *items = hark_json_get(obj, "items");
    if (!items || items->type != HARK_JSON_STRING) {
        c.is_ok = false; /* reported by the cfgmap check */
    } else if (check_pointer(&c, items, "\"items\"")) {
        j->items = hark_xstrdup(items->s);
    }
    read_fields(&c, hark_json_get(obj, "fields"), j);
    read_cursor(&c, hark_json_get(obj, "cursor"), j);
    read_env_map(&c, hark_json_get(obj, "headers_env"), true, &j->headers,
                 &j->n_headers);
    read_env_map(&c, hark_json_get(obj, "params_env"), false, &j->params,
                 &j->n_params);

    const struct hark_json *order = hark_json_get(obj, "order");
    if (order && order->type == HARK_JSON_STRING) {
        if (strcmp(order->s, "oldest_first") == 0) {
            j->is_oldest_first = true;
        } else if (strcmp(order->s, "newest_first") != 0) {
            hark_json_error(doc, diag, order->offset,
                            "unknown order \"%s\"; expected \"newest_first\" "
                            "or \"oldest_first\"",
                            order->s);
            c.is_ok = false;
        }
    } else if (order) {
        c.is_ok = false;
    }
    if (j->is_oldest_first && !j->since_param &&
        !hark_json_get(hark_json_get(obj, "cursor"), "since_param")) {
        hark_json_error(doc, diag, order->offset,
                        "\"oldest_first\" needs \"cursor\": "
                        "{\"since_param\": ...} (the query parameter that "
                        "asks for items newer than the last one read), so "
                        "a poll can resume where the last one stopped");
        c.is_ok = false;
    }
    const struct hark_json *limit_param = hark_json_get(obj, "limit_param");
    if (check_param(&c, limit_param, "\"limit_param\"") && limit_param) {
        j->limit_param = hark_xstrdup(limit_param->s);
    }
    const struct hark_json *platform = hark_json_get(obj, "platform");
    if (platform && platform->type == HARK_JSON_STRING) {
        if (!is_platform_name(platform->s)) {
            hark_json_error(doc, diag, platform->offset,
                            "\"platform\" \"%s\" may use only a-z, 0-9, '_' "
                            "and '-'",
                            platform->s);
            c.is_ok = false;
        }
    } else if (platform) {
        c.is_ok = false;
    }
    const struct hark_json *max_pages = hark_json_get(obj, "max_pages");
    if (max_pages && max_pages->type != HARK_JSON_INTEGER) {
        c.is_ok = false;
    } else if (max_pages && (max_pages->i < 1 || max_pages->i > 10000)) {
        hark_json_error(doc, diag, max_pages->offset,
                        "\"max_pages\" must be 1 to 10000");
        c.is_ok = false;
    }
    if (!c.is_ok) {
        json_free(j);
        return HARK_EINVAL;
    }
    j->name = hark_xstrdup(cfg->name ? cfg->name : "");
    j->platform = hark_xstrdup(platform ? platform->s : "json");
    j->limit = cfg->page_limit > 0 ? cfg->page_limit : 0;
    j->key = j->fields[F_CREATED_AT] && !j->max_field ? KEY_TIME : KEY_VALUE;
    j->backfill_pages = cfg->backfill_pages > 1 ? cfg->backfill_pages : 1;
    j->max_pages = max_pages ? (int)max_pages->i : JSON_MAX_PAGES;
    *state = j;
    return HARK_OK;
}

/* ---- marks ---- */

struct mark {
    bool is_set;
    int64_t ms;     /* KEY_TIME */
    const char *id; /* the id (KEY_TIME) or value; borrowed */
};

/* false when `cursor` is not a mark of this source's kind. */
static bool mark_parse(const struct json_src *j, const char *cursor,
                       struct mark *m)
{
    memset(m, 0, sizeof(*m));
    if (!cursor) {
        return true;
    }
    if (j->key == KEY_VALUE) {
        if (strncmp(cursor, "id:", 3) != 0 || !cursor[3]) {
            return false;
        }
        m->id = cursor + 3;
        m->is_set = true;
        return true;
    }
    if (strncmp(cursor, "t:", 2) != 0) {
        return false;
    }
    const char *t = cursor + 2;
    const char *sp = strchr(t, '|');
    if (!sp || sp == t || !sp[1] || sp - t >= 40) {
        return false;
    }
    char buf[40];
    memcpy(buf, t, (size_t)(sp - t));
    buf[sp - t] = '\0';
    if (hark_time_parse(buf, &m->ms) != HARK_OK) {
        return false;
    }
    m->id = sp + 1;
    m->is_set = true;
    return true;
}

static bool is_decimal(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

/*
 * Orders two values; *is_ordered false when they have no order. A
 * max_field is ordered by configuration (numbers by value, else shorter
 * first, then bytes: ISO times, fixed-width sequence numbers); ids only
 * when both are decimal (random ids such as UUIDs have no order).
 */
static int value_cmp(const struct json_src *j, const char *a, const char *b,
                     bool *is_ordered)
{
    *is_ordered = j->max_field || (is_decimal(a) && is_decimal(b));
    return *is_ordered ? hark_id_cmp(a, b) : strcmp(a, b);
}

/* An item's place in time: its time and id, or its value. */
struct key {
    bool is_set;
    int64_t ms;
    const char *id; /* borrowed; NULL when the value is `num` */
    char num[24];   /* an integer max_field, in decimal */
};

static const char *key_id(const struct key *k)
{
    return k->id ? k->id : k->num;
}

static bool is_old(const struct json_src *j, const struct mark *m,
                   const struct key *k)
{
    if (!m->is_set || !k->is_set) {
        return false;
    }
    if (j->key == KEY_TIME) {
        return k->ms < m->ms ||
               (k->ms == m->ms && strcmp(key_id(k), m->id) == 0);
    }
    bool is_ordered;
    int c = value_cmp(j, key_id(k), m->id, &is_ordered);
    return is_ordered ? c <= 0 : c == 0;
}

/* Whether `a` is newer than `b` (b unset: yes). */
static bool is_newer(const struct json_src *j, const struct key *a,
                     const struct key *b)
{
    if (!b->is_set) {
        return true;
    }
    if (j->key == KEY_TIME) {
        return a->ms > b->ms;
    }
    bool is_ordered;
    int c = value_cmp(j, key_id(a), key_id(b), &is_ordered);
    return is_ordered && c > 0;
}

/* ---- requests ---- */

static hark_err_t add_param(struct hark_buf *url, bool *has_query,
                            const char *name, const char *value)
{
    hark_err_t err = hark_buf_printf(url, "%c%s=", *has_query ? '&' : '?',
                                     name);
    *has_query = true;
    if (err == HARK_OK) {
        err = hark_url_encode(url, value, strlen(value));
    }
    return err;
}

static hark_err_t json_build_url(void *state,
                                 const char *cursor,
                                 const char *token,
                                 int page_index,
                                 struct hark_buf *url)
{
    struct json_src *j = state;
    free(j->mark);
    j->mark = cursor && *cursor ? hark_xstrdup(cursor) : NULL;
    free(j->token);
    j->token = token && *token ? hark_xstrdup(token) : NULL;
    j->page_index = page_index;

    hark_buf_reset(url);
    bool has_query = strchr(j->url, '?') != NULL;
    hark_err_t err = hark_buf_printf(url, "%s", j->url);
    if (err == HARK_OK && j->limit_param && j->limit > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%d", j->limit);
        err = add_param(url, &has_query, j->limit_param, n);
    }
    struct mark m;
    bool is_same_param = j->cursor_param && j->token && j->since_param &&
                         strcmp(j->cursor_param, j->since_param) == 0;
    if (err == HARK_OK && j->since_param && !is_same_param &&
        mark_parse(j, j->mark, &m) && m.is_set) {
        err = add_param(url, &has_query, j->since_param, m.id);
    }
    if (err == HARK_OK && j->cursor_param && j->token) {
        err = add_param(url, &has_query, j->cursor_param, j->token);
    }
    return err;
}

static hark_err_t json_request_headers(void *state,
                                       struct hark_strv *headers,
                                       char *errbuf,
                                       size_t errbuf_len)
{
    struct json_src *j = state;
    for (size_t i = 0; i < j->n_headers; i++) {
        const char *v = getenv(j->headers[i].env);
        if (!v || !*v) {
            snprintf(errbuf, errbuf_len,
                     "environment variable %s (header %s) is not set",
                     j->headers[i].env, j->headers[i].name);
            return HARK_EINVAL;
        }
        if (strpbrk(v, "\r\n")) {
            snprintf(errbuf, errbuf_len,
                     "environment variable %s (header %s) holds a line "
                     "break; refusing to send it",
                     j->headers[i].env, j->headers[i].name);
            return HARK_EINVAL;
        }
        char *h = hark_xasprintf("%s: %s", j->headers[i].name, v);
        hark_strv_add(headers, h, strlen(h));
        memset(h, 0, strlen(h)); /* a secret: do not leave it in the heap */
        free(h);
    }
    return HARK_OK;
}

/* params_env: "name=value&..." from the environment, URL-encoded. */
static hark_err_t json_request_query(void *state, struct hark_buf *query,
                                     char *errbuf, size_t errbuf_len)
{
    struct json_src *j = state;
    for (size_t i = 0; i < j->n_params; i++) {
        const char *v = getenv(j->params[i].env);
        if (!v || !*v) {
            snprintf(errbuf, errbuf_len,
                     "environment variable %s (query parameter %s) is not "
                     "set",
                     j->params[i].env, j->params[i].name);
            return HARK_EINVAL;
        }
        hark_err_t err = i > 0 ? hark_buf_addc(query, '&') : HARK_OK;
        if (err == HARK_OK) {
            err = hark_url_encode(query, j->params[i].name,
                                  strlen(j->params[i].name));
        }
        if (err == HARK_OK) {
            err = hark_buf_addc(query, '=');
        }
        if (err == HARK_OK) {
            err = hark_url_encode(query, v, strlen(v));
        }
        if (err != HARK_OK) {
            snprintf(errbuf, errbuf_len, "query parameter %s: %s",
                     j->params[i].name, hark_err_str(err));
            return err;
        }
    }
    return HARK_OK;
}

/* ---- items ---- */

/* A string, or an integer written in decimal; else NULL. */
static char *scalar_dup(const struct hark_json *v, unsigned *n_repaired)
{
    if (v && v->type == HARK_JSON_INTEGER) {
        return hark_xasprintf("%lld", (long long)v->i);
    }
    return hark_json_dup_repaired(v, n_repaired);
}

/* A time (RFC 3339 string, or epoch seconds or milliseconds), or -1. */
static bool time_of(const struct hark_json *v, int64_t *ms)
{
    if (!v) {
        return false;
    }
    if (v->type == HARK_JSON_STRING) {
        return hark_time_parse(v->s, ms) == HARK_OK;
    }
    if (v->type & HARK_JSON_NUMBER) {
        double d = v->d;
        if (d < 0 || d > 9e15) {
            return false;
        }
        /* Epoch milliseconds are past 1e11 since 1973. */
        *ms = d > 1e11 ? (int64_t)d : (int64_t)(d * 1000.0);
        return true;
    }
    return false;
}

static const struct hark_json *field(const struct json_src *j,
                                     const struct hark_json *item,
                                     enum field f)
{
    return j->fields[f] ? hark_json_pointer(item, j->fields[f]) : NULL;
}

/*
 * A post from `item`, or NULL with *why. *key is the item's place in
 * time (borrowing from the post or the document). Caller owns the post.
 */
static struct hark_post *item_post(const struct json_src *j,
                                   const struct hark_json *item,
                                   struct key *key,
                                   const char **why)
{
    memset(key, 0, sizeof(*key));
    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    post->id = scalar_dup(field(j, item, F_ID), rep);
    if (!post->id) {
        hark_post_free(post);
        *why = "no id at fields.id";
        return NULL;
    }
    post->platform = hark_xstrdup(j->platform);
    post->source = hark_xstrdup(j->name);
    char *text = hark_json_dup_repaired(field(j, item, F_TEXT), rep);
    if (text) {
        free(post->text);
        post->text = text;
    }
    int64_t ms;
    if (time_of(field(j, item, F_CREATED_AT), &ms)) {
        char t[32];
        hark_time_format(ms, t);
        post->created_at = hark_xstrdup(t);
        if (j->key == KEY_TIME) {
            key->is_set = true;
            key->ms = ms;
            key->id = post->id;
        }
    }
    post->author.id = scalar_dup(field(j, item, F_AUTHOR_ID), rep);
    post->author.handle = hark_json_dup_repaired(field(j, item, F_AUTHOR_HANDLE), rep);
    post->author.display_name = hark_json_dup_repaired(field(j, item, F_AUTHOR_NAME), rep);
    post->url = hark_json_dup_repaired(field(j, item, F_URL), rep);
    post->title = hark_json_dup_repaired(field(j, item, F_TITLE), rep);
    post->lang = hark_json_dup_repaired(field(j, item, F_LANG), rep);
    post->in_reply_to = scalar_dup(field(j, item, F_IN_REPLY_TO), rep);
    post->conversation_id = hark_xstrdup(post->in_reply_to ? post->in_reply_to
                                                           : post->id);
    post->kind = post->in_reply_to ? HARK_KIND_REPLY : HARK_KIND_POST;
    if (j->key == KEY_VALUE) {
        if (j->max_field) {
            /* Borrowed from the document while the page is parsed. */
            const struct hark_json *v = hark_json_pointer(item, j->max_field);
            if (v && v->type == HARK_JSON_STRING && v->s_len > 0) {
                key->is_set = true;
                key->id = v->s;
            } else if (v && v->type == HARK_JSON_INTEGER) {
                key->is_set = true;
                key->id = NULL;
                snprintf(key->num, sizeof(key->num), "%lld",
                         (long long)v->i);
            }
        } else {
            key->is_set = true;
            key->id = post->id;
        }
    }
    return post;
}

/* ---- pages ---- */

/* The first of `names` present as a non-negative number, or -1. */
static int64_t header_num(const struct hark_response *resp,
                          const char *const *names,
                          const char **raw)
{
    for (size_t i = 0; names[i]; i++) {
        const char *v = hark_response_header(resp, names[i]);
        if (!v) {
            continue;
        }
        if (raw) {
            *raw = v;
        }
        return hark_response_count(resp, names[i]);
    }
    return -1;
}

static void read_rate(const struct hark_response *resp, struct hark_rate *rate)
{
    static const char *const limit[] = {
        "x-ratelimit-limit", "x-rate-limit-limit", "ratelimit-limit", NULL};
    static const char *const remaining[] = {"x-ratelimit-remaining",
                                            "x-rate-limit-remaining",
                                            "ratelimit-remaining", NULL};
    static const char *const reset[] = {
        "x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset", NULL};
    rate->limit = header_num(resp, limit, NULL);
    rate->remaining = header_num(resp, remaining, NULL);
    rate->retry_after_ms = -1; /* the engine reads Retry-After */
    rate->reset_at_ms = -1;
    const char *raw = NULL;
    int64_t r = header_num(resp, reset, &raw);
    int64_t ms;
    if (r > 1000000000) { /* epoch seconds (X, Bluesky) */
        rate->reset_at_ms = r * 1000;
    } else if (r >= 0) { /* seconds from now (Reddit, IETF draft) */
        rate->reset_at_ms = hark_now_ms() + r * 1000;
    } else if (raw && hark_time_parse(raw, &ms) == HARK_OK) {
        rate->reset_at_ms = ms; /* an ISO time (Mastodon) */
    }
}

/* The items array; NULL with errbuf set when the page is unusable. */
static const struct hark_json *find_items(const struct json_src *j,
                                          const struct hark_json *root,
                                          bool *is_empty,
                                          char *errbuf,
                                          size_t errbuf_len)
{
    const struct hark_json *items = hark_json_pointer(root, j->items);
    *is_empty = false;
    if (items && items->type == HARK_JSON_ARRAY) {
        return items;
    }
    const struct hark_json *e = hark_json_get(root, "errors");
    if (!e) {
        e = hark_json_get(root, "error");
    }
    if (!items && !e && root->type == HARK_JSON_OBJECT) {
        /* An API with nothing to say leaves the array out (X sends only
         * {"meta": {"result_count": 0}}). */
        *is_empty = true;
        return NULL;
    }
    const char *msg = hark_json_str(e);
    if (!msg && e && e->type == HARK_JSON_ARRAY && e->n > 0) {
        msg = hark_json_str(hark_json_get(e->items[0], "message"));
    }
    if (!msg && e) {
        msg = hark_json_str(hark_json_get(e, "message"));
    }
    hark_errbuf_printf(errbuf, errbuf_len, "expected an array at \"%s\", got %s%s%.200s%s",
            j->items, items ? hark_json_type_name(items->type) : "nothing",
            e ? " (error: \"" : "", msg ? msg : "", e ? "\")" : "");
    return NULL;
}

/* A key as a mark string. */
static char *mark_format(const struct json_src *j, const struct key *k)
{
    if (j->key == KEY_TIME) {
        char t[32];
        hark_time_format(k->ms, t);
        return hark_xasprintf("t:%s|%s", t, key_id(k));
    }
    return hark_xasprintf("id:%s", key_id(k));
}

/* The next page's token from the response, or NULL (caller frees). */
static char *next_token(const struct json_src *j,
                        const struct hark_json *root)
{
    if (!j->cursor_from) {
        return NULL;
    }
    char *t = scalar_dup(hark_json_pointer(root, j->cursor_from), NULL);
    if (t && j->token && strcmp(t, j->token) == 0) {
        free(t); /* the same page again: the walk would never end */
        return NULL;
    }
    return t;
}

static hark_err_t json_parse(void *state,
                             const struct hark_response *resp,
                             struct hark_page *page,
                             char *errbuf,
                             size_t errbuf_len)
{
    struct json_src *j = state;
    struct hark_json_doc *doc = NULL;

    memset(page, 0, sizeof(*page));
    read_rate(resp, &page->rate);
    page->is_forward = j->is_oldest_first;
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");
    if (hark_response_json(resp, "JSON", &doc, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    bool is_empty;
    const struct hark_json *items =
        find_items(j, doc->root, &is_empty, errbuf, errbuf_len);
    if (!items && !is_empty) {
        hark_json_doc_free(doc);
        return HARK_EINVAL;
    }
    size_t n_items = items ? items->n : 0;

    struct mark m;
    bool is_mark_ok = mark_parse(j, j->mark, &m);
    struct key newest;
    memset(&newest, 0, sizeof(newest));
    bool has_old = false;
    size_t n_skipped = 0, first_skipped = 0;
    const char *why = NULL;
    page->posts = hark_xcalloc(n_items ? n_items : 1,
                               sizeof(struct hark_post *));
    for (size_t i = 0; i < n_items; i++) {
        struct key k;
        const char *w = NULL;
        struct hark_post *post = item_post(j, items->items[i], &k, &w);
        if (!post) {
            if (n_skipped++ == 0) {
                first_skipped = i;
                why = w;
            }
            continue;
        }
        if (is_old(j, &m, &k)) {
            has_old = true;
            hark_post_free(post);
            continue;
        }
        if (k.is_set && is_newer(j, &k, &newest)) {
            newest = k; /* its id borrows from the post or the document */
        }
        page->posts[page->n_posts++] = post;
    }
    if (newest.is_set) {
        page->cursor = mark_format(j, &newest);
    }
    if (!j->is_oldest_first) {
        /* Oldest first, as they happened. */
        for (size_t a = 0, b = page->n_posts; a + 1 < b; a++, b--) {
            struct hark_post *t = page->posts[a];
            page->posts[a] = page->posts[b - 1];
            page->posts[b - 1] = t;
        }
    }

    char *next = n_items > 0 && !(has_old && !j->is_oldest_first)
                     ? next_token(j, doc->root)
                     : NULL;
    int max = j->is_oldest_first || m.is_set ? j->max_pages
                                             : j->backfill_pages;
    if (next && j->page_index + 1 < max) {
        page->next_token = next;
        next = NULL;
    } else if (next && m.is_set && !j->is_oldest_first) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "stopped after %d pages (max_pages) without reaching the "
                "committed mark \"%.100s\": items between it and the oldest "
                "one read were skipped",
                j->max_pages, j->mark);
    }
    free(next);
    if (!is_mark_ok) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "cursor \"%.80s\" is not a mark of this source (\"%s\"); "
                "read as a first run",
                j->mark, j->key == KEY_TIME ? "t:<time>|<id>" : "id:<value>");
    } else if (n_skipped > 0) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "skipped %zu of %zu items (first: item %zu, %s)", n_skipped,
                n_items, first_skipped, why);
    }
    hark_json_doc_free(doc);
    return HARK_OK;
}

const struct hark_source_ops hark_src_json = {
    .type = "json",
    .cfgmap = json_cfgmap,
    .init = json_init,
    .build_url = json_build_url,
    .parse = json_parse,
    .free_state = json_free,
    .request_headers = json_request_headers,
    .request_query = json_request_query,
};
