/*
 * source_int: declarations shared inside ingest/ only: the adapter tables
 * the registry lists, and the helpers adapters share (HTML with link
 * callbacks, URL encoding, id ordering, response and JSON reading, the
 * stream feed loop).
 *
 * Thread: every function here is pure (no shared state); adapters call
 * them from the ingest thread, tests from anywhere.
 */
#ifndef HARK_SOURCE_INT_H
#define HARK_SOURCE_INT_H

#include "hark/source.h"

struct hark_sse;
struct hark_sse_msg;

/* The adapters (one per src_<platform>.c), listed in registry.c. */
extern const struct hark_source_ops hark_src_mastodon;
extern const struct hark_source_ops hark_src_reddit;
extern const struct hark_source_ops hark_src_hackernews;
extern const struct hark_source_ops hark_src_bluesky;
extern const struct hark_source_ops hark_src_json;
extern const struct hark_source_ops hark_src_x_stream;

/*
 * Called by hark_html_to_text_links() for every <a> start tag, in document
 * order. `href`, `cls` and `rel` are the attribute values with entities
 * decoded, NUL-terminated, borrowed for the call; NULL when absent.
 */
typedef void (*hark_html_link_fn)(void *ctx,
                                  const char *href,
                                  const char *cls,
                                  const char *rel);

/*
 * hark_html_to_text() that also reports every <a> tag to `link_fn` (may be
 * NULL). Returns a new NUL-terminated string the caller frees; never NULL.
 * *n_repaired (may be NULL) is increased by the number of invalid UTF-8
 * sequences (and NUL bytes) replaced by U+FFFD, as hark_utf8_repair()
 * does; hark_html_to_text() counts the same way.
 */
char *hark_html_to_text_links(const char *html,
                              size_t len,
                              unsigned *n_repaired,
                              hark_html_link_fn link_fn,
                              void *ctx);

/*
 * Appends s[0..len) percent-encoded (everything but RFC 3986 unreserved
 * characters), for a path segment or a query value.
 * HARK_ELIMIT when `buf` would exceed its maximum (buf unchanged then is
 * not guaranteed: the caller discards it).
 */
HARK_MUST_CHECK hark_err_t hark_url_encode(struct hark_buf *buf,
                                           const char *s,
                                           size_t len);

/*
 * Base64 (RFC 4648 section 4, with '=' padding) of data[0..len). Returns a
 * new NUL-terminated string the caller frees (zero it first when `data`
 * was a secret); never NULL. Defined in src_reddit.c (Basic auth).
 */
char *hark_base64_encode(const void *data, size_t len);

/*
 * Orders platform ids that are decimal strings (Mastodon, X): leading
 * zeros ignored, then shorter is smaller, then byte order. Never parses a
 * number, so 64-bit (and longer) ids stay exact. Returns <0, 0, >0.
 */
int hark_id_cmp(const char *a, const char *b);

/*
 * Parses a response body as JSON (validate_utf8 off: strings are repaired
 * per post; depth at most 64). An empty body, an HTML page or invalid JSON
 * is HARK_EINVAL with `errbuf` saying which ("empty body; expected
 * <expected>", "not JSON (text/html?): body starts ...", "invalid JSON at
 * byte N of M: ..."). Success: *doc owned by the caller.
 */
HARK_MUST_CHECK hark_err_t hark_response_json(const struct hark_response *resp,
                                              const char *expected,
                                              struct hark_json_doc **doc,
                                              char *errbuf, size_t errbuf_len);

/* vsnprintf into errbuf (NULL or 0 bytes: nothing). */
void hark_errbuf_printf(char *errbuf, size_t errbuf_len, const char *fmt, ...)
    HARK_PRINTF(3, 4);

/*
 * A copy of a non-empty JSON string, with invalid UTF-8 and NUL bytes
 * replaced by U+FFFD (counted in *n_repaired, which may be NULL); NULL for
 * a missing, empty or non-string value. The caller frees it.
 */
char *hark_json_dup_repaired(const struct hark_json *v, unsigned *n_repaired);

/*
 * Header `name` read as a non-negative count (rate limits): -1 when absent
 * or not a number in 0..9e15 (a fraction is truncated).
 */
int64_t hark_response_count(const struct hark_response *resp,
                            const char *name);

/* obj[key] as a count: 0 when missing, not an integer or negative. */
int64_t hark_json_count(const struct hark_json *obj, const char *key);

/*
 * What one feed() call collects from the stream messages it completes
 * (src_mastodon.c, src_x_stream.c). Lives on hark_feed_run()'s stack.
 */
struct hark_feed {
    void *state; /* the adapter's */
    struct hark_page *page;
    size_t n_bad;
    char *errbuf;
    size_t errbuf_len;
    const char *raw; /* the message being read (for the DLQ) */
    size_t raw_len;
};

typedef void (*hark_feed_msg_fn)(struct hark_feed *feed,
                                 const struct hark_sse_msg *msg);

/*
 * The body of a stream adapter's ops->feed(): marks the page forward,
 * clears errbuf, frames `data` with `sse` and calls `fn` for every message
 * it completes (feed->raw holds the message's bytes, NULL when it was too
 * big), then appends " (and N more)" to the first bad message's reason in
 * errbuf. HARK_EINVAL when any message was bad (each is on page->bad),
 * else HARK_OK; the posts are on the page either way.
 */
HARK_MUST_CHECK hark_err_t hark_feed_run(struct hark_sse *sse, void *state,
                                         const char *data, size_t len,
                                         struct hark_page *page, char *errbuf,
                                         size_t errbuf_len,
                                         hark_feed_msg_fn fn);

/*
 * A message that could not be read: recorded with its own bytes (the
 * engine sends each to the DLQ); the first one's reason also goes to
 * errbuf.
 */
void hark_feed_bad(struct hark_feed *feed, const char *fmt, ...)
    HARK_PRINTF(2, 3);

/* Appends `post` to the page; the page takes it. */
void hark_feed_add(struct hark_feed *feed, struct hark_post *post);

#endif /* HARK_SOURCE_INT_H */
