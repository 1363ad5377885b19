/* cg_msg_batch: the wire codec's fast path for group batches, most of what a learner
 * receives. protobuf-c's unpack allocates a struct per group and episode and scratch for
 * every array, and the checks then walk the result again; this reads the protobuf wire
 * format (tags, varints, fixed32/64, length-delimited fields) of the canonical encoding
 * straight into cg_msg_groups_t and checks each value as it copies it. Anything else is
 * declined to the general decoder (cg_msg.c), so both accept exactly the same messages and
 * the general one words every error: tests/test_msg.c and fuzz_msg compare them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_msg_impl.h"

/* A tag of field f with wire type w, as one byte: every field here is numbered < 16. */
#define S_TAG(f, w) ((uint8_t)((f) << 3 | (w)))
enum { S_VARINT = 0, S_FIXED64 = 1, S_LEN = 2, S_FIXED32 = 5 };

typedef struct {
    const uint8_t *p, *end;
} s_span_t;

/* A varint of at most 10 bytes, higher bits dropped (as protobuf-c reads them). */
static bool s_varint(s_span_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift; /* shift <= 63 */
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static bool s_int32(s_span_t *r, int32_t *v)
{
    uint64_t x;
    if (!s_varint(r, &x))
        return false;
    *v = (int32_t)(uint32_t)x; /* the low 32 bits, as protobuf-c's int32 */
    return true;
}

static bool s_fixed(s_span_t *r, void *v, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    memcpy(v, r->p, n); /* little-endian on the wire and here (checked at the entry) */
    r->p += n;
    return true;
}

/* A length-delimited field's bytes. */
static bool s_len(s_span_t *r, s_span_t *out)
{
    uint64_t n;
    if (!s_varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return false;
    *out = (s_span_t){r->p, r->p + n};
    r->p += n;
    return true;
}

/* The one block a decoded batch lives in: its groups, episodes and arrays, bump-allocated.
 * Arrays take at most 4 bytes for each wire byte (a float is 4 on the wire, an action at
 * least 1), so 4x the body plus alignment always suffices. */
typedef struct {
    uint8_t *next, *end;
} s_arena_t;

#define S_ALIGN 16

static void *s_arena_take(s_arena_t *a, size_t bytes)
{
    uint8_t *p = a->next;
    size_t step = (bytes + S_ALIGN - 1) / S_ALIGN * S_ALIGN;
    CG_ASSERT(step <= (size_t)(a->end - a->next));
    a->next += step;
    return p;
}

/* A packed float array into the arena (NULL when empty). */
static bool s_floats(s_span_t *r, s_arena_t *a, float **out, size_t *n)
{
    s_span_t f;
    if (!s_len(r, &f) || (f.end - f.p) % 4 != 0)
        return false;
    *n = (size_t)(f.end - f.p) / 4;
    if (*n > 0) {
        *out = s_arena_take(a, *n * sizeof(float));
        memcpy(*out, f.p, *n * sizeof(float));
    }
    return true;
}

/* An episode's costs: exactly n_costs floats, each 0 or 1, into cost. */
static bool s_costs(s_span_t *r, int32_t n_costs, float cost[CG_MAX_COSTS])
{
    s_span_t f;
    if (!s_len(r, &f) || f.end - f.p != (ptrdiff_t)n_costs * 4)
        return false;
    memcpy(cost, f.p, (size_t)n_costs * sizeof(float));
    for (int32_t k = 0; k < n_costs; k++)
        if (cost[k] != 0.0f && cost[k] != 1.0f)
            return false;
    return true;
}

/* Which values pass, on the floats' bits so that the loops vectorize (branch-free integer
 * compares; the float compares would each need their own NaN test): obs |x| <= bound, i.e.
 * the magnitude bits at most the bound's (NaN and Inf above it); log-probs finite and <= 0,
 * i.e. +0 or the sign bit set with a finite magnitude. Blocks of 8 keep GCC's cheap cost
 * model (-O2) vectorizing. */
static uint32_t s_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static bool s_all_within(const float *x, size_t n, float bound)
{
    const uint32_t limit = s_bits(bound);
    uint32_t bad[8] = {0}; /* one lane each: reduced once, at the end */
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; k++)
            bad[k] |= (s_bits(x[i + k]) & 0x7fffffffu) > limit;
    for (; i < n; i++)
        bad[0] |= (s_bits(x[i]) & 0x7fffffffu) > limit;
    for (size_t k = 1; k < 8; k++)
        bad[0] |= bad[k];
    return !bad[0];
}

static bool s_logp_ok(float x)
{
    uint32_t u = s_bits(x);
    return u == 0 || u - 0x80000000u < 0x7f800000u;
}

static bool s_all_logp(const float *x, size_t n)
{
    uint32_t ok[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; k++)
            ok[k] &= s_logp_ok(x[i + k]);
    for (; i < n; i++)
        ok[0] &= s_logp_ok(x[i]);
    for (size_t k = 1; k < 8; k++)
        ok[0] &= ok[k];
    return ok[0];
}

/* The largest of n bytes (blocks of 16 vectorize). */
static uint8_t s_max_byte(const uint8_t *p, size_t n)
{
    uint8_t m[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t k = 0; k < 16; k++)
            m[k] = p[i + k] > m[k] ? p[i + k] : m[k];
    for (; i < n; i++)
        m[0] = p[i] > m[0] ? p[i] : m[0];
    for (size_t k = 1; k < 16; k++)
        m[0] = m[k] > m[0] ? m[k] : m[0];
    return m[0];
}

/* Widens n bytes to int32 (blocks of 8 vectorize). */
static void s_widen(const uint8_t *p, size_t n, int32_t *out)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; k++)
            out[i + k] = p[i + k];
    for (; i < n; i++)
        out[i] = p[i];
}

/* A packed int32 array of actions into the arena, each in [0, n_actions). */
static bool s_actions(s_span_t *r, s_arena_t *a, int32_t n_actions, int32_t **out, size_t *n)
{
    s_span_t f;
    if (!s_len(r, &f))
        return false;
    const size_t bytes = (size_t)(f.end - f.p);
    *n = bytes;
    if (bytes == 0)
        return true;
    const uint8_t max = s_max_byte(f.p, bytes);
    if (max < 0x80) { /* one byte each: actions < 128, the usual case */
        s_widen(f.p, bytes, *out = s_arena_take(a, bytes * sizeof(int32_t)));
        return max < n_actions;
    }
    size_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        count += f.p[i] < 0x80;
    int32_t *act = *out = s_arena_take(a, count * sizeof(int32_t));
    for (*n = 0; *n < count; (*n)++)
        if (!s_int32(&f, &act[*n]) || act[*n] < 0 || act[*n] >= n_actions)
            return false;
    return f.p == f.end;
}

/* The shape a group batch's groups and episodes must have (its scalars, checked). */
typedef struct {
    const cg_msg_caps_t *caps;
    const cg_msg_groups_t *batch;
    s_arena_t arena; /* where the arrays go */
} s_shape_t;

static bool s_episode(s_span_t r, s_shape_t *sh, cg_msg_episode_t *ep)
{
    const cg_msg_groups_t *b = sh->batch;
    s_arena_t *a = &sh->arena;
    size_t n_obs = 0, n_action = 0, n_logp = 0;
    bool seen[8] = {false}, ok = true; /* a field twice would be merged: the general case */
    while (ok && r.p < r.end) {
        uint8_t tag = *r.p++;
        int field = tag >> 3;
        if (field < 1 || field > 7 || seen[field]) {
            ok = false;
            break;
        }
        seen[field] = true;
        switch (tag) {
        case S_TAG(1, S_FIXED32): ok = s_fixed(&r, &ep->reward, 4); break;
        case S_TAG(2, S_LEN): ok = s_costs(&r, b->n_costs, ep->cost); break;
        case S_TAG(3, S_VARINT): ok = s_int32(&r, &ep->length); break;
        case S_TAG(4, S_FIXED32): ok = s_fixed(&r, &ep->temperature, 4); break;
        case S_TAG(5, S_LEN): ok = s_floats(&r, a, &ep->obs, &n_obs); break;
        case S_TAG(6, S_LEN): ok = s_actions(&r, a, b->n_actions, &ep->action, &n_action); break;
        case S_TAG(7, S_LEN): ok = s_floats(&r, a, &ep->logp, &n_logp); break;
        default: ok = false; break; /* a field in another wire type, or unpacked */
        }
    }
    if (!ok || (!seen[2] && b->n_costs > 0) || ep->length < 1 || ep->length > sh->caps->max_steps)
        return false;
    size_t len = (size_t)ep->length;
    return n_obs == len * (size_t)b->obs_dim && n_action == len && n_logp == len &&
           isfinite(ep->reward) && isfinite(ep->temperature) && ep->temperature > 0.0f &&
           s_all_within(ep->obs, n_obs, CG_MAX_ABS_OBS) && s_all_logp(ep->logp, n_logp);
}

static bool s_group(s_span_t r, s_shape_t *sh, cg_msg_group_t *grp)
{
    const int32_t gs = sh->batch->group_size;
    int32_t n_episodes = 0;
    bool seen_seed = false, seen_checks = false;
    while (r.p < r.end) {
        uint8_t tag = *r.p++;
        s_span_t ep;
        switch (tag) {
        case S_TAG(1, S_VARINT):
            if (seen_seed || !s_varint(&r, &grp->init_seed))
                return false;
            seen_seed = true;
            break;
        case S_TAG(2, S_VARINT):
            if (seen_checks || !s_int32(&r, &grp->n_checks) || grp->n_checks < 0)
                return false;
            seen_checks = true;
            break;
        case S_TAG(3, S_LEN):
            if (n_episodes == gs || !s_len(&r, &ep) ||
                !s_episode(ep, sh, &grp->episodes[n_episodes++]))
                return false;
            break;
        default: return false;
        }
    }
    return n_episodes == gs;
}

/* The batch's scalars, and its groups' bytes counted (pass 1 of 2: groups come after). */
static bool s_batch_head(s_span_t r, const cg_msg_caps_t *caps, cg_msg_groups_t *b)
{
    uint32_t seen = 0;
    while (r.p < r.end) {
        uint8_t tag = *r.p++;
        int field = tag >> 3;
        s_span_t skip;
        bool ok;
        if (field != 8 && (seen >> field & 1u))
            return false;
        seen |= 1u << (field & 31);
        switch (tag) {
        case S_TAG(1, S_VARINT): ok = s_varint(&r, &b->policy_version); break;
        case S_TAG(2, S_VARINT): ok = s_int32(&r, &b->actor_id); break;
        case S_TAG(3, S_VARINT): ok = s_varint(&r, &b->seq); break;
        case S_TAG(4, S_VARINT): ok = s_int32(&r, &b->group_size); break;
        case S_TAG(5, S_VARINT): ok = s_int32(&r, &b->n_costs); break;
        case S_TAG(6, S_VARINT): ok = s_int32(&r, &b->obs_dim); break;
        case S_TAG(7, S_VARINT): ok = s_int32(&r, &b->n_actions); break;
        case S_TAG(8, S_LEN):
            ok = s_len(&r, &skip) && b->n_groups < caps->max_groups;
            b->n_groups++;
            break;
        case S_TAG(9, S_FIXED64): ok = s_fixed(&r, &b->session, 8); break;
        default: return false;
        }
        if (!ok)
            return false;
    }
    int32_t max_costs = caps->max_costs < CG_MAX_COSTS ? caps->max_costs : CG_MAX_COSTS;
    return b->n_groups >= 1 && b->group_size >= 1 && b->group_size <= caps->max_group_size &&
           b->n_costs >= 0 && b->n_costs <= max_costs && b->obs_dim >= 1 &&
           b->obs_dim <= caps->max_obs_dim && b->n_actions >= 1 &&
           b->n_actions <= caps->max_actions;
}

/* Pass 2: the block, then the groups. */
static bool s_batch(s_span_t r, const cg_msg_caps_t *caps, cg_msg_groups_t *b)
{
    if (!s_batch_head(r, caps, b))
        return false;
    const size_t n_groups = (size_t)b->n_groups, n_eps = n_groups * (size_t)b->group_size;
    const size_t structs = (n_groups * sizeof *b->groups + S_ALIGN - 1) / S_ALIGN * S_ALIGN +
                           (n_eps * sizeof *b->groups->episodes + S_ALIGN - 1) / S_ALIGN * S_ALIGN;
    const size_t bytes = structs + 4 * (size_t)(r.end - r.p) + 3 * S_ALIGN * n_eps;
    uint8_t *block = b->block = cg_realloc(NULL, bytes, 1); /* malloc: aligned to 16 */
    memset(block, 0, structs); /* the arrays are written whole, the structs field by field */
    s_shape_t sh = {caps, b, {block, block + bytes}};
    b->groups = s_arena_take(&sh.arena, n_groups * sizeof *b->groups);
    cg_msg_episode_t *eps = s_arena_take(&sh.arena, n_eps * sizeof *eps);
    for (size_t g = 0; g < n_groups; g++)
        b->groups[g].episodes = eps + g * (size_t)b->group_size;
    int32_t g = 0;
    while (r.p < r.end) {
        uint8_t tag = *r.p++;
        s_span_t field;
        if (tag == S_TAG(8, S_LEN)) {
            if (!s_len(&r, &field) || !s_group(field, &sh, &b->groups[g++]))
                return false;
        } else if (tag == S_TAG(9, S_FIXED64)) {
            r.p += 8; /* read in pass 1 */
        } else {
            uint64_t v;
            (void)s_varint(&r, &v); /* the other scalars: varints, read in pass 1 */
        }
    }
    return true;
}

/* The Envelope: protocol, run id and a group-batch body, each once. */
static bool s_envelope(s_span_t r, const char *run_id, cg_msg_t *msg, s_span_t *body)
{
    uint64_t protocol = 0;
    s_span_t rid = {r.p, r.p};
    bool seen_protocol = false, seen_rid = false, seen_body = false;
    while (r.p < r.end) {
        uint8_t tag = *r.p++;
        bool ok;
        if (tag == S_TAG(1, S_VARINT) && !seen_protocol) {
            ok = seen_protocol = s_varint(&r, &protocol);
        } else if (tag == S_TAG(2, S_LEN) && !seen_rid) {
            ok = seen_rid = s_len(&r, &rid);
        } else if (tag == S_TAG(5, S_LEN) && !seen_body) {
            ok = seen_body = s_len(&r, body);
        } else {
            ok = false;
        }
        if (!ok)
            return false;
    }
    size_t n = (size_t)(rid.end - rid.p);
    if (!seen_body || (uint32_t)protocol != CG_PROTOCOL_VERSION || n >= CG_NAME_LEN ||
        memchr(rid.p, '\0', n))
        return false;
    memcpy(msg->run_id, rid.p, n);
    msg->run_id[n] = '\0';
    return !run_id || strcmp(msg->run_id, run_id) == 0;
}

bool cg_msg_decode_batch_fast(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                              const char *run_id, cg_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    s_span_t body = {data, data}; /* set by s_envelope; initialised for GCC -O2's sake */
    if (!s_envelope((s_span_t){data, data + len}, run_id, msg, &body))
        goto declined;
    msg->type = CG_MSG_GROUPS; /* from here cg_msg_free frees what was built */
    if (s_batch(body, caps, &msg->u.groups))
        return true;
declined:
    cg_msg_free(msg);
#else
    (void)data, (void)len, (void)caps, (void)run_id; /* big-endian: the general decoder */
#endif
    return false;
}
