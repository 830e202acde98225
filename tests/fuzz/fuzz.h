/* tests/fuzz/fuzz.h: one way to write a fuzz target that builds both as a libFuzzer binary
 * (make fuzz) and into the corpus replay program that make check runs (tests/fuzz/replay.c).
 * defines: TETRI_FUZZ_TARGET, tetri_fuzz_fn, tetri_fuzz_register.
 *
 *   TETRI_FUZZ_TARGET(trace) { ...feed data[0..size) to the reader...; return 0; }
 *
 * Built with -DTETRI_LIBFUZZER the body is LLVMFuzzerTestOneInput; otherwise it is a static
 * function that registers itself (a constructor) under its name, so the replay program runs every
 * target linked into it over tests/fuzz/corpus/NAME/ and tests/fuzz/crashes/NAME/. A target
 * reports a broken property by abort() (or by tripping a sanitizer), never by its return value. */
#ifndef TETRI_TESTS_FUZZ_FUZZ_H
#define TETRI_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

typedef int (*tetri_fuzz_fn)(const uint8_t *data, size_t size);

#ifdef TETRI_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define TETRI_FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#else
/* Adds a target to the replay program's list (at most 16). */
void tetri_fuzz_register(const char *name, tetri_fuzz_fn fn);
#define TETRI_FUZZ_TARGET(name)                                                                     \
    static int tetri_fuzz_target_##name(const uint8_t *data, size_t size);                          \
    __attribute__((constructor)) static void tetri_fuzz_register_##name(void)                       \
    {                                                                                               \
        tetri_fuzz_register(#name, tetri_fuzz_target_##name);                                       \
    }                                                                                               \
    static int tetri_fuzz_target_##name(const uint8_t *data, size_t size)
#endif

#endif
