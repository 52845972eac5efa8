/*
 * src_fixture: the setup the adapter tests (test_src_<platform>.c) share:
 * reading a recorded response from tests/data/api/<platform>/, running
 * the adapter's init on a source object, and calling build_url and parse
 * the way the engine does.
 *
 * Before including it, a test defines the adapter and the fixture folder:
 *
 *     static const struct hark_source_ops *ops = &hark_src_reddit;
 *     #define SRC_FIXTURE_DIR "reddit"
 *
 * Every function is static inline, so a test that uses only some of them
 * still compiles without warnings.
 *
 * Thread: the test's.
 */
#ifndef HARK_SRC_FIXTURE_H
#define HARK_SRC_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hark/source.h"

#ifndef SRC_FIXTURE_DIR
#    error "define SRC_FIXTURE_DIR before including src_fixture.h"
#endif

/* The recorded file `name` (NUL-terminated, *len bytes); the caller frees. */
static inline char *fixture(const char *name, size_t *len)
{
    const char *dir = getenv("HARK_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/api/" SRC_FIXTURE_DIR "/%s",
             dir && *dir ? dir : ".", name);
    char errbuf[256];
    char *text = NULL;
    hark_err_t err =
        hark_file_read(path, 16u << 20, &text, len, errbuf, sizeof(errbuf));
    if (err != HARK_OK) {
        fail_msg("%s", errbuf);
    }
    return text;
}

struct src {
    struct hark_json_doc *doc;
    struct hark_diag diag;
    void *state;
    hark_err_t err;
};

/*
 * Parses `json` as the source object and runs ops->init on it with `cfg`
 * and `base_url`, handed to init as a copy freed right after (init must
 * keep its own). src->err is init's result.
 */
static inline void src_init_cfg(struct src *src,
                                const char *json,
                                const char *base_url,
                                struct hark_source_cfg cfg)
{
    char errbuf[256];
    size_t off;
    struct hark_json_opts opts = {
        .allow_comments = true, .validate_utf8 = true, .max_depth = 64};
    assert_int_equal(hark_json_parse(json, strlen(json), "hark.json", &opts,
                                     &src->doc, errbuf, sizeof(errbuf), &off),
                     HARK_OK);
    hark_diag_init(&src->diag);
    cfg.base_url = hark_xstrdup(base_url);
    src->state = NULL;
    src->err =
        ops->init(&cfg, src->doc, src->doc->root, &src->diag, &src->state);
    free(cfg.base_url); /* init keeps copies */
}

static inline void src_cleanup(struct src *src)
{
    ops->free_state(src->state);
    hark_diag_cleanup(&src->diag);
    hark_json_doc_free(src->doc);
}

/* ops->build_url as a new string the caller frees. */
static inline char *
url_for(void *state, const char *cursor, const char *token, int page_index)
{
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(ops->build_url(state, cursor, token, page_index, &url),
                     HARK_OK);
    return hark_buf_take(&url);
}

/* url_for() of the first page of a walk. */
static inline char *url_of(void *state, const char *cursor, const char *token)
{
    return url_for(state, cursor, token, 0);
}

/* ops->parse on a 200 response to `url` with these headers. */
static inline hark_err_t src_parse(void *state,
                                   const struct hark_header *headers,
                                   size_t n_headers,
                                   const char *url,
                                   const char *body,
                                   size_t len,
                                   struct hark_page *page,
                                   char *errbuf,
                                   size_t errbuf_len)
{
    struct hark_response resp = {
        .status = 200,
        .headers = headers,
        .n_headers = n_headers,
        .body = body,
        .body_len = len,
        .url = url,
    };
    return ops->parse(state, &resp, page, errbuf, errbuf_len);
}

/*
 * build_url (so the adapter knows the walk), then parse `body` as its
 * response.
 */
static inline hark_err_t src_walk(void *state,
                                  const struct hark_header *headers,
                                  size_t n_headers,
                                  const char *cursor,
                                  const char *token,
                                  int page_index,
                                  const char *body,
                                  size_t len,
                                  struct hark_page *page,
                                  char *errbuf,
                                  size_t errbuf_len)
{
    char *url = url_for(state, cursor, token, page_index);
    hark_err_t err = src_parse(state, headers, n_headers, url, body, len,
                               page, errbuf, errbuf_len);
    free(url);
    return err;
}

static const struct hark_header json_headers[] = {
    {(char *)"content-type", (char *)"application/json; charset=UTF-8"},
};

/* src_walk() of a first page with a bare JSON content-type. */
static inline hark_err_t fetch(void *state,
                               const char *cursor,
                               const char *token,
                               const char *body,
                               size_t len,
                               struct hark_page *page,
                               char *errbuf,
                               size_t errbuf_len)
{
    return src_walk(state, json_headers, 1, cursor, token, 0, body, len, page,
                    errbuf, errbuf_len);
}

static inline const struct hark_post *find_post(const struct hark_page *page,
                                                const char *id)
{
    for (size_t i = 0; i < page->n_posts; i++) {
        if (strcmp(page->posts[i]->id, id) == 0) {
            return page->posts[i];
        }
    }
    fail_msg("no post %s on the page", id);
    return NULL;
}

#endif /* HARK_SRC_FIXTURE_H */
