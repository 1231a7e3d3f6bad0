/* cmd_train.c — `cnndemo train`: a cfg + a dataset directory -> a darknet .weights file.
 * Progress goes to stderr; the final summary (steps, loss, validation accuracy, time) to
 * stdout. Checkpoints (<out>.ckpt + .ckpt.state) are written atomically every
 * --checkpoint-every steps and at each epoch's end; --resume continues from one exactly. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cli.h"
#include "fsutil.h"
#include "train.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static void fmt_duration(double s, char *buf, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

/* [net] batch= (darknet's) as the default training batch. */
static int cfg_batch(const char *cfg_path)
{
    cnn_cfg cfg;
    cnn_error err;
    int batch = 64;
    if (cnn_cfg_load(cfg_path, &cfg, &err) == CNN_OK) {
        if (cnn_cfg_int(&cfg, &cfg.secs[0], "batch", 64, 1, 4096, &batch, &err) != CNN_OK) batch = 64;
        cnn_cfg_free(&cfg);
    }
    return batch;
}

/* Whether --epochs/-e 0 was given (0 is otherwise "not set"). */
static int has_epochs_zero(int argc, char **argv)
{
    for (int i = 0; i + 1 < argc; i++)
        if ((!strcmp(argv[i], "--epochs") || !strcmp(argv[i], "-e")) && !strcmp(argv[i + 1], "0"))
            return 1;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--epochs=0")) return 1;
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *cfg_path = NULL, *out = NULL, *init = NULL, *val_dir = NULL, *optimizer = NULL,
               *policy = NULL;
    int epochs = 0, batch = 0, seed = 1, no_flip = 0, shift = -1, ckpt_every = 0, resume = 0,
        limit = 0, threads = 0, quiet = 0, burn_in = -1, recal = 200;
    float lr = -1, momentum = -1, decay = -1, brightness = 0, contrast = 0;
    const cli_opt opts[] = {
        {"cfg", 'c', CLI_STR, &cfg_path, "FILE", "network .cfg (its [net] holds the schedule)", 0, 0},
        {"output", 'o', CLI_STR, &out, "FILE", "trained .weights to write (required)", 0, 0},
        {"weights", 0, CLI_STR, &init, "FILE", "start from these weights (default: fresh He init)", 0, 0},
        {"epochs", 'e', CLI_INT, &epochs, "N", "passes over the data (default: [net] max_batches, else 10; 0 with --weights: only recalibrate)", 0, 100000},
        {"batch", 'b', CLI_INT, &batch, "N", "images per step (default: [net] batch, else 64)", 1, 4096},
        {"lr", 0, CLI_FLOAT, &lr, "F", "learning rate (default: [net] learning_rate)", 1e-8, 10},
        {"momentum", 0, CLI_FLOAT, &momentum, "F", "SGD momentum (default: [net] momentum, 0.9)", 0, 0.9999},
        {"decay", 0, CLI_FLOAT, &decay, "F", "weight decay (default: [net] decay, 0.0005)", 0, 1},
        {"burn-in", 0, CLI_INT, &burn_in, "N", "warm-up steps (default: [net] burn_in)", 0, 1 << 30},
        {"policy", 0, CLI_STR, &policy, "P", "constant, steps, poly or cosine (default: [net] policy)", 0, 0},
        {"optimizer", 0, CLI_STR, &optimizer, "NAME", "sgd or adam (default: [net] adam=1 picks adam)", 0, 0},
        {"seed", 's', CLI_INT, &seed, "N", "seed for init, shuffling and augmentation (default 1)", 0, 2147483647},
        {"no-flip", 0, CLI_FLAG, &no_flip, NULL, "no random left-right mirroring", 0, 0},
        {"shift", 0, CLI_INT, &shift, "PX", "random translation up to PX pixels (default 0)", 0, 1024},
        {"brightness", 0, CLI_FLOAT, &brightness, "F", "random brightness +-F (input units)", 0, 10},
        {"contrast", 0, CLI_FLOAT, &contrast, "F", "random contrast 1+-F", 0, 0.99},
        {"val", 0, CLI_STR, &val_dir, "DIR", "accuracy after each epoch on DIR (IDX: its test split)", 0, 0},
        {"limit", 0, CLI_INT, &limit, "N", "use only the first N training images", 1, 1 << 30},
        {"recalibrate-bn", 0, CLI_INT, &recal, "N", "finally re-estimate batch-norm statistics over N batches (default 200; 0 = off)", 0, 100000},
        {"checkpoint-every", 0, CLI_INT, &ckpt_every, "N", "also checkpoint every N steps", 1, 1 << 30},
        {"resume", 0, CLI_FLAG, &resume, NULL, "continue from OUTPUT.ckpt if present", 0, 0},
        {"threads", 't', CLI_INT, &threads, "N", "OpenBLAS threads (default: all cores)", 1, 256},
        {"quiet", 'q', CLI_FLAG, &quiet, NULL, "no progress on stderr", 0, 0},
        {0}};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("train", "--cfg FILE -o OUT.weights [options] DATA_DIR", opts,
                                       argc, argv, pos, &npos)
                           : 1;
    const char *data_dir = npos == 1 ? pos[0] : NULL;
    free(pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!cfg_path || !out || !data_dir) {
        fprintf(stderr, "cnndemo train: need --cfg FILE, -o OUT.weights and one DATA_DIR (see --help)\n");
        return 2;
    }
    cnn_error err = {0};
    cnn_train_opts o;
    if (cnn_train_opts_from_cfg(cfg_path, &o, &err)) return cli_report(&err);
    if (lr > 0) o.lr = lr;
    if (momentum >= 0) o.momentum = momentum;
    if (decay >= 0) o.decay = decay;
    if (burn_in >= 0) o.burn_in = burn_in;
    if (optimizer) {
        if (strcmp(optimizer, "sgd") && strcmp(optimizer, "adam")) {
            fprintf(stderr, "cnndemo train: --optimizer %s: expected sgd or adam\n", optimizer);
            return 2;
        }
        o.adam = strcmp(optimizer, "adam") == 0;
    }
    if (policy) {
        static const char *const names[] = {"constant", "steps", "poly", "cosine"};
        int found = -1;
        for (int i = 0; i < 4; i++) found = strcmp(policy, names[i]) == 0 ? i : found;
        if (found < 0) {
            fprintf(stderr, "cnndemo train: --policy %s: expected constant, steps, poly or cosine\n", policy);
            return 2;
        }
        o.policy = (cnn_lr_policy)found;
    }
    o.seed = (uint64_t)seed;
    o.aug.flip = !no_flip;
    o.aug.shift = shift > 0 ? shift : 0;
    o.aug.brightness = brightness, o.aug.contrast = contrast;
    o.checkpoint_every = ckpt_every;
    o.quiet = quiet;
    if (!batch) batch = cfg_batch(cfg_path);
    cli_apply_blas_threads(threads);

    cnn_net *net = NULL;
    cnn_dataset ds = {0}, val = {0};
    cnn_trainer *tr = NULL;
    int *perm = NULL;
    int code = 0;
    if (cnn_net_build(cfg_path, batch, &net, &err)) goto fail;
    o.aug.fill = (0 - net->pp.mean[0]) / net->pp.divisor; /* a black border */
    double t0 = cli_now();
    if (cnn_data_load(data_dir, &net->pp, CNN_SPLIT_TRAIN, limit, &ds, &err)) goto fail;
    if (ds.n < batch) {
        cnn_fail(&err, CNN_ERR_INPUT, "%s: %d images, fewer than one batch of %d", data_dir, ds.n, batch);
        goto fail;
    }
    const cnn_layer *last = cnn_net_output(net);
    if (ds.y && last->role == CNN_LAYER_SOFTMAX && (int)cnn_shape_size(last->out) < ds.n_classes) {
        cnn_fail(&err, CNN_ERR_INPUT, "%s: %d classes but %s outputs %zu", data_dir, ds.n_classes,
                 cfg_path, cnn_shape_size(last->out));
        goto fail;
    }
    if (val_dir && cnn_data_load(val_dir, &net->pp, CNN_SPLIT_TEST, 0, &val, &err)) goto fail;
    if (!quiet)
        fprintf(stderr, "train: %d images (%d classes) from %s in %.1f s; %zu parameters, batch %d\n",
                ds.n, ds.n_classes, data_dir, cli_now() - t0, net->n_params, batch);
    const long per_epoch = ds.n / batch;
    if (epochs == 0 && !init && argc > 0 && has_epochs_zero(argc, argv)) {
        cnn_fail(&err, CNN_ERR_USAGE, "--epochs 0 (recalibration only) needs --weights");
        goto fail;
    }
    if (epochs || has_epochs_zero(argc, argv)) o.max_steps = per_epoch * epochs;
    else if (!o.max_steps) o.max_steps = per_epoch * 10;
    if (o.burn_in >= o.max_steps) o.burn_in = (int)(o.max_steps / 10);

    cnn_rng rng = cnn_rng_seed(o.seed);
    if (init) {
        if (cnn_net_load_weights(net, init, &err)) goto fail;
    } else {
        cnn_train_init_params(net, &rng);
    }
    if (cnn_trainer_new(net, &o, &tr, &err)) goto fail;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    if (resume && cnn_is_file(ckpt)) {
        if (cnn_trainer_load(tr, ckpt, &err)) goto fail;
        if (!quiet) fprintf(stderr, "train: resumed from %s at step %ld\n", ckpt, cnn_trainer_steps_done(tr));
    }
    perm = malloc(sizeof(int) * ds.n);
    if (!perm) {
        cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const int tty = isatty(2);
    double start = cli_now(), last_print = start, loss_avg = -1;
    long step = cnn_trainer_steps_done(tr), first_step = step;
    double val_top1 = -1;
    while (step < o.max_steps && !stop_requested) {
        const long epoch = step / per_epoch;
        cnn_train_permutation(o.seed, epoch, perm, ds.n);
        for (long s = step % per_epoch; s < per_epoch && step < o.max_steps && !stop_requested; s++) {
            float loss = cnn_trainer_step(tr, &ds, perm + s * batch);
            step++;
            loss_avg = loss_avg < 0 ? loss : 0.98 * loss_avg + 0.02 * loss;
            double now = cli_now();
            if (!quiet && (now - last_print >= (tty ? 1.0 : 10.0) || step == o.max_steps)) {
                double rate = (step - first_step) * batch / (now - start);
                char eta[32];
                fmt_duration((o.max_steps - step) * batch / (rate > 0 ? rate : 1), eta, sizeof eta);
                fprintf(stderr, "%sepoch %ld/%ld step %ld/%ld loss %.4f lr %.5f %.0f img/s ETA %s%s",
                        tty ? "\r" : "", epoch + 1, (o.max_steps + per_epoch - 1) / per_epoch, step,
                        o.max_steps, loss_avg, cnn_train_lr(&o, step), rate, eta, tty ? "  " : "\n");
                last_print = now;
            }
            if (!isfinite(loss)) {
                cnn_fail(&err, CNN_ERR_INTERNAL,
                         "loss became %f at step %ld: lower the learning rate (--lr)", loss, step);
                goto fail;
            }
            if (ckpt_every && step % ckpt_every == 0 && cnn_trainer_save(tr, ckpt, &err)) goto fail;
        }
        if (stop_requested) break;
        if (cnn_trainer_save(tr, ckpt, &err)) goto fail;
        if (val.n && val.y) {
            val_top1 = cnn_eval_top1(net, &val);
            if (!quiet)
                fprintf(stderr, "%sepoch %ld: loss %.4f, %s top-1 %.4f (%d images)\n", tty ? "\n" : "",
                        epoch + 1, loss_avg, val_dir, val_top1, val.n);
        }
    }
    if (stop_requested) {
        if (cnn_trainer_save(tr, ckpt, &err)) goto fail;
        fprintf(stderr, "\ntrain: interrupted at step %ld; checkpoint %s (rerun with --resume)\n", step, ckpt);
        code = 130;
        goto done;
    }
    if (recal > 0) {
        cnn_trainer_recalibrate_bn(tr, &ds, recal);
        if (val.n && val.y) {
            val_top1 = cnn_eval_top1(net, &val);
            if (!quiet) fprintf(stderr, "after batch-norm recalibration (%d batches): %s top-1 %.4f\n",
                                recal, val_dir, val_top1);
        }
    }
    if (cnn_net_save_weights(net, out, &err)) goto fail;
    double secs = cli_now() - start;
    if (!quiet && tty) fprintf(stderr, "\n");
    printf("weights %s\nsteps %ld\nimages_seen %llu\nfinal_loss %.5f\nseconds %.1f\n", out, step,
           (unsigned long long)net->seen, loss_avg, secs);
    if (val_top1 >= 0) printf("val_top1 %.4f\n", val_top1);
    goto done;
fail:
    code = cli_report(&err);
done:
    free(perm);
    cnn_trainer_free(tr);
    cnn_data_free(&ds);
    cnn_data_free(&val);
    cnn_net_free(net);
    return code;
}
