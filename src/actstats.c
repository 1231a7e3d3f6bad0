/* actstats.c — per-layer sparsity, dead and inactive channels, mean output (see actstats.h).
 * Outputs are (batch, c, h, w): channel ch of item b is one contiguous run of h*w values. */
#include "actstats.h"

#include <stdlib.h>
#include <string.h>

void cnn_actstats_free(cnn_actstats *s)
{
    if (!s) return;
    for (int i = 0; s->layers && i < s->n_layers; i++) {
        free(s->layers[i].nonzero);
        free(s->layers[i].above);
    }
    free(s->layers);
    memset(s, 0, sizeof *s);
}

cnn_status cnn_actstats_init(cnn_actstats *s, const cnn_net *net, cnn_error *err)
{
    memset(s, 0, sizeof *s);
    s->layers = calloc((size_t)net->n_layers, sizeof *s->layers);
    if (!s->layers) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    s->n_layers = net->n_layers;
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer_actstats *l = &s->layers[i];
        l->channels = net->layers[i].out.c;
        l->threshold = cnn_activate(0.0f, net->layers[i].act);
        l->nonzero = calloc((size_t)l->channels, 1);
        l->above = calloc((size_t)l->channels, 1);
        if (!l->nonzero || !l->above) {
            cnn_actstats_free(s);
            return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        }
    }
    return CNN_OK;
}

void cnn_actstats_reset(cnn_actstats *s)
{
    s->items = 0;
    for (int i = 0; i < s->n_layers; i++) {
        cnn_layer_actstats *l = &s->layers[i];
        l->values = l->zeros = 0;
        l->sum = 0;
        memset(l->nonzero, 0, (size_t)l->channels);
        memset(l->above, 0, (size_t)l->channels);
    }
}

void cnn_actstats_add(cnn_actstats *s, const cnn_net *net, int items)
{
    for (int i = 0; i < s->n_layers && i < net->n_layers; i++) {
        const cnn_layer *layer = &net->layers[i];
        cnn_layer_actstats *l = &s->layers[i];
        const size_t plane = (size_t)layer->out.h * layer->out.w;
        for (int b = 0; b < items; b++) {
            for (int ch = 0; ch < l->channels; ch++) {
                const float *y = layer->output + ((size_t)b * l->channels + ch) * plane;
                long long zeros = 0;
                double sum = 0;
                int above = 0;
                for (size_t k = 0; k < plane; k++) {
                    zeros += y[k] == 0.0f;
                    above |= y[k] > l->threshold;
                    sum += y[k];
                }
                l->zeros += zeros;
                l->sum += sum;
                l->nonzero[ch] |= zeros < (long long)plane;
                l->above[ch] |= above;
            }
        }
        l->values += (long long)items * l->channels * (long long)plane;
    }
    s->items += items;
}

double cnn_actstats_sparsity(const cnn_layer_actstats *l)
{
    return l->values ? (double)l->zeros / (double)l->values : 0.0;
}

int cnn_actstats_dead(const cnn_layer_actstats *l)
{
    if (!l->values) return 0;
    int n = 0;
    for (int ch = 0; ch < l->channels; ch++) n += !l->nonzero[ch];
    return n;
}

int cnn_actstats_inactive(const cnn_layer_actstats *l)
{
    if (!l->values) return 0;
    int n = 0;
    for (int ch = 0; ch < l->channels; ch++) n += !l->above[ch];
    return n;
}

double cnn_actstats_mean(const cnn_layer_actstats *l)
{
    return l->values ? l->sum / (double)l->values : 0.0;
}
