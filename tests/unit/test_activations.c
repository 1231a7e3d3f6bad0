/* test_activations.c — activation names (darknet spelling, the silu alias, unknown names fail),
 * values at hand-computed points, derivatives against central finite differences away from the
 * kinks, and the array / fused bias+activation passes against the scalar function. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "activations.h"
#include "rng.h"
#include "testutil.h"

START_TEST(test_parse_names)
{
    static const struct {
        const char *name;
        cnn_activation a;
    } known[] = {
        {"linear", CNN_ACT_LINEAR}, {"relu", CNN_ACT_RELU},         {"leaky", CNN_ACT_LEAKY},
        {"relu6", CNN_ACT_RELU6},   {"elu", CNN_ACT_ELU},           {"selu", CNN_ACT_SELU},
        {"logistic", CNN_ACT_LOGISTIC}, {"tanh", CNN_ACT_TANH},     {"swish", CNN_ACT_SWISH},
        {"silu", CNN_ACT_SWISH},    {"mish", CNN_ACT_MISH},         {"hardswish", CNN_ACT_HARDSWISH},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        cnn_activation a = CNN_ACT_COUNT;
        ck_assert_msg(cnn_activation_parse(known[i].name, &a) == 0, "'%s' not accepted",
                      known[i].name);
        ck_assert_msg(a == known[i].a, "'%s' parsed as %d, want %d", known[i].name, (int)a,
                      (int)known[i].a);
    }
    /* every enum value has a name that parses back to it */
    for (int a = 0; a < CNN_ACT_COUNT; a++) {
        cnn_activation back = CNN_ACT_COUNT;
        const char *name = cnn_activation_name((cnn_activation)a);
        ck_assert_msg(cnn_activation_parse(name, &back) == 0 && back == (cnn_activation)a,
                      "name '%s' of %d does not round-trip", name, a);
    }
}
END_TEST

START_TEST(test_parse_unknown)
{
    /* darknet kinds we do not implement must fail rather than become ReLU, and matching is
     * exact: case, whitespace and prefixes count */
    static const char *const bad[] = {"", "Leaky", "leaky ", " leaky", "leak", "leakyy",
                                      "ramp", "plse", "lhtan", "loggy", "relie", "normalize_channels",
                                      "gelu", "SILU", "hard_swish"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cnn_activation a = CNN_ACT_MISH;
        ck_assert_msg(cnn_activation_parse(bad[i], &a) == -1, "'%s' was accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_hand_values)
{
    const double e = exp(1.0);
    const double selu_l = 1.0507009873554805, selu_a = 1.6732632423543772;
    const struct {
        cnn_activation a;
        float x;
        double want; /* worked out from the definition */
    } pts[] = {
        {CNN_ACT_LINEAR, -3.5f, -3.5},
        {CNN_ACT_RELU, -1.0f, 0.0},
        {CNN_ACT_RELU, 2.5f, 2.5},
        {CNN_ACT_LEAKY, -2.0f, -0.2},            /* 0.1 * -2 */
        {CNN_ACT_LEAKY, 3.0f, 3.0},
        {CNN_ACT_RELU6, 7.0f, 6.0},
        {CNN_ACT_RELU6, -1.0f, 0.0},
        {CNN_ACT_RELU6, 3.0f, 3.0},
        {CNN_ACT_ELU, -1.0f, 1.0 / e - 1.0},     /* e^-1 - 1 = -0.63212 */
        {CNN_ACT_ELU, 2.0f, 2.0},
        {CNN_ACT_SELU, -1.0f, selu_l * selu_a * (1.0 / e - 1.0)}, /* -1.11133 */
        {CNN_ACT_SELU, 2.0f, 2.0 * selu_l},                      /* 2.10140 */
        {CNN_ACT_LOGISTIC, 0.0f, 0.5},
        {CNN_ACT_LOGISTIC, 2.0f, 1.0 / (1.0 + 1.0 / (e * e))}, /* 0.88080 */
        {CNN_ACT_TANH, 0.0f, 0.0},
        {CNN_ACT_TANH, 0.5f, (e - 1.0) / (e + 1.0)}, /* tanh(x) = (e^2x - 1)/(e^2x + 1) */
        {CNN_ACT_SWISH, 1.0f, 1.0 / (1.0 + 1.0 / e)}, /* 1 * logistic(1) = 0.73106 */
        {CNN_ACT_SWISH, 0.0f, 0.0},
        /* mish(1) = tanh(ln(1 + e)); tanh(ln u) = (u^2 - 1)/(u^2 + 1) with u = 1 + e */
        {CNN_ACT_MISH, 1.0f, ((1 + e) * (1 + e) - 1) / ((1 + e) * (1 + e) + 1)}, /* 0.86510 */
        /* mish(-1) = -tanh(ln(1 + 1/e)) */
        {CNN_ACT_MISH, -1.0f, -((1 + 1 / e) * (1 + 1 / e) - 1) / ((1 + 1 / e) * (1 + 1 / e) + 1)},
        {CNN_ACT_MISH, 30.0f, 30.0}, /* softplus(30) = 30 to float precision, tanh = 1 */
        {CNN_ACT_HARDSWISH, 1.0f, 4.0 / 6.0},  /* 1 * (1 + 3) / 6 */
        {CNN_ACT_HARDSWISH, -1.0f, -2.0 / 6.0}, /* -1 * (2) / 6 */
        {CNN_ACT_HARDSWISH, -4.0f, 0.0},
        {CNN_ACT_HARDSWISH, 4.0f, 4.0},
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        const float got = cnn_activate(pts[i].x, pts[i].a);
        ck_assert_msg(fabs(got - pts[i].want) <= 2e-6 * fabs(pts[i].want) + 1e-7,
                      "%s(%g) = %.9g, want %.9g", cnn_activation_name(pts[i].a), pts[i].x, got,
                      pts[i].want);
    }
}
END_TEST

START_TEST(test_saturation_no_nan)
{
    /* far from 0 every function stays finite, and the bounded ones stay in range */
    static const float xs[] = {-1e4f, -100.0f, -30.0f, 30.0f, 100.0f, 1e4f};
    for (int a = 0; a < CNN_ACT_COUNT; a++)
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            const float y = cnn_activate(xs[i], (cnn_activation)a);
            const float g = cnn_activation_grad(xs[i], (cnn_activation)a);
            ck_assert_msg(isfinite(y) && isfinite(g), "%s(%g) = %g, grad %g",
                          cnn_activation_name((cnn_activation)a), xs[i], y, g);
        }
    ck_assert(cnn_activate(-100.0f, CNN_ACT_LOGISTIC) >= 0);
    ck_assert(cnn_activate(100.0f, CNN_ACT_LOGISTIC) <= 1);
    ck_assert(cnn_activate(-100.0f, CNN_ACT_TANH) >= -1);
    ck_assert(fabsf(cnn_activate(-100.0f, CNN_ACT_MISH)) < 1e-20f);
    ck_assert(fabsf(cnn_activate(-100.0f, CNN_ACT_SWISH)) < 1e-20f);
}
END_TEST

/* Points where the derivative is not defined or jumps: finite differences there mean nothing. */
static int near_kink(cnn_activation a, double x, double dist)
{
    switch (a) {
    case CNN_ACT_RELU:
    case CNN_ACT_LEAKY:
    case CNN_ACT_LEAKY_001:
    case CNN_ACT_PRELU:
    case CNN_ACT_ELU:
    case CNN_ACT_SELU: return fabs(x) < dist;
    case CNN_ACT_RELU6: return fabs(x) < dist || fabs(x - 6) < dist;
    case CNN_ACT_HARDSWISH: return fabs(x + 3) < dist || fabs(x - 3) < dist;
    default: return 0;
    }
}

START_TEST(test_grad_finite_differences)
{
    /* central differences in float with step h: truncation ~ h^2 f'''/6, rounding ~ eps |f| / h.
     * Points closer than 1e-2 to a kink are skipped; the step is smaller than that distance so
     * no stencil straddles a kink. */
    const float h = 4e-3f;
    for (int ai = 0; ai < CNN_ACT_COUNT; ai++) {
        const cnn_activation a = (cnn_activation)ai;
        int checked = 0;
        for (int k = -800; k <= 800; k++) {
            const float x = (float)k * 0.0123f; /* -9.84 .. 9.84, not landing on the kinks */
            if (near_kink(a, x, 1e-2)) continue;
            const double fd =
                ((double)cnn_activate(x + h, a) - (double)cnn_activate(x - h, a)) / (2.0 * h);
            const double g = cnn_activation_grad(x, a);
            const double tol = 2e-4 * (1 + fabs(g)) + 1e-6 * fabs(cnn_activate(x, a)) / h;
            ck_assert_msg(fabs(g - fd) <= tol, "%s'(%g) = %.7g, finite difference %.7g",
                          cnn_activation_name(a), x, g, fd);
            checked++;
        }
        ck_assert_int_gt(checked, 1500);
    }
}
END_TEST

START_TEST(test_grad_hand_values)
{
    /* one-sided values at and around the kinks, from the definitions */
    ck_assert_float_eq(cnn_activation_grad(-2.0f, CNN_ACT_LEAKY), 0.1f);
    ck_assert_float_eq(cnn_activation_grad(2.0f, CNN_ACT_LEAKY), 1.0f);
    ck_assert_float_eq(cnn_activation_grad(-2.0f, CNN_ACT_RELU), 0.0f);
    ck_assert_float_eq(cnn_activation_grad(7.0f, CNN_ACT_RELU6), 0.0f);
    ck_assert_float_eq(cnn_activation_grad(5.0f, CNN_ACT_RELU6), 1.0f);
    ck_assert_float_eq(cnn_activation_grad(-4.0f, CNN_ACT_HARDSWISH), 0.0f);
    ck_assert_float_eq(cnn_activation_grad(4.0f, CNN_ACT_HARDSWISH), 1.0f);
    ck_assert_float_eq_tol(cnn_activation_grad(0.0f, CNN_ACT_HARDSWISH), 0.5f, 1e-7f); /* (2x+3)/6 */
    ck_assert_float_eq_tol(cnn_activation_grad(0.0f, CNN_ACT_LOGISTIC), 0.25f, 1e-7f);
    ck_assert_float_eq_tol(cnn_activation_grad(0.0f, CNN_ACT_TANH), 1.0f, 1e-7f);
    ck_assert_float_eq_tol(cnn_activation_grad(0.0f, CNN_ACT_SWISH), 0.5f, 1e-7f);
    /* mish'(0) = tanh(ln 2) = 3/5 */
    ck_assert_float_eq_tol(cnn_activation_grad(0.0f, CNN_ACT_MISH), 0.6f, 1e-6f);
    ck_assert_float_eq_tol(cnn_activation_grad(-1.0f, CNN_ACT_ELU), (float)exp(-1.0), 1e-6f);
    ck_assert_float_eq_tol(cnn_activation_grad(1.0f, CNN_ACT_SELU), 1.0507009873554805f, 1e-6f);
}
END_TEST

START_TEST(test_activate_array)
{
    cnn_rng rng = cnn_rng_seed(31);
    float x[257], y[257];
    for (int ai = 0; ai < CNN_ACT_COUNT; ai++) {
        const cnn_activation a = (cnn_activation)ai;
        tu_fill(x, 257, &rng, -8, 8);
        memcpy(y, x, sizeof x);
        cnn_activate_array(y, 257, a);
        for (int i = 0; i < 257; i++) {
            const float want = cnn_activate(x[i], a);
            ck_assert_msg(fabsf(y[i] - want) <= 1e-6f * fabsf(want) + 1e-7f,
                          "%s array[%d]: %.9g vs scalar %.9g", cnn_activation_name(a), i, y[i], want);
        }
    }
}
END_TEST

START_TEST(test_bias_activate)
{
    enum { C = 3, S = 7 };
    cnn_rng rng = cnn_rng_seed(32);
    float y[C * S], y0[C * S], bias[C];
    for (int ai = 0; ai < CNN_ACT_COUNT; ai++) {
        const cnn_activation a = (cnn_activation)ai;
        tu_fill(y0, C * S, &rng, -5, 5);
        tu_fill(bias, C, &rng, -2, 2);
        memcpy(y, y0, sizeof y);
        cnn_bias_activate(y, bias, C, S, a);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < S; i++) {
                const float v = y0[c * S + i] + bias[c]; /* bias first, then activation */
                const float want = cnn_activate(v, a);
                ck_assert_msg(fabsf(y[c * S + i] - want) <= 1e-6f * fabsf(want) + 1e-7f,
                              "%s bias_activate[%d][%d]: %.9g, want %.9g", cnn_activation_name(a),
                              c, i, y[c * S + i], want);
            }
        /* a NULL bias means activation only */
        memcpy(y, y0, sizeof y);
        cnn_bias_activate(y, NULL, C, S, a);
        for (int i = 0; i < C * S; i++) {
            const float want = cnn_activate(y0[i], a);
            ck_assert_msg(fabsf(y[i] - want) <= 1e-6f * fabsf(want) + 1e-7f,
                          "%s with NULL bias [%d]: %.9g, want %.9g", cnn_activation_name(a), i, y[i],
                          want);
        }
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("activations");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_parse_names);
    tcase_add_test(tc, test_parse_unknown);
    suite_add_tcase(s, tc);
    tc = tcase_create("values");
    tcase_add_test(tc, test_hand_values);
    tcase_add_test(tc, test_saturation_no_nan);
    tcase_add_test(tc, test_grad_finite_differences);
    tcase_add_test(tc, test_grad_hand_values);
    tcase_add_test(tc, test_activate_array);
    tcase_add_test(tc, test_bias_activate);
    suite_add_tcase(s, tc);
    return s;
}
