/*
 * customers_int: the customer directory's private layout, shared by
 * enrich/customers_load.c (reading CSV and NDJSON, checking rows, reporting
 * bad ones), enrich/customers_store.c (the arena, writing and decoding
 * blocks, the directory's life) and enrich/identity.c (identity strings,
 * the hash tables, the join).
 *
 * Layout (10M customers with three identities each in ~1.3 GiB; no
 * allocation per customer, no pointer anywhere):
 *
 *   arena    one mapping holding every byte of every customer, reserved
 *            once (virtual memory, bounded by the file size) and touched
 *            only as it fills, so it never moves while loading and needs
 *            no copy; huge pages when the kernel gives them. Offsets are
 *            32-bit: a directory holds at most 4 GiB. Offset 0 is a lone
 *            NUL, so offset 0 means "none".
 *
 *   block    one per customer, back to back in the arena, byte-aligned:
 *              flags      1 byte: which of the fields below are present
 *                         and how they are written (HARK_CUST_*)
 *              counts     1 byte, if any count is nonzero: bit i = count
 *                         i present
 *              clv, revenue_12m      if nonzero: a varint of cents when
 *                         that is exact (12.5 -> 1250), else the raw
 *                         8-byte double
 *              referrals .. positive_mentions   varint each, if present
 *              tier, segment         varint distance back to the string,
 *                                    if present: the few distinct values
 *                                    are interned ("gold" is written again
 *                                    only every 8 KiB, to stay 2 bytes
 *                                    away)
 *              id\0 name\0   (name may be empty)
 *              identities, each: pk (platform << 2 | kind, never 0),
 *                         varint distance back to the block's start,
 *                         value\0 (handles ASCII-lowercased, no '@')
 *            A `struct hark_customer *` is the address of its block.
 *
 *   idents   the identity index: open addressing, linear probing, 8-byte
 *            slots (32-bit hash tag, arena offset of the identity; 0 =
 *            empty); the tag picks the home slot by multiply-shift, so any
 *            capacity works, and the table is sized once from a count
 *            made before loading (at most 80% full).
 *            A hit costs two cache misses: the slot and the identity, and
 *            the identity leads back to its block.
 *
 * While loading only: a table of customer_ids (offset of the id in its
 * block) to refuse a repeated one, and a table interning tier/segment
 * strings. Both are freed when the load ends: nothing looks a customer up
 * by customer_id afterwards.
 *
 * Thread: built by one thread; immutable afterwards.
 */
#ifndef HARK_ENRICH_CUSTOMERS_INT_H
#define HARK_ENRICH_CUSTOMERS_INT_H

#include "hark/common.h"
#include "hark/customers.h"

/* Platforms an identity may name. 0 = none (customer_id entries). */
enum hark_cust_platform {
    HARK_CPLAT_NONE = 0,
    HARK_CPLAT_MASTODON,
    HARK_CPLAT_BLUESKY,
    HARK_CPLAT_X,
    HARK_CPLAT_REDDIT,
    HARK_CPLAT_HACKERNEWS,
    HARK_CPLAT_COUNT_
};

enum hark_cust_kind {
    HARK_CKIND_CUSTOMER_ID = 0, /* the customer_id itself (exact) */
    HARK_CKIND_ID,              /* the platform's stable id (exact) */
    HARK_CKIND_HANDLE           /* a handle (ASCII case-insensitive) */
};

/* A customer is the address of its block (see above); read it bytewise. */
struct hark_customer {
    unsigned char flags;
};

/* Block flags: which fields follow the flags byte, and how. */
enum {
    HARK_CUST_HAS_CLV = 1 << 0,
    HARK_CUST_HAS_REVENUE = 1 << 1,
    HARK_CUST_CLV_CENTS = 1 << 2, /* a varint of cents, not a double */
    HARK_CUST_REVENUE_CENTS = 1 << 3,
    HARK_CUST_HAS_TIER = 1 << 4,
    HARK_CUST_HAS_SEGMENT = 1 << 5,
    HARK_CUST_HAS_COUNTS = 1 << 6 /* the counts byte follows */
};

/* A hash table slot: `off` 0 = empty. */
struct hark_cust_slot {
    uint32_t tag; /* the hash's low 32 bits */
    uint32_t off; /* arena offset of the key (see the table's kind) */
};

/* What a table's `off` points at. */
enum hark_cust_table_kind {
    HARK_CTAB_IDENT = 0, /* an identity record: pk, varint, value\0 */
    HARK_CTAB_STRING     /* a NUL-terminated string compared exactly */
};

struct hark_cust_table {
    struct hark_cust_slot *slots;
    size_t cap; /* any size; 0 = no table */
    size_t n;
    enum hark_cust_table_kind kind;
};

struct hark_customers {
    char *arena;
    size_t arena_len;
    size_t arena_cap; /* bytes mapped */
    struct hark_cust_table idents;
    size_t n_custs;
};

/*
 * A parsed identity. `val` is a slice of the input without the leading
 * '@'; `disp`/`disp2` are what to quote in messages ("x:@alice").
 */
struct hark_cust_ident {
    enum hark_cust_platform platform;
    enum hark_cust_kind kind;
    struct hark_str val;
    struct hark_str disp;
    const char *disp_sep; /* between disp and disp2 */
    struct hark_str disp2;
};

/* "mastodon" -> HARK_CPLAT_MASTODON; NONE when unknown. */
enum hark_cust_platform hark_cust_platform_parse(const char *s, size_t len);
const char *hark_cust_platform_name(enum hark_cust_platform platform);
/* Whether the platform has stable ids besides names (x, bluesky, mastodon). */
bool hark_cust_platform_has_ids(enum hark_cust_platform platform);

/*
 * Parses one identity written "platform:value" (DESIGN.md "Customers and
 * identities"). Leading and trailing blanks are ignored. Failure:
 * HARK_EINVAL and `errbuf` holds the message. `out` borrows from `s`.
 */
HARK_MUST_CHECK hark_err_t hark_cust_ident_parse(const char *s,
                                                 size_t len,
                                                 struct hark_cust_ident *out,
                                                 char *errbuf,
                                                 size_t errbuf_len);

/* The `platform` + `handle` columns: a handle (a Bluesky DID is an id). */
HARK_MUST_CHECK hark_err_t hark_cust_ident_columns(const char *platform,
                                                   size_t platform_len,
                                                   const char *handle,
                                                   size_t handle_len,
                                                   struct hark_cust_ident *out,
                                                   char *errbuf,
                                                   size_t errbuf_len);

/* The identity record's first byte. */
static inline unsigned char hark_cust_pk(enum hark_cust_platform platform,
                                         enum hark_cust_kind kind)
{
    return (unsigned char)((unsigned)platform << 2 | (unsigned)kind);
}

/* Reads a LEB128 varint at *p and moves *p past it. */
static inline uint32_t hark_cust_varint(const unsigned char **p)
{
    uint32_t v = 0;
    unsigned shift = 0;
    const unsigned char *s = *p;
    while (*s & 0x80) {
        v |= (uint32_t)(*s++ & 0x7f) << shift;
        shift += 7;
    }
    v |= (uint32_t)*s++ << shift;
    *p = s;
    return v;
}

/*
 * The 64-bit hash of a key given as pieces that are concatenated (handles
 * fold ASCII case; `pk` is 0 for a plain string).
 */
uint64_t hark_cust_key_hash(unsigned pk,
                            bool is_folded,
                            const struct hark_str *parts,
                            size_t n_parts);

/*
 * The home slot of a tag: multiply-shift maps it onto any capacity. The
 * slot depends on the tag alone, so growing needs no key.
 */
static inline size_t hark_cust_slot_of(const struct hark_cust_table *t,
                                       uint32_t tag)
{
    return (size_t)(((uint64_t)tag * (uint64_t)t->cap) >> 32);
}

/* Asks the CPU to fetch the slot where a probe for `hash` starts. */
static inline void hark_cust_table_prefetch(const struct hark_cust_table *t,
                                            uint64_t hash)
{
    if (t->cap) {
        __builtin_prefetch(&t->slots[hark_cust_slot_of(t, (uint32_t)hash)]);
    }
}

/*
 * The `off` of the entry with that key (for IDENT tables `pk` must match
 * and the value compares folded when `is_folded`), or 0. Never allocates.
 */
uint32_t hark_cust_table_find(const struct hark_cust_table *t,
                              const struct hark_customers *dir,
                              unsigned pk,
                              bool is_folded,
                              const struct hark_str *parts,
                              size_t n_parts,
                              uint64_t hash);

/* Like find on a STRING table, but the slot's `off` may be changed. */
uint32_t *hark_cust_table_find_ref(struct hark_cust_table *t,
                                   const struct hark_customers *dir,
                                   const struct hark_str *key,
                                   uint64_t hash);

/*
 * Makes room for `n` entries at most 80% full (rehashing what is there);
 * capacity stays when it is enough.
 */
void hark_cust_table_reserve(struct hark_cust_table *t, size_t n);

/* Adds an entry (the caller checked that the key is new); grows if full. */
void hark_cust_table_add(struct hark_cust_table *t, uint32_t off,
                         uint64_t hash);

/* Rehashes to the smallest capacity for its entries if much larger. */
void hark_cust_table_shrink(struct hark_cust_table *t);

void hark_cust_table_free(struct hark_cust_table *t);

/* Address of the block an identity record at `off` belongs to. */
const struct hark_customer *
hark_cust_ident_owner(const struct hark_customers *dir, uint32_t off);

/* Memory for large tables and the arena (huge pages asked for). */
void *hark_cust_map(size_t n);
void hark_cust_unmap(void *p, size_t n);

/* ---- the arena and blocks (customers_store.c) ----------------------- */

#define HARK_CUST_N_COUNTS  4 /* referrals .. positive_mentions */
#define HARK_CUST_ARENA_MAX UINT32_MAX /* offsets are 32-bit */

/* A customer as the loader parsed it; the strings are borrowed. */
struct hark_cust_rec {
    struct hark_str id;
    struct hark_str name;
    struct hark_str tier;
    struct hark_str segment;
    double clv;
    double revenue_12m;
    uint32_t counts[HARK_CUST_N_COUNTS];
};

/*
 * A new, empty directory whose arena maps `arena_cap` bytes (virtual
 * memory: only pages written count). Owned by the caller
 * (hark_customers_free).
 */
struct hark_customers *hark_cust_dir_new(size_t arena_cap);

/*
 * Room for `len` more bytes at the arena's end (not yet counted in
 * arena_len), or NULL when the arena would pass 4 GiB. May move the arena.
 */
char *hark_cust_arena_room(struct hark_customers *dir, size_t len);

/*
 * Writes `rec`'s block with these identities (the caller checked that
 * none is taken and none repeats), interning tier and segment in `pool` (a
 * STRING table the caller owns), and adds the identities to dir->idents.
 * Returns the arena offset of the block's customer_id, or 0 when the arena
 * would pass 4 GiB (nothing counted then; interned strings may remain).
 */
uint32_t hark_cust_block_add(struct hark_customers *dir,
                             struct hark_cust_table *pool,
                             const struct hark_cust_rec *rec,
                             const struct hark_cust_ident *idents,
                             const uint64_t *ident_hashes,
                             size_t n_idents);

/* The customer_id of a block (NUL-terminated, in the arena). */
const char *hark_cust_block_id(const struct hark_customer *cust);

/* The load is over: gives back the arena's unused end, shrinks the index. */
void hark_cust_dir_seal(struct hark_customers *dir);

#endif /* HARK_ENRICH_CUSTOMERS_INT_H */
