/* dit/sp.c: Ulysses sharding, the all-to-all's chunk layout, the host transport and the migration
 * plan (see dit/sp.h). */
#include "dit/sp.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void dit_sp_shard_of(int T, int N, int degree, int rank, dit_sp_shard *out)
{
    assert(degree >= 1 && rank >= 0 && rank < degree);
    const int64_t k = degree, r = rank;
    out->degree = degree;
    out->rank = rank;
    out->t0 = (int)(r * T / k);
    out->tn = (int)((r + 1) * T / k) - out->t0;
    out->n0 = (int)(r * N / k);
    out->nn = (int)((r + 1) * N / k) - out->n0;
}

int dit_sp_check(const dit_config *c, int degree, int T, int N, tetri_error *err)
{
    if (degree < 1 || degree > DIT_SP_MAX_DEGREE || (degree & (degree - 1)))
        return tetri_errorf(err, "degree %d: sequence parallelism takes 1, 2, 4 or 8", degree);
    if (c->n_heads % degree)
        return tetri_errorf(err, "degree %d: the model's %d attention heads do not divide by it", degree, c->n_heads);
    if (T < degree || N < degree)
        return tetri_errorf(err, "degree %d: %d text rows and %d image rows leave a rank without rows of each", degree, T, N);
    return 0;
}

static void rows_of(int T, int N, int k, int *L)
{
    for (int r = 0; r < k; r++) {
        dit_sp_shard s;
        dit_sp_shard_of(T, N, k, r, &s);
        L[r] = s.tn + s.nn;
    }
}

void dit_sp_a2a_in_bytes(const dit_config *c, int degree, int T, int N, int B, size_t elem_bytes, size_t *bytes)
{
    int L[DIT_SP_MAX_DEGREE];
    const size_t D = (size_t)c->n_heads * (size_t)c->head_dim;
    rows_of(T, N, degree, L);
    for (int i = 0; i < degree; i++)
        for (int j = 0; j < degree; j++) bytes[i * degree + j] = (size_t)B * (size_t)L[i] * 3 * (D / (size_t)degree) * elem_bytes;
}

void dit_sp_a2a_out_bytes(const dit_config *c, int degree, int T, int N, int B, size_t elem_bytes, size_t *bytes)
{
    int L[DIT_SP_MAX_DEGREE];
    const size_t D = (size_t)c->n_heads * (size_t)c->head_dim;
    rows_of(T, N, degree, L);
    /* chunk (i -> j) after attention carries rank j's rows: L[j] of them */
    for (int i = 0; i < degree; i++)
        for (int j = 0; j < degree; j++) bytes[i * degree + j] = (size_t)B * (size_t)L[j] * (D / (size_t)degree) * elem_bytes;
}

void dit_sp_pack_heads(const float *qkv, int64_t ld_qkv, int B, int rows, int D, int k, float *send)
{
    const int Dk = D / k;
    for (int j = 0; j < k; j++)
        for (int b = 0; b < B; b++)
            for (int r = 0; r < rows; r++)
                for (int p = 0; p < 3; p++)
                    memcpy(send + ((((size_t)j * B + b) * rows + r) * 3 + p) * Dk,
                           qkv + ((size_t)b * rows + r) * ld_qkv + (size_t)p * D + (size_t)j * Dk, (size_t)Dk * sizeof *send);
}

void dit_sp_unpack_heads(const float *recv, int B, const int *L, int D, int k, float *att_in)
{
    const size_t w = 3 * (size_t)(D / k);
    int Lt = 0;
    for (int i = 0; i < k; i++) Lt += L[i];
    const float *chunk = recv;
    for (int i = 0, row0 = 0; i < k; row0 += L[i], i++)
        for (int b = 0; b < B; b++) {
            memcpy(att_in + ((size_t)b * Lt + row0) * w, chunk, (size_t)L[i] * w * sizeof *chunk);
            chunk += (size_t)L[i] * w;
        }
}

void dit_sp_pack_rows(const float *att_out, int B, const int *L, int D, int k, float *send)
{
    const size_t w = (size_t)(D / k);
    int Lt = 0;
    for (int i = 0; i < k; i++) Lt += L[i];
    float *chunk = send;
    for (int i = 0, row0 = 0; i < k; row0 += L[i], i++)
        for (int b = 0; b < B; b++) {
            memcpy(chunk, att_out + ((size_t)b * Lt + row0) * w, (size_t)L[i] * w * sizeof *chunk);
            chunk += (size_t)L[i] * w;
        }
}

void dit_sp_unpack_rows(const float *recv, int B, int rows, int D, int k, float *out, int64_t ld_out)
{
    const int Dk = D / k;
    for (int j = 0; j < k; j++)
        for (int b = 0; b < B; b++)
            for (int r = 0; r < rows; r++)
                memcpy(out + ((size_t)b * rows + r) * ld_out + (size_t)j * Dk, recv + (((size_t)j * B + b) * rows + r) * Dk,
                       (size_t)Dk * sizeof *out);
}

/* ---- the host transport ---- */
static int host_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err)
{
    (void)err;
    const int k = t->degree;
    for (int j = 0; j < k; j++) {
        char *dst = recv[j];
        for (int i = 0; i < k; i++) {
            size_t soff = 0;
            for (int jj = 0; jj < j; jj++) soff += bytes[i * k + jj];
            memcpy(dst, (const char *)send[i] + soff, bytes[i * k + j]);
            dst += bytes[i * k + j];
        }
    }
    return 0;
}
static void host_destroy(dit_transport *t) { free(t); }
static const dit_transport_ops host_ops = {.name = "host", .all_to_all = host_all_to_all, .destroy = host_destroy};

int dit_transport_host_create(int degree, dit_transport **out, tetri_error *err)
{
    if (degree < 1 || degree > DIT_SP_MAX_DEGREE) return tetri_errorf(err, "transport: degree %d is outside 1..%d", degree, DIT_SP_MAX_DEGREE);
    dit_transport *t = calloc(1, sizeof *t);
    if (!t) return tetri_errorf(err, "out of memory");
    *t = (dit_transport){.ops = &host_ops, .degree = degree, .n_local = degree, .first_rank = 0};
    *out = t;
    return 0;
}

int dit_transport_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err)
{
    return t->ops->all_to_all(t, send, recv, bytes, err);
}

void dit_transport_destroy(dit_transport *t)
{
    if (t) t->ops->destroy(t);
}

/* ---- migration ---- */
int dit_sp_migration_plan(int rows, int from, int to, dit_sp_move *moves)
{
    assert(from >= 1 && from <= DIT_SP_MAX_DEGREE && to >= 1 && to <= DIT_SP_MAX_DEGREE);
    /* Walk the rows once: each maximal run that stays within one old shard and one new shard is a move. */
    int n = 0, row = 0;
    while (row < rows) {
        /* row * k / rows is the shard holding row or one below it (start(s) <= row always holds) */
        int s = (int)((int64_t)row * from / rows), d = (int)((int64_t)row * to / rows);
        while ((int)((int64_t)(s + 1) * rows / from) <= row) s++;
        while ((int)((int64_t)(d + 1) * rows / to) <= row) d++;
        const int s_end = (int)(((int64_t)s + 1) * rows / from), d_end = (int)(((int64_t)d + 1) * rows / to);
        const int end = s_end < d_end ? s_end : d_end;
        moves[n++] = (dit_sp_move){.src_rank = s, .dst_rank = d, .src_row = row - (int)((int64_t)s * rows / from),
                                   .dst_row = row - (int)((int64_t)d * rows / to), .rows = end - row};
        row = end;
    }
    assert(n <= from + to - 1);
    return n;
}
