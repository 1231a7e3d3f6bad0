/* cmd_run.c — `cnndemo detect` and `cnndemo classify`: the per-image pipeline
 * decode -> preprocess -> forward -> decode boxes / top-k -> draw -> encode -> atomic write,
 * with results to stdout and to files under -o. A bad input is reported and recorded, and the
 * run goes on (exit 4 at the end); a model problem stops the run (exit 3). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "detect.h"
#include "draw.h"
#include "fsutil.h"
#include "inputs.h"
#include "report.h"

typedef enum { TASK_DETECT, TASK_CLASSIFY } run_task;

typedef struct {
    cli_model_opts mo;
    const char *out_dir, *format, *json_path, *csv_path;
    float conf, iou;
    int recursive, letterbox, save_txt, no_images, verbose, quiet, top_k;
    int max_mpix;
} run_opts;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

typedef struct {
    run_task task;
    const run_opts *o;
    cnn_model *m;
    cnn_det *dets;
    int cap;
    float iou;
    int *top_ids;
    float *top_p;
    int results_fd;
    cnn_sbuf line, json, csv;
    int n_ok, n_failed, n_json;
    double stage_sum[CNN_STAGE_COUNT], first[CNN_STAGE_COUNT];
} run_ctx;

static cnn_image_format format_for_output(cnn_image_format in)
{
    return in == CNN_FMT_JPEG ? CNN_FMT_JPEG : (in == CNN_FMT_BMP ? CNN_FMT_BMP : CNN_FMT_PNG);
}

static void annotate(run_ctx *c, cnn_rgb8 *img, const cnn_result *r)
{
    char label[160], tmp[32];
    if (c->task == TASK_DETECT) {
        /* draw low scores first so the strongest boxes end on top */
        for (int i = r->n_dets - 1; i >= 0; i--) {
            const cnn_det *d = &r->dets[i];
            uint8_t rgb[3];
            cnn_class_color(d->class_id, rgb);
            snprintf(label, sizeof label, "%s %.2f",
                     cnn_model_class_name(c->m, d->class_id, tmp, sizeof tmp), d->score);
            cnn_draw_detection(img, (int)d->x1, (int)d->y1, (int)d->x2 - 1, (int)d->y2 - 1, label, rgb);
        }
        return;
    }
    char lines[3][160];
    const char *ptrs[3];
    int n = r->n_top < 3 ? r->n_top : 3;
    for (int i = 0; i < n; i++) {
        snprintf(lines[i], sizeof lines[i], "%s %.2f",
                 cnn_model_class_name(c->m, r->top_ids[i], tmp, sizeof tmp), r->top_p[i]);
        ptrs[i] = lines[i];
    }
    cnn_draw_banner(img, ptrs, n);
}

/* Runs one input. Returns CNN_OK, CNN_ERR_INPUT (recorded, run continues) or a fatal status. */
static cnn_status run_one(run_ctx *c, const char *path, cnn_error *err)
{
    const run_opts *o = c->o;
    cnn_net *net = c->m->net;
    cnn_result r = {.path = path};
    cnn_rgb8 img = {0};
    cnn_image_format fmt = CNN_FMT_UNKNOWN;
    char out_img[CNN_PATH_MAX + 64];
    char msg[CNN_ERROR_MSG_MAX];
    cnn_error ierr = {0};
    cnn_image_limits lim = cnn_image_limits_default();
    lim.max_pixels = (long long)o->max_mpix * 1000000;
    cnn_status st = CNN_OK;
    uint8_t *enc = NULL;

    double t = cli_now();
    if (cnn_image_load(path, &lim, &img, &fmt, &ierr) != CNN_OK) {
        snprintf(msg, sizeof msg, "%s", ierr.msg);
        r.error = msg;
        st = CNN_ERR_INPUT;
        goto emit;
    }
    r.width = img.w, r.height = img.h;
    r.ms[CNN_STAGE_DECODE] = (cli_now() - t) * 1e3;

    t = cli_now();
    cnn_frame frame;
    cnn_preprocess(&img, &net->pp, net->input, &frame);
    r.ms[CNN_STAGE_PREPROCESS] = (cli_now() - t) * 1e3;

    t = cli_now();
    cnn_net_forward(net, NULL);
    r.ms[CNN_STAGE_FORWARD] = (cli_now() - t) * 1e3;

    t = cli_now();
    if (c->task == TASK_DETECT) {
        int n = cnn_detect_decode(net, 0, &frame, o->conf, c->dets, c->cap);
        n = cnn_nms(c->dets, n, c->iou);
        cnn_det_clip(c->dets, n, img.w, img.h);
        r.dets = c->dets;
        r.n_dets = n;
    } else {
        const cnn_layer *out = cnn_net_output(net);
        r.n_top = cnn_topk(out->output, (int)cnn_shape_size(out->out), o->top_k, c->top_ids);
        for (int i = 0; i < r.n_top; i++) c->top_p[i] = out->output[c->top_ids[i]];
        r.top_ids = c->top_ids;
        r.top_p = c->top_p;
    }
    r.ms[CNN_STAGE_POSTPROCESS] = (cli_now() - t) * 1e3;

    if (!o->no_images) {
        t = cli_now();
        annotate(c, &img, &r);
        cnn_image_format ofmt = format_for_output(fmt);
        size_t n = 0;
        char dir[CNN_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/images", o->out_dir);
        cnn_output_path(dir, path, fmt == ofmt ? NULL : ".png", out_img, sizeof out_img);
        if ((st = cnn_image_encode(&img, ofmt, 95, &enc, &n, err)) ||
            (st = cnn_mkdirs_for(out_img, err)) ||
            (st = cnn_write_file_atomic(out_img, enc, n, err))) {
            if (st != CNN_ERR_NOMEM) st = CNN_ERR_OUTPUT;
            goto done;
        }
        r.output = out_img;
        r.ms[CNN_STAGE_DRAW_ENCODE] = (cli_now() - t) * 1e3;
    }
    if (o->save_txt) {
        char dir[CNN_PATH_MAX + 16], txt[CNN_PATH_MAX + 64];
        snprintf(dir, sizeof dir, "%s/labels", o->out_dir);
        /* labels/<input path>.txt: the extension is kept so a.png and a.jpg never collide */
        cnn_output_path(dir, path, NULL, txt, sizeof txt);
        strncat(txt, ".txt", sizeof txt - strlen(txt) - 1);
        cnn_sbuf_clear(&c->line);
        cnn_report_yolo_txt(&c->line, &r);
        if ((st = cnn_mkdirs_for(txt, err)) ||
            (st = cnn_write_file_atomic(txt, c->line.s ? c->line.s : "", c->line.len, err)))
            goto done;
    }

emit:
    if (r.error) c->n_failed++;
    else c->n_ok++;
    if (!r.error) {
        for (int s = 0; s < CNN_STAGE_COUNT; s++) {
            if (c->n_ok == 1) c->first[s] = r.ms[s];
            else c->stage_sum[s] += r.ms[s];
        }
    }
    if (r.error && !o->quiet) fprintf(stderr, "cnndemo: %s\n", r.error);
    cnn_sbuf_clear(&c->line);
    if (!strcmp(o->format, "jsonl")) cnn_report_jsonl(&c->line, &r, c->m);
    else if (!strcmp(o->format, "tsv")) cnn_report_tsv(&c->line, &r, c->m);
    else if (!strcmp(o->format, "text")) cnn_report_text(&c->line, &r, c->m);
    if (c->line.len) {
        fwrite(c->line.s, 1, c->line.len, stdout);
        fflush(stdout);
    }
    /* results.jsonl: each line goes out in one write(), so a killed run leaves whole lines */
    cnn_sbuf_clear(&c->line);
    cnn_report_jsonl(&c->line, &r, c->m);
    if (c->results_fd >= 0 && !c->line.oom) {
        ssize_t w = write(c->results_fd, c->line.s, c->line.len);
        if (w != (ssize_t)c->line.len) {
            st = cnn_fail(err, CNN_ERR_OUTPUT, "%s/results.jsonl: write failed: %s", o->out_dir,
                          strerror(errno));
            goto done;
        }
    }
    if (o->json_path) {
        if (c->n_json++) cnn_sbuf_printf(&c->json, ",\n");
        c->line.len--; /* drop the newline */
        cnn_sbuf_printf(&c->json, "%.*s", (int)c->line.len, c->line.s);
    }
    if (o->csv_path) cnn_report_csv(&c->csv, &r, c->m);
    if (c->json.oom || c->csv.oom) st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory for results");
done:
    free(enc);
    cnn_rgb8_free(&img);
    return st;
}

static void print_timing(const run_ctx *c)
{
    if (c->n_ok == 0) return;
    fprintf(stderr, "timing (ms)      ");
    for (int s = 0; s < CNN_STAGE_COUNT; s++) fprintf(stderr, " %12s", cnn_stage_names[s]);
    fprintf(stderr, "\n  first image    ");
    for (int s = 0; s < CNN_STAGE_COUNT; s++) fprintf(stderr, " %12.2f", c->first[s]);
    if (c->n_ok > 1) {
        fprintf(stderr, "\n  steady (mean of %d)", c->n_ok - 1);
        for (int s = 0; s < CNN_STAGE_COUNT; s++)
            fprintf(stderr, "%s%12.2f", s ? " " : "", c->stage_sum[s] / (c->n_ok - 1));
    }
    fprintf(stderr, "\n");
}

static int run(run_task task, int argc, char **argv)
{
    const char *cmd = task == TASK_DETECT ? "detect" : "classify";
    run_opts o = {.out_dir = "cnndemo-out", .format = "text", .conf = -1, .iou = -1, .top_k = 5,
                  .max_mpix = 100};
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(o.mo),
        {"output", 'o', CLI_STR, &o.out_dir, "DIR", "output folder (default cnndemo-out)", 0, 0},
        {"recursive", 'r', CLI_FLAG, &o.recursive, NULL, "descend into sub-folders", 0, 0},
        {"conf", 0, CLI_FLOAT, &o.conf, "P", "score threshold (default: the model's, else 0.25)", 0, 1},
        {"iou", 0, CLI_FLOAT, &o.iou, "P", "NMS IoU threshold (default: the model's, else 0.45)", 0, 1},
        {"top", 'k', CLI_INT, &o.top_k, "K", "classify: classes to report (default 5)", 1, 1000},
        {"letterbox", 0, CLI_FLAG, &o.letterbox, NULL, "keep aspect ratio (darknet letterbox)", 0, 0},
        {"format", 'f', CLI_STR, &o.format, "F", "stdout: text, tsv, jsonl or none", 0, 0},
        {"json", 0, CLI_STR, &o.json_path, "FILE", "also write all results as one JSON array", 0, 0},
        {"csv", 0, CLI_STR, &o.csv_path, "FILE", "also write results as CSV", 0, 0},
        {"save-txt", 0, CLI_FLAG, &o.save_txt, NULL, "write YOLO txt labels under DIR/labels", 0, 0},
        {"no-images", 0, CLI_FLAG, &o.no_images, NULL, "do not write annotated images", 0, 0},
        {"max-pixels", 0, CLI_INT, &o.max_mpix, "MP", "refuse images over MP megapixels (default 100)", 1, 4000},
        {"verbose", 'v', CLI_FLAG, &o.verbose, NULL, "per-stage timing on stderr", 0, 0},
        {"quiet", 'q', CLI_FLAG, &o.quiet, NULL, "no progress or per-file errors on stderr", 0, 0},
        {0},
    };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    int rc = cli_parse(cmd, "[options] INPUT...  (files, folders, @list.txt, or - for stdin)", opts,
                       argc, argv, pos, &npos);
    if (rc) {
        free(pos);
        return rc < 0 ? 0 : rc;
    }
    if (strcmp(o.format, "text") && strcmp(o.format, "tsv") && strcmp(o.format, "jsonl") &&
        strcmp(o.format, "none")) {
        fprintf(stderr, "cnndemo %s: --format must be text, tsv, jsonl or none\n", cmd);
        free(pos);
        return 2;
    }
    if (npos == 0) {
        fprintf(stderr, "cnndemo %s: no inputs (see cnndemo %s --help)\n", cmd, cmd);
        free(pos);
        return 2;
    }

    cnn_model m;
    cli_apply_threads(o.mo.threads);
    if ((rc = cli_open_model(&o.mo, task == TASK_DETECT ? "face" : "fashion", 1, &m))) {
        free(pos);
        return rc;
    }
    run_ctx c = {.task = task, .o = &o, .m = &m, .results_fd = -1};
    cnn_error err = {0};
    cnn_strlist inputs = {0};
    const cnn_layer *out = cnn_net_output(m.net);
    const int is_classifier = out->role == CNN_LAYER_SOFTMAX;
    if (task == TASK_DETECT && is_classifier) {
        cnn_fail(&err, CNN_ERR_USAGE, "%s is a classifier; use `cnndemo classify`", m.paths.cfg);
        goto fail;
    }
    if (task == TASK_CLASSIFY && !is_classifier) {
        cnn_fail(&err, CNN_ERR_USAGE, "%s has no [softmax] output; use `cnndemo detect`", m.paths.cfg);
        goto fail;
    }
    if (o.letterbox) m.net->pp.letterbox = CNN_LETTERBOX_CENTER, m.net->pp.fill = 0.5f;
    float model_conf, model_nms;
    cnn_detect_model_thresholds(m.net, &model_conf, &model_nms);
    if (o.conf < 0) o.conf = model_conf >= 0 ? model_conf : 0.25f;
    c.iou = o.iou >= 0 ? o.iou : (model_nms >= 0 ? model_nms : 0.45f);
    c.cap = (int)cnn_detect_capacity(m.net);
    c.dets = malloc(sizeof *c.dets * (c.cap ? c.cap : 1));
    c.top_ids = malloc(sizeof *c.top_ids * o.top_k);
    c.top_p = malloc(sizeof *c.top_p * o.top_k);
    if (!c.dets || !c.top_ids || !c.top_p) {
        cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (cnn_inputs_collect(pos, npos, o.recursive, &inputs, &err)) goto fail;
    if (inputs.n == 0) {
        cnn_fail(&err, CNN_ERR_INPUT, "no images found in the given inputs");
        goto fail;
    }
    if (cnn_mkdirs(o.out_dir, &err)) goto fail;
    char results[CNN_PATH_MAX + 32];
    snprintf(results, sizeof results, "%s/results.jsonl", o.out_dir);
    c.results_fd = open(results, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (c.results_fd < 0) {
        cnn_fail(&err, CNN_ERR_OUTPUT, "%s: cannot write: %s", results, strerror(errno));
        goto fail;
    }
    if (o.json_path) cnn_sbuf_printf(&c.json, "[\n");
    if (o.csv_path) cnn_report_csv_header(&c.csv);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    const int progress = !o.quiet && isatty(STDERR_FILENO);
    const double t0 = cli_now();
    for (size_t i = 0; i < inputs.n && !interrupted; i++) {
        cnn_status st = run_one(&c, inputs.items[i], &err);
        if (st != CNN_OK && st != CNN_ERR_INPUT) goto fail;
        if (progress) {
            double dt = cli_now() - t0;
            fprintf(stderr, "\r%zu/%zu  %.1f img/s  %d failed ", i + 1, inputs.n,
                    (i + 1) / (dt > 0 ? dt : 1e-9), c.n_failed);
        }
    }
    if (progress) fprintf(stderr, "\n");
    if (o.json_path) {
        cnn_sbuf_printf(&c.json, "\n]\n");
        if (cnn_write_file_atomic(o.json_path, c.json.s, c.json.len, &err)) goto fail;
    }
    if (o.csv_path && cnn_write_file_atomic(o.csv_path, c.csv.s, c.csv.len, &err)) goto fail;
    if (fsync(c.results_fd) != 0 || close(c.results_fd) != 0) {
        c.results_fd = -1;
        cnn_fail(&err, CNN_ERR_OUTPUT, "%s: write failed", results);
        goto fail;
    }
    c.results_fd = -1;
    if (o.verbose) print_timing(&c);
    if (!o.quiet)
        fprintf(stderr, "%d image%s processed, %d failed; results in %s/%s\n", c.n_ok,
                c.n_ok == 1 ? "" : "s", c.n_failed, o.out_dir, o.no_images ? "results.jsonl" : "images/");
    rc = interrupted ? 130 : (c.n_failed ? 4 : 0);
    goto cleanup;
fail:
    rc = cli_report(&err);
cleanup:
    if (c.results_fd >= 0) close(c.results_fd);
    cnn_strlist_free(&inputs);
    cnn_sbuf_free(&c.line);
    cnn_sbuf_free(&c.json);
    cnn_sbuf_free(&c.csv);
    free(c.dets);
    free(c.top_ids);
    free(c.top_p);
    cnn_model_close(&m);
    free(pos);
    return rc;
}

int cmd_detect(int argc, char **argv) { return run(TASK_DETECT, argc, argv); }
int cmd_classify(int argc, char **argv) { return run(TASK_CLASSIFY, argc, argv); }
