/* dit/safetensors.h: reading and writing safetensors files, and loading a diffusers transformer
 * folder (config.json, one or several safetensors files with their index) into the weight layout.
 * defines: st_dtype, st_tensor, st_file, st_open, st_close, st_find, st_read_f32, st_read_bf16,
 *          st_out_tensor, st_write, dit_weight_sink, dit_load_weights_dir, st_dtype_name.
 *
 * Format: 8 bytes little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * then the data. The header is parsed with jansson; every offset is checked against the file size
 * before any data is read, and every error names the file and the tensor. */
#ifndef TETRI_DIT_SAFETENSORS_H
#define TETRI_DIT_SAFETENSORS_H

#include <stdint.h>
#include <stdio.h>

#include "dit/model.h"
#include "core/error.h"

typedef enum st_dtype { ST_F32 = 0, ST_F16, ST_BF16, ST_F64, ST_I32, ST_I64, ST_U8, ST_BOOL, ST_DTYPE_COUNT } st_dtype;
const char *st_dtype_name(st_dtype d); /* "F32", "BF16", ... as in the header */
int st_dtype_size(st_dtype d);

typedef struct st_tensor {
    char name[128];
    st_dtype dtype;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    uint64_t begin, end; /* byte offsets from the start of the data section */
} st_tensor;

typedef struct st_file {
    char path[1024];
    FILE *fp;
    uint64_t data_start, file_size;
    int n;
    st_tensor *t;
} st_file;

int st_open(const char *path, st_file *f, tetri_error *err);
void st_close(st_file *f);
int st_find(const st_file *f, const char *name);
/* Reads tensor idx converted to float (F32, F16, BF16, F64 accepted); dst holds numel floats. */
int st_read_f32(const st_file *f, int idx, float *dst, tetri_error *err);
/* Reads tensor idx converted to bf16 bits (F32, F16, BF16 accepted). */
int st_read_bf16(const st_file *f, int idx, uint16_t *dst, tetri_error *err);

/* A tensor to write: data in the given dtype (F32 or BF16 here), row-major. */
typedef struct st_out_tensor {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[8];
    const void *data;
} st_out_tensor;
/* Writes the tensors in the order given (names must be distinct), with optional metadata
 * (key/value strings, n_meta pairs). */
int st_write(const char *path, const st_out_tensor *t, int n, const char *const *meta_kv, int n_meta, tetri_error *err);

/* Receives converted bf16 weights: n elements for the allocation at element offset `offset`. */
typedef int (*dit_weight_sink)(void *ctx, int64_t offset, const uint16_t *bf16, int64_t n, tetri_error *err);
/* Loads a diffusers transformer folder into the layout L (built from the folder's config.json by
 * the caller): diffusion_pytorch_model.safetensors, or the shards named by
 * diffusion_pytorch_model.safetensors.index.json. Every parameter of L must be present once, with
 * its exact shape and a float dtype; a tensor the layout does not know is an error too. sink NULL:
 * check the headers only (no data is read), so a bad folder fails before any GPU memory is taken. */
int dit_load_weights_dir(const char *dir, const dit_layout *L, dit_weight_sink sink, void *ctx, tetri_error *err);

#endif
