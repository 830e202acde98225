/* dit/safetensors.c: safetensors reader and writer, and the diffusers folder loader. */
#include "dit/safetensors.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef TETRI_HAVE_JANSSON
#include <jansson.h>
#endif

static const char *const dtype_names[ST_DTYPE_COUNT] = {"F32", "F16", "BF16", "F64", "I32", "I64", "U8", "BOOL"};
static const int dtype_sizes[ST_DTYPE_COUNT] = {4, 2, 2, 8, 4, 8, 1, 1};

const char *st_dtype_name(st_dtype d) { return d < ST_DTYPE_COUNT ? dtype_names[d] : "?"; }
int st_dtype_size(st_dtype d) { return d < ST_DTYPE_COUNT ? dtype_sizes[d] : 0; }

/* Largest header we accept: the safetensors specification caps it at 100 MB. */
#define ST_MAX_HEADER (100u << 20)

void st_close(st_file *f)
{
    if (f->fp) fclose(f->fp);
    free(f->t);
    memset(f, 0, sizeof *f);
}

int st_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return i;
    return -1;
}

int st_open(const char *path, st_file *f, tetri_error *err)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
#ifndef TETRI_HAVE_JANSSON
    return tetri_errorf(err, "%s: built without jansson, cannot read safetensors", path);
#else
    f->fp = fopen(path, "rb");
    if (!f->fp) return tetri_errorf(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f->fp), &st) != 0) { tetri_errorf(err, "%s: %s", path, strerror(errno)); goto fail; }
    f->file_size = (uint64_t)st.st_size;
    unsigned char len8[8];
    if (f->file_size < 8 || fread(len8, 1, 8, f->fp) != 8) { tetri_errorf(err, "%s: too short for a safetensors file (no 8-byte header length)", path); goto fail; }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (hlen > ST_MAX_HEADER || 8 + hlen > f->file_size) {
        tetri_errorf(err, "%s: header length %llu exceeds the file (%llu bytes) or the 100 MB limit", path,
                     (unsigned long long)hlen, (unsigned long long)f->file_size);
        goto fail;
    }
    char *hdr = malloc(hlen + 1);
    if (!hdr || fread(hdr, 1, hlen, f->fp) != hlen) { free(hdr); tetri_errorf(err, "%s: cannot read the header", path); goto fail; }
    hdr[hlen] = 0;
    f->data_start = 8 + hlen;
    json_error_t je;
    json_t *root = json_loadb(hdr, hlen, 0, &je);
    free(hdr);
    if (!root || !json_is_object(root)) {
        tetri_errorf(err, "%s: header is not a JSON object (%s at column %d)", path, root ? "not an object" : je.text, je.column);
        json_decref(root);
        goto fail;
    }
    size_t cap = json_object_size(root);
    f->t = calloc(cap ? cap : 1, sizeof *f->t);
    if (!f->t) abort();
    const char *key;
    json_t *val;
    uint64_t data_len = f->file_size - f->data_start;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st_tensor *t = &f->t[f->n];
        if (strlen(key) >= sizeof t->name) { tetri_errorf(err, "%s: tensor name '%.60s...' is too long", path, key); goto fail_json; }
        snprintf(t->name, sizeof t->name, "%s", key);
        const char *dt = json_string_value(json_object_get(val, "dtype"));
        json_t *shape = json_object_get(val, "shape"), *offs = json_object_get(val, "data_offsets");
        if (!dt || !json_is_array(shape) || !json_is_array(offs) || json_array_size(offs) != 2) {
            tetri_errorf(err, "%s: tensor '%s': needs \"dtype\", \"shape\" and two \"data_offsets\"", path, key);
            goto fail_json;
        }
        t->dtype = ST_DTYPE_COUNT;
        for (int d = 0; d < ST_DTYPE_COUNT; d++)
            if (strcmp(dt, dtype_names[d]) == 0) t->dtype = (st_dtype)d;
        if (t->dtype == ST_DTYPE_COUNT) { tetri_errorf(err, "%s: tensor '%s': dtype \"%s\" is not supported", path, key, dt); goto fail_json; }
        t->ndim = (int)json_array_size(shape);
        if (t->ndim > 8) { tetri_errorf(err, "%s: tensor '%s': %d dimensions (at most 8)", path, key, t->ndim); goto fail_json; }
        t->numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            json_t *e = json_array_get(shape, (size_t)d);
            if (!json_is_integer(e) || json_integer_value(e) < 0) { tetri_errorf(err, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, key, d); goto fail_json; }
            t->shape[d] = json_integer_value(e);
            if (t->shape[d] && t->numel > INT64_MAX / t->shape[d]) { tetri_errorf(err, "%s: tensor '%s': shape overflows", path, key); goto fail_json; }
            t->numel *= t->shape[d];
        }
        json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
        if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < json_integer_value(b)) {
            tetri_errorf(err, "%s: tensor '%s': data_offsets must be two increasing non-negative integers", path, key);
            goto fail_json;
        }
        t->begin = (uint64_t)json_integer_value(b);
        t->end = (uint64_t)json_integer_value(e);
        if (t->end > data_len) {
            tetri_errorf(err, "%s: tensor '%s': data_offsets end %llu is past the data (%llu bytes): truncated file?", path, key,
                         (unsigned long long)t->end, (unsigned long long)data_len);
            goto fail_json;
        }
        if (t->end - t->begin != (uint64_t)t->numel * (uint64_t)dtype_sizes[t->dtype]) {
            tetri_errorf(err, "%s: tensor '%s': %llu bytes of data for %lld elements of %s", path, key,
                         (unsigned long long)(t->end - t->begin), (long long)t->numel, dt);
            goto fail_json;
        }
        f->n++;
    }
    json_decref(root);
    return 0;
fail_json:
    json_decref(root);
fail:
    st_close(f);
    return -1;
#endif
}

static int read_raw(const st_file *f, const st_tensor *t, void *dst, tetri_error *err)
{
    size_t n = (size_t)(t->end - t->begin);
    if (fseeko(f->fp, (off_t)(f->data_start + t->begin), SEEK_SET) != 0 || fread(dst, 1, n, f->fp) != n)
        return tetri_errorf(err, "%s: tensor '%s': cannot read %zu bytes of data", f->path, t->name, n);
    return 0;
}

static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            u = sign | exp << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) u = sign | 0x7f800000u | man << 13;
    else u = sign | (exp + 127 - 15) << 23 | man << 13;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Converts n elements of src (dtype d) to float. */
static int convert_to_f32(st_dtype d, const void *src, float *dst, int64_t n)
{
    switch (d) {
    case ST_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case ST_F64: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i]; return 0;
    case ST_BF16: for (int64_t i = 0; i < n; i++) dst[i] = dit_bf16_bits_to_f32(((const uint16_t *)src)[i]); return 0;
    case ST_F16: for (int64_t i = 0; i < n; i++) dst[i] = half_to_f32(((const uint16_t *)src)[i]); return 0;
    default: return -1;
    }
}

int st_read_f32(const st_file *f, int idx, float *dst, tetri_error *err)
{
    assert(idx >= 0 && idx < f->n);
    const st_tensor *t = &f->t[idx];
    if (t->dtype != ST_F32 && t->dtype != ST_F64 && t->dtype != ST_BF16 && t->dtype != ST_F16)
        return tetri_errorf(err, "%s: tensor '%s': dtype %s is not a float type", f->path, t->name, st_dtype_name(t->dtype));
    if (t->dtype == ST_F32) return read_raw(f, t, dst, err);
    void *raw = malloc((size_t)(t->end - t->begin) + 1);
    if (!raw) return tetri_errorf(err, "%s: out of memory reading '%s'", f->path, t->name);
    int rc = read_raw(f, t, raw, err);
    if (!rc) convert_to_f32(t->dtype, raw, dst, t->numel);
    free(raw);
    return rc;
}

int st_read_bf16(const st_file *f, int idx, uint16_t *dst, tetri_error *err)
{
    assert(idx >= 0 && idx < f->n);
    const st_tensor *t = &f->t[idx];
    if (t->dtype == ST_BF16) return read_raw(f, t, dst, err);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_F64)
        return tetri_errorf(err, "%s: tensor '%s': dtype %s is not a float type", f->path, t->name, st_dtype_name(t->dtype));
    float *tmp = malloc((size_t)t->numel * sizeof *tmp + 1);
    if (!tmp) return tetri_errorf(err, "%s: out of memory reading '%s'", f->path, t->name);
    int rc = st_read_f32(f, idx, tmp, err);
    if (!rc)
        for (int64_t i = 0; i < t->numel; i++) dst[i] = dit_f32_to_bf16_bits(tmp[i]);
    free(tmp);
    return rc;
}

int st_write(const char *path, const st_out_tensor *t, int n, const char *const *meta_kv, int n_meta, tetri_error *err)
{
#ifndef TETRI_HAVE_JANSSON
    (void)t; (void)n; (void)meta_kv; (void)n_meta;
    return tetri_errorf(err, "%s: built without jansson, cannot write safetensors", path);
#else
    json_t *root = json_object();
    uint64_t off = 0;
    if (n_meta > 0) {
        json_t *m = json_object();
        for (int i = 0; i < n_meta; i++) json_object_set_new(m, meta_kv[2 * i], json_string(meta_kv[2 * i + 1]));
        json_object_set_new(root, "__metadata__", m);
    }
    for (int i = 0; i < n; i++) {
        if (json_object_get(root, t[i].name)) { json_decref(root); return tetri_errorf(err, "%s: tensor '%s' written twice", path, t[i].name); }
        int64_t numel = 1;
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++) { numel *= t[i].shape[d]; json_array_append_new(shape, json_integer(t[i].shape[d])); }
        uint64_t bytes = (uint64_t)numel * (uint64_t)dtype_sizes[t[i].dtype];
        json_t *e = json_object();
        json_object_set_new(e, "dtype", json_string(dtype_names[t[i].dtype]));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + bytes)));
        json_object_set_new(root, t[i].name, e);
        off += bytes;
    }
    /* JSON_PRESERVE_ORDER keeps the tensors in the order given: byte-identical output for identical input. */
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr) return tetri_errorf(err, "%s: cannot encode the header", path);
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7; /* 8-byte aligned data, spaces as padding */
    FILE *fp = fopen(path, "wb");
    if (!fp) { free(hdr); return tetri_errorf(err, "%s: %s", path, strerror(errno)); }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(hdr, 1, hlen, fp) == hlen;
    for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
    free(hdr);
    for (int i = 0; ok && i < n; i++) {
        int64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        size_t bytes = (size_t)numel * (size_t)dtype_sizes[t[i].dtype];
        ok = fwrite(t[i].data, 1, bytes, fp) == bytes;
    }
    if (fclose(fp) != 0) ok = 0;
    if (!ok) return tetri_errorf(err, "%s: write failed: %s", path, strerror(errno));
    return 0;
#endif
}

/* ---- diffusers folder -------------------------------------------------------------------------- */

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int dit_load_weights_dir(const char *dir, const dit_layout *L, dit_weight_sink sink, void *ctx, tetri_error *err)
{
#ifndef TETRI_HAVE_JANSSON
    (void)L; (void)sink; (void)ctx;
    return tetri_errorf(err, "%s: built without jansson, cannot load weights", dir);
#else
    char path[2048];
    /* The files to open: the index's shards, or the one file. */
    char **files = NULL;
    int n_files = 0, rc = -1;
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors.index.json", dir);
    if (path_exists(path)) {
        json_error_t je;
        json_t *idx = json_load_file(path, 0, &je);
        if (!idx) return tetri_errorf(err, "%s:%d: %s", path, je.line, je.text);
        json_t *wm = json_object_get(idx, "weight_map");
        if (!json_is_object(wm)) { json_decref(idx); return tetri_errorf(err, "%s: field \"weight_map\" is missing or not an object", path); }
        const char *k;
        json_t *v;
        files = calloc(json_object_size(wm) + 1, sizeof *files);
        json_object_foreach(wm, k, v) {
            const char *fn = json_string_value(v);
            if (!fn || strchr(fn, '/')) { json_decref(idx); tetri_errorf(err, "%s: weight_map[\"%s\"] is not a file name", path, k); goto done; }
            int seen = 0;
            for (int i = 0; i < n_files; i++) seen |= strcmp(files[i], fn) == 0;
            if (!seen) files[n_files++] = strdup(fn);
        }
        json_decref(idx);
    } else {
        files = calloc(1, sizeof *files);
        files[n_files++] = strdup("diffusion_pytorch_model.safetensors");
        snprintf(path, sizeof path, "%s/%s", dir, files[0]);
        if (!path_exists(path)) { tetri_errorf(err, "%s: neither diffusion_pytorch_model.safetensors nor its .index.json is here", dir); goto done; }
    }
    char *found = calloc((size_t)L->n_params, 1);
    for (int fi = 0; fi < n_files; fi++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[fi]);
        st_file f;
        if (st_open(path, &f, err)) { free(found); goto done; }
        for (int ti = 0; ti < f.n; ti++) {
            const st_tensor *t = &f.t[ti];
            int pi = dit_layout_find(L, t->name);
            if (pi < 0) {
                tetri_errorf(err, "%s: tensor '%s' is not part of this %s model (check config.json against the weights)", path,
                             t->name, L->cfg.arch == DIT_ARCH_FLUX ? "FLUX" : "SD3");
                st_close(&f); free(found); goto done;
            }
            const dit_param *p = &L->params[pi];
            int same = t->ndim == p->ndim;
            for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
            if (!same) {
                char want[96] = "", got[96] = "";
                for (int d = 0; d < p->ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)p->shape[d]);
                for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
                tetri_errorf(err, "%s: tensor '%s' has shape [%s], the config implies [%s]", path, t->name, got, want);
                st_close(&f); free(found); goto done;
            }
            if (t->dtype != ST_BF16 && t->dtype != ST_F16 && t->dtype != ST_F32) {
                tetri_errorf(err, "%s: tensor '%s' has dtype %s (BF16, F16 or F32 expected)", path, t->name, st_dtype_name(t->dtype));
                st_close(&f); free(found); goto done;
            }
            if (found[pi]) { tetri_errorf(err, "%s: tensor '%s' appears twice in the folder", path, t->name); st_close(&f); free(found); goto done; }
            found[pi] = 1;
            if (!sink) continue; /* checking only: names, shapes and dtypes, no data read */
            uint16_t *buf = malloc((size_t)t->numel * 2 + 2);
            if (!buf) { tetri_errorf(err, "out of memory loading '%s'", t->name); st_close(&f); free(found); goto done; }
            int r = st_read_bf16(&f, ti, buf, err) || sink(ctx, p->offset, buf, p->numel, err);
            free(buf);
            if (r) { st_close(&f); free(found); goto done; }
        }
        st_close(&f);
    }
    for (int pi = 0; pi < L->n_params; pi++)
        if (!found[pi]) { tetri_errorf(err, "%s: tensor '%s' is missing", dir, L->params[pi].name); free(found); goto done; }
    free(found);
    rc = 0;
done:
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    return rc;
#endif
}
