/* cmd_synth.c — `cnndemo synth tumour -n N -o DIR`: a synthetic MRI-like tumour dataset
 * (phantoms, not patient data; see synth.h) in both the YOLO and the ImageFolder layout:
 *   DIR/images/NNNNNN.png        8-bit grey slice i (0-based, six digits)
 *   DIR/labels/NNNNNN.txt        YOLO "0 cx cy w h" per lesion mass; empty without lesions
 *   DIR/classes/{tumour,no_tumour}/NNNNNN.png   hard links to images/ (copies where links fail)
 *   DIR/tumour.names, DIR/manifest.csv (file,has_tumour,n_lesions,seed)
 * Every file is written under a temporary name and renamed; same-named files already in DIR are
 * replaced, other files are left alone. Slices are not fsynced one by one (that would dominate
 * the run time): one syncfs() flushes them all, then manifest.csv is written and fsynced last,
 * so a manifest on disk means a complete dataset even after a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "report.h"
#include "stb_impl.h"
#include "synth.h"

/* dst becomes a hard link to src (through a temporary name, so it appears whole), or a copy of
 * buf when the file system refuses links. */
static cnn_status link_or_write(const char *src, const char *dst, const void *buf, size_t n, cnn_error *err)
{
    char tmp[CNN_PATH_MAX + 64];
    const char *slash = strrchr(dst, '/');
    int dlen = slash ? (int)(slash - dst + 1) : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.%ld.link", dlen, dst, slash ? slash + 1 : dst, (long)getpid());
    unlink(tmp);
    if (link(src, tmp) == 0) {
        int ok = rename(tmp, dst) == 0;
        unlink(tmp); /* rename() leaves both names when they already were one file */
        if (ok) return CNN_OK;
    }
    return cnn_write_file_atomic_nosync(dst, buf, n, err);
}

static cnn_status write_text(const char *path, const cnn_sbuf *b, cnn_error *err)
{
    if (b->oom) return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    return cnn_write_file_atomic_nosync(path, b->len ? b->s : "", b->len, err);
}

int cmd_synth(int argc, char **argv)
{
    int count = 0, seed = 1, size = 128;
    float prob = 0.5f;
    const char *out_arg = NULL;
    const cli_opt opts[] = {
        {"count", 'n', CLI_INT, &count, "N", "number of slices (required)", 1, 1000000},
        {"seed", 's', CLI_INT, &seed, "S", "random seed (default 1); slice i depends on S and i only", 0, 2147483647},
        {"output", 'o', CLI_STR, &out_arg, "DIR", "output folder (required); same-named files are replaced", 0, 0},
        {"size", 0, CLI_INT, &size, "PX", "image side in pixels (default 128)", CNN_SYNTH_MIN_SIZE, CNN_SYNTH_MAX_SIZE},
        {"lesion-prob", 0, CLI_FLOAT, &prob, "P", "share of slices with lesions, 1-3 each (default 0.5)", 0, 1},
        {0},
    };
    const char *usage = "tumour -n N -o DIR [--seed S] [--size PX] [--lesion-prob P]\n\n"
                        "Writes SYNTHETIC MRI-like brain slices (phantoms, not patient data) with YOLO labels\n"
                        "(class 0 = tumour; box = the lesion's mass incl. any necrotic core, not the oedema):\n"
                        "DIR/images/NNNNNN.png, DIR/labels/NNNNNN.txt, DIR/classes/{tumour,no_tumour}/,\n"
                        "DIR/tumour.names, DIR/manifest.csv. Same N, S, PX, P: byte-identical files.";
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("synth", usage, opts, argc, argv, pos, &npos) : 1;
    const char *kind = npos > 0 ? pos[0] : NULL;
    free(pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 1 || strcmp(kind, "tumour") != 0) {
        fprintf(stderr, "cnndemo synth: the one dataset is 'tumour': cnndemo synth tumour -n N -o DIR\n");
        return 2;
    }
    if (!count || !out_arg || !out_arg[0]) {
        fprintf(stderr, "cnndemo synth: -n N and -o DIR are required\n");
        return 2;
    }
    char dir[CNN_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", out_arg) >= (int)sizeof dir) {
        fprintf(stderr, "cnndemo synth: -o path too long\n");
        return 2;
    }
    cnn_strip_slashes(dir);

    cnn_error err = {0};
    cnn_status st = CNN_OK;
    const cnn_synth_opts so = {size, prob};
    uint8_t *px = malloc((size_t)size * (size_t)size);
    float *work = malloc(cnn_synth_work_floats(size) * sizeof *work);
    cnn_sbuf manifest = {0}, label = {0};
    char path[CNN_PATH_MAX + 64], img_path[CNN_PATH_MAX + 64], other[CNN_PATH_MAX + 64];
    const char *const subdirs[] = {"images", "labels", "classes/tumour", "classes/no_tumour"};
    long with = 0, lesions = 0;
    if (!px || !work) {
        st = cnn_fail(&err, CNN_ERR_NOMEM, "synth: out of memory for %dx%d slices", size, size);
        goto out;
    }
    for (size_t k = 0; k < sizeof subdirs / sizeof *subdirs && !st; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, subdirs[k]);
        st = cnn_mkdirs(path, &err);
    }
    cnn_sbuf_printf(&manifest, "file,has_tumour,n_lesions,seed\n");
    for (int i = 0; i < count && !st; i++) {
        cnn_synth_info info;
        if ((st = cnn_synth_tumour_slice((uint64_t)seed, (uint64_t)i, &so, px, work, &info, &err))) break;
        size_t png_n;
        uint8_t *png = cnn_stb_encode_png_grey(px, size, size, &png_n);
        if (!png) {
            st = cnn_fail(&err, CNN_ERR_NOMEM, "synth: out of memory encoding slice %d", i);
            break;
        }
        snprintf(img_path, sizeof img_path, "%s/images/%06d.png", dir, i);
        st = cnn_write_file_atomic_nosync(img_path, png, png_n, &err);
        const int has = info.n_lesions > 0;
        if (!st) {
            snprintf(path, sizeof path, "%s/classes/%s/%06d.png", dir, has ? "tumour" : "no_tumour", i);
            snprintf(other, sizeof other, "%s/classes/%s/%06d.png", dir, has ? "no_tumour" : "tumour", i);
            unlink(other); /* left by an earlier run with another --lesion-prob */
            st = link_or_write(img_path, path, png, png_n, &err);
        }
        free(png);
        if (st) break;
        cnn_sbuf_clear(&label);
        for (int j = 0; j < info.n_lesions; j++) {
            const cnn_synth_box *b = &info.lesion[j];
            cnn_sbuf_printf(&label, "0 %.6f %.6f %.6f %.6f\n", (b->x0 + b->x1) / 2 / size,
                            (b->y0 + b->y1) / 2 / size, (b->x1 - b->x0) / size, (b->y1 - b->y0) / size);
        }
        snprintf(path, sizeof path, "%s/labels/%06d.txt", dir, i);
        if ((st = write_text(path, &label, &err))) break;
        cnn_sbuf_printf(&manifest, "images/%06d.png,%d,%d,%d\n", i, has, info.n_lesions, seed);
        with += has;
        lesions += info.n_lesions;
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/tumour.names", dir);
        st = cnn_write_file_atomic_nosync(path, "tumour\n", 7, &err);
    }
    if (!st) st = cnn_sync_fs(dir, &err);
    if (!st && manifest.oom) st = cnn_fail(&err, CNN_ERR_NOMEM, "synth: out of memory for manifest.csv");
    if (!st) {
        snprintf(path, sizeof path, "%s/manifest.csv", dir);
        st = cnn_write_file_atomic(path, manifest.s, manifest.len, &err);
    }
    if (!st)
        fprintf(stderr,
                "wrote %d SYNTHETIC slices (%ld with lesions, %ld lesions; seed %d, %dx%d) to %s/ - phantoms, not patient data\n",
                count, with, lesions, seed, size, size, dir);
out:
    free(px);
    free(work);
    cnn_sbuf_free(&manifest);
    cnn_sbuf_free(&label);
    return st ? cli_report(&err) : 0;
}
