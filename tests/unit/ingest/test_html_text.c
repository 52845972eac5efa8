/*
 * Tests for ingest/html_text.c: hark_html_to_text() and the link-reporting
 * variant adapters use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hark/source.h"

#include "ingest/source_int.h"

/* Converts a NUL-terminated string; checks the repair count. */
static void check(const char *html, const char *want, unsigned want_repaired)
{
    unsigned n_repaired = 0;
    char *text = hark_html_to_text(html, strlen(html), &n_repaired);
    assert_non_null(text);
    assert_string_equal(text, want);
    assert_int_equal(n_repaired, want_repaired);
    free(text);
}

static void test_hark_html_to_text__entities(void **state)
{
    (void)state;
    check("you can&#39;t &amp; won&#x27;t &lt;b&gt; &quot;q&quot; &apos;a",
          "you can't & won't <b> \"q\" 'a", 0);
    check("caf&eacute; &mdash; &hellip; &euro;5 &copy; &rsquo;s a&nbsp;b",
          "caf\xC3\xA9 \xE2\x80\x94 \xE2\x80\xA6 \xE2\x82\xAC"
          "5 \xC2\xA9 "
          "\xE2\x80\x99s a\xC2\xA0"
          "b",
          0);
    /* Uppercase hex digits and an X, and a Latin-1 capital. */
    check("&#X41;&#x4a;&Eacute;", "AJ\xC3\x89", 0);
}

static void test_hark_html_to_text__entity_edge_cases(void **state)
{
    (void)state;
    /* Unknown names, a bare '&' and a named reference without ';' stay. */
    check("a &bogus; b & c &amp d?x=1&y=2", "a &bogus; b & c &amp d?x=1&y=2",
          0);
    /* Numeric references may omit ';'. */
    check("&#65&#66;C", "ABC", 0);
    /* NUL, surrogates and values past U+10FFFF become U+FFFD. */
    check("[&#0;][&#xD800;][&#x110000;][&#99999999999;]",
          "[\xEF\xBF\xBD][\xEF\xBF\xBD][\xEF\xBF\xBD][\xEF\xBF\xBD]", 0);
    /* 0x80..0x9F are read as Windows-1252, as browsers do. */
    check("it&#146;s &#150; &#128;",
          "it\xE2\x80\x99s \xE2\x80\x93 \xE2\x82\xAC", 0);
    /* "&#" with no digits is text. */
    check("&#; &#x;", "&#; &#x;", 0);
}

static void test_hark_html_to_text__br(void **state)
{
    (void)state;
    check("a<br>b<br/>c<BR />d", "a\nb\nc\nd", 0);
    check("a<br><br>b", "a\n\nb", 0);
    /* Whitespace next to a break goes, whitespace between words stays. */
    check("a \n<br> b  c", "a\nb  c", 0);
}

static void test_hark_html_to_text__paragraphs(void **state)
{
    (void)state;
    check("<p>one</p><p>two</p>", "one\n\ntwo", 0);
    check("<p>a</p>\n<p>b</p>\n", "a\n\nb", 0);
    /* No leading or trailing blank lines. */
    check("<p><br>x<br></p><p></p>", "x", 0);
    /* A <br> at the end of a paragraph does not add a third line. */
    check("<p>a<br></p><p>b</p>", "a\n\nb", 0);
    check("<ul><li>one</li><li>two</li></ul>after", "one\ntwo\n\nafter", 0);
    check("<div>x</div><div>y</div>", "x\ny", 0);
}

static void test_hark_html_to_text__invisible_link_parts(void **state)
{
    (void)state;
    /* From timeline_tag_mastodon_2017.json (status 707791). */
    check("<p><a href=\"https://takulog.info/20170420you-ming-gou/\" "
          "rel=\"nofollow noopener\"><span class=\"invisible\">https://"
          "</span><span class=\"ellipsis\">takulog.info/20170420you-ming-"
          "</span><span class=\"invisible\">gou/</span></a></p>",
          "https://takulog.info/20170420you-ming-gou/", 0);
    /* A mention: every text node, the '@' included. */
    check("<p><span class=\"h-card\" translate=\"no\"><a href=\"http://"
          "localhost:3000/@mastodonpy_test\" class=\"u-url mention\">@<span>"
          "mastodonpy_test</span></a></span> beep beep I&#39;m a jeep</p>",
          "@mastodonpy_test beep beep I'm a jeep", 0);
}

static void test_hark_html_to_text__nested_and_unclosed(void **state)
{
    (void)state;
    check("<div><span><b>bold</span> text", "bold text", 0);
    /* A tag still open at the end is dropped with the rest. */
    check("text <a href=\"x", "text", 0);
    check("text <span class='a'", "text", 0);
    check("x<!-- never closed <p>y", "x", 0);
    /* '<' that starts no tag is text. */
    check("a < b and c<3 <", "a < b and c<3 <", 0);
    check("x<!-- a <p> comment -->y<!DOCTYPE html>z<?php ?>!", "xyz!", 0);
    /* '>' inside a quoted attribute does not end the tag. */
    check("<a title=\"a>b\" data-x='c>d'>link</a>", "link", 0);
    check("a</>b</ c>d", "abd", 0);
}

static void test_hark_html_to_text__script_and_style_dropped(void **state)
{
    (void)state;
    check("<script>var a = '<p>x</p>';</script>ok<style>p{a:b}</style>!", "ok!",
          0);
    check("<SCRIPT type=x>a</scriptx></ScRiPt >b", "b", 0);
    check("a<script>alert(1)", "a", 0);
}

static void test_hark_html_to_text__invalid_utf8_repaired(void **state)
{
    (void)state;
    /* Two invalid bytes, then a truncated 3-byte sequence (one U+FFFD). */
    check("ok \xff\xfe and \xe3\x81 end",
          "ok \xEF\xBF\xBD\xEF\xBF\xBD and \xEF\xBF\xBD end", 3);
    /* Overlong and surrogate encodings are invalid too. */
    check("[\xC0\xAF][\xED\xA0\x80]",
          "[\xEF\xBF\xBD\xEF\xBF\xBD][\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD]",
          5);
    /* Valid multi-byte text passes untouched. */
    check("<p>\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80</p>",
          "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80", 0);

    /* A NUL byte cannot stay in a C string. */
    unsigned n_repaired = 0;
    char *text = hark_html_to_text("a\0b", 3, &n_repaired);
    assert_string_equal(text, "a\xEF\xBF\xBD"
                              "b");
    assert_int_equal(n_repaired, 1);
    free(text);
}

static void test_hark_html_to_text__repair_count_accumulates(void **state)
{
    (void)state;
    unsigned n_repaired = 2;
    char *text = hark_html_to_text("\xff", 1, &n_repaired);
    assert_int_equal(n_repaired, 3);
    free(text);
    text = hark_html_to_text("\xff", 1, NULL);
    assert_string_equal(text, "\xEF\xBF\xBD");
    free(text);
}

static void test_hark_html_to_text__empty(void **state)
{
    (void)state;
    check("", "", 0);
    check("<p></p><br>", "", 0);
    char *text = hark_html_to_text(NULL, 0, NULL);
    assert_string_equal(text, "");
    free(text);
}

/* Repeats `unit` to at least `size` bytes; the caller frees. */
static char *repeat(const char *unit, size_t size, size_t *out_len)
{
    size_t n = strlen(unit);
    size_t count = (size + n - 1) / n;
    char *s = malloc(count * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++) {
        memcpy(s + i * n, unit, n);
    }
    s[count * n] = '\0';
    *out_len = count * n;
    return s;
}

static void test_hark_html_to_text__large_input(void **state)
{
    (void)state;
    const size_t size = 5u << 20;
    size_t len;

    /* 5 MB of posts: every unit turns into "x & y" plus a blank line. */
    char *html =
        repeat("<p>x &amp; <span class=\"invisible\">y</span></p>", size, &len);
    size_t n_units = len / strlen("<p>x &amp; <span class=\"invisible\">"
                                  "y</span></p>");
    unsigned n_repaired = 0;
    char *text = hark_html_to_text(html, len, &n_repaired);
    assert_int_equal(strlen(text), n_units * strlen("x & y") +
                                       (n_units - 1) * strlen("\n\n"));
    assert_memory_equal(text, "x & y\n\nx & y", 12);
    assert_int_equal(n_repaired, 0);
    free(text);
    free(html);

    /*
     * Inputs that make a naive parser rescan: '<' that never closes a tag,
     * runs of '<', '&' that never closes an entity. Each must be one pass
     * (a quadratic parser does not finish 5 MB of these in test time).
     */
    html = repeat("<", size, &len);
    text = hark_html_to_text(html, len, NULL);
    assert_int_equal(strlen(text), len);
    free(text);
    free(html);

    html = repeat("&#x41&am", size, &len);
    text = hark_html_to_text(html, len, NULL);
    assert_int_equal(strlen(text), len / 8 * (1 + 3));
    free(text);
    free(html);

    html = repeat("a <b c=\"d ", size, &len);
    text = hark_html_to_text(html, len, NULL);
    assert_string_equal(text, "a");
    free(text);
    free(html);

    html = repeat("<script>", size, &len);
    text = hark_html_to_text(html, len, NULL);
    assert_string_equal(text, "");
    free(text);
    free(html);

    html = repeat("\xe3\x81", size, &len);
    n_repaired = 0;
    text = hark_html_to_text(html, len, &n_repaired);
    assert_int_equal(n_repaired, len / 2);
    free(text);
    free(html);
}

static void test_hark_html_to_text__quote_fallback_dropped(void **state)
{
    (void)state;
    /* From status_quote_mastodon.social.json (Mastodon 4.5 quote post). */
    check("<p>actual reply <a href=\"https://bsky.app/x\">bsky.app/x</a>"
          "<span class=\"quote-inline\"><br><br>RE: <a href=\"https://"
          "bsky.app/did/post\"><span>https://bsky.app/did/post</span></a>"
          "</span></p><p>after</p>",
          "actual reply bsky.app/x\n\nafter", 0);
    /* Nested elements of the same name inside the dropped one. */
    check("a<span class=\"x quote-inline\"><span>b</span>c</span>d", "ad", 0);
    check("a<br class=\"quote-inline\">b", "a\nb", 0);
}

struct seen {
    char *hrefs[8];
    char *classes[8];
    char *rels[8];
    size_t n;
};

static void
on_link(void *ctx, const char *href, const char *cls, const char *rel)
{
    struct seen *seen = ctx;
    assert_true(seen->n < 8);
    seen->hrefs[seen->n] = href ? strdup(href) : NULL;
    seen->classes[seen->n] = cls ? strdup(cls) : NULL;
    seen->rels[seen->n] = rel ? strdup(rel) : NULL;
    seen->n++;
}

static void test_hark_html_to_text_links__reports_a_tags(void **state)
{
    (void)state;
    const char *html =
        "<p><a href=\"https://x.example/?a=1&amp;b=2\" rel=\"nofollow\">x"
        "</a> <a class=\"mention hashtag\" href='https://h/tags/t' "
        "rel=tag>#t</a> <A HREF=/rel>r</A> <a name=n>no href</a></p>";
    struct seen seen = {{NULL}, {NULL}, {NULL}, 0};
    unsigned n_repaired = 0;
    char *text = hark_html_to_text_links(html, strlen(html), &n_repaired,
                                         on_link, &seen);
    assert_string_equal(text, "x #t r no href");
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.hrefs[0], "https://x.example/?a=1&b=2");
    assert_null(seen.classes[0]);
    assert_string_equal(seen.rels[0], "nofollow");
    assert_string_equal(seen.hrefs[1], "https://h/tags/t");
    assert_string_equal(seen.classes[1], "mention hashtag");
    assert_string_equal(seen.rels[1], "tag");
    assert_string_equal(seen.hrefs[2], "/rel");
    assert_null(seen.hrefs[3]);
    for (size_t i = 0; i < seen.n; i++) {
        free(seen.hrefs[i]);
        free(seen.classes[i]);
        free(seen.rels[i]);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_html_to_text__entities),
        cmocka_unit_test(test_hark_html_to_text__entity_edge_cases),
        cmocka_unit_test(test_hark_html_to_text__br),
        cmocka_unit_test(test_hark_html_to_text__paragraphs),
        cmocka_unit_test(test_hark_html_to_text__invisible_link_parts),
        cmocka_unit_test(test_hark_html_to_text__nested_and_unclosed),
        cmocka_unit_test(test_hark_html_to_text__script_and_style_dropped),
        cmocka_unit_test(test_hark_html_to_text__invalid_utf8_repaired),
        cmocka_unit_test(test_hark_html_to_text__repair_count_accumulates),
        cmocka_unit_test(test_hark_html_to_text__empty),
        cmocka_unit_test(test_hark_html_to_text__large_input),
        cmocka_unit_test(test_hark_html_to_text__quote_fallback_dropped),
        cmocka_unit_test(test_hark_html_to_text_links__reports_a_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
