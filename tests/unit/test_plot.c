/* test_plot.c — plot.c: tick choice, and charts checked pixel by pixel: a line's colour where
 * the frame says its points are, nothing of it outside the plot area, axes where they belong,
 * gaps at non-finite values, bar heights, legends, and a PNG that decodes to the same pixels. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "testutil.h"

static const uint8_t RED[3] = {255, 0, 0}, BLUE[3] = {0, 0, 255};

static const uint8_t *at(const cnn_rgb8 *img, int x, int y)
{
    return img->px + ((size_t)y * img->w + x) * 3;
}

static int is(const cnn_rgb8 *img, int x, int y, const uint8_t rgb[3])
{
    return x >= 0 && y >= 0 && x < img->w && y < img->h && memcmp(at(img, x, y), rgb, 3) == 0;
}

/* Whether rgb appears within r pixels of (x, y). */
static int near(const cnn_rgb8 *img, int x, int y, int r, const uint8_t rgb[3])
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (is(img, x + dx, y + dy, rgb)) return 1;
    return 0;
}

static int count(const cnn_rgb8 *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) n += is(img, x, y, rgb);
    return n;
}

START_TEST(test_ticks)
{
    double t[16], step;
    int n = cnn_plot_ticks(0, 1, 7, t, &step);
    ck_assert_int_eq(n, 6); /* 0, 0.2, ..., 1 */
    ck_assert_double_eq_tol(step, 0.2, 1e-12);
    ck_assert_double_eq_tol(t[0], 0, 1e-12);
    ck_assert_double_eq_tol(t[5], 1, 1e-12);
    n = cnn_plot_ticks(0.3, 2.45, 7, t, &step); /* covers the range with whole steps */
    ck_assert_double_eq_tol(step, 0.5, 1e-12);
    ck_assert_double_eq_tol(t[0], 0, 1e-12);
    ck_assert_double_eq_tol(t[n - 1], 2.5, 1e-12);
    n = cnn_plot_ticks(0, 186, 8, t, &step);
    ck_assert_double_eq_tol(step, 50, 1e-9);
    ck_assert_double_eq_tol(t[n - 1], 200, 1e-9);
    ck_assert_int_le(n, 8);
    /* degenerate and non-finite ranges still give an increasing axis */
    n = cnn_plot_ticks(5, 5, 7, t, &step);
    ck_assert_int_ge(n, 2);
    ck_assert(t[0] <= 5 && t[n - 1] >= 5 && t[n - 1] > t[0]);
    n = cnn_plot_ticks(NAN, INFINITY, 7, t, &step);
    ck_assert_int_ge(n, 2);
    for (int i = 1; i < n; i++) ck_assert(t[i] > t[i - 1]);
}
END_TEST

START_TEST(test_line_pixels)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_plot_image(&img, 400, 300, &err), CNN_OK);
    ck_assert(count(&img, 0, 0, 399, 299, (const uint8_t[3]){255, 255, 255}) == 400 * 300);
    const float x[] = {0, 10}, y[] = {0, 5};
    cnn_plot_series s = {"rising", x, y, 2, {255, 0, 0}};
    cnn_plot_axes a = {.title = "T", .xlabel = "x", .ylabel = "y", .x_min = 0, .x_max = 10,
                       .y_min = 0, .y_max = 10, .legend = CNN_LEGEND_TOP_RIGHT};
    cnn_plot_frame f = cnn_plot_lines(&img, 0, 0, 400, 300, &a, &s, 1);
    /* the frame is inside the image and the ranges are the ones asked for */
    ck_assert(f.x0 > 20 && f.x1 < 400 && f.y0 > 20 && f.y1 < 300 && f.x0 < f.x1 && f.y0 < f.y1);
    ck_assert_double_eq_tol(f.xmin, 0, 1e-12);
    ck_assert_double_eq_tol(f.xmax, 10, 1e-12);
    ck_assert_int_eq(cnn_plot_px(&f, 0), f.x0);
    ck_assert_int_eq(cnn_plot_px(&f, 10), f.x1);
    ck_assert_int_eq(cnn_plot_py(&f, 0), f.y1);
    ck_assert_int_eq(cnn_plot_py(&f, 10), f.y0);
    /* the line passes through its points and between them, and nowhere else */
    for (double v = 0; v <= 10; v += 1.25)
        ck_assert_msg(near(&img, cnn_plot_px(&f, v), cnn_plot_py(&f, v / 2), 1, RED),
                      "no red near data (%g, %g)", v, v / 2);
    ck_assert(!near(&img, cnn_plot_px(&f, 8), cnn_plot_py(&f, 1), 3, RED));
    ck_assert(!near(&img, cnn_plot_px(&f, 2), cnn_plot_py(&f, 8), 3, RED));
    /* nothing red left of or below the plot area (the legend is inside it) */
    ck_assert_int_eq(count(&img, 0, 0, f.x0 - 1, 299, RED), 0);
    ck_assert_int_eq(count(&img, 0, f.y1 + 1, 399, 299, RED), 0);
    /* axes: a black column left of the area and a black row under it, full length */
    for (int yy = f.y0; yy <= f.y1; yy++) ck_assert(is(&img, f.x0 - 1, yy, (const uint8_t[3]){0, 0, 0}));
    for (int xx = f.x0; xx <= f.x1; xx++) ck_assert(is(&img, xx, f.y1 + 1, (const uint8_t[3]){0, 0, 0}));
    /* the legend's swatch: a red run in the top-right corner, far above the line */
    ck_assert(cnn_plot_py(&f, 5) > f.y0 + 60);
    ck_assert_int_gt(count(&img, f.x1 - 120, f.y0, f.x1, f.y0 + 30, RED), 10);
    /* a title and tick labels were written (dark text pixels above and left of the area) */
    ck_assert_int_gt(count(&img, 0, 0, 399, f.y0 - 1, (const uint8_t[3]){0, 0, 0}), 20);
    ck_assert_int_gt(count(&img, 0, f.y0, f.x0 - 6, f.y1, (const uint8_t[3]){40, 40, 40}), 20);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_line_gaps_and_clipping)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_plot_image(&img, 300, 200, &err), CNN_OK);
    /* a NaN breaks the line between x=2 and x=8; a point far outside the range is clipped */
    const float x[] = {0, 2, 5, 8, 10, 11}, y[] = {5, 5, NAN, 5, 5, 1e9f};
    cnn_plot_series s = {NULL, x, y, 6, {0, 0, 255}};
    cnn_plot_axes a = {.x_min = 0, .x_max = 10, .y_min = 0, .y_max = 10};
    cnn_plot_frame f = cnn_plot_lines(&img, 0, 0, 300, 200, &a, &s, 1);
    const int y5 = cnn_plot_py(&f, 5);
    ck_assert(near(&img, cnn_plot_px(&f, 1), y5, 1, BLUE));
    ck_assert(near(&img, cnn_plot_px(&f, 9), y5, 1, BLUE));
    ck_assert(!near(&img, cnn_plot_px(&f, 5), y5, 2, BLUE));
    /* the clipped segment stays inside the plot area */
    ck_assert_int_eq(count(&img, 0, 0, 299, f.y0 - 1, BLUE), 0);
    ck_assert_int_eq(count(&img, f.x1 + 1, 0, 299, 199, BLUE), 0);
    ck_assert_int_gt(count(&img, cnn_plot_px(&f, 10), f.y0, f.x1, f.y1, BLUE), 0);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_bars)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_plot_image(&img, 500, 300, &err), CNN_OK);
    const char *cats[] = {"a", "b", "c"}, *groups[] = {"red", "blue"};
    const uint8_t colors[2][3] = {{255, 0, 0}, {0, 0, 255}};
    /* cat a: red 50, blue 100; cat b: red 20, no blue; cat c: nothing */
    const float v[] = {50, 100, 20, NAN, NAN, NAN};
    cnn_plot_axes a = {.y_min = 0, .y_max = 100, .legend = CNN_LEGEND_BELOW};
    /* a whisker on cat a's red bar from 40 to 70 */
    const float lo[] = {40, NAN, NAN, NAN, NAN, NAN}, hi[] = {70, NAN, NAN, NAN, NAN, NAN};
    cnn_plot_frame f = cnn_plot_bars(&img, 0, 0, 500, 300, &a, cats, 3, groups, colors, 2, v, lo, hi, "%.0f");
    const double slot = (f.x1 - f.x0) / 3.0, bar = slot * 0.8 / 2;
    const int red_a = (int)(f.x0 + slot * 0.1 + bar * 0.5), blue_a = (int)(f.x0 + slot * 0.1 + bar * 1.5);
    const int red_b = (int)(f.x0 + slot * 1.1 + bar * 0.5), blue_b = (int)(f.x0 + slot * 1.1 + bar * 1.5);
    const int whisker_x = (int)lround(f.x0 + slot * 0.1), whisker_x1 = (int)lround(f.x0 + slot * 0.1 + bar) - 2;
    const int wx = (whisker_x + whisker_x1) / 2;
    ck_assert(is(&img, wx, cnn_plot_py(&f, 65), (const uint8_t[3]){0, 0, 0})); /* above the bar */
    ck_assert(is(&img, wx, cnn_plot_py(&f, 45), (const uint8_t[3]){0, 0, 0})); /* over the bar */
    ck_assert(!is(&img, wx, cnn_plot_py(&f, 75), (const uint8_t[3]){0, 0, 0}));
    ck_assert(!is(&img, wx, cnn_plot_py(&f, 30), (const uint8_t[3]){0, 0, 0}));
    ck_assert(is(&img, red_a, cnn_plot_py(&f, 25), RED));
    ck_assert(is(&img, red_a, cnn_plot_py(&f, 38), RED));
    ck_assert(!is(&img, red_a, cnn_plot_py(&f, 60), RED));
    ck_assert(is(&img, blue_a, cnn_plot_py(&f, 97), BLUE));
    ck_assert(is(&img, red_b, cnn_plot_py(&f, 18), RED));
    ck_assert(!is(&img, red_b, cnn_plot_py(&f, 30), RED));
    ck_assert(!near(&img, blue_b, cnn_plot_py(&f, 5), 2, BLUE)); /* NaN: no bar */
    ck_assert_int_eq(count(&img, (int)(f.x0 + 2 * slot) + 2, f.y0, f.x1, f.y1, RED), 0);
    ck_assert_int_eq(count(&img, (int)(f.x0 + 2 * slot) + 2, f.y0, f.x1, f.y1, BLUE), 0);
    /* legend below the axis: both colours appear under the plot area */
    ck_assert_int_gt(count(&img, 0, f.y1 + 2, 499, 299, RED), 10);
    ck_assert_int_gt(count(&img, 0, f.y1 + 2, 499, 299, BLUE), 10);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_panels_and_png)
{
    cnn_rgb8 img, back;
    cnn_error err;
    ck_assert_int_eq(cnn_plot_image(&img, 600, 250, &err), CNN_OK);
    const float x[] = {0, 1, 2, 3}, y1[] = {3, 2, 1.5f, 1}, y2[] = {0, 0, 10, 40};
    cnn_plot_series a1 = {"loss", x, y1, 4, {255, 0, 0}}, a2 = {"dead", x, y2, 4, {0, 0, 255}};
    cnn_plot_axes ax = {.title = "left", .legend = CNN_LEGEND_TOP_RIGHT};
    cnn_plot_frame f1 = cnn_plot_lines(&img, 0, 0, 300, 250, &ax, &a1, 1);
    ax.title = "right";
    cnn_plot_frame f2 = cnn_plot_lines(&img, 300, 0, 300, 250, &ax, &a2, 1);
    ck_assert(f1.x1 < 300 && f2.x0 > 300);
    ck_assert_int_eq(count(&img, 300, 0, 599, 249, RED), 0); /* each panel keeps to itself */
    ck_assert_int_eq(count(&img, 0, 0, 299, 249, BLUE), 0);
    ck_assert(f1.ymin <= 1 && f1.ymax >= 3 && f2.ymin <= 0 && f2.ymax >= 40); /* from the data */
    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/chart.png", dir);
    ck_assert_int_eq(cnn_plot_save_png(&img, path, &err), CNN_OK);
    cnn_image_limits lim = cnn_image_limits_default();
    cnn_image_format fmt;
    ck_assert_int_eq(cnn_image_load(path, &lim, &back, &fmt, &err), CNN_OK);
    ck_assert_int_eq(fmt, CNN_FMT_PNG);
    ck_assert_int_eq(back.w, 600);
    ck_assert_int_eq(back.h, 250);
    ck_assert(memcmp(back.px, img.px, (size_t)600 * 250 * 3) == 0);
    cnn_rgb8_free(&back);
    cnn_rgb8_free(&img);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ticks);
    tcase_add_test(tc, test_line_pixels);
    tcase_add_test(tc, test_line_gaps_and_clipping);
    tcase_add_test(tc, test_bars);
    tcase_add_test(tc, test_panels_and_png);
    suite_add_tcase(s, tc);
    return s;
}
