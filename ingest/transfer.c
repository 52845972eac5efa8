/*
 * The engine's curl transfers: one easy handle per source, reset for every
 * request; response headers and bodies (bounded), streamed chunks handed to
 * the adapter as they arrive (paused under backpressure), request headers
 * (the adapter's own, Accept, Authorization from token_env; secrets never
 * logged, their buffers zeroed) and the adapter's token requests.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hark/log.h"

/* A chunk of a stream: the adapter turns complete messages into posts. */
static size_t on_stream(struct src *s, char *ptr, size_t n)
{
    struct hark_ingest *ing = s->ing;
    if (ing->n_in_flight >= ing->opts.max_in_flight) {
        s->is_paused = true; /* curl hands us the same bytes again */
        return CURL_WRITEFUNC_PAUSE;
    }
    s->stream_bytes += n;
    struct hark_page page;
    memset(&page, 0, sizeof(page));
    page.is_forward = true;
    char errbuf[512] = "";
    if (s->def->ops->feed(s->def->state, ptr, n, &page, errbuf,
                          sizeof(errbuf)) != HARK_OK) {
        atomic_fetch_add(&s->def->stats->bad_pages, 1);
        if (page.n_bad == 0) { /* an adapter that names no message */
            ing->opts.dlq(ing->opts.opaque, s->idx, s->url, errbuf, ptr, n);
        }
    }
    /* Each unreadable message on its own, with its own bytes. */
    for (size_t i = 0; i < page.n_bad; i++) {
        ing->opts.dlq(ing->opts.opaque, s->idx, s->url, page.bad[i].reason,
                      page.bad[i].raw, page.bad[i].raw_len);
    }
    if (!s->has_no_rest) {
        /* Only REST walks move the cursor of a source that has them: a
         * post made between the catch-up and the stream's connection is
         * then still behind the cursor, and the next walk (at the latest
         * when the stream is cycled) fetches it; the dedup window drops
         * what the stream already delivered. */
        free(page.cursor);
        page.cursor = NULL;
    }
    if (page.n_posts > 0) {
        atomic_store(&s->def->stats->last_success_ms, hark_now_ms());
        hark_eng_set_state(s, HARK_SOURCE_OK);
        s->failures = 0;
        hark_eng_take_page(ing, s, s->idx, &page);
    }
    hark_page_cleanup(&page);
    return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct src *s = ud;
    size_t n = size * nmemb;
    if (s->is_streaming) {
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            return on_stream(s, ptr, n);
        }
    }
    if (hark_buf_add(&s->body, ptr, n) != HARK_OK) {
        s->is_too_big = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct src *s = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (redirect, 100-continue): forget earlier headers */
        for (size_t i = 0; i < s->n_headers; i++) {
            free(s->headers[i].name);
            free(s->headers[i].value);
        }
        s->n_headers = 0;
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon || s->n_headers >= 128) {
        return n;
    }
    size_t name_len = (size_t)(colon - ptr);
    const char *v = colon + 1;
    const char *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    s->headers = hark_xrealloc(s->headers,
                               (s->n_headers + 1) * sizeof(*s->headers));
    char *name = hark_xstrndup(ptr, name_len);
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    s->headers[s->n_headers].name = name;
    s->headers[s->n_headers].value = hark_xstrndup(v, (size_t)(end - v));
    s->n_headers++;
    return n;
}

void hark_eng_clear_response(struct src *s)
{
    hark_buf_reset(&s->body);
    for (size_t i = 0; i < s->n_headers; i++) {
        free(s->headers[i].name);
        free(s->headers[i].value);
    }
    s->n_headers = 0;
    s->is_too_big = false;
}

/* Reddit asks every client for a unique User-Agent: "user_agent". */
static const char *user_agent(const struct src *s)
{
    const char *ua = s->def->cfg->user_agent;
    return ua && *ua ? ua : "hark/" HARK_VERSION " (social listening)";
}

static bool has_header(const struct hark_strv *hv, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < hv->n; i++) {
        if (strncasecmp(hv->v[i], name, n) == 0 && hv->v[i][n] == ':') {
            return true;
        }
    }
    return false;
}

/*
 * The request headers: the adapter's own (request_headers, which may carry
 * secrets and replace ours), Accept, and Authorization from token_env.
 * Values are never logged.
 */
static hark_err_t build_headers(struct src *s, bool is_stream, char *errbuf,
                                size_t errbuf_len)
{
    struct hark_strv hv = {NULL, 0};
    const struct hark_source_ops *ops = s->def->ops;
    if (ops->request_headers &&
        ops->request_headers(s->def->state, &hv, errbuf, errbuf_len) !=
            HARK_OK) {
        hark_strv_cleanup(&hv);
        return HARK_EINVAL;
    }
    curl_slist_free_all(s->req_headers);
    s->req_headers = NULL;
    for (size_t i = 0; i < hv.n; i++) {
        s->req_headers = curl_slist_append(s->req_headers, hv.v[i]);
    }
    if (!has_header(&hv, "accept")) {
        s->req_headers = curl_slist_append(
            s->req_headers, is_stream ? "Accept: text/event-stream, "
                                        "application/json"
                                      : "Accept: application/json");
    }
    const char *env = s->def->cfg->token_env;
    const char *token = env ? getenv(env) : NULL;
    if (token && *token && !has_header(&hv, "authorization")) {
        char *h = hark_xasprintf("Authorization: Bearer %s", token);
        s->req_headers = curl_slist_append(s->req_headers, h);
        memset(h, 0, strlen(h)); /* the token: curl has its own copy */
        free(h);
    }
    for (size_t i = 0; i < hv.n; i++) {
        memset(hv.v[i], 0, strlen(hv.v[i]));
    }
    hark_strv_cleanup(&hv);
    return HARK_OK;
}

/*
 * The URL curl fetches: `url` with the adapter's secret query parameters
 * (request_query), if any. The caller wipes and frees it once curl has its
 * copy. NULL on error (errbuf says why).
 */
static char *fetch_url(const struct src *s, const char *url, char *errbuf,
                       size_t errbuf_len)
{
    const struct hark_source_ops *ops = s->def->ops;
    struct hark_buf q;
    hark_buf_init(&q, 0);
    if (ops->request_query &&
        ops->request_query(s->def->state, &q, errbuf, errbuf_len) != HARK_OK) {
        if (q.ptr) {
            memset(q.ptr, 0, q.len);
        }
        hark_buf_cleanup(&q);
        return NULL;
    }
    char *full = q.len == 0 ? hark_xstrdup(url)
                            : hark_xasprintf("%s%c%s", url,
                                             strchr(url, '?') ? '&' : '?',
                                             q.ptr);
    if (q.ptr) {
        memset(q.ptr, 0, q.len);
    }
    hark_buf_cleanup(&q);
    return full;
}

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void hark_eng_start_transfer(struct hark_ingest *ing, uint32_t idx,
                           char *url, bool is_stream)
{
    struct src *s = &ing->srcs[idx];
    char errbuf[256] = "";
    free(s->url);
    /* What logs, the DLQ and parse() see: never a secret. */
    s->url = hark_url_redacted(url);
    char *full = fetch_url(s, url, errbuf, sizeof(errbuf));
    free(url);
    if (!full || build_headers(s, is_stream, errbuf, sizeof(errbuf)) !=
                     HARK_OK) {
        HARK_LOG_ERROR(s->component, "cannot build the request: %s", errbuf);
        wipe_free(full);
        hark_eng_back_off(ing, s);
        return;
    }
    s->is_streaming = is_stream;
    curl_easy_reset(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_URL, full); /* curl keeps a copy */
    wipe_free(full);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, user_agent(s));
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (is_stream) {
        /* A stream never ends; keep-alives (X every 20 s, Mastodon
         * heartbeats) keep it above one byte per 90 s unless it stalls. */
        curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, 90L);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 0L);
    } else {
        curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 16L);
        curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 120000L);
        curl_easy_setopt(s->easy, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)ing->opts.max_body_bytes);
    }
    curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(s->easy, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (void *)(uintptr_t)idx);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->req_headers);
    hark_eng_clear_response(s);
    if (is_stream && s->def->ops->stream_reset) {
        s->def->ops->stream_reset(s->def->state);
    }
    atomic_fetch_add(&s->def->stats->requests, 1);
    HARK_LOG_DEBUG(s->component, "GET %s%s", s->url,
                   is_stream ? " (stream)" : "");
    curl_multi_add_handle(ing->multi, s->easy);
    s->is_busy = true;
    s->lim->last_ms = hark_mono_ms();
}

/* POSTs the adapter's token request (its headers may hold secrets). */
void hark_eng_start_token(struct hark_ingest *ing, uint32_t idx)
{
    struct src *s = &ing->srcs[idx];
    struct hark_buf url, body;
    hark_buf_init(&url, 8192);
    hark_buf_init(&body, 65536);
    struct hark_strv hv = {NULL, 0};
    char errbuf[256] = "";
    if (s->def->ops->token_request(s->def->state, &url, &body, &hv, errbuf,
                                   sizeof(errbuf)) != HARK_OK) {
        HARK_LOG_ERROR(s->component, "STOPPED: cannot build the token "
                       "request: %s", errbuf);
        hark_buf_cleanup(&url);
        hark_buf_cleanup(&body);
        hark_strv_cleanup(&hv);
        s->is_stopped = true;
        s->has_failed = true;
        s->is_done_once = true;
        hark_eng_set_state(s, HARK_SOURCE_STOPPED);
        return;
    }
    free(s->url);
    s->url = hark_url_redacted(url.ptr);
    curl_slist_free_all(s->req_headers);
    s->req_headers = curl_slist_append(NULL, "Accept: application/json");
    for (size_t i = 0; i < hv.n; i++) {
        s->req_headers = curl_slist_append(s->req_headers, hv.v[i]);
        memset(hv.v[i], 0, strlen(hv.v[i]));
    }
    hark_strv_cleanup(&hv);
    curl_easy_reset(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_URL, url.ptr);
    hark_buf_cleanup(&url);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(s->easy, CURLOPT_COPYPOSTFIELDS,
                     body.ptr ? body.ptr : "");
    if (body.ptr) {
        memset(body.ptr, 0, body.len); /* may hold a secret */
    }
    hark_buf_cleanup(&body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, user_agent(s));
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (void *)(uintptr_t)idx);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->req_headers);
    hark_eng_clear_response(s);
    s->is_token_req = true;
    s->is_streaming = false;
    atomic_fetch_add(&s->def->stats->requests, 1);
    HARK_LOG_DEBUG(s->component, "POST %s (token)", s->url);
    curl_multi_add_handle(ing->multi, s->easy);
    s->is_busy = true;
    s->lim->last_ms = hark_mono_ms();
}
