/* tests/test_exec_cpu.c: the executor's CPU side, in CI without a GPU: the model tables against the
 * published parameter counts, config.json parsing, safetensors reading/writing and folder loading
 * with their errors, properties of the fp32 reference forward of the tiny configurations, and its
 * Ulysses sequence parallelism (dit/sp.h): degrees 2, 4, 8 against degree 1, the exchange's layout,
 * the migration plan, and a request moved between degrees while it is denoised; the GPU paths
 * chosen per compute capability and the device-memory plan (dit/gpu_plan.h), sharded runners'
 * exchange buffers included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dit/cpu_ref.h"
#include "dit/gpu_plan.h"
#include "dit/model.h"
#include "dit/safetensors.h"
#include "dit/sp.h"

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tetri-exec-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}
static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- layout ---- */

static void layout_flux_dev_matches_published_count(void **state)
{
    (void)state;
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    dit_config_flux_dev(&c);
    assert_int_equal(dit_layout_build(&c, &L, &err), 0);
    assert_true(L.n_weights == 11901408320LL); /* FLUX.1-dev transformer: 11,901,408,320 parameters */
    int i = dit_layout_find(&L, "single_transformer_blocks.37.proj_out.weight");
    assert_true(i >= 0);
    assert_true(L.params[i].shape[0] == 3072 && L.params[i].shape[1] == 15360);
    i = dit_layout_find(&L, "transformer_blocks.18.attn.norm_added_k.weight");
    assert_true(i >= 0 && L.params[i].shape[0] == 128);
    i = dit_layout_find(&L, "time_text_embed.guidance_embedder.linear_1.weight");
    assert_true(i >= 0 && L.params[i].shape[1] == 256);
    assert_int_equal(dit_layout_find(&L, "pos_embed.pos_embed"), -1);
    /* modulation: 19 x (6 + 6) + 38 x 3 + 2 chunks of D, one GEMM */
    assert_true(L.mod_total == (19 * 12 + 38 * 3 + 2) * 3072LL);
    dit_layout_free(&L);
}

static void layout_sd3_medium_matches_published_count(void **state)
{
    (void)state;
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    dit_config_sd3_medium(&c);
    assert_int_equal(dit_layout_build(&c, &L, &err), 0);
    int pe = dit_layout_find(&L, "pos_embed.pos_embed");
    assert_true(pe >= 0);
    /* SD3-medium: 2,028,328,000 parameters, plus the 192 x 192 x 1536 positional buffer */
    assert_true(L.n_weights - L.params[pe].numel == 2028328000LL);
    assert_true(L.dbl[23].context_pre_only && !L.dbl[22].context_pre_only);
    assert_int_equal(dit_layout_find(&L, "transformer_blocks.23.attn.to_add_out.weight"), -1);
    assert_int_equal(dit_layout_find(&L, "transformer_blocks.23.ff_context.net.2.weight"), -1);
    int i = dit_layout_find(&L, "transformer_blocks.23.norm1_context.linear.weight");
    assert_true(i >= 0 && L.params[i].shape[0] == 2 * 1536);
    i = dit_layout_find(&L, "pos_embed.proj.weight");
    assert_true(i >= 0 && L.params[i].ndim == 4 && L.params[i].shape[1] == 16 && L.params[i].shape[3] == 2);
    assert_int_equal(dit_layout_find(&L, "transformer_blocks.0.attn.norm_q.weight"), -1);
    dit_layout_free(&L);
}

static int cmp_offset(const void *a, const void *b)
{
    const dit_param *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static void check_layout_invariants(const dit_config *c)
{
    dit_layout L;
    tetri_error err = {{0}};
    assert_int_equal(dit_layout_build(c, &L, &err), 0);
    const int64_t D = L.D;
    /* no two tensors overlap, all inside the allocation */
    dit_param *p = malloc((size_t)L.n_params * sizeof *p);
    memcpy(p, L.params, (size_t)L.n_params * sizeof *p);
    qsort(p, (size_t)L.n_params, sizeof *p, cmp_offset);
    for (int i = 0; i + 1 < L.n_params; i++) assert_true(p[i].offset + p[i].numel <= p[i + 1].offset);
    assert_true(p[L.n_params - 1].offset + p[L.n_params - 1].numel <= L.total);
    free(p);
    /* fused q|k|v: adjacent weights and biases; every GEMM operand 16-byte aligned */
    for (int i = 0; i < c->n_double; i++) {
        char n[96];
        snprintf(n, sizeof n, "transformer_blocks.%d.attn.to_k.weight", i);
        assert_true(L.params[dit_layout_find(&L, n)].offset == L.dbl[i].qkv_x.w + D * D);
        snprintf(n, sizeof n, "transformer_blocks.%d.attn.add_v_proj.bias", i);
        assert_true(L.params[dit_layout_find(&L, n)].offset == L.dbl[i].qkv_c.b + 2 * D);
        assert_true(L.dbl[i].qkv_x.w % 8 == 0 && L.dbl[i].ff2_x.b % 8 == 0 && L.dbl[i].out_x.w % 8 == 0);
        snprintf(n, sizeof n, "transformer_blocks.%d.norm1_context.linear.weight", i);
        /* modulation rows of block i's context sit at its offset in the one modulation GEMM */
        assert_true(L.params[dit_layout_find(&L, n)].offset == L.mod_w + L.dbl[i].mod_c_off * D);
        snprintf(n, sizeof n, "transformer_blocks.%d.norm1.linear.bias", i);
        assert_true(L.params[dit_layout_find(&L, n)].offset == L.mod_b + L.dbl[i].mod_x_off);
    }
    for (int i = 0; i < c->n_single; i++) {
        char n[96];
        snprintf(n, sizeof n, "single_transformer_blocks.%d.norm.linear.bias", i);
        assert_true(L.params[dit_layout_find(&L, n)].offset == L.mod_b + L.sgl[i].mod_off);
        assert_true(L.sgl[i].mlp.w % 8 == 0 && L.sgl[i].out.w % 8 == 0);
    }
    assert_true(L.params[dit_layout_find(&L, "norm_out.linear.bias")].offset == L.mod_b + L.norm_out_off);
    dit_layout_free(&L);
}

static void layout_offsets_disjoint_fused_aligned(void **state)
{
    (void)state;
    dit_config c;
    dit_config_flux_dev(&c);
    check_layout_invariants(&c);
    dit_config_sd3_medium(&c);
    check_layout_invariants(&c);
    dit_config_tiny(DIT_ARCH_FLUX, &c);
    check_layout_invariants(&c);
    dit_config_tiny(DIT_ARCH_SD3, &c);
    check_layout_invariants(&c);
}

/* ---- config.json ---- */

static const char *flux_json =
    "{\"_class_name\": \"FluxTransformer2DModel\", \"_diffusers_version\": \"0.30.0.dev0\", \"attention_head_dim\": 128,"
    " \"axes_dims_rope\": [16, 56, 56], \"guidance_embeds\": true, \"in_channels\": 64, \"joint_attention_dim\": 4096,"
    " \"num_attention_heads\": 24, \"num_layers\": 19, \"num_single_layers\": 38, \"patch_size\": 1, \"pooled_projection_dim\": 768}";
static const char *sd3_json =
    "{\"_class_name\": \"SD3Transformer2DModel\", \"attention_head_dim\": 64, \"caption_projection_dim\": 1536,"
    " \"in_channels\": 16, \"joint_attention_dim\": 4096, \"num_attention_heads\": 24, \"num_layers\": 24,"
    " \"out_channels\": 16, \"patch_size\": 2, \"pooled_projection_dim\": 2048, \"pos_embed_max_size\": 192, \"sample_size\": 128}";

static void config_json_published_files(void **state)
{
    (void)state;
    char path[300];
    dit_config c, want;
    tetri_error err = {{0}};
    snprintf(path, sizeof path, "%s/flux.json", tmpdir);
    write_text(path, flux_json);
    assert_int_equal(dit_config_from_json(path, &c, &err), 0);
    dit_config_flux_dev(&want);
    assert_memory_equal(&c, &want, sizeof c);
    snprintf(path, sizeof path, "%s/sd3.json", tmpdir);
    write_text(path, sd3_json);
    assert_int_equal(dit_config_from_json(path, &c, &err), 0);
    dit_config_sd3_medium(&want);
    assert_memory_equal(&c, &want, sizeof c);
}

static void config_json_errors_name_the_field(void **state)
{
    (void)state;
    char path[300];
    dit_config c;
    tetri_error err = {{0}};
    snprintf(path, sizeof path, "%s/bad.json", tmpdir);
    write_text(path, "{\"_class_name\": \"FluxTransformer2DModel\", \"num_attention_heads\": 24}");
    assert_int_equal(dit_config_from_json(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, "num_layers"));
    assert_non_null(strstr(err.msg, path));
    write_text(path, "{\"_class_name\": \"UNet2DConditionModel\"}");
    assert_int_equal(dit_config_from_json(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, "UNet2DConditionModel"));
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", flux_json);
    char *p = strstr(buf, "\"attention_head_dim\": 128");
    memcpy(p, "\"attention_head_dim\":  96", 25);
    write_text(path, buf);
    assert_int_equal(dit_config_from_json(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, "attention_head_dim 96"));
    snprintf(buf, sizeof buf, "%s", flux_json);
    p = strstr(buf, "\"num_attention_heads\": 24");
    memcpy(p, "\"num_attention_heads\": 40", 25); /* 40 x 128 = 5120 > 4096 */
    write_text(path, buf);
    assert_int_equal(dit_config_from_json(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, "hidden size 5120"));
    write_text(path, "{\"_class_name\": ");
    assert_int_equal(dit_config_from_json(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, path));
}

/* ---- safetensors ---- */

static void safetensors_round_trip_is_exact_and_reproducible(void **state)
{
    (void)state;
    char path[300], path2[300];
    tetri_error err = {{0}};
    float a[6] = {1.5f, -2.25f, 3.0f, 1e-3f, -7.0f, 0.0f};
    uint16_t b[4];
    for (int i = 0; i < 4; i++) b[i] = dit_f32_to_bf16_bits(0.1f * (float)(i + 1));
    st_out_tensor t[2] = {{.name = "a.weight", .dtype = ST_F32, .ndim = 2, .shape = {2, 3}, .data = a},
                          {.name = "b", .dtype = ST_BF16, .ndim = 1, .shape = {4}, .data = b}};
    const char *meta[] = {"format", "pt"};
    snprintf(path, sizeof path, "%s/x.safetensors", tmpdir);
    snprintf(path2, sizeof path2, "%s/y.safetensors", tmpdir);
    assert_int_equal(st_write(path, t, 2, meta, 1, &err), 0);
    assert_int_equal(st_write(path2, t, 2, meta, 1, &err), 0);
    /* byte-identical output for identical input */
    FILE *f1 = fopen(path, "rb"), *f2 = fopen(path2, "rb");
    int c1, c2, same = 1;
    do { c1 = fgetc(f1); c2 = fgetc(f2); same &= c1 == c2; } while (c1 != EOF && c2 != EOF);
    fclose(f1);
    fclose(f2);
    assert_true(same);
    st_file f;
    assert_int_equal(st_open(path, &f, &err), 0);
    assert_int_equal(f.n, 2);
    int ia = st_find(&f, "a.weight"), ib = st_find(&f, "b");
    assert_true(ia >= 0 && ib >= 0);
    assert_int_equal(f.t[ia].dtype, ST_F32);
    assert_true(f.t[ia].shape[0] == 2 && f.t[ia].shape[1] == 3);
    float ra[6], rb[4];
    uint16_t rb16[6];
    assert_int_equal(st_read_f32(&f, ia, ra, &err), 0);
    assert_memory_equal(ra, a, sizeof a);
    assert_int_equal(st_read_f32(&f, ib, rb, &err), 0);
    for (int i = 0; i < 4; i++) assert_true(rb[i] == dit_bf16_bits_to_f32(b[i]));
    assert_int_equal(st_read_bf16(&f, ia, rb16, &err), 0); /* F32 -> BF16 conversion rounds to nearest even */
    for (int i = 0; i < 6; i++) assert_int_equal(rb16[i], dit_f32_to_bf16_bits(a[i]));
    st_close(&f);
}

/* Writes a hand-made safetensors file: the 8-byte header length as given (it may lie), the header
 * text, then `data` (NULL: none). */
static void write_raw_safetensors(const char *path, uint64_t header_len, const char *header, const char *data)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite(&header_len, 8, 1, fp);
    fputs(header, fp);
    if (data) fputs(data, fp);
    fclose(fp);
}

static void safetensors_rejects_damaged_files(void **state)
{
    (void)state;
    char path[300];
    tetri_error err = {{0}};
    st_file f;
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    /* header length past the end */
    write_raw_safetensors(path, 1000, "{}", NULL);
    assert_int_equal(st_open(path, &f, &err), -1);
    assert_non_null(strstr(err.msg, "header length"));
    /* data offsets past the data: a truncated file */
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    write_raw_safetensors(path, strlen(hdr), hdr, "12345678");
    assert_int_equal(st_open(path, &f, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_non_null(strstr(err.msg, "'w'"));
    /* byte count disagreeing with the shape */
    hdr = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,4]}}";
    write_raw_safetensors(path, strlen(hdr), hdr, "12345678");
    assert_int_equal(st_open(path, &f, &err), -1);
    assert_non_null(strstr(err.msg, "4 bytes of data for 4 elements"));
    /* not JSON */
    hdr = "{\"w\": [1, 2";
    write_raw_safetensors(path, strlen(hdr), hdr, NULL);
    assert_int_equal(st_open(path, &f, &err), -1);
    assert_non_null(strstr(err.msg, "not a JSON object"));
}

/* A diffusers folder of the tiny FLUX, in two shards with an index; half the tensors F32, half BF16. */
static void write_tiny_folder(const dit_layout *L, const float *w, const char *dir, const char *skip, const char *reshape,
                              const char *extra)
{
    mkdir(dir, 0755);
    char path[400];
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{}");
    int n = L->n_params;
    st_out_tensor *t = calloc((size_t)2 * n + 2, sizeof *t);
    void **bufs = calloc((size_t)n, sizeof *bufs);
    int k[2] = {0, 0};
    st_out_tensor *shard[2] = {t, t + n + 1};
    FILE *idx;
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors.index.json", dir);
    idx = fopen(path, "w");
    fprintf(idx, "{\"metadata\": {}, \"weight_map\": {");
    int first = 1;
    for (int i = 0; i < n; i++) {
        const dit_param *p = &L->params[i];
        if (skip && strcmp(p->name, skip) == 0) continue;
        int s = i % 2;
        st_out_tensor *o = &shard[s][k[s]++];
        o->name = p->name;
        o->ndim = p->ndim;
        memcpy(o->shape, p->shape, sizeof o->shape);
        if (reshape && strcmp(p->name, reshape) == 0) o->shape[0] += 1;
        if (s == 0) {
            o->dtype = ST_F32;
            o->data = w + p->offset;
        } else {
            o->dtype = ST_BF16;
            uint16_t *b16 = malloc((size_t)p->numel * 2 + 2);
            for (int64_t e = 0; e < p->numel; e++) b16[e] = dit_f32_to_bf16_bits(w[p->offset + e]);
            o->data = bufs[i] = b16;
        }
        if (reshape && strcmp(p->name, reshape) == 0) {
            free(bufs[i]);
            o->data = bufs[i] = calloc((size_t)(p->numel + p->numel / p->shape[0]), 4);
        }
        fprintf(idx, "%s\"%s\": \"shard-%d.safetensors\"", first ? "" : ", ", p->name, s);
        first = 0;
    }
    static float extra_data[2] = {1, 2};
    if (extra) shard[1][k[1]++] = (st_out_tensor){.name = extra, .dtype = ST_F32, .ndim = 1, .shape = {2}, .data = extra_data};
    fprintf(idx, "}}\n");
    fclose(idx);
    tetri_error err = {{0}};
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/shard-%d.safetensors", dir, s);
        assert_int_equal(st_write(path, shard[s], k[s], NULL, 0, &err), 0);
    }
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(t);
}

static int sink_to_array(void *ctx, int64_t offset, const uint16_t *bf16, int64_t n, tetri_error *err)
{
    (void)err;
    float *dst = ctx;
    for (int64_t i = 0; i < n; i++) dst[offset + i] = dit_bf16_bits_to_f32(bf16[i]);
    return 0;
}

static void load_weights_folder_with_shards(void **state)
{
    (void)state;
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    dit_config_tiny(DIT_ARCH_FLUX, &c);
    assert_int_equal(dit_layout_build(&c, &L, &err), 0);
    float *w = malloc((size_t)L.total * 4), *got = calloc((size_t)L.total, 4);
    dit_cpu_init_weights(&L, 99, w);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ok", tmpdir);
    write_tiny_folder(&L, w, dir, NULL, NULL, NULL);
    assert_int_equal(dit_load_weights_dir(dir, &L, sink_to_array, got, &err), 0);
    assert_memory_equal(got, w, (size_t)L.total * 4);

    assert_int_equal(dit_load_weights_dir(dir, &L, NULL, NULL, &err), 0); /* header-only check */

    snprintf(dir, sizeof dir, "%s/missing", tmpdir);
    write_tiny_folder(&L, w, dir, "transformer_blocks.1.attn.to_k.bias", NULL, NULL);
    assert_int_equal(dit_load_weights_dir(dir, &L, sink_to_array, got, &err), -1);
    assert_non_null(strstr(err.msg, "'transformer_blocks.1.attn.to_k.bias' is missing"));
    assert_int_equal(dit_load_weights_dir(dir, &L, NULL, NULL, &err), -1);

    snprintf(dir, sizeof dir, "%s/shape", tmpdir);
    write_tiny_folder(&L, w, dir, NULL, "single_transformer_blocks.0.proj_mlp.weight", NULL);
    assert_int_equal(dit_load_weights_dir(dir, &L, sink_to_array, got, &err), -1);
    assert_non_null(strstr(err.msg, "'single_transformer_blocks.0.proj_mlp.weight' has shape [1025, 256], the config implies [1024, 256]"));

    snprintf(dir, sizeof dir, "%s/extra", tmpdir);
    write_tiny_folder(&L, w, dir, NULL, NULL, "transformer_blocks.2.norm1.linear.bias");
    assert_int_equal(dit_load_weights_dir(dir, &L, sink_to_array, got, &err), -1);
    assert_non_null(strstr(err.msg, "'transformer_blocks.2.norm1.linear.bias' is not part of this FLUX model"));

    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    mkdir(dir, 0755);
    assert_int_equal(dit_load_weights_dir(dir, &L, sink_to_array, got, &err), -1);
    assert_non_null(strstr(err.msg, "diffusion_pytorch_model.safetensors"));
    free(w);
    free(got);
    dit_layout_free(&L);
}

/* ---- CPU reference ---- */

typedef struct tiny_case {
    dit_layout L;
    float *w, *lat, *txt, *pooled;
    float sigma[2], guid[2];
    dit_step_inputs in;
} tiny_case;

/* Seeded weights and inputs for config c at text length T and grid gh x gw. */
static void tiny_case_make_shape(tiny_case *tc, const dit_config *cfg, int T, int gh, int gw, int batch)
{
    const dit_config c = *cfg;
    tetri_error err = {{0}};
    assert_int_equal(dit_layout_build(&c, &tc->L, &err), 0);
    const int N = gh * gw;
    tc->w = malloc((size_t)tc->L.total * 4);
    dit_cpu_init_weights(&tc->L, 5, tc->w);
    tc->lat = malloc((size_t)batch * N * 64 * 4);
    tc->txt = malloc((size_t)batch * T * c.text_dim * 4);
    tc->pooled = malloc((size_t)batch * c.pooled_dim * 4);
    uint64_t s = 77;
    for (int i = 0; i < batch * N * 64; i++) { s = s * 6364136223846793005ULL + 1; tc->lat[i] = (float)((s >> 40) & 0xffff) / 32768.f - 1.f; }
    for (int i = 0; i < batch * T * c.text_dim; i++) { s = s * 6364136223846793005ULL + 1; tc->txt[i] = (float)((s >> 40) & 0xffff) / 32768.f - 1.f; }
    for (int i = 0; i < batch * c.pooled_dim; i++) { s = s * 6364136223846793005ULL + 1; tc->pooled[i] = (float)((s >> 40) & 0xffff) / 32768.f - 1.f; }
    tc->sigma[0] = tc->sigma[1] = 0.6f;
    tc->guid[0] = tc->guid[1] = 3.5f;
    tc->in = (dit_step_inputs){.batch = batch, .text_tokens = T, .grid_h = gh, .grid_w = gw, .latent = tc->lat, .text = tc->txt,
                               .pooled = tc->pooled, .sigma = tc->sigma, .guidance = tc->guid};
}
static void tiny_case_make(tiny_case *tc, dit_arch arch, int batch)
{
    dit_config c;
    dit_config_tiny(arch, &c);
    tiny_case_make_shape(tc, &c, 9, 4, 3, batch);
}
static void tiny_case_free(tiny_case *tc)
{
    free(tc->w); free(tc->lat); free(tc->txt); free(tc->pooled);
    dit_layout_free(&tc->L);
}
static double rel_diff(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]); den += (double)b[i] * b[i]; }
    return sqrt(num / den);
}

static void reference_properties(dit_arch arch)
{
    tiny_case tc;
    tiny_case_make(&tc, arch, 2);
    tetri_error err = {{0}};
    const int N = 12, W = 64, T = 9, TD = tc.L.cfg.text_dim;
    float *out = malloc(2 * N * W * 4), *out2 = malloc(2 * N * W * 4), *one = malloc(N * W * 4);
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &tc.in, out, &err), 0);
    double norm = 0;
    for (int i = 0; i < 2 * N * W; i++) { assert_true(isfinite(out[i])); norm += (double)out[i] * out[i]; }
    assert_true(norm > 1e-3); /* a real signal, not zeros */
    /* deterministic */
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &tc.in, out2, &err), 0);
    assert_memory_equal(out, out2, 2 * N * W * 4);
    /* the batch's second sample alone gives the same output as within the batch */
    dit_step_inputs in1 = tc.in;
    in1.batch = 1;
    in1.latent += N * W;
    in1.text += T * TD;
    in1.pooled += tc.L.cfg.pooled_dim;
    in1.sigma += 1;
    in1.guidance += 1;
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &in1, one, &err), 0);
    assert_memory_equal(one, out + N * W, N * W * 4);
    /* text tokens carry no position (FLUX's text ids are 0; SD3 adds none): permuting them leaves the image output alone */
    float *perm = malloc((size_t)2 * T * TD * 4);
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < T; t++) memcpy(perm + ((size_t)b * T + t) * TD, tc.txt + ((size_t)b * T + (t * 4 + 1) % T) * TD, TD * 4);
    dit_step_inputs inp = tc.in;
    inp.text = perm;
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &inp, out2, &err), 0);
    assert_true(rel_diff(out2, out, 2 * N * W) < 1e-5);
    /* but the output depends on the text, on sigma and on the latent */
    perm[3] += 1.0f;
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &inp, out2, &err), 0);
    assert_true(rel_diff(out2, out, 2 * N * W) > 1e-6);
    tc.sigma[0] = 0.2f;
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &tc.in, out2, &err), 0);
    assert_true(rel_diff(out2, out, N * W) > 1e-4);
    /* image tokens do carry position: swapping two latent tokens changes more than their two rows */
    tc.sigma[0] = 0.6f;
    float tmp[64];
    memcpy(tmp, tc.lat, sizeof tmp);
    memcpy(tc.lat, tc.lat + 5 * W, sizeof tmp);
    memcpy(tc.lat + 5 * W, tmp, sizeof tmp);
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &tc.in, out2, &err), 0);
    assert_true(rel_diff(out2 + 2 * W, out + 2 * W, W) > 1e-4);
    free(perm); free(out); free(out2); free(one);
    tiny_case_free(&tc);
}
static void reference_flux_properties(void **state) { (void)state; reference_properties(DIT_ARCH_FLUX); }
static void reference_sd3_properties(void **state) { (void)state; reference_properties(DIT_ARCH_SD3); }

/* Requests batched at different steps of different schedules end exactly as when run alone: A (6
 * steps) runs 5 alone; B (9 steps) 3 alone; then again with A 2 steps alone, then A and B 3 steps
 * in one batch. The GPU's version of this check is tests/gpu/test_gpu.c's test_slots_batched. */
static void batched_at_different_steps_equals_alone(dit_arch arch)
{
    tiny_case tc;
    tiny_case_make(&tc, arch, 2);
    tetri_error err = {{0}};
    const int N = 12, W = 64, T = 9, TD = tc.L.cfg.text_dim, P = tc.L.cfg.pooled_dim;
    float sa[7], sb[10];
    dit_sigma_schedule(&tc.L.cfg, N, 6, sa);
    dit_sigma_schedule(&tc.L.cfg, N, 9, sb);
    float *la1 = malloc(N * W * 4), *la2 = malloc(N * W * 4), *lb1 = malloc(N * W * 4), *lb2 = malloc(N * W * 4);
    memcpy(la1, tc.lat, N * W * 4);
    memcpy(la2, tc.lat, N * W * 4);
    memcpy(lb1, tc.lat + N * W, N * W * 4);
    memcpy(lb2, tc.lat + N * W, N * W * 4);
    dit_cpu_request a1 = {T, 4, 3, la1, tc.txt, tc.pooled, 3.5f, sa, 6, 0}, a2 = a1;
    a2.latent = la2;
    dit_cpu_request b1 = {T, 4, 3, lb1, tc.txt + T * TD, tc.pooled + P, 2.0f, sb, 9, 0}, b2 = b1;
    b2.latent = lb2;
    assert_int_equal(dit_cpu_denoise(&tc.L, tc.w, (dit_cpu_request *[]){&a1}, 1, 5, &err), 0);
    assert_int_equal(dit_cpu_denoise(&tc.L, tc.w, (dit_cpu_request *[]){&b1}, 1, 3, &err), 0);
    assert_int_equal(dit_cpu_denoise(&tc.L, tc.w, (dit_cpu_request *[]){&a2}, 1, 2, &err), 0);
    assert_int_equal(dit_cpu_denoise(&tc.L, tc.w, (dit_cpu_request *[]){&a2, &b2}, 2, 3, &err), 0);
    assert_int_equal(a2.step, 5);
    assert_int_equal(b2.step, 3);
    assert_memory_equal(la2, la1, N * W * 4);
    assert_memory_equal(lb2, lb1, N * W * 4);
    assert_true(rel_diff(la1, tc.lat, N * W) > 1e-3); /* the steps did move the latent */
    /* running past a schedule is refused, naming the request */
    assert_int_equal(dit_cpu_denoise(&tc.L, tc.w, (dit_cpu_request *[]){&a2, &b2}, 2, 2, &err), -1);
    assert_non_null(strstr(err.msg, "request 0 at step 5 of 6"));
    free(la1); free(la2); free(lb1); free(lb2);
    tiny_case_free(&tc);
}
static void batched_flux_at_different_steps(void **state) { (void)state; batched_at_different_steps_equals_alone(DIT_ARCH_FLUX); }
static void batched_sd3_at_different_steps(void **state) { (void)state; batched_at_different_steps_equals_alone(DIT_ARCH_SD3); }

static void reference_rejects_bad_shapes(void **state)
{
    (void)state;
    tiny_case tc;
    tiny_case_make(&tc, DIT_ARCH_SD3, 1);
    tetri_error err = {{0}};
    float out[64];
    tc.in.grid_h = 13; /* above the tiny pos_embed_max_size 12 */
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &tc.in, out, &err), -1);
    assert_non_null(strstr(err.msg, "pos_embed_max_size"));
    tiny_case_free(&tc);
}

static void rope_and_schedule(void **state)
{
    (void)state;
    dit_config c;
    dit_config_flux_dev(&c);
    const int T = 3, gh = 4, gw = 5, half = 64, L = T + gh * gw;
    float *cs = malloc((size_t)L * half * 4), *sn = malloc((size_t)L * half * 4);
    dit_rope_table(&c, T, gh, gw, cs, sn);
    for (int i = 0; i < T * half; i++) assert_true(cs[i] == 1.f && sn[i] == 0.f); /* text ids (0, 0, 0) */
    /* image token (row 2, col 3): axis 1's first pair turns by 2 rad, axis 2's by 3 rad; axis 0 not at all */
    const int r = T + 2 * gw + 3;
    assert_true(fabsf(cs[r * half + 0] - 1.f) < 1e-7f);
    assert_true(fabsf(sn[r * half + 8] - sinf(2.f)) < 1e-6f);
    assert_true(fabsf(sn[r * half + 8 + 28] - sinf(3.f)) < 1e-6f);
    free(cs);
    free(sn);
    float sig[29];
    dit_sigma_schedule(&c, 4096, 28, sig);
    assert_true(sig[0] == 1.f && sig[28] == 0.f);
    for (int i = 0; i < 28; i++) assert_true(sig[i + 1] < sig[i]);
    /* 4096 tokens: mu = 1.15; the last nonzero sigma is shift(1/28) with shift = e^1.15 */
    const double sh = exp(1.15), s = 1.0 / 28;
    assert_true(fabs(sig[27] - sh * s / (1 + (sh - 1) * s)) < 1e-6);
    float ts[256];
    dit_timestep_proj(0.f, ts);
    assert_true(ts[0] == 1.f && ts[127] == 1.f && ts[128] == 0.f); /* cos half first */
}

/* The kernels a GPU runs, by compute capability: wgmma only on sm_90 with sm_90a code; an Ampere
 * GPU, a later one, or TETRI_GPU_PATHS=ampere take mma.sync; older than sm_80 is refused, named. */
static void gpu_paths_by_compute_capability(void **state)
{
    (void)state;
    dit_gpu_paths p;
    char text[384];
    tetri_error err = {{0}};
    assert_int_equal(dit_gpu_paths_choose("NVIDIA H200", 9, 0, 1, NULL, &p, text, sizeof text, &err), 0);
    assert_int_equal(p, DIT_PATHS_HOPPER);
    assert_non_null(strstr(text, "GPU paths: hopper on NVIDIA H200 (sm_90"));
    assert_non_null(strstr(text, "wgmma"));
    assert_int_equal(dit_gpu_paths_choose("NVIDIA H200", 9, 0, 1, "auto", &p, text, sizeof text, &err), 0);
    assert_int_equal(p, DIT_PATHS_HOPPER);
    assert_int_equal(dit_gpu_paths_choose("NVIDIA H200", 9, 0, 1, "ampere", &p, text, sizeof text, &err), 0);
    assert_int_equal(p, DIT_PATHS_AMPERE);
    assert_non_null(strstr(text, "forced by TETRI_GPU_PATHS=ampere"));
    assert_non_null(strstr(text, "no wgmma"));
    /* sm_90 without sm_90a code (configure --with-cuda-arch=80): the ampere paths, saying why */
    assert_int_equal(dit_gpu_paths_choose("NVIDIA H100 80GB HBM3", 9, 0, 0, NULL, &p, text, sizeof text, &err), 0);
    assert_int_equal(p, DIT_PATHS_AMPERE);
    assert_non_null(strstr(text, "no sm_90a code"));
    assert_int_equal(dit_gpu_paths_choose("NVIDIA H100 80GB HBM3", 9, 0, 0, "hopper", &p, text, sizeof text, &err), -1);
    assert_non_null(strstr(err.msg, "no sm_90a code"));
    const int ampere[][2] = {{8, 0}, {8, 6}, {8, 9}, {10, 0}, {12, 0}};
    for (size_t i = 0; i < sizeof ampere / sizeof ampere[0]; i++) {
        assert_int_equal(dit_gpu_paths_choose("GPU", ampere[i][0], ampere[i][1], 0, NULL, &p, text, sizeof text, &err), 0);
        assert_int_equal(p, DIT_PATHS_AMPERE);
        assert_non_null(strstr(text, "mma.sync"));
    }
    assert_int_equal(dit_gpu_paths_choose("NVIDIA A40", 8, 6, 0, NULL, &p, text, sizeof text, &err), 0);
    assert_non_null(strstr(text, "GPU paths: ampere on NVIDIA A40 (sm_86"));
    assert_int_equal(dit_gpu_paths_choose("NVIDIA A40", 8, 6, 0, "hopper", &p, text, sizeof text, &err), -1);
    assert_non_null(strstr(err.msg, "wgmma is sm_90 only"));
    assert_int_equal(dit_gpu_paths_choose("NVIDIA A40", 8, 6, 0, "volta", &p, text, sizeof text, &err), -1);
    assert_non_null(strstr(err.msg, "TETRI_GPU_PATHS='volta'"));
    /* older than sm_80: refused, naming the GPU and its compute capability */
    assert_int_equal(dit_gpu_paths_choose("Tesla V100-SXM2-16GB", 7, 0, 0, NULL, &p, text, sizeof text, &err), -1);
    assert_non_null(strstr(err.msg, "Tesla V100-SXM2-16GB (compute capability 7.0, sm_70) is older than sm_80"));
    assert_int_equal(dit_gpu_paths_choose("Tesla T4", 7, 5, 0, "ampere", &p, text, sizeof text, &err), -1);
    assert_non_null(strstr(err.msg, "Tesla T4 (compute capability 7.5, sm_75) is older than sm_80"));
}

/* The memory plan: the runner's arena is its buffers rounded up; the weights are the layout's; the
 * statements the docs make: SD3-medium fits an A40 at 2048 px, FLUX.1-dev at batch 1 at every
 * resolution, and FLUX at 2048 x batch 24 does not. */
static void memory_plan_arithmetic(void **state)
{
    (void)state;
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    dit_config_flux_dev(&c);
    assert_int_equal(dit_layout_build(&c, &L, &err), 0);
    size_t b[DIT_STEP_BUFS];
    dit_step_buffer_bytes(&L, 1, 512, 128, 128, 1, 0, b);
    const size_t Lt = 512 + 128 * 128, D = 3072;
    assert_int_equal(b[DIT_BUF_QKV], Lt * 3 * D * 2);
    assert_int_equal(b[DIT_BUF_BIG], Lt * (D + 4 * D) * 2);
    assert_int_equal(b[DIT_BUF_REFS], DIT_SLOT_REF_BYTES);
    for (int i = DIT_BUF_SEND_IN; i < DIT_STEP_BUFS; i++) assert_int_equal(b[i], 0); /* degree 1: no exchange */
    size_t sum = 0;
    for (int i = 0; i < DIT_STEP_BUFS; i++) sum += (b[i] + 255) / 256 * 256;
    assert_int_equal(dit_arena_bytes(b, DIT_STEP_BUFS), sum);
    /* degree 1's plan in bytes, as it was before the runner was sharded (FLUX.1-dev, 2048 px): */
    dit_mem_plan p1;
    dit_mem_plan_compute(&L, 1, 512, 128, 128, 28, 0, &p1);
    assert_int_equal(p1.activations, (size_t)1269056000);
    assert_int_equal(p1.slots, (size_t)68143872);
    size_t a40;
    char label[128];
    assert_int_equal(dit_parse_gpu_memory("a40", &a40, label, sizeof label), 0);
    assert_int_equal(a40, (size_t)46068 << 20);
    assert_non_null(strstr(label, "NVIDIA A40"));
    dit_mem_plan p;
    const int sides[] = {256, 512, 1024, 2048};
    for (int i = 0; i < 4; i++) {
        dit_mem_plan_compute(&L, 1, 512, sides[i] / 16, sides[i] / 16, 28, 0, &p);
        assert_int_equal(p.weights, (size_t)L.total * 2);
        assert_int_equal(p.total, p.weights + p.workspaces + p.activations + p.slots + p.reserve);
        assert_true(p.total < a40); /* FLUX.1-dev at batch 1 fits an A40 at every resolution */
    }
    dit_mem_plan_compute(&L, 24, 512, 128, 128, 28, 0, &p);
    assert_true(p.total > a40);
    dit_mem_plan oracle;
    dit_mem_plan_compute(&L, 1, 512, 128, 128, 28, 1, &oracle);
    dit_mem_plan_compute(&L, 1, 512, 128, 128, 28, 0, &p);
    assert_int_equal(oracle.workspaces - p.workspaces, (3 * Lt * 128 + Lt * Lt) * 4);
    dit_layout_free(&L);
    dit_config_sd3_medium(&c);
    assert_int_equal(dit_layout_build(&c, &L, &err), 0);
    dit_mem_plan_compute(&L, 1, 333, 128, 128, 28, 0, &p);
    assert_true(p.total + ((size_t)16 << 30) < a40); /* SD3-medium at 2048 px, with room to spare */
    dit_layout_free(&L);
    size_t v;
    assert_int_equal(dit_parse_gpu_memory("48G", &v, NULL, 0), 0);
    assert_int_equal(v, (size_t)48 << 30);
    assert_int_equal(dit_parse_gpu_memory("48GB", &v, NULL, 0), 0);
    assert_int_equal(v, (size_t)48000000000ull);
    assert_int_equal(dit_parse_gpu_memory("46068MiB", &v, NULL, 0), 0);
    assert_int_equal(v, (size_t)46068 << 20);
    assert_int_equal(dit_parse_gpu_memory("48Q", &v, NULL, 0), -1);
    assert_int_equal(dit_parse_gpu_memory("-1G", &v, NULL, 0), -1);
    assert_int_equal(dit_parse_gpu_memory("", &v, NULL, 0), -1);
}

/* Rank r of a degree-4 runner (FLUX.1-dev, 24 heads; batch 2, 512 text rows, 1024 px): the per-row
 * buffers hold its rows only, the six exchange buffers are what dit/sp.h's byte tables say it
 * sends and receives, the ranks' rows add up to the request's, and its slot holds its rows and the
 * whole conditioning. */
static void memory_plan_sharded_exchange(void **state)
{
    (void)state;
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    dit_config_flux_dev(&c);
    assert_int_equal(dit_layout_build(&c, &L, &err), 0);
    enum { K = 4, B = 2, T = 512, G = 64 };
    const int N = G * G;
    const size_t D = 3072, Dk = D / K, Lt = T + N, tin = (size_t)dit_token_in(&c), hd = (size_t)c.head_dim;
    assert_int_equal(dit_sp_check(&c, K, T, N, &err), 0);
    size_t in[K * K], out[K * K];
    dit_sp_a2a_in_bytes(&c, K, T, N, B, 2, in);
    dit_sp_a2a_out_bytes(&c, K, T, N, B, 2, out);
    size_t one[DIT_STEP_BUFS], slot1[DIT_SLOT_BUFS];
    dit_step_buffer_bytes(&L, B, T, G, G, 1, 0, one);
    dit_slot_buffer_bytes(&L, T, G, G, 28, 1, 0, slot1);
    size_t h_rows = 0, sent_in = 0, got_in = 0, sent_out = 0, got_out = 0;
    for (int r = 0; r < K; r++) {
        dit_sp_shard sh;
        dit_sp_shard_of(T, N, K, r, &sh);
        const size_t Ll = (size_t)sh.tn + (size_t)sh.nn;
        size_t b[DIT_STEP_BUFS];
        dit_step_buffer_bytes(&L, B, T, G, G, K, r, b);
        assert_int_equal(b[DIT_BUF_QKV], B * Ll * 3 * D * 2);
        assert_int_equal(b[DIT_BUF_H], B * Ll * D * 2);
        assert_int_equal(b[DIT_BUF_TXT], B * (size_t)sh.tn * (size_t)c.text_dim * 2);
        assert_int_equal(b[DIT_BUF_LAT16], B * (size_t)sh.nn * tin * 2);
        assert_int_equal(b[DIT_BUF_VEL], B * (size_t)sh.nn * tin * 4);
        assert_int_equal(b[DIT_BUF_ROPE_COS], Ll * hd / 2 * 4);
        assert_int_equal(b[DIT_BUF_MOD], one[DIT_BUF_MOD]); /* per sample, not per row */
        /* the exchange: what the rank sends and receives, chunk by chunk */
        size_t si = 0, ri = 0, so = 0, ro = 0;
        for (int j = 0; j < K; j++) {
            si += in[r * K + j];
            ri += in[j * K + r];
            so += out[r * K + j];
            ro += out[j * K + r];
        }
        assert_int_equal(b[DIT_BUF_SEND_IN], si);
        assert_int_equal(b[DIT_BUF_RECV_IN], ri);
        assert_int_equal(b[DIT_BUF_ATT_IN], ri);
        assert_int_equal(b[DIT_BUF_RECV_IN], B * Lt * 3 * Dk * 2); /* all rows of this rank's heads */
        assert_int_equal(b[DIT_BUF_ATT_OUT], B * Lt * Dk * 2);
        assert_int_equal(b[DIT_BUF_SEND_OUT], so);
        assert_int_equal(b[DIT_BUF_RECV_OUT], ro);
        assert_int_equal(b[DIT_BUF_RECV_OUT], B * Ll * D * 2);
        /* counted in the arena: the per-row part plus the exchange, each rounded */
        assert_int_equal(dit_arena_bytes(b, DIT_STEP_BUFS),
                         dit_arena_bytes(b, DIT_BUF_SEND_IN) + dit_arena_bytes(b + DIT_BUF_SEND_IN, DIT_STEP_BUFS - DIT_BUF_SEND_IN));
        assert_true(dit_arena_bytes(b + DIT_BUF_SEND_IN, DIT_STEP_BUFS - DIT_BUF_SEND_IN) >= si + ri + ri + so + so + ro);
        h_rows += b[DIT_BUF_H];
        sent_in += si, got_in += ri, sent_out += so, got_out += ro;
        /* the slot: its rows of the latent and the text, all of the conditioning */
        size_t sb[DIT_SLOT_BUFS];
        dit_slot_buffer_bytes(&L, T, G, G, 28, K, r, sb);
        assert_int_equal(sb[DIT_SBUF_LAT], (size_t)sh.nn * tin * 4);
        assert_int_equal(sb[DIT_SBUF_TXT], (size_t)sh.tn * (size_t)c.text_dim * 2);
        for (int i = DIT_SBUF_MOD; i < DIT_SLOT_BUFS; i++) assert_int_equal(sb[i], slot1[i]);
    }
    assert_int_equal(h_rows, one[DIT_BUF_H]); /* the shards partition the rows */
    assert_int_equal(sent_in, got_in);        /* every byte sent is received */
    assert_int_equal(sent_out, got_out);
    dit_layout_free(&L);
}

/* ---- Ulysses sequence parallelism (dit/sp.h) ---- */

/* max |a - b| / max |b|: the sharded runs' error against degree 1. */
static double max_rel(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return num / den;
}

/* The tiny configurations with 8 heads, so that degrees 2, 4 and 8 divide them: head_dim 64 (the
 * smallest dit_config_check takes; FLUX's RoPE axes 16, 24, 24), one double and one single block
 * (FLUX) or a joint block and SD3's context-pre-only last one, to keep CI quick. Text rows T that
 * do not divide by the degrees, so shards differ by a row, on a non-square grid; two samples at
 * different sigmas and guidance. */
#define SP_T 13
#define SP_GH 4
#define SP_GW 6
#define SP_N (SP_GH * SP_GW)
static void sp_case_make(tiny_case *tc, dit_arch arch, int T, int gh, int gw)
{
    dit_config c;
    dit_config_tiny(arch, &c);
    c.n_heads = 8;
    c.head_dim = 64;
    c.n_double = 2;
    if (arch == DIT_ARCH_FLUX) {
        c.n_double = c.n_single = 1;
        c.rope_axes[0] = 16;
        c.rope_axes[1] = c.rope_axes[2] = 24;
    }
    tiny_case_make_shape(tc, &c, T, gh, gw, 2);
    tc->sigma[1] = 0.25f;
    tc->guid[1] = 2.0f;
}

/* A transport that hands every rank rank 1's chunks where rank 0's belong and the other way round:
 * a wrong shard the comparison must catch (degree 4 here, where ranks 0 and 1 hold as many rows). */
static int (*host_all_to_all)(dit_transport *, void *const *, void *const *, const size_t *, tetri_error *);
static int swapped_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err)
{
    void *s[DIT_SP_MAX_DEGREE];
    for (int i = 0; i < t->degree; i++) s[i] = send[i];
    s[0] = send[1];
    s[1] = send[0];
    return host_all_to_all(t, s, recv, bytes, err);
}

static void sp_degrees_equal_degree1(dit_arch arch)
{
    tiny_case tc;
    sp_case_make(&tc, arch, SP_T, SP_GH, SP_GW);
    tetri_error err = {{0}};
    const size_t n = (size_t)2 * SP_N * 64;
    float *want = malloc(n * 4), *got = malloc(n * 4);
    assert_int_equal(dit_cpu_forward(&tc.L, tc.w, &tc.in, want, &err), 0);
    for (int k = 2; k <= 8; k *= 2) {
        memset(got, 0, n * 4);
        assert_int_equal(dit_cpu_forward_sp(&tc.L, tc.w, &tc.in, k, NULL, got, &err), 0);
        const double e = max_rel(got, want, n);
        print_message("  %s degree %d: max |a - b| / max |b| = %.3g against degree 1\n", arch == DIT_ARCH_FLUX ? "flux" : "sd3", k, e);
        assert_true(e <= 1e-5);
    }
    /* the comparison catches a wrong shard */
    dit_transport *t;
    assert_int_equal(dit_transport_host_create(4, &t, &err), 0);
    dit_transport_ops ops = *t->ops;
    const dit_transport_ops *host_ops = t->ops;
    host_all_to_all = ops.all_to_all;
    ops.all_to_all = swapped_all_to_all;
    t->ops = &ops;
    assert_int_equal(dit_cpu_forward_sp(&tc.L, tc.w, &tc.in, 4, t, got, &err), 0);
    t->ops = host_ops;
    dit_transport_destroy(t);
    const double bad = max_rel(got, want, n);
    print_message("  %s degree 4, ranks 0 and 1 swapped: %.3g (caught)\n", arch == DIT_ARCH_FLUX ? "flux" : "sd3", bad);
    assert_true(bad > 1e-3);
    free(want);
    free(got);
    tiny_case_free(&tc);
}
static void sp_flux_degrees_equal_degree1(void **state) { (void)state; sp_degrees_equal_degree1(DIT_ARCH_FLUX); }
static void sp_sd3_degrees_equal_degree1(void **state) { (void)state; sp_degrees_equal_degree1(DIT_ARCH_SD3); }

static void sp_refusals_say_why(void **state)
{
    (void)state;
    dit_config c;
    tetri_error err = {{0}};
    dit_config_tiny(DIT_ARCH_FLUX, &c); /* 2 heads */
    assert_int_equal(dit_sp_check(&c, 2, 9, 12, &err), 0);
    assert_int_equal(dit_sp_check(&c, 4, 9, 12, &err), -1);
    assert_non_null(strstr(err.msg, "degree 4: the model's 2 attention heads do not divide by it"));
    c.n_heads = 24;
    assert_int_equal(dit_sp_check(&c, 3, 9, 12, &err), -1);
    assert_non_null(strstr(err.msg, "degree 3: sequence parallelism takes 1, 2, 4 or 8"));
    assert_int_equal(dit_sp_check(&c, 16, 64, 64, &err), -1);
    assert_non_null(strstr(err.msg, "degree 16"));
    assert_int_equal(dit_sp_check(&c, 8, 7, 64, &err), -1);
    assert_non_null(strstr(err.msg, "degree 8: 7 text rows and 64 image rows leave a rank without rows of each"));
    assert_int_equal(dit_sp_check(&c, 8, 64, 4, &err), -1);
    assert_non_null(strstr(err.msg, "4 image rows"));

    /* the sharded forward, sharding and denoising refuse them too, before any work */
    tiny_case tc;
    tiny_case_make(&tc, DIT_ARCH_FLUX, 1);
    float out[12 * 64];
    assert_int_equal(dit_cpu_forward_sp(&tc.L, tc.w, &tc.in, 4, NULL, out, &err), -1);
    assert_non_null(strstr(err.msg, "2 attention heads"));
    dit_transport *t;
    assert_int_equal(dit_transport_host_create(4, &t, &err), 0);
    assert_int_equal(dit_cpu_forward_sp(&tc.L, tc.w, &tc.in, 2, t, out, &err), -1);
    assert_non_null(strstr(err.msg, "transport 'host' drives 4 of 4 ranks, not all 2"));
    dit_transport_destroy(t);
    float sig[3] = {1.0f, 0.5f, 0.0f};
    dit_cpu_request r = {9, 4, 3, tc.lat, tc.txt, tc.pooled, 3.5f, sig, 2, 0};
    dit_cpu_sharded_request s;
    assert_int_equal(dit_cpu_request_shard(&tc.L.cfg, &r, 3, &s, &err), -1);
    assert_non_null(strstr(err.msg, "degree 3"));
    assert_int_equal(dit_cpu_request_shard(&tc.L.cfg, &r, 2, &s, &err), 0);
    assert_int_equal(dit_cpu_denoise_sp(&tc.L, tc.w, (dit_cpu_sharded_request *[]){&s}, 1, 1, 1, &err), -1);
    assert_non_null(strstr(err.msg, "request 0 is held at degree 2, the batch runs at 1"));
    assert_int_equal(dit_cpu_denoise_sp(&tc.L, tc.w, (dit_cpu_sharded_request *[]){&s}, 1, 3, 2, &err), -1);
    assert_non_null(strstr(err.msg, "request 0 at step 0 of 2 cannot run 3 more"));
    assert_int_equal(dit_cpu_migrate(&tc.L.cfg, &s, 4, &err), -1);
    assert_int_equal(s.degree, 2); /* a refused move leaves the request where it was */
    dit_cpu_sharded_free(&s);
    tiny_case_free(&tc);
}

/* The value the exchange test puts at (sample b, global row g, column col): exact in float. */
static float tag(int b, int g, int col) { return (float)(b * 1000000 + g * 1000 + col); }

/* A pack's output buffer of n floats (its byte table's sum) and 16 more, all a value pack never writes. */
#define GUARD (-7.0f)
static void guard_fill(float *buf, size_t n)
{
    for (size_t e = 0; e < n + 16; e++) buf[e] = GUARD;
}
/* The pack wrote every float of its byte table's sum and none past it. */
static void assert_written(const float *buf, size_t n)
{
    for (size_t e = 0; e < n; e++) assert_true(buf[e] != GUARD);
    for (size_t e = n; e < n + 16; e++) assert_true(buf[e] == GUARD);
}

/* Rank i's qkv rows [B, L_i, 3D] pack into exactly the bytes the in table gives it, chunk (i -> j)
 * holding q, k, v of head group j; after the host all-to-all and unpack, rank j holds every row of
 * its heads; its attention output goes back the same way into each rank's columns j D/k. */
static void sp_exchange_layout_at(int k)
{
    dit_config c;
    dit_config_tiny(DIT_ARCH_SD3, &c);
    c.n_heads = 8;
    c.head_dim = 4;
    const int B = 2, T = SP_T, N = SP_N, D = 32, Dk = D / k, Lt = T + N;
    size_t inb[64], outb[64];
    dit_sp_a2a_in_bytes(&c, k, T, N, B, 4, inb);
    dit_sp_a2a_out_bytes(&c, k, T, N, B, 4, outb);
    int L[DIT_SP_MAX_DEGREE], row0[DIT_SP_MAX_DEGREE]; /* rank i's rows, its first row in the gathered order */
    dit_sp_shard s[DIT_SP_MAX_DEGREE];
    void *send[DIT_SP_MAX_DEGREE], *recv[DIT_SP_MAX_DEGREE];
    float *qkv[DIT_SP_MAX_DEGREE];
    for (int i = 0, at = 0; i < k; at += L[i], i++) {
        dit_sp_shard_of(T, N, k, i, &s[i]);
        L[i] = s[i].tn + s[i].nn;
        row0[i] = at;
        qkv[i] = malloc((size_t)B * L[i] * 3 * D * 4);
        for (int b = 0; b < B; b++)
            for (int r = 0; r < L[i]; r++) {
                const int g = r < s[i].tn ? s[i].t0 + r : T + s[i].n0 + r - s[i].tn; /* the global row */
                for (int col = 0; col < 3 * D; col++) qkv[i][((size_t)b * L[i] + r) * 3 * D + col] = tag(b, g, col);
            }
        size_t sent = 0;
        for (int j = 0; j < k; j++) sent += inb[i * k + j];
        assert_int_equal(sent, (size_t)B * L[i] * 3 * D * 4);
        send[i] = malloc(sent + 64);
        guard_fill(send[i], sent / 4);
        dit_sp_pack_heads(qkv[i], 3 * D, B, L[i], D, k, send[i]);
        assert_written(send[i], sent / 4);
        recv[i] = malloc((size_t)B * Lt * 3 * D * 4); /* more than either exchange needs */
    }
    dit_transport *t;
    tetri_error err = {{0}};
    assert_int_equal(dit_transport_host_create(k, &t, &err), 0);
    assert_int_equal(dit_transport_all_to_all(t, send, recv, inb, &err), 0);
    float *att = malloc((size_t)B * Lt * 3 * Dk * 4);
    for (int j = 0; j < k; j++) {
        dit_sp_unpack_heads(recv[j], B, L, D, k, att);
        for (int i = 0; i < k; i++)
            for (int b = 0; b < B; b++)
                for (int r = 0; r < L[i]; r++)
                    for (int p = 0; p < 3; p++)
                        for (int e = 0; e < Dk; e++)
                            assert_true(att[((size_t)b * Lt + row0[i] + r) * 3 * Dk + p * Dk + e] ==
                                        qkv[i][((size_t)b * L[i] + r) * 3 * D + p * D + j * Dk + e]);
        /* "attention output" of rank j: its q columns; back through pack_rows */
        float *o = malloc((size_t)B * Lt * Dk * 4);
        for (int g = 0; g < B * Lt; g++) memcpy(o + (size_t)g * Dk, att + (size_t)g * 3 * Dk, (size_t)Dk * 4);
        size_t sent = 0;
        for (int i = 0; i < k; i++) sent += outb[j * k + i];
        guard_fill(send[j], sent / 4);
        dit_sp_pack_rows(o, B, L, D, k, send[j]);
        assert_written(send[j], sent / 4);
        free(o);
    }
    assert_int_equal(dit_transport_all_to_all(t, send, recv, outb, &err), 0);
    for (int i = 0; i < k; i++) {
        float *back = malloc((size_t)B * L[i] * D * 4);
        dit_sp_unpack_rows(recv[i], B, L[i], D, k, back, D);
        for (int b = 0; b < B; b++)
            for (int r = 0; r < L[i]; r++)
                for (int col = 0; col < D; col++) /* every head of the row's q came home */
                    assert_true(back[((size_t)b * L[i] + r) * D + col] == qkv[i][((size_t)b * L[i] + r) * 3 * D + col]);
        free(back);
        free(qkv[i]);
        free(send[i]);
        free(recv[i]);
    }
    free(att);
    dit_transport_destroy(t);
}
static void sp_exchange_layout(void **state)
{
    (void)state;
    for (int k = 1; k <= 8; k *= 2) sp_exchange_layout_at(k);
}

/* For every pair of degrees 1..8 and several row counts (fewer rows than ranks included), the
 * plan's copies put every row exactly once at its place in the new shards, within both shards. */
static void sp_migration_plan_moves_every_row_once(void **state)
{
    (void)state;
    const int counts[] = {1, 3, 7, 8, 13, 24, 100, 4096};
    for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
        const int rows = counts[ci];
        int *got = malloc((size_t)rows * sizeof *got);
        for (int from = 1; from <= DIT_SP_MAX_DEGREE; from++)
            for (int to = 1; to <= DIT_SP_MAX_DEGREE; to++) {
                dit_sp_move m[2 * DIT_SP_MAX_DEGREE];
                const int n = dit_sp_migration_plan(rows, from, to, m);
                assert_true(n >= 1 && n <= from + to - 1);
                for (int g = 0; g < rows; g++) got[g] = -1;
                for (int i = 0; i < n; i++) {
                    dit_sp_shard s, d;
                    dit_sp_shard_of(rows, rows, from, m[i].src_rank, &s);
                    dit_sp_shard_of(rows, rows, to, m[i].dst_rank, &d);
                    assert_true(m[i].rows >= 1);
                    assert_true(m[i].src_row >= 0 && m[i].src_row + m[i].rows <= s.tn);
                    assert_true(m[i].dst_row >= 0 && m[i].dst_row + m[i].rows <= d.tn);
                    for (int r = 0; r < m[i].rows; r++) {
                        const int g = s.t0 + m[i].src_row + r; /* the global row it carries */
                        assert_int_equal(d.t0 + m[i].dst_row + r, g); /* lands where the new shard holds it */
                        assert_int_equal(got[g], -1);                /* once */
                        got[g] = m[i].dst_rank;
                    }
                }
                for (int g = 0; g < rows; g++) assert_true(got[g] >= 0); /* every row */
            }
        free(got);
    }
}

/* Rank r of s holds text rows t0.. of text [T, text_dim] (text rows carry no position, so a shuffle
 * among ranks would not show in the output: looked at directly). */
static void assert_text_shards(const dit_config *c, const dit_cpu_sharded_request *s, const float *text)
{
    for (int r = 0; r < s->degree; r++) {
        dit_sp_shard sh;
        dit_sp_shard_of(s->text_tokens, s->grid_h * s->grid_w, s->degree, r, &sh);
        assert_memory_equal(s->text[r], text + (size_t)sh.t0 * c->text_dim, (size_t)sh.tn * c->text_dim * 4);
    }
}

/* A request denoised 2 steps at degree 1, 2 at 4, 2 at 2 and 2 at 8, moved between them by
 * dit_cpu_migrate, ends as one denoised 8 steps at degree 1 batched with a second request (at
 * another step of another schedule) that never moves. At degree 8 it is batched with a copy whose
 * ranks 0 and 2 hold each other's rows, which must not match. Text 9 rows on a 3 x 4 grid (shards
 * of 1 and 2 rows at degree 8), smaller than the forward's test to keep CI quick. */
#define MG_T 9
#define MG_GH 3
#define MG_GW 4
#define MG_N (MG_GH * MG_GW)
static void sp_migration_equals_unmoved(dit_arch arch)
{
    tiny_case tc;
    sp_case_make(&tc, arch, MG_T, MG_GH, MG_GW);
    const dit_config *c = &tc.L.cfg;
    tetri_error err = {{0}};
    const size_t nl = (size_t)MG_N * 64;
    float sa[9], sb[13];
    dit_sigma_schedule(c, MG_N, 8, sa);
    dit_sigma_schedule(c, MG_N, 12, sb);
    float *la = malloc(nl * 4), *lb = malloc(nl * 4), *moved = malloc(nl * 4), *bad = malloc(nl * 4);
    memcpy(la, tc.lat, nl * 4);
    memcpy(lb, tc.lat + nl, nl * 4);
    dit_cpu_request a = {MG_T, MG_GH, MG_GW, la, tc.txt, tc.pooled, 3.5f, sa, 8, 0};
    dit_cpu_request b = {MG_T, MG_GH, MG_GW, lb, tc.txt + MG_T * c->text_dim, tc.pooled + c->pooled_dim, 2.0f, sb, 12, 3};
    dit_cpu_sharded_request s, x;
    assert_int_equal(dit_cpu_request_shard(c, &a, 1, &s, &err), 0); /* from a's start, before a runs */
    assert_int_equal(dit_cpu_denoise(&tc.L, tc.w, (dit_cpu_request *[]){&a, &b}, 2, 8, &err), 0);
    const int degrees[4] = {1, 4, 2, 8};
    for (int p = 0; p < 3; p++) {
        assert_int_equal(dit_cpu_migrate(c, &s, degrees[p], &err), 0);
        assert_text_shards(c, &s, tc.txt);
        assert_int_equal(dit_cpu_denoise_sp(&tc.L, tc.w, (dit_cpu_sharded_request *[]){&s}, 1, 2, degrees[p], &err), 0);
    }
    assert_int_equal(dit_cpu_migrate(c, &s, 8, &err), 0);
    assert_text_shards(c, &s, tc.txt);
    dit_cpu_request_gather(c, &s, bad); /* x: a copy of s at degree 8, ranks 0 and 2 swapped (a row each) */
    dit_cpu_request xr = {MG_T, MG_GH, MG_GW, bad, tc.txt, tc.pooled, 3.5f, sa, 8, s.step};
    assert_int_equal(dit_cpu_request_shard(c, &xr, 8, &x, &err), 0);
    float *t0 = x.latent[0];
    x.latent[0] = x.latent[2];
    x.latent[2] = t0;
    assert_int_equal(dit_cpu_denoise_sp(&tc.L, tc.w, (dit_cpu_sharded_request *[]){&s, &x}, 2, 2, 8, &err), 0);
    assert_int_equal(s.step, 8);
    dit_cpu_request_gather(c, &s, moved);
    dit_cpu_request_gather(c, &x, bad);
    const double e = max_rel(moved, la, nl);
    print_message("  %s moved 1 -> 4 -> 2 -> 8: max |a - b| / max |b| = %.3g against never moved\n",
                  arch == DIT_ARCH_FLUX ? "flux" : "sd3", e);
    assert_true(e <= 1e-5);
    assert_true(max_rel(moved, tc.lat, nl) > 1e-2); /* the steps did move the latent */
    print_message("  %s at degree 8 with ranks 0 and 2 swapped: %.3g (caught)\n", arch == DIT_ARCH_FLUX ? "flux" : "sd3",
                  max_rel(bad, la, nl));
    assert_true(max_rel(bad, la, nl) > 1e-3); /* and a wrong shard is caught */
    dit_cpu_sharded_free(&s);
    dit_cpu_sharded_free(&x);
    free(la); free(lb); free(moved); free(bad);
    tiny_case_free(&tc);
}
static void sp_flux_migration_equals_unmoved(void **state) { (void)state; sp_migration_equals_unmoved(DIT_ARCH_FLUX); }
static void sp_sd3_migration_equals_unmoved(void **state) { (void)state; sp_migration_equals_unmoved(DIT_ARCH_SD3); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_flux_dev_matches_published_count),
        cmocka_unit_test(layout_sd3_medium_matches_published_count),
        cmocka_unit_test(layout_offsets_disjoint_fused_aligned),
        cmocka_unit_test(config_json_published_files),
        cmocka_unit_test(config_json_errors_name_the_field),
        cmocka_unit_test(safetensors_round_trip_is_exact_and_reproducible),
        cmocka_unit_test(safetensors_rejects_damaged_files),
        cmocka_unit_test(load_weights_folder_with_shards),
        cmocka_unit_test(reference_flux_properties),
        cmocka_unit_test(reference_sd3_properties),
        cmocka_unit_test(reference_rejects_bad_shapes),
        cmocka_unit_test(batched_flux_at_different_steps),
        cmocka_unit_test(batched_sd3_at_different_steps),
        cmocka_unit_test(rope_and_schedule),
        cmocka_unit_test(gpu_paths_by_compute_capability),
        cmocka_unit_test(memory_plan_arithmetic),
        cmocka_unit_test(memory_plan_sharded_exchange),
        cmocka_unit_test(sp_refusals_say_why),
        cmocka_unit_test(sp_exchange_layout),
        cmocka_unit_test(sp_migration_plan_moves_every_row_once),
        cmocka_unit_test(sp_flux_degrees_equal_degree1),
        cmocka_unit_test(sp_sd3_degrees_equal_degree1),
        cmocka_unit_test(sp_flux_migration_equals_unmoved),
        cmocka_unit_test(sp_sd3_migration_equals_unmoved),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
