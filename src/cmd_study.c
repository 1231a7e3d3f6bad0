/* cmd_study.c — `cnndemo study activations`: the study network (study.h) trained once per
 * activation and seed, with and without batch-norm, on the same step budget, plus a repeat of
 * the ReLU family at a high learning rate without batch-norm (to provoke dying ReLUs).
 * A "config" is (group, activation); it has one run per seed. Writes to -o DIR: results.md
 * (tables over the seeds), results.csv (one row per run), loss.png, dead_units.png,
 * accuracy.png and runs/ (each config's cfg; each run's curves as CSV and its final weights).
 * Progress on stderr; the results tables on stdout. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "draw.h"
#include "fsutil.h"
#include "html_report.h"
#include "plot.h"
#include "report.h"
#include "study.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define DEFAULT_ACTS "relu,leaky_0.01,leaky,prelu,elu,silu,logistic,tanh"
#define MAX_ACTS CNN_ACT_COUNT
#define MAX_SEEDS 20

/* the three groups of configs, in table and chart order */
enum { G_PLAIN = 0, G_BN, G_HIGH, N_GROUPS };
static const char *const group_names[N_GROUPS] = {"plain", "bn", "high"};

typedef struct {
    int config;      /* index into the configs */
    uint64_t seed;
    char name[96];   /* file stem under runs/: <config>-s<seed> */
    cnn_study_result r;
    cnn_status st;
    cnn_error err;
} study_run;

typedef struct {
    cnn_study_run_cfg cfg;
    int group, act_slot; /* act_slot: position in the --activations list */
    char name[64];       /* e.g. relu-bn, leaky_0.01-nobn-highlr */
    char cfg_path[CNN_PATH_MAX + 80];
    int first, n;        /* its runs: runs[first .. first + n) */
} study_config;

typedef struct {
    const study_config *configs;
    study_run *runs;
    int n_runs, next, done, quiet;
    const cnn_study_budget *b;
    const cnn_dataset *train, *test;
    const char *out;
    pthread_mutex_t mu;
} pool;

static int relu_family(cnn_activation a)
{
    return a == CNN_ACT_RELU || a == CNN_ACT_LEAKY || a == CNN_ACT_LEAKY_001 || a == CNN_ACT_PRELU;
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        const int i = p->next < p->n_runs ? p->next++ : -1;
        pthread_mutex_unlock(&p->mu);
        if (i < 0) return NULL;
        study_run *run = &p->runs[i];
        const study_config *c = &p->configs[run->config];
        cnn_study_budget b = *p->b;
        b.seed = run->seed;
        char weights[CNN_PATH_MAX + 120];
        snprintf(weights, sizeof weights, "%s/runs/%s.weights", p->out, run->name);
        run->st = cnn_study_run(c->cfg_path, &c->cfg, &b, p->train, p->test, weights, &run->r, &run->err);
        pthread_mutex_lock(&p->mu);
        p->done++;
        if (!p->quiet && run->st == CNN_OK) {
            const cnn_study_result *r = &run->r;
            char div[48] = "";
            if (r->diverged_at) snprintf(div, sizeof div, ", DIVERGED at step %ld", r->diverged_at);
            fprintf(stderr, "study: [%d/%d] %-26s top-1 %.4f  loss %7.4f  dead %5.1f%% (max %5.1f%%)  %.1f s (%.1f s CPU)%s\n",
                    p->done, p->n_runs, run->name, r->top1, (double)r->final_loss,
                    100.0 * r->points[r->n_points - 1].dead, 100.0 * r->max_dead, r->total_seconds,
                    r->train_cpu_seconds, div);
        }
        pthread_mutex_unlock(&p->mu);
    }
}

/* ---- aggregation over a config's seeds ---- */

typedef struct {
    double top1, top1_min, top1_max, loss, cpu;
    float dead, max_dead, inactive;
    float layer_dead[CNN_STUDY_MAX_CONV], layer_sparsity[CNN_STUDY_MAX_CONV];
    int n, n_loss, collapsed, diverged, n_conv;
} summary;

/* collapsed: test top-1 under twice chance (diverged, or stuck predicting a few classes) */
static summary summarise(const study_config *c, const study_run *runs, int classes)
{
    summary s = {.top1_min = 1, .n = c->n};
    for (int k = 0; k < c->n; k++) {
        const cnn_study_result *r = &runs[c->first + k].r;
        const cnn_study_point *f = &r->points[r->n_points - 1];
        s.n_conv = r->n_conv;
        s.top1 += r->top1 / c->n;
        s.top1_min = r->top1 < s.top1_min ? r->top1 : s.top1_min;
        s.top1_max = r->top1 > s.top1_max ? r->top1 : s.top1_max;
        s.cpu += r->train_cpu_seconds / c->n;
        s.dead += f->dead / c->n;
        s.inactive += f->inactive / c->n;
        s.max_dead = r->max_dead > s.max_dead ? r->max_dead : s.max_dead;
        for (int i = 0; i < r->n_conv; i++) {
            s.layer_dead[i] += f->layer_dead[i] / c->n;
            s.layer_sparsity[i] += f->layer_sparsity[i] / c->n;
        }
        if (isfinite(r->final_loss) && !r->diverged_at) s.loss += r->final_loss, s.n_loss++;
        s.collapsed += r->top1 < 2.0 / classes;
        s.diverged += r->diverged_at != 0;
    }
    s.loss = s.n_loss ? s.loss / s.n_loss : NAN;
    return s;
}

/* ---- outputs ---- */

static cnn_status write_sbuf(const char *dir, const char *name, cnn_sbuf *sb, cnn_error *err)
{
    char path[CNN_PATH_MAX + 120];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sb->oom) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory writing %s", path);
    return cnn_write_file_atomic(path, sb->s ? sb->s : "", sb->len, err);
}

static void csv_layer_header(cnn_sbuf *sb, const char *what, int n_conv)
{
    for (int i = 0; i < n_conv; i++) cnn_sbuf_printf(sb, ",%s_conv%d", what, i + 1);
}

static cnn_status write_curves(const char *out, const study_run *run, cnn_error *err)
{
    const cnn_study_result *r = &run->r;
    cnn_sbuf sb = {0};
    cnn_sbuf_printf(&sb, "step,loss,dead,inactive,sparsity");
    csv_layer_header(&sb, "dead", r->n_conv);
    csv_layer_header(&sb, "inactive", r->n_conv);
    csv_layer_header(&sb, "sparsity", r->n_conv);
    csv_layer_header(&sb, "mean", r->n_conv);
    cnn_sbuf_printf(&sb, "\n");
    for (int k = 0; k < r->n_points; k++) {
        const cnn_study_point *p = &r->points[k];
        cnn_sbuf_printf(&sb, "%ld,", p->step);
        if (isfinite(p->loss)) cnn_sbuf_printf(&sb, "%.5f", (double)p->loss);
        cnn_sbuf_printf(&sb, ",%.5f,%.5f,%.5f", (double)p->dead, (double)p->inactive, (double)p->sparsity);
        for (int i = 0; i < r->n_conv; i++) cnn_sbuf_printf(&sb, ",%.5f", (double)p->layer_dead[i]);
        for (int i = 0; i < r->n_conv; i++) cnn_sbuf_printf(&sb, ",%.5f", (double)p->layer_inactive[i]);
        for (int i = 0; i < r->n_conv; i++) cnn_sbuf_printf(&sb, ",%.5f", (double)p->layer_sparsity[i]);
        for (int i = 0; i < r->n_conv; i++) cnn_sbuf_printf(&sb, ",%.5g", (double)p->layer_mean[i]);
        cnn_sbuf_printf(&sb, "\n");
    }
    char name[160];
    snprintf(name, sizeof name, "runs/%s.csv", run->name);
    cnn_status st = write_sbuf(out, name, &sb, err);
    cnn_sbuf_free(&sb);
    return st;
}

static cnn_status write_csv(const char *out, const study_config *configs, const study_run *runs,
                            int n, const cnn_study_budget *b, int n_train, int n_test, cnn_error *err)
{
    const int n_conv = n ? runs[0].r.n_conv : 0;
    cnn_sbuf sb = {0};
    cnn_sbuf_printf(&sb, "run,config,group,activation,cfg_activation,batch_norm,lr,lr_factor,seed,"
                         "steps,batch,train_images,test_images,probe_images,test_top1,final_loss,"
                         "diverged_at,train_seconds,train_cpu_seconds,total_seconds,dead,max_dead,"
                         "inactive,sparsity");
    csv_layer_header(&sb, "dead", n_conv);
    csv_layer_header(&sb, "inactive", n_conv);
    csv_layer_header(&sb, "sparsity", n_conv);
    csv_layer_header(&sb, "mean", n_conv);
    cnn_sbuf_printf(&sb, "\n");
    for (int i = 0; i < n; i++) {
        const study_config *c = &configs[runs[i].config];
        const cnn_study_result *r = &runs[i].r;
        const cnn_study_point *f = &r->points[r->n_points - 1];
        cnn_sbuf_printf(&sb, "%s,%s,%s,%s,%s,%d,%g,%g,%llu,%ld,%d,%d,%d,%d,%.4f,", runs[i].name,
                        c->name, group_names[c->group], cnn_study_act_label(c->cfg.act),
                        cnn_activation_name(c->cfg.act), c->cfg.batch_norm,
                        (double)(b->lr * c->cfg.lr_factor), (double)c->cfg.lr_factor,
                        (unsigned long long)runs[i].seed, r->steps, b->batch, n_train, n_test,
                        b->probe_images < n_test ? b->probe_images : n_test, r->top1);
        if (isfinite(r->final_loss)) cnn_sbuf_printf(&sb, "%.5f", (double)r->final_loss);
        cnn_sbuf_printf(&sb, ",%ld,%.2f,%.2f,%.2f,%.5f,%.5f,%.5f,%.5f", r->diverged_at,
                        r->train_seconds, r->train_cpu_seconds, r->total_seconds, (double)f->dead,
                        (double)r->max_dead, (double)f->inactive, (double)f->sparsity);
        for (int k = 0; k < n_conv; k++) cnn_sbuf_printf(&sb, ",%.5f", (double)f->layer_dead[k]);
        for (int k = 0; k < n_conv; k++) cnn_sbuf_printf(&sb, ",%.5f", (double)f->layer_inactive[k]);
        for (int k = 0; k < n_conv; k++) cnn_sbuf_printf(&sb, ",%.5f", (double)f->layer_sparsity[k]);
        for (int k = 0; k < n_conv; k++) cnn_sbuf_printf(&sb, ",%.5g", (double)f->layer_mean[k]);
        cnn_sbuf_printf(&sb, "\n");
    }
    cnn_status st = write_sbuf(out, "results.csv", &sb, err);
    cnn_sbuf_free(&sb);
    return st;
}

static void md_percents(cnn_sbuf *sb, const float *v, int n)
{
    for (int k = 0; k < n; k++) cnn_sbuf_printf(sb, "%s%.1f", k ? " / " : "", 100.0 * v[k]);
}

/* The results tables (one per group present), as in results.md and on stdout. */
static void md_tables(cnn_sbuf *sb, const study_config *configs, int n_configs, const study_run *runs,
                      const cnn_study_budget *b, float high_factor, int seeds, int classes)
{
    for (int g = 0; g < N_GROUPS; g++) {
        int any = 0;
        for (int i = 0; i < n_configs; i++) any |= configs[i].group == g;
        if (!any) continue;
        const double lr = b->lr * (g == G_HIGH ? high_factor : 1);
        cnn_sbuf_printf(sb, "\n### %s (lr %g)\n\n",
                        g == G_PLAIN ? "No batch-norm" : g == G_BN ? "Batch-norm" : "No batch-norm, high learning rate", lr);
        cnn_sbuf_printf(sb, "| activation | test top-1%s | collapsed | final loss | dead units %% (highest "
                            "during training) | dead %% conv1 / conv2 / conv3 | inactive %% | zeros %% "
                            "conv1 / conv2 / conv3 | CPU s per run |\n"
                            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                        seeds > 1 ? " (min-max)" : "");
        for (int i = 0; i < n_configs; i++) {
            const study_config *c = &configs[i];
            if (c->group != g) continue;
            const summary s = summarise(c, runs, classes);
            cnn_sbuf_printf(sb, "| %s | %.4f", cnn_study_act_label(c->cfg.act), s.top1);
            if (s.n > 1) cnn_sbuf_printf(sb, " (%.4f-%.4f)", s.top1_min, s.top1_max);
            cnn_sbuf_printf(sb, " | %d/%d | ", s.collapsed, s.n);
            if (s.n_loss) cnn_sbuf_printf(sb, "%.4f", s.loss);
            else cnn_sbuf_printf(sb, "-");
            if (s.diverged) cnn_sbuf_printf(sb, " (%d diverged)", s.diverged);
            cnn_sbuf_printf(sb, " | %.1f (%.1f) | ", 100.0 * s.dead, 100.0 * s.max_dead);
            md_percents(sb, s.layer_dead, s.n_conv);
            cnn_sbuf_printf(sb, " | %.1f | ", 100.0 * s.inactive);
            md_percents(sb, s.layer_sparsity, s.n_conv);
            cnn_sbuf_printf(sb, " | %.1f |\n", s.cpu);
        }
    }
}

typedef struct {
    const char *data;
    int n_train, n_test, quick, threads, jobs, seeds, classes;
    float high;
    double wall;
} report_info;

static void md_report(cnn_sbuf *sb, const study_config *configs, int n_configs, const study_run *runs,
                      int n_runs, const cnn_study_budget *b, const report_info *ri)
{
    double cpu = 0;
    for (int i = 0; i < n_runs; i++) cpu += runs[i].r.train_cpu_seconds;
    cnn_sbuf_printf(sb, "# Activation study\n\n"
                        "`cnndemo study activations%s`: %d configurations x %d seed%s = %d runs; "
                        "%.0f s of training CPU time, %.0f s wall (%d job%s x %d BLAS thread%s).\n\n",
                    ri->quick ? " --quick" : "", n_configs, ri->seeds, ri->seeds == 1 ? "" : "s", n_runs,
                    cpu, ri->wall, ri->jobs, ri->jobs == 1 ? "" : "s", ri->threads,
                    ri->threads == 1 ? "" : "s");
    cnn_sbuf_printf(sb, "- Data: `%s`, %d training images, %d test images (test top-1 on all of "
                        "them; unit statistics on the first %d).\n",
                    ri->data, ri->n_train, ri->n_test,
                    b->probe_images < ri->n_test ? b->probe_images : ri->n_test);
    cnn_sbuf_printf(sb, "- Network: three 3x3 convolutions (16, 32, 64 filters, the activation "
                        "under study, with or without batch-norm), 2x2 max-pooling after the first "
                        "two, global average pooling, a linear layer, softmax (`runs/<config>.cfg`).\n");
    cnn_sbuf_printf(sb, "- Budget, the same for every run: %ld SGD steps of %d images (%.1f "
                        "epochs), momentum %g, weight decay %g, learning rate %g with %d warm-up "
                        "steps and cosine decay, random left-right flips; seeds %llu..%llu (each "
                        "seed: the same initial weights, order and flips for every configuration). "
                        "The high-lr group repeats the ReLU family at %g x the learning rate, "
                        "without batch-norm. Batch-norm statistics are re-estimated on 50 training "
                        "batches with the final weights before testing.\n",
                    b->steps, b->batch, (double)b->steps * b->batch / ri->n_train, (double)b->momentum,
                    (double)b->decay, (double)b->lr, b->burn_in, (unsigned long long)b->seed,
                    (unsigned long long)b->seed + ri->seeds - 1, (double)ri->high);
    cnn_sbuf_printf(sb, "- **Dead unit**: a convolution channel whose output (after the activation) "
                        "is exactly 0 at every position of every probe image. Only activations that "
                        "output exact zeros can have dead units (ReLU; logistic and SiLU only by "
                        "float underflow): for leaky ReLU, PReLU, ELU and tanh it is 0 by "
                        "construction. **Inactive**: never above act(0), i.e. a pre-activation that "
                        "was never positive; a leaky unit in that state still passes gradient. "
                        "**Zeros**: share of exact zeros among all outputs (activation sparsity). "
                        "Measured in inference mode every %d steps; the tables give the final "
                        "values, averaged over the seeds, and the highest dead share seen in any "
                        "run. **Collapsed**: runs whose test top-1 is under twice chance.\n",
                    b->probe_every);
    md_tables(sb, configs, n_configs, runs, b, ri->high, ri->seeds, ri->classes);
    cnn_sbuf_printf(sb, "\n![loss](loss.png)\n\n![dead units](dead_units.png)\n\n![accuracy](accuracy.png)\n");
}

/* report.html (html_report.h's builder): the same summary and tables as results.md, a bar chart
 * of test top-1 per configuration, and the three chart PNGs of the folder. */
static cnn_status html_report(const char *out, const study_config *configs, int n_configs,
                              const study_run *runs, int n_runs, const cnn_study_budget *b,
                              const report_info *ri, cnn_error *err)
{
    double cpu = 0;
    for (int i = 0; i < n_runs; i++) cpu += runs[i].r.train_cpu_seconds;
    cnn_sbuf h = {0};
    char sub[256], v[6][160];
    snprintf(sub, sizeof sub, "%d configurations x %d seed%s = %d runs%s", n_configs, ri->seeds,
             ri->seeds == 1 ? "" : "s", n_runs, ri->quick ? " (--quick)" : "");
    cnn_html_begin(&h, "cnndemo activation study", sub);
    cnn_html_section(&h, "summary", "Summary");
    snprintf(v[0], sizeof v[0], "%s", ri->data);
    snprintf(v[1], sizeof v[1], "%d training / %d test images (dead units on the first %d)", ri->n_train,
             ri->n_test, b->probe_images < ri->n_test ? b->probe_images : ri->n_test);
    snprintf(v[2], sizeof v[2], "%ld SGD steps of %d images, lr %g (high-lr group x %g), momentum %g, decay %g",
             b->steps, b->batch, (double)b->lr, (double)ri->high, (double)b->momentum, (double)b->decay);
    snprintf(v[3], sizeof v[3], "%llu..%llu", (unsigned long long)b->seed,
             (unsigned long long)b->seed + ri->seeds - 1);
    snprintf(v[4], sizeof v[4], "%.0f s of training CPU, %.0f s wall (%d job%s x %d BLAS thread%s)", cpu,
             ri->wall, ri->jobs, ri->jobs == 1 ? "" : "s", ri->threads, ri->threads == 1 ? "" : "s");
    snprintf(v[5], sizeof v[5], "results.md, results.csv, runs/ (cfgs, curves, weights)");
    const char *keys[] = {"data", "images", "budget", "seeds", "time", "files"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5]};
    cnn_html_kv(&h, keys, vals, 6);
    cnn_html_para(&h, "Dead unit: a convolution channel that outputs exactly 0 at every position of "
                      "every probe image (possible only for activations with exact zeros: ReLU; "
                      "logistic and SiLU by underflow). Inactive: never above act(0). Zeros: the "
                      "share of exact zeros among all outputs. Collapsed: test top-1 under twice "
                      "chance. Values are the final ones, averaged over the seeds.");

    enum { NCOL = 8 };
    static const char *const head[NCOL] = {"activation", "test top-1", "min-max", "collapsed", "final loss",
                                           "dead % (highest)", "zeros % per conv layer", "CPU s per run"};
    char (*cells)[96] = calloc((size_t)n_configs * NCOL, sizeof *cells);
    const char **cp = calloc((size_t)n_configs * NCOL, sizeof *cp);
    const char **labels = calloc((size_t)n_configs, sizeof *labels);
    double *top1 = calloc((size_t)n_configs, sizeof *top1);
    char (*label_buf)[80] = calloc((size_t)n_configs, sizeof *label_buf);
    if (!cells || !cp || !labels || !top1 || !label_buf) {
        free(cells), free(cp), free(labels), free(top1), free(label_buf);
        cnn_sbuf_free(&h);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    for (int g = 0; g < N_GROUPS; g++) {
        int rows = 0;
        for (int i = 0; i < n_configs; i++) {
            const study_config *c = &configs[i];
            if (c->group != g) continue;
            const summary s = summarise(c, runs, ri->classes);
            char(*r)[96] = cells + (size_t)rows * NCOL;
            snprintf(r[0], 96, "%s", cnn_study_act_label(c->cfg.act));
            snprintf(r[1], 96, "\x01%.4f", s.top1);
            snprintf(r[2], 96, "\x01%.4f-%.4f", s.top1_min, s.top1_max);
            snprintf(r[3], 96, "\x01%d/%d", s.collapsed, s.n);
            if (s.n_loss) snprintf(r[4], 96, "\x01%.4f%s", s.loss, s.diverged ? " (some diverged)" : "");
            else snprintf(r[4], 96, "\x01- (%d diverged)", s.diverged);
            snprintf(r[5], 96, "\x01%.1f (%.1f)", 100.0 * s.dead, 100.0 * s.max_dead);
            int len = snprintf(r[6], 96, "\x01");
            for (int k = 0; k < s.n_conv && len < 90; k++)
                len += snprintf(r[6] + len, 96 - len, "%s%.1f", k ? " / " : "", 100.0 * s.layer_sparsity[k]);
            snprintf(r[7], 96, "\x01%.1f", s.cpu);
            snprintf(label_buf[rows], sizeof label_buf[0], "%s", cnn_study_act_label(c->cfg.act));
            labels[rows] = label_buf[rows];
            top1[rows] = s.top1;
            rows++;
        }
        if (!rows) continue;
        static const char *const ids[N_GROUPS] = {"plain", "bn", "high"};
        char heading[96];
        snprintf(heading, sizeof heading, "%s (lr %g)",
                 g == G_PLAIN ? "No batch-norm" : g == G_BN ? "Batch-norm" : "No batch-norm, high learning rate",
                 (double)b->lr * (g == G_HIGH ? ri->high : 1));
        cnn_html_section(&h, ids[g], heading);
        for (int k = 0; k < rows * NCOL; k++) cp[k] = cells[k];
        cnn_html_table(&h, "study", head, NCOL, cp, rows);
        cnn_html_bars(&h, "test top-1 (mean over the seeds)", labels, top1, rows, "%.4f", "");
    }
    free(cells), free(cp), free(labels), free(top1), free(label_buf);
    cnn_html_section(&h, "charts", "Charts");
    cnn_html_figure(&h, "loss.png", "training loss per step, mean over the seeds");
    cnn_html_figure(&h, "dead_units.png", "dead units (% of all conv channels) per step");
    cnn_html_figure(&h, "accuracy.png", "test top-1 per activation, min-max over the seeds");
    const cnn_status st = cnn_html_finish(&h, out, err);
    cnn_sbuf_free(&h);
    return st;
}

/* Chart colours: the position of the activation in the default list, so a given activation
 * has the same colour in every chart and every study. */
static void act_color(cnn_activation a, uint8_t rgb[3])
{
    static const cnn_activation order[] = {CNN_ACT_RELU, CNN_ACT_LEAKY_001, CNN_ACT_LEAKY, CNN_ACT_PRELU,
                                           CNN_ACT_ELU, CNN_ACT_SWISH, CNN_ACT_LOGISTIC, CNN_ACT_TANH};
    static const uint8_t pal[8][3] = {{220, 30, 30}, {255, 140, 0},   {150, 90, 20},  {200, 40, 200},
                                      {30, 150, 60}, {0, 110, 220}, {110, 110, 110}, {0, 180, 190}};
    for (int i = 0; i < 8; i++)
        if (order[i] == a) {
            memcpy(rgb, pal[i], 3);
            return;
        }
    cnn_class_color(8 + (int)a, rgb);
}

#define PANEL_W 560
#define PANEL_H 440

/* A config's curve, averaged over its seeds at each probe (runs that diverged stop early and
 * leave the average there). what: 0 loss, 1 dead units %. xs, ys hold max_points values. */
static int mean_curve(const study_config *c, const study_run *runs, int what, float *xs, float *ys)
{
    int n = 0;
    for (int k = 0; k < c->n; k++) n = runs[c->first + k].r.n_points > n ? runs[c->first + k].r.n_points : n;
    for (int i = 0; i < n; i++) {
        double sum = 0;
        int m = 0;
        xs[i] = NAN;
        for (int k = 0; k < c->n; k++) {
            const cnn_study_result *r = &runs[c->first + k].r;
            if (i >= r->n_points) continue;
            const float v = what == 0 ? r->points[i].loss : 100 * r->points[i].dead;
            xs[i] = (float)r->points[i].step;
            if (isfinite(v)) sum += v, m++;
        }
        ys[i] = m ? (float)(sum / m) : NAN;
    }
    return n;
}

/* One panel per group, one line per activation. */
static cnn_status chart_curves(const char *out, const char *file, const study_config *configs,
                               int n_configs, const study_run *runs, int what,
                               const float lr[N_GROUPS], int seeds, cnn_error *err)
{
    int present[N_GROUPS] = {0}, n_panels = 0, max_points = 0;
    for (int i = 0; i < n_configs; i++) present[configs[i].group] = 1;
    for (int g = 0; g < N_GROUPS; g++) n_panels += present[g];
    for (int i = 0; i < n_configs; i++)
        for (int k = 0; k < configs[i].n; k++)
            if (runs[configs[i].first + k].r.n_points > max_points) max_points = runs[configs[i].first + k].r.n_points;
    cnn_rgb8 img;
    cnn_status st = cnn_plot_image(&img, PANEL_W * (n_panels ? n_panels : 1), PANEL_H, err);
    if (st) return st;
    float *buf = malloc(sizeof(float) * 2 * (size_t)max_points * (n_configs ? n_configs : 1));
    if (!buf) {
        cnn_rgb8_free(&img);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    float ymax = 5;
    for (int i = 0; i < n_configs && what == 1; i++) {
        float *xs = buf, *ys = buf + max_points;
        const int n = mean_curve(&configs[i], runs, 1, xs, ys);
        for (int k = 0; k < n; k++) ymax = ys[k] > ymax ? ys[k] : ymax;
    }
    int panel = 0;
    for (int g = 0; g < N_GROUPS; g++) {
        if (!present[g]) continue;
        cnn_plot_series s[MAX_ACTS];
        int ns = 0;
        for (int i = 0; i < n_configs && ns < MAX_ACTS; i++) {
            const study_config *c = &configs[i];
            if (c->group != g) continue;
            float *xs = buf + (size_t)2 * max_points * ns, *ys = xs + max_points;
            s[ns].n = mean_curve(c, runs, what, xs, ys);
            s[ns].x = xs, s[ns].y = ys;
            s[ns].label = cnn_study_act_label(c->cfg.act);
            act_color(c->cfg.act, s[ns].rgb);
            ns++;
        }
        char title[96], ylabel[96];
        snprintf(title, sizeof title, "%s, lr %g", g == G_BN ? "batch-norm" : "no batch-norm", (double)lr[g]);
        snprintf(ylabel, sizeof ylabel, "%s%s",
                 what == 0 ? "training loss (mean since the previous point)" : "dead units, % of all conv channels",
                 seeds > 1 ? ", mean of the seeds" : "");
        cnn_plot_axes a = {.title = title, .xlabel = "step", .ylabel = ylabel, .legend = CNN_LEGEND_BELOW};
        if (what == 1) a.y_min = 0, a.y_max = ymax;
        cnn_plot_lines(&img, panel * PANEL_W, 0, PANEL_W, PANEL_H, &a, s, ns);
        panel++;
    }
    free(buf);
    char path[CNN_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", out, file);
    st = cnn_plot_save_png(&img, path, err);
    cnn_rgb8_free(&img);
    return st;
}

static cnn_status chart_accuracy(const char *out, const study_config *configs, int n_configs,
                                 const study_run *runs, const cnn_activation *acts, int n_acts,
                                 float high_factor, int classes, cnn_error *err)
{
    cnn_rgb8 img;
    cnn_status st = cnn_plot_image(&img, 1000, 460, err);
    if (st) return st;
    int n_groups = 2;
    for (int i = 0; i < n_configs; i++) n_groups = configs[i].group == G_HIGH ? N_GROUPS : n_groups;
    const char *cats[MAX_ACTS];
    float v[MAX_ACTS * N_GROUPS], lo[MAX_ACTS * N_GROUPS], hi[MAX_ACTS * N_GROUPS];
    for (int i = 0; i < n_acts * n_groups; i++) v[i] = lo[i] = hi[i] = NAN;
    for (int c = 0; c < n_acts; c++) cats[c] = cnn_study_act_label(acts[c]);
    int seeds = 1;
    for (int i = 0; i < n_configs; i++) {
        const summary s = summarise(&configs[i], runs, classes);
        const int k = configs[i].act_slot * n_groups + configs[i].group;
        v[k] = (float)(100 * s.top1);
        if (s.n > 1) lo[k] = (float)(100 * s.top1_min), hi[k] = (float)(100 * s.top1_max);
        seeds = s.n > seeds ? s.n : seeds;
    }
    char high[64], title[96];
    snprintf(high, sizeof high, "no batch-norm, lr x%g", (double)high_factor);
    snprintf(title, sizeof title, "test accuracy by activation%s", seeds > 1 ? " (mean, min-max of the seeds)" : "");
    const char *groups[N_GROUPS] = {"no batch-norm", "batch-norm", high};
    static const uint8_t colors[N_GROUPS][3] = {{70, 130, 200}, {240, 150, 40}, {200, 50, 50}};
    cnn_plot_axes a = {.title = title, .ylabel = "test top-1, %", .y_min = 0, .y_max = 100,
                       .legend = CNN_LEGEND_BELOW};
    cnn_plot_bars(&img, 0, 0, img.w, img.h, &a, cats, n_acts, groups, colors, n_groups, v,
                  seeds > 1 ? lo : NULL, seeds > 1 ? hi : NULL, "%.1f");
    char path[CNN_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/accuracy.png", out);
    st = cnn_plot_save_png(&img, path, err);
    cnn_rgb8_free(&img);
    return st;
}

/* ---- the command ---- */

static int parse_acts(const char *list, cnn_activation *acts, int *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        cnn_activation a;
        if (cnn_activation_parse(tok, &a) != 0) {
            fprintf(stderr, "cnndemo study: --activations: unknown activation '%s'\n", tok);
            return 2;
        }
        for (int i = 0; i < *n; i++)
            if (acts[i] == a) {
                fprintf(stderr, "cnndemo study: --activations: '%s' given twice\n", tok);
                return 2;
            }
        acts[(*n)++] = a;
    }
    if (!*n) {
        fprintf(stderr, "cnndemo study: --activations: empty list\n");
        return 2;
    }
    return 0;
}

static int parse_groups(const char *list, int *want)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int g = 0; g < N_GROUPS; g++) found = strcmp(tok, group_names[g]) == 0 ? g : found;
        if (found < 0) {
            fprintf(stderr, "cnndemo study: --runs: '%s': expected plain, bn or high\n", tok);
            return 2;
        }
        want[found] = 1;
    }
    return 0;
}

int cmd_study(int argc, char **argv)
{
    const char *out = "cnndemo-study", *data = DEFAULT_DATA, *val = NULL, *act_list = DEFAULT_ACTS,
               *group_list = "plain,bn,high";
    int quick = 0, limit = 0, test_limit = 0, epochs = 0, steps = 0, batch = 32, probe_n = 256,
        probe_every = 0, seed = 1, seeds = 3, threads = 1, jobs = 1, quiet = 0, size = 28, burn_in = -1,
        report = 0;
    float lr = 0.05f, high = 10;
    const cli_opt opts[] = {
        {"output", 'o', CLI_STR, &out, "DIR", "output folder (default cnndemo-study)", 0, 0},
        {"quick", 0, CLI_FLAG, &quick, NULL, "3000 training / 2000 test images (default: all 60000 / 10000)", 0, 0},
        {"data", 0, CLI_STR, &data, "DIR", "training data: IDX or ImageFolder (default " DEFAULT_DATA ")", 0, 0},
        {"val", 0, CLI_STR, &val, "DIR", "test data (default: DATA's IDX test split; required for folders)", 0, 0},
        {"size", 0, CLI_INT, &size, "PX", "network input side, grey (default 28; IDX data must match)", 8, 1024},
        {"activations", 'a', CLI_STR, &act_list, "LIST", "comma-separated cfg names (default " DEFAULT_ACTS ")", 0, 0},
        {"runs", 0, CLI_STR, &group_list, "LIST", "groups: plain (no batch-norm), bn, high (ReLU family, high lr, no batch-norm); default all", 0, 0},
        {"high-lr", 0, CLI_FLOAT, &high, "F", "learning-rate factor of the high group (default 10)", 1, 1000},
        {"lr", 0, CLI_FLOAT, &lr, "F", "base learning rate (default 0.05)", 1e-6, 10},
        {"batch", 'b', CLI_INT, &batch, "N", "images per step (default 32)", 1, 4096},
        {"epochs", 'e', CLI_INT, &epochs, "N", "passes over the training images (default 2)", 1, 10000},
        {"steps", 0, CLI_INT, &steps, "N", "optimiser steps per run (overrides --epochs; for tests)", 1, 1 << 30},
        {"limit", 0, CLI_INT, &limit, "N", "use the first N training images", 1, 1 << 30},
        {"test-limit", 0, CLI_INT, &test_limit, "N", "use the first N test images", 1, 1 << 30},
        {"burn-in", 0, CLI_INT, &burn_in, "N", "warm-up steps (default: a tenth of the steps, at most 100)", 0, 1 << 30},
        {"probe", 0, CLI_INT, &probe_n, "N", "test images in the dead-unit probe batch (default 256)", 1, 1 << 20},
        {"probe-every", 0, CLI_INT, &probe_every, "N", "steps between probes (default: 25 probes per run)", 1, 1 << 30},
        {"seed", 's', CLI_INT, &seed, "N", "first seed (default 1)", 0, 2147483647},
        {"seeds", 0, CLI_INT, &seeds, "N", "runs per configuration, seeds SEED..SEED+N-1 (default 3)", 1, MAX_SEEDS},
        {"jobs", 'j', CLI_INT, &jobs, "N", "runs trained at once, on threads (default 1)", 1, 64},
        {"threads", 't', CLI_INT, &threads, "N", "OpenBLAS threads per run (default 1)", 1, 256},
        {"report", 0, CLI_FLAG, &report, NULL, "also write OUT/report.html (tables, charts; self-contained)", 0, 0},
        {"quiet", 'q', CLI_FLAG, &quiet, NULL, "no progress on stderr", 0, 0},
        {0}};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("study", "activations [options]", opts, argc, argv, pos, &npos) : 1;
    const char *which = npos == 1 ? pos[0] : NULL;
    free(pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!which || strcmp(which, "activations") != 0) {
        fprintf(stderr, "cnndemo study: expected one study name: activations (see --help)\n");
        return 2;
    }
    cnn_activation acts[MAX_ACTS];
    int n_acts = 0, want_group[N_GROUPS] = {0};
    if ((rc = parse_acts(act_list, acts, &n_acts)) || (rc = parse_groups(group_list, want_group))) return rc;
    if (!limit && quick) limit = 3000;
    if (!test_limit && quick) test_limit = 2000;
    if (!epochs) epochs = 2;
    cli_apply_blas_threads(threads);

    cnn_error err = {0};
    cnn_dataset train = {0}, test = {0};
    study_config *configs = NULL;
    study_run *runs = NULL;
    int n_configs = 0, n_runs = 0, code = 0;
    const double t0 = cli_now();
    cnn_preproc pp = {.w = size, .h = size, .c = 1, .kernel = CNN_RESIZE_LINEAR, .divisor = 255};
    if (cnn_data_load(data, &pp, CNN_SPLIT_TRAIN, limit, &train, &err)) goto fail;
    if (!train.y) {
        cnn_fail(&err, CNN_ERR_INPUT, "%s: a detection dataset; the study needs classes", data);
        goto fail;
    }
    if (!val && train.kind != CNN_DATA_IDX) {
        cnn_fail(&err, CNN_ERR_USAGE, "%s is not an IDX dataset: give the held-out images with --val DIR", data);
        goto fail;
    }
    if (cnn_data_load(val ? val : data, &pp, CNN_SPLIT_TEST, test_limit, &test, &err)) goto fail;
    if (train.n < batch) {
        cnn_fail(&err, CNN_ERR_INPUT, "%s: %d images, fewer than one batch of %d", data, train.n, batch);
        goto fail;
    }
    const int classes = train.n_classes > test.n_classes ? train.n_classes : test.n_classes;
    cnn_study_budget b = {.width = size, .height = size, .channels = 1, .classes = classes,
                          .batch = batch, .lr = lr, .momentum = 0.9f, .decay = 0.0005f,
                          .seed = (uint64_t)seed, .flip = 1, .probe_images = probe_n};
    b.steps = steps ? steps : (long)(train.n / batch) * epochs;
    b.burn_in = burn_in >= 0 ? burn_in : (int)(b.steps / 10 < 100 ? b.steps / 10 : 100);
    b.probe_every = probe_every ? probe_every : (int)(b.steps / 25 > 0 ? b.steps / 25 : 1);

    configs = calloc((size_t)n_acts * N_GROUPS, sizeof *configs);
    runs = calloc((size_t)n_acts * N_GROUPS * seeds, sizeof *runs);
    if (!configs || !runs) {
        cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    char dir[CNN_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/runs", out);
    for (int g = 0; g < N_GROUPS; g++)
        for (int i = 0; i < n_acts; i++) {
            if (!want_group[g] || (g == G_HIGH && !relu_family(acts[i]))) continue;
            study_config *c = &configs[n_configs];
            c->group = g, c->act_slot = i;
            c->cfg = (cnn_study_run_cfg){acts[i], g == G_BN, g == G_HIGH ? high : 1};
            snprintf(c->name, sizeof c->name, "%s-%s%s", cnn_activation_name(acts[i]),
                     g == G_BN ? "bn" : "nobn", g == G_HIGH ? "-highlr" : "");
            snprintf(c->cfg_path, sizeof c->cfg_path, "%s/%s.cfg", dir, c->name);
            c->first = n_runs, c->n = seeds;
            for (int k = 0; k < seeds; k++) {
                study_run *r = &runs[n_runs++];
                r->config = n_configs;
                r->seed = (uint64_t)seed + (uint64_t)k;
                snprintf(r->name, sizeof r->name, "%s-s%llu", c->name, (unsigned long long)r->seed);
            }
            n_configs++;
        }
    if (!n_configs) {
        cnn_fail(&err, CNN_ERR_USAGE, "nothing to run: --runs high needs relu, leaky, leaky_0.01 or prelu in --activations");
        goto fail;
    }
    if (cnn_mkdirs(dir, &err)) goto fail;
    for (int i = 0; i < n_configs; i++) {
        char *text = cnn_study_cfg_text(&configs[i].cfg, &b);
        cnn_status st = text ? cnn_write_file_atomic(configs[i].cfg_path, text, strlen(text), &err)
                             : cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        free(text);
        if (st) goto fail;
    }
    if (!quiet)
        fprintf(stderr, "study: %d configurations x %d seed%s = %d runs of %ld steps (batch %d) on %d "
                        "training / %d test images from %s; %d job%s x %d BLAS thread%s\n",
                n_configs, seeds, seeds == 1 ? "" : "s", n_runs, b.steps, batch, train.n, test.n, data,
                jobs, jobs == 1 ? "" : "s", threads, threads == 1 ? "" : "s");

    pool p = {.configs = configs, .runs = runs, .n_runs = n_runs, .quiet = quiet, .b = &b,
              .train = &train, .test = &test, .out = out};
    pthread_mutex_init(&p.mu, NULL);
    pthread_t tids[64];
    int started = 0;
    for (int j = 0; j < jobs && j < n_runs; j++) started += pthread_create(&tids[started], NULL, worker, &p) == 0;
    if (!started) worker(&p);
    for (int j = 0; j < started; j++) pthread_join(tids[j], NULL);
    pthread_mutex_destroy(&p.mu);
    for (int i = 0; i < n_runs; i++) {
        if (runs[i].st) {
            err = runs[i].err;
            cnn_error_prefix(&err, "run %s: ", runs[i].name);
            goto fail;
        }
        if (write_curves(out, &runs[i], &err)) goto fail;
    }
    const report_info ri = {data, train.n, test.n, quick, threads, jobs, seeds, classes, high,
                            cli_now() - t0};
    const float group_lr[N_GROUPS] = {b.lr, b.lr, b.lr * high};
    cnn_sbuf md = {0};
    md_report(&md, configs, n_configs, runs, n_runs, &b, &ri);
    cnn_status st = write_sbuf(out, "results.md", &md, &err);
    cnn_sbuf_free(&md);
    if (st || write_csv(out, configs, runs, n_runs, &b, train.n, test.n, &err) ||
        chart_curves(out, "loss.png", configs, n_configs, runs, 0, group_lr, seeds, &err) ||
        chart_curves(out, "dead_units.png", configs, n_configs, runs, 1, group_lr, seeds, &err) ||
        chart_accuracy(out, configs, n_configs, runs, acts, n_acts, high, classes, &err) ||
        (report && html_report(out, configs, n_configs, runs, n_runs, &b, &ri, &err)))
        goto fail;
    cnn_sbuf tables = {0};
    md_tables(&tables, configs, n_configs, runs, &b, high, seeds, classes);
    if (tables.s) fputs(tables.s + 1, stdout);
    cnn_sbuf_free(&tables);
    if (!quiet)
        fprintf(stderr, "study: %d runs in %.0f s; wrote %s/results.md, results.csv, loss.png, "
                        "dead_units.png, accuracy.png, %sruns/\n", n_runs, ri.wall, out,
                report ? "report.html, " : "");
    goto done;
fail:
    code = cli_report(&err);
done:
    for (int i = 0; runs && i < n_runs; i++) cnn_study_result_free(&runs[i].r);
    free(runs);
    free(configs);
    cnn_data_free(&train);
    cnn_data_free(&test);
    return code;
}
