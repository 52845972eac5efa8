/*
 * sse: the line framer for streaming bodies (see sse_int.h).
 *
 * The input is cut into lines first (any of "\n", "\r\n", lone "\r"; the
 * pair may straddle two chunks, which is what is_after_cr remembers), then
 * each complete line is interpreted by the mode: NDJSON hands non-blank
 * lines on as messages, SSE applies the event-stream field rules and
 * dispatches at a blank line.
 *
 * Memory never exceeds about max_msg per buffer: a line that grows past the
 * limit stops being stored (is_line_too_big) but is still counted, so the
 * message it belongs to can be reported once with its size when it ends.
 *
 * Thread: the framer's owner only.
 */
#include "sse_int.h"

#include <string.h>

/* Room for an SSE field name ("data: ") on a line holding max_msg bytes. */
#define FIELD_SLACK 16

void hark_sse_init(struct hark_sse *sse, enum hark_sse_mode mode,
                   size_t max_msg)
{
    memset(sse, 0, sizeof(*sse));
    sse->mode = mode;
    sse->max_msg = max_msg ? max_msg : HARK_SSE_MAX_MSG;
    hark_buf_init(&sse->line, 0);
    hark_buf_init(&sse->event, 0);
    hark_buf_init(&sse->data, 0);
}

static void clear_message(struct hark_sse *sse)
{
    hark_buf_reset(&sse->event);
    hark_buf_reset(&sse->data);
    sse->has_data = false;
    sse->is_msg_too_big = false;
    sse->msg_size = 0;
}

static void clear_line(struct hark_sse *sse)
{
    hark_buf_reset(&sse->line);
    sse->is_line_too_big = false;
    sse->line_size = 0;
}

void hark_sse_reset(struct hark_sse *sse)
{
    clear_line(sse);
    clear_message(sse);
    sse->is_after_cr = false;
}

void hark_sse_cleanup(struct hark_sse *sse)
{
    hark_buf_cleanup(&sse->line);
    hark_buf_cleanup(&sse->event);
    hark_buf_cleanup(&sse->data);
}

static size_t line_limit(const struct hark_sse *sse)
{
    return sse->mode == HARK_SSE_EVENTS ? sse->max_msg + FIELD_SLACK
                                        : sse->max_msg;
}

/* Bytes of the current line; beyond the limit they are only counted. */
static void add_to_line(struct hark_sse *sse, const char *p, size_t n)
{
    sse->line_size += n;
    if (sse->is_line_too_big) {
        return;
    }
    if (sse->line.len + n > line_limit(sse)) {
        sse->is_line_too_big = true;
        hark_buf_reset(&sse->line);
        return;
    }
    (void)hark_buf_add(&sse->line, p, n); /* unbounded: cannot fail */
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return false;
        }
    }
    return true;
}

static void ndjson_line(struct hark_sse *sse, hark_sse_msg_fn fn, void *ctx)
{
    struct hark_sse_msg msg = {NULL, NULL, 0, false, sse->line_size};
    if (sse->is_line_too_big) {
        msg.is_too_big = true;
        fn(ctx, &msg);
        return;
    }
    if (is_blank(sse->line.ptr, sse->line.len)) {
        return; /* a keep-alive */
    }
    msg.data = sse->line.ptr;
    msg.data_len = sse->line.len;
    fn(ctx, &msg);
}

static void sse_dispatch(struct hark_sse *sse, hark_sse_msg_fn fn, void *ctx)
{
    const char *event = sse->event.len > 0 ? sse->event.ptr : "message";
    struct hark_sse_msg msg = {event, NULL, 0, false, sse->msg_size};
    if (sse->is_msg_too_big) {
        msg.is_too_big = true;
        fn(ctx, &msg);
    } else if (sse->has_data) {
        msg.data = sse->data.ptr ? sse->data.ptr : "";
        msg.data_len = sse->data.len;
        fn(ctx, &msg);
    }
    /* No data field: the spec says nothing is dispatched. */
    clear_message(sse);
}

static void sse_field(struct hark_sse *sse, const char *name, size_t name_len,
                      const char *value, size_t value_len)
{
    if (name_len == 5 && memcmp(name, "event", 5) == 0) {
        hark_buf_reset(&sse->event);
        (void)hark_buf_add(&sse->event, value, value_len);
        return;
    }
    if (name_len != 4 || memcmp(name, "data", 4) != 0) {
        return; /* id, retry and unknown fields */
    }
    if (sse->is_msg_too_big) {
        return;
    }
    size_t need = value_len + (sse->has_data ? 1 : 0);
    if (sse->data.len + need > sse->max_msg) {
        sse->is_msg_too_big = true;
        hark_buf_reset(&sse->data);
        return;
    }
    if (sse->has_data) {
        (void)hark_buf_addc(&sse->data, '\n');
    }
    (void)hark_buf_add(&sse->data, value, value_len);
    sse->has_data = true;
}

static void sse_line(struct hark_sse *sse, hark_sse_msg_fn fn, void *ctx)
{
    if (sse->is_line_too_big) {
        /* Whatever field it was, the message cannot be kept whole. */
        sse->msg_size += sse->line_size;
        sse->is_msg_too_big = true;
        hark_buf_reset(&sse->data);
        return;
    }
    const char *s = sse->line.ptr ? sse->line.ptr : "";
    size_t n = sse->line.len;
    if (n == 0) {
        sse_dispatch(sse, fn, ctx);
        return;
    }
    sse->msg_size += n + 1;
    if (s[0] == ':') {
        return; /* a comment: heartbeats (":thump") and openers (":)") */
    }
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *value = colon ? colon + 1 : s + n;
    size_t value_len = (size_t)(s + n - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    sse_field(sse, s, name_len, value, value_len);
}

static void end_line(struct hark_sse *sse, hark_sse_msg_fn fn, void *ctx)
{
    if (sse->mode == HARK_SSE_NDJSON) {
        ndjson_line(sse, fn, ctx);
    } else {
        sse_line(sse, fn, ctx);
    }
    clear_line(sse);
}

void hark_sse_feed(struct hark_sse *sse, const char *data, size_t len,
                   hark_sse_msg_fn fn, void *ctx)
{
    size_t i = 0;
    if (len > 0 && sse->is_after_cr && data[0] == '\n') {
        i = 1; /* the second half of a "\r\n" that straddled chunks */
    }
    if (len > 0) {
        sse->is_after_cr = false;
    }
    while (i < len) {
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r') {
            j++;
        }
        add_to_line(sse, data + i, j - i);
        if (j == len) {
            break; /* the line continues in the next chunk */
        }
        if (data[j] == '\r') {
            if (j + 1 == len) {
                sse->is_after_cr = true;
            } else if (data[j + 1] == '\n') {
                j++;
            }
        }
        end_line(sse, fn, ctx);
        i = j + 1;
    }
}
