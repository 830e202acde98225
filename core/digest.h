/* core/digest.h: a 64-bit content digest (FNV-1a) that is the same on every machine.
 * defines: TETRI_DIGEST_INIT, tetri_digest_u64, tetri_digest_i64, tetri_digest_double, tetri_digest_str.
 *
 * Results are keyed by what shaped them (a trace's requests, a profile's rows): a digest of that
 * content, not of a file's bytes, so an unrelated change to the file (another hardware's rows,
 * SQLite's page layout) keeps the key. Values go in byte by byte of their integer value (never a
 * struct's bytes: padding), doubles by their IEEE bit pattern. */
#ifndef TETRI_CORE_DIGEST_H
#define TETRI_CORE_DIGEST_H

#include <stdint.h>
#include <string.h>

#define TETRI_DIGEST_INIT 0xcbf29ce484222325ULL

static inline uint64_t tetri_digest_u64(uint64_t h, uint64_t v)
{
    for (int b = 0; b < 64; b += 8) h = (h ^ ((v >> b) & 0xff)) * 0x100000001b3ULL;
    return h;
}
static inline uint64_t tetri_digest_i64(uint64_t h, int64_t v) { return tetri_digest_u64(h, (uint64_t)v); }
static inline uint64_t tetri_digest_double(uint64_t h, double x)
{
    uint64_t v;
    memcpy(&v, &x, sizeof v);
    return tetri_digest_u64(h, v);
}
/* The bytes of s and its end, so "ab","c" and "a","bc" differ. NULL counts as "". */
static inline uint64_t tetri_digest_str(uint64_t h, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return tetri_digest_u64(h, 0);
}

#endif
