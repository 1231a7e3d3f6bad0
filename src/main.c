/* main.c — the command table and process-level concerns (exit codes, --version).
 * Each command lives in cmd_<name>.c and returns its exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "gemm.h"

int cmd_detect(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_val(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_init_weights(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_study(int argc, char **argv);
static int cmd_help(int argc, char **argv);

const cli_command cli_commands[] = {
    {"detect", cmd_detect, "find objects: annotated images + JSONL/CSV/YOLO txt results"},
    {"classify", cmd_classify, "top-k classes per image, with an annotated banner"},
    {"val", cmd_val, "accuracy on a labelled dataset: top-1/5, confusion, AUC; mAP; --fail-under"},
    {"bench", cmd_bench, "forward-pass latency: warm-up, percentiles, GFLOP/s, per-layer"},
    {"merge", cmd_merge, "combine the output folders of sharded runs (--shard i/N)"},
    {"train", cmd_train, "train a cfg on a dataset (Fashion-MNIST IDX, ImageFolder, YOLO labels)"},
    {"study", cmd_study, "controlled training experiments: `study activations` (ReLU, leaky, PReLU, ...)"},
    {"info", cmd_info, "layer table, parameters, FLOPs and the weights-file check"},
    {"forward", cmd_forward, "run one image and dump input and layer outputs as .npy"},
    {"synth", cmd_synth, "write a SYNTHETIC MRI-like tumour dataset (phantoms, YOLO + folders)"},
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

/* OpenBLAS fixes its kernel family when the library initialises, before main(); the only
 * supported way to choose it is the OPENBLAS_CORETYPE environment variable. On CPUs with
 * AVX-512 (this project's Zen 5 machines) its AVX2 "Haswell" kernels run sgemm ~1.4x slower than
 * its "SkylakeX" ones, and machines are seen with OPENBLAS_CORETYPE=Haswell preset. So when the
 * family in use is an AVX2-or-older one and the CPU has AVX-512, set SkylakeX and re-execute
 * ourselves, once. CNNDEMO_BLAS_CORETYPE=<family> forces a family (e.g. Haswell) instead. */
static void choose_blas_kernels(char **argv)
{
    if (getenv("CNNDEMO_BLAS_CHOSEN")) return; /* already re-executed */
    const char *forced = getenv("CNNDEMO_BLAS_CORETYPE");
    const char *core = cnn_blas_corename();
    const char *want = NULL;
    if (forced && forced[0]) {
        if (strcasecmp(core, forced) != 0) want = forced;
    } else if (strstr(cnn_blas_config(), "DYNAMIC_ARCH")) {
        static const char *const weaker[] = {"Haswell", "Zen", "SandyBridge", "Nehalem", "Core2",
                                             "Prescott", "Katmai", "Penryn", "Dunnington",
                                             "Atom", "Barcelona", "Bulldozer", "Piledriver",
                                             "Steamroller", "Excavator", NULL};
        int is_weaker = 0;
        for (const char *const *w = weaker; *w; w++) is_weaker |= strcasecmp(core, *w) == 0;
        __builtin_cpu_init();
        if (is_weaker && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            want = "SkylakeX";
    }
    if (!want) return;
    setenv("CNNDEMO_BLAS_CHOSEN", core, 1);
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv); /* only returns on failure: carry on with what we have */
}

static void version(void)
{
    printf("cnndemo %s\n", CNN_VERSION);
    printf("OpenBLAS: %s\n", cnn_blas_config());
    const char *was = getenv("CNNDEMO_BLAS_CHOSEN");
    char why[160];
    if (was && getenv("CNNDEMO_BLAS_CORETYPE"))
        snprintf(why, sizeof why, "forced by CNNDEMO_BLAS_CORETYPE; %s otherwise", was);
    else if (was)
        snprintf(why, sizeof why, "chosen by cnndemo for this AVX-512 CPU instead of %s", was);
    else
        snprintf(why, sizeof why, "as OpenBLAS chose it");
    printf("OpenBLAS kernel family: %s, %d thread%s (%s)\n", cnn_blas_corename(),
           cnn_blas_threads(), cnn_blas_threads() == 1 ? "" : "s", why);
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
    choose_blas_kernels(argv);
    /* OpenBLAS runs on one thread: a network splits its layers over its own pool (pool.c) */
    cnn_blas_set_threads(1);
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
