/*
 * sse: an incremental framer for the bodies of streaming APIs, shared by
 * the stream adapters (src_mastodon.c with "stream": true, src_x_stream.c).
 *
 * Two framings:
 *   HARK_SSE_EVENTS  server-sent events (text/event-stream, the WHATWG
 *                    "event stream" format): `event:` and `data:` fields,
 *                    multi-line data joined with '\n', comment lines
 *                    (":thump", ":)") ignored, a blank line dispatches the
 *                    message; `id:` and `retry:` are read and ignored.
 *   HARK_SSE_NDJSON  one message per line (X filtered stream); blank lines
 *                    (the "\r\n" keep-alives) are ignored.
 * Lines end with "\n", "\r\n" or a lone "\r", and may be split across
 * chunks at any byte, the "\r\n" pair included.
 *
 * Bounded: a message (or a single line) longer than `max_msg` bytes is not
 * kept: its bytes are discarded as they arrive and it is reported once, as
 * a message with is_too_big set, when it ends (NDJSON: at its newline; SSE:
 * at the blank line that ends it). Framing resumes with the next line.
 *
 * Thread: a framer belongs to one thread (the ingest thread for adapters).
 */
#ifndef HARK_SSE_INT_H
#define HARK_SSE_INT_H

#include "hark/common.h"

#define HARK_SSE_MAX_MSG (1u << 20) /* 1 MiB */

enum hark_sse_mode {
    HARK_SSE_EVENTS = 0,
    HARK_SSE_NDJSON
};

/*
 * One complete message, borrowed for the duration of the callback.
 *   event: SSE: the `event:` field, "message" when none was given;
 *          NDJSON: NULL.
 *   data:  NUL-terminated, data_len bytes (SSE data lines joined with
 *          '\n'; NDJSON: the line without its terminator). NULL when
 *          is_too_big.
 *   size:  bytes the message had on the wire (at least max_msg + 1 when
 *          is_too_big).
 */
struct hark_sse_msg {
    const char *event;
    const char *data;
    size_t data_len;
    bool is_too_big;
    size_t size;
};

typedef void (*hark_sse_msg_fn)(void *ctx, const struct hark_sse_msg *msg);

/* Lives in caller storage; the fields are private. */
struct hark_sse {
    enum hark_sse_mode mode;
    size_t max_msg;
    struct hark_buf line;  /* the line being read */
    struct hark_buf event; /* SSE: the current message's event name */
    struct hark_buf data;  /* SSE: the current message's data */
    bool has_data;         /* SSE: a data field was seen */
    bool is_line_too_big;  /* the line being read is being discarded */
    bool is_msg_too_big;   /* SSE: the current message is being discarded */
    bool is_after_cr;      /* the last byte fed was '\r' */
    size_t line_size;      /* bytes of the current line so far */
    size_t msg_size;       /* SSE: bytes of the current message so far */
};

/* max_msg 0 = HARK_SSE_MAX_MSG. */
void hark_sse_init(struct hark_sse *sse, enum hark_sse_mode mode,
                   size_t max_msg);

/*
 * Feeds `len` bytes of the body and calls `fn` (with `ctx`) for every
 * message they complete, in order. Partial input is kept for the next
 * call. Never fails (memory is bounded by max_msg).
 */
void hark_sse_feed(struct hark_sse *sse, const char *data, size_t len,
                   hark_sse_msg_fn fn, void *ctx);

/* Drops partial input (before a new connection); keeps the settings. */
void hark_sse_reset(struct hark_sse *sse);

void hark_sse_cleanup(struct hark_sse *sse);

#endif /* HARK_SSE_INT_H */
