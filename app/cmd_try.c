/*
 * `hark try`: what the rules, the sentiment scorer, the customer join and
 * the priority make of a post, without running anything else.
 *
 *   hark try [-c hark.json] [-r RULES ...] [-k customers.csv]
 *            [--text "..."] [--json]
 *
 * Posts come from --text or as NDJSON on stdin (the normalized form).
 * --json prints one object per input post, in input order, with no clock
 * in it, so output can be piped and diffed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "app_int.h"
#include "hark/event.h"

struct try_opts {
    const char *config;
    const char *rules[64];
    size_t n_rules;
    const char *customers;
    const char *text;
    bool is_json;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: hark try [-c hark.json] [-r RULES [-r MORE...]] "
            "[-k customers.csv] [--text \"...\"] [--json]\n"
            "  posts are read as NDJSON from stdin unless --text is given\n");
}

static int parse_args(int argc, char **argv, struct try_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has_val) {
            o->config = argv[++i];
        } else if ((strcmp(a, "-r") == 0 || strcmp(a, "--rules") == 0) &&
                   has_val) {
            if (o->n_rules == 64) {
                fprintf(stderr, "hark try: at most 64 -r files\n");
                return 2;
            }
            o->rules[o->n_rules++] = argv[++i];
        } else if ((strcmp(a, "-k") == 0 || strcmp(a, "--customers") == 0) &&
                   has_val) {
            o->customers = argv[++i];
        } else if (strcmp(a, "--text") == 0 && has_val) {
            o->text = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            o->is_json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "hark try: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o->config && o->n_rules == 0) {
        fprintf(stderr, "hark try: give rules with -r FILE or a config "
                        "with -c FILE\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

static struct hark_snapshot *load(const struct try_opts *o)
{
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_app_config *cfg = NULL;
    if (o->config) {
        if (hark_app_config_load(o->config, &diag, &cfg) != HARK_OK) {
            hark_diag_print(&diag, stderr);
            hark_diag_cleanup(&diag);
            return NULL;
        }
    } else {
        cfg = hark_app_config_defaults();
    }
    if (o->n_rules) {
        for (size_t i = 0; i < cfg->n_rule_paths; i++) {
            free(cfg->rule_paths[i]);
        }
        free(cfg->rule_paths);
        cfg->rule_paths = hark_xcalloc(o->n_rules, sizeof(char *));
        for (size_t i = 0; i < o->n_rules; i++) {
            cfg->rule_paths[i] = hark_xstrdup(o->rules[i]);
        }
        cfg->n_rule_paths = o->n_rules;
    }
    if (o->customers) {
        free(cfg->customers_path);
        cfg->customers_path = hark_xstrdup(o->customers);
    }
    struct hark_snapshot *snap = NULL;
    if (hark_snapshot_build(cfg, &diag, &snap) != HARK_OK) {
        hark_diag_print(&diag, stderr);
        hark_diag_cleanup(&diag);
        return NULL;
    }
    hark_diag_print(&diag, stderr); /* lints */
    hark_diag_cleanup(&diag);
    return snap;
}

/* `out` is the caller's scratch buffer, reused from post to post. */
static void print_json(const struct hark_item *item, struct hark_buf *out)
{
    struct hark_jw jw;
    hark_buf_reset(out);
    hark_jw_init(&jw, out);
    hark_jw_map_open(&jw);
    hark_jw_kv_str(&jw, "rules_version", item->rules_version);
    hark_event_gen_parts(&jw, item);
    hark_jw_map_close(&jw);
    (void)hark_buf_addc(out, '\n');
    fwrite(out->ptr, 1, out->len, stdout);
}

static void print_span_text(const struct hark_post *post,
                            const struct hark_span *sp)
{
    const char *f = hark_post_field(post, sp->field);
    size_t flen = f ? strlen(f) : 0;
    if (!f || sp->end > flen || sp->start > sp->end) {
        return;
    }
    printf(" \"%.*s\"", (int)(sp->end - sp->start), f + sp->start);
}

static void print_human(const struct hark_item *item, size_t n)
{
    const struct hark_post *post = item->post;
    printf("post %zu", n);
    if (post->id) {
        printf(" %s", post->id);
    }
    if (post->platform) {
        printf(" (%s", post->platform);
        if (post->author.handle) {
            printf(", @%s", post->author.handle);
        }
        printf(")");
    }
    printf("\n  text       %s\n", post->text);
    if (item->n_matches == 0) {
        printf("  matches    none\n");
    }
    for (size_t i = 0; i < item->n_matches; i++) {
        const struct hark_match *m = &item->matches[i];
        printf("  %s %s", i == 0 ? "matches   " : "          ", m->rule);
        if (m->tags.n) {
            printf(" [");
            for (size_t t = 0; t < m->tags.n; t++) {
                printf("%s%s", t ? ", " : "", m->tags.v[t]);
            }
            printf("]");
        }
        for (size_t s = 0; s < m->n_spans; s++) {
            printf("  %s[%u,%u)", hark_field_name(m->spans[s].field),
                   m->spans[s].start, m->spans[s].end);
            print_span_text(post, &m->spans[s]);
        }
        printf("\n");
    }
    if (item->author_tags.n) {
        printf("  author     ");
        for (size_t t = 0; t < item->author_tags.n; t++) {
            printf("%s%s", t ? ", " : "", item->author_tags.v[t]);
        }
        printf("\n");
    }
    printf("  action     %s", hark_action_name(item->action));
    if (item->route_queue) {
        printf(" -> queue %s", item->route_queue);
    }
    printf("\n  sentiment  %s %.3f",
           hark_sentiment_label_name(item->sentiment.label),
           item->sentiment.score);
    for (size_t i = 0; i < item->sentiment.n_terms; i++) {
        printf("%s%s %+.2f", i ? ", " : " (",
               item->sentiment.terms[i].term, item->sentiment.terms[i].valence);
    }
    printf("%s\n", item->sentiment.n_terms ? ")" : "");
    if (item->has_customer) {
        printf("  customer   %s", item->customer.id ? item->customer.id : "?");
        if (item->customer.name) {
            printf(" %s", item->customer.name);
        }
        if (item->customer.tier) {
            printf(", tier %s", item->customer.tier);
        }
        printf(" (match on %s)\n",
               item->customer.is_handle_match ? "handle" : "id");
    } else {
        printf("  customer   none (not a known customer)\n");
    }
    printf("  value      monetary %.0f + relational %.0f = %.0f\n",
           item->relationship.monetary, item->relationship.relational,
           item->relationship.total);
    printf("  priority   %s %.0f%s", item->priority.level,
           item->priority.score, item->priority.is_clamped ? " (clamped)" : "");
    for (size_t i = 0; i < item->priority.n_reasons; i++) {
        const struct hark_reason *r = &item->priority.reasons[i];
        printf("%s%s %+.1f", i ? ", " : " = ", r->factor, r->points);
        if (r->detail) {
            printf(" (%s)", r->detail);
        }
    }
    printf("\n\n");
}

static void try_one(const struct hark_snapshot *snap,
                    struct hark_rules_scratch *scratch, struct hark_post *post,
                    const struct try_opts *o, size_t n,
                    struct hark_buf *out)
{
    struct hark_item *item = hark_item_new(post);
    hark_app_analyze(snap, scratch, item, true);
    int64_t since = 0;
    if (!post->created_at ||
        hark_time_parse(post->created_at, &since) != HARK_OK) {
        since = 0; /* no clock in the output: SLAs then count from 0 */
    }
    hark_app_enrich(snap, item, since);
    if (o->is_json) {
        print_json(item, out);
    } else {
        print_human(item, n);
    }
    hark_item_free(item);
}

/* One JSON line -> a post; errors name the input line. */
static struct hark_post *post_from_line(const char *line, size_t len,
                                        size_t lineno)
{
    struct hark_json_opts opts = {.validate_utf8 = false, .max_depth = 64};
    struct hark_json_doc *doc = NULL;
    char err[256];
    size_t off = 0;
    if (hark_json_parse(line, len, "<stdin>", &opts, &doc, err, sizeof(err),
                        &off) != HARK_OK) {
        int l, c;
        hark_diag_position(line, len, off, &l, &c);
        fprintf(stderr, "<stdin>:%zu:%d: error: invalid JSON: %s\n", lineno, c,
                err);
        return NULL;
    }
    struct hark_post *post = NULL;
    if (hark_post_from_json(doc->root, &post, err, sizeof(err)) != HARK_OK) {
        fprintf(stderr, "<stdin>:%zu:1: error: %s\n", lineno, err);
    }
    hark_json_doc_free(doc);
    return post;
}

int hark_cmd_try(int argc, char **argv)
{
    struct try_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    struct hark_snapshot *snap = load(&o);
    if (!snap) {
        return 1;
    }
    struct hark_rules_scratch *scratch = hark_rules_scratch_new();
    struct hark_buf out;
    hark_buf_init(&out, 0);
    rc = 0;
    if (o.text) {
        struct hark_post *post = hark_post_new();
        free(post->text);
        post->text = hark_utf8_repair(o.text, strlen(o.text), &post->n_repaired);
        post->id = hark_xstrdup("text");
        post->platform = hark_xstrdup("try");
        try_one(snap, scratch, post, &o, 1, &out);
    } else {
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "hark try: reading NDJSON posts from stdin "
                            "(or use --text \"...\")\n");
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        size_t lineno = 0;
        size_t n = 0;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
                len--;
            }
            if (len == 0) {
                continue;
            }
            struct hark_post *post = post_from_line(line, (size_t)len, lineno);
            if (!post) {
                rc = 1;
                continue;
            }
            try_one(snap, scratch, post, &o, ++n, &out);
        }
        free(line);
    }
    hark_buf_cleanup(&out);
    hark_rules_scratch_free(scratch);
    hark_snapshot_unref(snap);
    fflush(stdout);
    return rc;
}
