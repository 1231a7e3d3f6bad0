/* fsutil.c — see fsutil.h. */
#define _GNU_SOURCE /* syncfs */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cnn_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void cnn_strip_slashes(char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') path[--n] = '\0';
}

int cnn_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

cnn_status cnn_mkdirs(const char *dir, cnn_error *err)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0) return CNN_OK;
    if (n >= sizeof tmp) return cnn_fail(err, CNN_ERR_OUTPUT, "%s: path too long", dir);
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char saved = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return cnn_fail(err, CNN_ERR_OUTPUT, "%s: cannot create directory: %s", tmp,
                                strerror(errno));
            if (!cnn_is_dir(tmp))
                return cnn_fail(err, CNN_ERR_OUTPUT, "%s: exists and is not a directory", tmp);
            tmp[i] = saved;
        }
    }
    return CNN_OK;
}

cnn_status cnn_mkdirs_for(const char *path, cnn_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return CNN_OK;
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) return cnn_fail(err, CNN_ERR_OUTPUT, "%s: path too long", path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    return cnn_mkdirs(dir, err);
}

static cnn_status write_atomic(const char *path, const void *buf, size_t n, int durable, cnn_error *err)
{
    /* a hidden, unique temporary beside the target (mkstemp: threads of one process writing the
     * same path never share it); the rename is atomic within the directory */
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path + 1) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.%ld.XXXXXX", dlen, path, slash ? slash + 1 : path,
                 (long)getpid()) >= (int)sizeof tmp)
        return cnn_fail(err, CNN_ERR_OUTPUT, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return cnn_fail(err, CNN_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(errno));
    if (fchmod(fd, 0644) != 0) { /* mkstemp makes 0600; outputs are ordinary files */
        int e = errno;
        close(fd);
        unlink(tmp);
        return cnn_fail(err, CNN_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(e));
    }
    const char *p = buf;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return cnn_fail(err, CNN_ERR_OUTPUT, "%s: write failed: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if ((durable && fsync(fd) != 0) || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return cnn_fail(err, CNN_ERR_OUTPUT, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cnn_fail(err, CNN_ERR_OUTPUT, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return CNN_OK;
}

cnn_status cnn_write_file_atomic(const char *path, const void *buf, size_t n, cnn_error *err)
{
    return write_atomic(path, buf, n, 1, err);
}

cnn_status cnn_write_file_atomic_nosync(const char *path, const void *buf, size_t n, cnn_error *err)
{
    return write_atomic(path, buf, n, 0, err);
}

cnn_status cnn_sync_fs(const char *path, cnn_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cnn_fail(err, CNN_ERR_OUTPUT, "%s: cannot open to sync: %s", path, strerror(errno));
    int bad = syncfs(fd) != 0, e = errno;
    close(fd);
    if (bad) return cnn_fail(err, CNN_ERR_OUTPUT, "%s: sync failed: %s", path, strerror(e));
    return CNN_OK;
}

cnn_status cnn_read_file(const char *path, size_t max, char **out, size_t *n, cnn_status code,
                         cnn_error *err)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cnn_fail(err, code, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cnn_fail(err, code, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max) {
        fclose(f);
        return cnn_fail(err, code, "%s: file is %lld bytes, over the %zu-byte limit", path,
                        (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(buf);
        return cnn_fail(err, code, "%s: read error", path);
    }
    buf[size] = '\0';
    *out = buf;
    *n = size;
    return CNN_OK;
}
