/* test_image.c — unit tests for image.c: resize kernels against hand-computed pixels,
 * preprocessing frames and fill, PNG/JPEG/BMP round trips, and refusal of hostile or broken
 * inputs (crafted headers, truncation, bad Huffman tables, decompression bomb). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

#define TOL 1e-4f

/* ---- helpers ---- */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static size_t put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

/* Appends a PNG chunk (length, type, data, CRC over type+data) at out; returns its size. */
static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
    put_be32(out, n);
    memcpy(out + 4, type, 4);
    if (n) memcpy(out + 8, data, n);
    put_be32(out + 8 + n, crc32_png(out + 4, n + 4));
    return 12 + (size_t)n;
}

static size_t png_start(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0}; /* 8-bit RGB */
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    memcpy(out, sig, 8);
    return 8 + png_chunk(out + 8, "IHDR", ihdr, 13);
}

static cnn_rgb8 pattern_image(int w, int h)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_rgb8_alloc(&img, w, h, &err), CNN_OK);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) img.px[i] = (uint8_t)(i * 37 + i / 7);
    return img;
}

static void fill_image(cnn_rgb8 *img, uint8_t r, uint8_t g, uint8_t b)
{
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        img->px[3 * i] = r;
        img->px[3 * i + 1] = g;
        img->px[3 * i + 2] = b;
    }
}

static void encode(const cnn_rgb8 *img, cnn_image_format f, uint8_t **buf, size_t *n)
{
    cnn_error err;
    ck_assert_int_eq(cnn_image_encode(img, f, 90, buf, n, &err), CNN_OK);
}

/* Decodes and expects a CNN_ERR_INPUT whose message holds the name and `what`. */
static void expect_refused(const uint8_t *buf, size_t n, const cnn_image_limits *lim,
                           const char *what)
{
    cnn_rgb8 img = {0};
    cnn_error err = {0};
    cnn_status s = cnn_image_decode(buf, n, "bad.img", lim, &img, NULL, &err);
    ck_assert_int_eq(s, CNN_ERR_INPUT);
    ck_assert_ptr_null(img.px);
    ck_assert_msg(strstr(err.msg, "bad.img") != NULL, "no name in: %s", err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "no '%s' in: %s", what, err.msg);
}

/* ---- resize kernels ---- */

/* src (2,2) = [0 100; 200 40]. LINEAR 2->4: sx = (dx+0.5)/2 - 0.5 = -0.25 (clamped to 0), 0.25,
 * 0.75, 1.25 (past the last pixel: clamped to 1), so the weights on (left, right) are (1,0),
 * (.75,.25), (.25,.75), (0,1). Row 0: 0, 25, 75, 100. Row 1: 200, 160, 80, 40. The same weights
 * in y: row 1 = .75*row0 + .25*row1 = 50, 58.75, 76.25, 85; row 2 = .25*row0 + .75*row1 =
 * 150, 126.25, 78.75, 55. */
START_TEST(test_linear_2x2_to_4x4)
{
    const float src[4] = {0, 100, 200, 40};
    const float want[16] = {0,   25,     75,    100, 50, 58.75f, 76.25f, 85,
                            150, 126.25f, 78.75f, 55, 200, 160,   80,    40};
    float dst[16];
    cnn_resize_plane(src, 2, 2, dst, 4, 4, CNN_RESIZE_LINEAR);
    for (int i = 0; i < 16; i++) ck_assert_float_eq_tol(dst[i], want[i], TOL);
}
END_TEST

/* src (4,4) = 0..15 row-major. LINEAR 4->2: sx = (dx+0.5)*2 - 0.5 = 0.5, 2.5, so each output is
 * the mean of a 2x2 block: (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, (8+9+12+13)/4 = 10.5,
 * (10+11+14+15)/4 = 12.5. */
START_TEST(test_linear_4x4_to_2x2)
{
    float src[16], dst[4];
    for (int i = 0; i < 16; i++) src[i] = (float)i;
    cnn_resize_plane(src, 4, 4, dst, 2, 2, CNN_RESIZE_LINEAR);
    ck_assert_float_eq_tol(dst[0], 2.5f, TOL);
    ck_assert_float_eq_tol(dst[1], 4.5f, TOL);
    ck_assert_float_eq_tol(dst[2], 10.5f, TOL);
    ck_assert_float_eq_tol(dst[3], 12.5f, TOL);
}
END_TEST

/* src (1,3) = [10 20 40]. LINEAR 3->5: sx = (dx+0.5)*0.6 - 0.5 = -0.2 (->0), 0.4, 1.0, 1.6,
 * 2.2 (->2): 10, 10+10*.4 = 14, 20, 20+20*.6 = 32, 40. */
START_TEST(test_linear_3x1_to_5x1)
{
    const float src[3] = {10, 20, 40}, want[5] = {10, 14, 20, 32, 40};
    float dst[5];
    cnn_resize_plane(src, 3, 1, dst, 5, 1, CNN_RESIZE_LINEAR);
    for (int i = 0; i < 5; i++) ck_assert_float_eq_tol(dst[i], want[i], TOL);
}
END_TEST

/* LEGACY 2->4: sx = dx/2 = 0, .5, 1, 1.5; x1 = min(1, ceil(sx)), so the weights are a, (a+b)/2,
 * b, b. Rows 0 and 1: [0 50 100 100], [200 120 40 40]; row 1 of the output is their mean
 * [100 85 70 70]; rows 2 and 3 are source row 1. */
START_TEST(test_legacy_2x2_to_4x4)
{
    const float src[4] = {0, 100, 200, 40};
    const float want[16] = {0,   50,  100, 100, 100, 85, 70, 70,
                            200, 120, 40,  40,  200, 120, 40, 40};
    float dst[16];
    cnn_resize_plane(src, 2, 2, dst, 4, 4, CNN_RESIZE_LINEAR_LEGACY);
    for (int i = 0; i < 16; i++) ck_assert_float_eq_tol(dst[i], want[i], TOL);
}
END_TEST

/* LEGACY 4->2: sx = 0, 2 with no fraction: picks src[0][0], [0][2], [2][0], [2][2]. */
START_TEST(test_legacy_4x4_to_2x2)
{
    float src[16], dst[4];
    for (int i = 0; i < 16; i++) src[i] = (float)i;
    cnn_resize_plane(src, 4, 4, dst, 2, 2, CNN_RESIZE_LINEAR_LEGACY);
    ck_assert_float_eq_tol(dst[0], 0, TOL);
    ck_assert_float_eq_tol(dst[1], 2, TOL);
    ck_assert_float_eq_tol(dst[2], 8, TOL);
    ck_assert_float_eq_tol(dst[3], 10, TOL);
}
END_TEST

/* LEGACY 3->5 on [10 20 40]: sx = 0, .6, 1.2, 1.8, 2.4 -> 10, 10+10*.6 = 16, 20+20*.2 = 24,
 * 20+20*.8 = 36, and 40 (x0 = x1 = 2). */
START_TEST(test_legacy_3x1_to_5x1)
{
    const float src[3] = {10, 20, 40}, want[5] = {10, 16, 24, 36, 40};
    float dst[5];
    cnn_resize_plane(src, 3, 1, dst, 5, 1, CNN_RESIZE_LINEAR_LEGACY);
    for (int i = 0; i < 5; i++) ck_assert_float_eq_tol(dst[i], want[i], TOL);
}
END_TEST

START_TEST(test_identity_resize)
{
    float src[15], dst[15];
    for (int i = 0; i < 15; i++) src[i] = (float)(i * 7 % 11) * 1.37f - 3.0f;
    for (int k = 0; k < 2; k++) {
        cnn_resize_plane(src, 5, 3, dst, 5, 3, (cnn_resize_kernel)k);
        ck_assert_mem_eq(src, dst, sizeof src);
    }
    /* preprocess at the image's own size: (v - mean) / divisor exactly */
    cnn_rgb8 img = pattern_image(5, 3);
    cnn_preproc pp = {.w = 5, .h = 3, .c = 3, .mean = {1, 2, 3}, .divisor = 2};
    float out[45];
    cnn_frame fr;
    for (int k = 0; k < 2; k++) {
        pp.kernel = (cnn_resize_kernel)k;
        cnn_preprocess(&img, &pp, out, &fr);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 15; i++)
                ck_assert_float_eq(out[c * 15 + i], (img.px[3 * i + c] - pp.mean[c]) / 2.0f);
    }
    cnn_rgb8_free(&img);
}
END_TEST

/* ---- preprocessing ---- */

START_TEST(test_preprocess_none)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_rgb8_alloc(&img, 2, 2, &err), CNN_OK);
    const uint8_t red[4] = {0, 100, 200, 40}; /* the 2x2 plane of test_linear_2x2_to_4x4 */
    for (int i = 0; i < 4; i++) {
        img.px[3 * i] = red[i];
        img.px[3 * i + 1] = 10;
        img.px[3 * i + 2] = 255;
    }
    cnn_preproc pp = {.w = 4, .h = 4, .c = 3, .mean = {0, 10, 5}, .divisor = 5};
    float out[48];
    cnn_frame fr;
    cnn_preprocess(&img, &pp, out, &fr);
    ck_assert_float_eq(fr.scale_x, 2.0f);
    ck_assert_float_eq(fr.scale_y, 2.0f);
    ck_assert_float_eq(fr.off_x, 0.0f);
    ck_assert_float_eq(fr.off_y, 0.0f);
    ck_assert_int_eq(fr.img_w, 2);
    ck_assert_int_eq(fr.img_h, 2);
    ck_assert_float_eq_tol(out[1 * 4 + 1], 58.75f / 5, TOL); /* R plane, (1,1) */
    ck_assert_float_eq_tol(out[2 * 4 + 3], 55.0f / 5, TOL);
    for (int i = 0; i < 16; i++) {
        ck_assert_float_eq_tol(out[16 + i], 0.0f, TOL);             /* G: (10-10)/5 */
        ck_assert_float_eq_tol(out[32 + i], (255.0f - 5) / 5, TOL); /* B */
    }
    cnn_rgb8_free(&img);
}
END_TEST

/* CENTER, 4x2 image into 8x8: 8/4 < 8/2, so nw = 8, nh = 2*8/4 = 4 at offset (0, 2). */
START_TEST(test_preprocess_center)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_rgb8_alloc(&img, 4, 2, &err), CNN_OK);
    fill_image(&img, 100, 100, 100);
    cnn_preproc pp = {.w = 8, .h = 8, .c = 3, .letterbox = CNN_LETTERBOX_CENTER, .fill = 0.5f,
                      .divisor = 255};
    float out[3 * 64];
    cnn_frame fr;
    cnn_preprocess(&img, &pp, out, &fr);
    ck_assert_float_eq(fr.scale_x, 2.0f);
    ck_assert_float_eq(fr.scale_y, 2.0f);
    ck_assert_float_eq(fr.off_x, 0.0f);
    ck_assert_float_eq(fr.off_y, 2.0f);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                float v = out[c * 64 + y * 8 + x];
                if (y < 2 || y >= 6)
                    ck_assert_float_eq(v, 0.5f); /* fill is written as is */
                else
                    ck_assert_float_eq_tol(v, 100.0f / 255, 1e-6f);
            }
    /* odd sizes: 3x1 into 4x4 -> nw = 4, nh = 1*4/3 = 1, offset (0, (4-1)/2 = 1) */
    cnn_rgb8_free(&img);
    ck_assert_int_eq(cnn_rgb8_alloc(&img, 3, 1, &err), CNN_OK);
    fill_image(&img, 255, 0, 0);
    pp = (cnn_preproc){.w = 4, .h = 4, .c = 1, .letterbox = CNN_LETTERBOX_CENTER, .fill = -1,
                       .divisor = 1};
    cnn_preprocess(&img, &pp, out, &fr);
    ck_assert_float_eq_tol(fr.scale_x, 4.0f / 3, 1e-6f);
    ck_assert_float_eq(fr.scale_y, 1.0f);
    ck_assert_float_eq(fr.off_x, 0.0f);
    ck_assert_float_eq(fr.off_y, 1.0f);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq_tol(out[i], i / 4 == 1 ? 0.299f * 255 : -1.0f, 1e-4f);
    cnn_rgb8_free(&img);
}
END_TEST

/* TOPLEFT, 2x1 image of 200 into 4x4: the 2x2 canvas is [200 200; 0 0]; LINEAR 2->4 row
 * weights (1,0), (.75,.25), (.25,.75), (0,1) give rows 200, 150, 50, 0. `fill` is ignored. */
START_TEST(test_preprocess_topleft)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_rgb8_alloc(&img, 2, 1, &err), CNN_OK);
    fill_image(&img, 200, 200, 200);
    cnn_preproc pp = {.w = 4, .h = 4, .c = 3, .letterbox = CNN_LETTERBOX_TOPLEFT, .fill = 7,
                      .mean = {10, 10, 10}, .divisor = 2};
    float out[48];
    cnn_frame fr;
    cnn_preprocess(&img, &pp, out, &fr);
    const float rows[4] = {200, 150, 50, 0};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 16; i++)
            ck_assert_float_eq_tol(out[c * 16 + i], (rows[i / 4] - 10) / 2, TOL);
    /* rw = floor(2*4/2 + .5) = 4, rh = floor(1*4/2 + .5) = 2 */
    ck_assert_float_eq(fr.scale_x, 2.0f);
    ck_assert_float_eq(fr.scale_y, 2.0f);
    ck_assert_float_eq(fr.off_x, 0.0f);
    ck_assert_float_eq(fr.off_y, 0.0f);
    cnn_rgb8_free(&img);
    /* 3x2 into 4x4: rh = floor(2*4/3 + .5) = 3, so scale_y = 1.5 rather than 4/3 (face-api) */
    img = pattern_image(3, 2);
    cnn_preprocess(&img, &pp, out, &fr);
    ck_assert_float_eq_tol(fr.scale_x, 4.0f / 3, 1e-6f);
    ck_assert_float_eq(fr.scale_y, 1.5f);
    ck_assert_float_eq_tol(out[15], (0.0f - 10) / 2, TOL); /* bottom-right is all canvas */
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_preprocess_grey)
{
    cnn_rgb8 img;
    cnn_error err;
    ck_assert_int_eq(cnn_rgb8_alloc(&img, 3, 3, &err), CNN_OK);
    fill_image(&img, 100, 50, 200);
    cnn_preproc pp = {.w = 2, .h = 2, .c = 1, .mean = {0.05f, 99, 99}, .divisor = 1};
    float out[4];
    cnn_frame fr;
    cnn_preprocess(&img, &pp, out, &fr);
    /* 0.299*100 + 0.587*50 + 0.114*200 = 29.9 + 29.35 + 22.8 = 82.05; minus mean[0] */
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(out[i], 82.0f, 1e-3f);
    cnn_rgb8_free(&img);
}
END_TEST

/* ---- formats ---- */

START_TEST(test_sniff)
{
    const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t jpg[3] = {0xFF, 0xD8, 0xFF}, bmp[2] = {'B', 'M'};
    ck_assert_int_eq(cnn_image_sniff(png, 8), CNN_FMT_PNG);
    ck_assert_int_eq(cnn_image_sniff(png, 7), CNN_FMT_UNKNOWN);
    ck_assert_int_eq(cnn_image_sniff(jpg, 3), CNN_FMT_JPEG);
    ck_assert_int_eq(cnn_image_sniff(bmp, 2), CNN_FMT_BMP);
    ck_assert_int_eq(cnn_image_sniff((const uint8_t *)"GIF89a", 6), CNN_FMT_UNKNOWN);
    ck_assert_int_eq(cnn_image_sniff((const uint8_t *)"P5\n", 3), CNN_FMT_UNKNOWN);
    ck_assert_int_eq(cnn_image_sniff(NULL, 0), CNN_FMT_UNKNOWN);
    ck_assert_str_eq(cnn_image_format_name(CNN_FMT_JPEG), "JPEG");
}
END_TEST

START_TEST(test_png_bmp_round_trip)
{
    const cnn_image_format fmts[2] = {CNN_FMT_PNG, CNN_FMT_BMP};
    cnn_rgb8 img = pattern_image(5, 3);
    for (int k = 0; k < 2; k++) {
        uint8_t *buf;
        size_t n;
        encode(&img, fmts[k], &buf, &n);
        cnn_rgb8 back;
        cnn_image_format f;
        cnn_error err;
        ck_assert_int_eq(cnn_image_decode(buf, n, "rt", NULL, &back, &f, &err), CNN_OK);
        ck_assert_int_eq(f, fmts[k]);
        ck_assert_int_eq(back.w, 5);
        ck_assert_int_eq(back.h, 3);
        ck_assert_mem_eq(back.px, img.px, 5 * 3 * 3);
        cnn_rgb8_free(&back);
        free(buf);
    }
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_jpeg_decodes)
{
    cnn_rgb8 img = pattern_image(17, 9), back;
    uint8_t *buf;
    size_t n;
    cnn_image_format f;
    cnn_error err;
    encode(&img, CNN_FMT_JPEG, &buf, &n);
    ck_assert_int_eq(cnn_image_decode(buf, n, "j.jpg", NULL, &back, &f, &err), CNN_OK);
    ck_assert_int_eq(f, CNN_FMT_JPEG);
    ck_assert_int_eq(back.w, 17);
    ck_assert_int_eq(back.h, 9);
    free(buf);
    ck_assert_int_eq(cnn_image_encode(&img, CNN_FMT_JPEG, 0, &buf, &n, &err), CNN_ERR_USAGE);
    ck_assert_ptr_null(buf);
    cnn_rgb8_free(&back);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_rgb8_free_null)
{
    cnn_rgb8 zero = {0};
    cnn_rgb8_free(&zero);
    cnn_rgb8_free(NULL);
    cnn_error err;
    ck_assert_int_ne(cnn_rgb8_alloc(&zero, 0, 5, &err), CNN_OK);
    ck_assert_ptr_null(zero.px);
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_refuse_empty_and_unsupported)
{
    expect_refused((const uint8_t *)"", 0, NULL, "empty");
    const char *gif = "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!";
    expect_refused((const uint8_t *)gif, 20, NULL, "unsupported image format");
    const char *text = "this is just a text file, not an image\n";
    expect_refused((const uint8_t *)text, strlen(text), NULL, "unsupported image format");
    /* 16-bit PGM: stb would over-read it (CVE-2021-42716); here it never reaches stb */
    uint8_t pgm[64] = "P5\n4 4\n65535\n";
    expect_refused(pgm, sizeof pgm, NULL, "only PNG, JPEG and BMP");
}
END_TEST

START_TEST(test_refuse_huge_png)
{
    uint8_t buf[64];
    size_t n = png_start(buf, 100000, 100000);
    n += png_chunk(buf + n, "IEND", NULL, 0);
    expect_refused(buf, n, NULL, "100000x100000 (10000 megapixels)");
    expect_refused(buf, n, NULL, "100 megapixels");
    /* small limits from the caller */
    cnn_rgb8 img = pattern_image(5, 3);
    uint8_t *png;
    size_t pn;
    encode(&img, CNN_FMT_PNG, &png, &pn);
    cnn_image_limits lim = cnn_image_limits_default();
    lim.max_pixels = 14;
    expect_refused(png, pn, &lim, "5x3 (15 pixels), over the limit of 14 pixels");
    lim = cnn_image_limits_default();
    lim.max_side = 4;
    expect_refused(png, pn, &lim, "limit of 4 pixels per side");
    /* a zero width is refused before stb sees it */
    n = png_start(buf, 0, 7);
    n += png_chunk(buf + n, "IEND", NULL, 0);
    expect_refused(buf, n, NULL, "invalid size 0x7");
    free(png);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_refuse_broken_png)
{
    cnn_rgb8 img = pattern_image(6, 5);
    uint8_t *png, buf[128];
    size_t n;
    encode(&img, CNN_FMT_PNG, &png, &n);
    expect_refused(png, n - 20, NULL, "truncated PNG");
    expect_refused(png, 40, NULL, "truncated PNG");
    /* an empty first IDAT: stb would memcpy from a NULL buffer */
    size_t k = png_start(buf, 6, 5);
    k += png_chunk(buf + k, "IDAT", NULL, 0);
    k += png_chunk(buf + k, "IEND", NULL, 0);
    expect_refused(buf, k, NULL, "empty first IDAT");
    free(png);
    cnn_rgb8_free(&img);
}
END_TEST

/* Appends n bits of v, least significant first (deflate's order for header fields). */
typedef struct {
    uint8_t *p;
    size_t bit;
} bit_writer;

static void put_bits(bit_writer *bw, unsigned v, int n)
{
    for (int i = 0; i < n; i++, bw->bit++)
        if (v >> i & 1) bw->p[bw->bit / 8] |= (uint8_t)(1u << (bw->bit % 8));
}

/* Huffman codes go most significant bit first. */
static void put_code(bit_writer *bw, unsigned code, int n)
{
    for (int i = n - 1; i >= 0; i--) put_bits(bw, code >> i & 1, 1);
}

/* A 1x1 PNG whose IDAT inflates to 80 MiB: one fixed-Huffman block of a literal 0 followed by
 * matches of length 258 at distance 1 (13 bits each). The decoder cap must stop it. */
START_TEST(test_refuse_png_bomb)
{
    const size_t matches = ((size_t)80 << 20) / 258;
    size_t zlen = 2 + (3 + 8 + 13 * matches + 7) / 8 + 1 + 4;
    uint8_t *z = calloc(zlen, 1), *png = calloc(zlen + 128, 1);
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_nonnull(png);
    z[0] = 0x78;
    z[1] = 0x01;
    bit_writer bw = {z + 2, 0};
    put_bits(&bw, 1, 1);       /* BFINAL */
    put_bits(&bw, 1, 2);       /* BTYPE = fixed Huffman */
    put_code(&bw, 0x30, 8);    /* literal 0 (the row's filter byte) */
    for (size_t i = 0; i < matches; i++) {
        put_code(&bw, 0xC5, 8); /* length code 285 = 258 */
        put_code(&bw, 0, 5);    /* distance code 0 = 1 */
    }
    put_code(&bw, 0, 7); /* end of block */
    size_t n = png_start(png, 1, 1);
    n += png_chunk(png + n, "IDAT", z, (uint32_t)zlen);
    n += png_chunk(png + n, "IEND", NULL, 0);
    cnn_image_limits lim = cnn_image_limits_default();
    lim.max_pixels = 1000;
    expect_refused(png, n, &lim, "decompression bomb");
    free(z);
    free(png);
}
END_TEST

START_TEST(test_refuse_truncated_bmp)
{
    cnn_rgb8 img = pattern_image(8, 8);
    uint8_t *buf;
    size_t n;
    encode(&img, CNN_FMT_BMP, &buf, &n);
    ck_assert_uint_gt(n, 100);
    expect_refused(buf, 100, NULL, "truncated BMP");
    expect_refused(buf, 20, NULL, "truncated BMP");
    buf[28] = 7; /* bit depth */
    expect_refused(buf, n, NULL, "bit depth 7");
    free(buf);
    cnn_rgb8_free(&img);
}
END_TEST

/* Offset of the first byte of the first DHT's 16 code counts. */
static size_t find_dht_counts(const uint8_t *buf, size_t n)
{
    for (size_t i = 2; i + 5 < n; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xC4) return i + 5; /* marker, length, Tc/Th */
    ck_abort_msg("no DHT in the encoded JPEG");
    return 0;
}

START_TEST(test_refuse_bad_jpeg)
{
    cnn_rgb8 img = pattern_image(16, 16);
    uint8_t *buf;
    size_t n;
    encode(&img, CNN_FMT_JPEG, &buf, &n);
    expect_refused(buf, 9, NULL, "truncated JPEG");
    expect_refused(buf, 40, NULL, "truncated JPEG");
    size_t c = find_dht_counts(buf, n);
    uint8_t saved[16];
    memcpy(saved, buf + c, 16);
    buf[c] = 3; /* three 1-bit codes: more than 2 exist */
    expect_refused(buf, n, NULL, "Huffman");
    memcpy(buf + c, saved, 16);
    buf[c + 15] = 255; /* fits the code space but the total passes 256 */
    expect_refused(buf, n, NULL, "Huffman");
    memcpy(buf + c, saved, 16);
    size_t sos = 2;
    while (!(buf[sos] == 0xFF && buf[sos + 1] == 0xDA)) sos++;
    buf[sos + 6] = 0x03; /* first component's AC table: 3, never defined (stb reads garbage) */
    expect_refused(buf, n, NULL, "undefined component or table");
    buf[sos + 6] = 0x00;
    cnn_rgb8 back;
    cnn_error err;
    ck_assert_int_eq(cnn_image_decode(buf, n, "ok.jpg", NULL, &back, NULL, &err), CNN_OK);
    cnn_rgb8_free(&back);
    /* no scan at all: SOI then EOI, padded past the minimum size */
    const uint8_t empty[20] = {0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x0E, [18] = 0xFF, [19] = 0xD9};
    expect_refused(empty, sizeof empty, NULL, "no frame header");
    free(buf);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_load_file_checks)
{
    char dir[] = "/tmp/cnn_test_imageXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    cnn_rgb8 img = {0};
    cnn_error err;
    ck_assert_int_eq(cnn_image_load(dir, NULL, &img, NULL, &err), CNN_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "directory"));
    snprintf(path, sizeof path, "%s/missing.png", dir);
    ck_assert_int_eq(cnn_image_load(path, NULL, &img, NULL, &err), CNN_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.png"));
    snprintf(path, sizeof path, "%s/empty.png", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(cnn_image_load(path, NULL, &img, NULL, &err), CNN_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    unlink(path);
    cnn_rgb8 src = pattern_image(4, 6);
    uint8_t *buf;
    size_t n;
    encode(&src, CNN_FMT_PNG, &buf, &n);
    snprintf(path, sizeof path, "%s/ok.png", dir);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    cnn_image_format fmt;
    ck_assert_int_eq(cnn_image_load(path, NULL, &img, &fmt, &err), CNN_OK);
    ck_assert_int_eq(fmt, CNN_FMT_PNG);
    ck_assert_mem_eq(img.px, src.px, 4 * 6 * 3);
    cnn_rgb8_free(&img);
    cnn_image_limits lim = cnn_image_limits_default();
    lim.max_file_bytes = n - 1;
    ck_assert_int_eq(cnn_image_load(path, &lim, &img, NULL, &err), CNN_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "over the limit"));
    unlink(path);
    rmdir(dir);
    free(buf);
    cnn_rgb8_free(&src);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("image");
    TCase *t = tcase_create("resize");
    tcase_add_test(t, test_linear_2x2_to_4x4);
    tcase_add_test(t, test_linear_4x4_to_2x2);
    tcase_add_test(t, test_linear_3x1_to_5x1);
    tcase_add_test(t, test_legacy_2x2_to_4x4);
    tcase_add_test(t, test_legacy_4x4_to_2x2);
    tcase_add_test(t, test_legacy_3x1_to_5x1);
    tcase_add_test(t, test_identity_resize);
    suite_add_tcase(s, t);
    t = tcase_create("preprocess");
    tcase_add_test(t, test_preprocess_none);
    tcase_add_test(t, test_preprocess_center);
    tcase_add_test(t, test_preprocess_topleft);
    tcase_add_test(t, test_preprocess_grey);
    suite_add_tcase(s, t);
    t = tcase_create("formats");
    tcase_add_test(t, test_sniff);
    tcase_add_test(t, test_png_bmp_round_trip);
    tcase_add_test(t, test_jpeg_decodes);
    tcase_add_test(t, test_rgb8_free_null);
    tcase_add_test(t, test_load_file_checks);
    suite_add_tcase(s, t);
    t = tcase_create("refusals");
    tcase_add_test(t, test_refuse_empty_and_unsupported);
    tcase_add_test(t, test_refuse_huge_png);
    tcase_add_test(t, test_refuse_broken_png);
    tcase_add_test(t, test_refuse_png_bomb);
    tcase_add_test(t, test_refuse_truncated_bmp);
    tcase_add_test(t, test_refuse_bad_jpeg);
    suite_add_tcase(s, t);
    return s;
}
