/* test_weights.c — darknet .weights I/O: save/load round trip, both header layouts (uint32 seen
 * for versions before 0.2, uint64 from 0.2), exact-size enforcement with messages that give
 * expected and actual byte counts, rejection of non-finite parameters and missing files. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "net.h"
#include "testutil.h"

/* Layers with every parameter layout: conv with and without batch-norm, connected with and
 * without batch-norm (darknet order differs between conv and connected). */
static const char CFG[] = "[net]\nwidth=6\nheight=5\nchannels=3\n"
                          "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\n"
                          "activation=leaky\n"
                          "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
                          "[maxpool]\nsize=2\nstride=2\n"
                          "[connected]\nbatch_normalize=1\noutput=5\nactivation=linear\n"
                          "[connected]\noutput=2\nactivation=logistic\n";

/* Counted by hand from the cfg:
 *   conv 4 bn:  biases 4 + scales/mean/var 12 + weights 4*3*3*3 = 108  -> 124
 *   conv 3:     biases 3 + weights 3*4                              ->  15
 *   maxpool:    6x5 -> 3x3 (darknet padding 1), 3 channels: 27 outputs
 *   conn 5 bn:  biases 5 + weights 5*27 + 15                        -> 155
 *   conn 2:     biases 2 + weights 2*5                              ->  12 */
#define CFG_PARAMS (124 + 15 + 155 + 12)

typedef struct {
    char dir[512];
    char path[600];
} tmp_t;

static void tmp_open(tmp_t *t, const char *name)
{
    tu_mkdtemp(t->dir, sizeof t->dir);
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
}

/* Removes every file in the directory, then the directory. */
static void tmp_close(tmp_t *t)
{
    DIR *d = opendir(t->dir);
    if (d) {
        struct dirent *e;
        char p[1200];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(t->dir);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static cnn_net *seeded_net(uint64_t seed)
{
    cnn_net *net = tu_build(CFG, 1);
    cnn_rng rng = cnn_rng_seed(seed);
    cnn_net_init_random(net, &rng);
    return net;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A weights file image: header (major, minor, revision, seen as 4 or 8 little-endian bytes),
 * then n floats; *len receives the size. Caller frees. */
static unsigned char *make_file(int32_t major, int32_t minor, uint64_t seen, int seen_bytes,
                                const float *p, size_t n, size_t *len)
{
    *len = 12 + (size_t)seen_bytes + n * 4;
    unsigned char *b = malloc(*len + 1);
    ck_assert_ptr_nonnull(b);
    put_u32(b, (uint32_t)major);
    put_u32(b + 4, (uint32_t)minor);
    put_u32(b + 8, 7); /* revision */
    put_u32(b + 12, (uint32_t)seen);
    if (seen_bytes == 8) put_u32(b + 16, (uint32_t)(seen >> 32));
    memcpy(b + 12 + seen_bytes, p, n * 4);
    return b;
}

/* Whether the decimal number v occurs in s as a whole number (no digit on either side). */
static int has_number(const char *s, unsigned long long v)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", v);
    size_t k = strlen(num);
    for (const char *p = s; (p = strstr(p, num)); p++) {
        if ((p == s || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[k])) return 1;
    }
    return 0;
}

#define assert_has_number(msg, v)                                                              \
    ck_assert_msg(has_number((msg), (v)), "message \"%s\" lacks the number %llu", (msg),         \
                  (unsigned long long)(v))

START_TEST(test_param_count_matches_cfg)
{
    cnn_net *net = tu_build(CFG, 1);
    ck_assert_uint_eq(net->n_params, CFG_PARAMS);
    ck_assert_uint_eq(net->layers[0].n_params, 124);
    ck_assert_uint_eq(net->layers[3].n_params, 155);
    ck_assert_uint_eq(cnn_net_weights_bytes(net, 0, 2), 20 + 4 * CFG_PARAMS);
    ck_assert_uint_eq(cnn_net_weights_bytes(net, 0, 1), 16 + 4 * CFG_PARAMS);
    ck_assert_uint_eq(cnn_net_weights_bytes(net, 1, 0), 20 + 4 * CFG_PARAMS);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_save_load_round_trip)
{
    tmp_t t;
    tmp_open(&t, "rt.weights");
    cnn_net *a = seeded_net(42);
    a->seen = 0x123456789ull; /* needs more than 32 bits */
    cnn_error err = {0};
    ck_assert_msg(cnn_net_save_weights(a, t.path, &err) == CNN_OK, "%s", err.msg);
    ck_assert_int_eq(count_files(t.dir), 1); /* no temporary left behind */

    struct stat st;
    ck_assert_int_eq(stat(t.path, &st), 0);
    ck_assert_uint_eq((uint64_t)st.st_size, 20 + 4 * CFG_PARAMS);
    unsigned char hdr[20];
    FILE *f = fopen(t.path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(hdr, 1, 20, f), 20);
    fclose(f);
    const unsigned char want_hdr[20] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                        0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0};
    ck_assert_msg(memcmp(hdr, want_hdr, 20) == 0, "header bytes differ from 0.2.0, seen 0x123456789");

    cnn_net *b = tu_build(CFG, 1);
    ck_assert_msg(cnn_net_load_weights(b, t.path, &err) == CNN_OK, "%s", err.msg);
    ck_assert_uint_eq(b->n_params, a->n_params);
    ck_assert_msg(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
                  "parameters differ after the round trip");
    ck_assert_uint_eq(b->seen, 0x123456789ull);
    ck_assert_int_eq(b->major, 0);
    ck_assert_int_eq(b->minor, 2);

    /* load also prepared the derived parameters: same input, same output */
    cnn_rng rng = cnn_rng_seed(7);
    tu_fill(a->input, cnn_shape_size(a->in), &rng, 0, 1);
    memcpy(b->input, a->input, cnn_shape_size(a->in) * sizeof(float));
    cnn_net_forward(a, NULL);
    cnn_net_forward(b, NULL);
    const cnn_layer *oa = cnn_net_output(a), *ob = cnn_net_output(b);
    ck_assert_msg(memcmp(oa->output, ob->output, cnn_shape_size(oa->out) * sizeof(float)) == 0,
                  "outputs differ after loading the saved weights");

    /* saving again over the file replaces it atomically */
    a->params[0] += 1.0f;
    ck_assert_msg(cnn_net_save_weights(a, t.path, &err) == CNN_OK, "%s", err.msg);
    ck_assert_int_eq(count_files(t.dir), 1);
    ck_assert_msg(cnn_net_load_weights(b, t.path, &err) == CNN_OK, "%s", err.msg);
    ck_assert_float_eq(b->params[0], a->params[0]);
    cnn_net_free(a);
    cnn_net_free(b);
    tmp_close(&t);
}
END_TEST

/* Writes a file with the given header and the seeded parameters, loads it into a fresh network
 * and checks parameters, version and seen. */
static void check_header_loads(int32_t major, int32_t minor, uint64_t seen, int seen_bytes)
{
    tmp_t t;
    tmp_open(&t, "v.weights");
    cnn_net *a = seeded_net(5);
    size_t len;
    unsigned char *file = make_file(major, minor, seen, seen_bytes, a->params, a->n_params, &len);
    tu_write(t.path, file, len);
    cnn_net *b = tu_build(CFG, 1);
    cnn_error err = {0};
    cnn_status st = cnn_net_load_weights(b, t.path, &err);
    ck_assert_msg(st == CNN_OK, "version %d.%d with %d-byte seen: %s", major, minor, seen_bytes,
                  err.msg);
    ck_assert_msg(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
                  "version %d.%d: parameters read from the wrong offset", major, minor);
    ck_assert_int_eq(b->major, major);
    ck_assert_int_eq(b->minor, minor);
    ck_assert_int_eq(b->revision, 7);
    ck_assert_uint_eq(b->seen, seen);
    free(file);
    cnn_net_free(a);
    cnn_net_free(b);
    tmp_close(&t);
}

START_TEST(test_header_v01_uint32_seen)
{
    check_header_loads(0, 1, 0xDEADBEEFu, 4);
}
END_TEST

START_TEST(test_header_v02_uint64_seen)
{
    check_header_loads(0, 2, 0x0000000500000003ull, 8);
}
END_TEST

START_TEST(test_header_v10_uint64_seen)
{
    /* darknet: seen is 64-bit when major*10 + minor >= 2 */
    check_header_loads(1, 0, 32013312ull, 8);
}
END_TEST

START_TEST(test_header_v01_with_uint64_seen_rejected)
{
    /* a 0.1 header followed by 8 bytes of seen is 4 bytes too long for 0.1 */
    tmp_t t;
    tmp_open(&t, "v.weights");
    cnn_net *a = seeded_net(5);
    size_t len;
    unsigned char *file = make_file(0, 1, 99, 8, a->params, a->n_params, &len);
    tu_write(t.path, file, len);
    cnn_error err = {0};
    ck_assert_int_eq(cnn_net_load_weights(a, t.path, &err), CNN_ERR_MODEL);
    assert_has_number(err.msg, 16 + 4 * CFG_PARAMS);
    assert_has_number(err.msg, 20 + 4 * CFG_PARAMS);
    free(file);
    cnn_net_free(a);
    tmp_close(&t);
}
END_TEST

/* A 0.2 file whose length is changed by delta bytes (truncated, or padded with zeros). */
static void check_size_rejected(long delta)
{
    tmp_t t;
    tmp_open(&t, "s.weights");
    cnn_net *net = seeded_net(11);
    const size_t expected = 20 + 4 * net->n_params;
    const size_t actual = (size_t)((long)expected + delta);
    unsigned char *buf = calloc(expected + 16, 1);
    ck_assert_ptr_nonnull(buf);
    size_t len;
    unsigned char *file = make_file(0, 2, 1, 8, net->params, net->n_params, &len);
    ck_assert_uint_eq(len, expected);
    memcpy(buf, file, len);
    tu_write(t.path, buf, actual);

    float *before = malloc(net->n_params * sizeof(float));
    ck_assert_ptr_nonnull(before);
    memcpy(before, net->params, net->n_params * sizeof(float));
    cnn_error err = {0};
    cnn_status st = cnn_net_load_weights(net, t.path, &err);
    ck_assert_msg(st == CNN_ERR_MODEL, "%zu-byte file (%+ld): status %d, want %d", actual, delta,
                  (int)st, CNN_ERR_MODEL);
    assert_has_number(err.msg, expected);
    assert_has_number(err.msg, actual);
    tu_assert_msg_has(err.msg, t.path);
    ck_assert_msg(memcmp(before, net->params, net->n_params * sizeof(float)) == 0,
                  "a rejected file changed the parameters");
    free(before);
    free(file);
    free(buf);
    cnn_net_free(net);
    tmp_close(&t);
}

START_TEST(test_short_by_one_float)
{
    check_size_rejected(-4);
}
END_TEST

START_TEST(test_long_by_one_float)
{
    check_size_rejected(4);
}
END_TEST

START_TEST(test_short_by_one_byte)
{
    check_size_rejected(-1);
}
END_TEST

START_TEST(test_long_by_one_byte)
{
    check_size_rejected(1);
}
END_TEST

START_TEST(test_header_only)
{
    check_size_rejected(-(long)(4 * CFG_PARAMS));
}
END_TEST

START_TEST(test_partial_header)
{
    check_size_rejected(-(long)(4 * CFG_PARAMS) - 10);
}
END_TEST

START_TEST(test_empty_file)
{
    check_size_rejected(-(long)(20 + 4 * CFG_PARAMS));
}
END_TEST

static void check_nonfinite_rejected(float bad, size_t at)
{
    tmp_t t;
    tmp_open(&t, "nan.weights");
    cnn_net *net = seeded_net(3);
    ck_assert_uint_lt(at, net->n_params);
    net->params[at] = bad;
    size_t len;
    unsigned char *file = make_file(0, 2, 0, 8, net->params, net->n_params, &len);
    tu_write(t.path, file, len);
    cnn_net *b = tu_build(CFG, 1);
    cnn_error err = {0};
    cnn_status st = cnn_net_load_weights(b, t.path, &err);
    ck_assert_msg(st == CNN_ERR_MODEL, "non-finite parameter %zu accepted (status %d)", at, (int)st);
    assert_has_number(err.msg, 20 + 4 * at); /* where in the file */
    free(file);
    cnn_net_free(net);
    cnn_net_free(b);
    tmp_close(&t);
}

START_TEST(test_nan_rejected)
{
    check_nonfinite_rejected(NAN, 0);
    check_nonfinite_rejected(NAN, 130); /* inside layer 1 */
    check_nonfinite_rejected(NAN, CFG_PARAMS - 1);
}
END_TEST

START_TEST(test_inf_rejected)
{
    check_nonfinite_rejected(INFINITY, 200);
    check_nonfinite_rejected(-INFINITY, 5);
}
END_TEST

START_TEST(test_bad_version_rejected)
{
    tmp_t t;
    tmp_open(&t, "ver.weights");
    cnn_net *net = seeded_net(1);
    size_t len;
    unsigned char *file = make_file(-1, 2, 0, 8, net->params, net->n_params, &len);
    tu_write(t.path, file, len);
    cnn_error err = {0};
    ck_assert_int_eq(cnn_net_load_weights(net, t.path, &err), CNN_ERR_MODEL);
    free(file);
    cnn_net_free(net);
    tmp_close(&t);
}
END_TEST

START_TEST(test_nonexistent_file)
{
    tmp_t t;
    tmp_open(&t, "missing.weights");
    cnn_net *net = tu_build(CFG, 1);
    cnn_error err = {0};
    ck_assert_int_eq(cnn_net_load_weights(net, t.path, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, t.path);
    /* a directory is not a weights file either */
    ck_assert_int_eq(cnn_net_load_weights(net, t.dir, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, t.dir);
    cnn_net_free(net);
    tmp_close(&t);
}
END_TEST

START_TEST(test_save_to_missing_directory)
{
    tmp_t t;
    tmp_open(&t, "no/such/dir/x.weights");
    cnn_net *net = seeded_net(2);
    cnn_error err = {0};
    cnn_status st = cnn_net_save_weights(net, t.path, &err);
    ck_assert_msg(st != CNN_OK, "saving into a missing directory reported success");
    ck_assert_int_eq(st, CNN_ERR_OUTPUT);
    cnn_net_free(net);
    tmp_close(&t);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, test_param_count_matches_cfg);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_save_to_missing_directory);
    suite_add_tcase(s, tc);

    tc = tcase_create("header");
    tcase_add_test(tc, test_header_v01_uint32_seen);
    tcase_add_test(tc, test_header_v02_uint64_seen);
    tcase_add_test(tc, test_header_v10_uint64_seen);
    tcase_add_test(tc, test_header_v01_with_uint64_seen_rejected);
    tcase_add_test(tc, test_bad_version_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("size");
    tcase_add_test(tc, test_short_by_one_float);
    tcase_add_test(tc, test_long_by_one_float);
    tcase_add_test(tc, test_short_by_one_byte);
    tcase_add_test(tc, test_long_by_one_byte);
    tcase_add_test(tc, test_header_only);
    tcase_add_test(tc, test_partial_header);
    tcase_add_test(tc, test_empty_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("content");
    tcase_add_test(tc, test_nan_rejected);
    tcase_add_test(tc, test_inf_rejected);
    tcase_add_test(tc, test_nonexistent_file);
    suite_add_tcase(s, tc);
    return s;
}
