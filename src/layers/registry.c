/* registry.c — the one list of layer kinds: cfg section name (and darknet's aliases) -> ops. */
#include <stdio.h>
#include <string.h>

#include "layer.h"

extern const cnn_layer_ops cnn_conv_ops, cnn_maxpool_ops, cnn_avgpool_ops, cnn_connected_ops,
    cnn_softmax_ops, cnn_dropout_ops, cnn_route_ops, cnn_shortcut_ops, cnn_upsample_ops,
    cnn_yolo_ops, cnn_region_ops;

static const struct {
    const char *name;
    const cnn_layer_ops *ops;
} registry[] = {
    {"convolutional", &cnn_conv_ops}, {"conv", &cnn_conv_ops},
    {"maxpool", &cnn_maxpool_ops},    {"max", &cnn_maxpool_ops},
    {"avgpool", &cnn_avgpool_ops},    {"avg", &cnn_avgpool_ops},
    {"connected", &cnn_connected_ops}, {"conn", &cnn_connected_ops},
    {"softmax", &cnn_softmax_ops},    {"soft", &cnn_softmax_ops},
    {"dropout", &cnn_dropout_ops},    {"route", &cnn_route_ops},
    {"shortcut", &cnn_shortcut_ops},  {"upsample", &cnn_upsample_ops},
    {"yolo", &cnn_yolo_ops},          {"region", &cnn_region_ops},
};

const cnn_layer_ops *cnn_layer_lookup(const char *section)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strcmp(registry[i].name, section) == 0) return registry[i].ops;
    }
    return NULL;
}

void cnn_layer_kinds(char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof registry / sizeof registry[0] && len < n; i++) {
        if (strcmp(registry[i].name, registry[i].ops->section) != 0) continue; /* alias */
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", registry[i].name);
    }
}

int cnn_layer_ref(int ref, int index)
{
    int abs = ref < 0 ? index + ref : ref;
    return (abs >= 0 && abs < index) ? abs : -1;
}
