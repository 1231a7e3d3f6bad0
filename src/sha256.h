/* sha256.h — SHA-256 of a file, for run.json's record of which model files ran (FIPS 180-4). */
#ifndef CNN_SHA256_H
#define CNN_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
} cnn_sha256;

void cnn_sha256_init(cnn_sha256 *s);
void cnn_sha256_update(cnn_sha256 *s, const void *data, size_t n);
void cnn_sha256_final(cnn_sha256 *s, uint8_t out[32]);
/* Hex digest of a file into hex (65 bytes); returns 0, or -1 if it cannot be read. */
int cnn_sha256_file(const char *path, char hex[65]);

#endif
