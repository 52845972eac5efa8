/*
 * rules_text: compiling a rule's text tests -- "regex", "keywords" and
 * "near" -- into PCRE2 codes (JIT-compiled) and the patterns the
 * prefilter looks for (rules_int.h: `pf_pattern`).
 *
 * Keyword patterns. The terms of one condition become one alternation,
 * longest first (so a phrase wins over a word it starts with), between
 * word-boundary assertions that understand Unicode:
 *
 *     (?<![\p{L}\p{M}\p{N}_])(?:money\s+back|refund)(?![\p{L}\p{M}\p{N}_])
 *
 * A space in a phrase matches any run of white space, `*` any run of
 * letters and digits, `?` exactly one, an apostrophe any of ' ’ ʼ (people
 * type "can’t" as often as "can't"). Without "case": true the terms are
 * normalized by the very function that normalizes the post's text (NFKC,
 * case folding), and the pattern runs on that normalized copy.
 *
 * Thread: load on any thread.
 */
#include "hark/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "hark/json.h"

#include "normalize_int.h"
#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* Config maps                                                         */

static const struct hark_cfgmap near_map[] = {
    {"terms", HARK_JSON_ARRAY, true, NULL},
    {"within", HARK_JSON_INTEGER, true, NULL},
    {"ordered", HARK_JSON_BOOL, false, NULL},
    {NULL, 0, false, NULL},
};

/* ------------------------------------------------------------------ */
/* Regex                                                               */

/*
 * The byte offset in the raw JSON string starting at `raw` (just after its
 * opening quote) where decoded byte `decoded` lies: \n, \\, \" are two raw
 * bytes for one, \uXXXX six (twelve for a surrogate pair) for up to four.
 */
static size_t raw_offset(const char *raw, size_t raw_len, size_t decoded)
{
    size_t i = 0;
    size_t d = 0;
    while (i < raw_len && raw[i] != '"' && d < decoded) {
        if (raw[i] != '\\' || i + 1 >= raw_len) {
            i++;
            d++;
            continue;
        }
        if (raw[i + 1] != 'u' || i + 6 > raw_len) {
            i += 2;
            d++;
            continue;
        }
        char hex[5] = {raw[i + 2], raw[i + 3], raw[i + 4], raw[i + 5], 0};
        unsigned long cp = strtoul(hex, NULL, 16);
        size_t adv = 6;
        size_t bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
        if (cp >= 0xd800 && cp <= 0xdbff && i + 12 <= raw_len &&
            raw[i + 6] == '\\' && raw[i + 7] == 'u') {
            adv = 12;
            bytes = 4;
        }
        if (d + bytes > decoded) {
            break;
        }
        i += adv;
        d += bytes;
    }
    return i;
}

static pcre2_code *compile_regex(const char *pattern,
                                 size_t len,
                                 uint32_t opts,
                                 int *errcode,
                                 PCRE2_SIZE *erroff)
{
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, len, opts, errcode, erroff, NULL);
    if (code) {
        /* Without JIT support PCRE2 falls back to its interpreter. */
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    }
    return code;
}

/* Whether `code` can match an empty string (its minimum length is 0). */
static bool matches_empty(const pcre2_code *code)
{
    uint32_t min = 1;
    return pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &min) == 0 &&
           min == 0;
}

bool hark_rules_cond_regex(struct hark_rules_cctx *c,
                           const struct hark_json *v,
                           bool is_case,
                           struct hark_rules_node *node)
{
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (is_case ? 0 : PCRE2_CASELESS);
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    node->code = compile_regex(v->s, v->s_len, opts, &errcode, &erroff);
    if (!node->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0) {
            (void)snprintf((char *)msg, sizeof(msg), "error %d", errcode);
        }
        size_t start = v->offset + 1;
        size_t raw =
            raw_offset(c->doc->text + start, c->doc->text_len - start, erroff);
        hark_json_error(c->doc, c->ld->diag, start + raw,
                        "rule '%s': %s (at pattern offset %zu)", c->rule_id,
                        (const char *)msg, (size_t)erroff);
        return false;
    }
    bool is_empty = matches_empty(node->code);
    if (is_empty) {
        hark_json_warning(c->doc, c->ld->diag, v->offset,
                          "rule '%s': regex \"%s\" matches the empty "
                          "string, so it holds on every post",
                          c->rule_id, v->s);
    }
    node->is_normalized = false;
    /* Hyperscan patterns are NUL-terminated: one with a NUL inside has no
     * prefilter and is tried on every post; so is one that matches the
     * empty string (Hyperscan refuses those; it is always a candidate). */
    if (strlen(v->s) == v->s_len && !is_empty) {
        node->pf_pattern = hark_xstrdup(v->s);
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Keywords                                                            */

/* One keyword term as it will be compiled, with where it was written. */
struct term {
    char *text; /* normalized unless "case" */
    const struct hark_json_doc *doc;
    size_t offset;
};

#define WORD_CLASS  "[\\p{L}\\p{M}\\p{N}]"
#define BOUND_CLASS "[\\p{L}\\p{M}\\p{N}_]"

/*
 * Keyword terms are compiled into a trie of "atoms" (one code point, an
 * escaped metacharacter, \s+ or a wildcard class), emitted as nested
 * groups: "refund", "refunds", "money back" become
 * (?:refund(?:s)?|money\s+back). PCRE2 tries the alternatives of a group
 * one by one at every candidate position, so a flat alternation of fifty
 * terms costs fifty attempts; the trie costs one per level.
 */
struct trie {
    char *atom; /* the regex text of the edge into this node */
    struct trie **kids;
    size_t n_kids;
    bool is_end; /* a term ends here */
};

static void trie_free(struct trie *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_kids; i++) {
        trie_free(t->kids[i]);
    }
    free(t->kids);
    free(t->atom);
    free(t);
}

static struct trie *trie_child(struct trie *t, const char *atom)
{
    for (size_t i = 0; i < t->n_kids; i++) {
        if (strcmp(t->kids[i]->atom, atom) == 0) {
            return t->kids[i];
        }
    }
    struct trie *kid = hark_xcalloc(1, sizeof(*kid));
    kid->atom = hark_xstrdup(atom);
    t->kids = hark_rules_grow(t->kids, t->n_kids, sizeof(struct trie *));
    t->kids[t->n_kids++] = kid;
    return kid;
}

static void trie_emit(const struct trie *t, struct hark_buf *b);

static void trie_emit_kids(const struct trie *t, struct hark_buf *b)
{
    if (t->n_kids == 0) {
        return;
    }
    if (t->n_kids == 1 && !t->is_end) {
        hark_rules_buf_puts(b, t->kids[0]->atom);
        trie_emit_kids(t->kids[0], b);
        return;
    }
    hark_rules_buf_puts(b, "(?:");
    for (size_t i = 0; i < t->n_kids; i++) {
        if (i > 0) {
            hark_rules_buf_puts(b, "|");
        }
        trie_emit(t->kids[i], b);
    }
    /* A term ending here: the longer ones are tried first (greedy ?). */
    hark_rules_buf_puts(b, t->is_end ? ")?" : ")");
}

static void trie_emit(const struct trie *t, struct hark_buf *b)
{
    hark_rules_buf_puts(b, t->atom);
    trie_emit_kids(t, b);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

#define APOSTROPHES "['\\x{2019}\\x{02bc}]"

/*
 * The atom for the code point at *sp (advancing *sp to its last byte):
 * a wildcard class, an apostrophe class, an escaped metacharacter or the
 * code point itself.
 */
static const char *term_atom(const char **sp, char atom[8], bool *is_literal)
{
    const char *s = *sp;
    unsigned char ch = (unsigned char)*s;
    *is_literal = true;
    if (ch == '*' || ch == '?') {
        *is_literal = false;
        return ch == '*' ? WORD_CLASS "*" : WORD_CLASS;
    }
    if (ch == '\'') {
        return APOSTROPHES;
    }
    if (strncmp(s, "\xe2\x80\x99", 3) == 0) { /* U+2019 */
        *sp = s + 2;
        return APOSTROPHES;
    }
    if (strchr("\\^$.[]|()+{}#-/", ch)) {
        atom[0] = '\\';
        atom[1] = (char)ch;
        atom[2] = '\0';
        return atom;
    }
    /* One whole code point: a group must not split UTF-8. */
    size_t n = 1;
    while (n < 4 && ((unsigned char)s[n] & 0xc0) == 0x80) {
        n++;
    }
    memcpy(atom, s, n);
    atom[n] = '\0';
    *sp = s + n - 1;
    return atom;
}

/*
 * Adds one term to the trie; false (and an error) when the term is not a
 * usable keyword.
 */
static bool
term_insert(struct hark_rules_cctx *c, const struct term *t, struct trie *root)
{
    const char *s = t->text;
    bool has_literal = false;
    bool at_word_start = true;
    struct trie *node = root;
    while (is_blank(*s)) {
        s++;
    }
    for (; *s; s++) {
        if (is_blank(*s)) {
            while (is_blank(s[1])) {
                s++;
            }
            if (s[1] != '\0') {
                node = trie_child(node, "\\s+");
            }
            at_word_start = true;
            continue;
        }
        char atom[8];
        bool is_star = *s == '*';
        bool is_literal = false;
        const char *a = term_atom(&s, atom, &is_literal);
        if (is_star && at_word_start) {
            hark_json_error(t->doc, c->ld->diag, t->offset,
                            "keyword \"%s\": \"*\" may only be inside or "
                            "at the end of a word",
                            t->text);
            return false;
        }
        has_literal = has_literal || is_literal;
        node = trie_child(node, a);
        at_word_start = false;
    }
    if (!has_literal) {
        hark_json_error(t->doc, c->ld->diag, t->offset,
                        "keyword \"%s\" has no letters to match", t->text);
        return false;
    }
    node->is_end = true;
    return true;
}

/*
 * Lint: a word of `t` with fewer than 3 letters before a "*" matches far
 * too many words ("ab*"). A "*" that starts a word is an error elsewhere.
 */
static void lint_stem(struct hark_rules_cctx *c, const struct term *t)
{
    size_t n_stem = 0; /* code points of the word so far, not wildcards */
    bool at_word_start = true;
    for (const char *s = t->text; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (is_blank(*s)) {
            n_stem = 0;
            at_word_start = true;
        } else if (ch == '*') {
            if (!at_word_start && n_stem < 3) {
                hark_json_warning(t->doc, c->ld->diag, t->offset,
                                  "keyword \"%s\": only %zu letter%s "
                                  "before \"*\" (use at least 3, or it "
                                  "matches too many words)",
                                  t->text, n_stem, n_stem == 1 ? "" : "s");
                return;
            }
        } else {
            at_word_start = false;
            n_stem += ch != '?' && (ch & 0xc0) != 0x80;
        }
    }
}

static int term_cmp(const void *a, const void *b)
{
    const struct term *x = a;
    const struct term *y = b;
    size_t lx = strlen(x->text);
    size_t ly = strlen(y->text);
    if (lx != ly) {
        return lx > ly ? -1 : 1; /* longest first */
    }
    return strcmp(x->text, y->text);
}

static void term_add(struct term **terms,
                     size_t *n,
                     const char *s,
                     size_t len,
                     bool is_case,
                     const struct hark_json_doc *doc,
                     size_t offset)
{
    *terms = hark_rules_grow(*terms, *n, sizeof(**terms));
    (*terms)[*n].text =
        is_case ? hark_xstrndup(s, len) : hark_normalize_dup(s, len);
    (*terms)[*n].doc = doc;
    (*terms)[*n].offset = offset;
    (*n)++;
}

static bool collect_terms(struct hark_rules_cctx *c,
                          const struct hark_json *const *items,
                          size_t n_items,
                          bool is_case,
                          struct term **terms,
                          size_t *n)
{
    bool ok = true;
    for (size_t i = 0; i < n_items; i++) {
        const struct hark_json *t = items[i];
        if (t->type != HARK_JSON_STRING || t->s_len == 0) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "keywords must be non-empty strings, not %s",
                            t->type == HARK_JSON_STRING
                                ? "\"\""
                                : hark_json_type_name(t->type));
            ok = false;
            continue;
        }
        if (t->s[0] != '@') {
            term_add(terms, n, t->s, t->s_len, is_case, c->doc, t->offset);
            continue;
        }
        const struct hark_rules_located *l =
            hark_rules_find_list(c->ld, t->s + 1);
        if (!l) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "unknown list \"%s\"", t->s);
            ok = false;
            continue;
        }
        for (size_t k = 0; k < l->v->n; k++) {
            const struct hark_json *lt = l->v->items[k];
            if (lt->type == HARK_JSON_STRING && lt->s_len > 0 &&
                lt->s[0] != '@') {
                term_add(terms, n, lt->s, lt->s_len, is_case, l->doc,
                         lt->offset);
            }
        }
    }
    return ok;
}

/*
 * Compiles the keyword terms `items` (`arr` is where they were written,
 * for errors) into node->code and node->pf_pattern.
 */
static bool keywords_compile(struct hark_rules_cctx *c,
                             const struct hark_json *arr,
                             const struct hark_json *const *items,
                             size_t n_items,
                             bool is_case,
                             struct hark_rules_node *node)
{
    struct term *terms = NULL;
    size_t n = 0;
    struct hark_buf b;
    hark_buf_init(&b, 0);
    bool ok = collect_terms(c, items, n_items, is_case, &terms, &n);
    if (ok && n == 0) {
        hark_json_error(c->doc, c->ld->diag, arr->offset,
                        "\"keywords\" is empty: it could never match");
        ok = false;
    }
    for (size_t i = 0; i < n; i++) {
        lint_stem(c, &terms[i]);
    }
    if (ok) {
        qsort(terms, n, sizeof(*terms), term_cmp);
        struct trie *root = hark_xcalloc(1, sizeof(*root));
        root->atom = hark_xstrdup("");
        for (size_t i = 0; i < n; i++) {
            ok = term_insert(c, &terms[i], root) && ok;
        }
        hark_rules_buf_puts(&b, "(?<!" BOUND_CLASS ")(?:");
        trie_emit_kids(root, &b);
        hark_rules_buf_puts(&b, ")(?!" BOUND_CLASS ")");
        trie_free(root);
    }
    if (ok) {
        /* The prefilter looks for the terms without the boundaries (a
         * superset of the matches; PCRE2 confirms), one alternative per
         * term: a trie's shared prefixes hide the literals a term needs
         * ("b(?:etter\s+business\s+bureau|bb)"). */
        struct hark_buf pf;
        hark_buf_init(&pf, 0);
        hark_rules_buf_puts(&pf, "(?:");
        for (size_t i = 0; i < n; i++) {
            struct trie *one = hark_xcalloc(1, sizeof(*one));
            one->atom = hark_xstrdup("");
            if (term_insert(c, &terms[i], one)) {
                hark_rules_buf_puts(&pf, i ? "|" : "");
                trie_emit_kids(one, &pf);
            }
            trie_free(one);
        }
        hark_rules_buf_puts(&pf, ")");
        node->pf_pattern = hark_buf_take(&pf);
        hark_buf_cleanup(&pf);
    }
    if (ok) {
        uint32_t opts = PCRE2_UTF | PCRE2_UCP;
        int errcode = 0;
        PCRE2_SIZE erroff = 0;
        node->code = compile_regex(b.ptr, b.len, opts, &errcode, &erroff);
        if (!node->code) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0) {
                (void)snprintf((char *)msg, sizeof(msg), "error %d", errcode);
            }
            hark_json_error(c->doc, c->ld->diag, arr->offset,
                            "rule '%s': keywords do not compile: %s",
                            c->rule_id, (const char *)msg);
            ok = false;
        } else if (matches_empty(node->code)) {
            hark_json_warning(c->doc, c->ld->diag, arr->offset,
                              "rule '%s': these keywords match the empty "
                              "string, so they hold on every post",
                              c->rule_id);
        }
        node->is_normalized = !is_case;
    }
    for (size_t i = 0; i < n; i++) {
        free(terms[i].text);
    }
    free(terms);
    hark_buf_cleanup(&b);
    return ok;
}

bool hark_rules_cond_keywords(struct hark_rules_cctx *c,
                              const struct hark_json *arr,
                              bool is_case,
                              struct hark_rules_node *node)
{
    return keywords_compile(c, arr,
                            (const struct hark_json *const *)arr->items,
                            arr->n, is_case, node);
}

/*
 * "near": {"terms": [A, B], "within": N, "ordered": bool}, A and B keyword
 * terms (a string or a list of them), on the normalized copy.
 */
bool hark_rules_cond_near(struct hark_rules_cctx *c,
                          const struct hark_json *v,
                          struct hark_rules_node *node)
{
    bool ok = hark_cfgmap_check(c->doc, v, near_map, "\"near\"",
                                c->ld->diag) == HARK_OK;
    const struct hark_json *terms = hark_json_get(v, "terms");
    const struct hark_json *within = hark_json_get(v, "within");
    if (!terms || terms->type != HARK_JSON_ARRAY || !within ||
        within->type != HARK_JSON_INTEGER) {
        return false; /* (reported above) */
    }
    if (terms->n != 2) {
        hark_json_error(c->doc, c->ld->diag, terms->offset,
                        "\"terms\" must hold two keyword terms (or lists "
                        "of them), not %zu",
                        terms->n);
        ok = false;
    }
    if (within->i < 1 || within->i > 1000) {
        hark_json_error(c->doc, c->ld->diag, within->offset,
                        "\"within\" must be a number of words from 1 to "
                        "1000, not %lld",
                        (long long)within->i);
        ok = false;
    }
    pcre2_code *codes[2] = {NULL, NULL};
    char *pfs[2] = {NULL, NULL};
    for (size_t i = 0; i < 2 && i < terms->n; i++) {
        const struct hark_json *t = terms->items[i];
        struct hark_rules_node tmp;
        memset(&tmp, 0, sizeof(tmp));
        bool is_one = t->type == HARK_JSON_STRING;
        if (!is_one && t->type != HARK_JSON_ARRAY) {
            hark_json_error(c->doc, c->ld->diag, t->offset,
                            "a \"near\" term must be a keyword or a list "
                            "of keywords, not %s",
                            hark_json_type_name(t->type));
            ok = false;
            continue;
        }
        const struct hark_json *const *items =
            is_one ? &t : (const struct hark_json *const *)t->items;
        if (keywords_compile(c, t, items, is_one ? 1 : t->n, false, &tmp)) {
            codes[i] = tmp.code;
            pfs[i] = tmp.pf_pattern;
        } else {
            ok = false;
            free(tmp.pf_pattern);
        }
    }
    node->code = codes[0];
    node->code_b = codes[1];
    node->pf_pattern = pfs[0];
    node->pf_pattern_b = pfs[1];
    if (!ok) {
        return false;
    }
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    node->words = compile_regex(BOUND_CLASS "+", strlen(BOUND_CLASS "+"),
                                PCRE2_UTF | PCRE2_UCP, &errcode, &erroff);
    hark_assert(node->words != NULL);
    node->within = (uint32_t)within->i;
    node->is_ordered = hark_json_bool(hark_json_get(v, "ordered"), false);
    node->is_normalized = true;
    return true;
}
