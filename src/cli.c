/* cli.c — see cli.h. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gemm.h"

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_help(FILE *f, const char *cmd, const char *usage, const cli_opt *opts)
{
    fprintf(f, "usage: cnndemo %s %s\n\noptions:\n", cmd, usage);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->short_name ? "-" : "",
                 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-28s %s\n", o->short_name ? left : left + 2, o->help);
    }
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
}

static int set_value(const char *cmd, const cli_opt *o, const char *val)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_FLAG: *(int *)o->dest = 1; return 0;
    case CLI_STR: *(const char **)o->dest = val; return 0;
    case CLI_STRS: {
        cli_strs *l = o->dest;
        if (l->n >= CLI_STRS_MAX) {
            fprintf(stderr, "cnndemo %s: --%s given more than %d times\n", cmd, o->name,
                    CLI_STRS_MAX);
            return 2;
        }
        l->v[l->n++] = val;
        return 0;
    }
    case CLI_INT: {
        long v = strtol(val, &end, 10);
        if (errno || *end || end == val || v < o->lo || v > o->hi) {
            fprintf(stderr, "cnndemo %s: --%s expects an integer in [%g, %g], got '%s'\n", cmd,
                    o->name, o->lo, o->hi, val);
            return 2;
        }
        *(int *)o->dest = (int)v;
        return 0;
    }
    case CLI_FLOAT: {
        double v = strtod(val, &end);
        if (errno || *end || end == val || !isfinite(v) || v < o->lo || v > o->hi) {
            fprintf(stderr, "cnndemo %s: --%s expects a number in [%g, %g], got '%s'\n", cmd,
                    o->name, o->lo, o->hi, val);
            return 2;
        }
        *(float *)o->dest = (float)v;
        return 0;
    }
    }
    return 2;
}

int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int argc, char **argv,
              char **pos, int *npos)
{
    *npos = 0;
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_help(stdout, cmd, usage, opts);
            return -1;
        }
        const cli_opt *o = NULL;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            for (const cli_opt *c = opts; c->name; c++)
                if (strlen(c->name) == n && strncmp(c->name, name, n) == 0) o = c;
            if (eq) inline_val = eq + 1;
        } else if (a[2] == '\0') {
            for (const cli_opt *c = opts; c->name; c++)
                if (c->short_name == a[1]) o = c;
        }
        if (!o) {
            fprintf(stderr, "cnndemo %s: unknown option '%s' (see cnndemo %s --help)\n", cmd, a, cmd);
            return 2;
        }
        if (o->kind == CLI_FLAG) {
            if (inline_val) {
                fprintf(stderr, "cnndemo %s: --%s takes no value\n", cmd, o->name);
                return 2;
            }
            *(int *)o->dest = 1;
            continue;
        }
        const char *val = inline_val;
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cnndemo %s: option '%s' needs a value\n", cmd, a);
                return 2;
            }
            val = argv[++i];
        }
        int rc = set_value(cmd, o, val);
        if (rc) return rc;
    }
    return 0;
}

int cli_report(const cnn_error *err)
{
    fprintf(stderr, "cnndemo: %s\n", err->msg);
    return cnn_status_exit_code(err->code);
}

int cli_apply_threads(int threads)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    cnn_blas_set_threads(1); /* the network's own pool splits the work (pool.c) */
    return threads;
}

int cli_apply_blas_threads(int threads)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    cnn_blas_set_threads(threads);
    return threads;
}

int cli_open_model(const cli_model_opts *mo, const char *default_model, int batch, cnn_model *m)
{
    cnn_error err = {0};
    cnn_model_paths paths;
    if (mo->cfg) {
        if (mo->model) {
            fprintf(stderr, "cnndemo: use either -m or --cfg, not both\n");
            return 2;
        }
        if (!mo->weights) {
            fprintf(stderr, "cnndemo: --cfg needs --weights\n");
            return 2;
        }
        memset(&paths, 0, sizeof paths);
        const char *base = strrchr(mo->cfg, '/');
        snprintf(paths.name, sizeof paths.name, "%s", base ? base + 1 : mo->cfg);
        char *dot = strrchr(paths.name, '.');
        if (dot && strcmp(dot, ".cfg") == 0) *dot = '\0';
        snprintf(paths.cfg, sizeof paths.cfg, "%s", mo->cfg);
        snprintf(paths.weights, sizeof paths.weights, "%s", mo->weights);
    } else {
        if (mo->weights) {
            fprintf(stderr, "cnndemo: --weights needs --cfg\n");
            return 2;
        }
        if (cnn_model_resolve(mo->model ? mo->model : default_model, &paths, &err))
            return cli_report(&err);
    }
    if (mo->names) snprintf(paths.names, sizeof paths.names, "%s", mo->names);
    if (cnn_model_open(&paths, batch, mo->inference_only, m, &err)) return cli_report(&err);
    return 0;
}
