/* fuzz_msg: libFuzzer harness for the wire codec (common/cg_msg.c). The input is one frame
 * as cg_transport_recv hands it to cg_msg_decode: decoded with the learner's caps for the
 * default config and its run id (FUZZ_RUN_ID), and, when only the run id differs, again
 * with none (an actor before its Welcome). Whatever decodes must encode, and decode again
 * to the same bytes (encode(decode(x)) is a fixed point); and what the group-batch fast path
 * takes, the general decoder takes the same (common/cg_msg_impl.h). Seeds: corpus/msg/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_config.h"
#include "cg_msg.h"
#include "cg_msg_impl.h"

#define FUZZ_RUN_ID "fuzz-run"

static cg_msg_caps_t s_caps;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cg_config_t *cfg = calloc(1, sizeof *cfg); /* ~55 KB: not on the stack */
    cg_config_defaults(cfg);
    cg_msg_caps_from(cfg, &s_caps);
    free(cfg);
    return 0;
}

/* A decoded message must encode, and its encoding decode and encode to the same bytes. */
static void s_round_trip(const cg_msg_t *msg)
{
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    char err[512];
    cg_msg_t again;
    if (cg_msg_encode(msg, &a, &na) != CG_OK)
        abort(); /* decode accepted what encode refuses */
    if (cg_msg_decode(a, na, &s_caps, NULL, &again, err, sizeof err) != CG_OK)
        abort(); /* our own encoding of an accepted message is refused */
    if (again.type != msg->type || cg_msg_encode(&again, &b, &nb) != CG_OK)
        abort();
    if (na != nb || memcmp(a, b, na) != 0)
        abort(); /* not a fixed point: a field was lost or changed on the way */
    cg_msg_free(&again);
    free(a);
    free(b);
}

/* The fast path accepts only what the general decoder accepts, with the same contents. */
static void s_fast_agrees(const uint8_t *data, size_t size)
{
    cg_msg_t fast, general;
    char err[512];
    if (size == 0 || size > s_caps.max_bytes ||
        !cg_msg_decode_batch_fast(data, size, &s_caps, FUZZ_RUN_ID, &fast))
        return;
    if (cg_msg_decode_general(data, size, &s_caps, FUZZ_RUN_ID, &general, err, sizeof err) != CG_OK)
        abort(); /* the fast path took what the general decoder refuses */
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (cg_msg_encode(&fast, &a, &na) != CG_OK || cg_msg_encode(&general, &b, &nb) != CG_OK ||
        na != nb || memcmp(a, b, na) != 0)
        abort(); /* they read it differently */
    free(a);
    free(b);
    cg_msg_free(&fast);
    cg_msg_free(&general);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    cg_msg_t msg;
    s_fast_agrees(data, size);
    cg_status_t rc = cg_msg_decode(data, size, &s_caps, FUZZ_RUN_ID, &msg, err, sizeof err);
    if (rc == CG_ERR_RUN_ID)
        rc = cg_msg_decode(data, size, &s_caps, NULL, &msg, err, sizeof err);
    if (rc != CG_OK) {
        if (msg.type != CG_MSG_NONE || err[0] == '\0')
            abort(); /* a failure leaves the message empty and says why */
        return 0;
    }
    s_round_trip(&msg);
    cg_msg_free(&msg);
    return 0;
}
