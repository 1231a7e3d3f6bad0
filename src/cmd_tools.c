/* cmd_tools.c — the inspection commands: `info` (layer table, totals, weights check; with
 * --stats, per-layer activation statistics on images),
 * `forward` (dump the input and layer outputs as .npy), `init-weights` (seeded random weights
 * for tests; never a model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actstats.h"
#include "cli.h"
#include "fsutil.h"
#include "inputs.h"
#include "npy.h"
#include "rng.h"

static void shape_str(cnn_shape s, char *buf, size_t n) { snprintf(buf, n, "%dx%dx%d", s.w, s.h, s.c); }

/* `info --stats`: every layer's activation statistics (actstats.h) over the images, one
 * forward each. Images that cannot be read are reported and skipped (exit 4). */
static int print_stats(cnn_net *net, const cnn_strlist *images)
{
    cnn_actstats st;
    cnn_error err = {0};
    if (cnn_actstats_init(&st, net, &err)) return cli_report(&err);
    cnn_image_limits lim = cnn_image_limits_default();
    int failed = 0;
    for (size_t i = 0; i < images->n; i++) {
        cnn_rgb8 img;
        cnn_image_format fmt;
        if (cnn_image_load(images->items[i], &lim, &img, &fmt, &err)) {
            fprintf(stderr, "cnndemo: %s\n", err.msg);
            failed++;
            continue;
        }
        cnn_frame frame;
        cnn_preprocess(&img, &net->pp, net->input, &frame);
        cnn_rgb8_free(&img);
        cnn_net_forward(net, NULL);
        cnn_actstats_add(&st, net, 1);
    }
    if (st.items) {
        printf("\nactivation statistics over %lld image%s (zeros: exact zeros among the outputs; dead: "
               "channels that are exactly 0 everywhere in every image; inactive: never above act(0))\n",
               st.items, st.items == 1 ? "" : "s");
        printf("%4s %-9s %-14s %-10s %8s %17s %9s %12s\n", "#", "type", "output", "activation",
               "zeros %", "dead / channels", "inactive", "mean");
        for (int i = 0; i < net->n_layers; i++) {
            const cnn_layer *l = &net->layers[i];
            const cnn_layer_actstats *a = &st.layers[i];
            char out[32], dead[40];
            shape_str(l->out, out, sizeof out);
            snprintf(dead, sizeof dead, "%d / %d", cnn_actstats_dead(a), a->channels);
            printf("%4d %-9s %-14s %-10s %8.2f %17s %9d %12.5g\n", i, l->ops->type, out,
                   cnn_activation_name(l->act), 100 * cnn_actstats_sparsity(a), dead,
                   cnn_actstats_inactive(a), cnn_actstats_mean(a));
        }
    }
    cnn_actstats_free(&st);
    if (failed) fprintf(stderr, "cnndemo: %d of %zu images could not be read\n", failed, images->n);
    return failed ? 4 : 0;
}

int cmd_info(int argc, char **argv)
{
    cli_model_opts mo = {0};
    int stats = 0;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(mo),
        {"stats", 0, CLI_FLAG, &stats, NULL,
         "per-layer zeros %, dead and inactive channels, mean output over the IMAGES (needs weights)", 0, 0},
        {0}};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("info", "[options] [--stats IMAGE...]", opts, argc, argv, pos, &npos) : 1;
    cnn_strlist images = {0};
    cnn_error err = {0};
    if (!rc && npos && !stats) {
        fprintf(stderr, "cnndemo info: images are only read with --stats\n");
        rc = 2;
    } else if (!rc && stats && !npos) {
        fprintf(stderr, "cnndemo info: --stats needs one or more images (files, folders, @list.txt)\n");
        rc = 2;
    } else if (!rc && stats && cnn_inputs_collect(pos, npos, 0, &images, &err)) {
        rc = cli_report(&err);
    }
    free(pos);
    if (rc) {
        cnn_strlist_free(&images);
        return rc < 0 ? 0 : rc;
    }
    /* Load the cfg alone first, so the weights check can be reported rather than fatal. */
    cnn_model m;
    cnn_model_paths paths;
    if (mo.cfg) {
        memset(&paths, 0, sizeof paths);
        snprintf(paths.cfg, sizeof paths.cfg, "%s", mo.cfg);
        snprintf(paths.name, sizeof paths.name, "%s", mo.cfg);
        if (mo.weights) snprintf(paths.weights, sizeof paths.weights, "%s", mo.weights);
        if (mo.names) snprintf(paths.names, sizeof paths.names, "%s", mo.names);
    } else if (cnn_model_resolve(mo.model ? mo.model : "face", &paths, &err)) {
        cnn_strlist_free(&images);
        return cli_report(&err);
    }
    char weights[CNN_PATH_MAX];
    snprintf(weights, sizeof weights, "%s", paths.weights);
    paths.weights[0] = '\0';
    if (cnn_model_open(&paths, 1, 0, &m, &err)) {
        cnn_strlist_free(&images);
        return cli_report(&err);
    }
    const cnn_net *net = m.net;
    printf("model %s (%s)\ninput %dx%dx%d, %s, letterbox %s\n", paths.name, paths.cfg, net->in.w,
           net->in.h, net->in.c, net->pp.kernel == CNN_RESIZE_LINEAR ? "bilinear" : "bilinear_legacy",
           net->pp.letterbox == CNN_LETTERBOX_NONE ? "none"
           : net->pp.letterbox == CNN_LETTERBOX_CENTER ? "center" : "topleft");
    printf("%4s %-9s %-18s %14s -> %-14s %10s %9s  %s\n", "#", "type", "options", "input", "output",
           "params", "GFLOPs", "activation");
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        char desc[64] = "", in[32], out[32];
        if (l->ops->describe) l->ops->describe(l, desc, sizeof desc);
        shape_str(l->in, in, sizeof in);
        shape_str(l->out, out, sizeof out);
        printf("%4d %-9s %-18s %14s -> %-14s %10zu %9.4f  %s\n", i, l->ops->type, desc, in, out,
               l->n_params, l->flops / 1e9,
               l->n_params && strcmp(l->ops->type, "conv") == 0 ? cnn_activation_name(l->act)
               : l->act != CNN_ACT_LINEAR ? cnn_activation_name(l->act) : "");
    }
    printf("total: %d layers, %zu parameters, %.3f GFLOPs per image, %.1f MiB planned memory\n",
           net->n_layers, net->n_params, net->flops / 1e9, cnn_net_memory_bytes(net) / 1048576.0);
    printf("classes: %d, names: %s (%d)\n", m.n_classes, paths.names[0] ? paths.names : "none",
           m.n_names);
    rc = 0;
    if (weights[0]) {
        if (cnn_net_load_weights(m.net, weights, &err)) {
            printf("weights: %s: FAILED\n", weights);
            rc = cli_report(&err);
        } else {
            printf("weights: %s: OK (%llu bytes, version %d.%d.%d, seen %llu)\n", weights,
                   (unsigned long long)cnn_net_weights_bytes(net, net->major, net->minor),
                   net->major, net->minor, net->revision, (unsigned long long)net->seen);
        }
    }
    if (stats && !rc) {
        if (!weights[0]) {
            fprintf(stderr, "cnndemo info: --stats needs weights (-m NAME, or --cfg with --weights)\n");
            rc = 2;
        } else {
            cli_apply_threads(mo.threads);
            fflush(stdout);
            rc = print_stats(m.net, &images);
        }
    }
    cnn_strlist_free(&images);
    cnn_model_close(&m);
    return rc;
}

int cmd_forward(int argc, char **argv)
{
    cli_model_opts mo = {0};
    const char *dump = NULL, *input_npy = NULL;
    int all = 0, letterbox = 0;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(mo),
        {"dump", 'd', CLI_STR, &dump, "DIR", "write input.npy and layer outputs as .npy here", 0, 0},
        {"all", 'a', CLI_FLAG, &all, NULL, "dump every layer (default: outputs and heads)", 0, 0},
        {"input", 0, CLI_STR, &input_npy, "FILE", "raw float32 (c,h,w) input instead of an image", 0, 0},
        {"letterbox", 0, CLI_FLAG, &letterbox, NULL, "keep aspect ratio (darknet letterbox)", 0, 0},
        {0},
    };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("forward", "[options] [IMAGE] --dump DIR", opts, argc, argv, pos, &npos) : 1;
    const char *image = npos > 0 ? pos[0] : NULL;
    free(pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!dump || (!image && !input_npy) || (image && input_npy) || npos > 1) {
        fprintf(stderr, "cnndemo forward: give one IMAGE (or --input FILE) and --dump DIR\n");
        return 2;
    }
    cnn_model m;
    const int threads = cli_apply_threads(mo.threads);
    if ((rc = cli_open_model(&mo, "face", 1, &m))) return rc;
    cnn_net *net = m.net;
    cnn_error err = {0};
    cnn_status st = cnn_net_set_threads(net, threads, &err);
    if (st) goto out;
    size_t n_in = cnn_shape_size(net->in);
    if (input_npy) {
        char *raw;
        size_t n;
        if ((st = cnn_read_file(input_npy, n_in * 4 + 1, &raw, &n, CNN_ERR_INPUT, &err))) goto out;
        if (n != n_in * 4) {
            free(raw);
            st = cnn_fail(&err, CNN_ERR_INPUT, "%s: %zu bytes, the network input needs %zu", input_npy, n, n_in * 4);
            goto out;
        }
        memcpy(net->input, raw, n);
        free(raw);
    } else {
        cnn_rgb8 img;
        cnn_image_format fmt;
        cnn_image_limits lim = cnn_image_limits_default();
        if ((st = cnn_image_load(image, &lim, &img, &fmt, &err))) goto out;
        if (letterbox) net->pp.letterbox = CNN_LETTERBOX_CENTER, net->pp.fill = 0.5f;
        cnn_frame frame;
        cnn_preprocess(&img, &net->pp, net->input, &frame);
        cnn_rgb8_free(&img);
    }
    cnn_net_forward(net, NULL);
    if ((st = cnn_mkdirs(dump, &err))) goto out;
    char path[CNN_PATH_MAX + 64];
    int shape[4] = {1, net->in.c, net->in.h, net->in.w};
    snprintf(path, sizeof path, "%s/input.npy", dump);
    if ((st = cnn_npy_save(path, net->input, shape, 4, &err))) goto out;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        int is_out = i == net->n_layers - 1 || l->role != CNN_LAYER_PLAIN ||
                     (i + 1 < net->n_layers && net->layers[i + 1].role == CNN_LAYER_YOLO);
        if (!all && !is_out) continue;
        int s[4] = {1, l->out.c, l->out.h, l->out.w};
        snprintf(path, sizeof path, "%s/layer_%03d_%s.npy", dump, i, l->ops->type);
        if ((st = cnn_npy_save(path, l->output, s, 4, &err))) goto out;
    }
out:
    cnn_model_close(&m);
    return st ? cli_report(&err) : 0;
}

int cmd_init_weights(int argc, char **argv)
{
    const char *cfg = NULL, *out = NULL;
    int seed = 1;
    const cli_opt opts[] = {
        {"cfg", 0, CLI_STR, &cfg, "FILE", "darknet .cfg", 0, 0},
        {"seed", 's', CLI_INT, &seed, "N", "random seed (default 1)", 0, 2147483647},
        {"output", 'o', CLI_STR, &out, "FILE", ".weights file to write", 0, 0},
        {0},
    };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos, rc = pos ? cli_parse("init-weights", "--cfg FILE -o FILE [--seed N]", opts, argc, argv, pos, &npos) : 1;
    free(pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!cfg || !out) {
        fprintf(stderr, "cnndemo init-weights: --cfg and -o are required\n");
        return 2;
    }
    cnn_net *net;
    cnn_error err = {0};
    if (cnn_net_build(cfg, 1, &net, &err)) return cli_report(&err);
    cnn_rng rng = cnn_rng_seed((uint64_t)seed);
    cnn_net_init_random(net, &rng);
    cnn_status st = cnn_net_save_weights(net, out, &err);
    cnn_net_free(net);
    if (st) return cli_report(&err);
    fprintf(stderr, "wrote %s: SEEDED RANDOM weights (seed %d) for testing only - not a trained model\n",
            out, seed);
    return 0;
}
