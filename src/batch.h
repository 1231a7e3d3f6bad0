/* batch.h — the pure parts of batch runs: deterministic sharding of the input list and the
 * reading of a previous run's results.jsonl for --resume. (The worker pool is in cmd_run.c.) */
#ifndef CNN_BATCH_H
#define CNN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "inputs.h"
#include "status.h"

/* Shard of an input path: FNV-1a 64 of the path string, modulo n. Depends only on the path, so
 * it is stable however the directory listing is ordered and whichever machine runs it. */
int cnn_shard_of(const char *path, int n);
/* Parses "i/N" (0 <= i < N <= 100000). Returns 0 on success. */
int cnn_shard_parse(const char *s, int *i, int *n);

/* Extracts the JSON string value of a top-level key from one of our JSONL lines (unescaping).
 * Returns 1 when found as a string, 0 when the value is null, -1 when absent or malformed. */
int cnn_jsonl_string(const char *line, const char *key, char *out, size_t n);

/* A previous run's results: complete lines only (a line cut short by a kill is dropped). */
typedef struct {
    cnn_strlist lines; /* kept lines, each with its '\n' */
    cnn_strlist done;  /* their paths, sorted, for cnn_resume_done */
} cnn_resume;

/* Reads DIR/results.jsonl if it exists. A line is kept when it is complete, has no error, and
 * its annotated image (if any) still exists. */
cnn_status cnn_resume_load(const char *results_path, cnn_resume *r, cnn_error *err);
int cnn_resume_done(const cnn_resume *r, const char *path);
void cnn_resume_free(cnn_resume *r);

/* What a run's outputs depend on besides its inputs, as one comparable line: the task, the
 * sha256 of the model's cfg, weights and names files ("-" for none), conf, iou, top_k, max_det
 * and letterbox. --resume and merge refuse folders whose settings differ. */
#define CNN_RUN_SETTINGS_MAX 512
typedef struct {
    const char *task;
    const char *sha256[3]; /* cfg, weights, names: 64 hex digits, or NULL */
    double conf, iou;
    int top_k, max_det, letterbox;
} cnn_run_settings;
void cnn_run_settings_line(const cnn_run_settings *s, char *out, size_t n);
/* From DIR/run.json: the settings line, and whether the run finished without being
 * interrupted. A folder without run.json is CNN_ERR_INPUT. */
cnn_status cnn_run_settings_load(const char *dir, char *line, size_t n, int *finished, cnn_error *err);

#endif
