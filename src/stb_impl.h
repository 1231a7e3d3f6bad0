/* stb_impl.h — the only door to stb_image / stb_image_write, which stb_impl.c compiles once with
 * PNG, JPEG and BMP only. Buffers returned here are malloc'd and owned by the caller (free()).
 * Callers validate headers and limits first (image.c); these wrappers only decode and encode. */
#ifndef CNN_STB_IMPL_H
#define CNN_STB_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* stb_image is built with STBI_MAX_DIMENSIONS = this; larger sides never decode. */
#define CNN_STB_MAX_SIDE 65535

/* Header only: 1 and (*w, *h) on success, 0 and *why on failure. */
int cnn_stb_info(const uint8_t *buf, int n, int *w, int *h, const char **why);

/* Decodes to RGB (h, w, 3). Every allocation stb makes during this call is refused when larger
 * than alloc_cap bytes (decompression bombs); *cap_hit then reports that. NULL and *why on
 * failure. */
uint8_t *cnn_stb_decode_rgb(const uint8_t *buf, int n, size_t alloc_cap, int *w, int *h,
                            int *cap_hit, const char **why);

/* Encodes RGB (h, w, 3) as PNG, JPEG (quality 1..100) or BMP into a malloc'd buffer of *n
 * bytes; NULL when out of memory. */
uint8_t *cnn_stb_encode(const uint8_t *rgb, int w, int h, cnn_image_format fmt, int quality,
                        size_t *n);

/* Encodes 8-bit grey (h, w) as PNG into a malloc'd buffer of *n bytes; NULL when out of memory. */
uint8_t *cnn_stb_encode_png_grey(const uint8_t *grey, int w, int h, size_t *n);

#endif
