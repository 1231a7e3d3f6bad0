/* study.c — one run of a controlled training experiment (see study.h): generate the cfg, train
 * with the trainer of train.h, measure the probe batch every probe_every steps. A run diverges
 * when a step's loss or a probe's network output is not finite; it stops there, and its final
 * point is the last finite one. */
#include "study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actstats.h"
#include "net.h"
#include "train.h"

/* Three 3x3 convolutions (16, 32, 64 filters), 2x2 max-pooling after the first two, global
 * average pooling, one linear layer: about 25k parameters and 4 MFLOPs per 28x28 image. */
static const int conv_filters[] = {16, 32, 64};
#define N_CONV ((int)(sizeof conv_filters / sizeof conv_filters[0]))

const char *cnn_study_act_label(cnn_activation a)
{
    switch (a) {
    case CNN_ACT_LEAKY: return "leaky 0.1";
    case CNN_ACT_LEAKY_001: return "leaky 0.01";
    case CNN_ACT_SWISH: return "silu";
    default: return cnn_activation_name(a);
    }
}

char *cnn_study_cfg_text(const cnn_study_run_cfg *run, const cnn_study_budget *b)
{
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
#define ADD(...) len += (size_t)snprintf(s + len, len < cap ? cap - len : 0, __VA_ARGS__)
    ADD("# activation study network (cnndemo study activations): activation=%s, batch_normalize=%d\n"
        "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\nlearning_rate=%g\nmomentum=%g\n"
        "decay=%g\nburn_in=%d\npolicy=cosine\nmax_batches=%ld\n",
        cnn_activation_name(run->act), run->batch_norm, b->batch, b->width, b->height, b->channels,
        (double)(b->lr * run->lr_factor), (double)b->momentum, (double)b->decay, b->burn_in,
        b->steps);
    for (int i = 0; i < N_CONV; i++) {
        ADD("\n[convolutional]\nbatch_normalize=%d\nfilters=%d\nsize=3\nstride=1\npad=1\nactivation=%s\n",
            run->batch_norm, conv_filters[i], cnn_activation_name(run->act));
        if (i + 1 < N_CONV) ADD("\n[maxpool]\nsize=2\nstride=2\n");
    }
    ADD("\n[avgpool]\n\n[connected]\noutput=%d\nactivation=linear\n\n[softmax]\n", b->classes);
#undef ADD
    if (len >= cap) {
        free(s);
        return NULL;
    }
    return s;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

/* Inference-mode statistics of the probe batch (the first n test images), one point. Returns
 * 0 when the network's outputs were not all finite (the weights diverged). */
static int probe(cnn_net *net, const cnn_dataset *test, int n, cnn_actstats *st,
                 const cnn_study_result *r, cnn_study_point *pt)
{
    int finite = 1;
    const cnn_layer *last = &net->layers[net->n_layers - 1];
    const size_t n_out = cnn_shape_size(last->out);
    cnn_net_prepare(net);
    cnn_actstats_reset(st);
    const size_t per = cnn_shape_size(net->in);
    for (int s = 0; s < n; s += net->batch) {
        const int m = n - s < net->batch ? n - s : net->batch;
        memcpy(net->input, cnn_data_sample(test, s), sizeof(float) * per * m);
        if (m < net->batch) memset(net->input + per * m, 0, sizeof(float) * per * (net->batch - m));
        cnn_net_forward(net, NULL);
        cnn_actstats_add(st, net, m);
        for (size_t i = 0; i < (size_t)m * n_out; i++) finite &= isfinite(last->output[i]) != 0;
    }
    long long dead = 0, inactive = 0, units = 0, zeros = 0, values = 0;
    for (int i = 0; i < r->n_conv; i++) {
        const cnn_layer_actstats *l = &st->layers[r->conv_index[i]];
        pt->layer_dead[i] = (float)cnn_actstats_dead(l) / l->channels;
        pt->layer_inactive[i] = (float)cnn_actstats_inactive(l) / l->channels;
        pt->layer_sparsity[i] = (float)cnn_actstats_sparsity(l);
        pt->layer_mean[i] = (float)cnn_actstats_mean(l);
        dead += cnn_actstats_dead(l), inactive += cnn_actstats_inactive(l), units += l->channels;
        zeros += l->zeros, values += l->values;
    }
    pt->dead = units ? (float)dead / units : 0;
    pt->inactive = units ? (float)inactive / units : 0;
    pt->sparsity = values ? (float)zeros / values : 0;
    return finite;
}

void cnn_study_result_free(cnn_study_result *r)
{
    if (!r) return;
    free(r->points);
    r->points = NULL;
    r->n_points = 0;
}

cnn_status cnn_study_run(const char *cfg_path, const cnn_study_run_cfg *run,
                         const cnn_study_budget *b, const cnn_dataset *train,
                         const cnn_dataset *test, const char *weights_out, cnn_study_result *r,
                         cnn_error *err)
{
    memset(r, 0, sizeof *r);
    r->cfg = *run;
    const double t0 = now_seconds();
    cnn_net *net = NULL;
    cnn_trainer *tr = NULL;
    cnn_actstats st = {0};
    int *perm = NULL;
    cnn_train_opts o;
    cnn_status s;
    if ((s = cnn_train_opts_from_cfg(cfg_path, &o, err)) || (s = cnn_net_build(cfg_path, b->batch, &net, err)))
        goto done;
    o.seed = b->seed;
    o.max_steps = b->steps;
    o.quiet = 1;
    o.aug = (cnn_augment){.flip = b->flip, .fill = 0};
    for (int i = 0; i < net->n_layers && r->n_conv < CNN_STUDY_MAX_CONV; i++) {
        if (strcmp(net->layers[i].ops->type, "conv") != 0) continue;
        r->conv_index[r->n_conv] = i;
        r->conv_channels[r->n_conv++] = net->layers[i].out.c;
    }
    const int probe_n = b->probe_images < test->n ? b->probe_images : test->n;
    const int every = b->probe_every > 0 ? b->probe_every : 1;
    const long per_epoch = train->n / b->batch;
    if (per_epoch < 1 || probe_n < 1) {
        s = cnn_fail(err, CNN_ERR_INPUT, "need at least one batch of %d training images and one test image",
                     b->batch);
        goto done;
    }
    r->points = calloc((size_t)(b->steps / every + 2), sizeof *r->points);
    perm = malloc(sizeof(int) * train->n);
    if (!r->points || !perm) {
        s = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = cnn_actstats_init(&st, net, err))) goto done;
    cnn_rng rng = cnn_rng_seed(b->seed);
    cnn_train_init_params(net, &rng);
    if ((s = cnn_trainer_new(net, &o, &tr, err))) goto done;

    cnn_study_point *pt = &r->points[r->n_points++];
    pt->step = 0, pt->loss = NAN;
    probe(net, test, probe_n, &st, r, pt);
    double loss_sum = 0;
    long loss_n = 0, epoch = -1;
    for (long step = 0; step < b->steps; step++) {
        if (step / per_epoch != epoch) {
            epoch = step / per_epoch;
            cnn_train_permutation(b->seed, epoch, perm, train->n);
        }
        const double ts = now_seconds(), tc = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        const float loss = cnn_trainer_step(tr, train, perm + (step % per_epoch) * b->batch);
        r->train_seconds += now_seconds() - ts;
        r->train_cpu_seconds += clock_seconds(CLOCK_THREAD_CPUTIME_ID) - tc;
        r->steps = step + 1;
        if (!isfinite(loss)) {
            r->diverged_at = step + 1;
            break;
        }
        loss_sum += loss, loss_n++;
        if (step + 1 == b->steps) cnn_trainer_recalibrate_bn(tr, train, 50); /* precise BN */
        if ((step + 1) % every == 0 || step + 1 == b->steps) {
            pt = &r->points[r->n_points++];
            pt->step = step + 1;
            pt->loss = (float)(loss_sum / loss_n);
            loss_sum = 0, loss_n = 0;
            if (!probe(net, test, probe_n, &st, r, pt)) { /* this step's update broke the weights */
                r->n_points--;
                r->diverged_at = step + 1;
                break;
            }
        }
    }
    r->final_loss = r->points[r->n_points - 1].loss;
    for (int i = 0; i < r->n_points; i++)
        r->max_dead = r->points[i].dead > r->max_dead ? r->points[i].dead : r->max_dead;
    r->top1 = cnn_eval_top1(net, test);
    if (weights_out) s = cnn_net_save_weights(net, weights_out, err);
done:
    r->total_seconds = now_seconds() - t0;
    free(perm);
    cnn_actstats_free(&st);
    cnn_trainer_free(tr);
    cnn_net_free(net);
    if (s) cnn_study_result_free(r);
    return s;
}
