/* status.h — error values for the whole library.
 * Every fallible function returns a cnn_status and fills a caller-owned cnn_error with a
 * one-line message that says where (file, line, layer) and what (expected vs actual).
 * Library code never prints and never exits; main.c maps the status to an exit code. */
#ifndef CNN_STATUS_H
#define CNN_STATUS_H

typedef enum {
    CNN_OK = 0,
    CNN_ERR_INTERNAL = 1,  /* a bug or an impossible state */
    CNN_ERR_USAGE = 2,     /* bad command-line use */
    CNN_ERR_MODEL = 3,     /* cfg, weights or names file problem */
    CNN_ERR_INPUT = 4,     /* an input image or list could not be used */
    CNN_ERR_OUTPUT = 5,    /* an output could not be written */
    CNN_ERR_NOMEM = 6,     /* allocation failed (mapped to exit 1) */
    CNN_ERR_INTERRUPTED = 130
} cnn_status;

#define CNN_ERROR_MSG_MAX 768

typedef struct {
    cnn_status code;
    char msg[CNN_ERROR_MSG_MAX];
} cnn_error;

/* Formats the message into err (if err is non-NULL) and returns code, so that callers can
 * write `return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: bad value", path, line);`. */
cnn_status cnn_fail(cnn_error *err, cnn_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message, e.g. with the layer that was being built. */
void cnn_error_prefix(cnn_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void cnn_error_clear(cnn_error *err);

/* Process exit code for a status (DESIGN.md §4). */
int cnn_status_exit_code(cnn_status s);

#endif
