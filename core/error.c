/* core/error.c: error messages (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tetri_errorf(tetri_error *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tetri_error_prefix(tetri_error *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    int plen = (int)strnlen(prefix, 255);
    snprintf(err->msg, sizeof err->msg, "%.*s: %.*s", plen, prefix, (int)(sizeof err->msg) - plen - 3, old);
    return -1;
}
