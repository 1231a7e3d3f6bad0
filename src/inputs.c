/* inputs.c — see inputs.h. */
#include "inputs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fsutil.h"

#define LIST_MAX_BYTES (1u << 30)
#define WALK_MAX_DEPTH 64

cnn_status cnn_strlist_push(cnn_strlist *l, const char *s, cnn_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **items = realloc(l->items, sizeof *items * cap);
        if (!items) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory listing inputs");
        l->items = items;
        l->cap = cap;
    }
    if (!(l->items[l->n] = strdup(s))) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->n++;
    return CNN_OK;
}

void cnn_strlist_free(cnn_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

int cnn_has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
           !strcasecmp(dot, ".bmp");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cnn_status walk(const char *dir, int recursive, int depth, cnn_strlist *out, cnn_error *err)
{
    if (depth > WALK_MAX_DEPTH)
        return cnn_fail(err, CNN_ERR_INPUT, "%s: folders nested deeper than %d", dir, WALK_MAX_DEPTH);
    DIR *d = opendir(dir);
    if (!d) return cnn_strlist_push(out, dir, err); /* reported later as unreadable */
    cnn_strlist names = {0};
    cnn_status st = CNN_OK;
    struct dirent *e;
    while (st == CNN_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* hidden files, ".", ".." and our temporaries */
        st = cnn_strlist_push(&names, e->d_name, err);
    }
    closedir(d);
    if (st == CNN_OK && names.n) qsort(names.items, names.n, sizeof *names.items, cmp_str);
    for (size_t i = 0; st == CNN_OK && i < names.n; i++) {
        char path[8192];
        size_t dl = strlen(dir);
        snprintf(path, sizeof path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names.items[i]);
        struct stat stt;
        if (stat(path, &stt) == 0 && S_ISDIR(stt.st_mode)) {
            if (recursive) st = walk(path, recursive, depth + 1, out, err);
        } else if (cnn_has_image_ext(names.items[i])) {
            /* also dangling links, FIFOs and the like: they fail with a reason, never silently */
            st = cnn_strlist_push(out, path, err);
        }
    }
    cnn_strlist_free(&names);
    return st;
}

static cnn_status read_list(const char *path, FILE *f, cnn_strlist *out, cnn_error *err)
{
    char line[8192];
    cnn_status st = CNN_OK;
    int lineno = 0;
    while (st == CNN_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n')
            return cnn_fail(err, CNN_ERR_INPUT, "%s:%d: line longer than %zu bytes", path, lineno,
                            sizeof line - 2);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0 || line[0] == '#') continue;
        st = cnn_strlist_push(out, line, err);
    }
    return st;
}

cnn_status cnn_inputs_collect(char *const *args, int nargs, int recursive, cnn_strlist *out,
                              cnn_error *err)
{
    cnn_status st = CNN_OK;
    for (int i = 0; st == CNN_OK && i < nargs; i++) {
        const char *a = args[i];
        if (strcmp(a, "-") == 0) {
            st = read_list("<stdin>", stdin, out, err);
        } else if (a[0] == '@') {
            FILE *f = fopen(a + 1, "r");
            if (!f) return cnn_fail(err, CNN_ERR_INPUT, "%s: cannot open list file", a + 1);
            st = read_list(a + 1, f, out, err);
            fclose(f);
        } else if (cnn_is_dir(a)) {
            st = walk(a, recursive, 0, out, err);
        } else {
            st = cnn_strlist_push(out, a, err);
        }
    }
    return st;
}

void cnn_output_path(const char *dir, const char *input, const char *new_ext, char *out, size_t n)
{
    size_t len = (size_t)snprintf(out, n, "%s/", dir);
    const char *p = input;
    while (*p && len + 4 < n) {
        while (*p == '/') p++;
        if (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) {
            p += 1;
            continue;
        }
        const char *slash = strchr(p, '/');
        size_t seg = slash ? (size_t)(slash - p) : strlen(p);
        if (seg == 2 && p[0] == '.' && p[1] == '.') len += (size_t)snprintf(out + len, n - len, "__");
        else len += (size_t)snprintf(out + len, n - len, "%.*s", (int)seg, p);
        p += seg;
        if (*p == '/' && len + 1 < n) out[len++] = '/', out[len] = '\0';
    }
    if (len >= n) len = n - 1;
    while (len > 0 && out[len - 1] == '/') out[--len] = '\0';
    if (new_ext) {
        char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
        if (dot && (!slash || dot > slash)) *dot = '\0';
        len = strlen(out);
        snprintf(out + len, n - len, "%s", new_ext);
    }
}
