/* test_draw.c — unit tests for draw.c and font.c: exact pixels of rectangles and glyphs, label
 * tag placement and contrast, and clipping: pixels live inside a buffer with guard bytes on both
 * sides, which must survive drawing at any coordinates (negative, huge, on the edges). */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"

#define GUARD 4096
#define GUARD_BYTE 0xA5

static const uint8_t RED[3] = {255, 0, 0}, YELLOW[3] = {255, 255, 0}, BLUE[3] = {0, 0, 255};

/* A black w x h image inside [guard | pixels | guard]. */
typedef struct {
    uint8_t *mem;
    cnn_rgb8 img;
} guarded;

static guarded guarded_new(int w, int h)
{
    size_t n = (size_t)w * h * 3;
    guarded g = {malloc(n + 2 * GUARD), {w, h, NULL}};
    ck_assert_ptr_nonnull(g.mem);
    memset(g.mem, GUARD_BYTE, n + 2 * GUARD);
    g.img.px = g.mem + GUARD;
    memset(g.img.px, 0, n);
    return g;
}

static void guarded_check_free(guarded *g)
{
    size_t n = (size_t)g->img.w * g->img.h * 3;
    for (size_t i = 0; i < GUARD; i++) {
        ck_assert_uint_eq(g->mem[i], GUARD_BYTE);
        ck_assert_uint_eq(g->mem[GUARD + n + i], GUARD_BYTE);
    }
    free(g->mem);
}

static const uint8_t *px(const cnn_rgb8 *img, int x, int y)
{
    return img->px + ((size_t)y * img->w + x) * 3;
}

static int is_rgb(const cnn_rgb8 *img, int x, int y, const uint8_t rgb[3])
{
    return memcmp(px(img, x, y), rgb, 3) == 0;
}

static int is_black(const cnn_rgb8 *img, int x, int y)
{
    static const uint8_t black[3] = {0, 0, 0};
    return is_rgb(img, x, y, black);
}

START_TEST(test_rect_exact_pixels)
{
    for (int th = 1; th <= 2; th++) {
        guarded g = guarded_new(12, 12);
        cnn_draw_rect(&g.img, 7, 8, 2, 3, RED, th); /* corners in either order */
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 12; x++) {
                int inside = x >= 2 && x <= 7 && y >= 3 && y <= 8;
                int border = inside && (x < 2 + th || x > 7 - th || y < 3 + th || y > 8 - th);
                ck_assert_msg(border ? is_rgb(&g.img, x, y, RED) : is_black(&g.img, x, y),
                              "thickness %d, pixel (%d,%d)", th, x, y);
            }
        guarded_check_free(&g);
    }
}
END_TEST

START_TEST(test_fill_clipped)
{
    guarded g = guarded_new(5, 4);
    cnn_draw_fill(&g.img, 2, 1, -7, -9, BLUE);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 5; x++)
            ck_assert(x <= 2 && y <= 1 ? is_rgb(&g.img, x, y, BLUE) : is_black(&g.img, x, y));
    guarded_check_free(&g);
}
END_TEST

/* Every primitive at hostile coordinates: nothing outside the pixels may change. */
START_TEST(test_clipping_extremes)
{
    const int v[] = {INT_MIN, INT_MIN + 1, -100000, -13, -1, 0, 1, 6, 16, 17, 18, 31, 32, 33,
                     100000, INT_MAX - 1, INT_MAX};
    const int nv = (int)(sizeof v / sizeof v[0]);
    guarded g = guarded_new(33, 17);
    for (int a = 0; a < nv; a++)
        for (int b = 0; b < nv; b++) {
            int x1 = v[a], y1 = v[b], x2 = v[(a * 7 + b) % nv], y2 = v[(b * 5 + a + 3) % nv];
            cnn_draw_rect(&g.img, x1, y1, x2, y2, RED, 1 + (a + b) % 4);
            cnn_draw_fill(&g.img, x1, y1, x2, y2, BLUE);
            cnn_draw_text(&g.img, x1, y1, "Wg%_|", YELLOW, 1 + a % 3);
            cnn_draw_detection(&g.img, x1, y1, x2, y2, "person 0.87", YELLOW);
        }
    const char *lines[] = {"cat 0.9", NULL, "a much longer line than the image is wide"};
    cnn_draw_banner(&g.img, lines, 3);
    guarded_check_free(&g);
    /* the 1x1 image takes the same abuse */
    g = guarded_new(1, 1);
    cnn_draw_detection(&g.img, -5, -5, 5, 5, "x", RED);
    cnn_draw_banner(&g.img, lines, 3);
    guarded_check_free(&g);
}
END_TEST

START_TEST(test_text_width)
{
    ck_assert_int_eq(cnn_draw_text_width("", 1), 0);
    ck_assert_int_eq(cnn_draw_text_width("abc", 1), 3 * CNN_FONT_W);
    ck_assert_int_eq(cnn_draw_text_width("abc", 2), 36);
    ck_assert_int_eq(cnn_draw_text_width("person 0.87", 3), 11 * 6 * 3);
    ck_assert_int_eq(cnn_draw_text_width("ab", 0), 12); /* scale below 1 counts as 1 */
}
END_TEST

/* Glyph bits land exactly, at scale 1 and 2, and clipped glyphs keep their visible part. */
START_TEST(test_text_pixels)
{
    const uint8_t *glyph = cnn_font_glyphs['A' - 32];
    for (int scale = 1; scale <= 2; scale++) {
        guarded g = guarded_new(2 * CNN_FONT_W * scale, CNN_FONT_H * scale);
        cnn_draw_text(&g.img, 0, 0, "xA", YELLOW, scale);
        for (int y = 0; y < CNN_FONT_H * scale; y++)
            for (int x = 0; x < CNN_FONT_W * scale; x++) {
                int on = glyph[y / scale] >> (CNN_FONT_W - 1 - x / scale) & 1;
                int xx = x + CNN_FONT_W * scale;
                ck_assert(on ? is_rgb(&g.img, xx, y, YELLOW) : is_black(&g.img, xx, y));
            }
        guarded_check_free(&g);
    }
    guarded g = guarded_new(CNN_FONT_W, CNN_FONT_H);
    cnn_draw_text(&g.img, -3, 2, "A", RED, 1);
    for (int y = 0; y < CNN_FONT_H; y++)
        for (int x = 0; x < CNN_FONT_W; x++) {
            int gx = x + 3, on = gx < CNN_FONT_W && y >= 2 &&
                                 (glyph[y - 2] >> (CNN_FONT_W - 1 - gx) & 1);
            ck_assert(on ? is_rgb(&g.img, x, y, RED) : is_black(&g.img, x, y));
        }
    guarded_check_free(&g);
}
END_TEST

START_TEST(test_font_legible_set)
{
    /* every glyph that labels use has ink, the space has none, all within 5 columns */
    const char *needed = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-_%:/()";
    for (const char *c = needed; *c; c++) {
        int ink = 0;
        for (int r = 0; r < CNN_FONT_H; r++) {
            ink += cnn_font_glyphs[*c - 32][r] != 0;
            ck_assert_uint_eq(cnn_font_glyphs[*c - 32][r] & 1, 0); /* column 5 is spacing */
        }
        ck_assert_msg(ink > 0, "glyph '%c' is empty", *c);
    }
    for (int r = 0; r < CNN_FONT_H; r++) ck_assert_uint_eq(cnn_font_glyphs[0][r], 0);
    for (int a = 1; a < 95; a++) /* no two printable glyphs alike */
        for (int b = a + 1; b < 95; b++)
            ck_assert_msg(memcmp(cnn_font_glyphs[a], cnn_font_glyphs[b], CNN_FONT_H) != 0,
                          "'%c' and '%c' look the same", a + 32, b + 32);
    /* non-ASCII bytes draw as '?' */
    guarded g1 = guarded_new(CNN_FONT_W, CNN_FONT_H), g2 = guarded_new(CNN_FONT_W, CNN_FONT_H);
    cnn_draw_text(&g1.img, 0, 0, "\xc3", RED, 1);
    cnn_draw_text(&g2.img, 0, 0, "?", RED, 1);
    ck_assert_mem_eq(g1.img.px, g2.img.px, CNN_FONT_W * CNN_FONT_H * 3);
    guarded_check_free(&g1);
    guarded_check_free(&g2);
}
END_TEST

/* Bounding box of pixels of colour rgb; returns 0 when there are none. */
static int find_color(const cnn_rgb8 *img, const uint8_t rgb[3], int box[4])
{
    box[0] = box[1] = INT_MAX;
    box[2] = box[3] = -1;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            if (is_rgb(img, x, y, rgb)) {
                box[0] = x < box[0] ? x : box[0];
                box[1] = y < box[1] ? y : box[1];
                box[2] = x > box[2] ? x : box[2];
                box[3] = y > box[3] ? y : box[3];
            }
    return box[2] >= 0;
}

START_TEST(test_detection_tag)
{
    /* room above: the tag sits on top of the box; yellow gets black text (on a grey image, so
     * that black pixels can only be text) */
    guarded g = guarded_new(200, 100);
    memset(g.img.px, 128, 200 * 100 * 3);
    cnn_draw_detection(&g.img, 40, 50, 120, 90, "dog 0.5", YELLOW);
    int box[4];
    ck_assert(find_color(&g.img, YELLOW, box));
    int s = cnn_draw_font_scale(&g.img), th = (CNN_FONT_H + 1) * s;
    ck_assert_int_eq(box[0], 40);
    ck_assert_int_eq(box[1], 50 - th);
    ck_assert_int_eq(box[2], 120);
    ck_assert_int_eq(box[3], 90);
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    int text[4];
    ck_assert(find_color(&g.img, black, text)); /* black text inside the tag */
    ck_assert(!find_color(&g.img, white, text));
    guarded_check_free(&g);
    /* no room above: the tag goes inside the box; blue gets white text */
    g = guarded_new(200, 100);
    memset(g.img.px, 128, 200 * 100 * 3);
    cnn_draw_detection(&g.img, 40, 3, 120, 90, "dog 0.5", BLUE);
    ck_assert(find_color(&g.img, BLUE, box));
    ck_assert_int_eq(box[1], 3);
    ck_assert(find_color(&g.img, white, text));
    ck_assert_int_ge(text[1], 3);
    ck_assert_int_le(text[3], 3 + th);
    guarded_check_free(&g);
    /* box at the right edge: the tag moves left to stay readable */
    g = guarded_new(200, 100);
    cnn_draw_detection(&g.img, 190, 50, 260, 90, "person 0.99", RED);
    ck_assert(find_color(&g.img, white, text));
    ck_assert_int_le(text[2], 199);
    ck_assert_int_ge(text[2] - text[0] + 1, cnn_draw_text_width("person 0.99", s) - 2 * s);
    guarded_check_free(&g);
    /* a box entirely off the image draws nothing, tag included */
    g = guarded_new(200, 100);
    cnn_draw_detection(&g.img, 210, 20, 260, 90, "cat", RED);
    cnn_draw_detection(&g.img, 20, -90, 60, -1, "cat", RED);
    ck_assert(!find_color(&g.img, RED, box) && !find_color(&g.img, white, text));
    guarded_check_free(&g);
}
END_TEST

START_TEST(test_banner)
{
    guarded g = guarded_new(64, 40);
    memset(g.img.px, 200, 64 * 40 * 3);
    const char *lines[] = {"cat 0.91", "dog 0.05"};
    cnn_draw_banner(&g.img, lines, 2);
    static const uint8_t white[3] = {255, 255, 255}, grey[3] = {200, 200, 200};
    int text[4];
    ck_assert(find_color(&g.img, white, text));
    int s = cnn_draw_font_scale(&g.img), bottom = s + 2 * (CNN_FONT_H + 1) * s;
    ck_assert_int_lt(text[3], bottom);
    ck_assert(!is_rgb(&g.img, 63, 0, grey) && !is_rgb(&g.img, 63, 0, white)); /* darkened */
    for (int y = bottom; y < 40; y++) ck_assert(is_rgb(&g.img, 10, y, grey));
    guarded_check_free(&g);
}
END_TEST

START_TEST(test_class_colors)
{
    uint8_t c[100][3];
    for (int i = 0; i < 100; i++) cnn_class_color(i, c[i]);
    for (int i = 0; i < 100; i++) {
        uint8_t again[3];
        cnn_class_color(i, again);
        ck_assert_mem_eq(again, c[i], 3); /* stable */
        for (int j = i + 1; j < (i < 20 ? 20 : 100); j++) {
            int d = abs(c[i][0] - c[j][0]) + abs(c[i][1] - c[j][1]) + abs(c[i][2] - c[j][2]);
            ck_assert_msg(d > 0, "classes %d and %d share a colour", i, j);
            if (j < 20) ck_assert_msg(d >= 60, "classes %d and %d are too close", i, j);
        }
    }
    for (int i = 1; i < 100; i++) { /* neighbours stay well apart */
        int d = abs(c[i][0] - c[i - 1][0]) + abs(c[i][1] - c[i - 1][1]) +
                abs(c[i][2] - c[i - 1][2]);
        ck_assert_msg(d >= 60, "classes %d and %d are too close", i - 1, i);
    }
}
END_TEST

START_TEST(test_line_width_and_scale)
{
    cnn_rgb8 small = {320, 240, NULL}, big = {1920, 1080, NULL};
    ck_assert_int_eq(cnn_draw_line_width(&small), 1);
    ck_assert_int_eq(cnn_draw_font_scale(&small), 1);
    ck_assert_int_gt(cnn_draw_line_width(&big), 1);
    ck_assert_int_gt(cnn_draw_font_scale(&big), 1);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("draw");
    TCase *t = tcase_create("draw");
    tcase_add_test(t, test_rect_exact_pixels);
    tcase_add_test(t, test_fill_clipped);
    tcase_add_test(t, test_clipping_extremes);
    tcase_add_test(t, test_text_width);
    tcase_add_test(t, test_text_pixels);
    tcase_add_test(t, test_font_legible_set);
    tcase_add_test(t, test_detection_tag);
    tcase_add_test(t, test_banner);
    tcase_add_test(t, test_class_colors);
    tcase_add_test(t, test_line_width_and_scale);
    suite_add_tcase(s, t);
    return s;
}
