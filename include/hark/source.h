/*
 * source: the platform adapters and the ingest engine that drives them.
 *
 * An adapter (ingest/src_<platform>.c) knows one platform: which URL to
 * request given the committed cursor, how to turn a response into
 * normalized posts, where the next page is and what the rate-limit headers
 * say. It does no I/O. The engine (ingest/source.c) owns the curl multi
 * handle, schedules polls, applies rate limits and backoff, keeps each
 * source's cursor and dedup window, and commits a cursor only when every
 * post fetched up to it was acknowledged.
 *
 * Thread: adapters are called only from the ingest thread; the engine's
 * functions say which thread may call them.
 */
#ifndef HARK_SOURCE_H
#define HARK_SOURCE_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/json.h"
#include "hark/post.h"

/* The settings every source has (DESIGN.md "Configuration"). */
struct hark_source_cfg {
    char *name;
    char *type;
    char *base_url;       /* without trailing '/' */
    int interval_s;       /* default 60 */
    int backfill_pages;   /* default 1 */
    int page_limit;       /* posts per request; 0 = the adapter's maximum */
    char *token_env;      /* name of the variable, never the token */
    char *client_id_env;     /* OAuth client credentials (variable names), */
    char *client_secret_env; /* for adapters that fetch their own token */
    char *user_agent;        /* NULL: "hark/VERSION (social listening)" */
};

/* A response header, name lowercased. */
struct hark_header {
    char *name;
    char *value;
};

struct hark_response {
    long status;
    const struct hark_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    const char *url; /* the request URL, without secrets */
};

/* What the platform's rate-limit headers said; -1 = not given. */
struct hark_rate {
    int64_t limit;
    int64_t remaining;
    int64_t reset_at_ms; /* wall clock */
    int64_t retry_after_ms; /* from Retry-After */
};

/*
 * One parsed page. Posts are owned by the page until taken.
 *   cursor:     the high-water mark once this page's posts are delivered
 *               (NULL = unchanged). For forward walks it may be committed
 *               page by page; otherwise only when the walk ends.
 *   next_token: where the walk continues within this poll (NULL = done).
 */
/* A stream message feed() could not read: why, and its own bytes. */
struct hark_bad_msg {
    char *reason;
    char *raw; /* a copy of the message; NULL when it was not kept */
    size_t raw_len;
};

struct hark_page {
    struct hark_post **posts;
    size_t n_posts;
    char *cursor;
    char *next_token;
    bool is_forward;      /* cursor may be committed page by page */
    struct hark_rate rate;
    /* feed() only: each goes to the DLQ with its reason and bytes */
    struct hark_bad_msg *bad;
    size_t n_bad;
};

/*
 * An adapter: one file, one row in the registry (ingest/registry.c).
 *
 * init: validates and keeps the type-specific keys of `obj` (the whole
 *   source object; the engine has checked the common keys already).
 *   Errors go to `diag` with positions. *state is owned by the engine and
 *   released with free_state.
 * build_url: the URL of the next request. `cursor` is the committed
 *   high-water mark (NULL on a first run), `token` the page token from the
 *   previous page of this walk (NULL at the start of a walk), `page_index`
 *   counts pages within the walk from 0.
 * parse: turns a 2xx response into posts. HARK_EINVAL (with `errbuf`) when
 *   the body cannot be parsed at all: the engine sends it to the DLQ.
 */
struct hark_source_ops {
    const char *type;
    const struct hark_cfgmap *cfgmap; /* type-specific keys */
    hark_err_t (*init)(const struct hark_source_cfg *cfg,
                       const struct hark_json_doc *doc,
                       const struct hark_json *obj, struct hark_diag *diag,
                       void **state);
    hark_err_t (*build_url)(void *state, const char *cursor,
                            const char *token, int page_index,
                            struct hark_buf *url);
    hark_err_t (*parse)(void *state, const struct hark_response *resp,
                        struct hark_page *page, char *errbuf,
                        size_t errbuf_len);
    void (*free_state)(void *state);
    /*
     * Optional (NULL: none). Extra request headers for the request whose
     * URL build_url just built: appends "Name: value" strings to
     * `headers` (which starts empty). The engine sends them with its own,
     * leaving out its own header of any name given here (so an
     * adapter's Authorization replaces the token_env one). The values may
     * be secrets: the engine never logs them, frees them once curl has
     * copied them, and logs only `errbuf` on failure. Error (errbuf says
     * why, naming no secret): the engine skips the request and backs off,
     * as when build_url fails.
     */
    hark_err_t (*request_headers)(void *state, struct hark_strv *headers,
                                  char *errbuf, size_t errbuf_len);
    /*
     * Optional (NULL: a polling adapter). Streams (Mastodon streaming, X
     * filtered stream). When stream_url gives a URL, the engine opens a
     * long-lived request after every completed walk (the REST catch-up
     * from the cursor) and hands each chunk of the body to feed(), which
     * keeps partial messages in its state and fills `page` with the posts
     * of the complete ones (page->cursor: the newest id, committed like a
     * forward page). HARK_EINVAL from feed: a message could not be parsed
     * (`errbuf` says why; the engine sends it to the DLQ and reads on).
     * When the stream ends or stalls, the engine backs off, walks again
     * (catch-up) and reconnects; stream_reset() drops partial input
     * before every connection. A stream with no REST catch-up returns
     * HARK_ECLOSED from build_url: the engine then streams at once and
     * records a gap for the time it was disconnected.
     * stream_url returns HARK_ECLOSED when this source does not stream
     * (e.g. a Mastodon source without "stream": true).
     */
    hark_err_t (*stream_url)(void *state, const char *cursor,
                             struct hark_buf *url);
    hark_err_t (*feed)(void *state, const char *data, size_t len,
                       struct hark_page *page, char *errbuf,
                       size_t errbuf_len);
    void (*stream_reset)(void *state);
    /*
     * Optional (NULL: the adapter needs no token of its own). Adapters
     * that fetch and refresh an OAuth token themselves (Reddit's client
     * credentials from client_id_env / client_secret_env):
     *   token_needed: whether a token must be fetched before the next
     *     request (none yet, or it expires within a minute);
     *   token_request: the POST to make: its URL, its form body and its
     *     headers (e.g. Basic auth; secrets: never logged);
     *   token_parse: keeps the token from a 2xx response (request_headers
     *     then sends it); an error says why without the secret;
     *   token_invalidate: forget the token after a 401, so one refresh and
     *     one retry follow before the source stops.
     */
    bool (*token_needed)(void *state, int64_t now_ms);
    hark_err_t (*token_request)(void *state, struct hark_buf *url,
                                struct hark_buf *body,
                                struct hark_strv *headers, char *errbuf,
                                size_t errbuf_len);
    hark_err_t (*token_parse)(void *state, const struct hark_response *resp,
                              int64_t now_ms, char *errbuf,
                              size_t errbuf_len);
    void (*token_invalidate)(void *state);
    /*
     * Optional (NULL: none). Secret query parameters for the request whose
     * URL build_url (or stream_url) just built, for APIs that take a key
     * only in the query (`?api_key=`): appends "name=value" pairs, already
     * URL-encoded and joined by '&', to `query` (which starts empty). The
     * engine adds them to the URL it gives curl, never to the one it logs,
     * reports to the DLQ or passes to parse (resp->url). Errors as
     * request_headers.
     */
    hark_err_t (*request_query)(void *state, struct hark_buf *query,
                                char *errbuf, size_t errbuf_len);
};

/* NULL when no adapter has that type. */
const struct hark_source_ops *hark_source_ops_find(const char *type);
/* "mastodon, reddit, ..." for messages; static storage. */
const char *hark_source_types(void);

void hark_page_cleanup(struct hark_page *page);
/* Records a message feed() could not read (raw may be NULL: too big). */
void hark_page_add_bad(struct hark_page *page, const char *raw,
                       size_t raw_len, const char *reason);
/* The value of header `name` (lowercase), or NULL. Borrowed. */
const char *hark_response_header(const struct hark_response *resp,
                                 const char *name);

/*
 * HTML to plain text (ingest/html_text.c): every text node kept in order,
 * tags stripped, entities decoded, <br> and paragraph boundaries as line
 * breaks, invalid UTF-8 repaired (counted in *n_repaired). Returns a new
 * NUL-terminated string the caller frees.
 */
char *hark_html_to_text(const char *html, size_t len, unsigned *n_repaired);

/*
 * Parses the Link header (RFC 8288) and returns a copy of the URL whose
 * rel is `rel` ("next", "prev"), or NULL.
 */
char *hark_link_find(const char *link_header, const char *rel);
/* The value of query parameter `name` in `url`, decoded; or NULL. */
char *hark_url_param(const char *url, const char *name);
/*
 * A copy of `url` fit for logs (caller frees): a password in the userinfo
 * and the values of query parameters whose names say they hold a secret
 * (api_key, apikey, api-key, key, token, access_token, secret,
 * client_secret, password, sig, signature, auth: any case) are replaced
 * by "REDACTED". A URL curl cannot parse is copied with everything after
 * '?' replaced.
 */
char *hark_url_redacted(const char *url);

#endif /* HARK_SOURCE_H */
