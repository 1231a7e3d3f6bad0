/* cmd_bench.c — `cnndemo bench`: latency of the forward pass with warm-up, percentiles,
 * achieved GFLOP/s and an optional per-layer profile whose sum is checked against the total. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gemm.h"
#include "rng.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

int cmd_bench(int argc, char **argv)
{
    cli_model_opts mo = {0};
    int warmup = 10, runs = 50, per_layer = 0, json = 0, batch = 1;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(mo),
        {"warmup", 'w', CLI_INT, &warmup, "N", "untimed runs first (default 10)", 0, 100000},
        {"runs", 'n', CLI_INT, &runs, "N", "timed runs (default 50)", 1, 1000000},
        {"batch", 'b', CLI_INT, &batch, "N", "images per forward pass (default 1)", 1, 1024},
        {"per-layer", 0, CLI_FLAG, &per_layer, NULL, "table of time per layer", 0, 0},
        {"json", 0, CLI_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0},
        {0},
    };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("bench", "[options] [IMAGE]", opts, argc, argv, pos, &npos) : 1;
    const char *image = npos ? pos[0] : NULL;
    free(pos);
    if (rc) return rc < 0 ? 0 : rc;
    int threads = cli_apply_threads(mo.threads);
    cnn_model m;
    mo.inference_only = 1;
    if ((rc = cli_open_model(&mo, "face", batch, &m))) return rc;
    cnn_net *net = m.net;
    cnn_error terr = {0};
    if (cnn_net_set_threads(net, threads, &terr)) {
        cnn_model_close(&m);
        return cli_report(&terr);
    }
    const size_t n_in = cnn_shape_size(net->in);
    if (image) {
        cnn_rgb8 img;
        cnn_image_format fmt;
        cnn_error err = {0};
        cnn_image_limits lim = cnn_image_limits_default();
        if (cnn_image_load(image, &lim, &img, &fmt, &err)) {
            cnn_model_close(&m);
            return cli_report(&err);
        }
        cnn_frame frame;
        for (int b = 0; b < batch; b++) cnn_preprocess(&img, &net->pp, net->input + b * n_in, &frame);
        cnn_rgb8_free(&img);
    } else {
        cnn_rng rng = cnn_rng_seed(42);
        for (size_t i = 0; i < n_in * batch; i++) net->input[i] = cnn_rng_uniform(&rng);
    }
    double *times = malloc(sizeof *times * runs);
    double *layer = calloc((size_t)net->n_layers, sizeof *layer);
    double *layer_sum = calloc((size_t)net->n_layers, sizeof *layer_sum);
    if (!times || !layer || !layer_sum) {
        fprintf(stderr, "cnndemo: out of memory\n");
        cnn_model_close(&m);
        return 1;
    }
    for (int i = 0; i < warmup; i++) cnn_net_forward(net, NULL);
    for (int i = 0; i < runs; i++) {
        double t = cli_now();
        cnn_net_forward(net, per_layer ? layer : NULL);
        times[i] = (cli_now() - t) * 1e3;
        if (per_layer)
            for (int l = 0; l < net->n_layers; l++) layer_sum[l] += layer[l] * 1e3;
    }
    double total = 0;
    for (int i = 0; i < runs; i++) total += times[i];
    double mean = total / runs;
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    double med = percentile(times, runs, 0.5), p90 = percentile(times, runs, 0.9),
           p99 = percentile(times, runs, 0.99);
    double gflop = net->flops * batch / 1e9;
    if (json) {
        printf("{\"model\": \"%s\", \"input\": [%d, %d, %d], \"batch\": %d, \"threads\": %d, "
               "\"blas_core\": \"%s\", \"warmup\": %d, \"runs\": %d, \"ms\": {\"min\": %.4f, "
               "\"median\": %.4f, \"mean\": %.4f, \"p90\": %.4f, \"p99\": %.4f, \"max\": %.4f}, "
               "\"images_per_s\": %.2f, \"gflops_per_image\": %.4f, \"achieved_gflops\": %.2f",
               m.paths.name, net->in.c, net->in.h, net->in.w, batch, threads, cnn_blas_corename(),
               warmup, runs, times[0], med, mean, p90, p99, times[runs - 1], batch * 1e3 / med,
               net->flops / 1e9, gflop / (med / 1e3));
        if (per_layer) {
            printf(", \"layers\": [");
            for (int l = 0; l < net->n_layers; l++)
                printf("%s{\"index\": %d, \"type\": \"%s\", \"ms\": %.4f, \"gflops\": %.4f}", l ? ", " : "",
                       l, net->layers[l].ops->type, layer_sum[l] / runs, net->layers[l].flops / 1e9);
            printf("]");
        }
        printf("}\n");
    } else {
        printf("model %s, input %dx%dx%d, batch %d, %d thread%s (OpenBLAS %s kernels)\n",
               m.paths.name, net->in.w, net->in.h, net->in.c, batch, threads, threads == 1 ? "" : "s",
               cnn_blas_corename());
        printf("%d warm-up + %d timed runs (ms): min %.3f  median %.3f  mean %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
               warmup, runs, times[0], med, mean, p90, p99, times[runs - 1]);
        printf("%.1f images/s, %.3f GFLOPs per image, %.1f GFLOP/s achieved (median)\n",
               batch * 1e3 / med, net->flops / 1e9, gflop / (med / 1e3));
        if (per_layer) {
            double sum = 0;
            for (int l = 0; l < net->n_layers; l++) sum += layer_sum[l] / runs;
            printf("\n%4s %-9s %14s -> %-14s %9s %9s %6s %8s\n", "#", "type", "input", "output",
                   "GFLOPs", "ms", "%", "GFLOP/s");
            for (int l = 0; l < net->n_layers; l++) {
                const cnn_layer *ly = &net->layers[l];
                double ms = layer_sum[l] / runs;
                char in[32], out[32];
                snprintf(in, sizeof in, "%dx%dx%d", ly->in.w, ly->in.h, ly->in.c);
                snprintf(out, sizeof out, "%dx%dx%d", ly->out.w, ly->out.h, ly->out.c);
                printf("%4d %-9s %14s -> %-14s %9.4f %9.3f %6.1f %8.1f\n", l, ly->ops->type, in, out,
                       ly->flops / 1e9, ms, 100 * ms / sum,
                       ms > 0 ? ly->flops * batch / 1e9 / (ms / 1e3) : 0);
            }
            printf("sum of layers %.3f ms vs mean forward %.3f ms (%.1f%% difference)\n", sum, mean,
                   100 * (sum - mean) / mean);
        }
    }
    free(times);
    free(layer);
    free(layer_sum);
    cnn_model_close(&m);
    return 0;
}
