/*
 * identity: identity strings, the identity index and the join of a post's
 * author to a customer.
 *
 * What an identity string means (DESIGN.md "Customers and identities"):
 *
 *   x:12345                  X user id (digits)              stable id
 *   x:@alice                 X handle                        handle
 *   bluesky:did:plc:abc      Bluesky DID                     stable id
 *   bluesky:@alice.bsky.social                               handle
 *   mastodon:109876543210    Mastodon account id (digits)    stable id
 *   mastodon:alice@example.social  Mastodon address user@host handle
 *   mastodon:@alice@example.social (the same)                handle
 *   reddit:@alice_r, reddit:alice_r   Reddit name            handle
 *   reddit:t2_abc            Reddit account fullname         stable id
 *   hackernews:@pg, hackernews:pg     HN name                handle
 *
 * A Mastodon handle must carry its instance (a directory entry cannot know
 * which instance a bare "alice" lives on); on the post side a bare local
 * handle is completed with the source's host.
 *
 * Reddit and Hacker News names cannot be changed and are the only identity
 * those platforms show, so a match on them is not a lower-confidence match:
 * is_handle_match is set only for x, bluesky and mastodon, where a stable id
 * exists besides the (renamable or movable) handle.
 *
 * Handles compare ASCII case-insensitively (every platform above restricts
 * handles to ASCII; IDN hosts arrive as punycode); ids compare exactly.
 */
/* MADV_HUGEPAGE is a Linux extension (see big_calloc). */
#define _DEFAULT_SOURCE 1 /* NOLINT */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hark/customers.h"

#include "customers_int.h"

static const char *const platform_names[HARK_CPLAT_COUNT_] = {
    [HARK_CPLAT_NONE] = "",           [HARK_CPLAT_MASTODON] = "mastodon",
    [HARK_CPLAT_BLUESKY] = "bluesky", [HARK_CPLAT_X] = "x",
    [HARK_CPLAT_REDDIT] = "reddit",   [HARK_CPLAT_HACKERNEWS] = "hackernews",
};

#define PLATFORMS_EXPECTED "expected mastodon, bluesky, x, reddit or hackernews"

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

enum hark_cust_platform hark_cust_platform_parse(const char *s, size_t len)
{
    for (int p = 1; p < HARK_CPLAT_COUNT_; p++) {
        const char *name = platform_names[p];
        if (strlen(name) != len) {
            continue;
        }
        size_t i = 0;
        while (i < len && fold((unsigned char)s[i]) == (unsigned char)name[i]) {
            i++;
        }
        if (i == len) {
            return (enum hark_cust_platform)p;
        }
    }
    return HARK_CPLAT_NONE;
}

const char *hark_cust_platform_name(enum hark_cust_platform platform)
{
    if ((int)platform < 0 || platform >= HARK_CPLAT_COUNT_) {
        return "";
    }
    return platform_names[platform];
}

bool hark_cust_platform_has_ids(enum hark_cust_platform platform)
{
    return platform == HARK_CPLAT_X || platform == HARK_CPLAT_BLUESKY ||
           platform == HARK_CPLAT_MASTODON;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct hark_str trim(const char *s, size_t len)
{
    while (len > 0 && is_blank(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1])) {
        len--;
    }
    return (struct hark_str){s, len};
}

static bool all_digits(struct hark_str v)
{
    if (v.len == 0) {
        return false;
    }
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return false;
        }
    }
    return true;
}

static bool has_char(struct hark_str v, char c)
{
    return v.len > 0 && memchr(v.ptr, c, v.len) != NULL;
}

static bool has_prefix(struct hark_str v, const char *prefix)
{
    size_t n = strlen(prefix);
    return v.len >= n && memcmp(v.ptr, prefix, n) == 0;
}

static bool has_blank(struct hark_str v)
{
    for (size_t i = 0; i < v.len; i++) {
        if (is_blank(v.ptr[i])) {
            return true;
        }
    }
    return false;
}

/* user@host with both parts present. */
static bool is_user_at_host(struct hark_str v)
{
    const char *at = v.len ? memchr(v.ptr, '@', v.len) : NULL;
    return at && at > v.ptr && at < v.ptr + v.len - 1;
}

/* Checks what the value of a handle or id must look like per platform. */
static hark_err_t
check_value(struct hark_cust_ident *id, char *errbuf, size_t errbuf_len)
{
    const char *d1 = id->disp.ptr;
    int n1 = (int)id->disp.len;
    const char *d2 = id->disp2.ptr;
    int n2 = (int)id->disp2.len;
    if (id->val.len == 0) {
        snprintf(errbuf, errbuf_len, "identity \"%.*s%s%.*s\" has no value", n1,
                 d1, id->disp_sep, n2, d2);
        return HARK_EINVAL;
    }
    if (has_blank(id->val)) {
        snprintf(errbuf, errbuf_len, "identity \"%.*s%s%.*s\" contains a blank",
                 n1, d1, id->disp_sep, n2, d2);
        return HARK_EINVAL;
    }
    if (id->platform == HARK_CPLAT_MASTODON && id->kind == HARK_CKIND_HANDLE &&
        !is_user_at_host(id->val)) {
        snprintf(errbuf, errbuf_len,
                 "mastodon handle \"%.*s%s%.*s\" needs its instance; "
                 "expected mastodon:@user@host",
                 n1, d1, id->disp_sep, n2, d2);
        return HARK_EINVAL;
    }
    return HARK_OK;
}

/* The kind of a value written without '@', per platform. */
static hark_err_t bare_kind(struct hark_cust_ident *out,
                            struct hark_str all,
                            struct hark_str v,
                            char *errbuf,
                            size_t errbuf_len)
{
    switch (out->platform) {
    case HARK_CPLAT_MASTODON:
        if (has_char(v, '@')) {
            out->kind = HARK_CKIND_HANDLE; /* user@host */
        } else if (all_digits(v)) {
            out->kind = HARK_CKIND_ID;
        } else if (v.len > 0) {
            snprintf(errbuf, errbuf_len,
                     "mastodon identity \"%.*s\" is neither an account "
                     "id nor user@host",
                     (int)all.len, all.ptr);
            return HARK_EINVAL;
        }
        break;
    case HARK_CPLAT_BLUESKY:
        if (v.len > 0 && !has_prefix(v, "did:")) {
            snprintf(errbuf, errbuf_len,
                     "bluesky id \"%.*s\" is not a DID; write a handle "
                     "as bluesky:@%.*s",
                     (int)v.len, v.ptr, (int)v.len, v.ptr);
            return HARK_EINVAL;
        }
        out->kind = HARK_CKIND_ID;
        break;
    case HARK_CPLAT_X:
        if (v.len > 0 && !all_digits(v)) {
            snprintf(errbuf, errbuf_len,
                     "x id \"%.*s\" is not numeric; write a handle as "
                     "x:@%.*s",
                     (int)v.len, v.ptr, (int)v.len, v.ptr);
            return HARK_EINVAL;
        }
        out->kind = HARK_CKIND_ID;
        break;
    case HARK_CPLAT_REDDIT:
        /* an account fullname, else the (permanent) name */
        out->kind = has_prefix(v, "t2_") ? HARK_CKIND_ID : HARK_CKIND_HANDLE;
        break;
    default:
        out->kind = HARK_CKIND_HANDLE; /* Hacker News: names only */
        break;
    }
    return HARK_OK;
}

hark_err_t hark_cust_ident_parse(const char *s,
                                 size_t len,
                                 struct hark_cust_ident *out,
                                 char *errbuf,
                                 size_t errbuf_len)
{
    struct hark_str all = trim(s, len);
    memset(out, 0, sizeof(*out));
    out->disp = all;
    out->disp_sep = "";
    const char *colon = all.len ? memchr(all.ptr, ':', all.len) : NULL;
    struct hark_str plat = {all.ptr, colon ? (size_t)(colon - all.ptr) : 0};
    plat = trim(plat.ptr, plat.len);
    if (!colon || plat.len == 0) {
        snprintf(errbuf, errbuf_len,
                 "identity \"%.*s\" has no platform; expected platform:value",
                 (int)all.len, all.ptr);
        return HARK_EINVAL;
    }
    out->platform = hark_cust_platform_parse(plat.ptr, plat.len);
    if (out->platform == HARK_CPLAT_NONE) {
        snprintf(errbuf, errbuf_len,
                 "unknown platform \"%.*s\" in identity "
                 "\"%.*s\"; " PLATFORMS_EXPECTED,
                 (int)plat.len, plat.ptr, (int)all.len, all.ptr);
        return HARK_EINVAL;
    }
    struct hark_str v =
        trim(colon + 1, all.len - (size_t)(colon + 1 - all.ptr));
    if (v.len > 0 && v.ptr[0] == '@') {
        out->kind = HARK_CKIND_HANDLE;
        v.ptr++;
        v.len--;
    } else if (bare_kind(out, all, v, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    out->val = v;
    return check_value(out, errbuf, errbuf_len);
}

hark_err_t hark_cust_ident_columns(const char *platform,
                                   size_t platform_len,
                                   const char *handle,
                                   size_t handle_len,
                                   struct hark_cust_ident *out,
                                   char *errbuf,
                                   size_t errbuf_len)
{
    struct hark_str plat = trim(platform, platform_len);
    struct hark_str h = trim(handle, handle_len);
    memset(out, 0, sizeof(*out));
    if (plat.len == 0) {
        snprintf(errbuf, errbuf_len,
                 "handle \"%.*s\" has no platform; the platform column is "
                 "empty",
                 (int)h.len, h.ptr);
        return HARK_EINVAL;
    }
    out->platform = hark_cust_platform_parse(plat.ptr, plat.len);
    if (out->platform == HARK_CPLAT_NONE) {
        snprintf(errbuf, errbuf_len,
                 "unknown platform \"%.*s\"; " PLATFORMS_EXPECTED,
                 (int)plat.len, plat.ptr);
        return HARK_EINVAL;
    }
    if (h.len > 0 && h.ptr[0] == '@') {
        h.ptr++;
        h.len--;
    }
    out->kind = HARK_CKIND_HANDLE;
    out->disp = plat;
    out->disp_sep = ":@";
    if (out->platform == HARK_CPLAT_BLUESKY && has_prefix(h, "did:")) {
        out->kind = HARK_CKIND_ID; /* a DID is never a handle */
        out->disp_sep = ":";
    }
    out->disp2 = h;
    out->val = h;
    return check_value(out, errbuf, errbuf_len);
}

/*
 * FNV-1a over (pk, the pieces), then a 64-bit finalizer so that the low
 * 32 bits (the tag a slot keeps, whose high bits pick the slot) are well
 * mixed.
 */
uint64_t hark_cust_key_hash(unsigned pk,
                            bool is_folded,
                            const struct hark_str *parts,
                            size_t n_parts)
{
    uint64_t h = HARK_HASH_SEED;
    h = (h ^ (uint64_t)pk) * 0x100000001b3ULL;
    for (size_t p = 0; p < n_parts; p++) {
        const unsigned char *s = (const unsigned char *)parts[p].ptr;
        size_t n = parts[p].len;
        if (is_folded) {
            for (size_t i = 0; i < n; i++) {
                h = (h ^ fold(s[i])) * 0x100000001b3ULL;
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                h = (h ^ s[i]) * 0x100000001b3ULL;
            }
        }
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Whether the NUL-terminated `stored` equals the concatenated pieces. */
static bool key_eq(const char *stored,
                   bool is_folded,
                   const struct hark_str *parts,
                   size_t n_parts)
{
    const unsigned char *t = (const unsigned char *)stored;
    for (size_t p = 0; p < n_parts; p++) {
        const unsigned char *s = (const unsigned char *)parts[p].ptr;
        size_t n = parts[p].len;
        if (is_folded) {
            for (size_t i = 0; i < n; i++) {
                if (t[i] != fold(s[i]) || t[i] == '\0') {
                    return false;
                }
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                if (t[i] != s[i] || t[i] == '\0') {
                    return false;
                }
            }
        }
        t += n;
    }
    return *t == '\0';
}

/* The string a slot's `off` names. */
static const char *slot_key(const struct hark_cust_table *t,
                            const struct hark_customers *dir,
                            uint32_t off,
                            unsigned pk)
{
    switch (t->kind) {
    case HARK_CTAB_IDENT: {
        const unsigned char *p = (const unsigned char *)dir->arena + off;
        if (*p != pk) {
            return NULL;
        }
        p++;
        (void)hark_cust_varint(&p);
        return (const char *)p;
    }
    default:
        return dir->arena + off;
    }
}

static struct hark_cust_slot *find_slot(const struct hark_cust_table *t,
                                        const struct hark_customers *dir,
                                        unsigned pk,
                                        bool is_folded,
                                        const struct hark_str *parts,
                                        size_t n_parts,
                                        uint64_t hash)
{
    if (t->cap == 0) {
        return NULL;
    }
    uint32_t tag = (uint32_t)hash;
    size_t i = hark_cust_slot_of(t, tag);
    for (;;) {
        struct hark_cust_slot *e = &t->slots[i];
        if (e->off == 0) {
            return NULL;
        }
        if (e->tag == tag) {
            const char *key = slot_key(t, dir, e->off, pk);
            if (key && key_eq(key, is_folded, parts, n_parts)) {
                return e;
            }
        }
        if (++i == t->cap) {
            i = 0;
        }
    }
}

uint32_t hark_cust_table_find(const struct hark_cust_table *t,
                              const struct hark_customers *dir,
                              unsigned pk,
                              bool is_folded,
                              const struct hark_str *parts,
                              size_t n_parts,
                              uint64_t hash)
{
    const struct hark_cust_slot *e =
        find_slot(t, dir, pk, is_folded, parts, n_parts, hash);
    return e ? e->off : 0;
}

uint32_t *hark_cust_table_find_ref(struct hark_cust_table *t,
                                   const struct hark_customers *dir,
                                   const struct hark_str *key,
                                   uint64_t hash)
{
    struct hark_cust_slot *e = find_slot(t, dir, 0, false, key, 1, hash);
    return e ? &e->off : NULL;
}

/* Puts an entry in the first free slot from its home. */
static void slot_put(const struct hark_cust_table *t,
                     const struct hark_cust_slot *e)
{
    size_t i = hark_cust_slot_of(t, e->tag);
    while (t->slots[i].off != 0) {
        if (++i == t->cap) {
            i = 0;
        }
    }
    t->slots[i] = *e;
}

enum { HUGE_BYTES = 2 * 1024 * 1024 };

/*
 * Zeroed memory, from its own mapping when large, with transparent huge
 * pages asked for: a lookup is a random access; on a large table almost
 * every one misses the TLB as well as the caches, and on a virtual
 * machine a page walk costs as much as the miss itself (10M lookups on 1M
 * customers took 1240 ns each without, 585 with; bench/bench_customers.c).
 * Freed with hark_cust_unmap(p, n).
 */
void *hark_cust_map(size_t n)
{
    if (n >= 4 * (size_t)HUGE_BYTES) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
            (void)madvise(p, n, MADV_HUGEPAGE); /* only a hint */
#endif
            return p;
        }
    }
    return hark_xcalloc(1, n ? n : 1);
}

void hark_cust_unmap(void *p, size_t n)
{
    if (!p) {
        return;
    }
    if (n >= 4 * (size_t)HUGE_BYTES) {
        munmap(p, n);
    } else {
        free(p);
    }
}

static void table_resize(struct hark_cust_table *t, size_t cap)
{
    hark_assert(cap > t->n && cap <= ((size_t)1 << 32));
    struct hark_cust_table nt = *t;
    nt.slots = hark_cust_map(cap * sizeof(*nt.slots));
    nt.cap = cap;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].off != 0) {
            slot_put(&nt, &t->slots[i]);
        }
    }
    hark_cust_unmap(t->slots, t->cap * sizeof(*t->slots));
    *t = nt;
}

/* Slots for n entries at most 80% full. */
static size_t cap_for(size_t n)
{
    size_t cap = n + n / 4 + 16;
    return cap > ((size_t)1 << 32) ? ((size_t)1 << 32) : cap;
}

void hark_cust_table_reserve(struct hark_cust_table *t, size_t n)
{
    if (n * 10 > t->cap * 8) {
        table_resize(t, cap_for(n));
    }
}

void hark_cust_table_add(struct hark_cust_table *t, uint32_t off,
                         uint64_t hash)
{
    hark_assert(off != 0);
    if ((t->n + 1) * 10 > t->cap * 8) {
        table_resize(t, cap_for(t->cap < 64 ? 64 : t->cap * 2));
    }
    struct hark_cust_slot e = {.tag = (uint32_t)hash, .off = off};
    slot_put(t, &e);
    t->n++;
}

void hark_cust_table_shrink(struct hark_cust_table *t)
{
    if (t->cap > 1024 && t->n * 10 < t->cap * 5) {
        table_resize(t, cap_for(t->n));
    }
}

void hark_cust_table_free(struct hark_cust_table *t)
{
    hark_cust_unmap(t->slots, t->cap * sizeof(*t->slots));
    t->slots = NULL;
    t->cap = 0;
    t->n = 0;
}

const struct hark_customer *
hark_cust_ident_owner(const struct hark_customers *dir, uint32_t off)
{
    const unsigned char *p = (const unsigned char *)dir->arena + off + 1;
    uint32_t back = hark_cust_varint(&p);
    return (const struct hark_customer *)(const void *)(dir->arena + off -
                                                         back);
}

const struct hark_customer *
hark_customers_find(const struct hark_customers *dir,
                    const struct hark_post *post,
                    const char *default_host,
                    bool *is_handle_match)
{
    if (is_handle_match) {
        *is_handle_match = false;
    }
    if (!dir || !post || !post->platform) {
        return NULL;
    }
    enum hark_cust_platform platform =
        hark_cust_platform_parse(post->platform, strlen(post->platform));
    if (platform == HARK_CPLAT_NONE) {
        return NULL;
    }
    /* Both keys are hashed and both home slots fetched first: a handle
     * match usually follows an id miss (Mastodon ids are per instance),
     * and the two memory misses then overlap instead of adding up. */
    const char *aid = post->author.id;
    bool has_id = aid && *aid;
    struct hark_str id_part = {aid, has_id ? strlen(aid) : 0};
    unsigned id_pk = hark_cust_pk(platform, HARK_CKIND_ID);
    uint64_t id_hash = 0;
    if (has_id) {
        id_hash = hark_cust_key_hash(id_pk, false, &id_part, 1);
        hark_cust_table_prefetch(&dir->idents, id_hash);
    }
    const char *handle = post->author.handle;
    if (handle && *handle == '@') {
        handle++;
    }
    bool has_handle = handle && *handle;
    struct hark_str parts[3] = {{handle, has_handle ? strlen(handle) : 0}};
    size_t n_parts = 1;
    unsigned h_pk = hark_cust_pk(platform, HARK_CKIND_HANDLE);
    uint64_t h_hash = 0;
    if (has_handle) {
        if (platform == HARK_CPLAT_MASTODON && !strchr(handle, '@') &&
            default_host && *default_host) {
            parts[1] = (struct hark_str){"@", 1};
            parts[2] = (struct hark_str){default_host, strlen(default_host)};
            n_parts = 3;
        }
        h_hash = hark_cust_key_hash(h_pk, true, parts, n_parts);
        hark_cust_table_prefetch(&dir->idents, h_hash);
    }
    if (has_id) {
        uint32_t off = hark_cust_table_find(&dir->idents, dir, id_pk, false,
                                            &id_part, 1, id_hash);
        if (off) {
            return hark_cust_ident_owner(dir, off);
        }
    }
    if (!has_handle) {
        return NULL;
    }
    uint32_t off = hark_cust_table_find(&dir->idents, dir, h_pk, true, parts,
                                        n_parts, h_hash);
    const struct hark_customer *cust =
        off ? hark_cust_ident_owner(dir, off) : NULL;
    if (cust && is_handle_match) {
        *is_handle_match = hark_cust_platform_has_ids(platform);
    }
    return cust;
}
