/* train.h — training a network: optimisers (SGD with momentum and weight decay, Adam),
 * darknet's learning-rate schedules from [net], epochs over an in-memory dataset with
 * augmentation, checkpoints that resume exactly, and the final darknet .weights.
 *
 * Determinism: the permutation of epoch e and the augmentation of step s are drawn from
 * generators seeded by (seed, e) and (seed, s), so a run resumed from a checkpoint takes the
 * same steps as an uninterrupted one; results are bit-identical for a given seed and thread
 * count (OpenBLAS's summation order depends on its thread count). */
#ifndef CNN_TRAIN_H
#define CNN_TRAIN_H

#include <stdint.h>

#include "data.h"
#include "net.h"

typedef enum { CNN_LR_CONSTANT = 0, CNN_LR_STEPS, CNN_LR_POLY, CNN_LR_COSINE } cnn_lr_policy;

#define CNN_TRAIN_MAX_STEPS 16

typedef struct {
    /* schedule (darknet [net] keys, overridable from the command line) */
    float lr, momentum, decay;
    int burn_in;                 /* steps of lr * (step / burn_in)^4 warm-up */
    cnn_lr_policy policy;
    int n_steps;                 /* policy=steps: at step steps[i], multiply by scales[i] */
    int steps[CNN_TRAIN_MAX_STEPS];
    float scales[CNN_TRAIN_MAX_STEPS];
    float power;                 /* policy=poly */
    long max_steps;              /* total optimiser steps (max_batches, or epochs x batches) */
    /* optimiser */
    int adam;
    float b1, b2, eps;
    /* run */
    uint64_t seed;
    cnn_augment aug;
    int checkpoint_every;        /* steps; 0 = only at the end of each epoch */
    int quiet;
} cnn_train_opts;

/* Defaults, then the [net] section's training keys of cfg_path (learning_rate, momentum,
 * decay, burn_in, policy, steps, scales, power, max_batches, adam, B1, B2, eps). */
cnn_status cnn_train_opts_from_cfg(const char *cfg_path, cnn_train_opts *o, cnn_error *err);

float cnn_train_lr(const cnn_train_opts *o, long step);

/* Fresh parameters for training: He-uniform weights, zero biases, batch-norm scale 1,
 * running mean 0 and variance 1, PReLU slopes CNN_PRELU_INIT. */
void cnn_train_init_params(cnn_net *net, cnn_rng *rng);

typedef struct cnn_trainer cnn_trainer;

/* The net must have been built with the training batch size. Allocates training state. */
cnn_status cnn_trainer_new(cnn_net *net, const cnn_train_opts *o, cnn_trainer **out,
                           cnn_error *err);
void cnn_trainer_free(cnn_trainer *t);

/* One optimiser step on samples idx[0..batch) of ds (augmented with the step's generator).
 * Returns the batch's mean loss. */
float cnn_trainer_step(cnn_trainer *t, const cnn_dataset *ds, const int *idx);
long cnn_trainer_steps_done(const cnn_trainer *t);

/* Re-estimates every batch-norm's running mean and variance as the plain average over `steps`
 * training batches (epoch 0's order, no augmentation) with the final weights: the running
 * averages kept during training lag behind weights that moved ("precise BN"). Forward only. */
void cnn_trainer_recalibrate_bn(cnn_trainer *t, const cnn_dataset *ds, int steps);

/* Checkpoint = darknet weights at path + optimiser state at path.state (both atomic).
 * Loading checks that the state belongs to these weights and this network. */
cnn_status cnn_trainer_save(const cnn_trainer *t, const char *path, cnn_error *err);
cnn_status cnn_trainer_load(cnn_trainer *t, const char *path, cnn_error *err);

/* Top-1 accuracy of the inference path (folded batch-norm) on a classification dataset. */
double cnn_eval_top1(cnn_net *net, const cnn_dataset *ds);

/* The permutation of epoch e (n indices). */
void cnn_train_permutation(uint64_t seed, long epoch, int *perm, int n);

#endif
