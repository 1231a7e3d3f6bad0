/* status.c — formatting of error values; see status.h. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

cnn_status cnn_fail(cnn_error *err, cnn_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void cnn_error_prefix(cnn_error *err, const char *fmt, ...)
{
    if (!err) return;
    char head[256], old[CNN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(head);
    if (n >= sizeof err->msg) n = sizeof err->msg - 1;
    memcpy(err->msg, head, n);
    size_t rest = strlen(old);
    if (rest > sizeof err->msg - 1 - n) rest = sizeof err->msg - 1 - n;
    memcpy(err->msg + n, old, rest);
    err->msg[n + rest] = '\0';
}

void cnn_error_clear(cnn_error *err)
{
    if (!err) return;
    err->code = CNN_OK;
    err->msg[0] = '\0';
}

int cnn_status_exit_code(cnn_status s)
{
    switch (s) {
    case CNN_OK: return 0;
    case CNN_ERR_USAGE: return 2;
    case CNN_ERR_MODEL: return 3;
    case CNN_ERR_INPUT: return 4;
    case CNN_ERR_OUTPUT: return 5;
    case CNN_ERR_INTERRUPTED: return 130;
    case CNN_ERR_INTERNAL:
    case CNN_ERR_NOMEM:
    default: return 1;
    }
}
