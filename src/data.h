/* data.h — datasets for training and validation, held in memory as network-ready tensors.
 * Three layouts are recognised from what a directory holds:
 *   IDX      train-images-idx3-ubyte[.gz] + labels (MNIST / Fashion-MNIST, e.g. Debian's
 *            /usr/share/datasets/fashion-mnist); --split picks "train" or "t10k" files.
 *   YOLO     images/ + labels/ (one `class cx cy w h` line per box, normalised) — detection.
 *   folder   root/<class>/<image>.png|jpg|bmp (ImageFolder) — classification; classes sorted by
 *            name.
 * YOLO and folder layouts may sit one level down in root/train/ and root/test/ (or root/val/):
 * when the subfolder for the split exists it is used, else root itself.
 * Every sample goes through the same cnn_preprocess as inference, so a model sees in training
 * exactly what it will see in `detect`/`classify`. */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include <stdint.h>

#include "image.h"
#include "rng.h"
#include "status.h"

typedef struct {
    float x, y, w, h; /* centre and size, as fractions of the image */
    int cls;
} cnn_box_label;

/* Detection targets of one training batch (net->truth while training): item b has count[b]
 * boxes at boxes[b * max_boxes], in network-input fractions. */
typedef struct {
    const cnn_box_label *boxes;
    const int *count;
    int max_boxes;
} cnn_truth;

typedef enum { CNN_DATA_IDX = 1, CNN_DATA_YOLO, CNN_DATA_FOLDER } cnn_data_kind;

typedef struct {
    cnn_data_kind kind;
    int n;                /* samples */
    int c, h, w;          /* per-sample tensor shape (the network input) */
    int n_classes;        /* folder and IDX: classes found; YOLO: 1 + largest class id seen */
    float *x;             /* n * c*h*w floats, preprocessed */
    int *y;               /* class per sample (IDX, folder); NULL for YOLO */
    int *box_first;       /* YOLO: boxes of sample i are boxes[box_first[i] .. + box_count[i]] */
    int *box_count;
    cnn_box_label *boxes; /* in network-input fractions (after letterboxing, if any) */
    int n_boxes;
    char **paths;         /* source image per sample; NULL for IDX */
    cnn_frame *frames;    /* where each source image sits in the network input; NULL for IDX */
    char **class_names;   /* n_classes names (folder names, Fashion-MNIST's, or "class<i>") */
} cnn_dataset;

typedef enum { CNN_SPLIT_TRAIN = 0, CNN_SPLIT_TEST } cnn_data_split;

/* Loads a dataset from a directory (layout detected as above). limit > 0 keeps only the first
 * `limit` samples (IDX order, or sorted path order). Errors name the file and the problem. */
cnn_status cnn_data_load(const char *dir, const cnn_preproc *pp, cnn_data_split split, int limit,
                         cnn_dataset *ds, cnn_error *err);
void cnn_data_free(cnn_dataset *ds);

static inline float *cnn_data_sample(const cnn_dataset *ds, int i)
{
    return ds->x + (size_t)i * ds->c * ds->h * ds->w;
}

/* Training-time augmentation, each part switchable. */
typedef struct {
    int flip;         /* mirror left-right with probability 0.5 */
    int shift;        /* translate by up to this many pixels in x and y (border filled) */
    float brightness; /* add U(-b, b) (network-input units) */
    float contrast;   /* scale about the sample mean by U(1-c, 1+c) */
    float fill;       /* value of uncovered pixels after a shift */
} cnn_augment;

/* dst = augmented copy of sample (c, h, w) src; boxes (may be NULL) are moved along and clipped;
 * *n_boxes is updated (boxes that leave the image are dropped). */
void cnn_data_augment(const float *src, float *dst, int c, int h, int w, const cnn_augment *a,
                      cnn_box_label *boxes, int *n_boxes, cnn_rng *rng);

/* Parses one YOLO label file's text. Lines `class cx cy w h`; blank lines and '#' comments
 * ignored. Errors name path:line. *out is malloc'd (may be NULL when empty). */
cnn_status cnn_data_parse_yolo_labels(const char *text, size_t len, const char *path,
                                      cnn_box_label **out, int *n, cnn_error *err);

#endif
