/* replay_main.c — runs a fuzz target's LLVMFuzzerTestOneInput over files without libFuzzer, so
 * the corpora replay as regression tests in every build (plain gcc, ASan/UBSan).
 * Usage: fuzz_X_replay PATH...   (a PATH is a file or a folder, read one level deep; folders'
 * files in sorted order). Prints "N inputs replayed"; exits 1 on an unreadable path or an empty
 * run. A crashing input aborts the process (its name is printed first). */
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the whole file; NULL on error (an empty file gives a 1-byte buffer and *n = 0). */
static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (buf = malloc((size_t)st.st_size + 1)) &&
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = buf ? (size_t)st.st_size : 0;
    return buf;
}

static int replay_file(const char *path, long *count)
{
    size_t n;
    uint8_t *buf = read_all(path, &n);
    if (!buf) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
    /* an exact-size copy, so ASan sees reads past the input's end */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        free(buf);
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    memcpy(copy, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    (*count)++;
    return 0;
}

static int replay_dir(const char *dir, long *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open: %s\n", dir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    struct dirent *e;
    while (!bad && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) bad = 1;
            else names = grown;
        }
        if (!bad && !(names[n++] = strdup(e->d_name))) bad = 1;
    }
    closedir(d);
    if (!bad && n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; !bad && i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) continue;
        bad = replay_file(path, count);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long count = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            bad = 1;
        } else if (S_ISDIR(st.st_mode)) {
            bad |= replay_dir(argv[i], &count);
        } else {
            bad |= replay_file(argv[i], &count);
        }
    }
    printf("%ld inputs replayed\n", count);
    if (count == 0) {
        fprintf(stderr, "no inputs found\n");
        bad = 1;
    }
    return bad ? 1 : 0;
}
