/* plot.c — line and grouped-bar charts on cnn_rgb8 images (see plot.h). A chart's rectangle is
 * laid out top to bottom as: title, y-axis label, plot area (left margin for the y tick labels),
 * x tick labels, x-axis label, [legend rows]. Lines are 2 px wide and clipped to the plot area. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "fsutil.h"

#define MAX_TICKS 12
#define LINE_H (CNN_FONT_H + 4) /* one row of scale-1 text with spacing */

static const uint8_t BLACK[3] = {0, 0, 0}, GRID[3] = {225, 225, 225}, TEXT[3] = {40, 40, 40},
                     FRAME[3] = {160, 160, 160}, WHITE[3] = {255, 255, 255};

cnn_status cnn_plot_image(cnn_rgb8 *img, int w, int h, cnn_error *err)
{
    cnn_status st = cnn_rgb8_alloc(img, w, h, err);
    if (st == CNN_OK) memset(img->px, 255, (size_t)w * h * 3);
    return st;
}

int cnn_plot_ticks(double lo, double hi, int max_ticks, double *ticks, double *step)
{
    if (max_ticks < 2) max_ticks = 2;
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (!(hi > lo)) {
        const double pad = lo != 0 ? fabs(lo) * 0.5 : 1;
        lo -= pad, hi += pad;
    }
    const double raw = (hi - lo) / (max_ticks - 1);
    double s = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10, 20};
    const double mag = s;
    long k0 = 0, k1 = 0;
    for (int i = 0; i < 5; i++) {
        s = mult[i] * mag;
        k0 = (long)floor(lo / s + 1e-9);
        k1 = (long)ceil(hi / s - 1e-9);
        if (k1 - k0 + 1 <= max_ticks) break;
    }
    int n = 0;
    for (long k = k0; k <= k1 && n < max_ticks; k++) ticks[n++] = (double)k * s;
    *step = s;
    return n;
}

static int decimals_for(double step)
{
    if (step >= 1) return 0;
    int d = (int)ceil(-log10(step) - 1e-9);
    return d > 6 ? 6 : d;
}

/* Pixel coordinates as doubles (unrounded, unclipped). */
static double map_x(const cnn_plot_frame *f, double x)
{
    const double t = f->xmax > f->xmin ? (x - f->xmin) / (f->xmax - f->xmin) : 0;
    return f->x0 + t * (f->x1 - f->x0);
}

static double map_y(const cnn_plot_frame *f, double y)
{
    const double t = f->ymax > f->ymin ? (y - f->ymin) / (f->ymax - f->ymin) : 0;
    return f->y1 - t * (f->y1 - f->y0);
}

/* Rounded, and kept within a million pixels of the frame so the int cannot overflow. */
static int to_px(double v)
{
    v = v < -1e6 ? -1e6 : v > 1e6 ? 1e6 : v;
    return (int)lround(v);
}

int cnn_plot_px(const cnn_plot_frame *f, double x) { return to_px(map_x(f, x)); }

int cnn_plot_py(const cnn_plot_frame *f, double y) { return to_px(map_y(f, y)); }

/* Liang-Barsky: clips the segment (ax,ay)-(bx,by) to the frame; 0 when nothing is left. */
static int clip(const cnn_plot_frame *f, double *ax, double *ay, double *bx, double *by)
{
    const double dx = *bx - *ax, dy = *by - *ay;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {*ax - f->x0, f->x1 - *ax, *ay - f->y0, f->y1 - *ay};
    double t0 = 0, t1 = 1;
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        const double t = q[i] / p[i];
        if (p[i] < 0) t0 = t > t0 ? t : t0;
        else t1 = t < t1 ? t : t1;
        if (t0 > t1) return 0;
    }
    const double x0 = *ax, y0 = *ay;
    *ax = x0 + t0 * dx, *ay = y0 + t0 * dy;
    *bx = x0 + t1 * dx, *by = y0 + t1 * dy;
    return 1;
}

/* A 2x2 dot at (x, y) kept inside the frame. */
static void dot(cnn_rgb8 *img, const cnn_plot_frame *f, int x, int y, const uint8_t rgb[3])
{
    if (x < f->x0 || x > f->x1 || y < f->y0 || y > f->y1) return;
    const int x2 = x + 1 <= f->x1 ? x + 1 : x, y2 = y + 1 <= f->y1 ? y + 1 : y;
    cnn_draw_fill(img, x, y, x2, y2, rgb);
}

/* Bresenham between two pixel positions, 2 px wide, clipped to the frame. */
static void segment(cnn_rgb8 *img, const cnn_plot_frame *f, int x0, int y0, int x1, int y1,
                    const uint8_t rgb[3])
{
    const int dx = x1 > x0 ? x1 - x0 : x0 - x1, dy = y1 > y0 ? y0 - y1 : y1 - y0;
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (int guard = 0; guard < 100000; guard++) {
        dot(img, f, x0, y0, rgb);
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

typedef struct {
    int x, y, w, h;
    int legend_rows; /* for CNN_LEGEND_BELOW */
} box;

/* Rows needed to lay the legend entries out under the chart within width w. */
static int legend_below_rows(const char *const *labels, int n, int w)
{
    int rows = n ? 1 : 0, used = 0;
    for (int i = 0; i < n; i++) {
        const int ew = 22 + cnn_draw_text_width(labels[i] ? labels[i] : "", 1) + 14;
        if (used && used + ew > w) rows++, used = 0;
        used += ew;
    }
    return rows;
}

/* Axes, grid, ticks, title and labels; returns the frame. Tick labels are drawn for the
 * y axis always and for the x axis when numeric (bars label their categories). */
static cnn_plot_frame draw_axes(cnn_rgb8 *img, box b, const cnn_plot_axes *a, double xlo,
                                double xhi, double ylo, double yhi, int numeric_x)
{
    double yt[MAX_TICKS], xt[MAX_TICKS], ystep, xstep;
    const int ny = cnn_plot_ticks(ylo, yhi, 7, yt, &ystep);
    const int nx = numeric_x ? cnn_plot_ticks(xlo, xhi, 8, xt, &xstep) : 0;
    const int yd = decimals_for(ystep), xd = numeric_x ? decimals_for(xstep) : 0;
    char buf[64];
    int label_w = 0;
    for (int i = 0; i < ny; i++) {
        snprintf(buf, sizeof buf, "%.*f", yd, yt[i]);
        const int tw = cnn_draw_text_width(buf, 1);
        label_w = tw > label_w ? tw : label_w;
    }
    const int title_h = a->title ? 2 * CNN_FONT_H + 8 : 4;
    const int ylabel_h = a->ylabel ? LINE_H : 0;
    cnn_plot_frame f;
    f.x0 = b.x + label_w + 12;
    f.x1 = b.x + b.w - 16;
    f.y0 = b.y + title_h + ylabel_h + 6;
    f.y1 = b.y + b.h - 1 - (LINE_H + 4) - (a->xlabel ? LINE_H : 0) - b.legend_rows * LINE_H - 4;
    if (f.x1 < f.x0 + 10) f.x1 = f.x0 + 10;
    if (f.y1 < f.y0 + 10) f.y1 = f.y0 + 10;
    f.ymin = yt[0], f.ymax = yt[ny - 1];
    f.xmin = numeric_x ? xt[0] : xlo, f.xmax = numeric_x ? xt[nx - 1] : xhi;
    if (a->title) {
        const int tw = cnn_draw_text_width(a->title, 2);
        cnn_draw_text(img, b.x + (b.w - tw) / 2, b.y + 4, a->title, BLACK, 2);
    }
    if (a->ylabel) cnn_draw_text(img, b.x + 4, f.y0 - 6 - LINE_H + 2, a->ylabel, TEXT, 1);
    for (int i = 0; i < ny; i++) {
        const int py = cnn_plot_py(&f, yt[i]);
        if (i > 0) cnn_draw_fill(img, f.x0, py, f.x1, py, GRID);
        cnn_draw_fill(img, f.x0 - 4, py, f.x0 - 1, py, BLACK);
        snprintf(buf, sizeof buf, "%.*f", yd, yt[i]);
        cnn_draw_text(img, f.x0 - 6 - cnn_draw_text_width(buf, 1), py - CNN_FONT_H / 2, buf, TEXT, 1);
    }
    for (int i = 0; i < nx; i++) {
        const int px = cnn_plot_px(&f, xt[i]);
        if (i > 0) cnn_draw_fill(img, px, f.y0, px, f.y1, GRID);
        cnn_draw_fill(img, px, f.y1 + 1, px, f.y1 + 4, BLACK);
        snprintf(buf, sizeof buf, "%.*f", xd, xt[i]);
        cnn_draw_text(img, px - cnn_draw_text_width(buf, 1) / 2, f.y1 + 6, buf, TEXT, 1);
    }
    /* the axes themselves: left and bottom, just outside the plot area */
    cnn_draw_fill(img, f.x0 - 1, f.y0, f.x0 - 1, f.y1 + 1, BLACK);
    cnn_draw_fill(img, f.x0 - 1, f.y1 + 1, f.x1, f.y1 + 1, BLACK);
    if (a->xlabel) {
        const int tw = cnn_draw_text_width(a->xlabel, 1);
        cnn_draw_text(img, f.x0 + (f.x1 - f.x0 - tw) / 2, f.y1 + 6 + LINE_H, a->xlabel, TEXT, 1);
    }
    return f;
}

/* A legend of n entries; bars draw filled squares as swatches, lines short strokes. */
static void draw_legend(cnn_rgb8 *img, const cnn_plot_frame *f, box b, cnn_legend_pos pos,
                        const char *const *labels, const uint8_t (*colors)[3], int n, int squares)
{
    if (pos == CNN_LEGEND_NONE || n <= 0) return;
    if (pos == CNN_LEGEND_BELOW) {
        int x = f->x0, y = b.y + b.h - 4 - b.legend_rows * LINE_H;
        for (int i = 0; i < n; i++) {
            const char *t = labels[i] ? labels[i] : "";
            const int ew = 22 + cnn_draw_text_width(t, 1) + 14;
            if (x > f->x0 && x + ew > b.x + b.w) x = f->x0, y += LINE_H;
            if (squares) cnn_draw_fill(img, x, y + 1, x + 15, y + CNN_FONT_H - 1, colors[i]);
            else cnn_draw_fill(img, x, y + CNN_FONT_H / 2 - 1, x + 15, y + CNN_FONT_H / 2, colors[i]);
            cnn_draw_text(img, x + 22, y, t, TEXT, 1);
            x += ew;
        }
        return;
    }
    int tw = 0;
    for (int i = 0; i < n; i++) {
        const int w = cnn_draw_text_width(labels[i] ? labels[i] : "", 1);
        tw = w > tw ? w : tw;
    }
    const int w = 8 + 20 + tw + 8, h = 6 + n * LINE_H + 2;
    const int x = f->x1 - 6 - w;
    const int y = pos == CNN_LEGEND_TOP_RIGHT ? f->y0 + 6 : f->y1 - 6 - h;
    cnn_draw_fill(img, x, y, x + w, y + h, WHITE);
    cnn_draw_rect(img, x, y, x + w, y + h, FRAME, 1);
    for (int i = 0; i < n; i++) {
        const int ry = y + 6 + i * LINE_H;
        if (squares) cnn_draw_fill(img, x + 8, ry + 1, x + 22, ry + CNN_FONT_H - 1, colors[i]);
        else cnn_draw_fill(img, x + 8, ry + CNN_FONT_H / 2 - 1, x + 22, ry + CNN_FONT_H / 2, colors[i]);
        cnn_draw_text(img, x + 28, ry, labels[i] ? labels[i] : "", TEXT, 1);
    }
}

cnn_plot_frame cnn_plot_lines(cnn_rgb8 *img, int x, int y, int w, int h, const cnn_plot_axes *axes,
                              const cnn_plot_series *series, int n_series)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < series[s].n; i++) {
            const double xv = series[s].x[i], yv = series[s].y[i];
            if (!isfinite(xv) || !isfinite(yv)) continue;
            xlo = xv < xlo ? xv : xlo, xhi = xv > xhi ? xv : xhi;
            ylo = yv < ylo ? yv : ylo, yhi = yv > yhi ? yv : yhi;
        }
    if (axes->x_min < axes->x_max) xlo = axes->x_min, xhi = axes->x_max;
    if (axes->y_min < axes->y_max) ylo = axes->y_min, yhi = axes->y_max;
    const char *labels[64];
    uint8_t colors[64][3];
    const int n_leg = n_series < 64 ? n_series : 64;
    for (int s = 0; s < n_leg; s++) labels[s] = series[s].label, memcpy(colors[s], series[s].rgb, 3);
    box b = {x, y, w, h, axes->legend == CNN_LEGEND_BELOW ? legend_below_rows(labels, n_leg, w) : 0};
    cnn_plot_frame f = draw_axes(img, b, axes, xlo, xhi, ylo, yhi, 1);
    for (int s = 0; s < n_series; s++) {
        int have = 0;
        double px = 0, py = 0;
        for (int i = 0; i < series[s].n; i++) {
            if (!isfinite(series[s].x[i]) || !isfinite(series[s].y[i])) {
                have = 0;
                continue;
            }
            const double qx = map_x(&f, series[s].x[i]), qy = map_y(&f, series[s].y[i]);
            double ax = have ? px : qx, ay = have ? py : qy, bx = qx, by = qy;
            if (clip(&f, &ax, &ay, &bx, &by))
                segment(img, &f, to_px(ax), to_px(ay), to_px(bx), to_px(by), series[s].rgb);
            px = qx, py = qy, have = 1;
        }
    }
    draw_legend(img, &f, b, axes->legend, labels, (const uint8_t(*)[3])colors, n_leg, 0);
    return f;
}

cnn_plot_frame cnn_plot_bars(cnn_rgb8 *img, int x, int y, int w, int h, const cnn_plot_axes *axes,
                             const char *const *cats, int n_cats, const char *const *groups,
                             const uint8_t (*colors)[3], int n_groups, const float *values,
                             const float *lo, const float *hi, const char *value_fmt)
{
    double ylo = 0, yhi = 0;
    for (int i = 0; i < n_cats * n_groups; i++) {
        if (!isfinite(values[i])) continue;
        ylo = values[i] < ylo ? values[i] : ylo;
        yhi = values[i] > yhi ? values[i] : yhi;
    }
    if (axes->y_min < axes->y_max) ylo = axes->y_min, yhi = axes->y_max;
    box b = {x, y, w, h,
             axes->legend == CNN_LEGEND_BELOW ? legend_below_rows(groups, n_groups, w) : 0};
    cnn_plot_frame f = draw_axes(img, b, axes, 0, n_cats > 0 ? n_cats : 1, ylo, yhi, 0);
    const double slot = (double)(f.x1 - f.x0) / (n_cats > 0 ? n_cats : 1);
    const double bar_w = slot * 0.8 / (n_groups > 0 ? n_groups : 1);
    const int base = cnn_plot_py(&f, f.ymin <= 0 && f.ymax >= 0 ? 0 : f.ymin);
    for (int c = 0; c < n_cats; c++) {
        const double left = f.x0 + c * slot + slot * 0.1;
        for (int g = 0; g < n_groups; g++) {
            const float v = values[c * n_groups + g];
            if (!isfinite(v)) continue;
            const int bx0 = (int)lround(left + g * bar_w), bx1 = (int)lround(left + (g + 1) * bar_w) - 2;
            int top = cnn_plot_py(&f, v);
            top = top < f.y0 ? f.y0 : top > f.y1 ? f.y1 : top;
            cnn_draw_fill(img, bx0, top, bx1 > bx0 ? bx1 : bx0, base, colors[g]);
            int label_y = v >= 0 ? top - CNN_FONT_H - 1 : top + 2;
            if (lo && hi && isfinite(lo[c * n_groups + g]) && isfinite(hi[c * n_groups + g])) {
                const int cx = (bx0 + bx1) / 2, cap = (bx1 - bx0) / 6 + 1;
                int ylo = cnn_plot_py(&f, lo[c * n_groups + g]), yhi = cnn_plot_py(&f, hi[c * n_groups + g]);
                ylo = ylo > f.y1 ? f.y1 : ylo, yhi = yhi < f.y0 ? f.y0 : yhi;
                cnn_draw_fill(img, cx, yhi, cx, ylo, BLACK);
                cnn_draw_fill(img, cx - cap, yhi, cx + cap, yhi, BLACK);
                cnn_draw_fill(img, cx - cap, ylo, cx + cap, ylo, BLACK);
                if (v >= 0 && yhi < top) label_y = yhi - CNN_FONT_H - 1;
            }
            if (value_fmt) {
                char buf[32];
                snprintf(buf, sizeof buf, value_fmt, v);
                const int tw = cnn_draw_text_width(buf, 1);
                if (tw <= bx1 - bx0 + 6) cnn_draw_text(img, (bx0 + bx1 - tw) / 2 + 1, label_y, buf, TEXT, 1);
            }
        }
        if (cats && cats[c]) {
            const int tw = cnn_draw_text_width(cats[c], 1);
            cnn_draw_text(img, (int)lround(f.x0 + (c + 0.5) * slot) - tw / 2, f.y1 + 6, cats[c], TEXT, 1);
        }
    }
    draw_legend(img, &f, b, axes->legend, groups, colors, n_groups, 1);
    return f;
}

cnn_status cnn_plot_save_png(const cnn_rgb8 *img, const char *path, cnn_error *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    cnn_status st = cnn_image_encode(img, CNN_FMT_PNG, 0, &buf, &n, err);
    if (st == CNN_OK) st = cnn_write_file_atomic(path, buf, n, err);
    free(buf);
    return st;
}
