/*
 * fuzz_html_text: HTML to plain text (ingest/html_text.c) on arbitrary
 * bytes: tags and attributes, comments, <script>/<style>, entities
 * (numeric, named, unterminated), invalid UTF-8 and NUL bytes, line-break
 * merging.
 *
 * Invariants: the text is valid UTF-8 and never longer than 3 bytes per
 * input byte (the worst case: every byte replaced by U+FFFD); text without
 * markup or entities loses nothing but white space (so nothing is cut
 * off, no NUL ends it early); the link-reporting variant (what adapters
 * call) returns the same text and repair count, and the attributes it
 * reports are readable C strings (not repaired: adapters repair them).
 *
 * Thread: one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/post.h"
#include "hark/source.h"

#include "fuzz_util.h"
#include "ingest/source_int.h"

#define MAX_INPUT (256U << 10)

/*
 * Attribute values are passed on as they are (entities decoded, bytes not
 * repaired): the adapters repair what they keep. So only read them.
 */
static void check_attr(const char *s)
{
    if (s) {
        FUZZ_CHECK(strlen(s) < (1U << 30));
    }
}

static void
on_link(void *ctx, const char *href, const char *cls, const char *rel)
{
    size_t *n_links = ctx;
    (*n_links)++;
    check_attr(href);
    check_attr(cls);
    check_attr(rel);
}

static size_t count_non_space(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += !strchr(" \t\n\r\f\v", s[i]) || s[i] == '\0';
    }
    return n;
}

/*
 * Plain text (no markup, no entities, valid UTF-8, no NUL) only loses
 * white space: every other byte comes through, none is cut off.
 */
static void check_plain(const char *html, size_t size, const char *text)
{
    if (memchr(html, '<', size) || memchr(html, '&', size) ||
        memchr(html, '\0', size) || !hark_utf8_valid(html, size)) {
        return;
    }
    FUZZ_CHECK(count_non_space(text, strlen(text)) ==
               count_non_space(html, size));
}

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const char *html = (const char *)data;
    unsigned n_repaired = 0;
    char *text = hark_html_to_text(html, size, &n_repaired);
    FUZZ_CHECK(text != NULL);
    size_t len = strlen(text);
    FUZZ_CHECK(len <= 3 * size);
    FUZZ_CHECK(hark_utf8_valid(text, len));
    FUZZ_CHECK(n_repaired <= size);
    check_plain(html, size, text);

    unsigned n_repaired_links = 0;
    size_t n_links = 0;
    char *text_links = hark_html_to_text_links(html, size, &n_repaired_links,
                                               on_link, &n_links);
    FUZZ_CHECK(text_links != NULL);
    FUZZ_CHECK(strcmp(text, text_links) == 0);
    FUZZ_CHECK(n_repaired_links == n_repaired);
    FUZZ_CHECK(n_links <= size / 2);

    if (fuzz_verbose()) {
        (void)fprintf(stderr,
                      "html: %zu -> %zu bytes, %u repaired, %zu links\n", size,
                      len, n_repaired, n_links);
    }

    /* NULL counters are allowed. */
    char *again = hark_html_to_text(html, size, NULL);
    FUZZ_CHECK(strcmp(again, text) == 0);

    free(again);
    free(text_links);
    free(text);
    return 0;
}
