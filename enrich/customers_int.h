/*
 * customers_int: the customer directory's private layout, shared by
 * enrich/customers.c (loading the files) and enrich/identity.c (identity
 * strings and the identity index).
 *
 * Layout (sized for 10M customers, no allocation per customer):
 *
 *   arena    one growable byte array holding every string, NUL-terminated.
 *            Offset 0 is a lone NUL, so offset 0 means "no string".
 *            Offsets are 32-bit: a directory holds at most 4 GiB of text.
 *   custs    one record per customer (struct hark_customer, 40 bytes). Its
 *            four strings sit back to back in the arena: id\0name\0tier\0
 *            segment\0 (empty = absent), so a record needs one pointer.
 *   slots    the identity index: one entry per identity and per
 *            customer_id, stored in the slots themselves (16 bytes: hash,
 *            value offset, customer index, platform, kind), open
 *            addressing with linear probing, power-of-two capacity kept
 *            under 70% load. A hit costs two cache misses (the slot and the
 *            value in the arena); the stored hash makes probing and
 *            rehashing touch nothing else.
 *
 * The key of an entry is (platform, kind, value); handle values are stored
 * lowercased (ASCII) without a leading '@', and looked up by hashing the
 * pieces of the query directly, folding case on the fly, so a lookup never
 * allocates.
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

struct hark_customer {
    union {
        size_t off;      /* while loading: arena offset of id */
        const char *ptr; /* once loaded: id\0name\0tier\0segment\0 */
    } strs;

    double clv;
    double revenue_12m;
    uint32_t referrals;
    uint32_t recommendations;
    uint32_t introductions;
    uint32_t positive_mentions;
};

struct hark_cust_entry {
    uint32_t hash;
    uint32_t val_off; /* arena offset of the value; 0 = empty slot */
    uint32_t cust;    /* index into custs */
    uint8_t platform; /* enum hark_cust_platform */
    uint8_t kind;     /* enum hark_cust_kind */
};

struct hark_customers {
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    struct hark_customer *custs;
    size_t n_custs;
    size_t cap_custs;
    struct hark_cust_entry *slots;
    size_t n_entries;
    size_t slot_mask; /* capacity - 1; capacity is a power of two */
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

/*
 * The hash of a key given as pieces that are concatenated (handles fold
 * ASCII case).
 */
uint32_t hark_cust_key_hash(enum hark_cust_platform platform,
                            enum hark_cust_kind kind,
                            const struct hark_str *parts,
                            size_t n_parts);

/* The entry (slot) with that key, or NULL. Never allocates. */
const struct hark_cust_entry *
hark_cust_index_find(const struct hark_customers *dir,
                     enum hark_cust_platform platform,
                     enum hark_cust_kind kind,
                     const struct hark_str *parts,
                     size_t n_parts,
                     uint32_t hash);

/* Adds an entry (the caller checked that the key is new). */
void hark_cust_index_add(struct hark_customers *dir,
                         enum hark_cust_platform platform,
                         enum hark_cust_kind kind,
                         uint32_t val_off,
                         uint32_t cust,
                         uint32_t hash);

void hark_cust_index_free(struct hark_customers *dir);

#endif /* HARK_ENRICH_CUSTOMERS_INT_H */
