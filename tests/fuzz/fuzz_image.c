/* fuzz_image.c — libFuzzer target: image decoding from memory (magic sniffing, our header and
 * marker checks, stb_image) and preprocessing. Input: the bytes of an image file.
 * Every decoded image goes through cnn_preprocess in each letterbox mode and kernel, grey and
 * RGB, into small network inputs; one small image in ROUNDTRIP_EVERY (chosen by a hash of the
 * input, so an input always does the same) is also re-encoded as PNG and BMP (which must decode
 * back to the same pixels) and as JPEG (same size). */
#include "fuzz_util.h"

#include <math.h>
#include <string.h>

#include "image.h"

/* 65536 pixels: every size check and decoder path is reached far below this, and every legal
 * side (up to 65535) still decodes, as a 1-pixel-thin image. Decoding costs about 0.25 us per
 * pixel under ASan (a 256x256 image ~16 ms, 1 megapixel ~200 ms): a larger cap only lets
 * small files that declare big images (a mutated JPEG SOF is enough) dominate the run time. The
 * decoder's own allocation cap follows from it (16 bytes/pixel + 64 MiB). */
#define FUZZ_MAX_PIXELS (1LL << 16)
/* Re-encoding has a fixed cost of ~6 ms per image under ASan (stb_image_write's PNG encoder
 * allocates and walks a 16384-bucket hash table; JPEG ~1 ms), 10 to 30 times a small decode:
 * done for every image it would take most of the target's time. */
#define ROUNDTRIP_MAX_PIXELS 4096
#define ROUNDTRIP_EVERY 8

static void check_preprocess(const cnn_rgb8 *img)
{
    static const struct {
        int w, h, c;
    } sizes[] = {{16, 16, 3}, {13, 7, 1}, {5, 11, 3}, {1, 1, 1}};
    static float out[3 * 16 * 16];
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int lb = CNN_LETTERBOX_NONE; lb <= CNN_LETTERBOX_TOPLEFT; lb++) {
            for (int k = CNN_RESIZE_LINEAR; k <= CNN_RESIZE_LINEAR_LEGACY; k++) {
                cnn_preproc pp = {.w = sizes[si].w, .h = sizes[si].h, .c = sizes[si].c,
                                  .kernel = (cnn_resize_kernel)k, .letterbox = (cnn_letterbox)lb,
                                  .fill = 0.5f, .mean = {0, 0, 0}, .divisor = 255.0f};
                size_t n = (size_t)pp.c * pp.h * pp.w;
                for (size_t i = 0; i < n; i++) out[i] = NAN;
                cnn_frame fr;
                cnn_preprocess(img, &pp, out, &fr);
                /* every output element written, pixel values in [0, 1] (fill is 0.5) */
                for (size_t i = 0; i < n; i++)
                    FUZZ_CHECK(out[i] >= -1e-5f && out[i] <= 1.0f + 1e-5f,
                               "%dx%d image -> %dx%dx%d lb %d k %d: out[%zu] = %g", img->w,
                               img->h, pp.c, pp.h, pp.w, lb, k, i, out[i]);
                FUZZ_CHECK(fr.img_w == img->w && fr.img_h == img->h, "frame size");
                FUZZ_CHECK(fr.scale_x > 0 && fr.scale_y > 0 && isfinite(fr.scale_x) &&
                               isfinite(fr.scale_y),
                           "frame scale %g %g", fr.scale_x, fr.scale_y);
            }
        }
    }
}

static void check_roundtrip(const cnn_rgb8 *img, cnn_image_format fmt)
{
    uint8_t *buf;
    size_t n;
    cnn_error err;
    cnn_status s = cnn_image_encode(img, fmt, 90, &buf, &n, &err);
    FUZZ_CHECK(s == CNN_OK, "encode %s: %s", cnn_image_format_name(fmt), err.msg);
    cnn_rgb8 back;
    cnn_image_format got;
    s = cnn_image_decode(buf, n, "roundtrip", NULL, &back, &got, &err);
    FUZZ_CHECK(s == CNN_OK, "decoding our own %s: %s", cnn_image_format_name(fmt), err.msg);
    FUZZ_CHECK(got == fmt && back.w == img->w && back.h == img->h, "round trip size");
    if (fmt != CNN_FMT_JPEG)
        FUZZ_CHECK(memcmp(back.px, img->px, (size_t)img->w * img->h * 3) == 0,
                   "%s round trip changed pixels", cnn_image_format_name(fmt));
    cnn_rgb8_free(&back);
    free(buf);
}

/* FNV-1a: picks the inputs that re-encode, the same way on every run. */
static uint32_t input_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnn_image_limits lim = cnn_image_limits_default();
    lim.max_pixels = FUZZ_MAX_PIXELS;
    cnn_rgb8 img;
    cnn_image_format fmt;
    cnn_error err;
    cnn_status s = cnn_image_decode(data, size, "fuzz", &lim, &img, &fmt, &err);
    FUZZ_CHECK(fmt == cnn_image_sniff(data, size), "format");
    if (s != CNN_OK) {
        FUZZ_CHECK(img.px == NULL && img.w == 0 && img.h == 0, "failed decode left an image");
        FUZZ_CHECK(s == CNN_ERR_INPUT && err.msg[0], "status %d: %s", (int)s, err.msg);
        return 0;
    }
    FUZZ_CHECK(img.px && img.w > 0 && img.h > 0 && (long long)img.w * img.h <= FUZZ_MAX_PIXELS,
               "decoded %dx%d", img.w, img.h);
    check_preprocess(&img);
    if ((long long)img.w * img.h <= ROUNDTRIP_MAX_PIXELS &&
        input_hash(data, size) % ROUNDTRIP_EVERY == 0) {
        check_roundtrip(&img, CNN_FMT_PNG);
        check_roundtrip(&img, CNN_FMT_BMP);
        check_roundtrip(&img, CNN_FMT_JPEG);
    }
    cnn_rgb8_free(&img);
    return 0;
}
