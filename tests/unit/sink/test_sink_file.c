/*
 * Tests for sink/sink_file.c (through the registry's ops table) and
 * sink/registry.c.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hark/json.h"
#include "hark/sink.h"

#define MAX_ACKS 64

struct acks {
    size_t n;
    void *tokens[MAX_ACKS];
    hark_err_t status[MAX_ACKS];
    char reasons[MAX_ACKS][256];
    /* When set, the first failed ack produces its token again to "dlq". */
    const struct hark_sink_ops *ops;
    void *sink;
};

struct fixture {
    char dir[64];
    struct hark_json_doc *doc;
    struct hark_diag diag;
    const struct hark_sink_ops *ops;
    void *sink;
    struct acks acks;
};

static char token_base[128];

static void *tok(size_t n)
{
    return &token_base[n];
}

static void
on_ack(void *opaque, void *token, hark_err_t status, const char *reason)
{
    struct acks *acks = opaque;
    assert_true(acks->n < MAX_ACKS);
    acks->tokens[acks->n] = token;
    acks->status[acks->n] = status;
    (void)snprintf(acks->reasons[acks->n], sizeof(acks->reasons[0]), "%s",
                   reason ? reason : "");
    acks->n++;
    if (status != HARK_OK && acks->ops) {
        const struct hark_sink_ops *ops = acks->ops;
        acks->ops = NULL;
        assert_int_equal(
            ops->produce(acks->sink, "dlq", NULL, 0, "dead", 4, tok(99)),
            HARK_OK);
    }
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char *child = hark_xasprintf("%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
                remove_tree(child);
            } else {
                (void)unlink(child);
            }
            free(child);
        }
        closedir(d);
    }
    (void)rmdir(path);
}

static int setup(void **state)
{
    struct fixture *fx = hark_xcalloc(1, sizeof(*fx));
    (void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-sink-file-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    hark_diag_init(&fx->diag);
    fx->ops = hark_sink_ops_find("file");
    assert_non_null(fx->ops);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->sink) {
        fx->ops->close(fx->sink);
    }
    hark_json_doc_free(fx->doc);
    hark_diag_cleanup(&fx->diag);
    remove_tree(fx->dir);
    free(fx);
    return 0;
}

static hark_err_t open_sink(struct fixture *fx, const char *config)
{
    char errbuf[256];
    size_t err_offset = 0;
    struct hark_json_opts opts = {.allow_comments = true,
                                  .validate_utf8 = true};
    hark_json_doc_free(fx->doc);
    fx->doc = NULL;
    assert_int_equal(hark_json_parse(config, strlen(config), "hark.json", &opts,
                                     &fx->doc, errbuf, sizeof(errbuf),
                                     &err_offset),
                     HARK_OK);
    return fx->ops->open(fx->doc, fx->doc->root, fx->dir, &fx->diag, on_ack,
                         &fx->acks, &fx->sink);
}

static char *read_text(const char *dir, const char *name)
{
    char *path = hark_xasprintf("%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    char errbuf[256];
    if (hark_file_read(path, 1 << 20, &text, &len, errbuf, sizeof(errbuf)) !=
        HARK_OK) {
        text = NULL;
    }
    free(path);
    return text;
}

static void produce_ok(struct fixture *fx,
                       const char *topic,
                       const char *payload,
                       size_t token)
{
    assert_int_equal(fx->ops->produce(fx->sink, topic, "k", 1, payload,
                                      strlen(payload), tok(token)),
                     HARK_OK);
}

static void test_hark_sink_ops_find__names(void **state)
{
    (void)state;
    assert_string_equal(hark_sink_ops_find("file")->name, "file");
    assert_string_equal(hark_sink_ops_find("kafka")->name, "kafka");
    assert_null(hark_sink_ops_find("kafak"));
    assert_null(hark_sink_ops_find(NULL));
    assert_string_equal(hark_sink_names(), "file, kafka");
}

static void test_file_open__needs_dir_and_known_keys(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, "{\"fsync\": true}"), HARK_EINVAL);
    assert_null(fx->sink);
    assert_true(hark_diag_has_errors(&fx->diag));
    hark_diag_cleanup(&fx->diag);
    hark_diag_init(&fx->diag);
    assert_int_equal(open_sink(fx, "{\"dir\": \"out\", \"fsynk\": false}"),
                     HARK_EINVAL);
    assert_null(fx->sink);
    assert_true(hark_diag_has_errors(&fx->diag));
    assert_int_equal(fx->diag.entries[0].line, 1);
    assert_int_equal(fx->diag.entries[0].column, 16);
    hark_diag_cleanup(&fx->diag);
    hark_diag_init(&fx->diag);
    assert_int_equal(open_sink(fx, "{\"dir\": \"out\", \"buffer_bytes\": 0}"),
                     HARK_EINVAL);
    assert_null(fx->sink);
}

static void test_file_produce__lands_in_order_acked_after_poll(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, "{\"dir\": \"out\"}"), HARK_OK);
    produce_ok(fx, "posts", "{\"n\":1}", 1);
    produce_ok(fx, "posts", "{\"n\":2}", 2);
    produce_ok(fx, "engagement", "{\"n\":3}", 3);
    produce_ok(fx, "posts", "{\"n\":4}", 4);
    /* Nothing is acked, nor promised on disk, before poll. */
    assert_int_equal(fx->acks.n, 0);
    char *none = read_text(fx->dir, "out/hark.posts.ndjson");
    assert_true(none == NULL || none[0] == '\0');
    free(none);

    fx->ops->poll(fx->sink, 0);
    assert_int_equal(fx->acks.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_ptr_equal(fx->acks.tokens[i], tok(i + 1));
        assert_int_equal(fx->acks.status[i], HARK_OK);
    }
    char *posts = read_text(fx->dir, "out/hark.posts.ndjson");
    char *eng = read_text(fx->dir, "out/hark.engagement.ndjson");
    assert_non_null(posts);
    assert_non_null(eng);
    assert_string_equal(posts, "{\"n\":1}\n{\"n\":2}\n{\"n\":4}\n");
    assert_string_equal(eng, "{\"n\":3}\n");
    free(posts);
    free(eng);

    produce_ok(fx, "posts", "{\"n\":5}", 5);
    assert_int_equal(fx->ops->flush(fx->sink, 1000), HARK_OK);
    assert_int_equal(fx->acks.n, 5);
    posts = read_text(fx->dir, "out/hark.posts.ndjson");
    assert_string_equal(posts, "{\"n\":1}\n{\"n\":2}\n{\"n\":4}\n{\"n\":5}\n");
    free(posts);
}

static void test_file_open__appends_to_existing_file(void **state)
{
    struct fixture *fx = *state;
    char *dir = hark_xasprintf("%s/out", fx->dir);
    char *path = hark_xasprintf("%s/hark.posts.ndjson", dir);
    assert_int_equal(hark_mkdirs(dir), HARK_OK);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs("old\n", fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);

    assert_int_equal(open_sink(fx, "{\"dir\": \"out\", \"fsync\": false}"),
                     HARK_OK);
    produce_ok(fx, "posts", "new", 1);
    assert_int_equal(fx->ops->flush(fx->sink, 1000), HARK_OK);
    char *text = read_text(fx->dir, "out/hark.posts.ndjson");
    assert_string_equal(text, "old\nnew\n");
    free(text);
    free(path);
    free(dir);
}

static void test_file_open__topic_prefix_and_absolute_dir(void **state)
{
    struct fixture *fx = *state;
    char *config = hark_xasprintf(
        "{\"dir\": \"%s/abs/nested\", \"topic_prefix\": \"acme-\"}", fx->dir);
    assert_int_equal(open_sink(fx, config), HARK_OK);
    produce_ok(fx, "posts", "x", 1);
    fx->ops->poll(fx->sink, 0);
    assert_int_equal(fx->acks.n, 1);
    char *text = read_text(fx->dir, "abs/nested/acme-posts.ndjson");
    assert_non_null(text);
    assert_string_equal(text, "x\n");
    free(text);
    free(config);
}

static void test_file_produce__eagain_when_buffer_full(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, "{\"dir\": \"out\", \"buffer_bytes\": 16}"),
                     HARK_OK);
    produce_ok(fx, "posts", "0123456789", 1); /* 11 bytes with newline */
    assert_int_equal(
        fx->ops->produce(fx->sink, "posts", NULL, 0, "0123456789", 10, tok(2)),
        HARK_EAGAIN);
    fx->ops->poll(fx->sink, 0);
    assert_int_equal(fx->acks.n, 1);
    produce_ok(fx, "posts", "0123456789", 2);
    /* One event larger than the whole buffer still goes through alone. */
    fx->ops->poll(fx->sink, 0);
    produce_ok(fx, "posts", "0123456789abcdefghij", 3);
    assert_int_equal(
        fx->ops->produce(fx->sink, "posts", NULL, 0, "y", 1, tok(4)),
        HARK_EAGAIN);
    assert_int_equal(fx->ops->flush(fx->sink, 1000), HARK_OK);
    assert_int_equal(fx->acks.n, 3);
    char *text = read_text(fx->dir, "out/hark.posts.ndjson");
    assert_string_equal(text, "0123456789\n0123456789\n"
                              "0123456789abcdefghij\n");
    free(text);
}

static void test_file_poll__write_error_acks_eio(void **state)
{
    struct fixture *fx = *state;
    if (access("/dev/full", W_OK) != 0) {
        skip();
    }
    char *dir = hark_xasprintf("%s/out", fx->dir);
    char *path = hark_xasprintf("%s/hark.posts.ndjson", dir);
    assert_int_equal(hark_mkdirs(dir), HARK_OK);
    assert_int_equal(symlink("/dev/full", path), 0);

    assert_int_equal(open_sink(fx, "{\"dir\": \"out\", \"fsync\": false}"),
                     HARK_OK);
    fx->acks.ops = fx->ops; /* the failed ack sends to the DLQ topic */
    fx->acks.sink = fx->sink;
    produce_ok(fx, "posts", "a", 1);
    produce_ok(fx, "engagement", "b", 2);
    produce_ok(fx, "posts", "c", 3);
    fx->ops->poll(fx->sink, 0);
    assert_int_equal(fx->acks.n, 3);
    assert_int_equal(fx->acks.status[0], HARK_EIO);
    assert_non_null(strstr(fx->acks.reasons[0], "hark.posts.ndjson"));
    assert_non_null(strstr(fx->acks.reasons[0], "No space left on device"));
    assert_int_equal(fx->acks.status[1], HARK_OK);
    assert_int_equal(fx->acks.status[2], HARK_EIO);

    /* The event produced from inside the ack is served by the flush. */
    assert_int_equal(fx->ops->flush(fx->sink, 1000), HARK_OK);
    assert_int_equal(fx->acks.n, 4);
    assert_ptr_equal(fx->acks.tokens[3], tok(99));
    assert_int_equal(fx->acks.status[3], HARK_OK);
    char *text = read_text(fx->dir, "out/hark.dlq.ndjson");
    assert_string_equal(text, "dead\n");
    free(text);
    free(path);
    free(dir);
}

static void test_file_poll__unwritable_dir_acks_eio(void **state)
{
    struct fixture *fx = *state;
    char *blocker = hark_xasprintf("%s/out", fx->dir);
    FILE *fp = fopen(blocker, "w"); /* a file where the dir should be */
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(open_sink(fx, "{\"dir\": \"out/x\"}"), HARK_OK);
    produce_ok(fx, "posts", "a", 1);
    fx->ops->poll(fx->sink, 0);
    assert_int_equal(fx->acks.n, 1);
    assert_int_equal(fx->acks.status[0], HARK_EIO);
    assert_non_null(strstr(fx->acks.reasons[0], "mkdir"));
    free(blocker);
}

static void test_file_produce__bad_topic_is_refused(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, "{\"dir\": \"out\"}"), HARK_OK);
    assert_int_equal(
        fx->ops->produce(fx->sink, "../etc", NULL, 0, "x", 1, tok(1)), HARK_OK);
    assert_int_equal(fx->acks.n, 1);
    assert_int_equal(fx->acks.status[0], HARK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_sink_ops_find__names),
        cmocka_unit_test_setup_teardown(
            test_file_open__needs_dir_and_known_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_file_produce__lands_in_order_acked_after_poll, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_file_open__appends_to_existing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_file_open__topic_prefix_and_absolute_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_file_produce__eagain_when_buffer_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_poll__write_error_acks_eio,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_poll__unwritable_dir_acks_eio,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_produce__bad_topic_is_refused,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
