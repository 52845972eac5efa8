/*
 * The ingest engine: one curl multi loop drives every source.
 *
 * Each source walks: it requests page 0 of a walk (the adapter builds the
 * URL from the committed cursor), hands the page's new posts to the
 * pipeline, and continues with the page's next_token until the adapter
 * says the walk is done; then it waits interval_s. A page boundary becomes
 * a cursor marker (see cursor_int.h): for forward walks after every page,
 * otherwise only at the end of the walk, so a walk back from the newest
 * post commits only once it reached the old high-water mark.
 *
 * Politeness: one request in flight per source; 429 and Retry-After
 * (seconds or HTTP date) honoured; when the platform's remaining budget
 * runs low, the next request waits for the reset; errors back off
 * exponentially with jitter. 401 and 403 stop the source, loudly.
 *
 * Backpressure: no request starts while the posts in flight (fetched, not
 * yet acknowledged) reach max_in_flight: the platform holds the data.
 *
 * Acks arrive from the sink thread through a mutex-protected vector and
 * curl_multi_wakeup(); the loop applies them and saves a cursor whenever
 * it moved (at most every 200 ms, and always at the end).
 */
#include "hark/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "hark/log.h"

static char *limiter_key(const struct hark_source_cfg *cfg)
{
    const char *u = cfg->base_url ? cfg->base_url : "";
    const char *p = strstr(u, "://");
    p = p ? p + 3 : u;
    size_t n = strcspn(p, "/?#");
    const char *cred = cfg->token_env       ? cfg->token_env
                       : cfg->client_id_env ? cfg->client_id_env
                                            : "";
    return hark_xasprintf("%.*s\x1f%s", (int)n, p, cred);
}

static struct limiter *limiter_for(struct hark_ingest *ing,
                                   const struct hark_source_cfg *cfg)
{
    char *key = limiter_key(cfg);
    for (size_t i = 0; i < ing->n_limiters; i++) {
        if (strcmp(ing->limiters[i].key, key) == 0) {
            free(key);
            return &ing->limiters[i];
        }
    }
    struct limiter *l = &ing->limiters[ing->n_limiters++];
    memset(l, 0, sizeof(*l));
    l->key = key;
    return l;
}

const char *hark_source_state_name(int state)
{
    switch (state) {
    case HARK_SOURCE_OK:
        return "ok";
    case HARK_SOURCE_BACKING_OFF:
        return "backing_off";
    case HARK_SOURCE_RATE_LIMITED:
        return "rate_limited";
    case HARK_SOURCE_FAILING:
        return "failing";
    case HARK_SOURCE_STOPPED:
        return "stopped";
    }
    return "unknown";
}


hark_err_t hark_ingest_new(const struct hark_ingest_source *srcs,
                           size_t n_srcs, const struct hark_ingest_opts *opts,
                           struct hark_ingest **out, char *errbuf,
                           size_t errbuf_len)
{
    *out = NULL;
    if (hark_mkdirs(opts->state_dir) != HARK_OK) {
        snprintf(errbuf, errbuf_len, "mkdir(\"%s\"): cannot create state_dir",
                 opts->state_dir);
        return HARK_EIO;
    }
    struct hark_ingest *ing = hark_xcalloc(1, sizeof(*ing));
    ing->opts = *opts;
    if (!ing->opts.max_in_flight) {
        ing->opts.max_in_flight = 10000;
    }
    if (!ing->opts.max_body_bytes) {
        ing->opts.max_body_bytes = 16u << 20;
    }
    if (!ing->opts.dedup_window) {
        ing->opts.dedup_window = 8192;
    }
    if (!ing->opts.drain_timeout_ms) {
        ing->opts.drain_timeout_ms = 20000;
    }
    pthread_mutex_init(&ing->ack_lock, NULL);
    atomic_init(&ing->is_stopping, false);
    ing->rng = (unsigned)hark_now_ms();
    ing->multi = curl_multi_init();
    ing->srcs = hark_xcalloc(n_srcs ? n_srcs : 1, sizeof(*ing->srcs));
    ing->n_srcs = n_srcs;
    ing->limiters = hark_xcalloc(n_srcs ? n_srcs : 1, sizeof(*ing->limiters));
    for (size_t i = 0; i < n_srcs; i++) {
        struct src *s = &ing->srcs[i];
        s->def = &srcs[i];
        s->lim = limiter_for(ing, srcs[i].cfg);
        s->ing = ing;
        s->idx = (uint32_t)i;
        snprintf(s->component, sizeof(s->component), "ingest/%s",
                 srcs[i].cfg->name);
        char *path = hark_xasprintf("%s/%s.cursor.json", opts->state_dir,
                                    srcs[i].cfg->name);
        hark_cursor_init(&s->cursor, path, ing->opts.dedup_window);
        free(path);
        hark_buf_init(&s->body, ing->opts.max_body_bytes);
        s->easy = curl_easy_init();
        if (srcs[i].ops->stream_url) {
            struct hark_buf probe;
            hark_buf_init(&probe, 8192);
            s->can_stream = srcs[i].ops->stream_url(srcs[i].state, NULL,
                                                    &probe) == HARK_OK;
            hark_buf_cleanup(&probe);
        }
        hark_err_t err = hark_cursor_load(&s->cursor, errbuf, errbuf_len);
        if (err != HARK_OK) {
            ing->n_srcs = i + 1;
            hark_ingest_free(ing);
            return err;
        }
        if (s->cursor.committed) {
            HARK_LOG_INFO(s->component, "resuming from cursor %s",
                          s->cursor.committed);
        }
    }
    *out = ing;
    return HARK_OK;
}

void hark_ingest_free(struct hark_ingest *ing)
{
    if (!ing) {
        return;
    }
    for (size_t i = 0; i < ing->n_srcs; i++) {
        struct src *s = &ing->srcs[i];
        if (s->is_busy) {
            curl_multi_remove_handle(ing->multi, s->easy);
        }
        curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->req_headers);
        hark_eng_clear_response(s);
        free(s->headers);
        hark_buf_cleanup(&s->body);
        hark_cursor_cleanup(&s->cursor);
        free(s->url);
        free(s->token);
        free(s->walk_cursor);
    }
    free(ing->srcs);
    for (size_t i = 0; i < ing->n_limiters; i++) {
        free(ing->limiters[i].key);
    }
    free(ing->limiters);
    curl_multi_cleanup(ing->multi);
    pthread_mutex_destroy(&ing->ack_lock);
    free(ing->acks);
    free(ing);
}

void hark_ingest_ack(struct hark_ingest *ing, uint32_t src_index, uint64_t seq)
{
    pthread_mutex_lock(&ing->ack_lock);
    if (ing->n_acks == ing->cap_acks) {
        ing->cap_acks = ing->cap_acks ? ing->cap_acks * 2 : 1024;
        ing->acks =
            hark_xrealloc(ing->acks, ing->cap_acks * sizeof(*ing->acks));
    }
    ing->acks[ing->n_acks].src_index = src_index;
    ing->acks[ing->n_acks].seq = seq;
    ing->n_acks++;
    bool first = ing->n_acks == 1;
    pthread_mutex_unlock(&ing->ack_lock);
    if (first) {
        curl_multi_wakeup(ing->multi);
    }
}

void hark_ingest_stop(struct hark_ingest *ing)
{
    atomic_store(&ing->is_stopping, true);
    curl_multi_wakeup(ing->multi);
}

const char *hark_ingest_cursor(const struct hark_ingest *ing, size_t i)
{
    return i < ing->n_srcs ? ing->srcs[i].cursor.committed : NULL;
}

static void save_cursor(struct src *s)
{
    char errbuf[512];
    if (hark_cursor_save(&s->cursor, errbuf, sizeof(errbuf)) != HARK_OK) {
        HARK_LOG_ERROR(s->component, "saving cursor failed: %s", errbuf);
    }
}

static void apply_acks(struct hark_ingest *ing)
{
    pthread_mutex_lock(&ing->ack_lock);
    struct ack *acks = ing->acks;
    size_t n = ing->n_acks;
    ing->acks = NULL;
    ing->n_acks = 0;
    ing->cap_acks = 0;
    pthread_mutex_unlock(&ing->ack_lock);
    for (size_t i = 0; i < n; i++) {
        if (acks[i].src_index >= ing->n_srcs) {
            continue;
        }
        struct src *s = &ing->srcs[acks[i].src_index];
        size_t before = s->cursor.n_in_flight;
        hark_cursor_ack(&s->cursor, acks[i].seq);
        if (s->cursor.n_in_flight < before) {
            ing->n_in_flight--;
        }
    }
    free(acks);
    for (size_t i = 0; i < ing->n_srcs; i++) {
        hark_cursor_advance(&ing->srcs[i].cursor);
    }
}

static void save_dirty(struct hark_ingest *ing, bool force)
{
    int64_t now = hark_mono_ms();
    for (size_t i = 0; i < ing->n_srcs; i++) {
        struct src *s = &ing->srcs[i];
        if (s->cursor.is_dirty && (force || now - s->logged_at_ms >= 200)) {
            save_cursor(s);
            s->logged_at_ms = now;
        }
    }
}

static unsigned next_rand(struct hark_ingest *ing)
{
    ing->rng = ing->rng * 1103515245u + 12345u;
    return (ing->rng >> 16) & 0x7fff;
}

void hark_eng_set_state(struct src *s, enum hark_source_state st)
{
    atomic_store(&s->def->stats->state, (int)st);
}

/* Exponential backoff with jitter: 1 s, 2 s, 4 s ... capped at interval. */
void hark_eng_back_off(struct hark_ingest *ing, struct src *s)
{
    s->failures++;
    int64_t cap_ms = (int64_t)s->def->cfg->interval_s * 1000;
    if (cap_ms < 2000) {
        cap_ms = 2000;
    }
    int shift = s->failures < 10 ? s->failures - 1 : 9;
    int64_t delay = 1000LL << shift;
    if (delay > cap_ms) {
        delay = cap_ms;
    }
    delay = delay / 2 + (int64_t)(next_rand(ing) % (unsigned)(delay / 2 + 1));
    s->next_at_ms = hark_mono_ms() + delay;
    hark_eng_set_state(s, HARK_SOURCE_BACKING_OFF);
    if (ing->opts.is_once && s->failures >= MAX_ONCE_FAILURES) {
        HARK_LOG_ERROR(s->component,
                       "giving up after %d failed attempts in --once mode",
                       s->failures);
        s->is_done_once = true;
        s->has_failed = true;
        hark_eng_set_state(s, HARK_SOURCE_FAILING);
    }
}

/* Retry-After: delta-seconds or an HTTP date. -1 when absent or bad. */
static int64_t retry_after_ms(const char *v)
{
    if (!v) {
        return -1;
    }
    char *end = NULL;
    long secs = strtol(v, &end, 10);
    if (end != v && *end == '\0' && secs >= 0) {
        return (int64_t)secs * 1000;
    }
    /* IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT" */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int day, year, hh, mm, ss;
    char mon[4];
    if (sscanf(v, "%*3s, %d %3s %d %d:%d:%d GMT", &day, mon, &year, &hh, &mm,
               &ss) == 6) {
        const char *m = strstr(months, mon);
        if (m && strlen(mon) == 3 && (m - months) % 3 == 0) {
            char iso[40];
            snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02dZ", year,
                     (int)(m - months) / 3 + 1, day, hh, mm, ss);
            int64_t at = 0;
            if (hark_time_parse(iso, &at) == HARK_OK) {
                int64_t d = at - hark_now_ms();
                return d > 0 ? d : 0;
            }
        }
    }
    return -1;
}

/*
 * Without Retry-After, a 429 may still say when the window resets: Reddit
 * x-ratelimit-reset (seconds from now), X x-rate-limit-reset and Bluesky
 * ratelimit-reset (epoch seconds), Mastodon x-ratelimit-reset (ISO 8601).
 * -1 when none is usable.
 */
static int64_t reset_header_ms(const struct hark_response *resp)
{
    static const char *names[] = {"x-ratelimit-reset", "x-rate-limit-reset",
                                  "ratelimit-reset"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = hark_response_header(resp, names[i]);
        if (!v || !*v) {
            continue;
        }
        int64_t at = 0;
        if (hark_time_parse(v, &at) == HARK_OK) {
            int64_t d = at - hark_now_ms();
            return d > 0 ? d : 0;
        }
        char *end = NULL;
        double n = strtod(v, &end);
        if (end == v || n < 0) {
            continue;
        }
        if (n > 1e9) { /* an epoch time */
            int64_t d = (int64_t)(n * 1000) - hark_now_ms();
            return d > 0 ? d : 0;
        }
        return (int64_t)(n * 1000);
    }
    return -1;
}

static void end_walk(struct hark_ingest *ing, struct src *s)
{
    (void)ing;
    if (s->walk_cursor) {
        hark_cursor_add_marker(&s->cursor, s->walk_cursor);
        free(s->walk_cursor);
        s->walk_cursor = NULL;
    }
    s->in_walk = false;
    free(s->token);
    s->token = NULL;
    s->page_index = 0;
    s->next_at_ms = hark_mono_ms() + (int64_t)s->def->cfg->interval_s * 1000;
    if (ing->opts.is_once) {
        s->is_done_once = true;
    } else if (s->can_stream) {
        /* Caught up: (re)open the stream now. */
        s->wants_stream = true;
        s->next_at_ms = hark_mono_ms();
    }
}

/* A stream with no replay was down: say which time range may be lost. */
static void note_gap(struct hark_ingest *ing, uint32_t idx)
{
    struct src *s = &ing->srcs[idx];
    if (!s->disconnected_ms) {
        return;
    }
    char from[32], to[32], reason[256];
    hark_time_format(s->disconnected_ms, from);
    hark_time_format(hark_now_ms(), to);
    snprintf(reason, sizeof(reason),
             "gap: the stream was disconnected from %s to %s and the "
             "platform has no replay; posts in between may be missing",
             from, to);
    HARK_LOG_WARN(s->component, "%s", reason);
    ing->opts.dlq(ing->opts.opaque, idx, s->url, reason, NULL, 0);
    s->disconnected_ms = 0;
}

/* The stream ended (closed, stalled or refused): back off, catch up, and
 * reconnect. */
static void finish_stream(struct hark_ingest *ing, struct src *s,
                          CURLcode code, long status)
{
    s->is_streaming = false;
    if (s->is_paused) {
        s->is_paused = false;
    }
    s->disconnected_ms = hark_now_ms();
    if (s->stream_bytes > 0) {
        s->failures = 0; /* it worked for a while */
    }
    s->stream_bytes = 0;
    atomic_fetch_add(&s->def->stats->http_errors, 1);
    if (hark_eng_should_warn(s, WARN_NET)) {
        HARK_LOG_WARN(s->component, "stream ended url=%s status=%ld "
                      "error=\"%s\"; %s", s->url, status,
                      code == CURLE_OK ? "closed by the server"
                                       : curl_easy_strerror(code),
                      s->has_no_rest ? "reconnecting"
                                     : "catching up and reconnecting");
    }
    hark_eng_back_off(ing, s);
    hark_eng_clear_response(s);
}

void hark_eng_take_page(struct hark_ingest *ing, struct src *s, uint32_t idx,
                      struct hark_page *page)
{
    struct hark_source_stats *st = s->def->stats;
    for (size_t i = 0; i < page->n_posts; i++) {
        struct hark_post *post = page->posts[i];
        page->posts[i] = NULL;
        atomic_fetch_add(&st->fetched, 1);
        atomic_fetch_add(&st->repaired, post->n_repaired);
        if (!post->source) {
            post->source = hark_xstrdup(s->def->cfg->name);
        }
        uint64_t h = hark_cursor_post_hash(post->id ? post->id : "",
                                           hark_post_revision(post));
        if (hark_cursor_seen(&s->cursor, h)) {
            atomic_fetch_add(&st->deduped, 1);
            hark_post_free(post);
            continue;
        }
        struct hark_item *item = hark_item_new(post);
        item->src_index = idx;
        item->seq = hark_cursor_add_post(&s->cursor, h);
        ing->n_in_flight++;
        if (ing->opts.emit(ing->opts.opaque, item) != HARK_OK) {
            /* The pipeline is closing: the post stays unacked and is
             * fetched again after a restart. */
            hark_item_free(item);
        }
    }
    if (page->n_posts > 0) {
        atomic_store(&st->last_post_ms, hark_now_ms());
    }
    if (page->cursor) {
        if (page->is_forward) {
            hark_cursor_add_marker(&s->cursor, page->cursor);
        } else if (!s->walk_cursor) {
            /* Newest-first walks: the first page holds the new mark. */
            s->walk_cursor = hark_xstrdup(page->cursor);
        }
    }
}

/* Whether to log a warning of `kind` now; says how often it repeated. */
bool hark_eng_should_warn(struct src *s, int kind)
{
    int64_t now = hark_mono_ms();
    if (kind == s->warn_kind && now - s->warn_at_ms < 60000) {
        s->n_warn_repeats++;
        return false;
    }
    if (s->n_warn_repeats > 0) {
        HARK_LOG_WARN(s->component, "(the previous warning repeated %u times)",
                      s->n_warn_repeats);
    }
    s->warn_kind = kind;
    s->warn_at_ms = now;
    s->n_warn_repeats = 0;
    return true;
}

static void log_http_failure(struct src *s, long status, const char *what)
{
    if (!hark_eng_should_warn(s, WARN_HTTP)) {
        return;
    }
    HARK_LOG_WARN(s->component, "%s url=%s status=%ld failures=%d", what,
                  s->url, status, s->failures);
}

/* The token request ended: keep the token, or back off / stop. */
static void finish_token(struct hark_ingest *ing, struct src *s,
                         CURLcode code, long status)
{
    s->is_token_req = false;
    struct hark_source_stats *st = s->def->stats;
    char errbuf[256] = "";
    if (code == CURLE_OK && (status == 400 || status == 401 ||
                             status == 403)) {
        atomic_fetch_add(&st->http_errors, 1);
        s->is_stopped = true;
        s->has_failed = true;
        s->is_done_once = true;
        hark_eng_set_state(s, HARK_SOURCE_STOPPED);
        HARK_LOG_ERROR(s->component, "STOPPED: the platform refused our "
                       "client credentials status=%ld url=%s", status,
                       s->url);
        hark_eng_clear_response(s);
        return;
    }
    struct hark_response resp = {status, s->headers, s->n_headers,
                                 s->body.ptr ? s->body.ptr : "", s->body.len,
                                 s->url};
    if (code != CURLE_OK || status < 200 || status >= 300 ||
        s->def->ops->token_parse(s->def->state, &resp, hark_now_ms(), errbuf,
                                 sizeof(errbuf)) != HARK_OK) {
        atomic_fetch_add(&st->http_errors, 1);
        hark_eng_back_off(ing, s);
        HARK_LOG_WARN(s->component, "token request failed url=%s status=%ld "
                      "error=\"%s\"", s->url, status,
                      code != CURLE_OK ? curl_easy_strerror(code) : errbuf);
        hark_eng_clear_response(s);
        return;
    }
    HARK_LOG_INFO(s->component, "fetched an access token");
    s->next_at_ms = hark_mono_ms();
    hark_eng_clear_response(s);
}

static void finish(struct hark_ingest *ing, uint32_t idx, CURLcode code)
{
    struct src *s = &ing->srcs[idx];
    struct hark_source_stats *st = s->def->stats;
    s->is_busy = false;
    curl_multi_remove_handle(ing->multi, s->easy);
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (atomic_load(&ing->is_stopping)) {
        hark_eng_clear_response(s);
        return;
    }
    if (s->is_token_req) {
        finish_token(ing, s, code, status);
        return;
    }
    if (code != CURLE_OK && s->is_streaming) {
        finish_stream(ing, s, code, status);
        return;
    }
    if (code != CURLE_OK) {
        atomic_fetch_add(&st->http_errors, 1);
        if (s->is_too_big || code == CURLE_FILESIZE_EXCEEDED) {
            atomic_fetch_add(&st->bad_pages, 1);
            char reason[160];
            snprintf(reason, sizeof(reason),
                     "response body larger than %zu bytes",
                     ing->opts.max_body_bytes);
            ing->opts.dlq(ing->opts.opaque, idx, s->url, reason, s->body.ptr,
                          s->body.len);
        }
        hark_eng_back_off(ing, s);
        if (hark_eng_should_warn(s, WARN_NET)) {
            HARK_LOG_WARN(s->component,
                          "request failed url=%s error=\"%s\" failures=%d",
                          s->url, curl_easy_strerror(code), s->failures);
        }
        hark_eng_clear_response(s);
        return;
    }
    if (s->is_streaming && status != 401 && status != 403 && status != 429) {
        finish_stream(ing, s, code, status);
        return;
    }
    s->is_streaming = false;
    struct hark_response resp = {status, s->headers, s->n_headers,
                                 s->body.ptr ? s->body.ptr : "", s->body.len,
                                 s->url};
    if (status == 429) {
        atomic_fetch_add(&st->http_errors, 1);
        int64_t wait = retry_after_ms(hark_response_header(&resp, "retry-after"));
        if (wait < 0) {
            wait = reset_header_ms(&resp);
        }
        if (wait < 0) {
            wait = 60000;
        }
        s->next_at_ms = hark_mono_ms() + wait;
        if (s->lim->not_before_ms < s->next_at_ms) {
            s->lim->not_before_ms = s->next_at_ms;
        }
        hark_eng_set_state(s, HARK_SOURCE_RATE_LIMITED);
        if (hark_eng_should_warn(s, WARN_429)) {
            HARK_LOG_WARN(s->component,
                          "rate limited status=429 retry_in_s=%lld",
                          (long long)((wait + 999) / 1000));
        }
        hark_eng_clear_response(s);
        return;
    }
    if (status == 401 && s->def->ops->token_invalidate &&
        !s->has_retried_401) {
        /* The token may have expired early: refresh once and retry. */
        atomic_fetch_add(&st->http_errors, 1);
        s->has_retried_401 = true;
        s->def->ops->token_invalidate(s->def->state);
        s->next_at_ms = hark_mono_ms();
        HARK_LOG_INFO(s->component, "status=401: refreshing the token and "
                      "retrying once url=%s", s->url);
        hark_eng_clear_response(s);
        return;
    }
    if (status == 401 || status == 403) {
        atomic_fetch_add(&st->http_errors, 1);
        s->is_stopped = true;
        s->has_failed = true;
        s->is_done_once = true;
        hark_eng_set_state(s, HARK_SOURCE_STOPPED);
        HARK_LOG_ERROR(s->component,
                       "STOPPED: the platform refused our credentials "
                       "status=%ld url=%s (check %s)", status, s->url,
                       s->def->cfg->token_env ? s->def->cfg->token_env
                       : s->def->cfg->client_id_env
                           ? "the client credentials"
                           : "the source's token_env or headers_env");
        hark_eng_clear_response(s);
        return;
    }
    if (status < 200 || status >= 300) {
        atomic_fetch_add(&st->http_errors, 1);
        hark_eng_back_off(ing, s);
        log_http_failure(s, status, "http error");
        hark_eng_clear_response(s);
        return;
    }
    struct hark_page page;
    memset(&page, 0, sizeof(page));
    char errbuf[512] = "";
    hark_err_t err =
        s->def->ops->parse(s->def->state, &resp, &page, errbuf, sizeof(errbuf));
    if (err != HARK_OK) {
        atomic_fetch_add(&st->bad_pages, 1);
        ing->opts.dlq(ing->opts.opaque, idx, s->url, errbuf, resp.body,
                      resp.body_len);
        hark_eng_back_off(ing, s);
        if (hark_eng_should_warn(s, WARN_PARSE)) {
            HARK_LOG_WARN(s->component,
                          "unparseable response url=%s reason=\"%s\"",
                          s->url, errbuf);
        }
        hark_page_cleanup(&page);
        hark_eng_clear_response(s);
        return;
    }
    if (strncmp(errbuf, "gap: ", 5) == 0) {
        /* The platform's depth limit ended the walk before the cursor:
         * record the range that could not be read (DESIGN.md "Catch-up"). */
        HARK_LOG_WARN(s->component, "%s url=%s", errbuf, s->url);
        ing->opts.dlq(ing->opts.opaque, idx, s->url, errbuf, NULL, 0);
    } else if (errbuf[0] && hark_eng_should_warn(s, WARN_NOTE)) {
        /* Parsed, with a note (e.g. statuses skipped as malformed). */
        HARK_LOG_WARN(s->component, "%s url=%s", errbuf, s->url);
    }
    s->failures = 0;
    s->has_retried_401 = false;
    hark_eng_set_state(s, HARK_SOURCE_OK);
    atomic_store(&st->last_success_ms, hark_now_ms());
    hark_eng_take_page(ing, s, idx, &page);
    /* Slow down before the limit: below half the budget, spread what is
     * left evenly until the reset; when it is nearly spent, wait for the
     * reset. Both apply to every source sharing the limiter. */
    int64_t hold_until = 0;
    s->lim->spacing_ms = 0;
    if (page.rate.remaining > 0 && page.rate.reset_at_ms > 0 &&
        (page.rate.limit <= 0 || page.rate.remaining * 2 < page.rate.limit)) {
        int64_t left_ms = page.rate.reset_at_ms - hark_now_ms();
        if (left_ms > 0) {
            s->lim->spacing_ms = left_ms / page.rate.remaining;
        }
    }
    if (page.rate.remaining >= 0 && page.rate.reset_at_ms > 0) {
        int64_t floor_left = page.rate.limit > 0 ? page.rate.limit / 20 : 1;
        if (floor_left < 1) {
            floor_left = 1;
        }
        if (page.rate.remaining <= floor_left) {
            int64_t d = page.rate.reset_at_ms - hark_now_ms();
            if (d > 0) {
                hold_until = hark_mono_ms() + d;
                s->lim->not_before_ms = hold_until;
                hark_eng_set_state(s, HARK_SOURCE_RATE_LIMITED);
                HARK_LOG_INFO(s->component,
                              "rate budget low remaining=%lld waiting_s=%lld",
                              (long long)page.rate.remaining,
                              (long long)(d / 1000));
            }
        }
    }
    if (page.next_token) {
        free(s->token);
        s->token = page.next_token;
        page.next_token = NULL;
        s->page_index++;
        s->next_at_ms = hold_until ? hold_until : hark_mono_ms();
    } else {
        end_walk(ing, s);
        if (hold_until > s->next_at_ms) {
            s->next_at_ms = hold_until;
        }
    }
    hark_page_cleanup(&page);
    hark_eng_clear_response(s);
}

static void start_stream(struct hark_ingest *ing, uint32_t idx)
{
    struct src *s = &ing->srcs[idx];
    struct hark_buf url;
    hark_buf_init(&url, 8192);
    s->wants_stream = false;
    if (s->def->ops->stream_url(s->def->state, s->cursor.committed, &url) !=
        HARK_OK) {
        hark_buf_cleanup(&url);
        s->next_at_ms = hark_mono_ms() + (int64_t)s->def->cfg->interval_s * 1000;
        return;
    }
    hark_eng_start_transfer(ing, idx, hark_buf_take(&url), true);
    s->stream_started_ms = hark_mono_ms();
}

static void start_request(struct hark_ingest *ing, uint32_t idx)
{
    struct src *s = &ing->srcs[idx];
    if (s->def->ops->token_needed &&
        s->def->ops->token_needed(s->def->state, hark_now_ms())) {
        hark_eng_start_token(ing, idx);
        return;
    }
    if (s->wants_stream) {
        start_stream(ing, idx);
        return;
    }
    struct hark_buf url;
    hark_buf_init(&url, 8192);
    if (!s->in_walk) {
        s->in_walk = true;
        s->page_index = 0;
    }
    hark_err_t err = s->def->ops->build_url(
        s->def->state, s->cursor.committed, s->token, s->page_index, &url);
    if (err == HARK_ECLOSED && s->def->ops->stream_url) {
        /* A stream with no REST catch-up: stream at once. */
        s->has_no_rest = true;
        hark_buf_cleanup(&url);
        s->in_walk = false;
        if (ing->opts.is_once) {
            HARK_LOG_INFO(s->component, "a stream has nothing to poll in "
                          "--once mode; skipped");
            s->is_done_once = true;
            return;
        }
        note_gap(ing, idx);
        start_stream(ing, idx);
        return;
    }
    if (err != HARK_OK) {
        HARK_LOG_ERROR(s->component, "cannot build request url: %s",
                       hark_err_str(err));
        hark_buf_cleanup(&url);
        hark_eng_back_off(ing, s);
        return;
    }
    hark_eng_start_transfer(ing, idx, hark_buf_take(&url), false);
}

/* Milliseconds until the next source is due (capped), starting those due. */
static int schedule(struct hark_ingest *ing)
{
    int64_t now = hark_mono_ms();
    int64_t wait = 1000;
    for (size_t i = 0; i < ing->n_srcs; i++) {
        struct src *s = &ing->srcs[i];
        if (s->is_paused && ing->n_in_flight < ing->opts.max_in_flight) {
            s->is_paused = false;
            curl_easy_pause(s->easy, CURLPAUSE_CONT);
        }
        if (s->is_busy && s->is_streaming && !s->has_no_rest &&
            now - s->stream_started_ms >= STREAM_CYCLE_MS) {
            /* Walk now and then, so the cursor (which only walks move)
             * stays fresh; then the stream reopens. */
            curl_multi_remove_handle(ing->multi, s->easy);
            s->is_busy = false;
            s->is_streaming = false;
            s->is_paused = false;
            s->stream_bytes = 0;
            hark_eng_clear_response(s);
            s->next_at_ms = now;
        }
        if (s->is_busy || s->is_stopped ||
            (ing->opts.is_once && s->is_done_once)) {
            continue;
        }
        if (ing->n_in_flight >= ing->opts.max_in_flight) {
            break; /* backpressure: acks will wake us */
        }
        int64_t at = s->next_at_ms;
        if (at < s->lim->not_before_ms) {
            at = s->lim->not_before_ms;
        }
        if (s->lim->last_ms && at < s->lim->last_ms + s->lim->spacing_ms) {
            at = s->lim->last_ms + s->lim->spacing_ms;
        }
        if (at <= now) {
            start_request(ing, (uint32_t)i);
        } else if (at - now < wait) {
            wait = at - now;
        }
    }
    return (int)(wait < 0 ? 0 : wait);
}

static bool once_done(const struct hark_ingest *ing)
{
    for (size_t i = 0; i < ing->n_srcs; i++) {
        if (!ing->srcs[i].is_done_once || ing->srcs[i].is_busy) {
            return false;
        }
    }
    return ing->n_in_flight == 0;
}

static void drain(struct hark_ingest *ing)
{
    for (size_t i = 0; i < ing->n_srcs; i++) {
        struct src *s = &ing->srcs[i];
        if (s->is_busy) {
            curl_multi_remove_handle(ing->multi, s->easy);
            s->is_busy = false;
        }
    }
    int64_t deadline = hark_mono_ms() + ing->opts.drain_timeout_ms;
    while (ing->n_in_flight > 0 && hark_mono_ms() < deadline) {
        int n = 0;
        curl_multi_poll(ing->multi, NULL, 0, 100, &n);
        apply_acks(ing);
        save_dirty(ing, false);
    }
    apply_acks(ing);
    if (ing->n_in_flight > 0) {
        HARK_LOG_WARN("ingest", "stopped with %zu posts unacknowledged; they "
                      "will be fetched again", ing->n_in_flight);
    }
    save_dirty(ing, true);
}

hark_err_t hark_ingest_run(struct hark_ingest *ing)
{
    for (size_t i = 0; i < ing->n_srcs; i++) {
        hark_eng_set_state(&ing->srcs[i], HARK_SOURCE_OK);
        ing->srcs[i].next_at_ms = hark_mono_ms();
    }
    while (!atomic_load(&ing->is_stopping)) {
        apply_acks(ing);
        save_dirty(ing, false);
        if (ing->opts.is_once && once_done(ing)) {
            break;
        }
        int wait = schedule(ing);
        int running = 0;
        curl_multi_perform(ing->multi, &running);
        CURLMsg *msg;
        int left = 0;
        while ((msg = curl_multi_info_read(ing->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            void *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            finish(ing, (uint32_t)(uintptr_t)priv, msg->data.result);
            wait = 0;
        }
        if (wait > 0) {
            int n = 0;
            curl_multi_poll(ing->multi, NULL, 0, wait, &n);
        }
        curl_multi_perform(ing->multi, &running);
    }
    drain(ing);
    for (size_t i = 0; i < ing->n_srcs; i++) {
        if (ing->srcs[i].has_failed) {
            return HARK_EPEER;
        }
    }
    return HARK_OK;
}
