/* test_detect.c — box arithmetic and decoding: IoU on hand-computed cases, class-wise greedy NMS
 * (strict threshold, score order), top-k, clipping, and yolo/region decoding of a tiny network
 * whose output is set through the weights so that one cell and anchor carries known logits;
 * boxes are checked against darknet's formulas worked out by hand, through a plain stretch, a
 * centred letterbox and a top-left letterbox frame. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "net.h"
#include "testutil.h"

static cnn_det box(int cls, float score, float x1, float y1, float x2, float y2)
{
    return (cnn_det){.class_id = cls, .score = score, .x1 = x1, .y1 = y1, .x2 = x2, .y2 = y2};
}

/* ---- IoU ---- */

START_TEST(test_iou_hand_cases)
{
    const cnn_det a = box(0, 1, 0, 0, 10, 10);
    static const struct {
        float x1, y1, x2, y2;
        double want;
        const char *what;
    } cases[] = {
        {20, 20, 30, 30, 0.0, "disjoint"},
        {2, 2, 6, 6, 16.0 / 100.0, "contained: 4x4 inside 10x10"},
        {5, 0, 15, 10, 50.0 / 150.0, "half overlap: 50 / (100 + 100 - 50)"},
        {10, 0, 20, 10, 0.0, "touching edges"},
        {10, 10, 20, 20, 0.0, "touching corners"},
        {0, 0, 10, 10, 1.0, "identical"},
        {0, 0, 10, 5, 0.5, "same left half: 50 / 100"},
        {-5, -5, 5, 5, 25.0 / 175.0, "quarter overlap: 25 / (100 + 100 - 25)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cnn_det b = box(0, 1, cases[i].x1, cases[i].y1, cases[i].x2, cases[i].y2);
        const float ab = cnn_det_iou(&a, &b), ba = cnn_det_iou(&b, &a);
        ck_assert_msg(fabs(ab - cases[i].want) < 1e-6, "%s: IoU %.9g, want %.9g", cases[i].what,
                      ab, cases[i].want);
        ck_assert_msg(ab == ba, "%s: IoU not symmetric (%g vs %g)", cases[i].what, ab, ba);
    }
    /* degenerate (zero-area) boxes have no overlap */
    const cnn_det z = box(0, 1, 3, 3, 3, 3);
    ck_assert_float_eq(cnn_det_iou(&z, &z), 0.0f);
    ck_assert_float_eq(cnn_det_iou(&a, &z), 0.0f);
}
END_TEST

/* ---- NMS ---- */

START_TEST(test_nms_classwise)
{
    /* two identical boxes of different classes are both kept */
    cnn_det d[2] = {box(0, 0.9f, 0, 0, 10, 10), box(1, 0.8f, 0, 0, 10, 10)};
    ck_assert_int_eq(cnn_nms(d, 2, 0.45f), 2);
    ck_assert_int_eq(d[0].class_id, 0);
    ck_assert_int_eq(d[1].class_id, 1);
    /* the same two in one class: the lower score goes */
    cnn_det e[2] = {box(3, 0.8f, 0, 0, 10, 10), box(3, 0.9f, 1, 0, 11, 10)};
    ck_assert_int_eq(cnn_nms(e, 2, 0.45f), 1);
    ck_assert_float_eq(e[0].score, 0.9f);
    ck_assert_float_eq(e[0].x1, 1.0f);
}
END_TEST

START_TEST(test_nms_threshold_strict)
{
    /* IoU of these two is exactly 0.5 (50 / 100), representable in float */
    cnn_det d[2] = {box(0, 0.9f, 0, 0, 10, 10), box(0, 0.8f, 0, 0, 10, 5)};
    ck_assert_float_eq(cnn_det_iou(&d[0], &d[1]), 0.5f);
    ck_assert_int_eq(cnn_nms(d, 2, 0.5f), 2); /* equal to the threshold: kept */
    cnn_det e[2] = {box(0, 0.9f, 0, 0, 10, 10), box(0, 0.8f, 0, 0, 10, 5)};
    ck_assert_int_eq(cnn_nms(e, 2, 0.49f), 1); /* above it: suppressed */
    ck_assert_float_eq(e[0].score, 0.9f);
}
END_TEST

START_TEST(test_nms_order_and_greedy)
{
    /* disjoint boxes come back in descending score order */
    cnn_det d[4] = {box(0, 0.3f, 0, 0, 1, 1), box(1, 0.9f, 5, 5, 6, 6), box(0, 0.5f, 10, 10, 11, 11),
                    box(2, 0.7f, 20, 20, 21, 21)};
    ck_assert_int_eq(cnn_nms(d, 4, 0.5f), 4);
    const float want[4] = {0.9f, 0.7f, 0.5f, 0.3f};
    for (int i = 0; i < 4; i++) ck_assert_float_eq(d[i].score, want[i]);
    ck_assert_float_eq(d[0].x1, 5.0f);
    /* greedy chain: A overlaps B, B overlaps C, A does not overlap C. B is suppressed by A,
     * and a suppressed box suppresses nothing, so C survives. IoU(A,B) = IoU(B,C) = 60/140. */
    cnn_det c[3] = {box(0, 0.7f, 8, 0, 18, 10), /* C */
                    box(0, 0.9f, 0, 0, 10, 10), /* A */
                    box(0, 0.8f, 4, 0, 14, 10)};/* B */
    ck_assert_int_eq(cnn_nms(c, 3, 0.3f), 2);
    ck_assert_float_eq(c[0].score, 0.9f);
    ck_assert_float_eq(c[1].score, 0.7f);
    ck_assert_int_eq(cnn_nms(c, 0, 0.3f), 0);
}
END_TEST

/* ---- top-k ---- */

START_TEST(test_topk)
{
    const float p[5] = {0.1f, 0.7f, 0.3f, 0.9f, 0.5f};
    int idx[8];
    ck_assert_int_eq(cnn_topk(p, 5, 3, idx), 3);
    ck_assert_int_eq(idx[0], 3);
    ck_assert_int_eq(idx[1], 1);
    ck_assert_int_eq(idx[2], 4);
    for (int i = 0; i < 8; i++) idx[i] = -7;
    ck_assert_int_eq(cnn_topk(p, 5, 8, idx), 5); /* k > n */
    const int all[5] = {3, 1, 4, 2, 0};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(idx[i], all[i]);
    ck_assert_int_eq(idx[5], -7); /* nothing written past n */
    ck_assert_int_eq(cnn_topk(p, 5, 0, idx), 0);
    ck_assert_int_eq(cnn_topk(p, 5, 1, idx), 1);
    ck_assert_int_eq(idx[0], 3);
    /* ties: distinct indices */
    const float t[4] = {0.5f, 0.5f, 0.5f, 0.1f};
    ck_assert_int_eq(cnn_topk(t, 4, 3, idx), 3);
    ck_assert(idx[0] != idx[1] && idx[1] != idx[2] && idx[0] != idx[2]);
    ck_assert(idx[0] < 3 && idx[1] < 3 && idx[2] < 3);
    /* negative values */
    const float q[3] = {-3.0f, -1.0f, -2.0f};
    ck_assert_int_eq(cnn_topk(q, 3, 2, idx), 2);
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(idx[1], 2);
}
END_TEST

/* ---- clipping ---- */

START_TEST(test_clip)
{
    cnn_det d[3] = {box(0, 1, -5, -3, 70, 40), box(1, 1, 1, 2, 3, 4), box(2, 1, 80, -9, 90, -1)};
    cnn_det_clip(d, 3, 64, 32);
    ck_assert_float_eq(d[0].x1, 0);
    ck_assert_float_eq(d[0].y1, 0);
    ck_assert_float_eq(d[0].x2, 64);
    ck_assert_float_eq(d[0].y2, 32);
    ck_assert_float_eq(d[1].x1, 1); /* inside: unchanged */
    ck_assert_float_eq(d[1].y1, 2);
    ck_assert_float_eq(d[1].x2, 3);
    ck_assert_float_eq(d[1].y2, 4);
    ck_assert_float_eq(d[2].x1, 64); /* outside: collapses onto the border */
    ck_assert_float_eq(d[2].x2, 64);
    ck_assert_float_eq(d[2].y1, 0);
    ck_assert_float_eq(d[2].y2, 0);
    ck_assert_int_eq(d[2].class_id, 2);
}
END_TEST

/* ---- decoding ---- */

/* A 32x32x3 network, a 1x1 linear convolution producing the head's channels, then the head.
 * The head output is (anchor, entry, 32, 32). All weights are zero except those from input
 * channel 0 to the channels of `hot_anchor`; biases are 0 except objectness (-20, so
 * logistic ~ 2e-9 everywhere else). Input channel 0 of batch item 1 is 1 at (row 9, col 12),
 * so exactly that cell and anchor gets logits[e] for entry e; batch item 0 is all zero. */
#define HOT_ROW 9
#define HOT_COL 12

static cnn_net *head_net(const char *head, int anchors, int entries, int hot_anchor,
                         const float *logits)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[net]\nwidth=32\nheight=32\nchannels=3\n"
             "[convolutional]\nfilters=%d\nsize=1\nstride=1\nactivation=linear\n%s",
             anchors * entries, head);
    cnn_net *net = tu_build(text, 2);
    cnn_layer *conv = &net->layers[0];
    const int n = anchors * entries;
    ck_assert_uint_eq(conv->n_params, (size_t)n + (size_t)n * 3); /* biases, weights[n][3] */
    float *bias = conv->params, *w = conv->params + n;
    memset(conv->params, 0, conv->n_params * sizeof(float));
    for (int a = 0; a < anchors; a++) bias[a * entries + 4] = -20.0f;
    for (int e = 0; e < entries; e++) {
        const int ch = hot_anchor * entries + e;
        w[ch * 3 + 0] = logits[e] - bias[ch];
    }
    cnn_net_prepare(net);
    memset(net->input, 0, 2 * 3 * 32 * 32 * sizeof(float));
    net->input[(1 * 3 + 0) * 32 * 32 + HOT_ROW * 32 + HOT_COL] = 1.0f;
    cnn_net_forward(net, NULL);
    return net;
}

static void assert_box(const cnn_det *d, float x1, float y1, float x2, float y2, const char *what)
{
    const float tol = 1e-3f;
    ck_assert_msg(fabsf(d->x1 - x1) < tol && fabsf(d->y1 - y1) < tol && fabsf(d->x2 - x2) < tol &&
                      fabsf(d->y2 - y2) < tol,
                  "%s: box (%.5g, %.5g, %.5g, %.5g), want (%.5g, %.5g, %.5g, %.5g)", what, d->x1,
                  d->y1, d->x2, d->y2, x1, y1, x2, y2);
}

/* yolo head: 6 anchors, this head uses mask 3,4,5; 2 classes, so 3 x 7 = 21 channels */
static const char YOLO[] = "[yolo]\nmask=3,4,5\nanchors=2,2, 3,3, 4,4, 4,6, 8,10, 12,16\n"
                           "classes=2\nnum=6\n";

/* Logits for the hot cell, anchor slot 1 (mask[1] = 4: anchor 8 x 10 network pixels):
 *   tx = ln 3 -> logistic = 3/4      ty = ln 3 -> 3/4
 *   tw = ln 2 -> exp = 2             th = 0 -> exp = 1
 *   obj = ln 9 -> 9/10               cls0 = ln 4 -> 4/5, cls1 = -ln 4 -> 1/5
 * darknet get_yolo_box, in network pixels (32 x 32 input, 32 x 32 grid):
 *   cx = (12 + 3/4) / 32 * 32 = 12.75     cy = (9 + 3/4) = 9.75
 *   w  = 2 * 8 / 32 * 32 = 16             h  = 1 * 10 = 10
 *   corners x 4.75 .. 20.75, y 4.75 .. 14.75
 * scores: 0.9 * 0.8 = 0.72 (class 0), 0.9 * 0.2 = 0.18 (class 1). */
static const float YOLO_LOGITS[7] = {1.0986123f, 1.0986123f, 0.6931472f, 0.0f,
                                     2.1972246f, 1.3862944f, -1.3862944f};

/* Frames for a 64 x 32 (w x h) original image and the 32 x 32 network input:
 *   none:    stretch, scale_x = 32/64 = 0.5, scale_y = 32/32 = 1, no offset
 *   center:  darknet letterbox: scale min(32/64, 32/32) = 0.5, resized 32 x 16, placed at
 *            off_x = 0, off_y = (32 - 16)/2 = 8
 *   topleft: pad to 64 x 64 at the bottom/right, resize to 32 x 32: scale 0.5, no offset
 * x_orig = (x_net - off_x) / scale_x. */
static const cnn_frame FRAME_NONE = {.scale_x = 0.5f, .scale_y = 1.0f, .img_w = 64, .img_h = 32};
static const cnn_frame FRAME_CENTER = {
    .scale_x = 0.5f, .scale_y = 0.5f, .off_x = 0, .off_y = 8, .img_w = 64, .img_h = 32};
static const cnn_frame FRAME_TOPLEFT = {.scale_x = 0.5f, .scale_y = 0.5f, .img_w = 64, .img_h = 32};

START_TEST(test_yolo_decode_frames)
{
    cnn_net *net = head_net(YOLO, 3, 7, 1, YOLO_LOGITS);
    ck_assert_uint_eq(cnn_detect_capacity(net), 32 * 32 * 3 * 2);
    cnn_det d[8];
    /* (a) stretch: x / 0.5, y / 1 -> x 9.5 .. 41.5, y 4.75 .. 14.75 */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.5f, d, 8), 1);
    ck_assert_int_eq(d[0].class_id, 0);
    ck_assert_float_eq_tol(d[0].score, 0.72f, 1e-5f);
    assert_box(&d[0], 9.5f, 4.75f, 41.5f, 14.75f, "yolo, no letterbox");
    /* (b) centre: x as in (a); y (4.75 - 8) / 0.5 = -6.5, (14.75 - 8) / 0.5 = 13.5 */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_CENTER, 0.5f, d, 8), 1);
    assert_box(&d[0], 9.5f, -6.5f, 41.5f, 13.5f, "yolo, centre letterbox");
    /* (c) top-left: y / 0.5 -> 9.5 .. 29.5 */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_TOPLEFT, 0.5f, d, 8), 1);
    assert_box(&d[0], 9.5f, 9.5f, 41.5f, 29.5f, "yolo, top-left letterbox");
    /* clipping the centre-letterbox box to the 64 x 32 image */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_CENTER, 0.5f, d, 8), 1);
    cnn_det_clip(d, 1, 64, 32);
    assert_box(&d[0], 9.5f, 0.0f, 41.5f, 13.5f, "yolo, clipped");
    cnn_net_free(net);
}
END_TEST

START_TEST(test_yolo_decode_thresholds_and_batch)
{
    cnn_net *net = head_net(YOLO, 3, 7, 1, YOLO_LOGITS);
    cnn_det d[8];
    /* batch item 0 is all zero: objectness 2e-9 everywhere, nothing passes */
    ck_assert_int_eq(cnn_detect_decode(net, 0, &FRAME_NONE, 0.5f, d, 8), 0);
    /* a lower threshold admits class 1 (0.18) with the same box */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.1f, d, 8), 2);
    ck_assert_int_eq(d[0].class_id, 0);
    ck_assert_int_eq(d[1].class_id, 1);
    ck_assert_float_eq_tol(d[1].score, 0.18f, 1e-5f);
    assert_box(&d[1], 9.5f, 4.75f, 41.5f, 14.75f, "yolo class 1");
    /* objectness 0.9 <= conf 0.95: the cell is skipped entirely */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.95f, d, 8), 0);
    /* capacity is honoured */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.1f, d, 1), 1);
    ck_assert_int_eq(d[0].class_id, 0);
    float mconf = 0, mnms = 0;
    cnn_detect_model_thresholds(net, &mconf, &mnms); /* yolo has no model thresholds */
    ck_assert_float_eq(mconf, -1.0f);
    ck_assert_float_eq(mnms, -1.0f);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_yolo_decode_scale_x_y)
{
    /* scale_x_y = 1.2: x = logistic(tx) * 1.2 - 0.1 = 0.75 * 1.2 - 0.1 = 0.8, same for y:
     * cx = 12.8, cy = 9.8 network pixels; w, h unchanged (16 x 10):
     * x 4.8 .. 20.8 -> / 0.5 -> 9.6 .. 41.6; y 4.8 .. 14.8 */
    char head[256];
    snprintf(head, sizeof head, "%sscale_x_y=1.2\n", YOLO);
    cnn_net *net = head_net(head, 3, 7, 1, YOLO_LOGITS);
    cnn_det d[4];
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.5f, d, 4), 1);
    assert_box(&d[0], 9.6f, 4.8f, 41.6f, 14.8f, "yolo scale_x_y");
    cnn_net_free(net);
}
END_TEST

START_TEST(test_yolo_decode_anchor_slot0)
{
    /* the same logits on slot 0 use mask[0] = 3: anchor 4 x 6 -> w = 2 * 4 = 8, h = 6:
     * x 12.75 -/+ 4 = 8.75 .. 16.75 (/0.5: 17.5 .. 33.5), y 9.75 -/+ 3 = 6.75 .. 12.75 */
    cnn_net *net = head_net(YOLO, 3, 7, 0, YOLO_LOGITS);
    cnn_det d[4];
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.5f, d, 4), 1);
    assert_box(&d[0], 17.5f, 6.75f, 33.5f, 12.75f, "yolo slot 0");
    cnn_net_free(net);
}
END_TEST

/* region head: 2 anchors in grid cells (1 x 1, 3 x 2), 2 classes with softmax: 2 x 7 = 14 */
static const char REGION[] = "[region]\nanchors=1,1, 3,2\nclasses=2\ncoords=4\nnum=2\nsoftmax=1\n"
                             "x_nms=0.4\nx_conf=0.3\n";

/* Hot anchor 1: tx = ty = ln 3 -> 3/4; tw = ln 2, th = 0; obj ln 9 -> 0.9;
 * class logits ln 3, 0 -> softmax 3/4, 1/4 -> scores 0.675, 0.225.
 * darknet get_region_box (anchors in grid cells, 32 x 32 grid):
 *   cx = (12 + 3/4) / 32 -> 12.75 px, cy = 9.75 px
 *   w = 2 * 3 / 32 -> 6 px,  h = 1 * 2 / 32 -> 2 px
 *   corners x 9.75 .. 15.75, y 8.75 .. 10.75 */
static const float REGION_LOGITS[7] = {1.0986123f, 1.0986123f, 0.6931472f, 0.0f,
                                       2.1972246f, 1.0986123f, 0.0f};

START_TEST(test_region_decode_frames)
{
    cnn_net *net = head_net(REGION, 2, 7, 1, REGION_LOGITS);
    ck_assert_uint_eq(cnn_detect_capacity(net), 32 * 32 * 2 * 2);
    float mconf = 0, mnms = 0;
    cnn_detect_model_thresholds(net, &mconf, &mnms);
    ck_assert_float_eq_tol(mconf, 0.3f, 1e-7f);
    ck_assert_float_eq_tol(mnms, 0.4f, 1e-7f);
    cnn_det d[8];
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.5f, d, 8), 1);
    ck_assert_int_eq(d[0].class_id, 0);
    ck_assert_float_eq_tol(d[0].score, 0.675f, 1e-5f);
    /* (a) x / 0.5: 19.5 .. 31.5; y 8.75 .. 10.75 */
    assert_box(&d[0], 19.5f, 8.75f, 31.5f, 10.75f, "region, no letterbox");
    /* (b) y: (8.75 - 8) / 0.5 = 1.5, (10.75 - 8) / 0.5 = 5.5 */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_CENTER, 0.5f, d, 8), 1);
    assert_box(&d[0], 19.5f, 1.5f, 31.5f, 5.5f, "region, centre letterbox");
    /* (c) y / 0.5: 17.5 .. 21.5 */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_TOPLEFT, 0.5f, d, 8), 1);
    assert_box(&d[0], 19.5f, 17.5f, 31.5f, 21.5f, "region, top-left letterbox");
    /* both classes at a low threshold */
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.2f, d, 8), 2);
    ck_assert_float_eq_tol(d[1].score, 0.225f, 1e-5f);
    ck_assert_int_eq(cnn_detect_decode(net, 0, &FRAME_NONE, 0.2f, d, 8), 0);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_region_objectness_only)
{
    /* classes=0 (face-api style): score = objectness = 0.9, class 0; num 2 x 5 = 10 channels */
    static const char head[] = "[region]\nanchors=1,1, 3,2\nclasses=0\ncoords=4\nnum=2\n";
    cnn_net *net = head_net(head, 2, 5, 1, REGION_LOGITS);
    ck_assert_uint_eq(cnn_detect_capacity(net), 32 * 32 * 2);
    cnn_det d[4];
    ck_assert_int_eq(cnn_detect_decode(net, 1, &FRAME_NONE, 0.5f, d, 4), 1);
    ck_assert_int_eq(d[0].class_id, 0);
    ck_assert_float_eq_tol(d[0].score, 0.9f, 1e-5f);
    assert_box(&d[0], 19.5f, 8.75f, 31.5f, 10.75f, "region objectness only");
    cnn_net_free(net);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("detect");
    TCase *tc = tcase_create("boxes");
    tcase_add_test(tc, test_iou_hand_cases);
    tcase_add_test(tc, test_nms_classwise);
    tcase_add_test(tc, test_nms_threshold_strict);
    tcase_add_test(tc, test_nms_order_and_greedy);
    tcase_add_test(tc, test_topk);
    tcase_add_test(tc, test_clip);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode");
    tcase_add_test(tc, test_yolo_decode_frames);
    tcase_add_test(tc, test_yolo_decode_thresholds_and_batch);
    tcase_add_test(tc, test_yolo_decode_scale_x_y);
    tcase_add_test(tc, test_yolo_decode_anchor_slot0);
    tcase_add_test(tc, test_region_decode_frames);
    tcase_add_test(tc, test_region_objectness_only);
    suite_add_tcase(s, tc);
    return s;
}
