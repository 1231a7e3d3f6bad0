/* plot.h — small charts drawn on cnn_rgb8 images with draw.h's primitives and embedded font:
 * line charts (several series, a legend) and grouped bar charts, with axes, "nice" ticks
 * (1, 2 or 5 x 10^k), a light grid, a title and axis labels. Each chart fills a rectangle of
 * the image, so several panels can share one picture. Nothing here allocates except
 * cnn_plot_image and cnn_plot_save_png.
 * Why our own: Debian's plotting libraries (PLplot, GNU libplot, MathGL) would each add a
 * runtime dependency with its own font and driver setup for what is ~300 lines here. */
#ifndef CNN_PLOT_H
#define CNN_PLOT_H

#include <stdint.h>

#include "image.h"

typedef enum {
    CNN_LEGEND_NONE = 0,
    CNN_LEGEND_TOP_RIGHT,    /* inside the plot area */
    CNN_LEGEND_BOTTOM_RIGHT, /* inside the plot area */
    CNN_LEGEND_BELOW         /* under the x-axis label, in rows */
} cnn_legend_pos;

typedef struct {
    const char *title, *xlabel, *ylabel; /* any may be NULL; ylabel is written above the y axis */
    double x_min, x_max, y_min, y_max;   /* a range with min >= max is taken from the data */
    cnn_legend_pos legend;
} cnn_plot_axes;

typedef struct {
    const char *label;
    const float *x, *y; /* n points in x order; a non-finite y breaks the line there */
    int n;
    uint8_t rgb[3];
} cnn_plot_series;

/* Where data went: the plot area in image pixels (inclusive corners) and the axis ranges after
 * rounding out to whole ticks. */
typedef struct {
    int x0, y0, x1, y1;
    double xmin, xmax, ymin, ymax;
} cnn_plot_frame;

/* A white w x h image. */
cnn_status cnn_plot_image(cnn_rgb8 *img, int w, int h, cnn_error *err);

/* Line chart in the rectangle (x, y, w, h) of img. */
cnn_plot_frame cnn_plot_lines(cnn_rgb8 *img, int x, int y, int w, int h, const cnn_plot_axes *axes,
                              const cnn_plot_series *series, int n_series);

/* Grouped bar chart: n_cats categories along x, each with n_groups bars side by side;
 * values[cat * n_groups + g] (non-finite = no bar). lo and hi (both NULL, or same layout) draw a
 * range whisker on each bar, e.g. min-max over repeats. The y range includes 0. value_fmt (e.g.
 * "%.2f", or NULL for none) labels each bar with its value. Legend entries are the groups. */
cnn_plot_frame cnn_plot_bars(cnn_rgb8 *img, int x, int y, int w, int h, const cnn_plot_axes *axes,
                             const char *const *cats, int n_cats, const char *const *groups,
                             const uint8_t (*colors)[3], int n_groups, const float *values,
                             const float *lo, const float *hi, const char *value_fmt);

/* Data to pixel coordinates of a frame (rounded to the nearest pixel). */
int cnn_plot_px(const cnn_plot_frame *f, double x);
int cnn_plot_py(const cnn_plot_frame *f, double y);

/* Ticks at multiples of a 1, 2 or 5 x 10^k step covering [lo, hi] with at most max_ticks
 * values: writes them to ticks (ascending) and returns how many; *step receives the step. */
int cnn_plot_ticks(double lo, double hi, int max_ticks, double *ticks, double *step);

/* PNG-encodes img and writes it to path atomically. */
cnn_status cnn_plot_save_png(const cnn_rgb8 *img, const char *path, cnn_error *err);

#endif
