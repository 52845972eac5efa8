/*
 * prefilter: Hyperscan shards that pick candidate rules (see
 * prefilter_int.h for what and why).
 *
 * Build, in order:
 *
 *   1. conditions: every text test of the set, by text_id, with its rule,
 *      its database (ORIG or NORM), its fields and its pattern, and the
 *      literals it requires when it has some (prefilter_lit.c). A test
 *      without a pattern falls back to "always hit".
 *   2. always: the rules whose tree can hold when nothing but the
 *      fallbacks hit (none-only rules, numeric or set tests only, rules
 *      that rest on a fallback): candidates on every post.
 *   3. shards: per database and tier (literals, regexes), the entries in
 *      rule order are cut where an entry's hash says so (content-defined
 *      chunking, as rsync and backup tools do): at least shard/2 and at
 *      most 2 x shard entries per shard, on average `shard`. A boundary
 *      depends only on the entries around it, so editing, inserting or
 *      deleting one rule changes one shard (two when it moves a boundary)
 *      and the others keep their keys. Entry ids inside a database are
 *      local (0..n-1), so a shard's database does not depend on where the
 *      shard sits.
 *   4. each shard, on a pool of threads (compiling 500 UCP patterns takes
 *      seconds): read from the cache, or (regexes) check every pattern
 *      alone (hs_expression_info), compile the survivors together, retry
 *      without an entry the multi-compile names, and write the cache.
 *
 * Cache file (native byte order; the key covers the CPU):
 *
 *     "HARKPF1\n"  u64 key_len  key[key_len]
 *     u32 n_fallback  u32 local_id[n_fallback]
 *     u64 db_len  serialized_database[db_len]
 *     u64 FNV-1a of everything before
 *
 * where key is the exact input of the compile: a format tag, hs_version(),
 * the platform Hyperscan tunes for, the tier, and every entry with its
 * flags. The
 * file name is the key's hash; the whole key is compared on read, so a
 * hash collision, a truncated or foreign file, another Hyperscan or CPU
 * all read as a miss and the shard is compiled (and the file replaced).
 * Files are written to a unique temporary name and renamed into place.
 *
 * Scan: one hs_scan() per (shard, field) the shard looks at (literal
 * shards of the original text scan a copy with U+212A and U+017F folded
 * to k and s, made only when the text holds one: see prefilter_lit.c);
 * each entry
 * reports at most once (SINGLEMATCH) and marks its condition hit when the
 * scanned field is one the test looks at. Then every rule of a hit
 * condition is tried through may_hold(); the candidates are a bitmap over
 * the rules (the always bitmap plus those), read back in rule order.
 */
#include <errno.h>
#include <fcntl.h>
#include <hs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hark/log.h"

#include "prefilter_int.h"
#include "rules_int.h"

#define PF_FLAGS                                                         \
    (HS_FLAG_PREFILTER | HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_UCP | \
     HS_FLAG_SINGLEMATCH)
#define LIT_FLAGS (HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH)

#define CACHE_MAGIC     "HARKPF1\n"
#define CACHE_MAX_BYTES ((size_t)1 << 30)
#define KEY_TAG         "hark-prefilter 2\n"

struct cond {
    uint32_t rule;
    enum hark_prefilter_db db;
    unsigned fields;
    bool is_fallback;
    bool is_literal;     /* found through literals */
    uint8_t need;        /* bits of the literal groups that must all hit */
    const char *pattern; /* borrowed from the rules; build only */
    struct hark_strv lits[HARK_PREFILTER_GROUPS_MAX]; /* build only */
};

enum tier { TIER_LIT = 0, TIER_REGEX, TIER_COUNT };

/* One Hyperscan expression: a literal or a regex of a condition. */
struct entry {
    const char *expr; /* borrowed (cond pattern or literal); build only */
    uint32_t cond;
    uint8_t group; /* which literal group of the condition */
};

struct fallback_note {
    uint32_t cond;
    char *message;
};

struct shard {
    enum hark_prefilter_db db;
    enum tier tier;
    struct entry *entries; /* by local id */
    size_t n;
    uint8_t *fb; /* per entry: its condition fell back (build only) */
    unsigned fields;
    hs_database_t *hdb; /* NULL when every pattern fell back */
    uint64_t key;
    bool is_cacheable;
    bool is_cached;
    bool is_compiled;
    bool is_written;
    struct fallback_note *notes; /* why patterns fell back (build only) */
    size_t n_notes;
    char *cache_error; /* why the cache could not be written */
};

struct hark_prefilter {
    uint64_t uid; /* which prefilter a scratch is sized for */
    struct cond *conds;
    size_t n_conds;
    struct shard *shards;
    size_t n_shards;
    size_t first[HARK_PREFILTER_DB_COUNT + 1]; /* shards of db d */
    size_t shard_size[TIER_COUNT];
    unsigned fields[HARK_PREFILTER_DB_COUNT];
    uint64_t *always; /* bitmap over rules */
    size_t n_words;
    size_t n_rules;
    char cache_dir[4096];
    size_t cache_min;
    hs_platform_info_t platform;
    atomic_size_t next_shard; /* build: the work queue */
    struct hark_prefilter_stats stats;
};

struct hark_prefilter_scratch {
    hs_scratch_t *hs;
    uint64_t uid;
    uint8_t *hit;       /* per condition: every group hit (or fallback) */
    uint8_t *gmask;     /* per condition: which groups hit */
    uint32_t *hit_list; /* conditions with a group hit */
    size_t n_hits;
    size_t cond_cap;
    uint64_t *cand;
    size_t word_cap;
    uint32_t *cand_list;
    size_t rule_cap;
    char *fold; /* the text with U+212A, U+017F folded to k, s */
    size_t fold_cap;
    /* The scan in progress, for the callback. */
    const struct hark_prefilter *pf;
    const struct shard *shard;
    unsigned field;
};

static atomic_uint_fast64_t next_uid = 1;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

static bool is_off(const char *v)
{
    return v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0 ||
                 strcmp(v, "false") == 0 || strcmp(v, "no") == 0);
}

static void env_size(const char *name, size_t *out)
{
    const char *v = getenv(name);
    if (v && v[0]) {
        char *end = NULL;
        unsigned long n = strtoul(v, &end, 10);
        if (*end == '\0' && n >= 2 && n <= 10000000) {
            *out = n;
        }
    }
}

void hark_prefilter_opts_default(struct hark_prefilter_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    const char *mode = getenv("HARK_PREFILTER");
    opts->is_enabled = !is_off(mode);
    opts->is_literals = !(mode && strcmp(mode, "regex") == 0);
    opts->shard_patterns = HARK_PREFILTER_SHARD_DEFAULT;
    opts->shard_literals = HARK_PREFILTER_LIT_SHARD_DEFAULT;
    opts->cache_min_patterns = HARK_PREFILTER_CACHE_MIN_DEFAULT;
    env_size("HARK_PREFILTER_SHARD", &opts->shard_patterns);
    env_size("HARK_PREFILTER_LIT_SHARD", &opts->shard_literals);
    const char *dir = getenv("HARK_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int w = 0;
    if (dir) {
        w = snprintf(opts->cache_dir, sizeof(opts->cache_dir), "%s", dir);
    } else if (xdg && xdg[0] == '/') {
        w = snprintf(opts->cache_dir, sizeof(opts->cache_dir), "%s/hark", xdg);
    } else if (home && home[0] == '/') {
        w = snprintf(opts->cache_dir, sizeof(opts->cache_dir), "%s/.cache/hark",
                     home);
    }
    if (w < 0 || (size_t)w >= sizeof(opts->cache_dir)) {
        opts->cache_dir[0] = '\0';
    }
}

/* ------------------------------------------------------------------ */
/* Conditions and the always set                                       */

static void cond_init(struct hark_prefilter *pf,
                      uint32_t text_id,
                      uint32_t rule,
                      const struct hark_rules_node *node,
                      const char *pattern)
{
    hark_assert(text_id < pf->n_conds);
    struct cond *c = &pf->conds[text_id];
    c->rule = rule;
    c->db = node->is_normalized ? HARK_PREFILTER_DB_NORM
                                : HARK_PREFILTER_DB_ORIG;
    c->fields = node->fields;
    c->pattern = pattern;
    c->is_fallback = pattern == NULL;
}

static void collect_conds(struct hark_prefilter *pf,
                          const struct hark_rules_node *node,
                          uint32_t rule)
{
    if (node->kind == HARK_RULES_NODE_NEAR) {
        /* Terms A and B: two tests on the normalized copy. */
        cond_init(pf, node->text_id, rule, node, node->pf_pattern);
        cond_init(pf, node->text_id_b, rule, node, node->pf_pattern_b);
        return;
    }
    if (node->kind == HARK_RULES_NODE_TEXT) {
        hark_assert(node->text_id < pf->n_conds);
        struct cond *c = &pf->conds[node->text_id];
        c->rule = rule;
        c->db = node->is_normalized ? HARK_PREFILTER_DB_NORM
                                    : HARK_PREFILTER_DB_ORIG;
        c->fields = node->fields;
        c->pattern = node->pf_pattern;
        c->is_fallback = node->pf_pattern == NULL;
        return;
    }
    for (size_t i = 0; i < node->n_all; i++) {
        collect_conds(pf, node->all[i], rule);
    }
    for (size_t i = 0; i < node->n_any; i++) {
        collect_conds(pf, node->any[i], rule);
    }
    for (size_t i = 0; i < node->n_none; i++) {
        collect_conds(pf, node->none[i], rule);
    }
}

/*
 * Whether `node` can hold when only the text tests marked in `hit` can
 * match. Monotone in `hit`: more hits never make it false.
 */
static bool may_hold(const struct hark_rules_node *node, const uint8_t *hit)
{
    switch (node->kind) {
    case HARK_RULES_NODE_TEXT:
        return hit[node->text_id] != 0;
    case HARK_RULES_NODE_NEAR:
        /* A hit of A and one of B. */
        return hit[node->text_id] != 0 && hit[node->text_id_b] != 0;
    case HARK_RULES_NODE_NUM:
    case HARK_RULES_NODE_SET:
    case HARK_RULES_NODE_LIST:
        /* Not text tests: always possible. */
        return true;
    case HARK_RULES_NODE_MATCH:
        break;
    }
    for (size_t i = 0; i < node->n_all; i++) {
        if (!may_hold(node->all[i], hit)) {
            return false;
        }
    }
    if (node->n_any > 0) {
        for (size_t i = 0; i < node->n_any; i++) {
            if (may_hold(node->any[i], hit)) {
                return true;
            }
        }
        return false;
    }
    /* "none": a hit there can only make the rule fail; it rules nothing
     * out before PCRE2 has confirmed it. */
    return true;
}

static void compute_always(struct hark_prefilter *pf,
                           const struct hark_rules *rules)
{
    uint8_t *hit = hark_xcalloc(pf->n_conds ? pf->n_conds : 1, 1);
    for (size_t i = 0; i < pf->n_conds; i++) {
        hit[i] = pf->conds[i].is_fallback;
    }
    pf->stats.n_always_rules = 0;
    memset(pf->always, 0, pf->n_words * sizeof(*pf->always));
    for (size_t r = 0; r < rules->n_rules; r++) {
        if (may_hold(rules->rules[r].match, hit)) {
            pf->always[r / 64] |= (uint64_t)1 << (r % 64);
            pf->stats.n_always_rules++;
        }
    }
    free(hit);
}

/* ------------------------------------------------------------------ */
/* Shards                                                              */

/*
 * Appends one entry to the shard being filled (a new one when *shp is
 * NULL), and closes the shard where the entry's hash says so.
 */
static void shard_add(struct hark_prefilter *pf,
                      struct shard **shp,
                      enum hark_prefilter_db db,
                      enum tier tier,
                      const char *expr,
                      uint32_t cond,
                      uint8_t group)
{
    struct shard *sh = *shp;
    if (!sh) {
        pf->shards =
            hark_xrealloc(pf->shards, (pf->n_shards + 1) * sizeof(*pf->shards));
        sh = &pf->shards[pf->n_shards++];
        memset(sh, 0, sizeof(*sh));
        sh->db = db;
        sh->tier = tier;
    }
    sh->entries =
        hark_xrealloc(sh->entries, (sh->n + 1) * sizeof(*sh->entries));
    sh->entries[sh->n].expr = expr;
    sh->entries[sh->n].cond = cond;
    sh->entries[sh->n].group = group;
    sh->n++;
    sh->fields |= pf->conds[cond].fields;
    pf->fields[db] |= pf->conds[cond].fields;

    size_t avg = pf->shard_size[tier];
    size_t min = avg / 2 ? avg / 2 : 1;
    size_t period = avg - min ? avg - min : 1;
    uint64_t h = hark_hash64(expr, strlen(expr), HARK_HASH_SEED);
    if (sh->n >= avg * 2 || (sh->n >= min && h % period == 0)) {
        *shp = NULL;
    } else {
        *shp = sh;
    }
}

static void cut_shards(struct hark_prefilter *pf)
{
    for (int db = 0; db < HARK_PREFILTER_DB_COUNT; db++) {
        pf->first[db] = pf->n_shards;
        for (int tier = 0; tier < TIER_COUNT; tier++) {
            struct shard *sh = NULL;
            for (uint32_t i = 0; i < pf->n_conds; i++) {
                const struct cond *c = &pf->conds[i];
                if ((int)c->db != db || c->is_fallback ||
                    c->is_literal != (tier == TIER_LIT)) {
                    continue;
                }
                if (tier == TIER_REGEX) {
                    shard_add(pf, &sh, (enum hark_prefilter_db)db, TIER_REGEX,
                              c->pattern, i, 0);
                    continue;
                }
                for (uint8_t g = 0; g < HARK_PREFILTER_GROUPS_MAX; g++) {
                    for (size_t k = 0; k < c->lits[g].n; k++) {
                        shard_add(pf, &sh, (enum hark_prefilter_db)db, TIER_LIT,
                                  c->lits[g].v[k], i, g);
                    }
                }
            }
        }
    }
    pf->first[HARK_PREFILTER_DB_COUNT] = pf->n_shards;
}

static unsigned tier_flags(enum tier tier)
{
    return tier == TIER_LIT ? LIT_FLAGS : PF_FLAGS;
}

static void put_u32(struct hark_buf *b, uint32_t v)
{
    if (hark_buf_add(b, &v, sizeof(v)) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
}

static void put_u64(struct hark_buf *b, uint64_t v)
{
    if (hark_buf_add(b, &v, sizeof(v)) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
}

static void put_bytes(struct hark_buf *b, const void *p, size_t n)
{
    if (hark_buf_add(b, p, n) != HARK_OK) {
        hark_assert(!"unbounded buffer");
    }
}

/* The exact input of a shard's compile: what its cache key covers. */
static void shard_key(const struct hark_prefilter *pf,
                      const struct shard *sh,
                      struct hark_buf *b)
{
    put_bytes(b, KEY_TAG, strlen(KEY_TAG));
    const char *version = hs_version();
    put_u32(b, (uint32_t)strlen(version));
    put_bytes(b, version, strlen(version));
    put_u64(b, pf->platform.tune);
    put_u64(b, pf->platform.cpu_features);
    put_u64(b, pf->platform.reserved1);
    put_u64(b, pf->platform.reserved2);
    put_u32(b, (uint32_t)sh->tier);
    put_u32(b, (uint32_t)sh->n);
    for (size_t i = 0; i < sh->n; i++) {
        const char *p = sh->entries[i].expr;
        put_u32(b, tier_flags(sh->tier));
        put_u32(b, (uint32_t)strlen(p));
        put_bytes(b, p, strlen(p));
    }
}

static void shard_path(const struct hark_prefilter *pf,
                       const struct shard *sh,
                       char *buf,
                       size_t buf_len)
{
    (void)snprintf(buf, buf_len, "%s/pf-%016llx.hsdb", pf->cache_dir,
                   (unsigned long long)sh->key);
}

static void note_fallback(struct shard *sh, uint32_t cond, const char *msg);

/*
 * Entry `i` cannot be compiled: its condition falls back, so every entry
 * of that condition in this shard goes. Shard-local (the threads share no
 * condition flags); merged into the conditions after the build.
 */
static void shard_fallback(struct shard *sh, size_t i, const char *msg)
{
    uint32_t cond = sh->entries[i].cond;
    if (sh->fb[i]) {
        return;
    }
    for (size_t k = 0; k < sh->n; k++) {
        if (sh->entries[k].cond == cond) {
            sh->fb[k] = 1;
        }
    }
    note_fallback(sh, cond, msg);
}

static void note_fallback(struct shard *sh, uint32_t cond, const char *msg)
{
    sh->notes =
        hark_xrealloc(sh->notes, (sh->n_notes + 1) * sizeof(*sh->notes));
    sh->notes[sh->n_notes].cond = cond;
    sh->notes[sh->n_notes].message = hark_xstrdup(msg);
    sh->n_notes++;
}

/* Reads `n` bytes at *pos of data[0..len), advancing; false past the end. */
static bool take(const char *data, size_t len, size_t *pos, void *out, size_t n)
{
    if (n > len - *pos) {
        return false;
    }
    memcpy(out, data + *pos, n);
    *pos += n;
    return true;
}

/*
 * Reads the shard's cache file; true when it held this very shard (then
 * sh->hdb and the fallbacks are set). Anything else reads as a miss.
 */
static bool cache_read(struct hark_prefilter *pf,
                       struct shard *sh,
                       const struct hark_buf *key)
{
    char path[4200];
    char err[512];
    char *data = NULL;
    size_t len = 0;
    uint32_t *fb = NULL;
    bool is_ok = false;
    shard_path(pf, sh, path, sizeof(path));
    if (hark_file_read(path, CACHE_MAX_BYTES, &data, &len, err, sizeof(err)) !=
        HARK_OK) {
        return false;
    }
    size_t pos = 0;
    char magic[8];
    uint64_t key_len = 0;
    uint64_t sum = 0;
    uint32_t n_fb = 0;
    uint64_t db_len = 0;
    if (len < sizeof(sum) + sizeof(magic)) {
        goto done;
    }
    memcpy(&sum, data + len - sizeof(sum), sizeof(sum));
    if (sum != hark_hash64(data, len - sizeof(sum), HARK_HASH_SEED)) {
        goto done;
    }
    len -= sizeof(sum);
    if (!take(data, len, &pos, magic, sizeof(magic)) ||
        memcmp(magic, CACHE_MAGIC, sizeof(magic)) != 0 ||
        !take(data, len, &pos, &key_len, sizeof(key_len)) ||
        key_len != key->len || key_len > len - pos ||
        memcmp(data + pos, key->ptr, key->len) != 0) {
        goto done;
    }
    pos += key->len;
    if (!take(data, len, &pos, &n_fb, sizeof(n_fb)) || n_fb > sh->n) {
        goto done;
    }
    fb = hark_xcalloc(n_fb ? n_fb : 1, sizeof(*fb));
    for (uint32_t i = 0; i < n_fb; i++) {
        if (!take(data, len, &pos, &fb[i], sizeof(fb[i])) || fb[i] >= sh->n) {
            goto done;
        }
    }
    if (!take(data, len, &pos, &db_len, sizeof(db_len)) ||
        db_len != len - pos) {
        goto done;
    }
    if (db_len == 0) {
        if (n_fb != sh->n) {
            goto done;
        }
        sh->hdb = NULL;
    } else if (hs_deserialize_database(data + pos, (size_t)db_len, &sh->hdb) !=
               HS_SUCCESS) {
        sh->hdb = NULL;
        goto done;
    }
    for (uint32_t i = 0; i < n_fb; i++) {
        shard_fallback(sh, fb[i], "rejected by Hyperscan (cached)");
    }
    is_ok = true;
done:
    free(fb);
    free(data);
    return is_ok;
}

static bool write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/*
 * Writes the shard's cache file atomically: a unique temporary name in the
 * same directory, then rename(). No fsync: a file cut short by a crash
 * fails its checksum and is rebuilt.
 */
static void cache_write(struct hark_prefilter *pf,
                        struct shard *sh,
                        const struct hark_buf *key)
{
    static atomic_uint tmp_counter = 0;
    char path[4200];
    char tmp[4300];
    char *db = NULL;
    size_t db_len = 0;
    int fd = -1;
    struct hark_buf b;
    hark_buf_init(&b, 0);
    if (sh->hdb && hs_serialize_database(sh->hdb, &db, &db_len) != HS_SUCCESS) {
        sh->cache_error = hark_xstrdup("hs_serialize_database failed");
        goto done;
    }
    put_bytes(&b, CACHE_MAGIC, strlen(CACHE_MAGIC));
    put_u64(&b, key->len);
    put_bytes(&b, key->ptr, key->len);
    uint32_t n_fb = 0;
    for (size_t i = 0; i < sh->n; i++) {
        n_fb += sh->fb[i];
    }
    put_u32(&b, n_fb);
    for (uint32_t i = 0; i < sh->n; i++) {
        if (sh->fb[i]) {
            put_u32(&b, i);
        }
    }
    put_u64(&b, db_len);
    put_bytes(&b, db, db_len);
    put_u64(&b, hark_hash64(b.ptr, b.len, HARK_HASH_SEED));

    if (hark_mkdirs(pf->cache_dir) != HARK_OK) {
        sh->cache_error =
            hark_xasprintf("mkdir(\"%s\"): %s", pf->cache_dir, strerror(errno));
        goto done;
    }
    shard_path(pf, sh, path, sizeof(path));
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(),
                   atomic_fetch_add(&tmp_counter, 1));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        sh->cache_error =
            hark_xasprintf("open(\"%s\"): %s", tmp, strerror(errno));
        goto done;
    }
    if (!write_all(fd, b.ptr, b.len)) {
        sh->cache_error =
            hark_xasprintf("write(\"%s\"): %s", tmp, strerror(errno));
        (void)close(fd);
        (void)unlink(tmp);
        goto done;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        sh->cache_error =
            hark_xasprintf("rename(\"%s\"): %s", tmp, strerror(errno));
        (void)unlink(tmp);
        goto done;
    }
    sh->is_written = true;
done:
    free(db); /* Hyperscan's default allocator is malloc */
    hark_buf_cleanup(&b);
}

/*
 * Compiles one shard. An entry Hyperscan rejects alone, or that the
 * multi-compile names, makes its condition fall back ("always hit": every
 * other entry of that condition is then moot, and dropped too); an error
 * that names no entry makes every condition of the shard fall back. Its
 * other entries are compiled again without it.
 */
static void compile_shard(struct shard *sh)
{
    const char **exprs = hark_xcalloc(sh->n, sizeof(*exprs));
    unsigned *flags = hark_xcalloc(sh->n, sizeof(*flags));
    unsigned *ids = hark_xcalloc(sh->n, sizeof(*ids));
    size_t *lens = hark_xcalloc(sh->n, sizeof(*lens));
    for (size_t i = 0; i < sh->n && sh->tier == TIER_REGEX; i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *ce = NULL;
        if (hs_expression_info(sh->entries[i].expr, PF_FLAGS, &info, &ce) !=
            HS_SUCCESS) {
            shard_fallback(sh, i, ce ? ce->message : "rejected");
            hs_free_compile_error(ce);
        }
        free(info);
    }
    for (;;) {
        size_t n = 0;
        for (size_t i = 0; i < sh->n; i++) {
            if (!sh->fb[i]) {
                exprs[n] = sh->entries[i].expr;
                lens[n] = strlen(exprs[n]);
                flags[n] = tier_flags(sh->tier);
                ids[n] = (unsigned)i;
                n++;
            }
        }
        if (n == 0) {
            break;
        }
        hs_compile_error_t *ce = NULL;
        hs_error_t rc =
            sh->tier == TIER_LIT
                ? hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)n,
                                       HS_MODE_BLOCK, NULL, &sh->hdb, &ce)
                : hs_compile_multi(exprs, flags, ids, (unsigned)n,
                                   HS_MODE_BLOCK, NULL, &sh->hdb, &ce);
        if (rc == HS_SUCCESS) {
            break;
        }
        sh->hdb = NULL;
        const char *msg = ce ? ce->message : "compile failed";
        if (ce && ce->expression >= 0 && (size_t)ce->expression < n) {
            shard_fallback(sh, ids[ce->expression], msg);
        } else {
            for (size_t i = 0; i < n; i++) {
                shard_fallback(sh, ids[i], msg);
            }
        }
        hs_free_compile_error(ce);
    }
    sh->is_compiled = true;
    free(exprs);
    free(flags);
    free(ids);
    free(lens);
}

static void build_shard(struct hark_prefilter *pf, struct shard *sh)
{
    struct hark_buf key;
    hark_buf_init(&key, 0);
    sh->fb = hark_xcalloc(sh->n ? sh->n : 1, 1);
    shard_key(pf, sh, &key);
    sh->key = hark_hash64(key.ptr, key.len, HARK_HASH_SEED);
    /* Small, fast shards are not worth a file: looked up, not written. */
    bool has_cache = pf->cache_dir[0] != '\0';
    if (has_cache && cache_read(pf, sh, &key)) {
        sh->is_cached = true;
        sh->is_cacheable = true;
    } else {
        double t0 = mono_s();
        compile_shard(sh);
        sh->is_cacheable =
            has_cache && (sh->n >= pf->cache_min ||
                          mono_s() - t0 >= HARK_PREFILTER_CACHE_MIN_S);
        if (sh->is_cacheable) {
            cache_write(pf, sh, &key);
        }
    }
    hark_buf_cleanup(&key);
}

static void *build_worker(void *arg)
{
    struct hark_prefilter *pf = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&pf->next_shard, 1);
        if (i >= pf->n_shards) {
            break;
        }
        build_shard(pf, &pf->shards[i]);
    }
    return NULL;
}

static void build_all_shards(struct hark_prefilter *pf, unsigned n_threads)
{
    if (n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 && n < 64 ? (unsigned)n : 1;
    }
    if (n_threads > pf->n_shards) {
        n_threads = pf->n_shards ? (unsigned)pf->n_shards : 1;
    }
    atomic_init(&pf->next_shard, 0);
    pthread_t *tids = hark_xcalloc(n_threads, sizeof(*tids));
    unsigned n_started = 0;
    for (unsigned i = 1; i < n_threads; i++) {
        if (pthread_create(&tids[n_started], NULL, build_worker, pf) != 0) {
            break; /* fewer threads: the work gets done all the same */
        }
        n_started++;
    }
    (void)build_worker(pf);
    for (unsigned i = 0; i < n_started; i++) {
        (void)pthread_join(tids[i], NULL);
    }
    free(tids);
}

static void log_build(const struct hark_prefilter *pf,
                      const struct hark_rules *rules)
{
    const struct hark_prefilter_stats *st = &pf->stats;
    /* Tests the loader gave no pattern (a regex with a NUL, or one that
     * matches the empty string: `hark check` warns about those) are not
     * news here. */
    size_t n_rejected = st->n_fallback;
    for (size_t i = 0; i < pf->n_conds; i++) {
        n_rejected -= pf->conds[i].pattern == NULL;
    }
    if (n_rejected > 0) {
        size_t shown = 0;
        char list[1024];
        size_t n = 0;
        list[0] = '\0';
        for (size_t s = 0; s < pf->n_shards && shown < 3; s++) {
            const struct shard *sh = &pf->shards[s];
            for (size_t k = 0; k < sh->n_notes && shown < 3; k++) {
                const struct cond *c = &pf->conds[sh->notes[k].cond];
                int w = snprintf(list + n, sizeof(list) - n, "%s'%s': %s",
                                 shown ? "; " : "", rules->rules[c->rule].id,
                                 sh->notes[k].message);
                if (w < 0 || (size_t)w >= sizeof(list) - n) {
                    break;
                }
                n += (size_t)w;
                shown++;
            }
        }
        HARK_LOG_WARN("rules",
                      "prefilter: %zu of %zu text tests cannot be "
                      "prefiltered and are tried on every post (%s%s)",
                      n_rejected, st->n_conds, list,
                      n_rejected > shown ? "; ..." : "");
    }
    for (size_t s = 0; s < pf->n_shards; s++) {
        if (pf->shards[s].cache_error) {
            HARK_LOG_DEBUG("rules", "prefilter cache not written: %s",
                           pf->shards[s].cache_error);
            break;
        }
    }
    HARK_LOG_DEBUG("rules",
                   "prefilter: %zu patterns in %zu shards (%zu compiled, "
                   "%zu cached, %zu written) in %.3f s, %zu bytes",
                   st->n_conds - st->n_fallback, st->n_shards, st->n_compiled,
                   st->n_cached, st->n_cache_written, st->build_s,
                   st->db_bytes);
}

hark_err_t hark_prefilter_build(const struct hark_rules *rules,
                                const struct hark_prefilter_opts *opts,
                                struct hark_prefilter **out)
{
    *out = NULL;
    double t0 = mono_s();
    if (hs_valid_platform() != HS_SUCCESS) {
        HARK_LOG_WARN("rules", "prefilter off: this CPU cannot run "
                               "Hyperscan (needs SSSE3); every rule is tried "
                               "on every post");
        return HARK_EINVAL;
    }
    struct hark_prefilter *pf = hark_xcalloc(1, sizeof(*pf));
    pf->uid = atomic_fetch_add(&next_uid, 1);
    if (hs_populate_platform(&pf->platform) != HS_SUCCESS) {
        free(pf);
        return HARK_EINTERNAL;
    }
    pf->n_conds = rules->n_text;
    pf->conds = hark_xcalloc(pf->n_conds ? pf->n_conds : 1, sizeof(*pf->conds));
    for (size_t r = 0; r < rules->n_rules; r++) {
        collect_conds(pf, rules->rules[r].match, (uint32_t)r);
    }
    for (size_t i = 0; i < pf->n_conds; i++) {
        struct cond *c = &pf->conds[i];
        size_t n = 0;
        if (opts->is_literals && !c->is_fallback) {
            n = hark_prefilter_literals(
                c->pattern, c->db == HARK_PREFILTER_DB_NORM, c->lits);
        }
        c->is_literal = n > 0;
        c->need = n > 0 ? (uint8_t)((1U << n) - 1) : 1;
    }
    pf->n_rules = rules->n_rules;
    pf->n_words = (pf->n_rules + 63) / 64;
    pf->always =
        hark_xcalloc(pf->n_words ? pf->n_words : 1, sizeof(*pf->always));
    (void)snprintf(pf->cache_dir, sizeof(pf->cache_dir), "%s", opts->cache_dir);
    pf->cache_min = opts->cache_min_patterns;

    pf->shard_size[TIER_REGEX] =
        opts->shard_patterns >= 2 ? opts->shard_patterns : 2;
    pf->shard_size[TIER_LIT] =
        opts->shard_literals >= 2 ? opts->shard_literals : 2;
    cut_shards(pf);
    build_all_shards(pf, opts->n_threads);
    /* After the shards: their compiles may have added fallbacks. */
    for (size_t s = 0; s < pf->n_shards; s++) {
        const struct shard *sh = &pf->shards[s];
        for (size_t k = 0; k < sh->n; k++) {
            if (sh->fb[k]) {
                pf->conds[sh->entries[k].cond].is_fallback = true;
            }
        }
    }
    compute_always(pf, rules);

    struct hark_prefilter_stats *st = &pf->stats;
    st->n_conds = pf->n_conds;
    st->n_shards = pf->n_shards;
    for (size_t i = 0; i < pf->n_conds; i++) {
        struct cond *c = &pf->conds[i];
        st->n_fallback += c->is_fallback;
        st->n_literal += c->is_literal && !c->is_fallback;
        st->n_regex += !c->is_literal && !c->is_fallback;
        for (size_t g = 0; g < HARK_PREFILTER_GROUPS_MAX; g++) {
            st->n_literals += c->lits[g].n;
        }
    }
    for (size_t s = 0; s < pf->n_shards; s++) {
        const struct shard *sh = &pf->shards[s];
        st->n_compiled += sh->is_compiled;
        st->n_cached += sh->is_cached;
        st->n_cache_written += sh->is_written;
        size_t size = 0;
        if (sh->hdb && hs_database_size(sh->hdb, &size) == HS_SUCCESS) {
            st->db_bytes += size;
        }
    }
    st->build_s = mono_s() - t0;
    log_build(pf, rules);
    /* What the build borrowed or kept for itself goes now. */
    for (size_t i = 0; i < pf->n_conds; i++) {
        pf->conds[i].pattern = NULL;
        for (size_t g = 0; g < HARK_PREFILTER_GROUPS_MAX; g++) {
            hark_strv_cleanup(&pf->conds[i].lits[g]);
        }
    }
    for (size_t s = 0; s < pf->n_shards; s++) {
        struct shard *sh = &pf->shards[s];
        for (size_t k = 0; k < sh->n; k++) {
            sh->entries[k].expr = NULL;
        }
        free(sh->fb);
        sh->fb = NULL;
        for (size_t k = 0; k < sh->n_notes; k++) {
            free(sh->notes[k].message);
        }
        free(sh->notes);
        sh->notes = NULL;
        sh->n_notes = 0;
        free(sh->cache_error);
        sh->cache_error = NULL;
    }
    *out = pf;
    return HARK_OK;
}

void hark_prefilter_free(struct hark_prefilter *pf)
{
    if (!pf) {
        return;
    }
    for (size_t s = 0; s < pf->n_shards; s++) {
        hs_free_database(pf->shards[s].hdb);
        free(pf->shards[s].entries);
    }
    free(pf->shards);
    free(pf->conds);
    free(pf->always);
    free(pf);
}

const struct hark_prefilter_stats *
hark_prefilter_stats(const struct hark_prefilter *pf)
{
    return &pf->stats;
}

bool hark_prefilter_shard_path(const struct hark_prefilter *pf,
                               size_t i,
                               char *buf,
                               size_t buf_len)
{
    if (i >= pf->n_shards || !pf->shards[i].is_cacheable) {
        return false;
    }
    shard_path(pf, &pf->shards[i], buf, buf_len);
    return true;
}

/* ------------------------------------------------------------------ */
/* Per post                                                            */

struct hark_prefilter_scratch *hark_prefilter_scratch_new(void)
{
    return hark_xcalloc(1, sizeof(struct hark_prefilter_scratch));
}

void hark_prefilter_scratch_free(struct hark_prefilter_scratch *pfs)
{
    if (!pfs) {
        return;
    }
    hs_free_scratch(pfs->hs);
    free(pfs->hit);
    free(pfs->gmask);
    free(pfs->hit_list);
    free(pfs->cand);
    free(pfs->cand_list);
    free(pfs->fold);
    free(pfs);
}

static bool prepare(const struct hark_prefilter *pf,
                    struct hark_prefilter_scratch *pfs)
{
    for (size_t s = 0; s < pf->n_shards; s++) {
        if (pf->shards[s].hdb &&
            hs_alloc_scratch(pf->shards[s].hdb, &pfs->hs) != HS_SUCCESS) {
            return false;
        }
    }
    size_t n_conds = pf->n_conds ? pf->n_conds : 1;
    if (n_conds > pfs->cond_cap) {
        pfs->hit = hark_xrealloc(pfs->hit, n_conds);
        pfs->gmask = hark_xrealloc(pfs->gmask, n_conds);
        pfs->hit_list =
            hark_xrealloc(pfs->hit_list, n_conds * sizeof(*pfs->hit_list));
        pfs->cond_cap = n_conds;
    }
    size_t n_words = pf->n_words ? pf->n_words : 1;
    if (n_words > pfs->word_cap) {
        pfs->cand = hark_xrealloc(pfs->cand, n_words * sizeof(*pfs->cand));
        pfs->word_cap = n_words;
    }
    size_t n_rules = pf->n_rules ? pf->n_rules : 1;
    if (n_rules > pfs->rule_cap) {
        pfs->cand_list =
            hark_xrealloc(pfs->cand_list, n_rules * sizeof(*pfs->cand_list));
        pfs->rule_cap = n_rules;
    }
    for (size_t i = 0; i < pf->n_conds; i++) {
        pfs->hit[i] = pf->conds[i].is_fallback;
        pfs->gmask[i] = 0;
    }
    pfs->uid = pf->uid;
    return true;
}

bool hark_prefilter_begin(const struct hark_prefilter *pf,
                          struct hark_prefilter_scratch *pfs)
{
    if (pfs->uid != pf->uid) {
        pfs->n_hits = 0;
        if (!prepare(pf, pfs)) {
            pfs->uid = 0;
            return false;
        }
    }
    for (size_t i = 0; i < pfs->n_hits; i++) {
        pfs->hit[pfs->hit_list[i]] = 0; /* never a fallback: see on_match */
        pfs->gmask[pfs->hit_list[i]] = 0;
    }
    pfs->n_hits = 0;
    return true;
}

unsigned hark_prefilter_fields(const struct hark_prefilter *pf,
                               enum hark_prefilter_db db)
{
    return pf->fields[db];
}

static int on_match(unsigned int id,
                    unsigned long long from,
                    unsigned long long to,
                    unsigned int flags,
                    void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct hark_prefilter_scratch *pfs = ctx;
    const struct entry *en = &pfs->shard->entries[id];
    uint32_t g = en->cond;
    const struct cond *c = &pfs->pf->conds[g];
    /* A fallback condition may keep entries in another shard: it is hit
     * already, and stays so. */
    if (!(c->fields & (1U << pfs->field)) || c->is_fallback) {
        return 0;
    }
    uint8_t m = pfs->gmask[g];
    if (m == 0) {
        pfs->hit_list[pfs->n_hits++] = g;
    }
    m = (uint8_t)(m | (1U << en->group));
    pfs->gmask[g] = m;
    if (m == c->need) {
        pfs->hit[g] = 1;
    }
    return 0;
}

/*
 * `s` with U+212A KELVIN SIGN and U+017F LONG S folded to k and s, for
 * the ASCII literals (a copy in the scratch only when there is one).
 */
static const char *fold_ks(struct hark_prefilter_scratch *pfs,
                           const char *s,
                           size_t len,
                           size_t *out_len)
{
    *out_len = len;
    if (!memchr(s, 0xe2, len) && !memchr(s, 0xc5, len)) {
        return s;
    }
    if (len + 1 > pfs->fold_cap) {
        pfs->fold = hark_xrealloc(pfs->fold, len + 1);
        pfs->fold_cap = len + 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i + 2 < len && memcmp(s + i, "\xe2\x84\xaa", 3) == 0) {
            pfs->fold[n++] = 'k';
            i += 2;
        } else if (i + 1 < len && memcmp(s + i, "\xc5\xbf", 2) == 0) {
            pfs->fold[n++] = 's';
            i += 1;
        } else {
            pfs->fold[n++] = s[i];
        }
    }
    *out_len = n;
    return pfs->fold;
}

bool hark_prefilter_scan(const struct hark_prefilter *pf,
                         struct hark_prefilter_scratch *pfs,
                         enum hark_prefilter_db db,
                         unsigned field,
                         const char *s,
                         size_t len)
{
    if (len > UINT32_MAX) {
        return false;
    }
    pfs->pf = pf;
    pfs->field = field;
    const char *folded = NULL;
    size_t folded_len = 0;
    for (size_t i = pf->first[db]; i < pf->first[db + 1]; i++) {
        const struct shard *sh = &pf->shards[i];
        if (!sh->hdb || !(sh->fields & (1U << field))) {
            continue;
        }
        const char *subject = s;
        size_t subject_len = len;
        if (sh->tier == TIER_LIT && db == HARK_PREFILTER_DB_ORIG) {
            if (!folded) {
                folded = fold_ks(pfs, s, len, &folded_len);
            }
            subject = folded;
            subject_len = folded_len;
        }
        pfs->shard = sh;
        if (hs_scan(sh->hdb, subject, (unsigned int)subject_len, 0, pfs->hs,
                    on_match, pfs) != HS_SUCCESS) {
            return false;
        }
    }
    return true;
}

size_t hark_prefilter_candidates(const struct hark_prefilter *pf,
                                 const struct hark_rules *rules,
                                 struct hark_prefilter_scratch *pfs,
                                 const uint32_t **out)
{
    memcpy(pfs->cand, pf->always, pf->n_words * sizeof(*pfs->cand));
    for (size_t i = 0; i < pfs->n_hits; i++) {
        if (!pfs->hit[pfs->hit_list[i]]) {
            continue; /* not every group */
        }
        uint32_t r = pf->conds[pfs->hit_list[i]].rule;
        uint64_t bit = (uint64_t)1 << (r % 64);
        if (!(pfs->cand[r / 64] & bit) &&
            may_hold(rules->rules[r].match, pfs->hit)) {
            pfs->cand[r / 64] |= bit;
        }
    }
    size_t n = 0;
    for (size_t w = 0; w < pf->n_words; w++) {
        uint64_t x = pfs->cand[w];
        while (x) {
            pfs->cand_list[n++] =
                (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
            x &= x - 1;
        }
    }
    *out = pfs->cand_list;
    return n;
}
