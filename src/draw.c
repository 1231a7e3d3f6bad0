/* draw.c — rectangles, text, detection boxes with label tags and banners on cnn_rgb8 (h, w, 3)
 * images, drawn in place. Every primitive clips to the image; coordinates are widened to
 * long long first, so any int (negative, huge) is safe. Nothing here allocates. */
#include "draw.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* Saturated, well-separated colours for the first 20 class ids; later ids walk the hue circle
 * by the golden ratio, so neighbouring ids stay far apart. */
static const uint8_t palette[20][3] = {
    {230, 25, 75},  {60, 180, 75},   {0, 130, 200},   {255, 225, 25},  {245, 130, 48},
    {145, 30, 180}, {70, 240, 240},  {240, 50, 230},  {210, 245, 60},  {0, 128, 128},
    {170, 110, 40}, {128, 0, 0},     {128, 128, 0},   {0, 0, 128},     {0, 210, 140},
    {255, 105, 180}, {100, 180, 255}, {120, 80, 255}, {0, 100, 0},     {255, 180, 120},
};

void cnn_class_color(int class_id, uint8_t rgb[3])
{
    if (class_id < 0) {
        rgb[0] = rgb[1] = rgb[2] = 200;
        return;
    }
    if (class_id < 20) {
        memcpy(rgb, palette[class_id], 3);
        return;
    }
    double h = fmod(class_id * 0.6180339887498949, 1.0) * 6.0, s = 0.85, v = 0.95;
    int sector = (int)h;
    double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = (uint8_t)lround(r * 255);
    rgb[1] = (uint8_t)lround(g * 255);
    rgb[2] = (uint8_t)lround(b * 255);
}

static int larger_side(const cnn_rgb8 *img) { return img->w > img->h ? img->w : img->h; }

int cnn_draw_line_width(const cnn_rgb8 *img) { return 1 + larger_side(img) / 500; }

int cnn_draw_font_scale(const cnn_rgb8 *img) { return 1 + larger_side(img) / 700; }

/* Fills [x1, x2] x [y1, y2] (inclusive, any order) clipped to the image. */
static void fill_clipped(cnn_rgb8 *img, long long x1, long long y1, long long x2, long long y2,
                         const uint8_t rgb[3])
{
    if (x1 > x2) {
        long long t = x1;
        x1 = x2;
        x2 = t;
    }
    if (y1 > y2) {
        long long t = y1;
        y1 = y2;
        y2 = t;
    }
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > img->w - 1) x2 = img->w - 1;
    if (y2 > img->h - 1) y2 = img->h - 1;
    if (!img->px || x1 > x2 || y1 > y2) return;
    for (long long y = y1; y <= y2; y++) {
        uint8_t *p = img->px + ((size_t)y * img->w + (size_t)x1) * 3;
        for (long long x = x1; x <= x2; x++, p += 3) memcpy(p, rgb, 3);
    }
}

void cnn_draw_fill(cnn_rgb8 *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3])
{
    fill_clipped(img, x1, y1, x2, y2, rgb);
}

void cnn_draw_rect(cnn_rgb8 *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                   int thickness)
{
    long long l = x1 < x2 ? x1 : x2, r = x1 < x2 ? x2 : x1;
    long long t = y1 < y2 ? y1 : y2, b = y1 < y2 ? y2 : y1;
    long long th = thickness > 0 ? thickness : 1;
    fill_clipped(img, l, t, r, t + th - 1 < b ? t + th - 1 : b, rgb);
    fill_clipped(img, l, b - th + 1 > t ? b - th + 1 : t, r, b, rgb);
    fill_clipped(img, l, t, l + th - 1 < r ? l + th - 1 : r, b, rgb);
    fill_clipped(img, r - th + 1 > l ? r - th + 1 : l, t, r, b, rgb);
}

int cnn_draw_text_width(const char *text, int scale)
{
    long long w = (long long)strlen(text) * CNN_FONT_W * (scale > 0 ? scale : 1);
    return w > INT_MAX ? INT_MAX : (int)w;
}

static void draw_text_ll(cnn_rgb8 *img, long long x, long long y, const char *text,
                         const uint8_t rgb[3], int scale)
{
    long long s = scale > 0 ? scale : 1;
    if (y >= img->h || y + CNN_FONT_H * s <= 0) return;
    for (const char *c = text; *c && x < img->w; c++, x += CNN_FONT_W * s) {
        if (x + CNN_FONT_W * s <= 0) continue;
        int code = (unsigned char)*c;
        const uint8_t *glyph = cnn_font_glyphs[(code >= 32 && code <= 126 ? code : '?') - 32];
        for (int row = 0; row < CNN_FONT_H; row++)
            for (int col = 0; col < CNN_FONT_W; col++)
                if (glyph[row] >> (CNN_FONT_W - 1 - col) & 1)
                    fill_clipped(img, x + col * s, y + row * s, x + col * s + s - 1,
                                 y + row * s + s - 1, rgb);
    }
}

void cnn_draw_text(cnn_rgb8 *img, int x, int y, const char *text, const uint8_t rgb[3], int scale)
{
    draw_text_ll(img, x, y, text, rgb, scale);
}

void cnn_draw_detection(cnn_rgb8 *img, int x1, int y1, int x2, int y2, const char *label,
                        const uint8_t rgb[3])
{
    cnn_draw_rect(img, x1, y1, x2, y2, rgb, cnn_draw_line_width(img));
    if (!label || !*label) return;
    int s = cnn_draw_font_scale(img);
    /* tag: s px of padding left, the glyph cells (blank top row and right column) and s below */
    long long tw = (long long)cnn_draw_text_width(label, s) + s, th = (CNN_FONT_H + 1LL) * s;
    long long left = x1 < x2 ? x1 : x2, top = y1 < y2 ? y1 : y2;
    if (left >= img->w || top >= img->h || (x1 > x2 ? x1 : x2) < 0 || (y1 > y2 ? y1 : y2) < 0)
        return; /* the box is off the image: so is its label */
    if (left + tw > img->w) left = img->w - tw; /* keep the tag on the image when possible */
    if (left < 0) left = 0;
    /* above the box, else inside it (and on the image when the box starts above it) */
    long long tag_y = top - th >= 0 ? top - th : top > 0 ? top : 0;
    fill_clipped(img, left, tag_y, left + tw - 1, tag_y + th - 1, rgb);
    double luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    draw_text_ll(img, left + s, tag_y, label, luma >= 128 ? black : white, s);
}

void cnn_draw_banner(cnn_rgb8 *img, const char *const *lines, int nlines)
{
    if (nlines <= 0 || !lines || !img->px) return;
    int s = cnn_draw_font_scale(img);
    long long line_h = (CNN_FONT_H + 1LL) * s, bottom = s + nlines * line_h;
    if (bottom > img->h) bottom = img->h;
    /* darken rather than cover, so the image stays visible behind the text */
    for (long long y = 0; y < bottom; y++) {
        uint8_t *p = img->px + (size_t)y * img->w * 3;
        for (size_t i = 0; i < (size_t)img->w * 3; i++) p[i] = (uint8_t)(p[i] / 4);
    }
    static const uint8_t white[3] = {255, 255, 255};
    for (int i = 0; i < nlines; i++)
        if (lines[i]) draw_text_ll(img, 2LL * s, s + i * line_h, lines[i], white, s);
}
