/* cmd_keygen: `cgrpo keygen DIR`: the credentials of a learner bound off loopback
 * (docs/cluster.md): a CURVE key pair for the learner and a random run token, as files in a
 * new directory. Never overwrites a key. */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_cmd.h"
#include "cg_os.h"
#include "cg_transport.h"

#define S_TOKEN_BYTES 16 /* 128 random bits, written as 32 hex digits */

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo keygen DIR\n"
            "Writes the credentials of a learner that listens off loopback into DIR (created,\n"
            "mode 0700; existing files are never overwritten):\n"
            "  DIR/learner.key  the learner's CURVE secret key (0600): the learner's node only\n"
            "  DIR/learner.pub  its public key: every actor needs it\n"
            "  DIR/token        the run token (0600): the learner and every actor\n"
            "Then point the config at them (docs/cluster.md).\n\n"
            "  -h, --help       this help\n");
}

static int s_write_token(const char *path, char *err, size_t errlen)
{
    uint8_t raw[S_TOKEN_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    char text[2 * S_TOKEN_BYTES + 2];
    for (int i = 0; i < S_TOKEN_BYTES; i++)
        snprintf(text + 2 * i, 3, "%02x", raw[i]);
    text[2 * S_TOKEN_BYTES] = '\n';
    text[2 * S_TOKEN_BYTES + 1] = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = (ssize_t)strlen(text);
    int ok = write(fd, text, (size_t)n) == n;
    if (close(fd) != 0 || !ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cg_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            s_usage(stdout);
            return 0;
        }
        s_usage(stderr);
        return 2;
    }
    if (argc - optind != 1) {
        s_usage(stderr);
        return 2;
    }
    if (!cg_transport_has_curve()) {
        fprintf(stderr, "cgrpo keygen: this libzmq was built without CURVE (hint: install a libzmq "
                        "built with libsodium, such as Debian's libzmq5)\n");
        return 1;
    }
    const char *dir = argv[optind];
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) { /* missing parents as for mkdir -p; DIR itself 0700 */
        *slash = '\0';
        if (cg_os_mkdir_p(parent, 0755) != 0) {
            fprintf(stderr, "cgrpo keygen: cannot create %s: %s\n", parent, strerror(errno));
            return 1;
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cgrpo keygen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        fprintf(stderr, "cgrpo keygen: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1], err[PATH_MAX + 256];
    char key_path[PATH_MAX + 16], pub_path[PATH_MAX + 16], token_path[PATH_MAX + 16];
    snprintf(key_path, sizeof key_path, "%s/learner.key", abs);
    snprintf(pub_path, sizeof pub_path, "%s/learner.pub", abs);
    snprintf(token_path, sizeof token_path, "%s/token", abs);
    if (cg_transport_curve_keypair(pub, sec) != CG_OK) {
        fprintf(stderr, "cgrpo keygen: cannot make a CURVE key pair\n");
        return 1;
    }
    int rc = 0;
    if (cg_transport_curve_write_key(key_path, sec, 1,
                                     "cgrpo learner CURVE secret key: keep it "
                                     "on the learner's node",
                                     err, sizeof err) ||
        cg_transport_curve_write_key(pub_path, pub, 0,
                                     "cgrpo learner CURVE public key: give it "
                                     "to every actor",
                                     err, sizeof err) ||
        s_write_token(token_path, err, sizeof err)) {
        fprintf(stderr, "cgrpo keygen: %s\n", err);
        rc = 1;
    }
    memset(sec, 0, sizeof sec);
    if (rc)
        return rc;
    printf("cgrpo keygen: wrote %s, %s and %s\n"
           "learner (bound off loopback) and actors use them with:\n"
           "  --set learner.curve_secret_key=%s \\\n"
           "  --set learner.curve_public_key=%s \\\n"
           "  --set run.token_file=%s\n",
           key_path, pub_path, token_path, key_path, pub_path, token_path);
    return 0;
}
