/* npy.c — see npy.h. Header: magic, version 1.0, u16 length, dict padded to 64 bytes. */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

cnn_status cnn_npy_save(const char *path, const float *data, const int *shape, int ndim,
                        cnn_error *err)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - n, "%d%s", shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        count *= (size_t)shape[i];
    }
    n += snprintf(dict + n, sizeof dict - n, "), }");
    size_t header = 10 + (size_t)n + 1; /* + '\n' */
    size_t pad = (64 - header % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    size_t total = 10 + hlen + count * sizeof(float);
    unsigned char *buf = malloc(total);
    if (!buf) return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + n + pad] = '\n';
    memcpy(buf + 10 + hlen, data, count * sizeof(float));
    cnn_status st = cnn_write_file_atomic(path, buf, total, err);
    free(buf);
    return st;
}
