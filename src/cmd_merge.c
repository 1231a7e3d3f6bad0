/* cmd_merge.c — `cnndemo merge -o OUT DIR...`: combines the output folders of sharded runs
 * (--shard i/N, e.g. a Slurm array, a Kubernetes Indexed Job or GNU parallel) into one result
 * set: results.jsonl sorted by input path (one line per input; a success wins over a failure),
 * images/ and labels/ hard-linked (copied across file systems), errors.txt and run.json.
 * Every shard must have finished (its run.json says so; --partial merges unfinished ones too)
 * and all must have run the same model files (sha256) with the same settings. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "fsutil.h"
#include "report.h"

typedef struct {
    char *path, *line; /* line without its newline, output path rewritten */
    int failed;
} merged_line;

static int cmp_line(const void *a, const void *b)
{
    const merged_line *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : x->failed - y->failed; /* successes first */
}

static cnn_status link_or_copy(const char *src, const char *dst, cnn_error *err)
{
    cnn_status st = cnn_mkdirs_for(dst, err);
    if (st) return st;
    unlink(dst);
    if (link(src, dst) == 0) return CNN_OK;
    char *buf;
    size_t n;
    if ((st = cnn_read_file(src, (size_t)1 << 31, &buf, &n, CNN_ERR_INPUT, err))) return st;
    st = cnn_write_file_atomic(dst, buf, n, err);
    free(buf);
    return st;
}

static cnn_status copy_tree(const char *src, const char *dst, int depth, cnn_error *err)
{
    DIR *d = opendir(src);
    if (!d) return CNN_OK; /* a shard may have no labels/ */
    cnn_status st = CNN_OK;
    struct dirent *e;
    while (st == CNN_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ".", "..", and temporaries of a killed run */
        char s[CNN_PATH_MAX], t[CNN_PATH_MAX];
        snprintf(s, sizeof s, "%s/%s", src, e->d_name);
        snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
        if (cnn_is_dir(s)) st = depth < 64 ? copy_tree(s, t, depth + 1, err) : CNN_OK;
        else if (cnn_is_file(s)) st = link_or_copy(s, t, err);
    }
    closedir(d);
    return st;
}

int cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    int partial = 0;
    const cli_opt opts[] = {
        {"output", 'o', CLI_STR, &out, "DIR", "merged output folder (required)", 0, 0},
        {"partial", 0, CLI_FLAG, &partial, NULL, "also merge shards that did not finish (the merged run.json says partial)", 0, 0},
        {0},
    };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc = pos ? cli_parse("merge", "-o OUT SHARD_DIR...", opts, argc, argv, pos, &npos) : 1;
    if (rc || !out || npos == 0) {
        if (!rc) fprintf(stderr, "cnndemo merge: give -o OUT and at least one shard folder\n");
        free(pos);
        return rc < 0 ? 0 : (rc ? rc : 2);
    }
    cnn_error err = {0};
    cnn_status st = CNN_OK;
    merged_line *lines = NULL;
    size_t n = 0, cap = 0, kept = 0, failed = 0;
    cnn_sbuf b = {0}, errors = {0};
    char path[8192], output[8192], error[4096];
    for (int i = 0; i < npos; i++) cnn_strip_slashes(pos[i]);
    int unfinished = 0;
    {
        char first[CNN_RUN_SETTINGS_MAX] = "", sig[CNN_RUN_SETTINGS_MAX];
        for (int i = 0; i < npos; i++) {
            int fin = 0;
            if ((st = cnn_run_settings_load(pos[i], sig, sizeof sig, &fin, &err))) goto done;
            if (!fin && !partial) {
                st = cnn_fail(&err, CNN_ERR_INPUT,
                              "%s: this shard did not finish (run.json: finished false or interrupted "
                              "true); finish it with the same command and --resume, or merge with --partial",
                              pos[i]);
                goto done;
            }
            unfinished += !fin;
            if (!i) snprintf(first, sizeof first, "%s", sig);
            else if (strcmp(first, sig) != 0) {
                st = cnn_fail(&err, CNN_ERR_INPUT, "%s ran with other settings than %s: %s vs %s", pos[i],
                              pos[0], sig, first);
                goto done;
            }
        }
    }
    if ((st = cnn_mkdirs(out, &err))) goto done;
    char out_buf[CNN_PATH_MAX];
    snprintf(out_buf, sizeof out_buf, "%s", out);
    cnn_strip_slashes(out_buf);
    out = out_buf;
    for (int i = 0; i < npos && st == CNN_OK; i++) {
        const char *dir = pos[i];
        char results[CNN_PATH_MAX];
        snprintf(results, sizeof results, "%s/results.jsonl", dir);
        char *text;
        size_t len;
        if ((st = cnn_read_file(results, (size_t)4 << 30, &text, &len, CNN_ERR_INPUT, &err))) goto done;
        for (char *p = text; st == CNN_OK && p < text + len;) {
            char *nl = memchr(p, '\n', (size_t)(text + len - p));
            if (!nl) break; /* incomplete last line of a killed shard: that input is not done */
            *nl = '\0';
            char *line = p;
            p = nl + 1;
            if (cnn_jsonl_string(line, "path", path, sizeof path) != 1) continue;
            int failed = cnn_jsonl_string(line, "error", error, sizeof error) == 1;
            cnn_sbuf_clear(&b);
            /* rewrite "output": "<dir>/..." to "<out>/..." */
            size_t dl = strlen(dir);
            char *o = strstr(line, ", \"output\": \"");
            if (o && cnn_jsonl_string(line, "output", output, sizeof output) == 1 &&
                strncmp(output, dir, dl) == 0 && output[dl] == '/') {
                char *vstart = o + strlen(", \"output\": ");
                char *vend = strstr(vstart, "\", \"timing_ms\"");
                if (vend) {
                    cnn_sbuf_printf(&b, "%.*s", (int)(vstart - line), line);
                    char np[CNN_PATH_MAX * 2 + 8];
                    snprintf(np, sizeof np, "%s%s", out, output + dl);
                    cnn_sbuf_json_string(&b, np);
                    cnn_sbuf_printf(&b, "%s", vend + 1);
                }
            }
            if (!b.len) cnn_sbuf_printf(&b, "%s", line);
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                merged_line *g = realloc(lines, sizeof *g * cap);
                if (!g) {
                    st = cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
                    break;
                }
                lines = g;
            }
            lines[n].path = strdup(path);
            lines[n].line = strdup(b.s);
            lines[n].failed = failed;
            if (!lines[n].path || !lines[n].line) st = cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
            n++;
        }
        free(text);
        if (st) goto done;
        char src[CNN_PATH_MAX], dst[CNN_PATH_MAX];
        snprintf(src, sizeof src, "%s/images", dir);
        snprintf(dst, sizeof dst, "%s/images", out);
        if ((st = copy_tree(src, dst, 0, &err))) goto done;
        snprintf(src, sizeof src, "%s/labels", dir);
        snprintf(dst, sizeof dst, "%s/labels", out);
        if ((st = copy_tree(src, dst, 0, &err))) goto done;
    }
    if (n) qsort(lines, n, sizeof *lines, cmp_line);
    cnn_sbuf_clear(&b);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(lines[i].path, lines[i - 1].path) == 0) continue; /* duplicate input */
        cnn_sbuf_printf(&b, "%s\n", lines[i].line);
        kept++;
        if (lines[i].failed) {
            failed++;
            cnn_jsonl_string(lines[i].line, "error", error, sizeof error);
            cnn_sbuf_printf(&errors, "%s\t%s\n", lines[i].path, error);
        }
    }
    char file[CNN_PATH_MAX];
    snprintf(file, sizeof file, "%s/results.jsonl", out);
    if ((st = cnn_write_file_atomic(file, b.s ? b.s : "", b.len, &err))) goto done;
    snprintf(file, sizeof file, "%s/errors.txt", out);
    if ((st = cnn_write_file_atomic(file, errors.s ? errors.s : "", errors.len, &err))) goto done;
    cnn_sbuf_clear(&b);
    cnn_sbuf_printf(&b, "{\n  \"version\": \"%s\",\n  \"merged_from\": [", CNN_VERSION);
    for (int i = 0; i < npos; i++) {
        cnn_sbuf_printf(&b, "%s", i ? ", " : "");
        cnn_sbuf_json_string(&b, pos[i]);
    }
    cnn_sbuf_printf(&b, "],\n  \"inputs\": %zu, \"processed\": %zu, \"failed\": %zu, \"partial\": %s\n}\n",
                    kept, kept - failed, failed, unfinished ? "true" : "false");
    snprintf(file, sizeof file, "%s/run.json", out);
    if (b.oom) st = cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
    else st = cnn_write_file_atomic(file, b.s, b.len, &err);
    if (!st)
        fprintf(stderr, "merged %d folder%s: %zu inputs, %zu failed; results in %s/\n", npos,
                npos == 1 ? "" : "s", kept, failed, out);
done:
    for (size_t i = 0; i < n; i++) free(lines[i].path), free(lines[i].line);
    free(lines);
    cnn_sbuf_free(&b);
    cnn_sbuf_free(&errors);
    free(pos);
    return st ? cli_report(&err) : (failed ? 4 : 0);
}
