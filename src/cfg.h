/* cfg.h — strict reader for darknet-style .cfg files.
 * A cfg is a list of [sections] of key=value options. Typed getters mark options as used and
 * check ranges; after a layer has taken what it knows, cnn_cfg_check_unused turns any leftover
 * option into an error naming file:line, so a typo never passes silently.
 * The cnn_cfg owns all strings; sections and options are arrays in file order. */
#ifndef CNN_CFG_H
#define CNN_CFG_H

#include <stddef.h>

#include "status.h"

typedef struct {
    char *key, *val;
    int line;
    int used;
} cnn_cfg_opt;

typedef struct {
    char *name; /* without brackets */
    int line;
    cnn_cfg_opt *opts;
    int n_opts, cap_opts;
} cnn_cfg_section;

typedef struct {
    char *path; /* for messages */
    cnn_cfg_section *secs;
    int n_secs, cap_secs;
} cnn_cfg;

cnn_status cnn_cfg_load(const char *path, cnn_cfg *cfg, cnn_error *err);
cnn_status cnn_cfg_parse(const char *text, size_t len, const char *path, cnn_cfg *cfg,
                         cnn_error *err);
void cnn_cfg_free(cnn_cfg *cfg);

/* Getters: an absent key yields the default; a present one must parse completely and lie in
 * [lo, hi], else CNN_ERR_MODEL with "path:line: [section] key=value: reason". */
cnn_status cnn_cfg_int(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, int def, int lo,
                       int hi, int *out, cnn_error *err);
cnn_status cnn_cfg_float(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, float def,
                         float lo, float hi, float *out, cnn_error *err);
/* Comma-separated lists; *n receives the count (0 when absent). More than max values is an error. */
cnn_status cnn_cfg_ints(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, int *out,
                        int max, int *n, cnn_error *err);
cnn_status cnn_cfg_floats(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, float *out,
                          int max, int *n, cnn_error *err);
/* String value or def; never fails. */
const char *cnn_cfg_str(cnn_cfg_section *s, const char *key, const char *def);
/* Finds an option (marking it used) or returns NULL. */
cnn_cfg_opt *cnn_cfg_find(cnn_cfg_section *s, const char *key);

/* Marks options that darknet accepts for training only; they are still checked to be numbers. */
cnn_status cnn_cfg_accept_numbers(const cnn_cfg *cfg, cnn_cfg_section *s, const char *const *keys,
                                  cnn_error *err);
/* Marks options whose value is free text (e.g. policy=steps). */
void cnn_cfg_accept_any(cnn_cfg_section *s, const char *const *keys);

/* Error for the first option no getter asked for. */
cnn_status cnn_cfg_check_unused(const cnn_cfg *cfg, const cnn_cfg_section *s, cnn_error *err);

/* Error "path:line: [section] key=value: <message>" (o may be NULL: then the section line). */
cnn_status cnn_cfg_fail_err(cnn_error *err, const cnn_cfg *cfg, const cnn_cfg_section *s,
                            const cnn_cfg_opt *o, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
