/* synth.h — a synthetic MRI-like axial brain-slice phantom with optional tumours, for demo and
 * test data. NOT patient data and not a physical simulation: a parametric picture with a skull
 * ring, grey/white-matter texture, ventricles, a bias field, Rician-like noise and lesions (bright
 * mass, optional necrotic core, oedema halo).
 * Slice i of a dataset is a pure function of (seed, i, options): no global state, and each slice
 * draws from its own generators, so the first N slices of a longer run are the same slices.
 * Images are 8-bit grey (size, size), row-major; boxes are in pixel coordinates with pixel (x, y)
 * covering [x, x+1) x [y, y+1). */
#ifndef CNN_SYNTH_H
#define CNN_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define CNN_SYNTH_MIN_SIZE 64
#define CNN_SYNTH_MAX_SIZE 1024
#define CNN_SYNTH_MAX_LESIONS 3

typedef struct {
    int size;          /* image side in pixels, CNN_SYNTH_MIN_SIZE..CNN_SYNTH_MAX_SIZE */
    float lesion_prob; /* probability that a slice has lesions (1..3), 0..1 */
} cnn_synth_opts;

/* Axis-aligned box, pixel coordinates, x0 < x1, y0 < y1, inside [0, size]. */
typedef struct {
    float x0, y0, x1, y1;
} cnn_synth_box;

typedef struct {
    int n_lesions;
    /* Tight box of each lesion's enhancing mass, necrotic core included, oedema halo excluded. */
    cnn_synth_box lesion[CNN_SYNTH_MAX_LESIONS];
    /* The brain (inside the skull and the CSF gap) as an ellipse in pixels: centre, semi-axes,
     * rotation in radians (x axis towards y axis). The outline is slightly irregular; the ellipse
     * is its mean. For tests and for anyone who wants a brain mask. */
    float brain_cx, brain_cy, brain_ax, brain_ay, brain_angle;
} cnn_synth_info;

/* Floats of scratch memory cnn_synth_tumour_slice needs for a size x size slice. */
size_t cnn_synth_work_floats(int size);

/* Renders slice `index` of the dataset `seed` into px (size*size bytes) and describes it in info.
 * work holds cnn_synth_work_floats(size) floats (contents irrelevant; no allocation inside).
 * The anatomy of a slice does not depend on lesion_prob, only whether lesions are drawn.
 * Errors: CNN_ERR_USAGE for options out of range. */
cnn_status cnn_synth_tumour_slice(uint64_t seed, uint64_t index, const cnn_synth_opts *opts,
                                  uint8_t *px, float *work, cnn_synth_info *info, cnn_error *err);

#endif
