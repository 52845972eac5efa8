/*
 * prefilter_lit: the literals a regex cannot match without (see
 * hark_prefilter_literals() in prefilter_int.h).
 *
 * Why: Hyperscan compiles a Unicode-aware, case-insensitive regex slowly
 * (about 10 ms a pattern here) into a large database that scans slowly
 * once there are thousands of them, while a set of plain literals compiles
 * and scans fast. Most rules name a brand, a product or a phrase: a
 * literal that every match must contain. A hit on one of a condition's
 * literals makes it a candidate; PCRE2 decides.
 *
 * The pattern is parsed (a conservative subset of PCRE2: anything this
 * parser does not know makes it give up, and the condition keeps its
 * Hyperscan regex) into, per node, what RE2's prefilter and ripgrep's
 * literal extraction compute:
 *
 *   exact: the finite set of strings the node matches, when it is small
 *          ("refunds?" -> {refund, refunds});
 *   req:   up to GROUPS_MAX sets of strings: every match of the node
 *          contains one string of each set ("overcharg\w*" ->
 *          {overcharg}; "(love|hate) \w+ (acme|hooli)" -> {love , hate }
 *          and {acme, hooli}).
 *
 * Concatenation multiplies exact sets while they stay small, and otherwise
 * keeps the requirements of its parts (all of them hold); alternation
 * unions the best requirement of each branch (a branch without one leaves
 * the whole without one); x{m,n} with m >= 1 requires what x requires;
 * classes, `.`, \w and friends match one character of many and require
 * nothing; \b, ^, $ match the empty string.
 *
 * Case: PCRE2 matches case-insensitively with Unicode case folding.
 * Hyperscan's literal matcher folds ASCII only, and the only ASCII
 * letters with a partner outside ASCII are k (U+212A KELVIN SIGN) and s
 * (U+017F LONG S) (checked over every code point with PCRE2 10.42); the
 * scan folds those two to k and s in its copy of the original text
 * (prefilter.c). So on the original text a required string is cut to its
 * longest ASCII run (every match still contains it). On the normalized
 * copy the keyword patterns are case-sensitive and the text is already
 * folded: literals stay whole.
 *
 * A final set drops every string that contains another one (it adds no
 * post the other does not already bring).
 */
#include <stdlib.h>
#include <string.h>

#include "prefilter_int.h"

#define EXACT_MAX        64   /* strings in an exact set */
#define REQ_MAX          4096 /* strings in a requirement */
#define STRING_MAX       128  /* bytes of one string */
#define DEPTH_MAX        64
#define GROUPS_MAX       HARK_PREFILTER_GROUPS_MAX
#define SECOND_GROUP_MAX 8 /* strings in a group after the best one */

struct info {
    bool is_exact;
    struct hark_strv exact;
    struct hark_strv req[GROUPS_MAX]; /* every one of them holds */
    size_t n_req;
};

struct parser {
    const char *p;
    const char *end;
    bool is_failed; /* something this parser does not know */
    bool is_folded; /* normalized copy: literals stay whole */
    int depth;
};

static void info_init(struct info *in)
{
    memset(in, 0, sizeof(*in));
}

static void info_cleanup(struct info *in)
{
    hark_strv_cleanup(&in->exact);
    for (size_t i = 0; i < GROUPS_MAX; i++) {
        hark_strv_cleanup(&in->req[i]);
    }
    info_init(in);
}

static bool strv_has(const struct hark_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static void strv_add_unique(struct hark_strv *sv, const char *s)
{
    if (!strv_has(sv, s)) {
        hark_strv_add(sv, s, strlen(s));
    }
}

static void strv_copy(struct hark_strv *dst, const struct hark_strv *src)
{
    for (size_t i = 0; i < src->n; i++) {
        strv_add_unique(dst, src->v[i]);
    }
}

static void strv_move(struct hark_strv *dst, struct hark_strv *src)
{
    hark_strv_cleanup(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

/* An exact node made of one string. */
static void info_string(struct info *in, const char *s, size_t len)
{
    info_init(in);
    in->is_exact = true;
    hark_strv_add(&in->exact, s, len);
}

/* A node that matches one character of many (or a zero-width one of
 * unknown kind): exact nothing, requires nothing. */
static void info_any(struct info *in)
{
    info_init(in);
}

/*
 * The part of `s` a literal can use: all of it on the normalized copy;
 * on the original text its longest run of ASCII (whole code points, since
 * ASCII bytes are). Returns the length.
 */
static size_t
longest_safe(const struct parser *ps, const char *s, size_t *start)
{
    size_t n = strlen(s);
    *start = 0;
    if (ps->is_folded) {
        return n;
    }
    size_t best = 0;
    size_t run = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (unsigned char)s[i] < 0x80) {
            run++;
            continue;
        }
        if (run > best) {
            best = run;
            *start = i - run;
        }
        run = 0;
    }
    return best;
}

/* The usable length of a set's weakest string (0 for an empty set). */
static size_t min_len(const struct parser *ps, const struct hark_strv *sv)
{
    if (sv->n == 0) {
        return 0;
    }
    size_t score = SIZE_MAX;
    for (size_t i = 0; i < sv->n; i++) {
        size_t start = 0;
        size_t len = longest_safe(ps, sv->v[i], &start);
        if (len < score) {
            score = len;
        }
    }
    return score;
}

/*
 * How good a requirement is: long strings are rare in text, but past
 * QUALITY_LEN bytes a string is rare enough and fewer strings win (each
 * is a Hyperscan entry, and k/s spellings multiply them).
 */
#define QUALITY_LEN 6

static size_t quality(const struct parser *ps, const struct hark_strv *sv)
{
    size_t len = min_len(ps, sv);
    if (len == 0 || strv_has(sv, "")) {
        return 0;
    }
    if (len > QUALITY_LEN) {
        len = QUALITY_LEN;
    }
    return len * 1000 + (sv->n < 1000 ? 1000 - sv->n : 0);
}

/*
 * Adds `set` to the requirements of `in` (a copy), unless it is useless;
 * when they are full, it replaces the weakest if it is better.
 */
static void
add_group(const struct parser *ps, struct info *in, const struct hark_strv *set)
{
    size_t score = quality(ps, set);
    if (score == 0) {
        return;
    }
    for (size_t i = 0; i < in->n_req; i++) {
        if (in->req[i].n == set->n) {
            bool is_same = true;
            for (size_t k = 0; k < set->n && is_same; k++) {
                is_same = strv_has(&in->req[i], set->v[k]);
            }
            if (is_same) {
                return;
            }
        }
    }
    size_t slot = in->n_req;
    if (slot == GROUPS_MAX) {
        size_t worst = 0;
        size_t worst_score = SIZE_MAX;
        for (size_t i = 0; i < in->n_req; i++) {
            size_t s = quality(ps, &in->req[i]);
            if (s < worst_score) {
                worst_score = s;
                worst = i;
            }
        }
        if (score <= worst_score) {
            return;
        }
        slot = worst;
        hark_strv_cleanup(&in->req[slot]);
    } else {
        in->n_req++;
    }
    strv_copy(&in->req[slot], set);
}

/* Adds every requirement of `from` (and its exact set) to `in`. */
static void
add_groups(const struct parser *ps, struct info *in, const struct info *from)
{
    if (from->is_exact) {
        add_group(ps, in, &from->exact);
    }
    for (size_t i = 0; i < from->n_req; i++) {
        add_group(ps, in, &from->req[i]);
    }
}

/* The best single requirement of a node, or NULL. */
static const struct hark_strv *info_best(const struct parser *ps,
                                         const struct info *in)
{
    const struct hark_strv *best = NULL;
    size_t best_score = 0;
    if (in->is_exact && !strv_has(&in->exact, "")) {
        best = &in->exact;
        best_score = quality(ps, best);
    }
    for (size_t i = 0; i < in->n_req; i++) {
        size_t s = quality(ps, &in->req[i]);
        if (s > best_score) {
            best = &in->req[i];
            best_score = s;
        }
    }
    return best;
}

/* a x b, or false when it would be too large. */
static bool cross(const struct hark_strv *a,
                  const struct hark_strv *b,
                  struct hark_strv *out)
{
    if (a->n * b->n > EXACT_MAX) {
        return false;
    }
    struct hark_strv r = {NULL, 0};
    char buf[2 * STRING_MAX + 1];
    for (size_t i = 0; i < a->n; i++) {
        for (size_t k = 0; k < b->n; k++) {
            size_t la = strlen(a->v[i]);
            size_t lb = strlen(b->v[k]);
            if (la + lb > STRING_MAX) {
                hark_strv_cleanup(&r);
                return false;
            }
            memcpy(buf, a->v[i], la);
            memcpy(buf + la, b->v[k], lb);
            buf[la + lb] = '\0';
            strv_add_unique(&r, buf);
        }
    }
    strv_move(out, &r);
    return true;
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */

static void parse_alt(struct parser *ps, struct info *out);

static bool at_end(const struct parser *ps)
{
    return ps->p >= ps->end;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static size_t utf8_encode(unsigned long cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One UTF-8 code point at ps->p into out (0 on a malformed sequence). */
static size_t take_char(struct parser *ps, char out[4])
{
    unsigned char c = (unsigned char)*ps->p;
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (n == 0 || (size_t)(ps->end - ps->p) < n) {
        ps->is_failed = true;
        return 0;
    }
    memcpy(out, ps->p, n);
    ps->p += n;
    return n;
}

/*
 * \x{HHH} or \xHH (ps->p just past the x): the code point, or -1. A bare
 * \x (no digits) is left to Hyperscan.
 */
static long parse_hex(struct parser *ps)
{
    unsigned long cp = 0;
    int n = 0;
    if (!at_end(ps) && *ps->p == '{') {
        ps->p++;
        while (!at_end(ps) && hex_value(*ps->p) >= 0 && n < 8) {
            cp = cp * 16 + (unsigned long)hex_value(*ps->p++);
            n++;
        }
        if (at_end(ps) || *ps->p != '}' || n == 0) {
            return -1;
        }
        ps->p++;
    } else {
        while (!at_end(ps) && hex_value(*ps->p) >= 0 && n < 2) {
            cp = cp * 16 + (unsigned long)hex_value(*ps->p++);
            n++;
        }
        if (n == 0) {
            return -1;
        }
    }
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return -1;
    }
    return (long)cp;
}

/* \p{..}, \P{..}, \pL (ps->p just past the p): skips it. */
static bool skip_property(struct parser *ps)
{
    if (at_end(ps)) {
        return false;
    }
    if (*ps->p != '{') {
        ps->p++;
        return true;
    }
    while (!at_end(ps) && *ps->p != '}') {
        ps->p++;
    }
    if (at_end(ps)) {
        return false;
    }
    ps->p++;
    return true;
}

/*
 * The escape at ps->p (just past the backslash), outside a class. Sets
 * *out to a literal, an "any" or the empty string.
 */
static void parse_escape(struct parser *ps, struct info *out)
{
    info_any(out);
    if (at_end(ps)) {
        ps->is_failed = true;
        return;
    }
    char c = *ps->p++;
    char buf[4];
    switch (c) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 's':
    case 'S':
    case 'h':
    case 'H':
    case 'v':
    case 'V':
        return; /* one character of a class */
    case 'N':
        if (!at_end(ps) && *ps->p == '{') {
            ps->is_failed = true;
        }
        return;
    case 'p':
    case 'P':
        if (!skip_property(ps)) {
            ps->is_failed = true;
        }
        return;
    case 'b':
    case 'B':
    case 'A':
    case 'Z':
    case 'z':
    case 'G':
        info_string(out, "", 0);
        return;
    case 't':
        info_string(out, "\t", 1);
        return;
    case 'n':
        info_string(out, "\n", 1);
        return;
    case 'r':
        info_string(out, "\r", 1);
        return;
    case 'f':
        info_string(out, "\f", 1);
        return;
    case 'e':
        info_string(out, "\x1b", 1);
        return;
    case 'a':
        info_string(out, "\a", 1);
        return;
    case 'x': {
        long cp = parse_hex(ps);
        if (cp < 0) {
            ps->is_failed = true;
            return;
        }
        info_string(out, buf, utf8_encode((unsigned long)cp, buf));
        return;
    }
    default:
        break;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9')) {
        /* Back references, \Q, \K, \R, \X, \g, \k, \c, \o, octal... */
        ps->is_failed = true;
        return;
    }
    ps->p--; /* any other escaped character is itself */
    size_t n = take_char(ps, buf);
    if (n > 0) {
        info_string(out, buf, n);
    }
}

/* One member of a class: a code point into out, or a class escape. */
static size_t class_member(struct parser *ps, char out[4], bool *is_class)
{
    *is_class = false;
    if (*ps->p != '\\') {
        if (*ps->p == '[') {
            /* POSIX classes and their lookalikes: not worth the risk. */
            ps->is_failed = true;
            return 0;
        }
        return take_char(ps, out);
    }
    ps->p++;
    if (at_end(ps)) {
        ps->is_failed = true;
        return 0;
    }
    char c = *ps->p++;
    if (strchr("dDwWsShHvV", c)) {
        *is_class = true;
        return 0;
    }
    if (c == 'p' || c == 'P') {
        *is_class = true;
        if (!skip_property(ps)) {
            ps->is_failed = true;
        }
        return 0;
    }
    static const char ctl[] = "t\tn\nr\rf\fe\x1b"
                              "a\ab\b";
    for (size_t i = 0; ctl[i]; i += 2) {
        if (ctl[i] == c) {
            out[0] = ctl[i + 1];
            return 1;
        }
    }
    if (c == 'x') {
        long cp = parse_hex(ps);
        if (cp < 0) {
            ps->is_failed = true;
            return 0;
        }
        return utf8_encode((unsigned long)cp, out);
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9')) {
        ps->is_failed = true;
        return 0;
    }
    ps->p--;
    return take_char(ps, out);
}

/*
 * [...] (ps->p just past the '['). Exact when it lists a few plain
 * characters or ASCII ranges; otherwise one character of many.
 */
static void parse_class(struct parser *ps, struct info *out)
{
    info_any(out);
    bool is_negated = false;
    bool is_complex = false;
    struct hark_strv members = {NULL, 0};
    if (!at_end(ps) && *ps->p == '^') {
        is_negated = true;
        ps->p++;
    }
    bool is_first = true;
    while (!ps->is_failed) {
        if (at_end(ps)) {
            ps->is_failed = true;
            break;
        }
        if (*ps->p == ']' && !is_first) {
            ps->p++;
            break;
        }
        is_first = false;
        char lo[4];
        bool is_class = false;
        size_t n = class_member(ps, lo, &is_class);
        if (ps->is_failed) {
            break;
        }
        if (is_class) {
            is_complex = true;
            continue;
        }
        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
            ps->p++;
            char hi[4];
            size_t m = class_member(ps, hi, &is_class);
            if (ps->is_failed) {
                break;
            }
            if (is_class || n != 1 || m != 1 ||
                (unsigned char)lo[0] > (unsigned char)hi[0] ||
                hi[0] - lo[0] >= EXACT_MAX) {
                is_complex = true;
                continue;
            }
            for (char ch = lo[0]; ch <= hi[0] && ch > 0; ch++) {
                char one[2] = {ch, '\0'};
                strv_add_unique(&members, one);
                if (ch == 0x7f) {
                    break;
                }
            }
            continue;
        }
        char one[5];
        memcpy(one, lo, n);
        one[n] = '\0';
        strv_add_unique(&members, one);
    }
    if (!ps->is_failed && !is_negated && !is_complex && members.n > 0 &&
        members.n <= EXACT_MAX && !strv_has(&members, "")) {
        out->is_exact = true;
        strv_move(&out->exact, &members);
    }
    hark_strv_cleanup(&members);
}

/* "(" at ps->p - 1: which kind of group; false for one we do not know. */
static bool group_open(struct parser *ps)
{
    if (at_end(ps) || *ps->p != '?') {
        return !at_end(ps) && *ps->p != '*'; /* (*VERB) */
    }
    ps->p++;
    if (at_end(ps)) {
        return false;
    }
    char c = *ps->p;
    if (c == ':') {
        ps->p++;
        return true;
    }
    char close = 0;
    if (c == 'P' && ps->end - ps->p >= 2 && ps->p[1] == '<') {
        ps->p += 2;
        close = '>';
    } else if (c == '<' && ps->end - ps->p >= 2 && ps->p[1] != '=' &&
               ps->p[1] != '!') {
        ps->p++;
        close = '>';
    } else if (c == '\'') {
        ps->p++;
        close = '\'';
    } else {
        return false; /* options, lookaround, atomic, comments, ... */
    }
    const char *name = ps->p;
    while (!at_end(ps) && *ps->p != close) {
        char n = *ps->p;
        if (!((n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') ||
              (n >= '0' && n <= '9') || n == '_')) {
            return false;
        }
        ps->p++;
    }
    if (at_end(ps) || ps->p == name) {
        return false;
    }
    ps->p++;
    return true;
}

static void parse_atom(struct parser *ps, struct info *out)
{
    info_any(out);
    char c = *ps->p++;
    char buf[4];
    switch (c) {
    case '(':
        if (!group_open(ps) || ++ps->depth > DEPTH_MAX) {
            ps->is_failed = true;
            return;
        }
        parse_alt(ps, out);
        ps->depth--;
        if (at_end(ps) || *ps->p != ')') {
            ps->is_failed = true;
            return;
        }
        ps->p++;
        return;
    case '[':
        parse_class(ps, out);
        return;
    case '.':
        return;
    case '^':
    case '$':
        info_string(out, "", 0);
        return;
    case '\\':
        parse_escape(ps, out);
        return;
    case '*':
    case '+':
    case '?':
    case '{':
    case ')':
    case '|':
        ps->is_failed = true;
        return;
    default:
        break;
    }
    ps->p--;
    size_t n = take_char(ps, buf);
    if (n > 0) {
        info_string(out, buf, n);
    }
}

static bool parse_count(struct parser *ps, unsigned long *v)
{
    const char *start = ps->p;
    *v = 0;
    while (!at_end(ps) && *ps->p >= '0' && *ps->p <= '9' && ps->p - start < 6) {
        *v = *v * 10 + (unsigned long)(*ps->p++ - '0');
    }
    return ps->p > start;
}

/*
 * A quantifier at ps->p, if any: *min and *max (ULONG_MAX: unbounded).
 * A "{" that is not a quantifier is a literal to PCRE2; this parser gives
 * up on it instead.
 */
static bool
parse_quant(struct parser *ps, unsigned long *min, unsigned long *max)
{
    if (at_end(ps)) {
        return false;
    }
    char c = *ps->p;
    if (c == '*' || c == '+' || c == '?') {
        ps->p++;
        *min = c == '+' ? 1 : 0;
        *max = c == '?' ? 1 : (unsigned long)-1;
    } else if (c == '{') {
        ps->p++;
        if (!parse_count(ps, min)) {
            ps->is_failed = true;
            return false;
        }
        *max = *min;
        if (!at_end(ps) && *ps->p == ',') {
            ps->p++;
            *max = (unsigned long)-1;
            unsigned long m = 0;
            if (parse_count(ps, &m)) {
                *max = m;
            }
        }
        if (at_end(ps) || *ps->p != '}' || *max < *min) {
            ps->is_failed = true;
            return false;
        }
        ps->p++;
    } else {
        return false;
    }
    if (!at_end(ps) && (*ps->p == '?' || *ps->p == '+')) {
        ps->p++; /* lazy or possessive: the same strings, or fewer */
    }
    return true;
}

/* x{min,max} applied to `in`, in place. */
static void apply_quant(const struct parser *ps,
                        struct info *in,
                        unsigned long min,
                        unsigned long max)
{
    if (min == 0 && max == 1 && in->is_exact) {
        /* Optional: its strings, or nothing; it requires nothing. */
        struct hark_strv exact = {NULL, 0};
        strv_move(&exact, &in->exact);
        info_cleanup(in);
        in->is_exact = true;
        strv_move(&in->exact, &exact);
        strv_add_unique(&in->exact, "");
        return;
    }
    if (min == 0) {
        info_cleanup(in);
        return;
    }
    if (in->is_exact && min == max && min <= 4) {
        struct hark_strv acc = {NULL, 0};
        hark_strv_add(&acc, "", 0);
        bool is_ok = true;
        for (unsigned long i = 0; i < min && is_ok; i++) {
            is_ok = cross(&acc, &in->exact, &acc);
        }
        if (is_ok) {
            strv_move(&in->exact, &acc);
            return; /* its requirements hold for every repetition */
        }
        hark_strv_cleanup(&acc);
    }
    /* At least one repetition: what one requires, all require. */
    struct info r;
    info_init(&r);
    add_groups(ps, &r, in);
    info_cleanup(in);
    *in = r;
}

/* The run of single-string atoms so far, as a requirement. */
static void
flush_run(const struct parser *ps, struct info *out, char *run, size_t *run_len)
{
    if (*run_len > 0) {
        struct hark_strv one = {NULL, 0};
        hark_strv_add(&one, run, *run_len);
        add_group(ps, out, &one);
        hark_strv_cleanup(&one);
    }
    *run_len = 0;
}

/*
 * A sequence requires what each of its atoms requires, the exact set of
 * each run of exact atoms (multiplied out while small), and each run of
 * single-string atoms ("name" in "(love|hate) name": one string where the
 * product has two).
 */
static void parse_seq(struct parser *ps, struct info *out)
{
    info_init(out);
    struct hark_strv e = {NULL, 0}; /* exact set of the current run */
    hark_strv_add(&e, "", 0);
    bool is_all_exact = true;
    char run[STRING_MAX + 1];
    size_t run_len = 0;
    while (!at_end(ps) && *ps->p != '|' && *ps->p != ')' && !ps->is_failed) {
        struct info atom;
        parse_atom(ps, &atom);
        unsigned long min = 0;
        unsigned long max = 0;
        if (!ps->is_failed && parse_quant(ps, &min, &max)) {
            apply_quant(ps, &atom, min, max);
        }
        if (ps->is_failed) {
            info_cleanup(&atom);
            break;
        }
        add_groups(ps, out, &atom);
        bool is_single = atom.is_exact && atom.exact.n == 1;
        size_t len = is_single ? strlen(atom.exact.v[0]) : 0;
        if (!is_single || run_len + len > STRING_MAX) {
            flush_run(ps, out, run, &run_len);
        }
        if (is_single && len <= STRING_MAX) {
            memcpy(run + run_len, atom.exact.v[0], len);
            run_len += len;
        }
        if (atom.is_exact && cross(&e, &atom.exact, &e)) {
            info_cleanup(&atom);
            continue;
        }
        /* The run so far is a requirement of the sequence. */
        add_group(ps, out, &e);
        is_all_exact = false;
        hark_strv_cleanup(&e);
        if (atom.is_exact) {
            strv_move(&e, &atom.exact);
        } else {
            hark_strv_add(&e, "", 0);
        }
        info_cleanup(&atom);
    }
    flush_run(ps, out, run, &run_len);
    if (is_all_exact) {
        out->is_exact = true;
        strv_move(&out->exact, &e);
    } else {
        add_group(ps, out, &e);
    }
    hark_strv_cleanup(&e);
}

static void parse_alt(struct parser *ps, struct info *out)
{
    parse_seq(ps, out);
    if (at_end(ps) || *ps->p != '|' || ps->is_failed) {
        return;
    }
    /* More than one branch: union of exact sets, else of the best
     * requirement of each branch. */
    bool is_exact = out->is_exact;
    struct hark_strv exact = {NULL, 0};
    struct hark_strv req = {NULL, 0};
    bool has_req = true;
    if (is_exact) {
        strv_copy(&exact, &out->exact);
    }
    const struct hark_strv *r = info_best(ps, out);
    if (r) {
        strv_copy(&req, r);
    } else {
        has_req = false;
    }
    info_cleanup(out);
    while (!at_end(ps) && *ps->p == '|' && !ps->is_failed) {
        ps->p++;
        struct info branch;
        parse_seq(ps, &branch);
        if (branch.is_exact && is_exact &&
            exact.n + branch.exact.n <= EXACT_MAX) {
            strv_copy(&exact, &branch.exact);
        } else {
            is_exact = false;
        }
        r = info_best(ps, &branch);
        if (has_req && r && req.n + r->n <= REQ_MAX) {
            strv_copy(&req, r);
        } else {
            has_req = false;
        }
        info_cleanup(&branch);
    }
    if (is_exact) {
        out->is_exact = true;
        strv_move(&out->exact, &exact);
    } else if (has_req) {
        add_group(ps, out, &req);
    }
    hark_strv_cleanup(&exact);
    hark_strv_cleanup(&req);
}

/* One requirement as literals: cut, without redundant strings. */
static void emit_group(const struct parser *ps,
                       const struct hark_strv *set,
                       struct hark_strv *out)
{
    struct hark_strv cut = {NULL, 0};
    for (size_t i = 0; i < set->n; i++) {
        size_t start = 0;
        size_t len = longest_safe(ps, set->v[i], &start);
        char *lit = hark_xstrndup(set->v[i] + start, len);
        strv_add_unique(&cut, lit);
        free(lit);
    }
    for (size_t i = 0; i < cut.n; i++) {
        bool is_redundant = false;
        for (size_t k = 0; k < cut.n && !is_redundant; k++) {
            is_redundant = k != i && strstr(cut.v[i], cut.v[k]) != NULL;
        }
        if (!is_redundant) {
            strv_add_unique(out, cut.v[i]);
        }
    }
    hark_strv_cleanup(&cut);
}

/* Whether a hit in one of `groups` already implies a hit in `g`: every
 * literal of that group contains a literal of `g`. */
static bool
is_implied(const struct hark_strv *groups, size_t n, const struct hark_strv *g)
{
    for (size_t i = 0; i < n; i++) {
        bool is_all = true;
        for (size_t a = 0; a < groups[i].n && is_all; a++) {
            bool is_any = false;
            for (size_t b = 0; b < g->n && !is_any; b++) {
                is_any = strstr(groups[i].v[a], g->v[b]) != NULL;
            }
            is_all = is_any;
        }
        if (is_all) {
            return true;
        }
    }
    return false;
}

size_t hark_prefilter_literals(const char *pattern,
                               bool is_folded,
                               struct hark_strv groups[])
{
    struct parser ps = {pattern, pattern + strlen(pattern), false, is_folded,
                        0};
    struct info root;
    parse_alt(&ps, &root);
    size_t n = 0;
    if (!ps.is_failed && at_end(&ps)) {
        struct info all;
        info_init(&all);
        add_groups(&ps, &all, &root);
        /* The best group, and the next best while they stay small: all
         * of them must hit (an AND of ORs). */
        bool is_used[GROUPS_MAX] = {false};
        for (size_t round = 0; round < GROUPS_MAX; round++) {
            size_t best = SIZE_MAX;
            size_t best_q = 0;
            for (size_t i = 0; i < all.n_req; i++) {
                size_t q = quality(&ps, &all.req[i]);
                if (!is_used[i] && q > best_q) {
                    best = i;
                    best_q = q;
                }
            }
            if (best == SIZE_MAX ||
                min_len(&ps, &all.req[best]) < HARK_PREFILTER_LITERAL_MIN ||
                (round > 0 && all.req[best].n > SECOND_GROUP_MAX)) {
                break;
            }
            is_used[best] = true;
            struct hark_strv lits = {NULL, 0};
            emit_group(&ps, &all.req[best], &lits);
            if (is_implied(groups, n, &lits)) {
                hark_strv_cleanup(&lits);
                continue;
            }
            groups[n++] = lits;
        }
        info_cleanup(&all);
    }
    info_cleanup(&root);
    return n;
}
