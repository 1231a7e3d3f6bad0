/* stb_impl.c — the one translation unit that compiles stb_image (PNG, JPEG, BMP; memory only)
 * and stb_image_write (to memory only), behind the cnn_stb_* wrappers of stb_impl.h.
 * stb's allocations go through a per-thread byte cap that is set only for the duration of one
 * cnn_stb_decode_rgb call (stb's allocator macros take no context argument). */
#include "stb_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t cap; /* largest single allocation allowed; SIZE_MAX outside a decode */
    int hit;    /* set when an allocation was refused */
} stb_alloc_guard;

static _Thread_local stb_alloc_guard guard = {SIZE_MAX, 0};

static void *capped_malloc(size_t n)
{
    if (n > guard.cap) {
        guard.hit = 1;
        return NULL;
    }
    return malloc(n);
}

static void *capped_realloc(void *p, size_t n)
{
    if (n > guard.cap) {
        guard.hit = 1;
        return NULL;
    }
    return realloc(p, n);
}

#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_MAX_DIMENSIONS CNN_STB_MAX_SIDE
#define STBI_ASSERT(x) ((void)0) /* stb asserts internal invariants; bad input must not abort */
#define STBI_MALLOC(n) capped_malloc(n)
#define STBI_REALLOC(p, n) capped_realloc(p, n)
#define STBI_FREE(p) free(p)
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

/* The JPEG bit writer shifts a signed int past its range (harmless: the high bits are dropped
 * anyway). Exempt that one stb function from UBSan's shift check so sanitizer builds can encode;
 * the empty parameter list lets the attribute precede stb's own prototype. */
static void stbiw__jpg_writeBits() __attribute__((no_sanitize("shift")));
#define STBI_WRITE_NO_STDIO
#define STBIW_ASSERT(x) ((void)0)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

int cnn_stb_info(const uint8_t *buf, int n, int *w, int *h, const char **why)
{
    int comp = 0;
    if (stbi_info_from_memory(buf, n, w, h, &comp)) return 1;
    *why = stbi_failure_reason();
    return 0;
}

uint8_t *cnn_stb_decode_rgb(const uint8_t *buf, int n, size_t alloc_cap, int *w, int *h,
                            int *cap_hit, const char **why)
{
    int comp = 0;
    guard.cap = alloc_cap;
    guard.hit = 0;
    uint8_t *px = stbi_load_from_memory(buf, n, w, h, &comp, 3);
    *cap_hit = guard.hit;
    guard.cap = SIZE_MAX;
    guard.hit = 0;
    if (!px) *why = stbi_failure_reason();
    return px;
}

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int failed;
} mem_sink;

static void sink_write(void *ctx, void *data, int size)
{
    mem_sink *s = ctx;
    if (s->failed || size <= 0) return;
    if (s->n + (size_t)size > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->n + (size_t)size) cap *= 2;
        uint8_t *p = realloc(s->p, cap);
        if (!p) {
            s->failed = 1;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->n, data, (size_t)size);
    s->n += (size_t)size;
}

uint8_t *cnn_stb_encode(const uint8_t *rgb, int w, int h, cnn_image_format fmt, int quality,
                        size_t *n)
{
    mem_sink s = {0};
    int ok = 0;
    switch (fmt) {
    case CNN_FMT_PNG: ok = stbi_write_png_to_func(sink_write, &s, w, h, 3, rgb, w * 3); break;
    case CNN_FMT_JPEG: ok = stbi_write_jpg_to_func(sink_write, &s, w, h, 3, rgb, quality); break;
    case CNN_FMT_BMP: ok = stbi_write_bmp_to_func(sink_write, &s, w, h, 3, rgb); break;
    default: break;
    }
    if (!ok || s.failed || s.n == 0) {
        free(s.p);
        return NULL;
    }
    *n = s.n;
    return s.p;
}

uint8_t *cnn_stb_encode_png_grey(const uint8_t *grey, int w, int h, size_t *n)
{
    mem_sink s = {0};
    if (!stbi_write_png_to_func(sink_write, &s, w, h, 1, grey, w) || s.failed || s.n == 0) {
        free(s.p);
        return NULL;
    }
    *n = s.n;
    return s.p;
}
