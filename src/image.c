/* image.c — loading (checked I/O, magic sniffing, header checks before decoding), encoding and
 * preprocessing of images. cnn_rgb8 pixels are (h, w, 3) RGB, malloc'd, owned by the struct;
 * network input is float (c, h, w). stb is reached only through stb_impl.h. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "stb_impl.h"

#define MIN_FILE_BYTES 16 /* smaller than any real PNG/JPEG/BMP; stb misreads some tiny files */

cnn_image_limits cnn_image_limits_default(void)
{
    return (cnn_image_limits){.max_pixels = 100000000LL,
                              .max_side = CNN_STB_MAX_SIDE,
                              .max_file_bytes = (size_t)512 << 20};
}

cnn_image_format cnn_image_sniff(const uint8_t *buf, size_t n)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!buf) return CNN_FMT_UNKNOWN;
    if (n >= 8 && memcmp(buf, png, 8) == 0) return CNN_FMT_PNG;
    if (n >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) return CNN_FMT_JPEG;
    if (n >= 2 && buf[0] == 'B' && buf[1] == 'M') return CNN_FMT_BMP;
    return CNN_FMT_UNKNOWN;
}

const char *cnn_image_format_name(cnn_image_format f)
{
    switch (f) {
    case CNN_FMT_PNG: return "PNG";
    case CNN_FMT_JPEG: return "JPEG";
    case CNN_FMT_BMP: return "BMP";
    default: return "unknown";
    }
}

cnn_status cnn_rgb8_alloc(cnn_rgb8 *img, int w, int h, cnn_error *err)
{
    img->w = img->h = 0;
    img->px = NULL;
    if (w <= 0 || h <= 0 || (size_t)w > SIZE_MAX / 3 / (size_t)h)
        return cnn_fail(err, CNN_ERR_INTERNAL, "invalid image size %dx%d", w, h);
    img->px = calloc((size_t)w * (size_t)h, 3);
    if (!img->px) return cnn_fail(err, CNN_ERR_NOMEM, "cannot allocate a %dx%d image", w, h);
    img->w = w;
    img->h = h;
    return CNN_OK;
}

void cnn_rgb8_free(cnn_rgb8 *img)
{
    if (!img) return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}

/* ---- header checks ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static unsigned le16(const uint8_t *p) { return (unsigned)p[1] << 8 | p[0]; }

/* What the header declares. bmp_* are used for the file-size check once w, h are in range. */
typedef struct {
    long long w, h;
    long long bmp_offset;
    int bmp_bpp;
} image_header;

static cnn_status png_header(const uint8_t *b, size_t n, const char *name, image_header *hd,
                             cnn_error *err)
{
    /* signature (8), IHDR length (4) and type (4), width (4), height (4), 5 more bytes, CRC (4) */
    if (n < 33)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: truncated PNG header (%zu bytes)", name, n);
    if (be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt PNG header (no IHDR chunk first)", name);
    hd->w = be32(b + 16);
    hd->h = be32(b + 20);
    return CNN_OK;
}

/* Chunk walk: each chunk fits in the file, image data is present, IEND ends it. */
static cnn_status png_chunks(const uint8_t *b, size_t n, const char *name, cnn_error *err)
{
    int have_idat = 0;
    for (size_t i = 8; n - i >= 12;) {
        uint32_t len = be32(b + i);
        const uint8_t *type = b + i + 4;
        if (len > n - i - 12)
            return cnn_fail(err, CNN_ERR_INPUT,
                            "%s: truncated PNG (the chunk at byte %zu runs past the end)", name, i);
        if (memcmp(type, "IEND", 4) == 0) {
            if (!have_idat)
                return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt PNG (no image data)", name);
            return CNN_OK;
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            if (len == 0 && !have_idat) /* stb would memcpy from NULL */
                return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt PNG (empty first IDAT chunk)",
                                name);
            have_idat = 1;
        }
        i += 12 + (size_t)len;
    }
    return cnn_fail(err, CNN_ERR_INPUT, "%s: truncated PNG (no IEND chunk)", name);
}

static cnn_status bmp_header(const uint8_t *b, size_t n, const char *name, image_header *hd,
                             cnn_error *err)
{
    if (n < 26)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: truncated BMP header (%zu bytes)", name, n);
    uint32_t hsz = le32(b + 14);
    unsigned compression = 0;
    hd->bmp_offset = le32(b + 10);
    if (hsz == 12) { /* OS/2 BITMAPCOREHEADER: 16-bit sizes */
        hd->w = le16(b + 18);
        hd->h = le16(b + 20);
        hd->bmp_bpp = (int)le16(b + 24);
    } else if (hsz == 40 || hsz == 56 || hsz == 108 || hsz == 124) {
        if (n < 34)
            return cnn_fail(err, CNN_ERR_INPUT, "%s: truncated BMP header (%zu bytes)", name, n);
        hd->w = (int32_t)le32(b + 18);
        hd->h = llabs((long long)(int32_t)le32(b + 22)); /* negative height = top-down rows */
        hd->bmp_bpp = (int)le16(b + 28);
        compression = le32(b + 30);
    } else {
        return cnn_fail(err, CNN_ERR_INPUT, "%s: unsupported BMP header size %lu", name,
                        (unsigned long)hsz);
    }
    int bpp = hd->bmp_bpp;
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: unsupported BMP bit depth %d", name, bpp);
    if (compression != 0 && compression != 3) /* BI_RGB, BI_BITFIELDS */
        return cnn_fail(err, CNN_ERR_INPUT, "%s: unsupported BMP compression %u", name,
                        compression);
    if (hd->bmp_offset < 14 + (long long)hsz)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt BMP header (pixel data offset %lld)",
                        name, hd->bmp_offset);
    return CNN_OK;
}

/* Code counts of one Huffman table: at most 256 codes, and no more codes of each length than the
 * lengths before it leave room for (otherwise the decoder's tables overflow). */
static int huffman_counts_valid(const uint8_t counts[16])
{
    unsigned total = 0, room = 2; /* codes still available at the current length */
    for (int len = 0; len < 16; len++) {
        if (counts[len] > room) return 0;
        total += counts[len];
        room = (room - counts[len]) * 2;
    }
    return total <= 256;
}

/* What the marker walk has seen so far: tables defined (bit per id) and the frame's components. */
typedef struct {
    unsigned dc, ac, quant;
    int have_sof, have_sos, progressive, ncomp;
    uint8_t comp_id[4], comp_tq[4];
} jpeg_state;

static cnn_status jpeg_dht(const uint8_t *seg, size_t len, const char *name, jpeg_state *js,
                           cnn_error *err)
{
    size_t i = 0;
    while (i < len) {
        if (len - i < 17 || (seg[i] >> 4) > 1 || (seg[i] & 15) > 3)
            return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt JPEG Huffman table header", name);
        size_t total = 0;
        for (int k = 0; k < 16; k++) total += seg[i + 1 + k];
        if (!huffman_counts_valid(seg + i + 1) || total > len - i - 17)
            return cnn_fail(err, CNN_ERR_INPUT,
                            "%s: corrupt JPEG Huffman table (invalid code counts)", name);
        *(seg[i] >> 4 ? &js->ac : &js->dc) |= 1u << (seg[i] & 15);
        i += 17 + total;
    }
    return CNN_OK;
}

static cnn_status jpeg_dqt(const uint8_t *seg, size_t len, const char *name, jpeg_state *js,
                           cnn_error *err)
{
    for (size_t i = 0; i < len;) {
        size_t size = 1 + (seg[i] >> 4 ? 128 : 64); /* 8- or 16-bit entries */
        if ((seg[i] >> 4) > 1 || (seg[i] & 15) > 3 || len - i < size)
            return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt JPEG quantisation table", name);
        js->quant |= 1u << (seg[i] & 15);
        i += size;
    }
    return CNN_OK;
}

static cnn_status jpeg_sof(unsigned m, const uint8_t *seg, size_t len, const char *name,
                           jpeg_state *js, image_header *hd, cnn_error *err)
{
    if (m > 0xC2)
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: unsupported JPEG coding (SOF 0xFF%02X; only baseline and progressive "
                        "Huffman)", name, m);
    if (js->have_sof || len < 6 || seg[5] < 1 || seg[5] > 4 || len < 6 + 3u * seg[5])
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt JPEG frame header", name);
    js->have_sof = 1;
    js->progressive = m == 0xC2;
    hd->h = be16(seg + 1);
    hd->w = be16(seg + 3);
    js->ncomp = seg[5];
    for (int c = 0; c < js->ncomp; c++) {
        js->comp_id[c] = seg[6 + 3 * c];
        js->comp_tq[c] = seg[8 + 3 * c];
    }
    return CNN_OK;
}

/* A scan may only use tables defined before it: stb would read its uninitialised tables. */
static cnn_status jpeg_sos(const uint8_t *seg, size_t len, const char *name, jpeg_state *js,
                           cnn_error *err)
{
    if (!js->have_sof)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt JPEG (scan before frame header)", name);
    unsigned ns = len ? seg[0] : 0;
    if (ns < 1 || ns > 4 || len < 4 + 2 * ns)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt JPEG scan header", name);
    unsigned ss = seg[1 + 2 * ns], ah = seg[3 + 2 * ns] >> 4;
    int need_dc = !js->progressive || (ss == 0 && ah == 0), need_ac = !js->progressive || ss > 0;
    for (unsigned k = 0; k < ns; k++) {
        unsigned id = seg[1 + 2 * k], td = seg[2 + 2 * k] >> 4, ta = seg[2 + 2 * k] & 15;
        int c = 0;
        while (c < js->ncomp && js->comp_id[c] != id) c++;
        if (c == js->ncomp || td > 3 || ta > 3 || (need_dc && !(js->dc >> td & 1)) ||
            (need_ac && !(js->ac >> ta & 1)) || js->comp_tq[c] > 3 ||
            !(js->quant >> js->comp_tq[c] & 1))
            return cnn_fail(err, CNN_ERR_INPUT,
                            "%s: corrupt JPEG (scan uses an undefined component or table)", name);
    }
    js->have_sos = 1;
    return CNN_OK;
}

/* Walks every marker segment, skipping entropy-coded data after each SOS, and checks that the
 * frame header (SOF) precedes the scans (SOS), that segments fit in the file, that every
 * Huffman table is well-formed and that scans use only tables defined before them. */
static cnn_status jpeg_header(const uint8_t *b, size_t n, const char *name, image_header *hd,
                              cnn_error *err)
{
    jpeg_state js = {0};
    cnn_status s = CNN_OK;
    size_t i = 2;
    while (i < n && s == CNN_OK) {
        if (b[i] != 0xFF)
            return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt JPEG (no marker at byte %zu)", name,
                            i);
        while (i < n && b[i] == 0xFF) i++; /* fill bytes */
        if (i >= n) break;
        unsigned m = b[i++];
        if (m == 0xD9) break;                                 /* EOI */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue; /* no length field */
        if (n - i < 2 || be16(b + i) < 2 || be16(b + i) > n - i)
            return cnn_fail(err, CNN_ERR_INPUT,
                            "%s: truncated JPEG (segment 0xFF%02X runs past the end of the file)",
                            name, m);
        const uint8_t *seg = b + i + 2;
        size_t len = be16(b + i) - 2;
        i += 2 + len;
        if (m == 0xC4)
            s = jpeg_dht(seg, len, name, &js, err);
        else if (m == 0xDB)
            s = jpeg_dqt(seg, len, name, &js, err);
        else if (m >= 0xC0 && m <= 0xCF && m != 0xC8 && m != 0xCC) /* not JPG, DAC */
            s = jpeg_sof(m, seg, len, name, &js, hd, err);
        else if (m == 0xDA) {
            s = jpeg_sos(seg, len, name, &js, err);
            /* entropy-coded data: skip to the next marker that is not a stuffed 0xFF00 or RSTn */
            while (i + 1 < n && !(b[i] == 0xFF && b[i + 1] != 0x00 && b[i + 1] != 0xFF &&
                                  (b[i + 1] < 0xD0 || b[i + 1] > 0xD7)))
                i++;
            if (i + 1 >= n) break; /* data ends without EOI: stb fills in the rest */
        }
    }
    if (s == CNN_OK && (!js.have_sof || !js.have_sos))
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: truncated JPEG (no %s)", name,
                     js.have_sof ? "image data (SOS)" : "frame header (SOF)");
    return s;
}

static void format_pixels(char *buf, size_t size, unsigned long long px)
{
    if (px < 1000000)
        snprintf(buf, size, "%llu pixels", px);
    else if (px % 1000000 == 0)
        snprintf(buf, size, "%llu megapixels", px / 1000000);
    else
        snprintf(buf, size, "%.1f megapixels", (double)px / 1e6);
}

static cnn_status check_size(const image_header *hd, const char *name, cnn_image_format fmt,
                             const cnn_image_limits *lim, cnn_error *err)
{
    long long side = lim->max_side < CNN_STB_MAX_SIDE ? lim->max_side : CNN_STB_MAX_SIDE;
    if (hd->w <= 0 || hd->h <= 0)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: %s header declares an invalid size %lldx%lld",
                        name, cnn_image_format_name(fmt), hd->w, hd->h);
    unsigned long long px = (unsigned long long)hd->w * (unsigned long long)hd->h; /* < 2^64 */
    unsigned long long max_px = lim->max_pixels > 0 ? (unsigned long long)lim->max_pixels : 0;
    if (px > max_px) {
        char have[48], limit[48];
        format_pixels(have, sizeof have, px);
        format_pixels(limit, sizeof limit, max_px);
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: image is %lldx%lld (%s), over the limit of %s (--max-pixels)", name,
                        hd->w, hd->h, have, limit);
    }
    if (hd->w > side || hd->h > side)
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: image is %lldx%lld, over the limit of %lld pixels per side", name,
                        hd->w, hd->h, side);
    return CNN_OK;
}

/* Largest single allocation stb may make: 16-bit RGBA at the pixel limit (4 channels x 2 bytes,
 * twice over for a conversion copy) plus slack for small images' compressed data. */
static size_t alloc_cap(const cnn_image_limits *lim)
{
    double cap = 16.0 * (double)lim->max_pixels + (double)(64u << 20);
    return cap >= (double)SIZE_MAX ? SIZE_MAX : (size_t)cap;
}

cnn_status cnn_image_decode(const uint8_t *buf, size_t n, const char *name,
                            const cnn_image_limits *lim, cnn_rgb8 *out, cnn_image_format *fmt,
                            cnn_error *err)
{
    cnn_image_limits def = cnn_image_limits_default();
    if (!lim) lim = &def;
    if (!name) name = "(image)";
    out->w = out->h = 0;
    out->px = NULL;
    cnn_image_format f = cnn_image_sniff(buf, n);
    if (fmt) *fmt = f;
    if (!buf || n == 0) return cnn_fail(err, CNN_ERR_INPUT, "%s: empty file", name);
    if (f == CNN_FMT_UNKNOWN)
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: unsupported image format (only PNG, JPEG and BMP are accepted)", name);
    const char *fname = cnn_image_format_name(f);
    if (n < MIN_FILE_BYTES)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: truncated %s file (%zu bytes)", name, fname, n);
    if (n > INT_MAX)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: file too large to decode (%zu bytes)", name, n);

    image_header hd = {0};
    cnn_status s = f == CNN_FMT_PNG    ? png_header(buf, n, name, &hd, err)
                   : f == CNN_FMT_JPEG ? jpeg_header(buf, n, name, &hd, err)
                                       : bmp_header(buf, n, name, &hd, err);
    if (s == CNN_OK) s = check_size(&hd, name, f, lim, err);
    if (s != CNN_OK) return s;
    if (f == CNN_FMT_PNG && (s = png_chunks(buf, n, name, err)) != CNN_OK) return s;
    if (f == CNN_FMT_BMP) { /* w, h are in range now: no overflow */
        long long stride = (hd.w * hd.bmp_bpp + 31) / 32 * 4;
        long long need = hd.bmp_offset + stride * hd.h;
        if ((long long)n < need)
            return cnn_fail(err, CNN_ERR_INPUT,
                            "%s: truncated BMP (header declares %lld bytes of pixel data at "
                            "offset %lld, the file has %zu bytes)",
                            name, stride * hd.h, hd.bmp_offset, n);
    }

    int w = 0, h = 0, cap_hit = 0;
    const char *why = "unknown error";
    if (!cnn_stb_info(buf, (int)n, &w, &h, &why))
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt or truncated %s data (stb: %s)", name,
                        fname, why);
    if (w != hd.w || h != hd.h)
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: corrupt %s header (stb reads %dx%d, we read %lldx%lld)", name, fname,
                        w, h, hd.w, hd.h);
    size_t cap = alloc_cap(lim);
    uint8_t *px = cnn_stb_decode_rgb(buf, (int)n, cap, &w, &h, &cap_hit, &why);
    if (!px && cap_hit)
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: %s data needs more than %zu MiB to decode (decompression bomb?)",
                        name, fname, cap >> 20);
    if (!px)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt or truncated %s data (stb: %s)", name,
                        fname, why);
    if (w != hd.w || h != hd.h) {
        free(px);
        return cnn_fail(err, CNN_ERR_INPUT, "%s: corrupt %s data (decoded %dx%d, header %lldx%lld)",
                        name, fname, w, h, hd.w, hd.h);
    }
    out->w = w;
    out->h = h;
    out->px = px;
    return CNN_OK;
}

cnn_status cnn_image_load(const char *path, const cnn_image_limits *lim, cnn_rgb8 *out,
                          cnn_image_format *fmt, cnn_error *err)
{
    cnn_image_limits def = cnn_image_limits_default();
    if (!lim) lim = &def;
    out->w = out->h = 0;
    out->px = NULL;
    if (fmt) *fmt = CNN_FMT_UNKNOWN;
    /* O_NONBLOCK: opening a FIFO named like an image must not wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    FILE *fp = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        int e = errno;
        if (fd >= 0) close(fd);
        return cnn_fail(err, CNN_ERR_INPUT, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    cnn_status s = CNN_OK;
    uint8_t *buf = NULL;
    if (fstat(fileno(fp), &st) != 0)
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: is a directory, not an image", path);
    else if (!S_ISREG(st.st_mode))
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: not a regular file", path);
    else if (st.st_size == 0)
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: empty file", path);
    else if ((unsigned long long)st.st_size > lim->max_file_bytes)
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: file is %lld bytes, over the limit of %zu bytes",
                     path, (long long)st.st_size, lim->max_file_bytes);
    size_t n = s == CNN_OK ? (size_t)st.st_size : 0;
    if (s == CNN_OK && !(buf = malloc(n)))
        s = cnn_fail(err, CNN_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, n);
    if (s == CNN_OK && fread(buf, 1, n, fp) != n)
        s = cnn_fail(err, CNN_ERR_INPUT, "%s: read error: %s", path,
                     ferror(fp) ? strerror(errno) : "file shrank while reading");
    fclose(fp);
    if (s == CNN_OK) s = cnn_image_decode(buf, n, path, lim, out, fmt, err);
    free(buf);
    return s;
}

cnn_status cnn_image_encode(const cnn_rgb8 *img, cnn_image_format fmt, int jpeg_quality,
                            uint8_t **buf, size_t *n, cnn_error *err)
{
    *buf = NULL;
    *n = 0;
    if (!img->px || img->w <= 0 || img->h <= 0 || (long long)img->w * img->h > INT_MAX / 3)
        return cnn_fail(err, CNN_ERR_INTERNAL, "cannot encode an image of size %dx%d", img->w,
                        img->h);
    if (fmt != CNN_FMT_PNG && fmt != CNN_FMT_JPEG && fmt != CNN_FMT_BMP)
        return cnn_fail(err, CNN_ERR_INTERNAL, "cannot encode format %d", (int)fmt);
    if (fmt == CNN_FMT_JPEG && (jpeg_quality < 1 || jpeg_quality > 100))
        return cnn_fail(err, CNN_ERR_USAGE, "JPEG quality %d is outside 1..100", jpeg_quality);
    *buf = cnn_stb_encode(img->px, img->w, img->h, fmt, jpeg_quality, n);
    if (!*buf)
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory encoding a %dx%d %s", img->w, img->h,
                        cnn_image_format_name(fmt));
    return CNN_OK;
}

/* ---- resampling ----
 * One tap pair per output coordinate: value = src[i0] + (src[i1] - src[i0]) * f, in double. */

typedef struct {
    int i0, i1;
    double f;
} tap;

static tap kernel_tap(int d, int src_n, int dst_n, cnn_resize_kernel kernel)
{
    double scale = (double)src_n / dst_n;
    tap t;
    if (kernel == CNN_RESIZE_LINEAR_LEGACY) {
        double s = d * scale;
        t.i0 = (int)floor(s);
        t.i1 = (int)ceil(s) < src_n - 1 ? (int)ceil(s) : src_n - 1;
        t.f = s - t.i0;
        return t;
    }
    double s = (d + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    t.i0 = (int)floor(s);
    if (t.i0 >= src_n - 1) {
        t.i0 = t.i1 = src_n - 1;
        t.f = 0;
    } else {
        t.i1 = t.i0 + 1;
        t.f = s - t.i0;
    }
    return t;
}

static double lerp2(double tl, double tr, double bl, double br, double fx, double fy)
{
    double top = tl + (tr - tl) * fx, bot = bl + (br - bl) * fx;
    return top + (bot - top) * fy;
}

void cnn_resize_plane(const float *src, int sw, int sh, float *dst, int dw, int dh,
                      cnn_resize_kernel kernel)
{
    for (int y = 0; y < dh; y++) {
        tap ty = kernel_tap(y, sh, dh, kernel);
        const float *r0 = src + (size_t)ty.i0 * sw, *r1 = src + (size_t)ty.i1 * sw;
        for (int x = 0; x < dw; x++) {
            tap tx = kernel_tap(x, sw, dw, kernel);
            dst[(size_t)y * dw + x] =
                (float)lerp2(r0[tx.i0], r0[tx.i1], r1[tx.i0], r1[tx.i1], tx.f, ty.f);
        }
    }
}

/* Pixel (x, y) of channel c in 0..255 units; c < 0 asks for BT.601 luma. Outside the image
 * (the TOPLEFT canvas) the value is 0. */
static double pixel(const cnn_rgb8 *img, int x, int y, int c)
{
    if (x >= img->w || y >= img->h) return 0.0;
    const uint8_t *p = img->px + ((size_t)y * img->w + x) * 3;
    return c < 0 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[c];
}

/* Resamples a virtual sw x sh source (the image at (0,0), zeros beyond it) into the rw x rh
 * region at (ox, oy) of every output plane, normalising as it writes. */
static void resample_into(const cnn_rgb8 *img, int sw, int sh, const cnn_preproc *pp, float *out,
                          int ox, int oy, int rw, int rh)
{
    for (int c = 0; c < pp->c; c++) {
        int src_c = pp->c == 1 ? -1 : c;
        float *plane = out + (size_t)c * pp->h * pp->w;
        for (int y = 0; y < rh; y++) {
            tap ty = kernel_tap(y, sh, rh, pp->kernel);
            float *row = plane + (size_t)(oy + y) * pp->w + ox;
            for (int x = 0; x < rw; x++) {
                tap tx = kernel_tap(x, sw, rw, pp->kernel);
                double v = lerp2(pixel(img, tx.i0, ty.i0, src_c), pixel(img, tx.i1, ty.i0, src_c),
                                 pixel(img, tx.i0, ty.i1, src_c), pixel(img, tx.i1, ty.i1, src_c),
                                 tx.f, ty.f);
                row[x] = (float)((v - pp->mean[c]) / pp->divisor);
            }
        }
    }
}

void cnn_preprocess(const cnn_rgb8 *img, const cnn_preproc *pp, float *out, cnn_frame *frame)
{
    int W = img->w, H = img->h;
    *frame = (cnn_frame){.scale_x = (float)pp->w / W, .scale_y = (float)pp->h / H,
                         .img_w = W, .img_h = H};
    if (pp->letterbox == CNN_LETTERBOX_CENTER) {
        int nw, nh;
        if ((long long)pp->w * H < (long long)pp->h * W) { /* pp->w/W < pp->h/H, exactly */
            nw = pp->w;
            nh = (int)((long long)H * pp->w / W);
        } else {
            nh = pp->h;
            nw = (int)((long long)W * pp->h / H);
        }
        nw = nw > 0 ? nw : 1; /* a 1-pixel strip rather than nothing for extreme aspect ratios */
        nh = nh > 0 ? nh : 1;
        int ox = (pp->w - nw) / 2, oy = (pp->h - nh) / 2;
        for (size_t i = 0, n = (size_t)pp->c * pp->h * pp->w; i < n; i++) out[i] = pp->fill;
        resample_into(img, W, H, pp, out, ox, oy, nw, nh);
        *frame = (cnn_frame){.scale_x = nw / (float)W, .scale_y = nh / (float)H,
                             .off_x = (float)ox, .off_y = (float)oy, .img_w = W, .img_h = H};
    } else if (pp->letterbox == CNN_LETTERBOX_TOPLEFT) {
        int S = W > H ? W : H;
        /* face-api rounds the resized image size, so boxes map back with these scales */
        double rw = floor((double)W * pp->w / S + 0.5), rh = floor((double)H * pp->h / S + 0.5);
        /* a very thin image would round its short side to 0 pixels (and boxes to inf) */
        if (rw < 1) rw = 1;
        if (rh < 1) rh = 1;
        resample_into(img, S, S, pp, out, 0, 0, pp->w, pp->h);
        frame->scale_x = (float)(rw / W);
        frame->scale_y = (float)(rh / H);
    } else {
        resample_into(img, W, H, pp, out, 0, 0, pp->w, pp->h);
    }
}
