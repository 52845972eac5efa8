/*
 * The config file: validation with positions, defaults, and the parts
 * each stage reads. Stage-specific objects are checked by the stage's own
 * config map (an adapter's cfgmap, a sink's open(), hark_score_cfg_parse).
 */
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "hark/sink.h"

#ifndef HARK_DATA_DIR
#    define HARK_DATA_DIR "."
#endif

static const struct hark_cfgmap top_map[] = {
    {"sources", HARK_JSON_ARRAY, false, NULL},
    {"rules", HARK_JSON_ARRAY | HARK_JSON_STRING, false, NULL},
    {"customers", HARK_JSON_OBJECT | HARK_JSON_STRING, false, NULL},
    {"brand_accounts", HARK_JSON_ARRAY, false, NULL},
    {"sinks", HARK_JSON_OBJECT, false, NULL},
    {"state_dir", HARK_JSON_STRING, false, NULL},
    {"lexicons", HARK_JSON_STRING, false, NULL},
    {"priority", HARK_JSON_OBJECT, false, NULL},
    {"relationship", HARK_JSON_OBJECT, false, NULL},
    {"conversations", HARK_JSON_OBJECT, false, NULL},
    {"keep_unmatched", HARK_JSON_BOOL, false, NULL},
    {"workers", HARK_JSON_INTEGER, false, NULL},
    {"watch_s", HARK_JSON_INTEGER, false, NULL},
    {"topics", HARK_JSON_OBJECT, false, NULL},
    {"limits", HARK_JSON_OBJECT, false, NULL},
    {"trends", HARK_JSON_OBJECT, false,
     "trend windows are not built yet; remove \"trends\""},
    {"admin", HARK_JSON_OBJECT, false,
     "the admin endpoint is not built yet; remove \"admin\""},
    {NULL, 0, false, NULL}};

static const struct hark_cfgmap customers_map[] = {
    {"path", HARK_JSON_STRING, true, NULL},
    {"on_bad_row", HARK_JSON_STRING, false, NULL},
    {"export", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL}};

static const struct hark_cfgmap topics_map[] = {
    {"posts", HARK_JSON_STRING, false, NULL},
    {"engagement", HARK_JSON_STRING, false, NULL},
    {"dlq", HARK_JSON_STRING, false, NULL},
    {"signals", HARK_JSON_STRING, false, NULL},
    {"trends", HARK_JSON_STRING, false, "trends are not built yet"},
    {NULL, 0, false, NULL}};

static const struct hark_cfgmap limits_map[] = {
    {"max_in_flight", HARK_JSON_INTEGER, false, NULL},
    {"max_body_bytes", HARK_JSON_INTEGER, false, NULL},
    {"dedup_window", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL}};

/* Keys every source has; the adapter's cfgmap adds its own. */
static const struct hark_cfgmap source_common[] = {
    {"name", HARK_JSON_STRING, true, NULL},
    {"type", HARK_JSON_STRING, true, NULL},
    {"base_url", HARK_JSON_STRING, false, NULL},
    {"url", HARK_JSON_STRING, false, NULL},
    {"interval_s", HARK_JSON_NUMBER, false, NULL},
    {"backfill_pages", HARK_JSON_INTEGER, false, NULL},
    {"page_limit", HARK_JSON_INTEGER, false, NULL},
    {"token_env", HARK_JSON_STRING, false, NULL},
    {"user_agent", HARK_JSON_STRING, false, NULL},
    {"client_id_env", HARK_JSON_STRING, false, NULL},
    {"client_secret_env", HARK_JSON_STRING, false, NULL},
    {NULL, 0, false, NULL}};

const char *hark_app_default_lexicons(void)
{
    const char *env = getenv("HARK_LEXICON_DIR");
    return env && *env ? env : HARK_DATA_DIR "/rules/lexicons";
}

static void config_init(struct hark_app_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    hark_score_cfg_init(&cfg->score);
    hark_relation_cfg_init(&cfg->relation);
    hark_conv_cfg_init(&cfg->conversations);
    cfg->workers = 2;
    cfg->topic_posts = hark_xstrdup("posts");
    cfg->topic_engagement = hark_xstrdup("engagement");
    cfg->topic_dlq = hark_xstrdup("dlq");
    cfg->topic_signals = hark_xstrdup("signals");
    cfg->max_in_flight = 10000;
    cfg->max_body_bytes = 16u << 20;
    cfg->dedup_window = 8192;
    cfg->on_bad_row = HARK_BAD_ROW_REJECT;
}

struct hark_app_config *hark_app_config_defaults(void)
{
    struct hark_app_config *cfg = hark_xmalloc(sizeof(*cfg));
    config_init(cfg);
    cfg->lexicon_dir = hark_xstrdup(hark_app_default_lexicons());
    cfg->state_dir = hark_xstrdup("state");
    return cfg;
}

void hark_app_config_free(struct hark_app_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < cfg->n_sources; i++) {
        struct hark_app_source *s = &cfg->sources[i];
        if (s->ops && s->state) {
            s->ops->free_state(s->state);
        }
        free(s->cfg.name);
        free(s->cfg.type);
        free(s->cfg.base_url);
        free(s->cfg.token_env);
        free(s->cfg.user_agent);
        free(s->cfg.client_id_env);
        free(s->cfg.client_secret_env);
        free(s->host);
    }
    free(cfg->sources);
    for (size_t i = 0; i < cfg->n_rule_paths; i++) {
        free(cfg->rule_paths[i]);
    }
    free(cfg->rule_paths);
    free(cfg->customers_path);
    hark_strv_cleanup(&cfg->brand_accounts);
    free(cfg->state_dir);
    free(cfg->lexicon_dir);
    hark_score_cfg_cleanup(&cfg->score);
    hark_relation_cfg_cleanup(&cfg->relation);
    hark_conv_cfg_cleanup(&cfg->conversations);
    free(cfg->topic_posts);
    free(cfg->topic_engagement);
    free(cfg->topic_dlq);
    free(cfg->topic_signals);
    hark_json_doc_free(cfg->doc);
    free(cfg->path);
    free(cfg);
}

/* "http://host:port/x" -> "host" (for completing Mastodon handles). */
static char *url_host(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, ":/?#");
    return hark_xstrndup(p, n);
}

static bool name_ok(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

static hark_err_t parse_source(struct hark_app_config *cfg,
                               const struct hark_json *obj,
                               struct hark_diag *diag)
{
    const struct hark_json_doc *doc = cfg->doc;
    if (obj->type != HARK_JSON_OBJECT) {
        hark_json_error(doc, diag, obj->offset,
                        "a source must be an object, not %s",
                        hark_json_type_name(obj->type));
        return HARK_EINVAL;
    }
    const char *type = hark_json_str(hark_json_get(obj, "type"));
    const char *name = hark_json_str(hark_json_get(obj, "name"));
    const struct hark_source_ops *ops = type ? hark_source_ops_find(type) : NULL;
    char what[160];
    snprintf(what, sizeof(what), "source '%s'", name ? name : "?");
    if (type && !ops) {
        hark_json_error(doc, diag, hark_json_get(obj, "type")->offset,
                        "unknown source type \"%s\"; expected one of %s", type,
                        hark_source_types());
        return HARK_EINVAL;
    }
    /* The merged map: common keys, then the adapter's. */
    struct hark_cfgmap map[64];
    size_t n = 0;
    for (const struct hark_cfgmap *r = source_common; r->key; r++) {
        map[n++] = *r;
    }
    if (ops && ops->cfgmap) {
        for (const struct hark_cfgmap *r = ops->cfgmap; r->key && n < 63;
             r++) {
            map[n++] = *r;
        }
    }
    map[n].key = NULL;
    hark_err_t err = hark_cfgmap_check(doc, obj, map, what, diag);
    if (!type || !name) {
        return HARK_EINVAL;
    }
    if (!name_ok(name)) {
        hark_json_error(doc, diag, hark_json_get(obj, "name")->offset,
                        "source name \"%s\" may use only letters, digits, "
                        "'-', '_' and '.' (it names the cursor file)",
                        name);
        err = HARK_EINVAL;
    }
    for (size_t i = 0; i < cfg->n_sources; i++) {
        if (strcmp(cfg->sources[i].cfg.name, name) == 0) {
            hark_json_error(doc, diag, hark_json_get(obj, "name")->offset,
                            "duplicate source name \"%s\"", name);
            err = HARK_EINVAL;
        }
    }
    const char *base = hark_json_str(hark_json_get(obj, "base_url"));
    if (!base) {
        base = hark_json_str(hark_json_get(obj, "url"));
    }
    if (!base) {
        hark_json_error(doc, diag, obj->offset,
                        "%s needs \"base_url\" (or \"url\")", what);
        err = HARK_EINVAL;
    } else if (strncmp(base, "http://", 7) != 0 &&
               strncmp(base, "https://", 8) != 0) {
        hark_json_error(doc, diag, hark_json_key_offset(obj, "base_url"),
                        "%s: base_url must start with http:// or https://",
                        what);
        err = HARK_EINVAL;
    }
    double interval = hark_json_num(hark_json_get(obj, "interval_s"), 60);
    if (interval < 1) {
        hark_json_error(doc, diag, hark_json_get(obj, "interval_s")->offset,
                        "%s: interval_s must be at least 1", what);
        err = HARK_EINVAL;
    }
    const struct hark_json *cid = hark_json_get(obj, "client_id_env");
    if (ops && (cid || hark_json_get(obj, "client_secret_env"))) {
        if (!ops->token_request) {
            hark_json_error(doc, diag,
                            hark_json_key_offset(obj, cid ? "client_id_env"
                                                          : "client_secret_env"),
                            "%s: type \"%s\" does not fetch its own tokens; "
                            "give a bearer token with token_env", what, type);
            err = HARK_EINVAL;
        } else if (!cid || !hark_json_get(obj, "client_secret_env")) {
            hark_json_error(doc, diag, obj->offset,
                            "%s: client_id_env and client_secret_env go "
                            "together", what);
            err = HARK_EINVAL;
        }
    }
    if (err != HARK_OK) {
        /* Still let the adapter report its own keys' problems. */
        struct hark_source_cfg tmp = {0};
        void *state = NULL;
        tmp.name = hark_xstrdup(name);
        tmp.type = hark_xstrdup(type);
        tmp.base_url = hark_xstrdup(base ? base : "");
        if (ops->init(&tmp, doc, obj, diag, &state) == HARK_OK) {
            ops->free_state(state);
        }
        free(tmp.name);
        free(tmp.type);
        free(tmp.base_url);
        return err;
    }
    cfg->sources = hark_xrealloc(cfg->sources, (cfg->n_sources + 1) *
                                                   sizeof(*cfg->sources));
    struct hark_app_source *s = &cfg->sources[cfg->n_sources++];
    memset(s, 0, sizeof(*s));
    s->cfg.name = hark_xstrdup(name);
    s->cfg.type = hark_xstrdup(type);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') {
        blen--;
    }
    s->cfg.base_url = hark_xstrndup(base, blen);
    s->cfg.interval_s = (int)interval;
    s->cfg.backfill_pages =
        (int)hark_json_int(hark_json_get(obj, "backfill_pages"), 1);
    s->cfg.page_limit = (int)hark_json_int(hark_json_get(obj, "page_limit"), 0);
    s->cfg.token_env =
        hark_xstrdup(hark_json_str(hark_json_get(obj, "token_env")));
    s->cfg.user_agent =
        hark_xstrdup(hark_json_str(hark_json_get(obj, "user_agent")));
    s->cfg.client_id_env =
        hark_xstrdup(hark_json_str(hark_json_get(obj, "client_id_env")));
    s->cfg.client_secret_env =
        hark_xstrdup(hark_json_str(hark_json_get(obj, "client_secret_env")));
    s->host = url_host(s->cfg.base_url);
    s->ops = ops;
    return ops->init(&s->cfg, doc, obj, diag, &s->state);
}

static char *resolve(const struct hark_app_config *cfg, const char *rel)
{
    return hark_path_resolve(cfg->path, rel);
}

static hark_err_t parse_rules(struct hark_app_config *cfg,
                              const struct hark_json *v, struct hark_diag *diag)
{
    if (v->type == HARK_JSON_STRING) {
        cfg->rule_paths = hark_xmalloc(sizeof(char *));
        cfg->rule_paths[0] = resolve(cfg, v->s);
        cfg->n_rule_paths = 1;
        return HARK_OK;
    }
    hark_err_t err = HARK_OK;
    cfg->rule_paths = hark_xcalloc(v->n ? v->n : 1, sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        const char *p = hark_json_str(v->items[i]);
        if (!p) {
            hark_json_error(cfg->doc, diag, v->items[i]->offset,
                            "\"rules\" lists file paths (strings)");
            err = HARK_EINVAL;
            continue;
        }
        cfg->rule_paths[cfg->n_rule_paths++] = resolve(cfg, p);
    }
    return err;
}

static hark_err_t parse_customers(struct hark_app_config *cfg,
                                  const struct hark_json *v,
                                  struct hark_diag *diag)
{
    if (v->type == HARK_JSON_STRING) {
        cfg->customers_path = resolve(cfg, v->s);
        return HARK_OK;
    }
    hark_err_t err = hark_cfgmap_check(cfg->doc, v, customers_map,
                                       "\"customers\"", diag);
    const char *path = hark_json_str(hark_json_get(v, "path"));
    if (path) {
        cfg->customers_path = resolve(cfg, path);
    }
    const struct hark_json *bad = hark_json_get(v, "on_bad_row");
    if (bad && bad->type == HARK_JSON_STRING) {
        if (strcmp(bad->s, "reject") == 0) {
            cfg->on_bad_row = HARK_BAD_ROW_REJECT;
        } else if (strcmp(bad->s, "skip") == 0) {
            cfg->on_bad_row = HARK_BAD_ROW_SKIP;
        } else {
            hark_json_error(cfg->doc, diag, bad->offset,
                            "unknown on_bad_row \"%s\"; expected \"reject\" "
                            "or \"skip\"", bad->s);
            err = HARK_EINVAL;
        }
    }
    const struct hark_json *exp = hark_json_get(v, "export");
    if (exp && exp->type == HARK_JSON_ARRAY &&
        hark_score_export_parse(cfg->doc, exp, diag,
                                &cfg->score.export_mask) != HARK_OK) {
        err = HARK_EINVAL;
    }
    return err;
}

static void set_str(char **dst, const struct hark_json *v)
{
    if (v && v->type == HARK_JSON_STRING) {
        free(*dst);
        *dst = hark_xstrdup(v->s);
    }
}

static hark_err_t parse_sinks(struct hark_app_config *cfg,
                              const struct hark_json *v, struct hark_diag *diag)
{
    hark_err_t err = HARK_OK;
    for (size_t i = 0; i < v->n; i++) {
        if (!hark_sink_ops_find(v->keys[i])) {
            hark_json_error(cfg->doc, diag, v->key_offsets[i],
                            "unknown sink \"%s\"; expected one of %s",
                            v->keys[i], hark_sink_names());
            err = HARK_EINVAL;
        } else {
            /* Keys only: opening (a producer, the environment) is run's. */
            char what[64];
            snprintf(what, sizeof(what), "sink '%s'", v->keys[i]);
            const struct hark_sink_ops *ops = hark_sink_ops_find(v->keys[i]);
            if (ops->cfgmap && hark_cfgmap_check(cfg->doc, v->items[i],
                                                 ops->cfgmap, what,
                                                 diag) != HARK_OK) {
                err = HARK_EINVAL;
            }
        }
    }
    cfg->sinks = v;
    return err;
}

static hark_err_t parse_limits(struct hark_app_config *cfg,
                               const struct hark_json *v,
                               struct hark_diag *diag)
{
    hark_err_t err =
        hark_cfgmap_check(cfg->doc, v, limits_map, "\"limits\"", diag);
    const char *keys[] = {"max_in_flight", "max_body_bytes", "dedup_window"};
    size_t *dst[] = {&cfg->max_in_flight, &cfg->max_body_bytes,
                     &cfg->dedup_window};
    for (size_t i = 0; i < 3; i++) {
        const struct hark_json *n = hark_json_get(v, keys[i]);
        if (!n || n->type != HARK_JSON_INTEGER) {
            continue;
        }
        if (n->i < 1) {
            hark_json_error(cfg->doc, diag, n->offset,
                            "\"%s\" must be at least 1", keys[i]);
            err = HARK_EINVAL;
            continue;
        }
        *dst[i] = (size_t)n->i;
    }
    return err;
}

static hark_err_t parse_top(struct hark_app_config *cfg,
                            struct hark_diag *diag)
{
    const struct hark_json *root = cfg->doc->root;
    hark_err_t err =
        hark_cfgmap_check(cfg->doc, root, top_map, "the config", diag);
    if (root->type != HARK_JSON_OBJECT) {
        return HARK_EINVAL;
    }
    const struct hark_json *v = hark_json_get(root, "sources");
    for (size_t i = 0; v && v->type == HARK_JSON_ARRAY && i < v->n; i++) {
        if (parse_source(cfg, v->items[i], diag) != HARK_OK) {
            err = HARK_EINVAL;
        }
    }
    v = hark_json_get(root, "rules");
    if (v && (v->type & (HARK_JSON_ARRAY | HARK_JSON_STRING)) &&
        parse_rules(cfg, v, diag) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(root, "customers");
    if (v && (v->type & (HARK_JSON_OBJECT | HARK_JSON_STRING)) &&
        parse_customers(cfg, v, diag) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(root, "brand_accounts");
    for (size_t i = 0; v && v->type == HARK_JSON_ARRAY && i < v->n; i++) {
        const char *s = hark_json_str(v->items[i]);
        if (!s || !strchr(s, ':')) {
            hark_json_error(cfg->doc, diag, v->items[i]->offset,
                            "a brand account is \"platform:handle\", e.g. "
                            "\"mastodon:acme@mastodon.social\"");
            err = HARK_EINVAL;
            continue;
        }
        hark_strv_add(&cfg->brand_accounts, s, strlen(s));
    }
    v = hark_json_get(root, "sinks");
    if (v && v->type == HARK_JSON_OBJECT && parse_sinks(cfg, v, diag) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(root, "state_dir");
    cfg->state_dir = resolve(cfg, v && v->type == HARK_JSON_STRING ? v->s
                                                                    : "state");
    v = hark_json_get(root, "lexicons");
    cfg->lexicon_dir = v && v->type == HARK_JSON_STRING
                           ? resolve(cfg, v->s)
                           : hark_xstrdup(hark_app_default_lexicons());
    v = hark_json_get(root, "priority");
    if (v && v->type == HARK_JSON_OBJECT &&
        hark_score_cfg_parse(cfg->doc, v, diag, &cfg->score) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(root, "relationship");
    if (v && v->type == HARK_JSON_OBJECT &&
        hark_relation_cfg_parse(cfg->doc, v, diag, &cfg->relation) !=
            HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(root, "conversations");
    if (v && v->type == HARK_JSON_OBJECT &&
        hark_conv_cfg_parse(cfg->doc, v, diag, &cfg->conversations) !=
            HARK_OK) {
        err = HARK_EINVAL;
    }
    cfg->keep_unmatched =
        hark_json_bool(hark_json_get(root, "keep_unmatched"), false);
    v = hark_json_get(root, "workers");
    if (v && v->type == HARK_JSON_INTEGER) {
        if (v->i < 1 || v->i > 64) {
            hark_json_error(cfg->doc, diag, v->offset,
                            "\"workers\" must be between 1 and 64");
            err = HARK_EINVAL;
        } else {
            cfg->workers = (int)v->i;
        }
    }
    v = hark_json_get(root, "watch_s");
    if (v && v->type == HARK_JSON_INTEGER) {
        if (v->i < 0 || v->i > 86400) {
            hark_json_error(cfg->doc, diag, v->offset,
                            "\"watch_s\" must be between 0 (off) and 86400");
            err = HARK_EINVAL;
        } else {
            cfg->watch_s = (int)v->i;
        }
    }
    v = hark_json_get(root, "topics");
    if (v && v->type == HARK_JSON_OBJECT) {
        if (hark_cfgmap_check(cfg->doc, v, topics_map, "\"topics\"", diag) !=
            HARK_OK) {
            err = HARK_EINVAL;
        }
        set_str(&cfg->topic_posts, hark_json_get(v, "posts"));
        set_str(&cfg->topic_engagement, hark_json_get(v, "engagement"));
        set_str(&cfg->topic_dlq, hark_json_get(v, "dlq"));
        set_str(&cfg->topic_signals, hark_json_get(v, "signals"));
    }
    v = hark_json_get(root, "limits");
    if (v && v->type == HARK_JSON_OBJECT &&
        parse_limits(cfg, v, diag) != HARK_OK) {
        err = HARK_EINVAL;
    }
    return err;
}

/*
 * The platforms' published request budgets (their API documentation, see
 * tests/data/SOURCES.md): requests per window, per credential (or per IP
 * without one). Used only to warn; the engine follows the live headers.
 */
static const struct {
    const char *type;
    double requests;
    double window_s;
    const char *what;
} budgets[] = {
    {"mastodon", 300, 300, "300 requests per 5 minutes"},
    {"reddit", 100, 60, "100 requests per minute (OAuth)"},
    {"bluesky", 3000, 300, "3000 requests per 5 minutes"},
    {"hackernews", 10000, 3600, "10000 requests per hour"},
};

/* Warns when the sources sharing one host and credential would poll faster
 * than the platform's published budget, counting one request per poll
 * (catch-up walks need more). */
static void check_budgets(const struct hark_app_config *cfg,
                          struct hark_diag *diag)
{
    const struct hark_json *arr = hark_json_get(cfg->doc->root, "sources");
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct hark_app_source *a = &cfg->sources[i];
        bool is_first = true;
        double per_s = 0;
        for (size_t j = 0; j < cfg->n_sources; j++) {
            const struct hark_app_source *b = &cfg->sources[j];
            bool same = strcmp(a->cfg.type, b->cfg.type) == 0 &&
                        strcmp(a->host, b->host) == 0 &&
                        strcmp(a->cfg.token_env ? a->cfg.token_env : "",
                               b->cfg.token_env ? b->cfg.token_env : "") == 0;
            if (!same) {
                continue;
            }
            if (j < i) {
                is_first = false;
            }
            per_s += 1.0 / (b->cfg.interval_s > 0 ? b->cfg.interval_s : 1);
        }
        for (size_t k = 0; is_first && k < sizeof(budgets) / sizeof(budgets[0]);
             k++) {
            if (strcmp(budgets[k].type, a->cfg.type) != 0) {
                continue;
            }
            double allowed = budgets[k].requests / budgets[k].window_s;
            if (per_s > allowed) {
                const struct hark_json *obj =
                    arr && i < arr->n ? arr->items[i] : NULL;
                hark_json_warning(cfg->doc, diag,
                                  obj ? hark_json_key_offset(obj, "interval_s")
                                      : 0,
                                  "the %s sources on %s would make %.2f "
                                  "requests/s, over %s's published budget of "
                                  "%s (%.2f/s); hark will slow down to the "
                                  "rate-limit headers",
                                  a->cfg.type, a->host, per_s, a->cfg.type,
                                  budgets[k].what, allowed);
            }
        }
    }
}

hark_err_t hark_app_config_load(const char *path, struct hark_diag *diag,
                                struct hark_app_config **out)
{
    *out = NULL;
    struct hark_app_config *cfg = hark_xmalloc(sizeof(*cfg));
    config_init(cfg);
    cfg->path = hark_xstrdup(path);
    hark_err_t err = hark_json_load_file(path, diag, &cfg->doc);
    if (err == HARK_OK) {
        err = parse_top(cfg, diag);
    }
    if (err == HARK_OK && !hark_diag_has_errors(diag)) {
        check_budgets(cfg, diag);
    }
    if (err != HARK_OK || hark_diag_has_errors(diag)) {
        hark_app_config_free(cfg);
        return err != HARK_OK ? err : HARK_EINVAL;
    }
    *out = cfg;
    return HARK_OK;
}
