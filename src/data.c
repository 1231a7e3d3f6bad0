/* data.c — IDX, YOLO-label and ImageFolder datasets loaded into memory, and augmentation. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data.h"
#include "fsutil.h"
#include "inputs.h"

#define LABEL_FILE_MAX (16u << 20)
#define MAX_SAMPLES (1 << 24)

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

void cnn_data_free(cnn_dataset *ds)
{
    free(ds->x);
    free(ds->y);
    free(ds->box_first);
    free(ds->box_count);
    free(ds->boxes);
    free(ds->frames);
    if (ds->paths)
        for (int i = 0; i < ds->n; i++) free(ds->paths[i]);
    free(ds->paths);
    if (ds->class_names)
        for (int i = 0; i < ds->n_classes; i++) free(ds->class_names[i]);
    free(ds->class_names);
    memset(ds, 0, sizeof *ds);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* ---- IDX ---- */

/* Opens dir/name or dir/name.gz (zlib reads both); NULL when neither exists. */
static gzFile open_idx(const char *dir, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    if (!cnn_is_file(path)) snprintf(path, n, "%s/%s.gz", dir, name);
    if (!cnn_is_file(path)) return NULL;
    return gzopen(path, "rb");
}

static cnn_status read_exact(gzFile f, void *buf, size_t n, const char *path, const char *what,
                             cnn_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0)
            return cnn_fail(err, CNN_ERR_INPUT, "%s: truncated or corrupt while reading %s", path,
                            what);
        p += got, n -= (size_t)got;
    }
    return CNN_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static cnn_status load_idx(const char *dir, const cnn_preproc *pp, cnn_data_split split, int limit,
                           cnn_dataset *ds, cnn_error *err)
{
    const char *pre = split == CNN_SPLIT_TRAIN ? "train" : "t10k";
    char ipath[4096], lpath[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
    gzFile fi = open_idx(dir, name, ipath, sizeof ipath);
    if (!fi) return cnn_fail(err, CNN_ERR_INPUT, "%s: no %s[.gz]", dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
    gzFile fl = open_idx(dir, name, lpath, sizeof lpath);
    cnn_status st = CNN_OK;
    unsigned char *px = NULL, *lab = NULL;
    if (!fl) {
        st = cnn_fail(err, CNN_ERR_INPUT, "%s: no %s[.gz]", dir, name);
        goto done;
    }
    unsigned char hi[16], hl[8];
    if ((st = read_exact(fi, hi, 16, ipath, "the header", err))) goto done;
    if ((st = read_exact(fl, hl, 8, lpath, "the header", err))) goto done;
    if (be32(hi) != 0x803 || be32(hl) != 0x801) {
        st = cnn_fail(err, CNN_ERR_INPUT, "%s: not an IDX image/label pair (magic %08x/%08x)",
                      dir, be32(hi), be32(hl));
        goto done;
    }
    uint32_t n = be32(hi + 4), rows = be32(hi + 8), cols = be32(hi + 12);
    if (n != be32(hl + 4) || n == 0 || n > MAX_SAMPLES || rows == 0 || cols == 0 || rows > 4096 ||
        cols > 4096) {
        st = cnn_fail(err, CNN_ERR_INPUT, "%s: %u images of %ux%u but %u labels", ipath, n, rows,
                      cols, be32(hl + 4));
        goto done;
    }
    if ((int)rows != pp->h || (int)cols != pp->w || pp->c != 1) {
        st = cnn_fail(err, CNN_ERR_INPUT, "%s: images are %ux%u grey but the network takes %dx%dx%d",
                      ipath, cols, rows, pp->w, pp->h, pp->c);
        goto done;
    }
    int keep = limit > 0 && (uint32_t)limit < n ? limit : (int)n;
    size_t plane = (size_t)rows * cols;
    px = malloc(plane * keep);
    lab = malloc(keep);
    ds->x = malloc(sizeof(float) * plane * keep);
    ds->y = malloc(sizeof(int) * keep);
    if (!px || !lab || !ds->x || !ds->y) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory for %d images", ipath, keep);
        goto done;
    }
    if ((st = read_exact(fi, px, plane * keep, ipath, "pixels", err))) goto done;
    if ((st = read_exact(fl, lab, keep, lpath, "labels", err))) goto done;
    int max_label = 0;
    for (int i = 0; i < keep; i++) max_label = lab[i] > max_label ? lab[i] : max_label;
    for (size_t i = 0; i < plane * keep; i++) ds->x[i] = (px[i] - pp->mean[0]) / pp->divisor;
    for (int i = 0; i < keep; i++) ds->y[i] = lab[i];
    ds->kind = CNN_DATA_IDX;
    ds->n = keep, ds->c = 1, ds->h = (int)rows, ds->w = (int)cols;
    ds->n_classes = max_label + 1 > 10 ? max_label + 1 : 10;
    ds->class_names = calloc(ds->n_classes, sizeof *ds->class_names);
    if (!ds->class_names) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ds->n_classes; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class%d", i);
        ds->class_names[i] = strdup(ds->n_classes == 10 ? fashion_names[i] : buf);
    }
done:
    free(px);
    free(lab);
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    return st;
}

/* ---- images ---- */

static cnn_status load_image_sample(const char *path, const cnn_preproc *pp, float *dst,
                                    cnn_frame *frame, cnn_error *err)
{
    cnn_image_limits lim = cnn_image_limits_default();
    cnn_rgb8 img;
    cnn_status st = cnn_image_load(path, &lim, &img, NULL, err);
    if (st) return st;
    cnn_preprocess(&img, pp, dst, frame);
    cnn_rgb8_free(&img);
    return CNN_OK;
}

static cnn_status alloc_samples(cnn_dataset *ds, const cnn_preproc *pp, int n, cnn_error *err)
{
    ds->n = n, ds->c = pp->c, ds->h = pp->h, ds->w = pp->w;
    ds->x = malloc(sizeof(float) * (size_t)n * pp->c * pp->h * pp->w);
    ds->paths = calloc(n, sizeof *ds->paths);
    ds->frames = calloc(n, sizeof *ds->frames);
    if (!ds->x || !ds->paths || !ds->frames) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory for %d images", n);
    return CNN_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cnn_status load_folder(const char *dir, const cnn_preproc *pp, int limit, cnn_dataset *ds,
                              cnn_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return cnn_fail(err, CNN_ERR_INPUT, "%s: cannot open: %s", dir, strerror(errno));
    cnn_strlist classes = {0};
    cnn_status st = CNN_OK;
    struct dirent *e;
    while (st == CNN_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *sub = join(dir, e->d_name);
        if (sub && cnn_is_dir(sub)) st = cnn_strlist_push(&classes, e->d_name, err);
        free(sub);
    }
    closedir(d);
    if (st) goto done;
    if (classes.n == 0) {
        st = cnn_fail(err, CNN_ERR_INPUT,
                      "%s: no class folders (expected <class>/*.png, images/+labels/ or IDX files)",
                      dir);
        goto done;
    }
    qsort(classes.items, classes.n, sizeof *classes.items, cmp_str);
    cnn_strlist files = {0};
    int *cls = NULL;
    size_t cap = 0;
    for (size_t c = 0; st == CNN_OK && c < classes.n; c++) {
        char *sub = join(dir, classes.items[c]);
        size_t before = files.n;
        st = sub ? cnn_inputs_collect(&sub, 1, 0, &files, err)
                 : cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        free(sub);
        if (st) break;
        if (files.n > cap) {
            cap = files.n * 2;
            int *nc = realloc(cls, cap * sizeof *cls);
            if (!nc) {
                st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
                break;
            }
            cls = nc;
        }
        for (size_t i = before; i < files.n; i++) cls[i] = (int)c;
    }
    if (st == CNN_OK && files.n == 0) st = cnn_fail(err, CNN_ERR_INPUT, "%s: no images", dir);
    if (st == CNN_OK) {
        /* an even spread over classes when limited: take every k-th file */
        int n = (int)files.n, keep = limit > 0 && limit < n ? limit : n;
        if ((st = alloc_samples(ds, pp, keep, err)) == CNN_OK && !(ds->y = malloc(sizeof(int) * keep)))
            st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        for (int i = 0; st == CNN_OK && i < keep; i++) {
            size_t src = (size_t)((long long)i * n / keep);
            ds->y[i] = cls[src];
            if (!(ds->paths[i] = strdup(files.items[src]))) {
                st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
                break;
            }
            st = load_image_sample(files.items[src], pp, cnn_data_sample(ds, i), &ds->frames[i],
                                   err);
        }
        ds->kind = CNN_DATA_FOLDER;
        ds->n_classes = (int)classes.n;
        ds->class_names = calloc(classes.n, sizeof *ds->class_names);
        for (size_t c = 0; ds->class_names && c < classes.n; c++)
            ds->class_names[c] = strdup(classes.items[c]);
        if (st == CNN_OK && !ds->class_names) st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    cnn_strlist_free(&files);
    free(cls);
done:
    cnn_strlist_free(&classes);
    return st;
}

cnn_status cnn_data_parse_yolo_labels(const char *text, size_t len, const char *path,
                                      cnn_box_label **out, int *n, cnn_error *err)
{
    *out = NULL, *n = 0;
    int cap = 0, line = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        char buf[256];
        size_t ll = (size_t)(eol - p);
        if (ll >= sizeof buf) {
            free(*out), *out = NULL, *n = 0;
            return cnn_fail(err, CNN_ERR_INPUT, "%s:%d: line too long", path, line);
        }
        memcpy(buf, p, ll);
        buf[ll] = '\0';
        p = eol + 1;
        char *hash = strchr(buf, '#');
        if (hash) *hash = '\0';
        char *s = buf;
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s) continue;
        int cls, used = 0;
        float v[4];
        if (sscanf(s, "%d %f %f %f %f %n", &cls, &v[0], &v[1], &v[2], &v[3], &used) != 5 ||
            s[used] != '\0' || cls < 0 || cls > 9999) {
            free(*out), *out = NULL, *n = 0;
            return cnn_fail(err, CNN_ERR_INPUT, "%s:%d: expected `class cx cy w h`", path, line);
        }
        for (int k = 0; k < 4; k++) {
            if (!isfinite(v[k]) || v[k] < 0 || v[k] > 1 || (k >= 2 && v[k] <= 0)) {
                free(*out), *out = NULL, *n = 0;
                return cnn_fail(err, CNN_ERR_INPUT, "%s:%d: box values must be in (0, 1]", path,
                                line);
            }
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            cnn_box_label *nb = realloc(*out, sizeof *nb * cap);
            if (!nb) {
                free(*out), *out = NULL, *n = 0;
                return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
            }
            *out = nb;
        }
        (*out)[(*n)++] = (cnn_box_label){v[0], v[1], v[2], v[3], cls};
    }
    return CNN_OK;
}

static cnn_status load_yolo(const char *dir, const cnn_preproc *pp, int limit, cnn_dataset *ds,
                            cnn_error *err)
{
    char *imdir = join(dir, "images");
    cnn_strlist files = {0};
    cnn_status st = imdir ? cnn_inputs_collect(&imdir, 1, 0, &files, err)
                          : cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    free(imdir);
    if (st == CNN_OK && files.n == 0) st = cnn_fail(err, CNN_ERR_INPUT, "%s/images: no images", dir);
    int n = (int)files.n, keep = limit > 0 && limit < n ? limit : n;
    if (st == CNN_OK) st = alloc_samples(ds, pp, keep, err);
    if (st == CNN_OK) {
        ds->box_first = calloc(keep, sizeof(int));
        ds->box_count = calloc(keep, sizeof(int));
        if (!ds->box_first || !ds->box_count) st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    int cap = 0, max_cls = 0;
    for (int i = 0; st == CNN_OK && i < keep; i++) {
        const char *img = files.items[i];
        if (!(ds->paths[i] = strdup(img))) {
            st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
            break;
        }
        if ((st = load_image_sample(img, pp, cnn_data_sample(ds, i), &ds->frames[i], err))) break;
        const cnn_frame fr = ds->frames[i];
        /* labels/<stem>.txt */
        const char *base = strrchr(img, '/');
        base = base ? base + 1 : img;
        char lpath[4096];
        const char *dot = strrchr(base, '.');
        int stem = dot ? (int)(dot - base) : (int)strlen(base);
        snprintf(lpath, sizeof lpath, "%s/labels/%.*s.txt", dir, stem, base);
        char *text;
        size_t len;
        if ((st = cnn_read_file(lpath, LABEL_FILE_MAX, &text, &len, CNN_ERR_INPUT, err))) break;
        cnn_box_label *b;
        int nb;
        st = cnn_data_parse_yolo_labels(text, len, lpath, &b, &nb, err);
        free(text);
        if (st) break;
        if (ds->n_boxes + nb > cap) {
            cap = (ds->n_boxes + nb) * 2 + 16;
            cnn_box_label *grown = realloc(ds->boxes, sizeof *grown * cap);
            if (!grown) {
                free(b);
                st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
                break;
            }
            ds->boxes = grown;
        }
        ds->box_first[i] = ds->n_boxes;
        ds->box_count[i] = nb;
        /* original-image fractions -> network-input fractions (letterbox offsets and scales) */
        for (int k = 0; k < nb; k++) {
            cnn_box_label o = b[k];
            float ox = o.x * fr.img_w, oy = o.y * fr.img_h, ow = o.w * fr.img_w, oh = o.h * fr.img_h;
            ds->boxes[ds->n_boxes++] = (cnn_box_label){
                (ox * fr.scale_x + fr.off_x) / pp->w, (oy * fr.scale_y + fr.off_y) / pp->h,
                ow * fr.scale_x / pp->w, oh * fr.scale_y / pp->h, o.cls};
            max_cls = o.cls > max_cls ? o.cls : max_cls;
        }
        free(b);
    }
    cnn_strlist_free(&files);
    if (st) return st;
    ds->kind = CNN_DATA_YOLO;
    ds->n_classes = max_cls + 1;
    ds->class_names = calloc(ds->n_classes, sizeof *ds->class_names);
    if (!ds->class_names) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    for (int c = 0; c < ds->n_classes; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class%d", c);
        ds->class_names[c] = strdup(buf);
    }
    return CNN_OK;
}

cnn_status cnn_data_load(const char *dir, const cnn_preproc *pp, cnn_data_split split, int limit,
                         cnn_dataset *ds, cnn_error *err)
{
    memset(ds, 0, sizeof *ds);
    if (!cnn_is_dir(dir)) return cnn_fail(err, CNN_ERR_INPUT, "%s: not a directory", dir);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/%s-images-idx3-ubyte", dir,
             split == CNN_SPLIT_TRAIN ? "train" : "t10k");
    char probe_gz[4200];
    snprintf(probe_gz, sizeof probe_gz, "%s.gz", probe);
    /* root/train/ or root/test/ (root/val/) when the split has its own folder */
    char root[4096];
    snprintf(root, sizeof root, "%s/%s", dir, split == CNN_SPLIT_TRAIN ? "train" : "test");
    if (!cnn_is_dir(root) && split == CNN_SPLIT_TEST) snprintf(root, sizeof root, "%s/val", dir);
    if (!cnn_is_dir(root)) snprintf(root, sizeof root, "%s", dir);
    char images[4200], labels[4200];
    snprintf(images, sizeof images, "%s/images", root);
    snprintf(labels, sizeof labels, "%s/labels", root);
    cnn_status st;
    if (cnn_is_file(probe) || cnn_is_file(probe_gz))
        st = load_idx(dir, pp, split, limit, ds, err);
    else if (cnn_is_dir(images) && cnn_is_dir(labels))
        st = load_yolo(root, pp, limit, ds, err);
    else
        st = load_folder(root, pp, limit, ds, err);
    if (st) cnn_data_free(ds);
    return st;
}

/* ---- augmentation ---- */

void cnn_data_augment(const float *src, float *dst, int c, int h, int w, const cnn_augment *a,
                      cnn_box_label *boxes, int *n_boxes, cnn_rng *rng)
{
    int flip = a->flip && cnn_rng_uniform(rng) < 0.5f;
    int dx = 0, dy = 0;
    if (a->shift > 0) {
        dx = (int)(cnn_rng_next(rng) % (2u * a->shift + 1)) - a->shift;
        dy = (int)(cnn_rng_next(rng) % (2u * a->shift + 1)) - a->shift;
    }
    float bright = a->brightness > 0 ? (cnn_rng_uniform(rng) * 2 - 1) * a->brightness : 0;
    float contrast = a->contrast > 0 ? 1 + (cnn_rng_uniform(rng) * 2 - 1) * a->contrast : 1;
    const size_t plane = (size_t)h * w;
    for (int ch = 0; ch < c; ch++) {
        const float *s = src + ch * plane;
        float *d = dst + ch * plane;
        float mean = 0;
        if (contrast != 1) {
            for (size_t i = 0; i < plane; i++) mean += s[i];
            mean /= (float)plane;
        }
        for (int y = 0; y < h; y++) {
            int sy = y - dy;
            for (int x = 0; x < w; x++) {
                int sx0 = x - dx, sx = flip ? w - 1 - sx0 : sx0;
                float v = (sy < 0 || sy >= h || sx0 < 0 || sx0 >= w) ? a->fill : s[sy * w + sx];
                d[y * w + x] = (v - mean) * contrast + mean + bright;
            }
        }
    }
    if (!boxes) return;
    int kept = 0;
    for (int i = 0; i < *n_boxes; i++) {
        cnn_box_label b = boxes[i];
        if (flip) b.x = 1 - b.x;
        float x0 = b.x - b.w / 2 + (float)dx / w, x1 = b.x + b.w / 2 + (float)dx / w;
        float y0 = b.y - b.h / 2 + (float)dy / h, y1 = b.y + b.h / 2 + (float)dy / h;
        x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0, x1 = x1 > 1 ? 1 : x1, y1 = y1 > 1 ? 1 : y1;
        /* a box that lost more than half of itself is no longer a fair target */
        if ((x1 - x0) * (y1 - y0) < 0.5f * b.w * b.h || x1 <= x0 || y1 <= y0) continue;
        boxes[kept++] = (cnn_box_label){(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, b.cls};
    }
    *n_boxes = kept;
}
