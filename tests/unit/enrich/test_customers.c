/* Tests for enrich/customers_load.c, customers_store.c and identity.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hark/customers.h"

static char data_path_buf[4096];

static const char *data_path(const char *name)
{
    const char *root = getenv("HARK_SOURCE_DIR");
    snprintf(data_path_buf, sizeof(data_path_buf), "%s/tests/data/customers/%s",
             root ? root : ".", name);
    return data_path_buf;
}

static char tmp_dir[64];
static char tmp_path_buf[256];

/* Writes `text` to a fresh file named `name` in a private temp folder. */
static const char *write_tmp(const char *name, const char *text)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/hark-test-cust-XXXXXX");
        assert_non_null(mkdtemp(tmp_dir));
    }
    snprintf(tmp_path_buf, sizeof(tmp_path_buf), "%s/%s", tmp_dir, name);
    FILE *fp = fopen(tmp_path_buf, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return tmp_path_buf;
}

static struct hark_post *
make_post(const char *platform, const char *id, const char *handle)
{
    struct hark_post *post = hark_post_new();
    post->platform = hark_xstrdup(platform);
    post->author.id = hark_xstrdup(id);
    post->author.handle = hark_xstrdup(handle);
    return post;
}

/* The customer id found for a post, or NULL. */
static const char *find_id(const struct hark_customers *dir,
                           const char *platform,
                           const char *id,
                           const char *handle,
                           const char *default_host,
                           bool *is_handle_match)
{
    static char found[128];
    struct hark_post *post = make_post(platform, id, handle);
    bool is_handle = true;
    const struct hark_customer *cust =
        hark_customers_find(dir, post, default_host, &is_handle);
    hark_post_free(post);
    if (is_handle_match) {
        *is_handle_match = is_handle;
    }
    if (!cust) {
        assert_false(is_handle);
        return NULL;
    }
    struct hark_customer_view view;
    hark_customer_view_fill(cust, HARK_CUST_F_ID, is_handle, &view);
    snprintf(found, sizeof(found), "%s", view.id);
    hark_customer_view_cleanup(&view);
    return found;
}

static struct hark_customers *load_ok(const char *path)
{
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    hark_err_t err =
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir);
    for (size_t i = 0; i < diag.n_entries; i++) {
        fprintf(stderr, "%s:%d: %s\n", diag.entries[i].file,
                diag.entries[i].line, diag.entries[i].message);
    }
    assert_int_equal(err, HARK_OK);
    assert_int_equal(diag.n_entries, 0);
    assert_non_null(dir);
    hark_diag_cleanup(&diag);
    return dir;
}

static void assert_entry(const struct hark_diag *diag,
                         size_t i,
                         enum hark_diag_severity severity,
                         const char *file,
                         int line,
                         const char *message)
{
    assert_true(i < diag->n_entries);
    const struct hark_diag_entry *e = &diag->entries[i];
    assert_int_equal(e->severity, severity);
    if (file) {
        assert_string_equal(e->file, file);
    }
    assert_int_equal(e->line, line);
    assert_int_equal(e->column, 0);
    assert_string_equal(e->message, message);
}

/* ---- CSV ------------------------------------------------------------ */

static void
test_hark_customers_load__csv_quotes_commas_newlines_bom(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(data_path("good.csv"));
    assert_int_equal(hark_customers_count(dir), 4);

    struct hark_post *post = make_post("x", "12345", NULL);
    bool is_handle = true;
    const struct hark_customer *cust =
        hark_customers_find(dir, post, NULL, &is_handle);
    hark_post_free(post);
    assert_non_null(cust);
    assert_false(is_handle);
    struct hark_customer_view view;
    hark_customer_view_fill(cust, HARK_CUST_F_ID | HARK_CUST_F_CLV, false,
                            &view);
    assert_string_equal(view.id, "c1"); /* BOM stripped from the header */
    assert_string_equal(view.name, "Smith, Alice");
    assert_string_equal(view.tier, "gold");
    assert_string_equal(view.segment, "smb");
    assert_true(view.clv == 12000);
    assert_true(view.revenue_12m == 3400.5);
    assert_int_equal(view.referrals, 2);
    assert_int_equal(view.recommendations, 1);
    assert_int_equal(view.introductions, 0);
    assert_int_equal(view.positive_mentions, 5);
    assert_int_equal(view.export_mask, HARK_CUST_F_ID | HARK_CUST_F_CLV);
    assert_false(view.is_handle_match);
    hark_customer_view_cleanup(&view);

    post = make_post("x", NULL, "bobj");
    cust = hark_customers_find(dir, post, NULL, &is_handle);
    hark_post_free(post);
    assert_non_null(cust);
    hark_customer_view_fill(cust, 0, is_handle, &view);
    assert_string_equal(view.id, "c2");
    assert_string_equal(view.name, "Bob \"the builder\"\nJones");
    assert_string_equal(view.segment, "enterprise");
    assert_true(view.revenue_12m == 0); /* empty field */
    assert_int_equal(view.introductions, 1);
    assert_true(view.is_handle_match);
    hark_customer_view_cleanup(&view);

    /* empty strings become NULL; unquoted blanks are trimmed */
    post = make_post("mastodon", NULL, "carol@127.0.0.1");
    cust = hark_customers_find(dir, post, NULL, NULL);
    hark_post_free(post);
    assert_non_null(cust);
    hark_customer_view_fill(cust, 0, false, &view);
    assert_string_equal(view.id, "c3");
    assert_null(view.tier);
    assert_null(view.segment);
    assert_true(view.clv == 0);
    hark_customer_view_cleanup(&view);

    assert_string_equal(
        find_id(dir, "mastodon", "109000000000000001", NULL, NULL, NULL), "c4");
    post = make_post("mastodon", "109000000000000001", NULL);
    cust = hark_customers_find(dir, post, NULL, NULL);
    hark_post_free(post);
    hark_customer_view_fill(cust, 0, false, &view);
    assert_string_equal(view.name, "Dave");
    hark_customer_view_cleanup(&view);
    hark_customers_free(dir);
}

static void test_hark_customers_find__id_versus_handle(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(data_path("good.csv"));
    bool is_handle = true;
    /* stable ids: exact, not marked */
    assert_string_equal(find_id(dir, "x", "12345", "nobody", NULL, &is_handle),
                        "c1");
    assert_false(is_handle);
    assert_string_equal(
        find_id(dir, "bluesky", "did:plc:abc123", NULL, NULL, &is_handle),
        "c1");
    assert_false(is_handle);
    assert_null(find_id(dir, "bluesky", "did:plc:ABC123", NULL, NULL, NULL));
    /* an unknown id falls back to the handle, which is marked */
    assert_string_equal(find_id(dir, "x", "999", "alice", NULL, &is_handle),
                        "c1");
    assert_true(is_handle);
    assert_string_equal(find_id(dir, "bluesky", "did:plc:zzz",
                                "carol.bsky.social", NULL, &is_handle),
                        "c3");
    assert_true(is_handle);
    /* Reddit and HN have only names: not a lower-confidence match */
    assert_string_equal(
        find_id(dir, "reddit", "t2_x", "alice_r", NULL, &is_handle), "c1");
    assert_false(is_handle);
    assert_string_equal(
        find_id(dir, "hackernews", NULL, "carolhn", NULL, &is_handle), "c3");
    assert_false(is_handle);
    /* the id of one platform is not the id of another */
    assert_null(find_id(dir, "mastodon", "12345", NULL, NULL, NULL));
    assert_null(find_id(dir, "x", NULL, "alice_r", NULL, NULL));
    assert_null(find_id(dir, "feed", "12345", "alice", NULL, NULL));
    assert_null(find_id(dir, "x", NULL, NULL, NULL, NULL));
    hark_customers_free(dir);
}

static void test_hark_customers_find__handles_ignore_case(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(data_path("good.csv"));
    bool is_handle = false;
    assert_string_equal(find_id(dir, "x", NULL, "ALICE", NULL, &is_handle),
                        "c1");
    assert_true(is_handle);
    assert_string_equal(find_id(dir, "x", NULL, "@aLiCe", NULL, NULL), "c1");
    assert_string_equal(find_id(dir, "X", NULL, "BobJ", NULL, NULL), "c2");
    assert_string_equal(find_id(dir, "mastodon", NULL, "Alice@Example.SOCIAL",
                                NULL, &is_handle),
                        "c1");
    assert_true(is_handle);
    assert_string_equal(find_id(dir, "reddit", NULL, "ALICE_R", NULL, NULL),
                        "c1");
    assert_null(find_id(dir, "x", NULL, "alic", NULL, NULL));
    assert_null(find_id(dir, "x", NULL, "alicee", NULL, NULL));
    hark_customers_free(dir);
}

static void
test_hark_customers_find__mastodon_bare_handle_completed(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(data_path("good.csv"));
    bool is_handle = false;
    assert_string_equal(
        find_id(dir, "mastodon", NULL, "carol", "127.0.0.1", &is_handle), "c3");
    assert_true(is_handle);
    assert_string_equal(
        find_id(dir, "mastodon", NULL, "@Carol", "127.0.0.1", NULL), "c3");
    assert_null(find_id(dir, "mastodon", NULL, "carol", NULL, NULL));
    assert_null(
        find_id(dir, "mastodon", NULL, "carol", "example.social", NULL));
    /* a handle with a host is not completed */
    assert_null(find_id(dir, "mastodon", NULL, "carol@other.example",
                        "127.0.0.1", NULL));
    assert_string_equal(find_id(dir, "mastodon", NULL, "alice@example.social",
                                "127.0.0.1", NULL),
                        "c1");
    /* completion is for Mastodon only */
    assert_null(find_id(dir, "x", NULL, "carol", "127.0.0.1", NULL));
    hark_customers_free(dir);
}

static void test_hark_customers_load__ndjson(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(data_path("good.ndjson"));
    assert_int_equal(hark_customers_count(dir), 3);
    bool is_handle = false;
    assert_string_equal(find_id(dir, "x", NULL, "NINA", NULL, &is_handle),
                        "n1");
    assert_true(is_handle);
    assert_string_equal(
        find_id(dir, "bluesky", "did:plc:nina", NULL, NULL, &is_handle), "n1");
    assert_false(is_handle);
    assert_string_equal(find_id(dir, "reddit", NULL, "forty_two", NULL, NULL),
                        "42");
    assert_string_equal(find_id(dir, "x", "777", NULL, NULL, NULL), "n3");
    assert_string_equal(
        find_id(dir, "mastodon", NULL, "n3", "social.example", NULL), "n3");

    struct hark_post *post = make_post("reddit", NULL, "Forty_Two");
    const struct hark_customer *cust =
        hark_customers_find(dir, post, NULL, NULL);
    hark_post_free(post);
    struct hark_customer_view view;
    hark_customer_view_fill(cust, 0, false, &view);
    assert_int_equal(view.referrals, 3);
    assert_null(view.name);
    hark_customer_view_cleanup(&view);

    post = make_post("x", "777", NULL);
    cust = hark_customers_find(dir, post, NULL, NULL);
    hark_post_free(post);
    hark_customer_view_fill(cust, 0, false, &view);
    assert_true(view.revenue_12m == 99.5); /* a numeric string */
    hark_customer_view_cleanup(&view);

    post = make_post("x", NULL, "nina");
    cust = hark_customers_find(dir, post, NULL, NULL);
    hark_post_free(post);
    hark_customer_view_fill(cust, 0, false, &view);
    assert_true(view.clv == 1500.5);
    assert_string_equal(view.tier, "gold");
    hark_customer_view_cleanup(&view);
    hark_customers_free(dir);
}

/* ---- bad rows ------------------------------------------------------- */

static const char *const bad_csv_messages[] = {
    "missing customer_id",
    "clv \"12k\" is not a number",
    "identity \"alice\" has no platform; expected platform:value",
    "unknown platform \"myspace\" in identity \"myspace:@tom\"; expected "
    "mastodon, bluesky, x, reddit or hackernews",
    "identity \"x:@Shared\" of customer \"b4\" is already claimed by "
    "customer \"g1\"",
    "the row has 7 fields; the header has 6",
    "duplicate customer_id \"g1\"",
    "malformed quoting: a quote inside an unquoted field, or text after a "
    "closing quote",
    "unterminated quoted field at the end of the file",
};

static const int bad_csv_lines[] = {2, 3, 4, 5, 7, 8, 10, 11, 12};

#define N_BAD_CSV (sizeof(bad_csv_lines) / sizeof(bad_csv_lines[0]))

static void test_hark_customers_load__bad_rows_rejected(void **state)
{
    (void)state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = (struct hark_customers *)&diag; /* poison */
    const char *path = data_path("bad.csv");
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir),
        HARK_EINVAL);
    assert_null(dir);
    assert_int_equal(diag.n_entries, N_BAD_CSV);
    assert_int_equal(diag.n_errors, N_BAD_CSV);
    for (size_t i = 0; i < N_BAD_CSV; i++) {
        assert_entry(&diag, i, HARK_DIAG_ERROR, path, bad_csv_lines[i],
                     bad_csv_messages[i]);
    }
    hark_diag_cleanup(&diag);
}

static void test_hark_customers_load__bad_rows_skipped(void **state)
{
    (void)state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    const char *path = data_path("bad.csv");
    assert_int_equal(hark_customers_load(path, HARK_BAD_ROW_SKIP, &diag, &dir),
                     HARK_OK);
    assert_non_null(dir);
    assert_int_equal(hark_customers_count(dir), 2);
    assert_int_equal(diag.n_errors, 0);
    assert_int_equal(diag.n_warnings, N_BAD_CSV);
    for (size_t i = 0; i < N_BAD_CSV; i++) {
        char want[512];
        snprintf(want, sizeof(want), "%s; row skipped", bad_csv_messages[i]);
        assert_entry(&diag, i, HARK_DIAG_WARNING, path, bad_csv_lines[i], want);
    }
    /* the good rows around the bad ones are in */
    assert_string_equal(find_id(dir, "x", NULL, "shared", NULL, NULL), "g1");
    assert_string_equal(find_id(dir, "x", NULL, "g2", NULL, NULL), "g2");
    /* a skipped row leaves nothing behind */
    assert_null(find_id(dir, "x", NULL, "tom", NULL, NULL));
    hark_customers_free(dir);
    hark_diag_cleanup(&diag);
}

static void test_hark_customers_load__bad_ndjson_rows(void **state)
{
    (void)state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    const char *path = data_path("bad.ndjson");
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir),
        HARK_EINVAL);
    assert_null(dir);
    assert_entry(&diag, 0, HARK_DIAG_ERROR, path, 1,
                 "clv \"12k\" is not a number");
    assert_entry(&diag, 1, HARK_DIAG_ERROR, path, 2,
                 "identity \"alice\" has no platform; expected "
                 "platform:value");
    assert_entry(&diag, 2, HARK_DIAG_ERROR, path, 2,
                 "identities[1] is integer; expected a string");
    assert_int_equal(diag.entries[3].line, 3);
    assert_non_null(strstr(diag.entries[3].message, "invalid JSON: "));
    assert_entry(&diag, 4, HARK_DIAG_ERROR, path, 4,
                 "expected a JSON object, not array");
    assert_entry(&diag, 5, HARK_DIAG_ERROR, path, 5, "missing customer_id");
    assert_entry(&diag, 6, HARK_DIAG_ERROR, path, 6,
                 "tier is integer; expected a string");
    assert_entry(&diag, 7, HARK_DIAG_ERROR, path, 6,
                 "referrals -1 is not a whole number from 0 to 4294967295");
    assert_int_equal(diag.n_entries, 8);
    hark_diag_cleanup(&diag);

    hark_diag_init(&diag);
    assert_int_equal(hark_customers_load(path, HARK_BAD_ROW_SKIP, &diag, &dir),
                     HARK_OK);
    assert_int_equal(hark_customers_count(dir), 1);
    assert_int_equal(diag.n_warnings, 8);
    assert_string_equal(find_id(dir, "x", "1", NULL, NULL, NULL), "ok1");
    hark_customers_free(dir);
    hark_diag_cleanup(&diag);
}

/* One bad row, loaded with REJECT: its single message. */
static void assert_one_error(const char *text, int line, const char *message)
{
    const char *path = write_tmp("one.csv", text);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir),
        HARK_EINVAL);
    assert_null(dir);
    assert_int_equal(diag.n_entries, 1);
    assert_entry(&diag, 0, HARK_DIAG_ERROR, path, line, message);
    hark_diag_cleanup(&diag);
}

static void test_hark_customers_load__identity_checks(void **state)
{
    (void)state;
    assert_one_error("customer_id,identities\nc1,mastodon:@alice\n", 2,
                     "mastodon handle \"mastodon:@alice\" needs its "
                     "instance; expected mastodon:@user@host");
    assert_one_error("customer_id,identities\nc1,mastodon:alice\n", 2,
                     "mastodon identity \"mastodon:alice\" is neither an "
                     "account id nor user@host");
    assert_one_error("customer_id,identities\nc1,x:alice\n", 2,
                     "x id \"alice\" is not numeric; write a handle as "
                     "x:@alice");
    assert_one_error("customer_id,identities\nc1,bluesky:alice.bsky.social\n",
                     2,
                     "bluesky id \"alice.bsky.social\" is not a DID; write a "
                     "handle as bluesky:@alice.bsky.social");
    assert_one_error("customer_id,identities\nc1,x:@\n", 2,
                     "identity \"x:@\" has no value");
    assert_one_error("customer_id,identities\nc1,:alice\n", 2,
                     "identity \":alice\" has no platform; expected "
                     "platform:value");
    assert_one_error("customer_id,platform,handle\nc1,myspace,tom\n", 2,
                     "unknown platform \"myspace\"; expected mastodon, "
                     "bluesky, x, reddit or hackernews");
    assert_one_error("customer_id,platform,handle\nc1,x,\n", 2,
                     "platform \"x\" has no handle");
    assert_one_error("customer_id,platform,handle\nc1,,@tom\n", 2,
                     "handle \"@tom\" has no platform; the platform column "
                     "is empty");
    assert_one_error("customer_id,platform,handle\nc1,x,@a\nc2,X,A\n", 3,
                     "identity \"X:@A\" of customer \"c2\" is already "
                     "claimed by customer \"c1\"");
    assert_one_error("customer_id,referrals\nc1,2.5\n", 2,
                     "referrals \"2.5\" is not a whole number from 0 to "
                     "4294967295");
    assert_one_error("customer_id,clv\nc1,inf\n", 2,
                     "clv \"inf\" is not a number");
    /* the line where a multi-line row starts */
    assert_one_error("customer_id,name,clv\nc1,\"two\nlines\",x\n", 2,
                     "clv \"x\" is not a number");
    assert_one_error("customer_id,name,clv\n\n  \nc1,\"a\n\nb\",1\nc2,b,y\n", 7,
                     "clv \"y\" is not a number");
    /* header problems fail the load whatever on_bad_row says */
    assert_one_error("name,clv\nAlice,1\n", 1,
                     "the header has no \"customer_id\" column");
    assert_one_error("customer_id,clv,CLV\n", 1,
                     "column \"clv\" appears twice in the header");
    assert_one_error("customer_id,handle\nc1,@a\n", 1,
                     "the header has a \"handle\" column but no \"platform\" "
                     "column");
    assert_one_error("", 0, "the file is empty; expected a header row");
}

static void test_hark_customers_load__same_identity_twice_in_a_row(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(
        write_tmp("twice.csv", "customer_id,platform,handle,identities\n"
                               "c1,x,@Alice,x:@alice;x:@ALICE;;x:1; x:1 \n"));
    assert_int_equal(hark_customers_count(dir), 1);
    assert_string_equal(find_id(dir, "x", NULL, "alice", NULL, NULL), "c1");
    assert_string_equal(find_id(dir, "x", "1", NULL, NULL, NULL), "c1");
    hark_customers_free(dir);
}

static void test_hark_customers_load__crlf_and_no_final_newline(void **state)
{
    (void)state;
    struct hark_customers *dir = load_ok(write_tmp(
        "crlf.csv", "customer_id,name,identities\r\nc1,\"A\r\nB\",x:1\r\n"
                    "c2,C,x:2"));
    assert_int_equal(hark_customers_count(dir), 2);
    assert_string_equal(find_id(dir, "x", "2", NULL, NULL, NULL), "c2");
    hark_customers_free(dir);
}

static void test_hark_customers_load__skip_mode_header_still_fails(void **state)
{
    (void)state;
    const char *path = write_tmp("nohead.csv", "name\nAlice\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(hark_customers_load(path, HARK_BAD_ROW_SKIP, &diag, &dir),
                     HARK_EINVAL);
    assert_null(dir);
    assert_int_equal(diag.n_errors, 1);
    hark_diag_cleanup(&diag);
}

static void test_hark_customers_load__missing_file(void **state)
{
    (void)state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(hark_customers_load("/nonexistent/customers.csv",
                                         HARK_BAD_ROW_REJECT, &diag, &dir),
                     HARK_EIO);
    assert_null(dir);
    assert_int_equal(diag.n_entries, 1);
    assert_string_equal(diag.entries[0].message,
                        "open(\"/nonexistent/customers.csv\"): No such file "
                        "or directory");
    hark_diag_cleanup(&diag);
}

static void test_hark_customers_load__error_cap(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    assert_int_equal(hark_buf_printf(&buf, "customer_id,clv\n"), HARK_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(hark_buf_printf(&buf, "c%d,bad\n", i), HARK_OK);
    }
    const char *path = write_tmp("many.csv", buf.ptr);
    hark_buf_cleanup(&buf);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir),
        HARK_EINVAL);
    assert_int_equal(diag.n_entries, HARK_DIAG_MAX);
    assert_int_equal(diag.entries[HARK_DIAG_MAX - 1].line, HARK_DIAG_MAX + 1);
    hark_diag_cleanup(&diag);
}

static void
test_hark_customers_load__many_customers_grow_the_index(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    assert_int_equal(hark_buf_printf(&buf, "customer_id,identities\n"),
                     HARK_OK);
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(
            hark_buf_printf(&buf, "c%d,x:%d;x:@User%d;mastodon:u%d@h.example\n",
                            i, i, i, i),
            HARK_OK);
    }
    const char *path = write_tmp("big.csv", buf.ptr);
    hark_buf_cleanup(&buf);
    struct hark_customers *dir = load_ok(path);
    assert_int_equal(hark_customers_count(dir), 5000);
    for (int i = 0; i < 5000; i += 7) {
        char id[32];
        char want[32];
        snprintf(id, sizeof(id), "%d", i);
        snprintf(want, sizeof(want), "c%d", i);
        assert_string_equal(find_id(dir, "x", id, NULL, NULL, NULL), want);
        snprintf(id, sizeof(id), "USER%d", i);
        assert_string_equal(find_id(dir, "x", NULL, id, NULL, NULL), want);
        snprintf(id, sizeof(id), "u%d", i);
        assert_string_equal(
            find_id(dir, "mastodon", NULL, id, "h.example", NULL), want);
    }
    assert_null(find_id(dir, "x", "5000", NULL, NULL, NULL));
    hark_customers_free(dir);
}

/* The view of the customer found by x id `id` (caller cleans up). */
static void view_of(const struct hark_customers *dir, const char *id,
                    struct hark_customer_view *view)
{
    struct hark_post *post = make_post("x", id, NULL);
    bool is_handle = true;
    const struct hark_customer *cust =
        hark_customers_find(dir, post, NULL, &is_handle);
    hark_post_free(post);
    assert_non_null(cust);
    hark_customer_view_fill(cust, HARK_CUST_F_ID, is_handle, view);
}

static void
test_hark_customer_view_fill__values_kept_exactly(void **state)
{
    (void)state;
    const char *path = write_tmp(
        "values.csv",
        "customer_id,name,tier,segment,clv,revenue_12m,referrals,"
        "recommendations,introductions,positive_mentions,identities\n"
        "a,Alice,gold,smb,12.5,0.1,1,0,0,4294967295,x:1\n"
        "b,,,,0.123456789,-7.25,0,2,0,0,x:2\n"
        "c,Carol,Gold,ent,1e300,-0,0,0,3,0,x:3\n"
        "d,Dan,gold,smb,42949672.5,0.005,,,,,x:4\n"
        "e,,,,,,,,,,x:5\n");
    struct hark_customers *dir = load_ok(path);
    struct hark_customer_view v;

    view_of(dir, "1", &v);
    assert_string_equal(v.id, "a");
    assert_string_equal(v.name, "Alice");
    assert_string_equal(v.tier, "gold");
    assert_string_equal(v.segment, "smb");
    assert_true(v.clv == 12.5);
    assert_true(v.revenue_12m == strtod("0.1", NULL));
    assert_int_equal(v.referrals, 1);
    assert_int_equal(v.recommendations, 0);
    assert_int_equal(v.positive_mentions, 4294967295LL);
    hark_customer_view_cleanup(&v);

    view_of(dir, "2", &v);
    assert_string_equal(v.id, "b");
    assert_null(v.name);
    assert_null(v.tier);
    assert_null(v.segment);
    assert_true(v.clv == strtod("0.123456789", NULL));
    assert_true(v.revenue_12m == -7.25);
    assert_int_equal(v.recommendations, 2);
    hark_customer_view_cleanup(&v);

    view_of(dir, "3", &v);
    assert_string_equal(v.tier, "Gold"); /* tiers keep their case */
    assert_string_equal(v.segment, "ent");
    assert_true(v.clv == 1e300);
    assert_true(v.revenue_12m == 0 && signbit(v.revenue_12m));
    assert_int_equal(v.introductions, 3);
    hark_customer_view_cleanup(&v);

    view_of(dir, "4", &v);
    assert_true(v.clv == 42949672.5);
    assert_true(v.revenue_12m == strtod("0.005", NULL));
    assert_int_equal(v.referrals, 0);
    hark_customer_view_cleanup(&v);

    view_of(dir, "5", &v);
    assert_string_equal(v.id, "e");
    assert_true(v.clv == 0 && !signbit(v.clv));
    assert_true(v.revenue_12m == 0);
    assert_null(v.tier);
    hark_customer_view_cleanup(&v);
    hark_customers_free(dir);
}

/*
 * Tiers and segments are interned; many distinct ones, and the same ones
 * far apart in a large file, read back the same. A long name puts the
 * identities far from the start of their customer.
 */
static void test_hark_customers_load__interned_and_long_fields(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    assert_int_equal(
        hark_buf_printf(&buf, "customer_id,name,tier,segment,identities\n"),
        HARK_OK);
    char *long_name = hark_xmalloc(40001);
    memset(long_name, 'n', 40000);
    long_name[40000] = '\0';
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(
            hark_buf_printf(&buf, "c%d,%s,t%d,%s,x:%d;x:@h%d\n", i,
                            i % 100 == 7 ? long_name : "N", i % 300,
                            i % 2 ? "smb" : "ent", i, i),
            HARK_OK);
    }
    const char *path = write_tmp("interned.csv", buf.ptr);
    hark_buf_cleanup(&buf);
    struct hark_customers *dir = load_ok(path);
    assert_int_equal(hark_customers_count(dir), 3000);
    for (int i = 0; i < 3000; i += 13) {
        char id[32];
        char want[32];
        struct hark_customer_view v;
        snprintf(id, sizeof(id), "%d", i);
        view_of(dir, id, &v);
        snprintf(want, sizeof(want), "c%d", i);
        assert_string_equal(v.id, want);
        snprintf(want, sizeof(want), "t%d", i % 300);
        assert_string_equal(v.tier, want);
        assert_string_equal(v.segment, i % 2 ? "smb" : "ent");
        assert_string_equal(v.name, i % 100 == 7 ? long_name : "N");
        hark_customer_view_cleanup(&v);
        snprintf(id, sizeof(id), "H%d", i);
        snprintf(want, sizeof(want), "c%d", i);
        assert_string_equal(find_id(dir, "x", NULL, id, NULL, NULL), want);
    }
    /* the long-named ones */
    assert_string_equal(find_id(dir, "x", NULL, "h2907", NULL, NULL), "c2907");
    assert_string_equal(find_id(dir, "x", "2907", NULL, NULL, NULL), "c2907");
    free(long_name);
    hark_customers_free(dir);
}

/* UTF-8 is still checked in a row after many ASCII ones. */
static void test_hark_customers_load__utf8_after_ascii_rows(void **state)
{
    (void)state;
    const char *path = write_tmp("utf8.csv",
                                 "customer_id,name,identities\n"
                                 "a,Ann,x:1\n"
                                 "b,Z\xC3\xBC" "rich,x:2\n"
                                 "c,\"two\nlines \xFF\",x:3\n"
                                 "d,Dee,x:4\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_SKIP, &diag, &dir), HARK_OK);
    assert_int_equal(hark_customers_count(dir), 3);
    assert_int_equal(diag.n_entries, 1);
    assert_entry(&diag, 0, HARK_DIAG_WARNING, path, 4,
                 "name is not valid UTF-8; row skipped");
    struct hark_customer_view v;
    view_of(dir, "2", &v);
    assert_string_equal(v.name, "Z\xC3\xBCrich");
    hark_customer_view_cleanup(&v);
    assert_null(find_id(dir, "x", "3", NULL, NULL, NULL));
    assert_string_equal(find_id(dir, "x", "4", NULL, NULL, NULL), "d");
    hark_diag_cleanup(&diag);
    hark_customers_free(dir);
}

/*
 * A file large enough to be split on the reader thread, with problems
 * found while parsing (a bad number) and while committing (a taken id or
 * identity) close together: every one is reported, in the file's order,
 * and the good rows around them are all there.
 */
static void test_hark_customers_load__problems_in_file_order(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    assert_int_equal(hark_buf_printf(&buf, "customer_id,name,clv,identities\n"),
                     HARK_OK);
    for (int i = 0; i < 6000; i++) { /* row i is on line i + 2 */
        const char *clv = i == 1001 || i == 4000 ? "many" : "12.5";
        int id = i == 1000 || i == 4001 ? 7 : i;       /* c7 again */
        int x = i == 1002 || i == 4002 ? 8 : i;        /* x:8 again */
        assert_int_equal(
            hark_buf_printf(&buf,
                            "c%d,Customer number %d with a longer name,%s,"
                            "x:%d;x:@user_%d\n",
                            id, i, clv, x, i),
            HARK_OK);
    }
    const char *path = write_tmp("order.csv", buf.ptr);
    assert_true(buf.len > 256 * 1024);
    hark_buf_cleanup(&buf);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_SKIP, &diag, &dir), HARK_OK);
    assert_int_equal(diag.n_entries, 6);
    assert_entry(&diag, 0, HARK_DIAG_WARNING, path, 1002,
                 "duplicate customer_id \"c7\"; row skipped");
    assert_entry(&diag, 1, HARK_DIAG_WARNING, path, 1003,
                 "clv \"many\" is not a number; row skipped");
    assert_entry(&diag, 2, HARK_DIAG_WARNING, path, 1004,
                 "identity \"x:8\" of customer \"c1002\" is already claimed "
                 "by customer \"c8\"; row skipped");
    assert_entry(&diag, 3, HARK_DIAG_WARNING, path, 4002,
                 "clv \"many\" is not a number; row skipped");
    assert_entry(&diag, 4, HARK_DIAG_WARNING, path, 4003,
                 "duplicate customer_id \"c7\"; row skipped");
    assert_entry(&diag, 5, HARK_DIAG_WARNING, path, 4004,
                 "identity \"x:8\" of customer \"c4002\" is already claimed "
                 "by customer \"c8\"; row skipped");
    assert_int_equal(hark_customers_count(dir), 6000 - 6);
    assert_string_equal(find_id(dir, "x", "5999", NULL, NULL, NULL), "c5999");
    assert_string_equal(find_id(dir, "x", NULL, "USER_4003", NULL, NULL),
                        "c4003");
    assert_null(find_id(dir, "x", NULL, "user_1002", NULL, NULL));
    hark_diag_cleanup(&diag);
    hark_customers_free(dir);
}

/*
 * With REJECT, the load stops at HARK_DIAG_MAX errors even when they are
 * found while committing, on the reader thread's path: nothing after the
 * last one counted is read.
 */
static void test_hark_customers_load__error_cap_on_commits(void **state)
{
    (void)state;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    assert_int_equal(hark_buf_printf(&buf, "customer_id,name\n"), HARK_OK);
    for (int i = 0; i < 8000; i++) {
        /* from row 3000 on, every other row repeats c0 */
        int id = i >= 3000 && i % 2 ? 0 : i;
        assert_int_equal(
            hark_buf_printf(&buf, "c%d,A name long enough to fill the file\n",
                            id),
            HARK_OK);
    }
    const char *path = write_tmp("cap2.csv", buf.ptr);
    hark_buf_cleanup(&buf);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    assert_int_equal(
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir),
        HARK_EINVAL);
    assert_null(dir);
    assert_int_equal(diag.n_entries, HARK_DIAG_MAX);
    assert_int_equal(diag.n_errors, HARK_DIAG_MAX);
    /* row 3001 is on line 3003; the 50th duplicate is row 3099 */
    assert_entry(&diag, 0, HARK_DIAG_ERROR, path, 3003,
                 "duplicate customer_id \"c0\"");
    assert_entry(&diag, HARK_DIAG_MAX - 1, HARK_DIAG_ERROR, path, 3101,
                 "duplicate customer_id \"c0\"");
    hark_diag_cleanup(&diag);
}

static void test_hark_customers_free__null(void **state)
{
    (void)state;
    hark_customers_free(NULL);
    assert_int_equal(hark_customers_count(NULL), 0);
    struct hark_post *post = make_post("x", "1", "a");
    bool is_handle = true;
    assert_null(hark_customers_find(NULL, post, NULL, &is_handle));
    assert_false(is_handle);
    hark_post_free(post);
}

static int teardown_tmp(void **state)
{
    (void)state;
    if (tmp_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0) {
            return -1;
        }
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_hark_customers_load__csv_quotes_commas_newlines_bom),
        cmocka_unit_test(test_hark_customers_find__id_versus_handle),
        cmocka_unit_test(test_hark_customers_find__handles_ignore_case),
        cmocka_unit_test(
            test_hark_customers_find__mastodon_bare_handle_completed),
        cmocka_unit_test(test_hark_customers_load__ndjson),
        cmocka_unit_test(test_hark_customers_load__bad_rows_rejected),
        cmocka_unit_test(test_hark_customers_load__bad_rows_skipped),
        cmocka_unit_test(test_hark_customers_load__bad_ndjson_rows),
        cmocka_unit_test(test_hark_customers_load__identity_checks),
        cmocka_unit_test(
            test_hark_customers_load__same_identity_twice_in_a_row),
        cmocka_unit_test(test_hark_customers_load__crlf_and_no_final_newline),
        cmocka_unit_test(
            test_hark_customers_load__skip_mode_header_still_fails),
        cmocka_unit_test(test_hark_customers_load__missing_file),
        cmocka_unit_test(test_hark_customers_load__error_cap),
        cmocka_unit_test(
            test_hark_customers_load__many_customers_grow_the_index),
        cmocka_unit_test(test_hark_customer_view_fill__values_kept_exactly),
        cmocka_unit_test(test_hark_customers_load__interned_and_long_fields),
        cmocka_unit_test(test_hark_customers_load__utf8_after_ascii_rows),
        cmocka_unit_test(test_hark_customers_load__problems_in_file_order),
        cmocka_unit_test(test_hark_customers_load__error_cap_on_commits),
        cmocka_unit_test(test_hark_customers_free__null),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_tmp);
}
