/*
 * source_int: declarations shared inside ingest/ only: the adapter tables
 * the registry lists, and the helpers adapters share (HTML with link
 * callbacks, URL encoding, id ordering).
 *
 * Thread: every function here is pure (no shared state); adapters call
 * them from the ingest thread, tests from anywhere.
 */
#ifndef HARK_SOURCE_INT_H
#define HARK_SOURCE_INT_H

#include "hark/source.h"

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

#endif /* HARK_SOURCE_INT_H */
