/*
 * hark_kafka_mock: a real Kafka-protocol cluster on loopback for the e2e
 * tests, built on librdkafka's mock cluster (rdkafka_mock.h).
 *
 *     hark_kafka_mock [-b BROKERS] [-p PARTITIONS] [-i] [TOPIC...]
 *
 * Creates a mock cluster with BROKERS brokers (default 1), creates each
 * TOPIC with PARTITIONS partitions (default 1) and replication factor 1,
 * prints one line "BOOTSTRAP host:port[,host:port...]" on stdout and runs
 * until SIGTERM or SIGINT, or until stdin reaches EOF (so a harness that
 * dies without killing us does not leak a cluster; -i turns that off for
 * use from a terminal). Then it destroys the cluster and exits 0.
 *
 * The mock keeps messages in memory only; any Kafka client (hark's sink,
 * kcat) can produce to and consume from it as from a normal broker.
 *
 * Thread: one. librdkafka runs the brokers on its own threads; we only
 * wait here.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t is_stopping = 0;

static void on_signal(int signum)
{
    (void)signum;
    is_stopping = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hark_kafka_mock [-b BROKERS] [-p PARTITIONS] [-i] "
            "[TOPIC...]\n"
            "  -b N  number of brokers (default 1)\n"
            "  -p N  partitions per topic (default 1)\n"
            "  -i    ignore stdin (default: exit when stdin reaches EOF)\n");
}

/*
 * Parses a positive int in [1, max]. Returns false on anything else.
 */
static bool parse_count(const char *text, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 || v > max) {
        return false;
    }
    *out = (int)v;
    return true;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: poll() must return EINTR so we notice at once. */
    sa.sa_flags = 0;
    if (sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0) {
        return -1;
    }
    /* A reader of our stdout that went away must not kill us mid-cleanup. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/*
 * Waits for a signal or, when `is_watching_stdin`, for EOF (or an error)
 * on stdin; whatever arrives on stdin is read and dropped.
 */
static void wait_for_stop(bool is_watching_stdin)
{
    char buf[512];
    while (!is_stopping) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(is_watching_stdin ? &pfd : NULL,
                     is_watching_stdin ? 1 : 0, 200);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("hark_kafka_mock: poll");
            return;
        }
        if (n == 0) {
            continue;
        }
        if (pfd.revents & POLLNVAL) {
            return;
        }
        ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
        if (got == 0) {
            return;
        }
        if (got < 0 && errno != EINTR && errno != EAGAIN) {
            return;
        }
    }
}

int main(int argc, char **argv)
{
    int n_brokers = 1;
    int n_partitions = 1;
    bool is_watching_stdin = true;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    rd_kafka_conf_t *conf = NULL;
    char errstr[512];
    int rc = 1;
    int opt;

    while ((opt = getopt(argc, argv, "b:p:ih")) != -1) {
        switch (opt) {
        case 'b':
            if (!parse_count(optarg, 64, &n_brokers)) {
                fprintf(stderr, "hark_kafka_mock: -b wants 1..64, got %s\n",
                        optarg);
                return 2;
            }
            break;
        case 'p':
            if (!parse_count(optarg, 1000, &n_partitions)) {
                fprintf(stderr,
                        "hark_kafka_mock: -p wants 1..1000, got %s\n",
                        optarg);
                return 2;
            }
            break;
        case 'i':
            is_watching_stdin = false;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    if (install_signals() != 0) {
        perror("hark_kafka_mock: sigaction");
        return 1;
    }

    /*
     * The mock cluster needs an rd_kafka_t for its bookkeeping; a producer
     * that never produces is the cheapest one.
     */
    conf = rd_kafka_conf_new();
    /*
     * Level 4 (warning) hides the notice that this handle has no
     * bootstrap.servers, which is true and intended.
     */
    if (rd_kafka_conf_set(conf, "client.id", "hark_kafka_mock", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "hark_kafka_mock: %s\n", errstr);
        goto fail;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "hark_kafka_mock: rd_kafka_new: %s\n", errstr);
        goto fail;
    }
    conf = NULL; /* rd_kafka_new() took it */

    mcluster = rd_kafka_mock_cluster_new(rk, n_brokers);
    if (mcluster == NULL) {
        fprintf(stderr, "hark_kafka_mock: cannot create the mock cluster\n");
        goto fail;
    }

    for (int i = optind; i < argc; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mcluster, argv[i], n_partitions, 1);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "hark_kafka_mock: topic %s: %s\n", argv[i],
                    rd_kafka_err2str(err));
            goto fail;
        }
    }

    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stdout);
    fprintf(stderr, "hark_kafka_mock: %d broker(s), %d topic(s), ready\n",
            n_brokers, argc - optind);

    wait_for_stop(is_watching_stdin);
    rc = 0;

fail:
    if (mcluster != NULL) {
        rd_kafka_mock_cluster_destroy(mcluster);
    }
    if (rk != NULL) {
        rd_kafka_destroy(rk);
    }
    if (conf != NULL) {
        rd_kafka_conf_destroy(conf);
    }
    fprintf(stderr, "hark_kafka_mock: stopped\n");
    return rc;
}
