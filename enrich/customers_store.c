/*
 * customers_store: the customer directory's arena and blocks: writing a
 * customer's block (customers_load.c calls it once a row is checked),
 * decoding it again (hark_customer_view_fill), and the directory's life
 * (new, sealing it at the end of a load, free). The layout is described in
 * customers_int.h; identity.c owns the identity index and the lookups.
 *
 * Thread: a directory is written by the one thread that loads it, and only
 * read afterwards.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hark/customers.h"

#include "customers_int.h"

/* ---- arena ---------------------------------------------------------- */

/* ASCII lowercase; other bytes (UTF-8 included) unchanged. */
static char lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

/*
 * The arena is mapped once, sized from the file; when that was too little
 * it moves to a mapping twice as large (offsets stay valid).
 */
char *hark_cust_arena_room(struct hark_customers *dir, size_t len)
{
    if (dir->arena_len + len > HARK_CUST_ARENA_MAX) {
        return NULL;
    }
    if (dir->arena_len + len > dir->arena_cap) {
        size_t cap = dir->arena_cap * 2;
        while (cap < dir->arena_len + len) {
            cap *= 2;
        }
        cap = cap > HARK_CUST_ARENA_MAX ? HARK_CUST_ARENA_MAX : cap;
        char *arena = hark_cust_map(cap);
        memcpy(arena, dir->arena, dir->arena_len);
        hark_cust_unmap(dir->arena, dir->arena_cap);
        dir->arena = arena;
        dir->arena_cap = cap;
    }
    return dir->arena + dir->arena_len;
}

/* Appends s[0..len) and a NUL; false past 4 GiB. */
static bool
arena_add(struct hark_customers *dir, const char *s, size_t len, uint32_t *off)
{
    char *p = hark_cust_arena_room(dir, len + 1);
    if (!p) {
        return false;
    }
    if (len) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    *off = (uint32_t)dir->arena_len;
    dir->arena_len += len + 1;
    return true;
}

/* Writes v as a LEB128 varint at p; returns the bytes written (1..5). */
static size_t put_varint(unsigned char *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

enum { NEAR = 1 << 14 }; /* a varint of 2 bytes reaches this far back */

/*
 * A copy of a tier or segment string no further than NEAR / 2 before the
 * arena's end (so the block about to be written reaches it with a 2-byte
 * varint), interned in `pool`: a value is written again only every NEAR / 2
 * bytes. *off = 0 for an empty one. False past 4 GiB.
 */
static bool intern(struct hark_customers *dir,
                   struct hark_cust_table *pool,
                   struct hark_str v,
                   uint32_t *off)
{
    *off = 0;
    if (v.len == 0) {
        return true;
    }
    if (v.len >= NEAR / 2) {
        return arena_add(dir, v.ptr, v.len, off);
    }
    uint64_t h = hark_cust_key_hash(0, false, &v, 1);
    uint32_t *ref = hark_cust_table_find_ref(pool, dir, &v, h);
    if (ref && dir->arena_len - *ref < NEAR / 2) {
        *off = *ref;
        return true;
    }
    if (!arena_add(dir, v.ptr, v.len, off)) {
        return false;
    }
    if (ref) {
        *ref = *off;
    } else {
        hark_cust_table_add(pool, *off, h);
    }
    return true;
}

/* ---- blocks --------------------------------------------------------- */

/* The fields of a block's head (see customers_int.h). */
struct head {
    double clv;
    double revenue_12m;
    uint32_t counts[HARK_CUST_N_COUNTS];
    uint32_t tier; /* distance back to the string; 0 = none */
    uint32_t segment;
};

static double get_money(const unsigned char **p, bool is_cents)
{
    double d;
    if (is_cents) {
        return (double)hark_cust_varint(p) / 100.0;
    }
    memcpy(&d, *p, sizeof(d));
    *p += sizeof(d);
    return d;
}

/* Decodes a block's head; returns where its strings start. */
static const char *get_head(const struct hark_customer *cust, struct head *h)
{
    const unsigned char *p = &cust->flags;
    unsigned flags = *p++;
    unsigned counts = (flags & HARK_CUST_HAS_COUNTS) ? *p++ : 0;
    memset(h, 0, sizeof(*h));
    if (flags & HARK_CUST_HAS_CLV) {
        h->clv = get_money(&p, (flags & HARK_CUST_CLV_CENTS) != 0);
    }
    if (flags & HARK_CUST_HAS_REVENUE) {
        h->revenue_12m = get_money(&p, (flags & HARK_CUST_REVENUE_CENTS) != 0);
    }
    for (int i = 0; i < HARK_CUST_N_COUNTS; i++) {
        if (counts & (1u << i)) {
            h->counts[i] = hark_cust_varint(&p);
        }
    }
    if (flags & HARK_CUST_HAS_TIER) {
        h->tier = hark_cust_varint(&p);
    }
    if (flags & HARK_CUST_HAS_SEGMENT) {
        h->segment = hark_cust_varint(&p);
    }
    return (const char *)p;
}

const char *hark_cust_block_id(const struct hark_customer *cust)
{
    struct head h;
    return get_head(cust, &h);
}

/* Bytes a block needs at most besides its strings. */
static size_t block_head_max(void)
{
    return 2 + 2 * sizeof(double) + 6 * 5;
}

/* Cents when a positive amount is exactly cents / 100 (decoded alike). */
static bool as_cents(double d, uint32_t *cents)
{
    if (!(d > 0) || d >= 42949672.0) {
        return false;
    }
    uint32_t k = (uint32_t)(d * 100.0 + 0.5);
    if ((double)k / 100.0 != d) {
        return false;
    }
    *cents = k;
    return true;
}

/* Writes an amount; returns the bytes (0 when it is zero: not written). */
static size_t put_money(unsigned char *p,
                        double d,
                        unsigned *flags,
                        unsigned has,
                        unsigned cents_flag)
{
    static const double zero = 0;
    uint32_t cents = 0;
    if (memcmp(&d, &zero, sizeof(d)) == 0) {
        return 0; /* +0.0; -0.0 is kept as a double */
    }
    *flags |= has;
    if (as_cents(d, &cents)) {
        *flags |= cents_flag;
        return put_varint(p, cents);
    }
    memcpy(p, &d, sizeof(d));
    return sizeof(d);
}

/* Writes the head of a block at p; returns the bytes. */
static size_t put_head(unsigned char *p,
                       const struct hark_cust_rec *rec,
                       uint32_t tier,
                       uint32_t segment)
{
    unsigned flags = 0;
    unsigned counts = 0;
    for (int i = 0; i < HARK_CUST_N_COUNTS; i++) {
        counts |= rec->counts[i] ? 1u << i : 0;
    }
    size_t n = 1;
    if (counts) {
        flags |= HARK_CUST_HAS_COUNTS;
        p[n++] = (unsigned char)counts;
    }
    n += put_money(p + n, rec->clv, &flags, HARK_CUST_HAS_CLV,
                   HARK_CUST_CLV_CENTS);
    n += put_money(p + n, rec->revenue_12m, &flags, HARK_CUST_HAS_REVENUE,
                   HARK_CUST_REVENUE_CENTS);
    for (int i = 0; i < HARK_CUST_N_COUNTS; i++) {
        if (rec->counts[i]) {
            n += put_varint(p + n, rec->counts[i]);
        }
    }
    if (tier) {
        flags |= HARK_CUST_HAS_TIER;
        n += put_varint(p + n, tier);
    }
    if (segment) {
        flags |= HARK_CUST_HAS_SEGMENT;
        n += put_varint(p + n, segment);
    }
    p[0] = (unsigned char)flags;
    return n;
}

uint32_t hark_cust_block_add(struct hark_customers *dir,
                             struct hark_cust_table *pool,
                             const struct hark_cust_rec *rec,
                             const struct hark_cust_ident *idents,
                             const uint64_t *ident_hashes,
                             size_t n_idents)
{
    uint32_t tier = 0;
    uint32_t segment = 0;
    if (!intern(dir, pool, rec->tier, &tier) ||
        !intern(dir, pool, rec->segment, &segment)) {
        return 0;
    }
    size_t need = block_head_max() + rec->id.len + 1 + rec->name.len + 1;
    for (size_t i = 0; i < n_idents; i++) {
        need += 1 + 5 + idents[i].val.len + 1;
    }
    unsigned char *p = (unsigned char *)hark_cust_arena_room(dir, need);
    if (!p) {
        return 0;
    }
    size_t block = dir->arena_len;
    size_t n = put_head(p, rec, tier ? (uint32_t)block - tier : 0,
                        segment ? (uint32_t)block - segment : 0);
    memcpy(p + n, rec->id.ptr, rec->id.len);
    p[n + rec->id.len] = '\0';
    uint32_t id_off = (uint32_t)(block + n);
    n += rec->id.len + 1;
    if (rec->name.len) {
        memcpy(p + n, rec->name.ptr, rec->name.len);
    }
    n += rec->name.len;
    p[n++] = '\0';
    for (size_t i = 0; i < n_idents; i++) {
        const struct hark_cust_ident *ident = &idents[i];
        uint32_t off = (uint32_t)(block + n);
        p[n++] = hark_cust_pk(ident->platform, ident->kind);
        n += put_varint(p + n, off - (uint32_t)block);
        if (ident->kind == HARK_CKIND_HANDLE) {
            for (size_t j = 0; j < ident->val.len; j++) {
                p[n + j] = (unsigned char)lower(ident->val.ptr[j]);
            }
        } else {
            memcpy(p + n, ident->val.ptr, ident->val.len);
        }
        n += ident->val.len;
        p[n++] = '\0';
        hark_cust_table_add(&dir->idents, off, ident_hashes[i]);
    }
    dir->arena_len += n;
    dir->n_custs++;
    return id_off;
}

/* ---- the directory -------------------------------------------------- */

struct hark_customers *hark_cust_dir_new(size_t arena_cap)
{
    struct hark_customers *dir = hark_xcalloc(1, sizeof(*dir));
    dir->idents.kind = HARK_CTAB_IDENT;
    dir->arena = hark_cust_map(arena_cap);
    dir->arena_cap = arena_cap;
    dir->arena[0] = '\0'; /* offset 0: "" */
    dir->arena_len = 1;
    return dir;
}

void hark_cust_dir_seal(struct hark_customers *dir)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t keep = (dir->arena_len + 2 * 1024 * 1024 - 1) &
                  ~(size_t)(2 * 1024 * 1024 - 1); /* whole huge pages */
    if (dir->arena_cap >= 8 * 1024 * 1024 && keep < dir->arena_cap && page &&
        keep % page == 0) {
        munmap(dir->arena + keep, dir->arena_cap - keep);
        dir->arena_cap = keep;
    }
    hark_cust_table_shrink(&dir->idents);
}

void hark_customers_free(struct hark_customers *dir)
{
    if (dir) {
        hark_cust_unmap(dir->arena, dir->arena_cap);
        hark_cust_table_free(&dir->idents);
        free(dir);
    }
}

size_t hark_customers_count(const struct hark_customers *dir)
{
    return dir ? dir->n_custs : 0;
}

/*
 * Every field is copied, whatever `export_mask` says: scoring reads the
 * tier and CLV of a customer whose events do not carry them. The mask goes
 * into view->export_mask, and the event writer emits only those fields.
 */
void hark_customer_view_fill(const struct hark_customer *cust,
                             unsigned export_mask,
                             bool is_handle_match,
                             struct hark_customer_view *view)
{
    memset(view, 0, sizeof(*view));
    struct head h;
    const char *id = get_head(cust, &h);
    const char *name = id + strlen(id) + 1;
    /* tier and segment: interned copies, that many bytes before the block */
    const char *block = (const char *)&cust->flags;
    view->id = hark_xstrdup(id);
    view->name = *name ? hark_xstrdup(name) : NULL;
    view->tier = h.tier ? hark_xstrdup(block - h.tier) : NULL;
    view->segment = h.segment ? hark_xstrdup(block - h.segment) : NULL;
    view->clv = h.clv;
    view->revenue_12m = h.revenue_12m;
    view->referrals = h.counts[0];
    view->recommendations = h.counts[1];
    view->introductions = h.counts[2];
    view->positive_mentions = h.counts[3];
    view->is_handle_match = is_handle_match;
    view->export_mask = export_mask;
}
