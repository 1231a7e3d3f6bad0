/* fuzz_names.c — libFuzzer target: the class-names reader and the @list reader of the input
 * collector, plus output-path mapping of every listed path. Input: a text file, read both as a
 * names file and as an @list file (through a memfd path).
 * Properties: names hold no newline and no NUL; listed paths are non-empty and not comments; an
 * output path stays under its folder (no ".." component). */
#include "fuzz_util.h"

#include <string.h>

#include "inputs.h"
#include "model.h"

/* The path has no ".." component. */
static int no_dotdot(const char *p)
{
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') return 0;
        s += n;
        while (*s == '/') s++;
    }
    return 1;
}

static void check_output_path(const char *input)
{
    static const char *const exts[] = {NULL, ".png"};
    static const size_t sizes[] = {4096, 40, 12};
    char out[4096];
    for (size_t e = 0; e < 2; e++) {
        for (size_t k = 0; k < 3; k++) {
            memset(out, 'X', sizes[k]);
            cnn_output_path("out", input, exts[e], out, sizes[k]);
            FUZZ_CHECK(memchr(out, '\0', sizes[k]) != NULL, "output path not terminated");
            FUZZ_CHECK(strncmp(out, "out", 3) == 0, "output path '%s' left its folder", out);
            FUZZ_CHECK(no_dotdot(out), "output path '%s' (from '%s', ext %s, size %zu) has a "
                       "'..' component", out, input, exts[e] ? exts[e] : "none", sizes[k]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    fuzz_memfd(0, data, size, path);
    cnn_error err;

    char **names = NULL;
    int n = -1;
    cnn_status s = cnn_names_load(path, &names, &n, &err);
    if (s == CNN_OK) {
        FUZZ_CHECK(n >= 0 && (n == 0 || names), "%d names", n);
        FUZZ_CHECK(n == 0 || names[n - 1][0] != '\0', "trailing blank name kept");
        for (int i = 0; i < n; i++)
            FUZZ_CHECK(!strchr(names[i], '\n') && strlen(names[i]) <= size, "name %d", i);
        cnn_names_free(names, n);
    } else {
        FUZZ_CHECK(names == NULL && n == 0, "failed load left names");
        FUZZ_CHECK(s == CNN_ERR_MODEL && err.msg[0], "status %d: %s", (int)s, err.msg);
    }

    char arg[80];
    snprintf(arg, sizeof arg, "@%s", path);
    char *args[1] = {arg};
    cnn_strlist list = {0};
    s = cnn_inputs_collect(args, 1, 0, &list, &err);
    FUZZ_CHECK(s == CNN_OK || (s == CNN_ERR_INPUT && err.msg[0]), "status %d: %s", (int)s,
               err.msg);
    for (size_t i = 0; i < list.n; i++) {
        const char *p = list.items[i];
        size_t len = strlen(p);
        FUZZ_CHECK(len > 0 && p[0] != '#' && p[len - 1] != '\n' && p[len - 1] != '\r',
                   "list item %zu: '%s'", i, p);
        if (i < 64) check_output_path(p); /* the mapping depends on content, not count */
        (void)cnn_has_image_ext(p);
    }
    cnn_strlist_free(&list);
    return 0;
}
