/* fsutil.h — file-system helpers with checked I/O: atomic writes (temporary name in the same
 * directory, fsync, rename), recursive mkdir, whole-file reads with a size cap. */
#ifndef CNN_FSUTIL_H
#define CNN_FSUTIL_H

#include <stddef.h>

#include "status.h"

/* Writes buf to path via a unique hidden temporary ".<name>.tmp.<pid>.XXXXXX" beside it; the old file stays intact
 * until the rename. Errors are CNN_ERR_OUTPUT. */
cnn_status cnn_write_file_atomic(const char *path, const void *buf, size_t n, cnn_error *err);
/* The same without the fsync, for many small files made durable together afterwards by one
 * cnn_sync_fs (each file still appears whole or not at all to readers; only a crash before that
 * sync can leave files empty). */
cnn_status cnn_write_file_atomic_nosync(const char *path, const void *buf, size_t n, cnn_error *err);
/* Flushes the file system that holds path (a file or directory) to disk: syncfs(2). */
cnn_status cnn_sync_fs(const char *path, cnn_error *err);
/* mkdir -p for the directory part of path (everything before the last '/'). */
cnn_status cnn_mkdirs_for(const char *path, cnn_error *err);
cnn_status cnn_mkdirs(const char *dir, cnn_error *err);
/* Reads a whole regular file (at most max bytes) into a malloc'd, NUL-terminated buffer. */
cnn_status cnn_read_file(const char *path, size_t max, char **out, size_t *n, cnn_status code,
                         cnn_error *err);
int cnn_is_dir(const char *path);
/* Removes trailing '/' characters (keeping a lone "/"), in place. */
void cnn_strip_slashes(char *path);
int cnn_is_file(const char *path);

#endif
