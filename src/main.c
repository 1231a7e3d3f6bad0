/* main.c — the command table and process-level concerns (exit codes, --version).
 * Each command lives in cmd_<name>.c and returns its exit code. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gemm.h"

int cmd_detect(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_init_weights(int argc, char **argv);
static int cmd_help(int argc, char **argv);

const cli_command cli_commands[] = {
    {"detect", cmd_detect, "find objects: annotated images + JSONL/CSV/YOLO txt results"},
    {"classify", cmd_classify, "top-k classes per image, with an annotated banner"},
    {"bench", cmd_bench, "forward-pass latency: warm-up, percentiles, GFLOP/s, per-layer"},
    {"info", cmd_info, "layer table, parameters, FLOPs and the weights-file check"},
    {"forward", cmd_forward, "run one image and dump input and layer outputs as .npy"},
    {"init-weights", cmd_init_weights, "write SEEDED RANDOM weights for a cfg (tests only)"},
    {"help", cmd_help, "show help for a command"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: cnndemo <command> [options] [inputs]\n\ncommands:\n");
    for (const cli_command *c = cli_commands; c->name; c++) fprintf(f, "  %-13s %s\n", c->name, c->summary);
    fprintf(f, "\n`cnndemo <command> --help` for a command's options; `cnndemo --version`.\n");
}

static void version(void)
{
    printf("cnndemo %s\n", CNN_VERSION);
    printf("OpenBLAS: %s\n", cnn_blas_config());
    printf("OpenBLAS kernel family: %s, %d thread%s\n", cnn_blas_corename(), cnn_blas_threads(),
           cnn_blas_threads() == 1 ? "" : "s");
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 1) {
        usage(stdout);
        return 0;
    }
    for (const cli_command *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, argv[0]) == 0 && c->run != cmd_help) {
            char *help_argv[] = {"--help", NULL};
            return c->run(1, help_argv);
        }
    }
    fprintf(stderr, "cnndemo: unknown command '%s'\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        version();
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (const cli_command *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) return c->run(argc - 2, argv + 2);
    }
    fprintf(stderr, "cnndemo: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
