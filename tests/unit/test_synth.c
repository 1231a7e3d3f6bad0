/* test_synth.c — unit tests for synth.c, the synthetic tumour phantom: determinism from
 * (seed, index) alone, boxes that lie inside the image and on bright pixels, the share of
 * slices with lesions, anatomy independent of the lesion probability, option checks. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

typedef struct {
    int n;
    uint8_t *px;
    float *work;
} slice_buf;

static slice_buf buf_new(int n)
{
    slice_buf b = {n, malloc((size_t)n * (size_t)n), malloc(cnn_synth_work_floats(n) * sizeof(float))};
    ck_assert_ptr_nonnull(b.px);
    ck_assert_ptr_nonnull(b.work);
    return b;
}

static void buf_free(slice_buf *b)
{
    free(b->px);
    free(b->work);
}

static void render(slice_buf *b, uint64_t seed, uint64_t index, float prob, cnn_synth_info *info)
{
    const cnn_synth_opts o = {b->n, prob};
    cnn_error err = {0};
    cnn_status st = cnn_synth_tumour_slice(seed, index, &o, b->px, b->work, info, &err);
    ck_assert_msg(st == CNN_OK, "slice %llu failed: %s", (unsigned long long)index, err.msg);
}

/* Mean of the pixels inside the brain ellipse of info. */
static double brain_mean(const uint8_t *px, int n, const cnn_synth_info *info)
{
    float c = cosf(info->brain_angle), s = sinf(info->brain_angle);
    double sum = 0;
    long cnt = 0;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            float dx = (float)x + 0.5f - info->brain_cx, dy = (float)y + 0.5f - info->brain_cy;
            float u = (c * dx + s * dy) / info->brain_ax, v = (-s * dx + c * dy) / info->brain_ay;
            if (u * u + v * v < 1.0f) sum += px[y * n + x], cnt++;
        }
    ck_assert_int_gt(cnt, n * n / 10);
    return sum / (double)cnt;
}

static double box_mean(const uint8_t *px, int n, const cnn_synth_box *b)
{
    double sum = 0;
    long cnt = 0;
    for (int y = (int)b->y0; y < (int)ceilf(b->y1) && y < n; y++)
        for (int x = (int)b->x0; x < (int)ceilf(b->x1) && x < n; x++) sum += px[y * n + x], cnt++;
    ck_assert_int_gt(cnt, 0);
    return sum / (double)cnt;
}

START_TEST(same_seed_same_pixels)
{
    slice_buf a = buf_new(128), b = buf_new(128);
    cnn_synth_info ia, ib;
    for (int i = 0; i < 8; i++) {
        render(&a, 42, (uint64_t)i, 0.5f, &ia);
        memset(b.work, 0xff, cnn_synth_work_floats(128) * sizeof(float)); /* NaN garbage: unused */
        render(&b, 42, (uint64_t)i, 0.5f, &ib);
        ck_assert_msg(memcmp(a.px, b.px, 128 * 128) == 0, "slice %d differs between two renders", i);
        ck_assert_int_eq(ia.n_lesions, ib.n_lesions);
        ck_assert_msg(memcmp(ia.lesion, ib.lesion, sizeof ia.lesion) == 0, "slice %d boxes differ", i);
    }
    render(&b, 43, 0, 0.5f, &ib);
    render(&a, 42, 0, 0.5f, &ia);
    ck_assert_msg(memcmp(a.px, b.px, 128 * 128) != 0, "seeds 42 and 43 give the same slice 0");
    render(&b, 42, 1, 0.5f, &ib);
    ck_assert_msg(memcmp(a.px, b.px, 128 * 128) != 0, "slices 0 and 1 are the same");
    buf_free(&a);
    buf_free(&b);
}
END_TEST

/* Slice i depends on (seed, i) only, not on what was rendered before: a run of 10 slices and
 * a run of 3 agree on their first 3, in either order. */
START_TEST(prefix_property)
{
    slice_buf a = buf_new(96), b = buf_new(96);
    cnn_synth_info info;
    uint8_t first[3][96 * 96];
    for (int i = 0; i < 10; i++) {
        render(&a, 7, (uint64_t)i, 0.5f, &info);
        if (i < 3) memcpy(first[i], a.px, sizeof first[i]);
    }
    for (int i = 2; i >= 0; i--) {
        render(&b, 7, (uint64_t)i, 0.5f, &info);
        ck_assert_msg(memcmp(first[i], b.px, sizeof first[i]) == 0, "slice %d depends on the run", i);
    }
    buf_free(&a);
    buf_free(&b);
}
END_TEST

/* Boxes inside the image, well-formed, and on the bright mass: the mean inside each box clearly
 * above the mean of the same slice's brain without lesions (the anatomy does not depend on the
 * lesion probability, so the lesion-free render is the same brain). */
START_TEST(boxes_inside_and_bright)
{
    const int n = 128;
    slice_buf a = buf_new(n), b = buf_new(n);
    int boxes = 0;
    for (int i = 0; i < 200; i++) {
        cnn_synth_info info, plain;
        render(&a, 5, (uint64_t)i, 1.0f, &info);
        render(&b, 5, (uint64_t)i, 0.0f, &plain);
        ck_assert_int_ge(info.n_lesions, 1);
        ck_assert_int_le(info.n_lesions, CNN_SYNTH_MAX_LESIONS);
        double brain = brain_mean(b.px, n, &plain);
        for (int j = 0; j < info.n_lesions; j++) {
            const cnn_synth_box *bx = &info.lesion[j];
            ck_assert_msg(bx->x0 >= 0 && bx->y0 >= 0 && bx->x1 <= n && bx->y1 <= n,
                          "slice %d box %d outside the image", i, j);
            /* at 128 px the mass radius is 4..22 px before its outline is perturbed by up to 56% */
            ck_assert_msg(bx->x1 - bx->x0 >= 4.0f && bx->y1 - bx->y0 >= 4.0f, "slice %d box %d too small", i, j);
            ck_assert_msg(bx->x1 - bx->x0 <= 70.0f && bx->y1 - bx->y0 <= 70.0f, "slice %d box %d too big", i, j);
            double ratio = box_mean(a.px, n, bx) / brain;
            ck_assert_msg(ratio > 1.3, "slice %d box %d: mean %.1f is not clearly above the brain's %.1f", i, j,
                          box_mean(a.px, n, bx), brain);
            boxes++;
        }
    }
    ck_assert_int_ge(boxes, 200);
    buf_free(&a);
    buf_free(&b);
}
END_TEST

START_TEST(lesion_fraction)
{
    slice_buf a = buf_new(64);
    cnn_synth_info info;
    int with = 0, one = 0;
    for (int i = 0; i < 400; i++) {
        render(&a, 11, (uint64_t)i, 0.5f, &info);
        with += info.n_lesions > 0;
        one += info.n_lesions == 1;
    }
    ck_assert_msg(with >= 160 && with <= 240, "%d of 400 slices have lesions at p = 0.5", with);
    ck_assert_msg(one > with / 2, "only %d of %d lesion slices have a single lesion", one, with);
    for (int i = 0; i < 100; i++) {
        render(&a, 11, (uint64_t)i, 0.0f, &info);
        ck_assert_msg(info.n_lesions == 0, "slice %d has lesions at p = 0", i);
        render(&a, 11, (uint64_t)i, 1.0f, &info);
        ck_assert_msg(info.n_lesions > 0, "slice %d has no lesion at p = 1", i);
    }
    buf_free(&a);
}
END_TEST

/* A slice without lesions is the same picture whatever the lesion probability. */
START_TEST(anatomy_independent_of_probability)
{
    slice_buf a = buf_new(128), b = buf_new(128);
    cnn_synth_info ia, ib;
    int compared = 0;
    for (int i = 0; i < 20; i++) {
        render(&a, 3, (uint64_t)i, 0.5f, &ia);
        if (ia.n_lesions) continue;
        render(&b, 3, (uint64_t)i, 0.0f, &ib);
        ck_assert_msg(memcmp(a.px, b.px, 128 * 128) == 0, "slice %d changes with the probability", i);
        compared++;
    }
    ck_assert_int_gt(compared, 0);
    buf_free(&a);
    buf_free(&b);
}
END_TEST

/* Outside the head is dark noise, the brain is mid-grey: a picture, not a blank. */
START_TEST(looks_like_a_slice)
{
    const int sizes[] = {64, 128, 300, 1024};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int n = sizes[k];
        slice_buf a = buf_new(n);
        cnn_synth_info info;
        render(&a, 1, 0, 0.0f, &info);
        double corner = 0;
        for (int y = 0; y < n / 16; y++)
            for (int x = 0; x < n / 16; x++) corner += a.px[y * n + x];
        corner /= (double)(n / 16) * (n / 16);
        double brain = brain_mean(a.px, n, &info);
        ck_assert_msg(corner < 25, "size %d: background mean %.1f", n, corner);
        ck_assert_msg(brain > 60 && brain < 200, "size %d: brain mean %.1f", n, brain);
        ck_assert_msg(info.brain_ax > n * 0.2f && info.brain_ay < n * 0.5f, "size %d: brain %.1f x %.1f", n,
                      info.brain_ax, info.brain_ay);
        buf_free(&a);
    }
}
END_TEST

START_TEST(bad_options)
{
    uint8_t px[1];
    float work[1];
    cnn_synth_info info;
    cnn_error err = {0};
    const cnn_synth_opts bad[] = {{63, 0.5f}, {1025, 0.5f}, {128, -0.1f}, {128, 1.5f}, {128, NAN}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ck_assert_int_eq(cnn_synth_tumour_slice(1, 0, &bad[k], px, work, &info, &err), CNN_ERR_USAGE);
        ck_assert_msg(strstr(err.msg, "synth") != NULL, "message: %s", err.msg);
    }
    ck_assert_uint_eq(cnn_synth_work_floats(63), 0);
    ck_assert_uint_eq(cnn_synth_work_floats(128), 4 * 128 * 128);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("synth");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_seed_same_pixels);
    tcase_add_test(tc, prefix_property);
    tcase_add_test(tc, boxes_inside_and_bright);
    tcase_add_test(tc, lesion_fraction);
    tcase_add_test(tc, anatomy_independent_of_probability);
    tcase_add_test(tc, looks_like_a_slice);
    tcase_add_test(tc, bad_options);
    suite_add_tcase(s, tc);
    return s;
}
