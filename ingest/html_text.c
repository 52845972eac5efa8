/*
 * html_text: HTML to plain text for post bodies (Mastodon `content`, HN
 * `comment_text`, feed entries).
 *
 * One forward pass over the input, so 10 MB of garbage costs what 10 MB of
 * posts cost:
 *
 *   - Text is copied as it is, with entities decoded (numeric, and a table
 *     of the named entities posts use) and invalid UTF-8 replaced by U+FFFD
 *     (one per maximal invalid subsequence, as WHATWG decoders do; a NUL
 *     byte is replaced too, since the result is a C string).
 *   - Every text node is kept, whatever its element: Mastodon hides the
 *     "https://" and the tail of a long link in <span class="invisible">,
 *     and we want the whole URL. Only <script> and <style> content,
 *     comments, and elements of class "quote-inline" are dropped (the
 *     latter is Mastodon's "RE: <link>" fallback for a quote post, which
 *     its UI hides: a quoted post is not the author's words; links in it
 *     are still reported).
 *   - Line breaks: <br> adds one "\n"; a block boundary (<p>, </p>,
 *     <blockquote>, <h1>, <ul>, ...) asks for a blank line ("\n\n"), and
 *     <div>, <li>, <tr> for one "\n". Requests between two pieces of text
 *     merge: block requests take the maximum, <br> adds, so "a</p><p>b" is
 *     "a\n\nb" and "a<br><br>b" is "a\n\nb".
 *   - Whitespace between two pieces of text is kept byte for byte (with
 *     CR LF as LF), but whitespace next to a line break or at either end
 *     is dropped, so "</p>\n<p>" stays one blank line and the text never
 *     starts or ends with blank lines.
 *   - A tag (or comment) still open at the end of the input is dropped
 *     with the rest of the input, as browsers do; "<" not followed by a
 *     letter, "/", "!" or "?" is text.
 */
#include "hark/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"

struct entity {
    const char *name;
    uint32_t cp;
};

/* Sorted by strcmp() for bsearch(). */
static const struct entity entities[] = {
    {"AElig", 0x00C6},  {"Aacute", 0x00C1}, {"Acirc", 0x00C2},
    {"Agrave", 0x00C0}, {"Aring", 0x00C5},  {"Atilde", 0x00C3},
    {"Auml", 0x00C4},   {"Ccedil", 0x00C7}, {"Dagger", 0x2021},
    {"ETH", 0x00D0},    {"Eacute", 0x00C9}, {"Ecirc", 0x00CA},
    {"Egrave", 0x00C8}, {"Euml", 0x00CB},   {"Iacute", 0x00CD},
    {"Icirc", 0x00CE},  {"Igrave", 0x00CC}, {"Iuml", 0x00CF},
    {"Ntilde", 0x00D1}, {"OElig", 0x0152},  {"Oacute", 0x00D3},
    {"Ocirc", 0x00D4},  {"Ograve", 0x00D2}, {"Omega", 0x03A9},
    {"Oslash", 0x00D8}, {"Otilde", 0x00D5}, {"Ouml", 0x00D6},
    {"Prime", 0x2033},  {"Scaron", 0x0160}, {"THORN", 0x00DE},
    {"Uacute", 0x00DA}, {"Ucirc", 0x00DB},  {"Ugrave", 0x00D9},
    {"Uuml", 0x00DC},   {"Yacute", 0x00DD}, {"Yuml", 0x0178},
    {"aacute", 0x00E1}, {"acirc", 0x00E2},  {"acute", 0x00B4},
    {"aelig", 0x00E6},  {"agrave", 0x00E0}, {"alpha", 0x03B1},
    {"amp", 0x0026},    {"apos", 0x0027},   {"aring", 0x00E5},
    {"asymp", 0x2248},  {"atilde", 0x00E3}, {"auml", 0x00E4},
    {"bdquo", 0x201E},  {"beta", 0x03B2},   {"brvbar", 0x00A6},
    {"bull", 0x2022},   {"ccedil", 0x00E7}, {"cedil", 0x00B8},
    {"cent", 0x00A2},   {"circ", 0x02C6},   {"clubs", 0x2663},
    {"copy", 0x00A9},   {"curren", 0x00A4}, {"dagger", 0x2020},
    {"darr", 0x2193},   {"deg", 0x00B0},    {"delta", 0x03B4},
    {"diams", 0x2666},  {"divide", 0x00F7}, {"eacute", 0x00E9},
    {"ecirc", 0x00EA},  {"egrave", 0x00E8}, {"emsp", 0x2003},
    {"ensp", 0x2002},   {"equiv", 0x2261},  {"eth", 0x00F0},
    {"euml", 0x00EB},   {"euro", 0x20AC},   {"fnof", 0x0192},
    {"frac12", 0x00BD}, {"frac14", 0x00BC}, {"frac34", 0x00BE},
    {"gamma", 0x03B3},  {"ge", 0x2265},     {"gt", 0x003E},
    {"harr", 0x2194},   {"hearts", 0x2665}, {"hellip", 0x2026},
    {"iacute", 0x00ED}, {"icirc", 0x00EE},  {"iexcl", 0x00A1},
    {"igrave", 0x00EC}, {"infin", 0x221E},  {"iquest", 0x00BF},
    {"iuml", 0x00EF},   {"lambda", 0x03BB}, {"laquo", 0x00AB},
    {"larr", 0x2190},   {"ldquo", 0x201C},  {"le", 0x2264},
    {"lowast", 0x2217}, {"lrm", 0x200E},    {"lsaquo", 0x2039},
    {"lsquo", 0x2018},  {"lt", 0x003C},     {"macr", 0x00AF},
    {"mdash", 0x2014},  {"micro", 0x00B5},  {"middot", 0x00B7},
    {"minus", 0x2212},  {"mu", 0x03BC},     {"nbsp", 0x00A0},
    {"ndash", 0x2013},  {"ne", 0x2260},     {"not", 0x00AC},
    {"ntilde", 0x00F1}, {"oacute", 0x00F3}, {"ocirc", 0x00F4},
    {"oelig", 0x0153},  {"ograve", 0x00F2}, {"oline", 0x203E},
    {"omega", 0x03C9},  {"ordf", 0x00AA},   {"ordm", 0x00BA},
    {"oslash", 0x00F8}, {"otilde", 0x00F5}, {"ouml", 0x00F6},
    {"para", 0x00B6},   {"permil", 0x2030}, {"pi", 0x03C0},
    {"plusmn", 0x00B1}, {"pound", 0x00A3},  {"prime", 0x2032},
    {"quot", 0x0022},   {"raquo", 0x00BB},  {"rarr", 0x2192},
    {"rdquo", 0x201D},  {"reg", 0x00AE},    {"rlm", 0x200F},
    {"rsaquo", 0x203A}, {"rsquo", 0x2019},  {"sbquo", 0x201A},
    {"scaron", 0x0161}, {"sdot", 0x22C5},   {"sect", 0x00A7},
    {"shy", 0x00AD},    {"sigma", 0x03C3},  {"spades", 0x2660},
    {"sup1", 0x00B9},   {"sup2", 0x00B2},   {"sup3", 0x00B3},
    {"szlig", 0x00DF},  {"thinsp", 0x2009}, {"thorn", 0x00FE},
    {"tilde", 0x02DC},  {"times", 0x00D7},  {"trade", 0x2122},
    {"uacute", 0x00FA}, {"uarr", 0x2191},   {"ucirc", 0x00FB},
    {"ugrave", 0x00F9}, {"uml", 0x00A8},    {"uuml", 0x00FC},
    {"yacute", 0x00FD}, {"yen", 0x00A5},    {"yuml", 0x00FF},
    {"zwj", 0x200D},    {"zwnj", 0x200C},
};

/* Windows-1252 for numeric references 0x80..0x9F (HTML's rule). */
static const uint16_t cp1252[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
    0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static const char replacement[] = "\xEF\xBF\xBD";

struct conv {
    struct hark_buf out;
    struct hark_buf ws; /* whitespace held until the next text */
    size_t pending_nl;  /* line breaks asked for since the last text */
    unsigned n_repaired;
    hark_html_link_fn link_fn;
    void *link_ctx;
    char skip_name[16]; /* the element whose text is dropped */
    size_t skip_depth;  /* its nesting; 0 = not skipping */
};

static void add(struct hark_buf *buf, const void *p, size_t n)
{
    /* Unbounded buffers: hark_buf_add() can only fail past a maximum. */
    hark_err_t err = hark_buf_add(buf, p, n);
    hark_assert(err == HARK_OK);
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/*
 * The length of the valid UTF-8 sequence at p[0..n), or 0 with *bad set to
 * the length of the maximal invalid subpart to replace (Unicode 3.9 D93b).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t need;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        *bad = 1;
        return 0;
    }
    size_t k = 1;
    while (k <= need && k < n) {
        unsigned char b = p[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
            break;
        }
        k++;
    }
    if (k == need + 1) {
        return k;
    }
    *bad = k;
    return 0;
}

static size_t utf8_put(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int entity_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct entity *)elem)->name);
}

static int digit_val(unsigned char c, bool is_hex)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (is_hex && lower(c) >= 'a' && lower(c) <= 'f') {
        return lower(c) - 'a' + 10;
    }
    return -1;
}

/*
 * A numeric reference "&#N;" / "&#xH;" at s[i] (';' optional). Returns the
 * bytes it spans, or 0 when there are no digits. NUL, surrogates and
 * values past U+10FFFF become U+FFFD; 0x80..0x9F are Windows-1252.
 */
static size_t numeric_ref(const char *s, size_t len, size_t i, uint32_t *cp)
{
    size_t j = i + 2;
    bool is_hex = j < len && (s[j] == 'x' || s[j] == 'X');
    if (is_hex) {
        j++;
    }
    size_t start = j;
    uint32_t v = 0;
    int d;
    while (j < len && (d = digit_val((unsigned char)s[j], is_hex)) >= 0) {
        /* Saturates above the limit instead of wrapping. */
        v = v > 0x10FFFF ? v : v * (is_hex ? 16 : 10) + (uint32_t)d;
        j++;
    }
    if (j == start) {
        return 0;
    }
    if (j < len && s[j] == ';') {
        j++;
    }
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        v = 0xFFFD;
    } else if (v >= 0x80 && v <= 0x9F) {
        v = cp1252[v - 0x80];
    }
    *cp = v;
    return j - i;
}

/* A named reference "&name;" at s[i] (';' required); 0 when unknown. */
static size_t named_ref(const char *s, size_t len, size_t i, uint32_t *cp)
{
    char name[16];
    size_t n = 0;
    size_t j = i + 1;
    while (j < len && n < sizeof(name) - 1 && is_alnum((unsigned char)s[j])) {
        name[n++] = s[j++];
    }
    if (n == 0 || j >= len || s[j] != ';') {
        return 0;
    }
    name[n] = '\0';
    const struct entity *e =
        bsearch(name, entities, sizeof(entities) / sizeof(entities[0]),
                sizeof(entities[0]), entity_cmp);
    if (!e) {
        return 0;
    }
    *cp = e->cp;
    return j + 1 - i;
}

/*
 * Decodes the character reference at s[i] == '&'. Returns the bytes it
 * spans (0: not a reference, the '&' is text) and its code point.
 */
static size_t entity_at(const char *s, size_t len, size_t i, uint32_t *cp)
{
    if (i + 1 < len && s[i + 1] == '#') {
        return numeric_ref(s, len, i, cp);
    }
    return named_ref(s, len, i, cp);
}

/* Emits what the pending state asks for before non-white text. */
static void flush(struct conv *c)
{
    if (c->out.len == 0) {
        c->pending_nl = 0;
    } else if (c->pending_nl > 0) {
        for (; c->pending_nl > 0; c->pending_nl--) {
            add(&c->out, "\n", 1);
        }
    } else if (c->ws.len > 0) {
        add(&c->out, c->ws.ptr, c->ws.len);
    }
    hark_buf_reset(&c->ws);
}

static void put_text(struct conv *c, const char *p, size_t n)
{
    if (c->skip_depth > 0) {
        return;
    }
    flush(c);
    add(&c->out, p, n);
}

/* Holds whitespace s[0..n) (CR LF and lone CR become LF). */
static void put_ws(struct conv *c, const char *s, size_t n)
{
    if (c->out.len == 0 || c->pending_nl > 0 || c->skip_depth > 0) {
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '\r') {
            if (k + 1 < n && s[k + 1] == '\n') {
                continue;
            }
            add(&c->ws, "\n", 1);
        } else {
            add(&c->ws, s + k, 1);
        }
    }
}

static void put_cp(struct conv *c, uint32_t cp)
{
    char tmp[4];
    size_t n = utf8_put(cp, tmp);
    if (n == 1 && is_ws((unsigned char)tmp[0])) {
        put_ws(c, tmp, 1);
    } else {
        put_text(c, tmp, n);
    }
}

static void line_break(struct conv *c, size_t n, bool is_additive)
{
    if (c->skip_depth > 0) {
        return;
    }
    hark_buf_reset(&c->ws);
    if (is_additive) {
        c->pending_nl += n;
    } else if (c->pending_nl < n) {
        c->pending_nl = n;
    }
}

/* How many line breaks element `name` asks for at its boundaries. */
static size_t block_breaks(const char *name)
{
    static const char *const paragraphs[] = {
        "p",        "blockquote", "pre",     "h1",         "h2",      "h3",
        "h4",       "h5",         "h6",      "ul",         "ol",      "dl",
        "table",    "hr",         "section", "article",    "header",  "footer",
        "aside",    "figure",     "nav",     "main",       "details", "summary",
        "fieldset", "form",       "address", "figcaption",
    };
    static const char *const lines[] = {
        "div", "li", "tr", "dt", "dd", "caption", "tbody", "thead", "tfoot",
    };
    for (size_t k = 0; k < sizeof(paragraphs) / sizeof(paragraphs[0]); k++) {
        if (strcmp(name, paragraphs[k]) == 0) {
            return 2;
        }
    }
    for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
        if (strcmp(name, lines[k]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The first `n`-byte occurrence of `needle` in s[from..len), or len. */
static size_t find(const char *s, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    while (from + n <= len) {
        const char *p = memchr(s + from, needle[0], len - from - n + 1);
        if (!p) {
            break;
        }
        size_t at = (size_t)(p - s);
        if (memcmp(p, needle, n) == 0) {
            return at;
        }
        from = at + 1;
    }
    return len;
}

/*
 * The offset of the end tag "</name" (any case) that closes a raw text
 * element (script, style) whose content starts at `from`; len if none.
 */
static size_t
find_end_tag(const char *s, size_t len, size_t from, const char *name)
{
    size_t n = strlen(name);
    while (from < len) {
        const char *p = memchr(s + from, '<', len - from);
        if (!p) {
            return len;
        }
        size_t at = (size_t)(p - s);
        if (at + 2 + n <= len && s[at + 1] == '/') {
            size_t k = 0;
            while (k < n && lower((unsigned char)s[at + 2 + k]) ==
                                (unsigned char)name[k]) {
                k++;
            }
            if (k == n &&
                (at + 2 + n == len || is_ws((unsigned char)s[at + 2 + n]) ||
                 s[at + 2 + n] == '/' || s[at + 2 + n] == '>')) {
                return at;
            }
        }
        from = at + 1;
    }
    return len;
}

/* An attribute value with its character references decoded. */
static char *attr_decode(const char *s, size_t len)
{
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n;
        if (s[i] == '&' && (n = entity_at(s, len, i, &cp)) > 0) {
            char tmp[4];
            add(&buf, tmp, utf8_put(cp, tmp));
            i += n;
        } else {
            add(&buf, s + i, 1);
            i++;
        }
    }
    return hark_buf_take(&buf);
}

struct attrs {
    struct hark_str href;
    struct hark_str cls;
    struct hark_str rel;
    bool has_href;
    bool has_cls;
    bool has_rel;
};

static void keep_attr(struct attrs *a,
                      const char *name,
                      size_t name_len,
                      const char *v,
                      size_t v_len)
{
    struct hark_str *dst = NULL;
    bool *has = NULL;
    if (name_len == 4 && memcmp(name, "href", 4) == 0) {
        dst = &a->href;
        has = &a->has_href;
    } else if (name_len == 5 && memcmp(name, "class", 5) == 0) {
        dst = &a->cls;
        has = &a->has_cls;
    } else if (name_len == 3 && memcmp(name, "rel", 3) == 0) {
        dst = &a->rel;
        has = &a->has_rel;
    }
    if (dst && !*has) { /* the first one wins, as in browsers */
        dst->ptr = v;
        dst->len = v_len;
        *has = true;
    }
}

static size_t skip_ws(const char *s, size_t len, size_t j)
{
    while (j < len && is_ws((unsigned char)s[j])) {
        j++;
    }
    return j;
}

/*
 * Reads an attribute value at s[j] (quoted or not) into *v, *v_len.
 * Returns the offset after it, or len + 1 when a quote is never closed.
 */
static size_t
attr_value(const char *s, size_t len, size_t j, const char **v, size_t *v_len)
{
    if (s[j] == '"' || s[j] == '\'') {
        const char *q = memchr(s + j + 1, s[j], len - j - 1);
        if (!q) {
            return len + 1;
        }
        *v = s + j + 1;
        *v_len = (size_t)(q - *v);
        return (size_t)(q - s) + 1;
    }
    *v = s + j;
    while (j < len && !is_ws((unsigned char)s[j]) && s[j] != '>') {
        j++;
    }
    *v_len = (size_t)(s + j - *v);
    return j;
}

/*
 * Reads the attributes of a tag from s[*pos] up to and including its '>'.
 * Returns true with *pos after the '>', false when the tag is never
 * closed. Keeps href, class and rel in `a` when `a` is not NULL.
 */
static bool tag_attrs(const char *s, size_t len, size_t *pos, struct attrs *a)
{
    size_t j = *pos;
    for (;;) {
        while (j < len && (is_ws((unsigned char)s[j]) || s[j] == '/')) {
            j++;
        }
        if (j >= len) {
            return false;
        }
        if (s[j] == '>') {
            *pos = j + 1;
            return true;
        }
        char name[8];
        size_t name_len = 0;
        size_t start = j;
        while (j < len && !is_ws((unsigned char)s[j]) && s[j] != '/' &&
               s[j] != '>' && (s[j] != '=' || j == start)) {
            if (name_len < sizeof(name)) {
                name[name_len] = (char)lower((unsigned char)s[j]);
            }
            name_len++;
            j++;
        }
        j = skip_ws(s, len, j);
        if (j >= len || s[j] != '=') {
            continue; /* an attribute without a value */
        }
        j = skip_ws(s, len, j + 1);
        const char *v = NULL;
        size_t v_len = 0;
        if (j >= len || (j = attr_value(s, len, j, &v, &v_len)) > len) {
            return false;
        }
        if (a && name_len <= sizeof(name)) {
            keep_attr(a, name, name_len, v, v_len);
        }
    }
}

static void report_link(struct conv *c, const struct attrs *a)
{
    char *href = a->has_href ? attr_decode(a->href.ptr, a->href.len) : NULL;
    char *cls = a->has_cls ? attr_decode(a->cls.ptr, a->cls.len) : NULL;
    char *rel = a->has_rel ? attr_decode(a->rel.ptr, a->rel.len) : NULL;
    c->link_fn(c->link_ctx, href, cls, rel);
    free(href);
    free(cls);
    free(rel);
}

static bool is_void(const char *name)
{
    static const char *const voids[] = {
        "br",   "img",  "hr",  "input", "meta",   "link",  "wbr",
        "area", "base", "col", "embed", "source", "track", "param"};
    for (size_t k = 0; k < sizeof(voids) / sizeof(voids[0]); k++) {
        if (strcmp(name, voids[k]) == 0) {
            return true;
        }
    }
    return false;
}

/* True when the class list v[0..len) has `word`. */
static bool class_has(const char *v, size_t len, const char *word)
{
    size_t n = strlen(word);
    size_t k = 0;
    while (k < len) {
        while (k < len && is_ws((unsigned char)v[k])) {
            k++;
        }
        size_t start = k;
        while (k < len && !is_ws((unsigned char)v[k])) {
            k++;
        }
        if (k - start == n && memcmp(v + start, word, n) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Skips a comment, doctype, processing instruction or "</ ...>" starting
 * at s[j] (just after '<'). Returns where text resumes, or 0 when s[j]
 * starts none of them.
 */
static size_t skip_bogus(const char *s, size_t len, size_t j)
{
    if (s[j] == '!' && len - j >= 3 && s[j + 1] == '-' && s[j + 2] == '-') {
        size_t end = find(s, len, j + 3, "-->");
        return end == len ? len : end + 3;
    }
    if (s[j] == '!' || s[j] == '?' ||
        (s[j] == '/' && (j + 1 >= len || !is_alpha((unsigned char)s[j + 1])))) {
        const char *gt = memchr(s + j, '>', len - j);
        return gt ? (size_t)(gt - s) + 1 : len;
    }
    return 0;
}

/* Follows the nesting of a dropped element (class "quote-inline"). */
static void
track_skip(struct conv *c, const char *name, bool is_end, const struct attrs *a)
{
    if (name[0] == '\0') {
        return;
    }
    if (c->skip_depth > 0) {
        if (strcmp(name, c->skip_name) == 0 && is_end) {
            c->skip_depth--;
        } else if (strcmp(name, c->skip_name) == 0) {
            c->skip_depth++;
        }
    } else if (!is_end && !is_void(name) && a->has_cls &&
               class_has(a->cls.ptr, a->cls.len, "quote-inline")) {
        (void)snprintf(c->skip_name, sizeof(c->skip_name), "%s", name);
        c->skip_depth = 1;
    }
}

/* Handles the markup starting at s[i] == '<'; returns where text resumes. */
static size_t markup(struct conv *c, const char *s, size_t len, size_t i)
{
    size_t j = i + 1;

    if (j >= len) {
        put_text(c, "<", 1);
        return len;
    }
    size_t end = skip_bogus(s, len, j);
    if (end > 0) {
        return end;
    }
    bool is_end = s[j] == '/';
    if (is_end) {
        j++;
    } else if (!is_alpha((unsigned char)s[j])) {
        put_text(c, "<", 1);
        return j;
    }

    char name[16];
    size_t name_len = 0;
    while (j < len && !is_ws((unsigned char)s[j]) && s[j] != '/' &&
           s[j] != '>') {
        if (name_len < sizeof(name) - 1) {
            name[name_len] = (char)lower((unsigned char)s[j]);
        }
        name_len++;
        j++;
    }
    if (name_len >= sizeof(name)) {
        name_len = 0; /* too long for any element we know */
    }
    name[name_len] = '\0';

    struct attrs a = {{NULL, 0}, {NULL, 0}, {NULL, 0}, false, false, false};
    if (!tag_attrs(s, len, &j, is_end ? NULL : &a)) {
        return len; /* never closed: dropped with the rest */
    }
    track_skip(c, name, is_end, &a);

    if (strcmp(name, "br") == 0) {
        line_break(c, 1, true);
    } else if (!is_end &&
               (strcmp(name, "script") == 0 || strcmp(name, "style") == 0)) {
        return find_end_tag(s, len, j, name);
    } else if (!is_end && c->link_fn && strcmp(name, "a") == 0) {
        report_link(c, &a);
    } else {
        size_t n = block_breaks(name);
        if (n > 0) {
            line_break(c, n, false);
        }
    }
    return j;
}

/* The end of the run of plain text (valid UTF-8, no markup) at s[i]. */
static size_t text_run(const char *s, size_t len, size_t i)
{
    while (i < len) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '<' || ch == '&' || ch == '\0' || is_ws(ch)) {
            return i;
        }
        if (ch < 0x80) {
            i++;
            continue;
        }
        size_t bad;
        size_t n = utf8_seq((const unsigned char *)s + i, len - i, &bad);
        if (n == 0) {
            return i;
        }
        i += n;
    }
    return i;
}

char *hark_html_to_text_links(const char *html,
                              size_t len,
                              unsigned *n_repaired,
                              hark_html_link_fn link_fn,
                              void *ctx)
{
    struct conv c;
    hark_buf_init(&c.out, 0);
    hark_buf_init(&c.ws, 0);
    c.pending_nl = 0;
    c.n_repaired = 0;
    c.link_fn = link_fn;
    c.link_ctx = ctx;
    c.skip_name[0] = '\0';
    c.skip_depth = 0;

    size_t i = 0;
    while (html && i < len) {
        unsigned char ch = (unsigned char)html[i];
        if (ch == '<') {
            i = markup(&c, html, len, i);
        } else if (ch == '&') {
            uint32_t cp;
            size_t n = entity_at(html, len, i, &cp);
            if (n > 0) {
                put_cp(&c, cp);
                i += n;
            } else {
                put_text(&c, "&", 1);
                i++;
            }
        } else if (is_ws(ch)) {
            size_t j = i;
            while (j < len && is_ws((unsigned char)html[j])) {
                j++;
            }
            put_ws(&c, html + i, j - i);
            i = j;
        } else {
            size_t j = text_run(html, len, i);
            if (j > i) {
                put_text(&c, html + i, j - i);
                i = j;
                continue;
            }
            /* A NUL byte or an invalid UTF-8 sequence. */
            size_t bad = 1;
            if (ch != '\0') {
                (void)utf8_seq((const unsigned char *)html + i, len - i, &bad);
            }
            put_text(&c, replacement, 3);
            c.n_repaired++;
            i += bad;
        }
    }

    hark_buf_cleanup(&c.ws);
    if (n_repaired) {
        *n_repaired += c.n_repaired;
    }
    return hark_buf_take(&c.out);
}

char *hark_html_to_text(const char *html, size_t len, unsigned *n_repaired)
{
    return hark_html_to_text_links(html, len, n_repaired, NULL, NULL);
}
