/* image.h — decoding, encoding and preprocessing of images.
 * Decoded images are 8-bit RGB, interleaved HWC, row-major (cnn_rgb8). The network input is
 * float CHW, row-major, produced by cnn_preprocess without any heap allocation.
 * Only PNG, JPEG and BMP are accepted; the header is checked against limits before decoding
 * (DESIGN.md §7 explains why: the stb_image copy Debian ships has known crash bugs). */
#ifndef CNN_IMAGE_H
#define CNN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct {
    int w, h;
    uint8_t *px; /* (h, w, 3) RGB, owned; free with cnn_rgb8_free */
} cnn_rgb8;

typedef enum { CNN_FMT_UNKNOWN = 0, CNN_FMT_PNG, CNN_FMT_JPEG, CNN_FMT_BMP } cnn_image_format;

typedef struct {
    long long max_pixels; /* w*h limit; default 100 megapixels */
    int max_side;         /* limit on each side; default 65535 */
    size_t max_file_bytes;/* refuse larger files before reading; default 512 MiB */
} cnn_image_limits;

cnn_image_limits cnn_image_limits_default(void);

/* Format from the file's first bytes (magic), not from its name. */
cnn_image_format cnn_image_sniff(const uint8_t *buf, size_t n);
const char *cnn_image_format_name(cnn_image_format f);

/* Reads and decodes a file. Errors (CNN_ERR_INPUT) name the path and the problem:
 * unreadable, empty, unsupported format, declared size over the limits, corrupt data. */
cnn_status cnn_image_load(const char *path, const cnn_image_limits *lim, cnn_rgb8 *out,
                          cnn_image_format *fmt, cnn_error *err);
/* Same on a memory buffer; name is used in messages. */
cnn_status cnn_image_decode(const uint8_t *buf, size_t n, const char *name,
                            const cnn_image_limits *lim, cnn_rgb8 *out, cnn_image_format *fmt,
                            cnn_error *err);
cnn_status cnn_rgb8_alloc(cnn_rgb8 *img, int w, int h, cnn_error *err);
void cnn_rgb8_free(cnn_rgb8 *img);

/* Encodes to a malloc'd buffer (*buf, *n); caller frees. PNG, JPEG (quality 1..100) or BMP. */
cnn_status cnn_image_encode(const cnn_rgb8 *img, cnn_image_format fmt, int jpeg_quality,
                            uint8_t **buf, size_t *n, cnn_error *err);

/* ---- preprocessing ---- */
typedef enum {
    CNN_RESIZE_LINEAR = 0,    /* bilinear, half-pixel centres (OpenCV INTER_LINEAR) */
    CNN_RESIZE_LINEAR_LEGACY  /* bilinear, src = dst*scale, no half-pixel (TF legacy) */
} cnn_resize_kernel;

typedef enum {
    CNN_LETTERBOX_NONE = 0, /* stretch to the network size */
    CNN_LETTERBOX_CENTER,   /* keep aspect, resize, centre on a `fill` canvas (darknet) */
    CNN_LETTERBOX_TOPLEFT   /* pad to a square with pixel value 0 at bottom/right, then resize
                               (face-api); `fill` is not used */
} cnn_letterbox;

typedef struct {
    int w, h, c;             /* network input size; c is 1 (grey) or 3 (RGB) */
    cnn_resize_kernel kernel;
    cnn_letterbox letterbox;
    float fill;              /* CENTER canvas value, written as is (output units, after
                                mean/divisor; darknet uses 0.5) */
    float mean[3];           /* subtracted from pixel values in 0..255 units */
    float divisor;           /* then divided by this (255 gives the usual 0..1 input) */
} cnn_preproc;

/* Maps a point in network-input pixels back to original-image pixels:
 * x_orig = (x_net - off_x) / scale_x. */
typedef struct {
    float scale_x, scale_y, off_x, off_y;
    int img_w, img_h;
} cnn_frame;

/* Writes the network input (c, h, w) into out (c*h*w floats) and the frame for box mapping.
 * Grey networks (c == 1) take the BT.601 luma (0.299 R + 0.587 G + 0.114 B) of each source
 * pixel, then interpolate, with mean[0]. No allocation. */
void cnn_preprocess(const cnn_rgb8 *img, const cnn_preproc *pp, float *out, cnn_frame *frame);

/* Same kernels on a float plane, for tests and for other callers:
 * src (sh, sw) -> dst (dh, dw), one channel. */
void cnn_resize_plane(const float *src, int sw, int sh, float *dst, int dw, int dh,
                      cnn_resize_kernel kernel);

#endif
