/*
 * Tests for sink/sink_kafka.c against librdkafka's in-process mock cluster
 * (a real Kafka-protocol broker): events are produced through the ops
 * table, acked from delivery reports, and read back with a consumer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hark/json.h"
#include "hark/sink.h"

#include "sink/sink_int.h"

#define N_EVENTS        100
#define MAX_ACKS        256
#define PRODUCE_API_KEY 0 /* Kafka protocol ProduceRequest */

struct acks {
    size_t n;
    void *tokens[MAX_ACKS];
    hark_err_t status[MAX_ACKS];
    char reasons[MAX_ACKS][256];
    /* When set, the first failed ack produces a record to "dlq". */
    const struct hark_sink_ops *ops;
    void *sink;
};

struct fixture {
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mcluster;
    char *brokers;
    struct hark_json_doc *doc;
    struct hark_diag diag;
    const struct hark_sink_ops *ops;
    void *sink;
    struct acks acks;
};

/* Sanitizers slow everything down; deadlines are generous, waits are not. */
static int64_t deadline_ms(void)
{
    return hark_mono_ms() + 60000;
}

static char token_base[MAX_ACKS];

static void *tok(size_t n)
{
    return &token_base[n];
}

static size_t tok_n(const void *token)
{
    return (size_t)((const char *)token - token_base);
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
        assert_int_equal(ops->produce(acks->sink, "dlq", NULL, 0, "dead", 4,
                                      tok(MAX_ACKS - 1)),
                         HARK_OK);
        /* A pipeline waiting out backpressure would poll here. */
        ops->poll(acks->sink, 0);
        assert_int_equal(ops->flush(acks->sink, 0), HARK_EAGAIN);
    }
}

static int setup(void **state)
{
    struct fixture *fx = hark_xcalloc(1, sizeof(*fx));
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    fx->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(fx->mock_rk);
    fx->mcluster = rd_kafka_mock_cluster_new(fx->mock_rk, 1);
    assert_non_null(fx->mcluster);
    fx->brokers = hark_xstrdup(rd_kafka_mock_cluster_bootstraps(fx->mcluster));
    assert_int_equal(
        rd_kafka_mock_topic_create(fx->mcluster, "hark.posts", 1, 1),
        RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_topic_create(fx->mcluster, "hark.dlq", 1, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    hark_diag_init(&fx->diag);
    fx->ops = hark_sink_ops_find("kafka");
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
    rd_kafka_mock_cluster_destroy(fx->mcluster);
    rd_kafka_destroy(fx->mock_rk);
    free(fx->brokers);
    free(fx);
    return 0;
}

/* `extra`: more members of the sink's object, after "brokers". */
static hark_err_t open_sink(struct fixture *fx, const char *extra)
{
    char *config = hark_xasprintf("{\"brokers\": \"%s\"%s%s}", fx->brokers,
                                  extra ? ",\n " : "", extra ? extra : "");
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
    free(config);
    return fx->ops->open(fx->doc, fx->doc->root, "/nonexistent", &fx->diag,
                         on_ack, &fx->acks, &fx->sink);
}

static void wait_acks(struct fixture *fx, size_t want)
{
    int64_t deadline = deadline_ms();
    while (fx->acks.n < want && hark_mono_ms() < deadline) {
        fx->ops->poll(fx->sink, 100);
    }
    assert_int_equal(fx->acks.n, want);
}

/*
 * Reads `n` messages of partition 0 of `topic` from the beginning; keys
 * and payloads come back as "key\tpayload" strings.
 */
static char **consume(struct fixture *fx, const char *topic, size_t n)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", fx->brokers,
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(
        rd_kafka_conf_set(conf, "group.id", "test", errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false",
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    char **got = hark_xcalloc(n + 1, sizeof(*got));
    size_t n_got = 0;
    int64_t deadline = deadline_ms();
    while (n_got < n && hark_mono_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg) {
            continue;
        }
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            got[n_got++] = hark_xasprintf("%.*s\t%.*s", (int)msg->key_len,
                                          (const char *)msg->key, (int)msg->len,
                                          (const char *)msg->payload);
        }
        rd_kafka_message_destroy(msg);
    }
    assert_int_equal(n_got, n);
    assert_int_equal(rd_kafka_consumer_close(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    return got;
}

static void free_strings(char **v)
{
    for (size_t i = 0; v && v[i]; i++) {
        free(v[i]);
    }
    free(v);
}

static void produce_n(struct fixture *fx, size_t n, size_t first_token)
{
    for (size_t i = 0; i < n; i++) {
        char key[32];
        char payload[64];
        (void)snprintf(key, sizeof(key), "mastodon:%zu", i % 7);
        (void)snprintf(payload, sizeof(payload), "{\"n\":%zu}", i);
        hark_err_t err;
        int64_t deadline = deadline_ms();
        while ((err = fx->ops->produce(fx->sink, "posts", key, strlen(key),
                                       payload, strlen(payload),
                                       tok(first_token + i))) == HARK_EAGAIN &&
               hark_mono_ms() < deadline) {
            fx->ops->poll(fx->sink, 10);
        }
        assert_int_equal(err, HARK_OK);
    }
}

static void assert_read_back(struct fixture *fx, size_t n)
{
    char **got = consume(fx, "hark.posts", n);
    for (size_t i = 0; i < n; i++) {
        char want[128];
        (void)snprintf(want, sizeof(want), "mastodon:%zu\t{\"n\":%zu}", i % 7,
                       i);
        assert_string_equal(got[i], want);
    }
    free_strings(got);
}

static void test_kafka_produce__acks_and_reads_back(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, NULL), HARK_OK);
    produce_n(fx, N_EVENTS, 1);
    wait_acks(fx, N_EVENTS);
    /* Every token once, every one OK. */
    bool seen[N_EVENTS + 1] = {false};
    for (size_t i = 0; i < N_EVENTS; i++) {
        size_t t = tok_n(fx->acks.tokens[i]);
        assert_true(t >= 1 && t <= N_EVENTS);
        assert_false(seen[t]);
        seen[t] = true;
        assert_int_equal(fx->acks.status[i], HARK_OK);
    }
    assert_int_equal(fx->ops->flush(fx->sink, 10000), HARK_OK);
    assert_read_back(fx, N_EVENTS);
}

static void test_kafka_produce__too_large_is_permanent(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(
        open_sink(fx, "\"properties\": {\"message.max.bytes\": \"1000\"}"),
        HARK_OK);
    char *big = hark_xmalloc(4000);
    memset(big, 'x', 4000);
    assert_int_equal(
        fx->ops->produce(fx->sink, "posts", "k", 1, big, 4000, tok(7)),
        HARK_OK);
    free(big);
    wait_acks(fx, 1);
    assert_ptr_equal(fx->acks.tokens[0], tok(7));
    assert_int_equal(fx->acks.status[0], HARK_EPEER);
    assert_non_null(strstr(fx->acks.reasons[0], "too large"));
}

static void test_kafka_poll__broker_refusal_is_permanent(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, NULL), HARK_OK);
    produce_n(fx, 1, 1); /* a first message gets the producer id */
    wait_acks(fx, 1);
    fx->acks.ops = fx->ops; /* the refusal's ack produces to the DLQ */
    fx->acks.sink = fx->sink;
    rd_kafka_mock_push_request_errors(
        fx->mcluster, PRODUCE_API_KEY, 1,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    produce_n(fx, 1, 2);
    wait_acks(fx, 3);
    assert_int_equal(fx->acks.status[1], HARK_EPEER);
    assert_non_null(strstr(fx->acks.reasons[1], "uthoriz"));
    assert_ptr_equal(fx->acks.tokens[2], tok(MAX_ACKS - 1));
    assert_int_equal(fx->acks.status[2], HARK_OK);
    char **got = consume(fx, "hark.dlq", 1);
    assert_string_equal(got[0], "\tdead");
    free_strings(got);
}

static void test_kafka_poll__retriable_errors_still_deliver(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, NULL), HARK_OK);
    rd_kafka_mock_push_request_errors(
        fx->mcluster, PRODUCE_API_KEY, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    produce_n(fx, 10, 1);
    wait_acks(fx, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(fx->acks.status[i], HARK_OK);
    }
    assert_read_back(fx, 10);
}

static void test_kafka_poll__timed_out_events_are_produced_again(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx,
                               "\"properties\": {\"message.timeout.ms\": 300,"
                               " \"retry.backoff.ms\": 10}"),
                     HARK_OK);
    produce_n(fx, 1, 1);
    wait_acks(fx, 1);
    /* The broker goes away for longer than message.timeout.ms. */
    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    produce_n(fx, 4, 2);
    int64_t until = hark_mono_ms() + 1500;
    while (hark_mono_ms() < until) {
        fx->ops->poll(fx->sink, 50);
    }
    /* Not delivered, and not reported as refused either. */
    assert_int_equal(fx->acks.n, 1);
    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    wait_acks(fx, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(fx->acks.status[i], HARK_OK);
    }
    assert_int_equal(fx->ops->flush(fx->sink, 10000), HARK_OK);
}

static void test_kafka_poll__recovers_from_fatal_error(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, NULL), HARK_OK);
    produce_n(fx, 5, 1);
    assert_int_equal(rd_kafka_test_fatal_error(
                         hark_sink_kafka_handle(fx->sink),
                         RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                         "unit test"),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    produce_n(fx, 5, 6);
    wait_acks(fx, 10);
    bool seen[11] = {false};
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(fx->acks.status[i], HARK_OK);
        size_t t = tok_n(fx->acks.tokens[i]);
        assert_true(t >= 1 && t <= 10);
        assert_false(seen[t]);
        seen[t] = true;
    }
    assert_int_equal(fx->ops->flush(fx->sink, 10000), HARK_OK);
}

static void test_kafka_open__bad_property_has_position(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_sink(fx, "\"properties\": {\"linger.ms\": \"5\","
                                   " \"no.such.thing\": \"1\"}"),
                     HARK_EINVAL);
    assert_null(fx->sink);
    assert_int_equal(fx->diag.n_errors, 1);
    const struct hark_diag_entry *e = &fx->diag.entries[0];
    assert_int_equal(e->line, 2);
    /* ` "properties": {"linger.ms": "5", "no.such.thing"`: the key's quote */
    assert_int_equal(e->column, 35);
    assert_non_null(strstr(e->message, "no.such.thing"));
    assert_non_null(strstr(e->message, "No such configuration property"));
}

static void test_kafka_open__properties_env(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(unsetenv("HARK_TEST_UNSET_VAR"), 0);
    assert_int_equal(open_sink(fx, "\"properties_env\": {\"sasl.password\":"
                                   " \"HARK_TEST_UNSET_VAR\"}"),
                     HARK_EINVAL);
    assert_null(fx->sink);
    assert_non_null(strstr(fx->diag.entries[0].message, "HARK_TEST_UNSET_VAR"));
    assert_non_null(strstr(fx->diag.entries[0].message, "not set"));

    /* A refused value read from the environment is never printed. */
    hark_diag_cleanup(&fx->diag);
    hark_diag_init(&fx->diag);
    assert_int_equal(setenv("HARK_TEST_SECRET", "s3cr3t-v4lue", 1), 0);
    assert_int_equal(open_sink(fx, "\"properties_env\": {\"acks\":"
                                   " \"HARK_TEST_SECRET\"}"),
                     HARK_EINVAL);
    assert_true(hark_diag_has_errors(&fx->diag));
    assert_null(strstr(fx->diag.entries[0].message, "s3cr3t"));
    assert_non_null(strstr(fx->diag.entries[0].message, "HARK_TEST_SECRET"));

    /* A good one is used. */
    hark_diag_cleanup(&fx->diag);
    hark_diag_init(&fx->diag);
    assert_int_equal(setenv("HARK_TEST_LINGER", "1", 1), 0);
    assert_int_equal(open_sink(fx, "\"properties_env\": {\"linger.ms\":"
                                   " \"HARK_TEST_LINGER\"}"),
                     HARK_OK);
    assert_false(hark_diag_has_errors(&fx->diag));
}

static void test_kafka_open__secret_in_config_warns(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(
        open_sink(fx, "\"properties\": {\"sasl.password\": \"hunter2\"}"),
        HARK_OK);
    assert_false(hark_diag_has_errors(&fx->diag));
    assert_int_equal(fx->diag.n_warnings, 1);
    assert_non_null(strstr(fx->diag.entries[0].message, "properties_env"));
    assert_null(strstr(fx->diag.entries[0].message, "hunter2"));
}

static void test_kafka_open__needs_brokers(void **state)
{
    struct fixture *fx = *state;
    char errbuf[256];
    size_t off = 0;
    struct hark_json_opts opts = {.allow_comments = true};
    static const char config[] = "{\"topic_prefix\": \"x.\"}";
    assert_int_equal(hark_json_parse(config, strlen(config), "hark.json", &opts,
                                     &fx->doc, errbuf, sizeof(errbuf), &off),
                     HARK_OK);
    assert_int_equal(fx->ops->open(fx->doc, fx->doc->root, NULL, &fx->diag,
                                   on_ack, &fx->acks, &fx->sink),
                     HARK_EINVAL);
    assert_null(fx->sink);
    assert_true(hark_diag_has_errors(&fx->diag));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kafka_produce__acks_and_reads_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_produce__too_large_is_permanent, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_poll__broker_refusal_is_permanent, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_poll__retriable_errors_still_deliver, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_poll__timed_out_events_are_produced_again, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_poll__recovers_from_fatal_error, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_open__bad_property_has_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_open__properties_env, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_open__secret_in_config_warns,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_open__needs_brokers, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
