/* study.h — controlled training experiments on one small CNN: the same network, data, seed and
 * step budget, varying one thing per run (here: the activation, batch-norm on or off, and the
 * learning rate). A run trains from a generated cfg and records, every probe_every steps, the
 * mean training loss and the activation statistics (actstats.h) of every convolution on a fixed
 * held-out probe batch, then the test top-1. Runs share nothing, so several may run at once on
 * threads (each with its own network). */
#ifndef CNN_STUDY_H
#define CNN_STUDY_H

#include <stdint.h>

#include "activations.h"
#include "data.h"
#include "status.h"

#define CNN_STUDY_MAX_CONV 8

typedef struct {
    cnn_activation act;
    int batch_norm;
    float lr_factor; /* multiplies the budget's learning rate: 1 = base, e.g. 10 = the high-lr repeat */
} cnn_study_run_cfg;

typedef struct {
    int width, height, channels, classes; /* network input and outputs */
    int batch;
    long steps;             /* optimiser steps per run */
    float lr, momentum, decay;
    int burn_in;            /* steps of warm-up, then cosine decay to 0 at `steps` */
    uint64_t seed;          /* initialisation, shuffling and augmentation: the same for all runs */
    int flip;               /* random left-right mirroring */
    int probe_every;        /* steps between measurements */
    int probe_images;       /* the first N test images form the probe batch */
} cnn_study_budget;

/* One measurement. Shares are in [0, 1]; "all" values pool every convolution's units. */
typedef struct {
    long step;
    float loss; /* mean training loss of the steps since the previous point; NaN at step 0 */
    float dead, inactive, sparsity;
    float layer_dead[CNN_STUDY_MAX_CONV], layer_inactive[CNN_STUDY_MAX_CONV];
    float layer_sparsity[CNN_STUDY_MAX_CONV], layer_mean[CNN_STUDY_MAX_CONV];
} cnn_study_point;

typedef struct {
    cnn_study_run_cfg cfg;
    int n_conv;
    int conv_index[CNN_STUDY_MAX_CONV];    /* layer index of each convolution */
    int conv_channels[CNN_STUDY_MAX_CONV];
    cnn_study_point *points; /* n_points, step ascending; the last one is the final state */
    int n_points;
    long steps;              /* steps taken (fewer than the budget when diverged) */
    long diverged_at;        /* step whose loss (or the probe after it) was not finite, or 0 */
    float final_loss;        /* the last point's loss */
    float max_dead;          /* highest dead share over the points */
    double top1;             /* test accuracy at the end */
    double train_seconds;    /* optimiser steps only, wall clock */
    double train_cpu_seconds;/* the same in CPU time of the calling thread: the run's compute
                              * with one BLAS thread, whatever else shares the machine */
    double total_seconds;    /* with probes and the test evaluation */
} cnn_study_result;

/* The run's cfg text (malloc'd; NULL when out of memory): a darknet cfg that `cnndemo train`
 * also accepts. */
char *cnn_study_cfg_text(const cnn_study_run_cfg *run, const cnn_study_budget *b);

/* Short label for tables and legends: "relu", "leaky 0.01", "leaky 0.1", "silu", ... */
const char *cnn_study_act_label(cnn_activation a);

/* Trains the network of cfg_path (from cnn_study_cfg_text) on train, measures on test.
 * weights_out (may be NULL) receives the final weights. A loss that is not finite ends the run
 * early (diverged_at); that is a result, not an error. */
cnn_status cnn_study_run(const char *cfg_path, const cnn_study_run_cfg *run,
                         const cnn_study_budget *b, const cnn_dataset *train,
                         const cnn_dataset *test, const char *weights_out, cnn_study_result *r,
                         cnn_error *err);
void cnn_study_result_free(cnn_study_result *r);

#endif
