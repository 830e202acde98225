/* core/error.h: error messages that travel up to the command line.
 * defines: tetri_error, tetri_errorf, tetri_error_prefix.
 *
 * Every error a user can cause ends as one message naming the file, line or field and why; the
 * function that finds it fills a tetri_error, its callers return -1 and the command prints it. */
#ifndef TETRI_CORE_ERROR_H
#define TETRI_CORE_ERROR_H

#include <stddef.h>

typedef struct tetri_error {
    char msg[768];
} tetri_error;

/* Sets err->msg (err may be NULL). Always returns -1, so `return tetri_errorf(err, ...)` works. */
int tetri_errorf(tetri_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to an existing message (context from an outer layer). Returns -1. */
int tetri_error_prefix(tetri_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
