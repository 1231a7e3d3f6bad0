/* draw.h — boxes, label tags and banners drawn on cnn_rgb8 images, with a bitmap font compiled
 * into the binary (font.c), so the tool needs no asset files. All coordinates are in image
 * pixels; everything is clipped to the image. */
#ifndef CNN_DRAW_H
#define CNN_DRAW_H

#include <stdint.h>

#include "image.h"

/* A distinct, stable colour per class id. */
void cnn_class_color(int class_id, uint8_t rgb[3]);

/* Line width and font scale that suit an image of this size (e.g. 1 px / scale 1 at 320 px,
 * growing with the larger side). */
int cnn_draw_line_width(const cnn_rgb8 *img);
int cnn_draw_font_scale(const cnn_rgb8 *img);

/* Rectangle outline with corners (x1,y1)-(x2,y2), inclusive, `thickness` px drawn inwards. */
void cnn_draw_rect(cnn_rgb8 *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                   int thickness);
void cnn_draw_fill(cnn_rgb8 *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3]);

/* Text in the embedded font; glyph cell is CNN_FONT_W x CNN_FONT_H pixels times scale.
 * Characters outside printable ASCII are drawn as '?'. */
#define CNN_FONT_W 6
#define CNN_FONT_H 10
int cnn_draw_text_width(const char *text, int scale);
void cnn_draw_text(cnn_rgb8 *img, int x, int y, const char *text, const uint8_t rgb[3], int scale);

/* A box with a filled label tag ("person 0.87") above its top-left corner (inside the box when
 * there is no room above); text colour chosen for contrast with the tag colour. */
void cnn_draw_detection(cnn_rgb8 *img, int x1, int y1, int x2, int y2, const char *label,
                        const uint8_t rgb[3]);

/* A banner across the top of the image with one line of text per entry (classifier output). */
void cnn_draw_banner(cnn_rgb8 *img, const char *const *lines, int nlines);

/* Glyph rows for printable ASCII (32..126): CNN_FONT_H bytes per glyph, bit (CNN_FONT_W-1-x)
 * of each byte set where the pixel is on. Defined in font.c. */
extern const uint8_t cnn_font_glyphs[95][CNN_FONT_H];

#endif
