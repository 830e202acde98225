/* dit/attention_cudnn.c: cuDNN fused attention through the backend graph API (see attention_cudnn.h).
 *
 * cuDNN has no "attention" call in C before 9.13; its fused flash-attention engines recognise an
 * operation graph of the shape cudnn-frontend's SDPA node emits (CompositeSDPANode, inference, no
 * mask, no dropout), which is what we build:
 *
 *   S     = Q . K^T                       MATMUL     [B, H, L, L]   fp32, virtual
 *   Z     = S * scale                     POINTWISE  MUL by a by-value fp32 scalar
 *   M     = max_j Z                       REDUCTION  MAX            [B, H, L, 1]
 *   E     = exp(Z - M)                    POINTWISE  SUB, EXP
 *   Sum   = sum_j E                       REDUCTION  ADD            [B, H, L, 1]
 *   Stats = M + log(Sum)                  POINTWISE  LOG, ADD (virtual: the frontend always emits it)
 *   P     = E / Sum                       POINTWISE  DIV            bf16 (the engine wants bmm2's A in the I/O type)
 *   O     = P . V                         MATMUL     [B, H, L, hd]  bf16
 *
 * If no engine takes that graph, the same graph without the Stats branch is tried, then (cuDNN >= 9.13)
 * the single CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR operation; the first that gives an execution
 * plan is used, and dit_cudnn_attn_plan_info says which. K^T is K's descriptor with the last two
 * dimensions and strides swapped (no copy), as the frontend does. */
#include "dit/attention_cudnn.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cudnn.h>

#if CUDNN_MAJOR < 9
#error "dit/attention_cudnn.c needs cuDNN 9 (the backend graph API of cudnn_graph.h)"
#endif

/* Tensor UIDs of the variant pack (the real tensors) and of the virtual intermediates. */
enum { UID_Q = 1, UID_K, UID_V, UID_O, UID_SCALE, UID_S = 101, UID_Z, UID_M, UID_ZM, UID_E, UID_SUM, UID_LOG, UID_STATS, UID_P };

typedef enum graph_form { FORM_COMPOSITE = 0, FORM_COMPOSITE_NO_STATS, FORM_SDPA_OP, N_FORMS } graph_form;
static const char *const form_name[N_FORMS] = {"composite graph (matmul, softmax with stats, matmul)",
                                               "composite graph without stats", "SDPA_FWD operation"};

typedef struct plan_key {
    int64_t B, L, H, hd, ld, bs, ldo, obs;
} plan_key;

/* Every backend descriptor a plan was built from: kept alive as long as the plan. */
typedef struct desc_list {
    cudnnBackendDescriptor_t *d;
    int n, cap;
} desc_list;

typedef struct attn_plan {
    plan_key key;
    cudnnBackendDescriptor_t plan;
    desc_list parts;
    void *workspace;
    int64_t workspace_bytes;
    float scale; /* 1 / sqrt(hd), passed by value (its host address goes into the variant pack) */
    graph_form form;
    int64_t engine;
} attn_plan;

struct dit_cudnn_attn_ctx {
    cudnnHandle_t handle;
    attn_plan **plans; /* pointers: a plan's scale must not move when the array grows */
    int n_plans, cap_plans;
    char info[256];
};

/* "CUDNN_STATUS_X (what cuDNN's last error string says)" */
static int cudnn_fail(tetri_error *err, cudnnStatus_t st, const char *what)
{
    char detail[384] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    size_t n = strlen(detail);
    while (n && (detail[n - 1] == '\n' || detail[n - 1] == ' ')) detail[--n] = 0;
    return tetri_errorf(err, "cudnn attention: %s: %s%s%s%s", what, cudnnGetErrorString(st), n ? " (" : "", detail, n ? ")" : "");
}
#define CUDNN_CHECK(call, what)                                                                                        \
    do {                                                                                                               \
        cudnnStatus_t st_ = (call);                                                                                    \
        if (st_ != CUDNN_STATUS_SUCCESS) return cudnn_fail(err, st_, what);                                            \
    } while (0)

void dit_cudnn_versions(long *runtime, long *built)
{
    if (runtime) *runtime = (long)cudnnGetVersion();
    if (built) *built = (long)CUDNN_VERSION;
}

int dit_cudnn_attn_create(dit_cudnn_attn_ctx **out, tetri_error *err)
{
    dit_cudnn_attn_ctx *c = calloc(1, sizeof *c);
    if (!c) return tetri_errorf(err, "out of memory");
    cudnnStatus_t st = cudnnCreate(&c->handle);
    if (st != CUDNN_STATUS_SUCCESS) {
        free(c);
        return cudnn_fail(err, st, "cudnnCreate (is libcudnn.so.9 on the library path, with its engine libraries?)");
    }
    snprintf(c->info, sizeof c->info, "no plan yet");
    *out = c;
    return 0;
}

static void desc_list_free(desc_list *l)
{
    for (int i = l->n - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(l->d[i]);
    free(l->d);
    *l = (desc_list){0};
}

static void plan_free(attn_plan *p)
{
    if (!p) return;
    if (p->plan) cudnnBackendDestroyDescriptor(p->plan);
    desc_list_free(&p->parts);
    cudaFree(p->workspace);
    free(p);
}

void dit_cudnn_attn_destroy(dit_cudnn_attn_ctx *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_plans; i++) plan_free(c->plans[i]);
    free(c->plans);
    if (c->handle) cudnnDestroy(c->handle);
    free(c);
}

const char *dit_cudnn_attn_plan_info(const dit_cudnn_attn_ctx *c) { return c->info; }

/* ---- building descriptors ---------------------------------------------------------------------- */

/* Creates a descriptor and records it in l (destroyed with l). */
static int make(desc_list *l, cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t *out, tetri_error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        cudnnBackendDescriptor_t *d = realloc(l->d, (size_t)cap * sizeof *d);
        if (!d) return tetri_errorf(err, "out of memory");
        l->d = d;
        l->cap = cap;
    }
    CUDNN_CHECK(cudnnBackendCreateDescriptor(type, out), "cudnnBackendCreateDescriptor");
    l->d[l->n++] = *out;
    return 0;
}

static int set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
               const void *value, const char *what, tetri_error *err)
{
    CUDNN_CHECK(cudnnBackendSetAttribute(d, name, type, count, value), what);
    return 0;
}

/* A 4-D tensor descriptor: dims and strides in elements, 16-byte aligned (the q|k|v row layout keeps
 * every head 16-byte aligned when hd is a multiple of 8). */
static int tensor(desc_list *l, int64_t uid, cudnnDataType_t type, const int64_t dims[4], const int64_t strides[4], int is_virtual,
                  int by_value, cudnnBackendDescriptor_t *out, tetri_error *err)
{
    const int64_t align = by_value ? 4 : 16;
    const bool virt = is_virtual != 0, byval = by_value != 0;
    if (make(l, CUDNN_BACKEND_TENSOR_DESCRIPTOR, out, err) ||
        set(*out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, "tensor data type", err) ||
        set(*out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims, "tensor dimensions", err) ||
        set(*out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides, "tensor strides", err) ||
        set(*out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, "tensor uid", err) ||
        set(*out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, "tensor alignment", err) ||
        set(*out, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt, "tensor is_virtual", err))
        return -1;
    if (byval && set(*out, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &byval, "tensor is_by_value", err)) return -1;
    char what[48];
    snprintf(what, sizeof what, "finalizing tensor uid %lld", (long long)uid);
    CUDNN_CHECK(cudnnBackendFinalize(*out), what);
    return 0;
}

static int op_matmul(desc_list *l, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c,
                     cudnnBackendDescriptor_t *op, tetri_error *err)
{
    cudnnBackendDescriptor_t mm;
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    if (make(l, CUDNN_BACKEND_MATMUL_DESCRIPTOR, &mm, err) ||
        set(mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "matmul compute type", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(mm), "finalizing the matmul descriptor");
    if (make(l, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, op, err) ||
        set(*op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a, "matmul A", err) ||
        set(*op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, "matmul B", err) ||
        set(*op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, "matmul C", err) ||
        set(*op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &mm, "matmul descriptor", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(*op), "finalizing a matmul operation");
    return 0;
}

/* y = mode(x) or mode(x, b) (b NULL for unary modes), fp32 math. */
static int op_pointwise(desc_list *l, cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                        cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op, tetri_error *err)
{
    cudnnBackendDescriptor_t pw;
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    if (make(l, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, &pw, err) ||
        set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode", err) ||
        set(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, "pointwise precision", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(pw), "finalizing a pointwise descriptor");
    if (make(l, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, op, err) ||
        set(*op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw, "pointwise descriptor", err) ||
        set(*op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, "pointwise X", err) ||
        (b && set(*op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, "pointwise B", err)) ||
        set(*op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, "pointwise Y", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(*op), "finalizing a pointwise operation");
    return 0;
}

static int op_reduction(desc_list *l, cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y,
                        cudnnBackendDescriptor_t *op, tetri_error *err)
{
    cudnnBackendDescriptor_t red;
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    if (make(l, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, &red, err) ||
        set(red, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode, "reduction operator", err) ||
        set(red, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "reduction compute type", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(red), "finalizing a reduction descriptor");
    if (make(l, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, op, err) ||
        set(*op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, "reduction X", err) ||
        set(*op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, "reduction Y", err) ||
        set(*op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &red, "reduction descriptor", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(*op), "finalizing a reduction operation");
    return 0;
}

/* The operation graph of one form for key k (descriptors recorded in l). */
static int build_graph(cudnnHandle_t handle, graph_form form, const plan_key *k, desc_list *l, cudnnBackendDescriptor_t *graph,
                       tetri_error *err)
{
    const int64_t B = k->B, H = k->H, L = k->L, hd = k->hd;
    /* Q, V [B, H, L, hd] straight on the q|k|v rows; K^T [B, H, hd, L] = K with its last two axes swapped */
    const int64_t qkv_dims[4] = {B, H, L, hd}, qkv_strides[4] = {k->bs, hd, k->ld, 1};
    const int64_t kt_dims[4] = {B, H, hd, L}, kt_strides[4] = {k->bs, hd, 1, k->ld};
    const int64_t o_strides[4] = {k->obs, hd, k->ldo, 1};
    const int64_t one[4] = {1, 1, 1, 1};
    /* virtual intermediates, packed: scores [B, H, L, L], row statistics [B, H, L, 1] */
    const int64_t s_dims[4] = {B, H, L, L}, s_strides[4] = {H * L * L, L * L, L, 1};
    const int64_t r_dims[4] = {B, H, L, 1}, r_strides[4] = {H * L, L, 1, 1};
    const cudnnDataType_t bf16 = CUDNN_DATA_BFLOAT16, f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t q, kk, v, o, scale, ops[10];
    int n_ops = 0;
    if (tensor(l, UID_Q, bf16, qkv_dims, qkv_strides, 0, 0, &q, err) ||
        tensor(l, UID_K, bf16, form == FORM_SDPA_OP ? qkv_dims : kt_dims, form == FORM_SDPA_OP ? qkv_strides : kt_strides, 0, 0, &kk,
               err) ||
        tensor(l, UID_V, bf16, qkv_dims, qkv_strides, 0, 0, &v, err) || tensor(l, UID_O, bf16, qkv_dims, o_strides, 0, 0, &o, err) ||
        tensor(l, UID_SCALE, f32, one, one, 0, 1, &scale, err))
        return -1;
    if (form == FORM_SDPA_OP) {
#if CUDNN_VERSION >= 91300
        if (cudnnGetVersion() < 91300) return tetri_errorf(err, "cudnn attention: the SDPA_FWD operation needs cuDNN 9.13 at run time");
        if (make(l, CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, &ops[0], err) ||
            set(ops[0], CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &q, "sdpa Q", err) ||
            set(ops[0], CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &kk, "sdpa K", err) ||
            set(ops[0], CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v, "sdpa V", err) ||
            set(ops[0], CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &o, "sdpa O", err) ||
            set(ops[0], CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &scale, "sdpa scale", err))
            return -1;
        CUDNN_CHECK(cudnnBackendFinalize(ops[0]), "finalizing the SDPA_FWD operation");
        n_ops = 1;
#else
        return tetri_errorf(err, "cudnn attention: built against cuDNN %d.%d, before the SDPA_FWD operation (9.13)", CUDNN_MAJOR, CUDNN_MINOR);
#endif
    } else {
        cudnnBackendDescriptor_t S, Z, M, ZM, E, Sum, Log, Stats, P;
        if (tensor(l, UID_S, f32, s_dims, s_strides, 1, 0, &S, err) || tensor(l, UID_Z, f32, s_dims, s_strides, 1, 0, &Z, err) ||
            tensor(l, UID_M, f32, r_dims, r_strides, 1, 0, &M, err) || tensor(l, UID_ZM, f32, s_dims, s_strides, 1, 0, &ZM, err) ||
            tensor(l, UID_E, f32, s_dims, s_strides, 1, 0, &E, err) || tensor(l, UID_SUM, f32, r_dims, r_strides, 1, 0, &Sum, err) ||
            tensor(l, UID_LOG, f32, r_dims, r_strides, 1, 0, &Log, err) ||
            tensor(l, UID_STATS, f32, r_dims, r_strides, 1, 0, &Stats, err) ||
            tensor(l, UID_P, bf16, s_dims, s_strides, 1, 0, &P, err))
            return -1;
        if (op_matmul(l, q, kk, S, &ops[n_ops++], err) || op_pointwise(l, CUDNN_POINTWISE_MUL, S, scale, Z, &ops[n_ops++], err) ||
            op_reduction(l, CUDNN_REDUCE_TENSOR_MAX, Z, M, &ops[n_ops++], err) ||
            op_pointwise(l, CUDNN_POINTWISE_SUB, Z, M, ZM, &ops[n_ops++], err) ||
            op_pointwise(l, CUDNN_POINTWISE_EXP, ZM, NULL, E, &ops[n_ops++], err) ||
            op_reduction(l, CUDNN_REDUCE_TENSOR_ADD, E, Sum, &ops[n_ops++], err))
            return -1;
        if (form == FORM_COMPOSITE && (op_pointwise(l, CUDNN_POINTWISE_LOG, Sum, NULL, Log, &ops[n_ops++], err) ||
                                       op_pointwise(l, CUDNN_POINTWISE_ADD, M, Log, Stats, &ops[n_ops++], err)))
            return -1;
        if (op_pointwise(l, CUDNN_POINTWISE_DIV, E, Sum, P, &ops[n_ops++], err) || op_matmul(l, P, v, o, &ops[n_ops++], err)) return -1;
    }
    if (make(l, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, graph, err) ||
        set(*graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "operation graph handle", err) ||
        set(*graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n_ops, ops, "operation graph ops", err))
        return -1;
    CUDNN_CHECK(cudnnBackendFinalize(*graph), "finalizing the operation graph");
    return 0;
}

/* The heuristic's engine configurations for the graph, in its order of preference, tried until one
 * finalizes as an execution plan. Returns 0 with *plan set, or DIT_CUDNN_REFUSED (err: the last
 * refusal), or -1. */
static int plan_from_heuristics(cudnnHandle_t handle, cudnnBackendDescriptor_t graph, desc_list *l, cudnnBackendDescriptor_t *plan,
                                int64_t *engine, tetri_error *err)
{
    const cudnnBackendHeurMode_t modes[2] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK};
    int tried = 0;
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    char last_detail[384] = "";
    for (int m = 0; m < 2; m++) {
        cudnnBackendDescriptor_t heur;
        if (make(l, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur, err) ||
            set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph, "heuristics graph", err) ||
            set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &modes[m], "heuristics mode", err))
            return -1;
        cudnnStatus_t st = cudnnBackendFinalize(heur);
        if (st != CUDNN_STATUS_SUCCESS) {
            last = st;
            cudnnGetLastErrorString(last_detail, sizeof last_detail);
            continue;
        }
        int64_t n = 0;
        CUDNN_CHECK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &n, NULL),
                    "counting the heuristic's engine configurations");
        if (n <= 0) continue;
        if (n > 32) n = 32;
        cudnnBackendDescriptor_t cfgs[32];
        for (int64_t i = 0; i < n; i++)
            if (make(l, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[i], err)) return -1;
        int64_t got = 0;
        CUDNN_CHECK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n, &got, cfgs),
                    "reading the heuristic's engine configurations");
        for (int64_t i = 0; i < got; i++) {
            cudnnBackendDescriptor_t p;
            tried++;
            if (make(l, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &p, err) ||
                set(p, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "plan handle", err) ||
                set(p, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i], "plan engine config", err))
                return -1;
            st = cudnnBackendFinalize(p);
            if (st != CUDNN_STATUS_SUCCESS) {
                last = st;
                cudnnGetLastErrorString(last_detail, sizeof last_detail);
                continue;
            }
            /* the engine's global index, for the logs (best effort) */
            cudnnBackendDescriptor_t eng;
            int64_t cnt = 0;
            *engine = -1;
            if (!make(l, CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng, err) &&
                cudnnBackendGetAttribute(cfgs[i], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cnt, &eng) ==
                    CUDNN_STATUS_SUCCESS)
                cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &cnt, engine);
            *plan = p;
            return 0;
        }
    }
    size_t n = strlen(last_detail);
    while (n && (last_detail[n - 1] == '\n' || last_detail[n - 1] == ' ')) last_detail[--n] = 0;
    tetri_errorf(err, "%d engine configuration(s) tried, the last said %s%s%s%s", tried, cudnnGetErrorString(last), n ? " (" : "",
                 last_detail, n ? ")" : "");
    return DIT_CUDNN_REFUSED;
}

static int build_plan(dit_cudnn_attn_ctx *c, const plan_key *k, attn_plan **out, tetri_error *err)
{
    char why[N_FORMS][300];
    int refused_all = 1;
    for (int f = 0; f < N_FORMS; f++) {
        attn_plan *p = calloc(1, sizeof *p);
        if (!p) return tetri_errorf(err, "out of memory");
        p->key = *k;
        p->form = (graph_form)f;
        p->scale = (float)(1.0 / sqrt((double)k->hd));
        cudnnBackendDescriptor_t graph;
        tetri_error e = {{0}};
        int rc = build_graph(c->handle, p->form, k, &p->parts, &graph, &e);
        if (rc == 0) rc = plan_from_heuristics(c->handle, graph, &p->parts, &p->plan, &p->engine, &e);
        if (rc == 0) {
            /* the plan descriptor is owned by p->plan from here on: take it out of the parts list */
            for (int i = 0; i < p->parts.n; i++)
                if (p->parts.d[i] == p->plan) p->parts.d[i] = p->parts.d[--p->parts.n];
            int64_t cnt = 0;
            cudnnStatus_t st = cudnnBackendGetAttribute(p->plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &cnt,
                                                        &p->workspace_bytes);
            if (st != CUDNN_STATUS_SUCCESS) {
                plan_free(p);
                return cudnn_fail(err, st, "reading the plan's workspace size");
            }
            if (p->workspace_bytes > 0) {
                cudaError_t ce = cudaMalloc(&p->workspace, (size_t)p->workspace_bytes);
                if (ce != cudaSuccess) {
                    plan_free(p);
                    return tetri_errorf(err, "cudnn attention: cannot allocate %lld bytes of workspace: %s", (long long)p->workspace_bytes,
                                        cudaGetErrorString(ce));
                }
            }
            snprintf(c->info, sizeof c->info, "%s, engine %lld, workspace %lld bytes (B=%lld L=%lld H=%lld hd=%lld)", form_name[f],
                     (long long)p->engine, (long long)p->workspace_bytes, (long long)k->B, (long long)k->L, (long long)k->H,
                     (long long)k->hd);
            *out = p;
            return 0;
        }
        if (rc != DIT_CUDNN_REFUSED) refused_all = 0;
        snprintf(why[f], sizeof why[f], "%.299s", e.msg);
        plan_free(p);
    }
    tetri_errorf(err, "cudnn attention: no engine supports B=%lld L=%lld H=%lld hd=%lld: %.200s | without stats: %.150s | SDPA op: %.150s",
                 (long long)k->B, (long long)k->L, (long long)k->H, (long long)k->hd, why[0], why[1], why[2]);
    return refused_all ? DIT_CUDNN_REFUSED : -1;
}

int dit_cudnn_attention(dit_cudnn_attn_ctx *c, const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out,
                        int64_t ldo, int64_t obs, int batch, int L, int H, int hd, cudaStream_t s, tetri_error *err)
{
    if (batch < 1 || L < 1 || H < 1 || hd < 1 || hd % 8 || ld % 8 || ldo % 8)
        return tetri_errorf(err, "cudnn attention: B=%d L=%d H=%d hd=%d ld=%lld ldo=%lld: sizes must be positive, hd, ld and ldo "
                                 "multiples of 8",
                            batch, L, H, hd, (long long)ld, (long long)ldo);
    const plan_key key = {batch, L, H, hd, ld, bs, ldo, obs};
    attn_plan *p = NULL;
    for (int i = 0; i < c->n_plans && !p; i++)
        if (memcmp(&c->plans[i]->key, &key, sizeof key) == 0) p = c->plans[i];
    if (!p) {
        /* building a plan allocates and may synchronise: never inside a stream capture */
        enum cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
        if (cudaStreamIsCapturing(s, &cap) == cudaSuccess && cap != cudaStreamCaptureStatusNone)
            return tetri_errorf(err, "cudnn attention: no plan for B=%d L=%d H=%d hd=%d yet and the stream is being captured "
                                     "(run the shape once eagerly before capturing)",
                                batch, L, H, hd);
        if (c->n_plans == c->cap_plans) {
            int cap_n = c->cap_plans ? 2 * c->cap_plans : 8;
            attn_plan **np = realloc(c->plans, (size_t)cap_n * sizeof *np);
            if (!np) return tetri_errorf(err, "out of memory");
            c->plans = np;
            c->cap_plans = cap_n;
        }
        int rc = build_plan(c, &key, &p, err);
        if (rc) return rc;
        c->plans[c->n_plans++] = p;
    }
    CUDNN_CHECK(cudnnSetStream(c->handle, s), "cudnnSetStream");
    /* The variant pack: device pointers of this call (they change between calls of one plan), the
     * scale's host address (read at execution, so captured by value into a graph), the workspace. */
    const int64_t uids[5] = {UID_Q, UID_K, UID_V, UID_O, UID_SCALE};
    void *ptrs[5] = {(void *)q, (void *)k, (void *)v, out, &p->scale};
    cudnnBackendDescriptor_t pack;
    CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack), "creating the variant pack");
    cudnnStatus_t st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 5, uids);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 5, ptrs);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &p->workspace);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendFinalize(pack);
    if (st != CUDNN_STATUS_SUCCESS) {
        cudnnBackendDestroyDescriptor(pack);
        return cudnn_fail(err, st, "building the variant pack");
    }
    st = cudnnBackendExecute(c->handle, p->plan, pack);
    cudnnBackendDestroyDescriptor(pack);
    if (st != CUDNN_STATUS_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "executing the plan for B=%d L=%d H=%d hd=%d", batch, L, H, hd);
        return cudnn_fail(err, st, what);
    }
    return 0;
}
