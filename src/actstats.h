/* actstats.h — what a network's units do on a set of inputs, layer by layer: the share of exact
 * zeros in each layer's output (sparsity), the channels ("units") whose output is exactly 0 at
 * every position for every input (dead), the channels never above act(0) (inactive: for the
 * monotonic activations, a pre-activation that was never positive) and the mean output.
 *
 * Dead is defined by exact zeros, so it can only happen where the activation outputs exact
 * zeros: relu and relu6 (any input <= 0), and logistic/swish/mish only by float underflow
 * (input below about -88). Leaky ReLU, PReLU with a non-zero slope, ELU, SELU and tanh never
 * output 0 for a non-zero input: their dead share is 0 by construction. Inactive covers those:
 * a leaky unit that is inactive still passes slope x gradient and can recover; a dead ReLU
 * unit passes none for these inputs.
 *
 * Use: cnn_actstats_init for a built network, cnn_net_forward, then cnn_actstats_add for the
 * batch items that hold real inputs; repeat; read the counters. Owns its arrays. */
#ifndef CNN_ACTSTATS_H
#define CNN_ACTSTATS_H

#include "net.h"

typedef struct {
    int channels;             /* out.c of the layer */
    long long values, zeros;  /* output values seen, and how many were exactly 0 */
    double sum;               /* of the output values */
    unsigned char *nonzero;   /* per channel: some output was not exactly 0 */
    unsigned char *above;     /* per channel: some output was above act(0) */
    float threshold;          /* act(0) of the layer's activation */
} cnn_layer_actstats;

typedef struct {
    int n_layers;
    long long items; /* inputs added */
    cnn_layer_actstats *layers;
} cnn_actstats;

cnn_status cnn_actstats_init(cnn_actstats *s, const cnn_net *net, cnn_error *err);
void cnn_actstats_reset(cnn_actstats *s);
/* Adds batch items 0..items-1 of every layer's current output (after cnn_net_forward). */
void cnn_actstats_add(cnn_actstats *s, const cnn_net *net, int items);
void cnn_actstats_free(cnn_actstats *s);

/* Share of exact zeros, in [0, 1] (0 before anything was added). */
double cnn_actstats_sparsity(const cnn_layer_actstats *l);
/* Channels with every output exactly 0 / never above act(0) (0 before anything was added). */
int cnn_actstats_dead(const cnn_layer_actstats *l);
int cnn_actstats_inactive(const cnn_layer_actstats *l);
double cnn_actstats_mean(const cnn_layer_actstats *l);

#endif
