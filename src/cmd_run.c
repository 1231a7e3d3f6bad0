/* cmd_run.c — `cnndemo detect` and `cnndemo classify` over any number of inputs.
 * Per image: decode -> preprocess -> forward -> boxes / top-k -> draw -> encode -> atomic write.
 * Images run on -j workers, each with its own network clone (activations + workspace) over one
 * shared, read-only set of weights; results are emitted in input order through a small reorder
 * window, so stdout and results.jsonl do not depend on timing. A bad input is reported and
 * recorded and the run goes on (exit 4); a model problem (3) or an output failure (5) stops it.
 * SIGINT/SIGTERM: no new images are started, in-flight ones finish, results and run.json are
 * written (interrupted: true), exit 130. Every output file is written under a temporary name and
 * renamed; each results.jsonl line goes out in one write(), so a kill -9 leaves whole lines. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "detect.h"
#include "draw.h"
#include "fsutil.h"
#include "explain.h"
#include "gemm.h"
#include "html_report.h"
#include "inputs.h"
#include "report.h"
#include "sha256.h"

typedef enum { TASK_DETECT, TASK_CLASSIFY } run_task;

typedef struct {
    cli_model_opts mo;
    const char *out_dir, *format, *json_path, *csv_path, *shard, *progress;
    float conf, iou;
    int recursive, letterbox, save_txt, no_images, verbose, quiet, top_k, resume, jobs;
    int max_mpix, explain, explain_layer, report, max_det;
} run_opts;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C stops at once; outputs stay whole anyway */
}

/* What one input produced, waiting in the reorder window to be emitted. */
typedef struct {
    int ready, failed;
    char *text;  /* stdout rendering */
    char *jsonl; /* results.jsonl line */
    char *csv;   /* CSV rows */
    char *error; /* NULL or the reason */
    double ms[CNN_STAGE_COUNT];
} slot;

typedef struct {
    run_task task;
    const run_opts *o;
    cnn_model *m;
    float conf, iou;
    const cnn_strlist *inputs;
    size_t next_input, next_emit, window;
    slot *slots; /* window entries, indexed by input % window */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int results_fd;
    cnn_sbuf json, csv, errors;
    int n_ok, n_failed, n_json, fatal;
    cnn_error fatal_err;
    double stage_sum[CNN_STAGE_COUNT], first[CNN_STAGE_COUNT];
    double t0, last_progress;
    int progress_tty, progress_plain;
} run_ctx;

typedef struct {
    run_ctx *c;
    cnn_net *net;
    cnn_det *dets;
    int cap;
    int *top_ids;
    float *top_p;
    cnn_explainer *explainer; /* --explain */
    cnn_explanation ex;
    cnn_sbuf line;
    pthread_t thread;
} worker;

static cnn_image_format format_for_output(cnn_image_format in)
{
    return in == CNN_FMT_JPEG ? CNN_FMT_JPEG : (in == CNN_FMT_BMP ? CNN_FMT_BMP : CNN_FMT_PNG);
}

static void annotate(const run_ctx *c, cnn_rgb8 *img, const cnn_result *r)
{
    char label[160], tmp[32];
    if (c->task == TASK_DETECT) {
        /* low scores first, so the strongest boxes end on top */
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

static char *take(cnn_sbuf *b)
{
    char *s = strndup(b->s ? b->s : "", b->len);
    cnn_sbuf_clear(b);
    return s;
}

/* Runs one input into s. Returns CNN_OK (also for a bad input, recorded in s) or a fatal status. */
static cnn_status run_one(worker *w, const char *path, slot *s, cnn_error *err)
{
    const run_ctx *c = w->c;
    const run_opts *o = c->o;
    cnn_net *net = w->net;
    cnn_result r = {.path = path, .explained = o->explain};
    cnn_rgb8 img = {0};
    cnn_image_format fmt = CNN_FMT_UNKNOWN;
    char out_img[CNN_PATH_MAX + 64];
    cnn_error ierr = {0};
    cnn_image_limits lim = cnn_image_limits_default();
    lim.max_pixels = (long long)o->max_mpix * 1000000;
    cnn_status st = CNN_OK;
    uint8_t *enc = NULL;

    double t = cli_now();
    if (cnn_image_load(path, &lim, &img, &fmt, &ierr) != CNN_OK) {
        r.error = ierr.msg;
        goto render;
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
        int n = cnn_detect_decode(net, 0, &frame, c->conf, w->dets, w->cap);
        n = cnn_nms(w->dets, n, c->iou); /* best first */
        if (o->max_det && n > o->max_det) n = o->max_det;
        cnn_det_clip(w->dets, n, img.w, img.h);
        r.dets = w->dets;
        r.n_dets = n;
    } else {
        const cnn_layer *out = cnn_net_output(net);
        r.n_top = cnn_topk(out->output, (int)cnn_shape_size(out->out), o->top_k, w->top_ids);
        for (int i = 0; i < r.n_top; i++) w->top_p[i] = out->output[w->top_ids[i]];
        r.top_ids = w->top_ids;
        r.top_p = w->top_p;
    }
    r.ms[CNN_STAGE_POSTPROCESS] = (cli_now() - t) * 1e3;

    if (o->explain) { /* timed on its own (explain.ms), not as a stage */
        if (c->task == TASK_DETECT)
            cnn_explain_detections(w->explainer, net->input, r.dets, r.n_dets, &frame, &w->ex);
        else
            cnn_explain_class(w->explainer, net->input, r.n_top ? r.top_ids[0] : -1, &frame, &w->ex);
        r.explain = &w->ex;
    }

    if (o->save_txt) {
        /* labels/<input path>.txt: the extension is kept so a.png and a.jpg never collide */
        char dir[CNN_PATH_MAX + 16], txt[CNN_PATH_MAX + 64];
        snprintf(dir, sizeof dir, "%s/labels", o->out_dir);
        cnn_output_path(dir, path, NULL, txt, sizeof txt);
        strncat(txt, ".txt", sizeof txt - strlen(txt) - 1);
        cnn_report_yolo_txt(&w->line, &r);
        st = cnn_mkdirs_for(txt, err);
        if (!st) st = cnn_write_file_atomic(txt, w->line.s ? w->line.s : "", w->line.len, err);
        cnn_sbuf_clear(&w->line);
        if (st) goto done;
    }
    if (!o->no_images) {
        t = cli_now();
        if (o->explain) cnn_explain_overlay(&img, &w->ex, &frame, 0.45f); /* boxes and labels on top */
        annotate(c, &img, &r);
        size_t n = 0;
        char dir[CNN_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/images", o->out_dir);
        cnn_output_path(dir, path, NULL, out_img, sizeof out_img);
        if ((st = cnn_image_encode(&img, format_for_output(fmt), 95, &enc, &n, err)) ||
            (st = cnn_mkdirs_for(out_img, err)) || (st = cnn_write_file_atomic(out_img, enc, n, err))) {
            if (st != CNN_ERR_NOMEM) st = CNN_ERR_OUTPUT;
            goto done;
        }
        if (o->report && (st = cnn_html_write_thumbnail(&img, o->out_dir, path, err))) {
            if (st != CNN_ERR_NOMEM) st = CNN_ERR_OUTPUT;
            goto done;
        }
        r.output = out_img;
        r.ms[CNN_STAGE_DRAW_ENCODE] = (cli_now() - t) * 1e3;
    }

render:
    s->failed = r.error != NULL;
    s->error = r.error ? strdup(r.error) : NULL;
    memcpy(s->ms, r.ms, sizeof s->ms);
    if (!strcmp(o->format, "jsonl")) cnn_report_jsonl(&w->line, &r, c->m);
    else if (!strcmp(o->format, "tsv")) cnn_report_tsv(&w->line, &r, c->m);
    else if (!strcmp(o->format, "text")) cnn_report_text(&w->line, &r, c->m);
    s->text = take(&w->line);
    cnn_report_jsonl(&w->line, &r, c->m);
    s->jsonl = take(&w->line);
    if (o->csv_path) cnn_report_csv(&w->line, &r, c->m);
    s->csv = take(&w->line);
    if (!s->text || !s->jsonl || !s->csv || (r.error && !s->error))
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory for results");
done:
    free(enc);
    cnn_rgb8_free(&img);
    return st;
}

static void progress_line(run_ctx *c, int final)
{
    double now = cli_now(), dt = now - c->t0;
    if (!final && now - c->last_progress < (c->progress_plain ? 10.0 : 0.1)) return;
    c->last_progress = now;
    size_t done = c->next_emit, total = c->inputs->n;
    double rate = done / (dt > 1e-9 ? dt : 1e-9);
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "%s%zu/%zu  %.1f img/s  ETA %.0fs  %d failed%s", c->progress_tty ? "\r" : "",
            done, total, rate, eta, c->n_failed, c->progress_tty && !final ? " " : "\n");
}

/* Emits every ready slot at the head of the window, in input order. Called with mu held. */
static void emit_ready(run_ctx *c)
{
    const run_opts *o = c->o;
    while (c->next_emit < c->inputs->n) {
        slot *s = &c->slots[c->next_emit % c->window];
        if (!s->ready) break;
        const char *path = c->inputs->items[c->next_emit];
        if (s->failed) {
            c->n_failed++;
            if (!o->quiet) fprintf(stderr, "%scnndemo: %s\n", c->progress_tty ? "\r" : "", s->error);
            cnn_sbuf_printf(&c->errors, "%s\t%s\n", path, s->error);
        } else {
            if (c->n_ok == 0) memcpy(c->first, s->ms, sizeof c->first);
            else
                for (int k = 0; k < CNN_STAGE_COUNT; k++) c->stage_sum[k] += s->ms[k];
            c->n_ok++;
        }
        if (s->text[0]) {
            fputs(s->text, stdout);
            fflush(stdout);
        }
        size_t len = strlen(s->jsonl);
        if (!c->fatal && write(c->results_fd, s->jsonl, len) != (ssize_t)len) {
            c->fatal = 1;
            cnn_fail(&c->fatal_err, CNN_ERR_OUTPUT, "%s/results.jsonl: write failed: %s", o->out_dir,
                     strerror(errno));
        }
        if (o->json_path) cnn_sbuf_printf(&c->json, "%s%.*s", c->n_json++ ? ",\n" : "", (int)len - 1, s->jsonl);
        if (o->csv_path) cnn_sbuf_printf(&c->csv, "%s", s->csv);
        free(s->text), free(s->jsonl), free(s->csv), free(s->error);
        memset(s, 0, sizeof *s);
        c->next_emit++;
        if (c->progress_tty || c->progress_plain) progress_line(c, 0);
    }
    if (c->json.oom || c->csv.oom || c->errors.oom) {
        c->fatal = 1;
        cnn_fail(&c->fatal_err, CNN_ERR_NOMEM, "out of memory for results");
    }
    pthread_cond_broadcast(&c->cv);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run_ctx *c = w->c;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* stay within the reorder window so memory is bounded */
        while (!c->fatal && !interrupted && c->next_input < c->inputs->n &&
               c->next_input >= c->next_emit + c->window)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->fatal || interrupted || c->next_input >= c->inputs->n) break;
        size_t i = c->next_input++;
        pthread_mutex_unlock(&c->mu);
        slot s = {0};
        cnn_error err = {0};
        cnn_status st = run_one(w, c->inputs->items[i], &s, &err);
        pthread_mutex_lock(&c->mu);
        if (st != CNN_OK) {
            if (!c->fatal) c->fatal_err = err;
            c->fatal = 1;
            free(s.text), free(s.jsonl), free(s.csv), free(s.error);
            break;
        }
        s.ready = 1;
        c->slots[i % c->window] = s;
        emit_ready(c);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void print_timing(const run_ctx *c)
{
    if (c->n_ok == 0) return;
    fprintf(stderr, "timing (ms)         ");
    for (int s = 0; s < CNN_STAGE_COUNT; s++) fprintf(stderr, " %12s", cnn_stage_names[s]);
    fprintf(stderr, "\n  first image       ");
    for (int s = 0; s < CNN_STAGE_COUNT; s++) fprintf(stderr, " %12.2f", c->first[s]);
    if (c->n_ok > 1) {
        fprintf(stderr, "\n  steady (mean of %d)", c->n_ok - 1);
        for (int s = 0; s < CNN_STAGE_COUNT; s++) fprintf(stderr, " %12.2f", c->stage_sum[s] / (c->n_ok - 1));
    }
    fprintf(stderr, "\n");
}

static void json_file(cnn_sbuf *b, const char *key, const char *path)
{
    char hex[65];
    cnn_sbuf_printf(b, "\"%s\": ", key);
    if (!path || !path[0]) {
        cnn_sbuf_printf(b, "null");
        return;
    }
    cnn_sbuf_printf(b, "{\"path\": ");
    cnn_sbuf_json_string(b, path);
    if (cnn_sha256_file(path, hex) == 0) cnn_sbuf_printf(b, ", \"sha256\": \"%s\"}", hex);
    else cnn_sbuf_printf(b, ", \"sha256\": null}");
}

static void iso_time(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cnn_status write_run_json(const run_ctx *c, int argc, char **argv, const char *cmd, int jobs,
                                 int threads, size_t total, size_t skipped, time_t started,
                                 int finished, cnn_error *err)
{
    const run_opts *o = c->o;
    cnn_sbuf b = {0};
    char ts[32];
    cnn_sbuf_printf(&b, "{\n  \"version\": \"%s\",\n  \"command\": [\"cnndemo\", \"%s\"", CNN_VERSION, cmd);
    for (int i = 0; i < argc; i++) {
        cnn_sbuf_printf(&b, ", ");
        cnn_sbuf_json_string(&b, argv[i]);
    }
    cnn_sbuf_printf(&b, "],\n  \"model\": {\"name\": ");
    cnn_sbuf_json_string(&b, c->m->paths.name);
    cnn_sbuf_printf(&b, ", ");
    json_file(&b, "cfg", c->m->paths.cfg);
    cnn_sbuf_printf(&b, ", ");
    json_file(&b, "weights", c->m->paths.weights);
    cnn_sbuf_printf(&b, ", ");
    json_file(&b, "names", c->m->paths.names);
    cnn_sbuf_printf(&b, "},\n  \"task\": \"%s\", \"conf\": %.4f, \"iou\": %.4f, \"top_k\": %d, "
                        "\"max_det\": %d, \"letterbox\": %s, \"explain\": %s, \"report\": %s,\n",
                    cmd, c->conf, c->iou, o->top_k, o->max_det, o->letterbox ? "true" : "false",
                    o->explain ? "true" : "false", o->report ? "true" : "false");
    cnn_sbuf_printf(&b, "  \"workers\": %d, \"blas_threads\": %d, \"blas_core\": \"%s\", \"shard\": ",
                    jobs, threads, cnn_blas_corename());
    if (o->shard) cnn_sbuf_json_string(&b, o->shard);
    else cnn_sbuf_printf(&b, "null");
    iso_time(started, ts, sizeof ts);
    double wall = cli_now() - c->t0;
    cnn_sbuf_printf(&b, ",\n  \"inputs\": %zu, \"skipped_resume\": %zu, \"processed\": %d, \"failed\": %d, "
                        "\"not_started\": %zu,\n  \"finished\": %s, \"interrupted\": %s, \"started\": \"%s\", "
                        "\"wall_s\": %.3f, \"images_per_s\": %.3f,\n  \"timing_ms\": {\"first\": {",
                    total, skipped, c->n_ok, c->n_failed, c->inputs->n - c->next_emit,
                    finished ? "true" : "false", interrupted ? "true" : "false", ts, wall,
                    wall > 0 ? (c->n_ok + c->n_failed) / wall : 0.0);
    for (int s = 0; s < CNN_STAGE_COUNT; s++)
        cnn_sbuf_printf(&b, "%s\"%s\": %.3f", s ? ", " : "", cnn_stage_names[s], c->n_ok ? c->first[s] : 0.0);
    cnn_sbuf_printf(&b, "}, \"steady_mean\": {");
    for (int s = 0; s < CNN_STAGE_COUNT; s++)
        cnn_sbuf_printf(&b, "%s\"%s\": %.3f", s ? ", " : "", cnn_stage_names[s],
                        c->n_ok > 1 ? c->stage_sum[s] / (c->n_ok - 1) : 0.0);
    cnn_sbuf_printf(&b, "}}\n}\n");
    char path[CNN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/run.json", o->out_dir);
    cnn_status st = b.oom ? cnn_fail(err, CNN_ERR_NOMEM, "out of memory")
                          : cnn_write_file_atomic(path, b.s, b.len, err);
    cnn_sbuf_free(&b);
    return st;
}

/* --resume: the results kept must come from the same model and the same settings, or the
 * folder would mix two runs (batch.h, cnn_run_settings). A folder without run.json (nothing was
 * ever written) passes. */
static cnn_status check_resume(const char *dir, const char *cmd, const run_opts *o, const cnn_model *m,
                               float conf, float iou, cnn_error *err)
{
    char path[CNN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/run.json", dir);
    if (!cnn_is_file(path)) return CNN_OK;
    char was[CNN_RUN_SETTINGS_MAX], now[CNN_RUN_SETTINGS_MAX], sha[3][65] = {"", "", ""};
    int finished;
    cnn_status st = cnn_run_settings_load(dir, was, sizeof was, &finished, err);
    if (st) return st;
    const char *files[3] = {m->paths.cfg, m->paths.weights, m->paths.names};
    for (int i = 0; i < 3; i++)
        if (files[i][0] && cnn_sha256_file(files[i], sha[i]) != 0) sha[i][0] = '\0';
    const cnn_run_settings s = {cmd, {sha[0], sha[1], sha[2]}, conf, iou, o->top_k, o->max_det, o->letterbox};
    cnn_run_settings_line(&s, now, sizeof now);
    if (strcmp(was, now) != 0)
        return cnn_fail(err, CNN_ERR_USAGE,
                        "%s: --resume: the earlier run in this folder used other settings (was: %s; "
                        "now: %s); resume with the same model and options, or use a new -o DIR",
                        path, was, now);
    return CNN_OK;
}

/* Rewrites results.jsonl with the lines a resumed run keeps (atomically), then opens it for
 * appending. Without --resume the file starts empty. */
static cnn_status open_results(const char *path, const cnn_resume *prev, int *fd, cnn_error *err)
{
    cnn_sbuf b = {0};
    for (size_t i = 0; i < prev->lines.n; i++) cnn_sbuf_printf(&b, "%s", prev->lines.items[i]);
    cnn_status st = b.oom ? cnn_fail(err, CNN_ERR_NOMEM, "out of memory")
                          : cnn_write_file_atomic(path, b.s ? b.s : "", b.len, err);
    cnn_sbuf_free(&b);
    if (st) return st;
    *fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (*fd < 0) return cnn_fail(err, CNN_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(errno));
    return CNN_OK;
}

static int run(run_task task, int argc, char **argv)
{
    const char *cmd = task == TASK_DETECT ? "detect" : "classify";
    run_opts o = {.out_dir = "cnndemo-out", .format = "text", .conf = -1, .iou = -1, .top_k = 5,
                  .max_mpix = 100, .explain_layer = -1, .max_det = 300};
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(o.mo),
        {"output", 'o', CLI_STR, &o.out_dir, "DIR", "output folder (default cnndemo-out)", 0, 0},
        {"recursive", 'r', CLI_FLAG, &o.recursive, NULL, "descend into sub-folders", 0, 0},
        {"conf", 0, CLI_FLOAT, &o.conf, "P", "score threshold (default: the model's, else 0.25)", 0, 1},
        {"iou", 0, CLI_FLOAT, &o.iou, "P", "NMS IoU threshold (default: the model's, else 0.45)", 0, 1},
        {"top", 'k', CLI_INT, &o.top_k, "K", "classify: classes to report (default 5)", 1, 1000},
        {"max-det", 0, CLI_INT, &o.max_det, "N", "detect: keep the N best boxes per image after NMS (default 300; 0 = all)", 0, 1 << 30},
        {"letterbox", 0, CLI_FLAG, &o.letterbox, NULL, "keep aspect ratio (darknet letterbox)", 0, 0},
        {"format", 'f', CLI_STR, &o.format, "F", "stdout: text, tsv, jsonl or none", 0, 0},
        {"json", 0, CLI_STR, &o.json_path, "FILE", "also write all results as one JSON array", 0, 0},
        {"csv", 0, CLI_STR, &o.csv_path, "FILE", "also write results as CSV", 0, 0},
        {"save-txt", 0, CLI_FLAG, &o.save_txt, NULL, "write YOLO txt labels under DIR/labels", 0, 0},
        {"no-images", 0, CLI_FLAG, &o.no_images, NULL, "do not write annotated images", 0, 0},
        {"max-pixels", 0, CLI_INT, &o.max_mpix, "MP", "refuse images over MP megapixels (default 100)", 1, 4000},
        {"jobs", 'j', CLI_INT, &o.jobs, "N", "images in parallel (default: cores, 1 for one image)", 1, 256},
        {"resume", 0, CLI_FLAG, &o.resume, NULL, "skip inputs whose results in DIR are complete", 0, 0},
        {"shard", 0, CLI_STR, &o.shard, "I/N", "process only shard I of N (0-based; by path hash)", 0, 0},
        {"progress", 0, CLI_STR, &o.progress, "MODE", "auto (terminal only), plain (a line every 10 s) or none", 0, 0},
        {"explain", 0, CLI_FLAG, &o.explain, NULL, "Grad-CAM heatmap of where the result came from, blended into the images; its peak in the results", 0, 0},
        {"explain-layer", 0, CLI_INT, &o.explain_layer, "N", "--explain: take the map at layer N (default: [net] x_explain_layer, else the last rectifier conv)", 0, 1 << 20},
        {"report", 0, CLI_FLAG, &o.report, NULL, "also write DIR/report.html (self-contained; thumbnails in DIR/thumbs)", 0, 0},
        {"verbose", 'v', CLI_FLAG, &o.verbose, NULL, "per-stage timing on stderr", 0, 0},
        {"quiet", 'q', CLI_FLAG, &o.quiet, NULL, "no progress, summary or per-file errors on stderr", 0, 0},
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
    if (o.explain_layer >= 0) o.explain = 1;
    char out_dir[CNN_PATH_MAX];
    snprintf(out_dir, sizeof out_dir, "%s", o.out_dir);
    cnn_strip_slashes(out_dir); /* "out/" and "out" name the same outputs */
    o.out_dir = out_dir;
    int shard_i = 0, shard_n = 1;
    const char *bad = NULL;
    if (strcmp(o.format, "text") && strcmp(o.format, "tsv") && strcmp(o.format, "jsonl") && strcmp(o.format, "none"))
        bad = "--format must be text, tsv, jsonl or none";
    else if (o.progress && strcmp(o.progress, "auto") && strcmp(o.progress, "plain") && strcmp(o.progress, "none"))
        bad = "--progress must be auto, plain or none";
    else if (o.shard && cnn_shard_parse(o.shard, &shard_i, &shard_n))
        bad = "--shard expects I/N with 0 <= I < N";
    else if (npos == 0)
        bad = "no inputs (see --help)";
    if (bad) {
        fprintf(stderr, "cnndemo %s: %s\n", cmd, bad);
        free(pos);
        return 2;
    }

    cnn_model m;
    cnn_error err = {0};
    cnn_strlist all = {0}, inputs = {0};
    cnn_resume prev = {0};
    worker *workers = NULL;
    int n_workers = 0, threads = 0;
    run_ctx c = {.task = task, .o = &o, .m = &m, .inputs = &inputs, .results_fd = -1};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    time_t started = time(NULL);
    /* inputs first: the worker/thread split depends on how many there are */
    if (cnn_inputs_collect(pos, npos, o.recursive, &all, &err)) {
        free(pos);
        return cli_report(&err);
    }
    o.mo.inference_only = !o.explain; /* Grad-CAM needs the batch-norm unfolded */
    if ((rc = cli_open_model(&o.mo, task == TASK_DETECT ? "face" : "fashion", 1, &m))) {
        cnn_strlist_free(&all);
        free(pos);
        return rc;
    }
    const int is_classifier = cnn_net_output(m.net)->role == CNN_LAYER_SOFTMAX;
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
    c.conf = o.conf >= 0 ? o.conf : (model_conf >= 0 ? model_conf : 0.25f);
    c.iou = o.iou >= 0 ? o.iou : (model_nms >= 0 ? model_nms : 0.45f);

    if (cnn_mkdirs(o.out_dir, &err)) goto fail;
    char results[CNN_PATH_MAX + 32];
    snprintf(results, sizeof results, "%s/results.jsonl", o.out_dir);
    if (o.resume && (check_resume(o.out_dir, cmd, &o, &m, c.conf, c.iou, &err) ||
                     cnn_resume_load(results, &prev, &err)))
        goto fail;
    size_t skipped = 0, total = 0;
    if (all.n == 0) {
        cnn_fail(&err, CNN_ERR_INPUT, "no images found in the given inputs");
        goto fail;
    }
    for (size_t i = 0; i < all.n; i++) {
        if (shard_n > 1 && cnn_shard_of(all.items[i], shard_n) != shard_i) continue;
        total++;
        if (o.resume && cnn_resume_done(&prev, all.items[i])) {
            skipped++;
            continue;
        }
        if (cnn_strlist_push(&inputs, all.items[i], &err)) goto fail;
    }
    cnn_strlist_free(&all);
    if (open_results(results, &prev, &c.results_fd, &err)) goto fail;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    n_workers = o.jobs ? o.jobs : (inputs.n > 1 ? (int)cores : 1);
    if ((size_t)n_workers > inputs.n) n_workers = inputs.n ? (int)inputs.n : 1;
    /* no oversubscription by default: workers x threads per worker <= cores */
    threads = cli_apply_threads(o.mo.threads ? o.mo.threads : (int)(cores / n_workers > 0 ? cores / n_workers : 1));
    c.window = 4 * (size_t)n_workers;
    c.slots = calloc(c.window, sizeof *c.slots);
    workers = calloc((size_t)n_workers, sizeof *workers);
    if (!c.slots || !workers) {
        cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n_workers; i++) {
        worker *w = &workers[i];
        w->c = &c;
        if (cnn_net_clone(m.net, &w->net, &err)) goto fail;
        if (cnn_net_set_threads(w->net, threads, &err)) goto fail;
        if (o.explain && cnn_explainer_create(m.net, o.explain_layer >= 0 ? o.explain_layer : m.net->explain_layer,
                                              &w->explainer, &err))
            goto fail;
        w->cap = (int)cnn_detect_capacity(m.net);
        w->dets = malloc(sizeof *w->dets * (w->cap ? w->cap : 1));
        w->top_ids = malloc(sizeof *w->top_ids * o.top_k);
        w->top_p = malloc(sizeof *w->top_p * o.top_k);
        if (!w->dets || !w->top_ids || !w->top_p) {
            cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    if (o.json_path) cnn_sbuf_printf(&c.json, "[\n");
    if (o.csv_path) cnn_report_csv_header(&c.csv);
    if (write_run_json(&c, argc, argv, cmd, n_workers, threads, total, skipped, started, 0, &err)) goto fail;

    const char *pmode = o.quiet ? "none" : (o.progress ? o.progress : "auto");
    c.progress_tty = !strcmp(pmode, "auto") && isatty(STDERR_FILENO);
    c.progress_plain = !strcmp(pmode, "plain");
    if (o.resume && skipped && !o.quiet)
        fprintf(stderr, "resuming: %zu of %zu inputs already done\n", skipped, total);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    c.t0 = cli_now();
    int started_workers = 0;
    for (int i = 0; i < n_workers; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) break;
        started_workers++;
    }
    if (started_workers == 0) worker_main(&workers[0]);
    for (int i = 0; i < started_workers; i++) pthread_join(workers[i].thread, NULL);
    if (c.progress_tty || c.progress_plain) progress_line(&c, 1);
    if (c.fatal) {
        err = c.fatal_err;
        goto fail;
    }
    if (o.json_path) {
        cnn_sbuf_printf(&c.json, "%s]\n", c.n_json ? "\n" : "");
        if (cnn_write_file_atomic(o.json_path, c.json.s, c.json.len, &err)) goto fail;
    }
    if (o.csv_path && cnn_write_file_atomic(o.csv_path, c.csv.s, c.csv.len, &err)) goto fail;
    char errors_path[CNN_PATH_MAX + 32];
    snprintf(errors_path, sizeof errors_path, "%s/errors.txt", o.out_dir);
    if (cnn_write_file_atomic(errors_path, c.errors.s ? c.errors.s : "", c.errors.len, &err)) goto fail;
    if (fsync(c.results_fd) != 0 || close(c.results_fd) != 0) {
        c.results_fd = -1;
        cnn_fail(&err, CNN_ERR_OUTPUT, "%s: write failed", results);
        goto fail;
    }
    c.results_fd = -1;
    if (write_run_json(&c, argc, argv, cmd, n_workers, threads, total, skipped, started, !interrupted, &err))
        goto fail;
    if (o.report && cnn_html_write_run(o.out_dir, &err)) goto fail;
    if (o.verbose) print_timing(&c);
    if (!o.quiet) {
        double wall = cli_now() - c.t0;
        fprintf(stderr, "%d image%s processed, %d failed%s in %.1f s (%.1f img/s, %d worker%s x %d thread%s); results in %s/\n",
                c.n_ok, c.n_ok == 1 ? "" : "s", c.n_failed, interrupted ? ", INTERRUPTED" : "", wall,
                wall > 0 ? (c.n_ok + c.n_failed) / wall : 0.0, n_workers, n_workers == 1 ? "" : "s",
                threads, threads == 1 ? "" : "s", o.out_dir);
        if (o.report) fprintf(stderr, "report: %s/report.html\n", o.out_dir);
    }
    rc = interrupted ? 130 : (c.n_failed ? 4 : 0);
    goto cleanup;
fail:
    rc = cli_report(&err);
cleanup:
    if (c.results_fd >= 0) close(c.results_fd);
    for (int i = 0; workers && i < n_workers; i++) {
        cnn_net_free(workers[i].net);
        cnn_explainer_free(workers[i].explainer);
        free(workers[i].dets), free(workers[i].top_ids), free(workers[i].top_p);
        cnn_sbuf_free(&workers[i].line);
    }
    free(workers);
    for (size_t i = 0; c.slots && i < c.window; i++)
        free(c.slots[i].text), free(c.slots[i].jsonl), free(c.slots[i].csv), free(c.slots[i].error);
    free(c.slots);
    cnn_resume_free(&prev);
    cnn_strlist_free(&all);
    cnn_strlist_free(&inputs);
    cnn_sbuf_free(&c.json);
    cnn_sbuf_free(&c.csv);
    cnn_sbuf_free(&c.errors);
    cnn_model_close(&m);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    free(pos);
    return rc;
}

int cmd_detect(int argc, char **argv) { return run(TASK_DETECT, argc, argv); }
int cmd_classify(int argc, char **argv) { return run(TASK_CLASSIFY, argc, argv); }
