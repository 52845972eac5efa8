/*
 * url: the little URL work adapters need: the Link header (RFC 8288),
 * query parameters, percent-encoding, and URLs made fit for logs (parsed
 * with libcurl's URL API). No allocation survives a call
 * except the returned strings.
 *
 * Link header grammar, as far as we read it:
 *
 *     Link       = link-value *( "," link-value )
 *     link-value = "<" URI-Reference ">" *( ";" param )
 *     param      = token [ "=" ( token / quoted-string ) ]
 *
 * `rel` holds one or more space-separated relation types, compared without
 * case. Anything we cannot read is skipped up to the next top-level ",".
 */
#include "hark/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "source_int.h"

static bool is_lws(char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char lower(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'A' && u <= 'Z') ? (unsigned char)(u + 32) : u;
}

static bool eq_nocase(const char *a, size_t a_len, const char *b)
{
    size_t b_len = strlen(b);
    if (a_len != b_len) {
        return false;
    }
    for (size_t k = 0; k < a_len; k++) {
        if (lower(a[k]) != lower(b[k])) {
            return false;
        }
    }
    return true;
}

/* True when the space-separated list v[0..len) contains `rel`. */
static bool rel_has(const char *v, size_t len, const char *rel)
{
    size_t k = 0;
    while (k < len) {
        while (k < len && (v[k] == ' ' || v[k] == '\t')) {
            k++;
        }
        size_t start = k;
        while (k < len && v[k] != ' ' && v[k] != '\t') {
            k++;
        }
        if (k > start && eq_nocase(v + start, k - start, rel)) {
            return true;
        }
    }
    return false;
}

/* Undoes a quoted-string at *p == '"'; false when it is not closed. */
static bool quoted_value(const char **p, struct hark_buf *val)
{
    const char *q = *p + 1;
    while (*q && *q != '"') {
        if (*q == '\\' && q[1]) {
            q++;
        }
        hark_err_t err = hark_buf_addc(val, *q);
        hark_assert(err == HARK_OK); /* unbounded */
        q++;
    }
    *p = q;
    if (*q != '"') {
        return false;
    }
    *p = q + 1;
    return true;
}

/*
 * Reads the value of a parameter at *p (after "="): a quoted-string
 * (backslash escapes undone) or a token. Appends it to `val` and moves *p
 * past it. False when a quoted string is not closed.
 */
static bool param_value(const char **p, struct hark_buf *val)
{
    if (**p == '"') {
        return quoted_value(p, val);
    }
    const char *start = *p;
    const char *q = start;
    while (*q && *q != ';' && *q != ',' && !is_lws(*q)) {
        q++;
    }
    hark_err_t err = hark_buf_add(val, start, (size_t)(q - start));
    hark_assert(err == HARK_OK); /* unbounded */
    *p = q;
    return true;
}

/* Moves past the rest of a link-value up to (not past) the next ",". */
static const char *skip_value(const char *p)
{
    while (*p && *p != ',') {
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) {
                    p++;
                }
                p++;
            }
            if (*p) {
                p++;
            }
        } else if (*p == '<') {
            const char *gt = strchr(p, '>');
            p = gt ? gt + 1 : p + strlen(p);
        } else {
            p++;
        }
    }
    return p;
}

static const char *skip_lws(const char *p)
{
    while (is_lws(*p)) {
        p++;
    }
    return p;
}

/*
 * Reads the parameters after a link's "<uri>" at *p, up to the first
 * thing that is not "; name[=value]". Returns whether the (first) rel
 * parameter lists `rel`; *p is left after what was read.
 */
static bool params_match(const char **p, const char *rel, struct hark_buf *val)
{
    const char *q = skip_lws(*p);
    bool has_rel = false;
    bool is_match = false;
    while (*q == ';') {
        const char *name = skip_lws(q + 1);
        q = name;
        while (*q && *q != '=' && *q != ';' && *q != ',' && !is_lws(*q)) {
            q++;
        }
        size_t name_len = (size_t)(q - name);
        q = skip_lws(q);
        if (*q != '=') {
            continue; /* a parameter without a value */
        }
        q = skip_lws(q + 1);
        hark_buf_reset(val);
        if (!param_value(&q, val)) {
            break;
        }
        /* RFC 8288: only the first rel parameter counts. */
        if (!has_rel && eq_nocase(name, name_len, "rel")) {
            has_rel = true;
            is_match = val->ptr && rel_has(val->ptr, val->len, rel);
        }
        q = skip_lws(q);
    }
    *p = q;
    return is_match;
}

char *hark_link_find(const char *link_header, const char *rel)
{
    if (!link_header || !rel || !*rel) {
        return NULL;
    }
    struct hark_buf val;
    hark_buf_init(&val, 0);
    char *found = NULL;
    const char *p = link_header;

    while (*p && !found) {
        while (*p == ',' || is_lws(*p)) {
            p++;
        }
        if (*p != '<') {
            p = skip_value(p);
            continue;
        }
        const char *uri = p + 1;
        const char *gt = strchr(uri, '>');
        if (!gt) {
            break;
        }
        p = gt + 1;
        if (params_match(&p, rel, &val)) {
            found = hark_xstrndup(uri, (size_t)(gt - uri));
        } else {
            p = skip_value(p);
        }
    }
    hark_buf_cleanup(&val);
    return found;
}

static int hex_val(char c)
{
    unsigned char u = lower(c);
    if (u >= '0' && u <= '9') {
        return u - '0';
    }
    if (u >= 'a' && u <= 'f') {
        return u - 'a' + 10;
    }
    return -1;
}

/* s[0..len) with %XX and '+' decoded (form encoding); caller frees. */
static char *pct_decode(const char *s, size_t len)
{
    char *out = hark_xmalloc(len + 1);
    size_t n = 0;
    for (size_t k = 0; k < len; k++) {
        int hi;
        int lo;
        if (s[k] == '%' && k + 2 < len && (hi = hex_val(s[k + 1])) >= 0 &&
            (lo = hex_val(s[k + 2])) >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            k += 2;
        } else if (s[k] == '+') {
            out[n++] = ' ';
        } else {
            out[n++] = s[k];
        }
    }
    out[n] = '\0';
    return out;
}

char *hark_url_param(const char *url, const char *name)
{
    if (!url || !name) {
        return NULL;
    }
    const char *q = strchr(url, '?');
    if (!q) {
        return NULL;
    }
    q++;
    const char *end = strchr(q, '#');
    if (!end) {
        end = q + strlen(q);
    }
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *key_end = eq ? eq : stop;
        char *key = pct_decode(q, (size_t)(key_end - q));
        bool is_match = key_end > q && strcmp(key, name) == 0;
        free(key);
        if (is_match) {
            if (!eq) {
                return hark_xstrdup("");
            }
            return pct_decode(eq + 1, (size_t)(stop - eq - 1));
        }
        q = amp ? amp + 1 : end;
    }
    return NULL;
}

hark_err_t hark_url_encode(struct hark_buf *buf, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        hark_err_t err;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            err = hark_buf_addc(buf, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            err = hark_buf_add(buf, esc, 3);
        }
        if (err != HARK_OK) {
            return err;
        }
    }
    return HARK_OK;
}

/* Query parameter names whose values are secrets (compared without case). */
static bool is_secret_name(const char *name, size_t len)
{
    static const char *const names[] = {
        "api_key", "apikey", "api-key", "key", "token", "access_token",
        "secret", "client_secret", "password", "sig", "signature", "auth",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (eq_nocase(name, len, names[i])) {
            return true;
        }
    }
    return false;
}

/*
 * The query with secret values replaced, into `out`; false when nothing
 * had to change.
 */
static bool redact_query(const char *q, struct hark_buf *out)
{
    bool is_changed = false;
    while (*q) {
        const char *amp = strchr(q, '&');
        const char *stop = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        if (eq && is_secret_name(q, (size_t)(eq - q))) {
            (void)hark_buf_add(out, q, (size_t)(eq - q) + 1);
            (void)hark_buf_add(out, "REDACTED", 8);
            is_changed = true;
        } else {
            (void)hark_buf_add(out, q, (size_t)(stop - q));
        }
        if (amp) {
            (void)hark_buf_addc(out, '&');
        }
        q = amp ? amp + 1 : stop;
    }
    return is_changed;
}

char *hark_url_redacted(const char *url)
{
    if (!url) {
        return NULL;
    }
    CURLU *h = curl_url();
    char *out = NULL;
    if (!h || curl_url_set(h, CURLUPART_URL, url,
                           CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        /* Not a URL curl can read: keep what precedes the query. */
        const char *q = strchr(url, '?');
        out = q ? hark_xasprintf("%.*s?REDACTED", (int)(q - url), url)
                : hark_xstrdup(url);
        curl_url_cleanup(h);
        return out;
    }
    bool is_changed = false;
    char *part = NULL;
    if (curl_url_get(h, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
        curl_free(part);
        part = NULL;
        is_changed = curl_url_set(h, CURLUPART_PASSWORD, "REDACTED", 0) ==
                     CURLUE_OK;
    }
    if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK) {
        struct hark_buf q;
        hark_buf_init(&q, 0);
        if (redact_query(part, &q) &&
            curl_url_set(h, CURLUPART_QUERY, q.ptr, 0) == CURLUE_OK) {
            is_changed = true;
        }
        hark_buf_cleanup(&q);
        curl_free(part);
        part = NULL;
    }
    if (is_changed && curl_url_get(h, CURLUPART_URL, &part, 0) == CURLUE_OK) {
        out = hark_xstrdup(part);
        curl_free(part);
    } else {
        out = hark_xstrdup(url);
    }
    curl_url_cleanup(h);
    return out;
}
