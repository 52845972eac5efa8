#include "cursor_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/json.h"
#include "hark/post.h"

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

void hark_cursor_init(struct hark_cursor *c, const char *path, size_t window)
{
    memset(c, 0, sizeof(*c));
    c->path = hark_xstrdup(path);
    c->next_seq = 1;
    c->base_seq = 1;
    c->window_cap = window ? window : 1;
    c->window = hark_xcalloc(c->window_cap, sizeof(*c->window));
    c->set_cap = pow2_at_least(c->window_cap * 4);
    c->set = hark_xcalloc(c->set_cap, sizeof(*c->set));
}

void hark_cursor_cleanup(struct hark_cursor *c)
{
    for (size_t i = 0; i < c->ring_len; i++) {
        free(c->ring[(c->ring_head + i) % c->ring_cap].marker);
    }
    free(c->ring);
    free(c->window);
    free(c->set);
    free(c->committed);
    free(c->path);
    memset(c, 0, sizeof(*c));
}

/* ---- the hash set (linear probing, backward-shift deletion) ---- */

static size_t slot_of(const struct hark_cursor *c, uint64_t h)
{
    return (size_t)(h * 0x9E3779B97F4A7C15ULL) & (c->set_cap - 1);
}

static void set_insert(struct hark_cursor *c, uint64_t h);

static void set_grow(struct hark_cursor *c)
{
    uint64_t *old = c->set;
    size_t old_cap = c->set_cap;
    c->set_cap *= 2;
    c->set = hark_xcalloc(c->set_cap, sizeof(*c->set));
    c->set_len = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i]) {
            set_insert(c, old[i]);
        }
    }
    free(old);
}

/* The set is a multiset in effect: a hash in flight twice is inserted once
 * (callers check hark_cursor_seen first). */
static void set_insert(struct hark_cursor *c, uint64_t h)
{
    if ((c->set_len + 1) * 2 > c->set_cap) {
        set_grow(c);
    }
    size_t i = slot_of(c, h);
    while (c->set[i]) {
        if (c->set[i] == h) {
            return;
        }
        i = (i + 1) & (c->set_cap - 1);
    }
    c->set[i] = h;
    c->set_len++;
}

static void set_remove(struct hark_cursor *c, uint64_t h)
{
    size_t i = slot_of(c, h);
    while (c->set[i] && c->set[i] != h) {
        i = (i + 1) & (c->set_cap - 1);
    }
    if (!c->set[i]) {
        return;
    }
    c->set[i] = 0;
    c->set_len--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (c->set_cap - 1);
        if (!c->set[j]) {
            break;
        }
        size_t home = slot_of(c, c->set[j]);
        /* Move set[j] into the hole at i if its home is not in (i, j]. */
        bool between = i <= j ? (home > i && home <= j)
                              : (home > i || home <= j);
        if (!between) {
            c->set[i] = c->set[j];
            c->set[j] = 0;
            i = j;
        }
    }
}

bool hark_cursor_seen(const struct hark_cursor *c, uint64_t h)
{
    size_t i = slot_of(c, h);
    while (c->set[i]) {
        if (c->set[i] == h) {
            return true;
        }
        i = (i + 1) & (c->set_cap - 1);
    }
    return false;
}

uint64_t hark_cursor_post_hash(const char *id, const char *revision)
{
    uint64_t h = hark_hash64(id, strlen(id), HARK_HASH_SEED);
    h = hark_hash64("\x1f", 1, h);
    h = hark_hash64(revision, strlen(revision), h);
    return h ? h : 1; /* 0 marks an empty slot */
}

static void window_add(struct hark_cursor *c, uint64_t h)
{
    if (c->window_len == c->window_cap) {
        uint64_t old = c->window[c->window_pos];
        set_remove(c, old);
        c->window[c->window_pos] = h;
        c->window_pos = (c->window_pos + 1) % c->window_cap;
    } else {
        c->window[(c->window_pos + c->window_len) % c->window_cap] = h;
        c->window_len++;
    }
}

/* ---- the sequence ring ---- */

static struct cursor_entry *push_entry(struct hark_cursor *c)
{
    if (c->ring_len == c->ring_cap) {
        size_t cap = c->ring_cap ? c->ring_cap * 2 : 256;
        struct cursor_entry *ring = hark_xcalloc(cap, sizeof(*ring));
        for (size_t i = 0; i < c->ring_len; i++) {
            ring[i] = c->ring[(c->ring_head + i) % c->ring_cap];
        }
        free(c->ring);
        c->ring = ring;
        c->ring_cap = cap;
        c->ring_head = 0;
    }
    struct cursor_entry *e = &c->ring[(c->ring_head + c->ring_len) % c->ring_cap];
    c->ring_len++;
    memset(e, 0, sizeof(*e));
    c->next_seq++;
    return e;
}

uint64_t hark_cursor_add_post(struct hark_cursor *c, uint64_t hash)
{
    uint64_t seq = c->next_seq;
    struct cursor_entry *e = push_entry(c);
    e->hash = hash;
    set_insert(c, hash);
    c->n_in_flight++;
    return seq;
}

void hark_cursor_add_marker(struct hark_cursor *c, const char *value)
{
    struct cursor_entry *e = push_entry(c);
    e->is_marker = true;
    e->is_acked = true;
    e->marker = hark_xstrdup(value);
}

void hark_cursor_ack(struct hark_cursor *c, uint64_t seq)
{
    if (seq < c->base_seq || seq >= c->base_seq + c->ring_len) {
        return;
    }
    struct cursor_entry *e =
        &c->ring[(c->ring_head + (seq - c->base_seq)) % c->ring_cap];
    if (!e->is_acked && !e->is_marker) {
        e->is_acked = true;
        c->n_in_flight--;
    }
}

bool hark_cursor_advance(struct hark_cursor *c)
{
    bool moved = false;
    while (c->ring_len > 0) {
        struct cursor_entry *e = &c->ring[c->ring_head];
        if (!e->is_acked) {
            break;
        }
        if (e->is_marker) {
            if (e->marker && (!c->committed ||
                              strcmp(c->committed, e->marker) != 0)) {
                free(c->committed);
                c->committed = e->marker;
                e->marker = NULL;
                moved = true;
            }
            free(e->marker);
        } else {
            window_add(c, e->hash);
            c->is_dirty = true;
        }
        c->ring_head = (c->ring_head + 1) % c->ring_cap;
        c->ring_len--;
        c->base_seq++;
    }
    if (moved) {
        c->is_dirty = true;
    }
    return moved;
}

/* ---- persistence ---- */

hark_err_t hark_cursor_load(struct hark_cursor *c, char *errbuf,
                            size_t errbuf_len)
{
    char *text = NULL;
    size_t len = 0;
    FILE *probe = fopen(c->path, "rb");
    if (!probe) {
        return HARK_OK; /* first run */
    }
    fclose(probe);
    hark_err_t err =
        hark_file_read(c->path, 64u << 20, &text, &len, errbuf, errbuf_len);
    if (err != HARK_OK) {
        return err;
    }
    struct hark_json_doc *doc = NULL;
    struct hark_json_opts opts = {.validate_utf8 = true};
    char perr[256];
    size_t off = 0;
    err = hark_json_parse(text, len, c->path, &opts, &doc, perr, sizeof(perr),
                          &off);
    free(text);
    if (err != HARK_OK) {
        snprintf(errbuf, errbuf_len, "%s: corrupt state file (%s at byte %zu)",
                 c->path, perr, off);
        return HARK_EINVAL;
    }
    const char *cur = hark_json_str(hark_json_get(doc->root, "cursor"));
    free(c->committed);
    c->committed = hark_xstrdup(cur);
    const struct hark_json *seen = hark_json_get(doc->root, "seen");
    if (seen && seen->type == HARK_JSON_ARRAY) {
        for (size_t i = 0; i < seen->n; i++) {
            const char *hex = hark_json_str(seen->items[i]);
            if (!hex) {
                continue;
            }
            uint64_t h = strtoull(hex, NULL, 16);
            if (h && !hark_cursor_seen(c, h)) {
                set_insert(c, h);
                window_add(c, h);
            }
        }
    }
    hark_json_doc_free(doc);
    return HARK_OK;
}

hark_err_t hark_cursor_save(struct hark_cursor *c, char *errbuf,
                            size_t errbuf_len)
{
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    hark_buf_printf(&buf, "{\"version\": 1, \"cursor\": ");
    if (c->committed) {
        /* Cursor values are ids or tokens: escape quotes and backslashes,
         * and never write invalid UTF-8 (the load would reject it). */
        char *cur = hark_utf8_repair(c->committed, strlen(c->committed),
                                     NULL);
        hark_buf_addc(&buf, '"');
        for (const char *p = cur; *p; p++) {
            if (*p == '"' || *p == '\\') {
                hark_buf_addc(&buf, '\\');
            }
            if ((unsigned char)*p < 0x20) {
                continue;
            }
            hark_buf_addc(&buf, *p);
        }
        free(cur);
        hark_buf_addc(&buf, '"');
    } else {
        hark_buf_printf(&buf, "null");
    }
    hark_buf_printf(&buf, ", \"seen\": [");
    for (size_t i = 0; i < c->window_len; i++) {
        uint64_t h = c->window[(c->window_pos + i) % c->window_cap];
        hark_buf_printf(&buf, "%s\"%016llx\"", i ? "," : "",
                        (unsigned long long)h);
    }
    hark_buf_printf(&buf, "]}\n");
    hark_err_t err =
        hark_file_write_atomic(c->path, buf.ptr, buf.len, errbuf, errbuf_len);
    hark_buf_cleanup(&buf);
    if (err == HARK_OK) {
        c->is_dirty = false;
    }
    return err;
}
