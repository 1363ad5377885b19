/* test_guard: the learner's memory guard (learner/cg_guard.h): which connection it cuts, the
 * RSS and per-connection byte counts it reads, and the guard itself against a peer that
 * sends one endless multipart message to a real ZeroMQ socket (a raw ZMTP client in this
 * process, on 127.0.0.1): the peer is cut and the RSS stays under the limit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cg_guard.h"
#include "cg_test.h"
#include "cg_transport.h"

static void test_guard_pick(void)
{
    cg_guard_conn_t c[4];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 4; i++) {
        c[i].fd = 10 + i;
        c[i].born = i + 1;
    }
    CU_ASSERT_EQUAL(cg_guard_pick(c, 0), -1);
    /* All equal: the newest. */
    CU_ASSERT_EQUAL(cg_guard_pick(c, 4), 3);
    /* Most read since its base, not most read. */
    c[0].base = 1000, c[0].read = 1500; /* 500 */
    c[1].base = 0, c[1].read = 900;     /* 900 */
    c[2].base = 5000, c[2].read = 5100; /* 100 */
    c[3].base = 0, c[3].read = 0;
    CU_ASSERT_EQUAL(cg_guard_pick(c, 4), 1);
    c[1].cut = 1;
    CU_ASSERT_EQUAL(cg_guard_pick(c, 4), 0);
    c[0].cut = c[2].cut = c[3].cut = 1;
    CU_ASSERT_EQUAL(cg_guard_pick(c, 4), -1);
}

/* RSS follows memory touched. */
static void test_guard_rss(void)
{
    const int64_t before = cg_guard_rss_bytes();
    CU_ASSERT_FATAL(before > 0);
    const size_t n = (size_t)64 << 20;
    char *p = malloc(n);
    CU_ASSERT_FATAL(p != NULL);
    memset(p, 1, n);
    const int64_t after = cg_guard_rss_bytes();
    CU_ASSERT(after - before >= (int64_t)60 << 20);
    size_t sum = 0; /* the pages are used, so the compiler keeps the memset */
    for (size_t i = 0; i < n; i += 4096)
        sum += (size_t)p[i];
    CU_ASSERT_EQUAL(sum, n / 4096);
    free(p);
}

/* A connected loopback pair: *server is the accepted end. */
static void s_tcp_pair(int *client, int *server)
{
    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CU_ASSERT_FATAL(bind(lst, (struct sockaddr *)&a, sizeof a) == 0 && listen(lst, 1) == 0 &&
                    getsockname(lst, (struct sockaddr *)&a, &al) == 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(connect(*client, (struct sockaddr *)&a, sizeof a) == 0);
    *server = accept(lst, NULL, NULL);
    CU_ASSERT_FATAL(*server >= 0);
    close(lst);
}

/* Bytes read = received by the kernel minus still queued there. */
static void test_guard_bytes_read(void)
{
    int client, server;
    s_tcp_pair(&client, &server);
    CU_ASSERT_EQUAL(cg_guard_bytes_read(server), 0);
    static char buf[100000];
    CU_ASSERT_FATAL(send(client, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    int queued = 0;
    for (int i = 0; i < 200 && queued < (int)sizeof buf; i++) {
        usleep(5000);
        CU_ASSERT_FATAL(ioctl(server, FIONREAD, &queued) == 0);
    }
    CU_ASSERT_EQUAL_FATAL(queued, (int)sizeof buf);
    CU_ASSERT_EQUAL(cg_guard_bytes_read(server), 0);
    size_t got = 0;
    while (got < 60000) {
        ssize_t r = recv(server, buf, 60000 - got, 0);
        CU_ASSERT_FATAL(r > 0);
        got += (size_t)r;
    }
    CU_ASSERT_EQUAL(cg_guard_bytes_read(server), 60000);
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    CU_ASSERT_EQUAL(cg_guard_bytes_read(fds[0]), -1); /* not a TCP socket */
    close(fds[0]);
    close(fds[1]);
    close(client);
    close(server);
}

static int s_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t r = send(fd, c, n, MSG_NOSIGNAL);
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A raw ZMTP 3.0 client (NULL mechanism) of socket type PUSH. */
static int s_zmtp_push(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    CU_ASSERT_FATAL(s_send_all(fd, greeting, sizeof greeting) == 0);
    uint8_t peer[64];
    size_t got = 0;
    while (got < sizeof peer) {
        ssize_t r = recv(fd, peer + got, sizeof peer - got, 0);
        CU_ASSERT_FATAL(r > 0);
        got += (size_t)r;
    }
    static const uint8_t ready[] = {0x04, 26,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S',
                                    'o',  'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
                                    0,    0,   0,   4,   'P', 'U', 'S', 'H'};
    CU_ASSERT_FATAL(s_send_all(fd, ready, sizeof ready) == 0);
    return fd;
}

/* One message that never ends: the guard cuts the peer before RSS passes its limit. */
static void test_guard_cuts_endless_message(void)
{
    cg_transport_t *t = cg_transport_new();
    const cg_socket_opts_t opts = {.hwm = 8, .max_msg_bytes = 1 << 20};
    cg_socket_t *pull = cg_transport_socket(t, CG_SOCK_PULL, &opts), *watch = NULL;
    CU_ASSERT_FATAL(pull && cg_transport_watch(pull, &watch) == CG_OK);
    int port = 0;
    CU_ASSERT_FATAL(cg_transport_bind(pull, "127.0.0.1", 0, &port) == CG_OK);
    char err[256] = "";
    const int64_t max_inbound = (int64_t)32 << 20;
    cg_guard_t *g = cg_guard_new(&watch, 1, max_inbound, 5, err, sizeof err);
    CU_ASSERT_FATAL(g != NULL);
    CU_ASSERT_PTR_NULL(watch); /* the guard took it */
    const int64_t limit = cg_guard_limit_bytes(g);
    CU_ASSERT(limit >= max_inbound);
    int fd = s_zmtp_push(port);
    static uint8_t frame[9 + (32 << 10)];
    frame[0] = 0x03; /* more, long */
    const uint64_t len = 32 << 10;
    for (int i = 0; i < 8; i++)
        frame[1 + i] = (uint8_t)(len >> (56 - 8 * i));
    int64_t sent = 0, rss_max = 0;
    const int64_t cap = (int64_t)1 << 30;
    while (sent < cap && s_send_all(fd, frame, sizeof frame) == 0) {
        sent += (int64_t)sizeof frame;
        const int64_t rss = cg_guard_rss_bytes();
        rss_max = rss > rss_max ? rss : rss_max;
    }
    CU_ASSERT(sent < cap); /* cut */
    CU_ASSERT(sent > max_inbound / 2);
    CU_ASSERT(cg_guard_cuts(g) >= 1);
    /* The guard looks every 5 ms; what arrives in between is the overshoot. */
    CU_ASSERT(rss_max < limit + ((int64_t)32 << 20));
    close(fd);
    cg_transport_unwatch(pull);
    cg_guard_destroy(&g);
    CU_ASSERT_PTR_NULL(g);
    cg_transport_close(&pull);
    cg_transport_destroy(&t);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"pick", test_guard_pick},
        {"rss", test_guard_rss},
        {"bytes_read", test_guard_bytes_read},
        {"cuts_endless_message", test_guard_cuts_endless_message},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("guard", tests, NULL, NULL);
}
