/* cli.h — command-line plumbing shared by the commands: an option table per command (parsing,
 * range checks and --help text come from the same rows), model selection, input listing.
 * Only the CLI prints; messages go to stderr as one line "cnndemo: ...". */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include <stdio.h>

#include "model.h"

typedef enum { CLI_FLAG, CLI_INT, CLI_FLOAT, CLI_STR, CLI_STRS } cli_kind;

/* Values of a repeatable option (CLI_STRS): each occurrence appends one, in order. */
#define CLI_STRS_MAX 16
typedef struct {
    const char *v[CLI_STRS_MAX];
    int n;
} cli_strs;

typedef struct {
    const char *name;  /* long name without dashes */
    char short_name;   /* 0 when none */
    cli_kind kind;
    void *dest;        /* int* for FLAG and INT, float*, const char**, cli_strs* */
    const char *arg;   /* argument placeholder for help, e.g. "N" */
    const char *help;
    double lo, hi;     /* range for INT and FLOAT */
} cli_opt;

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

extern const cli_command cli_commands[];

/* Parses argv (after the command name). Positional arguments are returned in order in pos
 * (a caller-provided array of argc pointers). "--help"/"-h" prints help and returns -1.
 * Returns 0, or 2 after printing a usage error. */
int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int argc, char **argv,
              char **pos, int *npos);
void cli_help(FILE *f, const char *cmd, const char *usage, const cli_opt *opts);

/* Model selection options every model-using command shares. */
typedef struct {
    const char *model, *cfg, *weights, *names;
    int threads;
    int inference_only; /* not an option: set by commands that only run forward passes, so
                           batch-norm is folded into the weights in place (cnn_net_fold_in_place) */
} cli_model_opts;

#define CLI_MODEL_OPTS(mo)                                                                      \
    {"model", 'm', CLI_STR, &(mo).model, "NAME", "model name (models/NAME.cfg + weights/NAME.weights) or path prefix", 0, 0}, \
    {"cfg", 0, CLI_STR, &(mo).cfg, "FILE", "darknet .cfg (instead of -m)", 0, 0},                \
    {"weights", 0, CLI_STR, &(mo).weights, "FILE", "darknet .weights (with --cfg)", 0, 0},       \
    {"names", 0, CLI_STR, &(mo).names, "FILE", "class names, one per line", 0, 0},               \
    {"threads", 't', CLI_INT, &(mo).threads, "N", "threads (cores) per forward pass (default: all cores)", 1, 256}

/* Resolves and opens the model; prints the error and returns an exit code (0 on success). */
int cli_open_model(const cli_model_opts *mo, const char *default_model, int batch, cnn_model *m);

/* Prints "cnndemo: <message>" on stderr and returns the exit code for the status. */
int cli_report(const cnn_error *err);

/* Resolves the thread count (mo->threads, or all cores for 0) and returns it; sets OpenBLAS to
 * one thread, since a network splits its layers over its own pool (cnn_net_set_threads). */
int cli_apply_threads(int threads);
/* Training: the forward and backward GEMMs call OpenBLAS directly (no pool), so OpenBLAS gets
 * the threads (0 = all cores). Returns the count. */
int cli_apply_blas_threads(int threads);

double cli_now(void);

#endif
