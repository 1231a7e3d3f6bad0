/* fuzz_weights.c — libFuzzer target: the darknet .weights reader. Input: a weights file for the
 * fixed network below (every parameter layout: conv with and without batch-norm, grouped and
 * depthwise conv, connected with and without batch-norm; 440 floats, so a valid file has
 * 20 + 1760 bytes with a 0.2 header, 16 + 1760 with a 0.1 header). The file is handed over as a
 * memfd path. A file that loads runs forward, and the yolo head and softmax are decoded. */
#include "fuzz_util.h"

#include <math.h>
#include <string.h>

#include "detect.h"
#include "gemm.h"
#include "net.h"

static const char CFG[] =
    "[net]\nwidth=8\nheight=8\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=4\ngroups=2\nsize=3\nstride=2\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\ngroups=4\nsize=3\nstride=1\npad=1\n"
    "activation=swish\n"
    "[shortcut]\nfrom=-2\nactivation=linear\n"
    "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n"
    "[yolo]\nmask=0,1\nanchors=2,3, 4,5, 6,7\nclasses=2\nnum=3\n"
    "[route]\nlayers=-3\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\nbatch_normalize=1\noutput=5\nactivation=leaky\n"
    "[connected]\noutput=3\nactivation=linear\n"
    "[softmax]\n";

#define CFG_PARAMS 440

#define MAX_DETS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        cnn_blas_set_threads(1);
        once = 1;
    }
    cnn_net *net = NULL;
    cnn_error err;
    cnn_status s = cnn_net_build_text(CFG, sizeof CFG - 1, "fuzz_weights.cfg", 1, &net, &err);
    FUZZ_CHECK(s == CNN_OK, "the fixed cfg does not build: %s", err.msg);
    FUZZ_CHECK(net->n_params == CFG_PARAMS, "the fixed cfg has %zu parameters", net->n_params);
    char path[64];
    fuzz_memfd(0, data, size, path);
    s = cnn_net_load_weights(net, path, &err);
    if (s != CNN_OK) {
        FUZZ_CHECK(s == CNN_ERR_MODEL && err.msg[0], "status %d: %s", (int)s, err.msg);
        cnn_net_free(net);
        return 0;
    }
    FUZZ_CHECK(size == cnn_net_weights_bytes(net, net->major, net->minor),
               "loaded a %zu-byte file for version %d.%d", size, net->major, net->minor);
    for (size_t i = 0; i < net->n_params; i++)
        FUZZ_CHECK(isfinite(net->params[i]), "non-finite parameter %zu accepted", i);
    for (size_t i = 0; i < cnn_shape_size(net->in); i++) net->input[i] = (float)(i % 7) / 6.0f;
    cnn_net_forward(net, NULL);
    static cnn_det dets[MAX_DETS];
    cnn_frame fr = {.scale_x = 1, .scale_y = 1, .img_w = 8, .img_h = 8};
    size_t cap = cnn_detect_capacity(net);
    FUZZ_CHECK(cap > 0 && cap <= MAX_DETS, "detection capacity %zu", cap);
    int n = cnn_detect_decode(net, 0, &fr, 0.25f, dets, (int)cap);
    cnn_det_clip(dets, n, 8, 8);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(dets[i].x1 >= 0 && dets[i].x1 <= 8 && dets[i].x2 >= 0 && dets[i].x2 <= 8 &&
                       dets[i].y1 >= 0 && dets[i].y1 <= 8 && dets[i].y2 >= 0 && dets[i].y2 <= 8,
                   "clipped box %d: %g %g %g %g", i, dets[i].x1, dets[i].y1, dets[i].x2,
                   dets[i].y2);
    }
    cnn_nms(dets, n, 0.45f);
    int idx[3];
    cnn_topk(cnn_net_output(net)->output, 3, 3, idx);
    cnn_net_free(net);
    return 0;
}
