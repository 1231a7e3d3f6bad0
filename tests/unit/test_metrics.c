/* test_metrics.c — the metrics of `cnndemo val` on cases worked out by hand: top-k rank with
 * ties, confusion matrix -> precision / recall / F1 and their macro means, sensitivity and
 * specificity, ROC AUC with tied scores, and COCO-style AP (a 3-box / 5-detection example,
 * perfect and missing detections, duplicates, the IoU threshold, matching per class and image,
 * best-unmatched matching) and mAP over classes and IoU 0.5:0.95. */
#include <check.h>
#include <math.h>

#include "metrics.h"

#define EPS 1e-12

static void assert_near(double got, double want, const char *what)
{
    ck_assert_msg(fabs(got - want) < EPS, "%s: got %.15g, want %.15g", what, got, want);
}

/* ---- classification ---- */

START_TEST(test_rank_ties)
{
    /* order as cnn_topk gives it: 1 (0.5), 3 (0.5, tie broken by the lower id), 2, 0 */
    const float p[4] = {0.1f, 0.5f, 0.2f, 0.5f};
    ck_assert_int_eq(cnn_metric_rank(p, 4, 1), 0);
    ck_assert_int_eq(cnn_metric_rank(p, 4, 3), 1);
    ck_assert_int_eq(cnn_metric_rank(p, 4, 2), 2);
    ck_assert_int_eq(cnn_metric_rank(p, 4, 0), 3);
}
END_TEST

START_TEST(test_prf_hand_example)
{
    /* rows = true class, columns = predicted; class 3 never occurs and is never predicted.
     *            pred 0  1  2  3    support
     *   true 0      5  1  0  0    6
     *   true 1      2  3  1  0    6
     *   true 2      0  0  4  0    4
     *   true 3      0  0  0  0    0
     *   predicted   7  4  5  0
     * precision 5/7, 3/4, 4/5; recall 5/6, 3/6, 4/4;
     * F1 = 2TP / (2TP + FP + FN): 10/13, 6/10, 8/9. */
    const long long cm[16] = {5, 1, 0, 0, 2, 3, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0};
    cnn_class_prf c[4];
    cnn_metric_prf(cm, 4, c);
    const double prec[3] = {5.0 / 7, 3.0 / 4, 4.0 / 5}, rec[3] = {5.0 / 6, 0.5, 1.0},
                 f1[3] = {10.0 / 13, 0.6, 8.0 / 9};
    const long long support[3] = {6, 6, 4}, predicted[3] = {7, 4, 5}, tp[3] = {5, 3, 4};
    for (int k = 0; k < 3; k++) {
        assert_near(c[k].precision, prec[k], "precision");
        assert_near(c[k].recall, rec[k], "recall");
        assert_near(c[k].f1, f1[k], "f1");
        ck_assert_int_eq(c[k].support, support[k]);
        ck_assert_int_eq(c[k].predicted, predicted[k]);
        ck_assert_int_eq(c[k].tp, tp[k]);
    }
    ck_assert(c[3].precision == 0 && c[3].recall == 0 && c[3].f1 == 0 && c[3].support == 0);
    double p, r, f;
    ck_assert_int_eq(cnn_metric_macro(c, 4, &p, &r, &f), 3); /* class 3 does not occur */
    assert_near(p, (5.0 / 7 + 0.75 + 0.8) / 3, "macro precision");
    assert_near(r, (5.0 / 6 + 0.5 + 1.0) / 3, "macro recall");
    assert_near(f, (10.0 / 13 + 0.6 + 8.0 / 9) / 3, "macro f1");
}
END_TEST

START_TEST(test_prf_predicted_but_absent)
{
    /* class 1 has no samples but is predicted once: precision 0, recall 0, F1 0, and it counts
     * in the macro mean (a wrong prediction of a class that is not there is an error) */
    const long long cm[4] = {3, 1, 0, 0};
    cnn_class_prf c[2];
    cnn_metric_prf(cm, 2, c);
    assert_near(c[0].precision, 1.0, "precision 0");
    assert_near(c[0].recall, 0.75, "recall 0");
    ck_assert(c[1].precision == 0 && c[1].recall == 0 && c[1].f1 == 0);
    double p, r, f;
    ck_assert_int_eq(cnn_metric_macro(c, 2, &p, &r, &f), 2);
    assert_near(f, (2 * 0.75 / 1.75) / 2, "macro f1");
    /* nothing at all: NaN */
    const long long zero[4] = {0};
    cnn_metric_prf(zero, 2, c);
    ck_assert_int_eq(cnn_metric_macro(c, 2, &p, &r, &f), 0);
    ck_assert(isnan(p) && isnan(r) && isnan(f));
}
END_TEST

START_TEST(test_binary)
{
    /* true 0: 8 predicted 0, 2 predicted 1; true 1: 1 predicted 0, 4 predicted 1 */
    const long long cm[4] = {8, 2, 1, 4};
    double sens, spec;
    cnn_metric_binary(cm, 1, &sens, &spec);
    assert_near(sens, 4.0 / 5, "sensitivity, positive 1");
    assert_near(spec, 8.0 / 10, "specificity, positive 1");
    cnn_metric_binary(cm, 0, &sens, &spec);
    assert_near(sens, 8.0 / 10, "sensitivity, positive 0");
    assert_near(spec, 4.0 / 5, "specificity, positive 0");
    const long long no_pos[4] = {5, 1, 0, 0};
    cnn_metric_binary(no_pos, 1, &sens, &spec);
    ck_assert(isnan(sens));
    assert_near(spec, 5.0 / 6, "specificity without positives");
}
END_TEST

START_TEST(test_auc_ties)
{
    /* positives 0.9, 0.6, 0.4; negatives 0.6, 0.3, 0.1. Pairs (pos, neg), 9 in all:
     *   0.9 beats all three                       3
     *   0.6 ties 0.6 (1/2), beats 0.3 and 0.1     2.5
     *   0.4 loses to 0.6, beats 0.3 and 0.1       2
     * AUC = 7.5 / 9. By ranks: ascending 0.1 0.3 0.4 0.6 0.6 0.9 -> positives at 3, 4.5, 6:
     * U = 13.5 - 3*4/2 = 7.5. */
    cnn_scored s[6] = {{0.6f, 0}, {0.9f, 1}, {0.1f, 0}, {0.4f, 1}, {0.3f, 0}, {0.6f, 1}};
    assert_near(cnn_metric_auc(s, 6), 7.5 / 9, "auc with a tie");
    cnn_scored all_tied[4] = {{0.5f, 1}, {0.5f, 0}, {0.5f, 0}, {0.5f, 1}};
    assert_near(cnn_metric_auc(all_tied, 4), 0.5, "all tied");
    cnn_scored perfect[4] = {{0.2f, 0}, {0.8f, 1}, {0.1f, 0}, {0.7f, 1}};
    assert_near(cnn_metric_auc(perfect, 4), 1.0, "perfect");
    cnn_scored reversed[4] = {{0.2f, 1}, {0.8f, 0}, {0.1f, 1}, {0.7f, 0}};
    assert_near(cnn_metric_auc(reversed, 4), 0.0, "reversed");
    cnn_scored one_class[3] = {{0.2f, 1}, {0.8f, 1}, {0.1f, 1}};
    ck_assert(isnan(cnn_metric_auc(one_class, 3)));
}
END_TEST

/* ---- detection ---- */

static cnn_eval_box bx(int image, int cls, float score, float x1, float y1, float x2, float y2)
{
    return (cnn_eval_box){image, cls, score, x1, y1, x2, y2};
}

static cnn_ap_result ap_of(const cnn_eval_box *d, int nd, const cnn_eval_box *g, int ng, int cls,
                           double thr, float pr_conf)
{
    cnn_ap_result r;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_metric_ap(d, nd, g, ng, cls, thr, pr_conf, &r, &err), CNN_OK);
    return r;
}

START_TEST(test_ap_hand_example)
{
    /* 3 ground-truth boxes, 5 detections (given out of order), IoU 0.5:
     *   score  box            outcome                     TP FP  precision  recall
     *   0.9    on G1          TP                           1  0  1          1/3
     *   0.8    far away       FP                           1  1  1/2        1/3
     *   0.7    on G2          TP                           2  1  2/3        2/3
     *   0.6    G1 shifted 1   FP (G1 already matched)      2  2  1/2        2/3
     *   0.5    far away       FP                           2  3  2/5        2/3
     * envelope (best precision at this rank or later): 1, 2/3, 2/3, 1/2, 2/5.
     * 101 recall levels r = i/100: i = 0..33 (r <= 1/3) -> 1 (34 levels); i = 34..66
     * (r <= 2/3) -> 2/3 (33 levels); i = 67..100 never reached -> 0 (34 levels).
     * AP = (34 + 33 * 2/3) / 101 = 56/101 = 0.5544...  (VOC all-point would give 5/9.) */
    const cnn_eval_box g[3] = {bx(0, 0, 0, 0, 0, 10, 10), bx(0, 0, 0, 20, 0, 30, 10),
                               bx(0, 0, 0, 40, 0, 50, 10)};
    const cnn_eval_box d[5] = {bx(0, 0, 0.6f, 1, 0, 11, 10), bx(0, 0, 0.9f, 0, 0, 10, 10),
                               bx(0, 0, 0.5f, 60, 0, 70, 10), bx(0, 0, 0.7f, 20, 0, 30, 10),
                               bx(0, 0, 0.8f, 100, 100, 110, 110)};
    cnn_ap_result r = ap_of(d, 5, g, 3, 0, 0.5, 0.65f);
    assert_near(r.ap, 56.0 / 101, "AP of the hand example");
    ck_assert_int_eq(r.n_gt, 3);
    ck_assert_int_eq(r.n_det, 5);
    ck_assert_int_eq(r.tp, 2);
    /* at score > 0.65: 0.9, 0.8, 0.7 -> 2 TP of 3 detections, 2 of 3 boxes */
    ck_assert_int_eq(r.pr_det, 3);
    ck_assert_int_eq(r.pr_tp, 2);
    assert_near(r.precision, 2.0 / 3, "precision at 0.65");
    assert_near(r.recall, 2.0 / 3, "recall at 0.65");
}
END_TEST

START_TEST(test_ap_perfect_and_empty)
{
    const cnn_eval_box g[3] = {bx(0, 0, 0, 0, 0, 10, 10), bx(0, 0, 0, 20, 0, 30, 10),
                               bx(1, 0, 0, 0, 0, 10, 10)};
    cnn_eval_box d[3];
    for (int i = 0; i < 3; i++) d[i] = g[i], d[i].score = 0.5f + 0.1f * i;
    assert_near(ap_of(d, 3, g, 3, 0, 0.5, 0.25f).ap, 1.0, "perfect detections");
    assert_near(ap_of(d, 3, g, 3, 0, 0.95, 0.25f).ap, 1.0, "perfect detections at IoU 0.95");
    cnn_ap_result none = ap_of(NULL, 0, g, 3, 0, 0.5, 0.25f);
    assert_near(none.ap, 0.0, "no detections");
    ck_assert(isnan(none.precision));
    assert_near(none.recall, 0.0, "recall without detections");
    /* no ground truth: AP undefined */
    ck_assert(isnan(ap_of(d, 3, NULL, 0, 0, 0.5, 0.25f).ap));
    /* one hit among many misses ranked first: envelope 1 up to recall 1/3 */
    const cnn_eval_box late[2] = {bx(0, 0, 0.9f, 0, 0, 10, 10), bx(0, 0, 0.1f, 200, 0, 210, 10)};
    assert_near(ap_of(late, 2, g, 3, 0, 0.5, 0.25f).ap, 34.0 / 101, "one of three found first");
}
END_TEST

START_TEST(test_ap_duplicates_are_false_positives)
{
    /* boxes A, B; detections A (0.9), A again (0.8), B (0.7): TP, FP, TP.
     * precision 1, 1/2, 2/3; recall 1/2, 1/2, 1; envelope 1, 2/3, 2/3.
     * i = 0..50 -> 1 (51 levels), i = 51..100 -> 2/3 (50 levels): AP = (51 + 100/3) / 101. */
    const cnn_eval_box g[2] = {bx(0, 0, 0, 0, 0, 10, 10), bx(0, 0, 0, 20, 0, 30, 10)};
    const cnn_eval_box d[3] = {bx(0, 0, 0.9f, 0, 0, 10, 10), bx(0, 0, 0.8f, 0, 0, 10, 10),
                               bx(0, 0, 0.7f, 20, 0, 30, 10)};
    cnn_ap_result r = ap_of(d, 3, g, 2, 0, 0.5, 0.0f);
    assert_near(r.ap, (51 + 100.0 / 3) / 101, "duplicate ranked above a true detection");
    ck_assert_int_eq(r.tp, 2);
    assert_near(r.precision, 2.0 / 3, "precision counts the duplicate");
    /* a duplicate ranked last does not lower AP, but is still not a hit */
    const cnn_eval_box d2[3] = {bx(0, 0, 0.9f, 0, 0, 10, 10), bx(0, 0, 0.8f, 20, 0, 30, 10),
                                bx(0, 0, 0.7f, 0, 0, 10, 10)};
    r = ap_of(d2, 3, g, 2, 0, 0.5, 0.0f);
    assert_near(r.ap, 1.0, "duplicate ranked last");
    ck_assert_int_eq(r.tp, 2);
    assert_near(r.precision, 2.0 / 3, "precision with the last duplicate");
}
END_TEST

START_TEST(test_ap_iou_threshold)
{
    /* IoU of [0,0,10,10] and [0,0,10,5] is exactly 0.5: a hit at 0.5 (>=), a miss at 0.55 */
    const cnn_eval_box g[1] = {bx(0, 0, 0, 0, 0, 10, 10)};
    const cnn_eval_box half[1] = {bx(0, 0, 0.9f, 0, 0, 10, 5)};
    assert_near(cnn_eval_iou(&g[0], &half[0]), 0.5, "IoU");
    assert_near(ap_of(half, 1, g, 1, 0, 0.5, 0.25f).ap, 1.0, "IoU 0.5 at threshold 0.5");
    assert_near(ap_of(half, 1, g, 1, 0, 0.55, 0.25f).ap, 0.0, "IoU 0.5 at threshold 0.55");
    /* IoU 0.75 is a hit at 0.50 .. 0.75 (6 of the 10 COCO thresholds): AP50:95 = 0.6 */
    const cnn_eval_box three_q[1] = {bx(0, 0, 0.9f, 0, 0, 10, 7.5f)};
    cnn_class_ap per;
    double map50, map;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_metric_map(three_q, 1, g, 1, 1, 0.25f, &per, &map50, &map, &err), CNN_OK);
    assert_near(map50, 1.0, "mAP50 at IoU 0.75");
    assert_near(map, 0.6, "mAP50:95 at IoU 0.75");
    for (int t = 0; t < CNN_COCO_IOUS; t++)
        assert_near(per.ap[t], t <= 5 ? 1.0 : 0.0, "AP per COCO threshold");
    assert_near(cnn_coco_iou(0), 0.5, "first COCO threshold");
    assert_near(cnn_coco_iou(9), 0.95, "last COCO threshold");
}
END_TEST

START_TEST(test_ap_class_and_image_separate)
{
    /* same coordinates but another class, or another image: no match */
    const cnn_eval_box g[1] = {bx(0, 0, 0, 0, 0, 10, 10)};
    const cnn_eval_box other_class[1] = {bx(0, 1, 0.9f, 0, 0, 10, 10)};
    const cnn_eval_box other_image[1] = {bx(1, 0, 0.9f, 0, 0, 10, 10)};
    assert_near(ap_of(other_class, 1, g, 1, 0, 0.5, 0.25f).ap, 0.0, "other class");
    assert_near(ap_of(other_image, 1, g, 1, 0, 0.5, 0.25f).ap, 0.0, "other image");
}
END_TEST

START_TEST(test_ap_best_unmatched)
{
    /* A = [0,0,10,10], B = [2,0,12,10]. Both detections lie on A; the first takes A (IoU 1),
     * the second goes to B, the best still unmatched box above the threshold (IoU 80/120 =
     * 0.667), as COCO matches: 2 TP, AP 1. At IoU 0.7 the second finds nothing: FP. */
    const cnn_eval_box g[2] = {bx(0, 0, 0, 0, 0, 10, 10), bx(0, 0, 0, 2, 0, 12, 10)};
    const cnn_eval_box d[2] = {bx(0, 0, 0.9f, 0, 0, 10, 10), bx(0, 0, 0.8f, 0, 0, 10, 10)};
    cnn_ap_result r = ap_of(d, 2, g, 2, 0, 0.5, 0.0f);
    ck_assert_int_eq(r.tp, 2);
    assert_near(r.ap, 1.0, "best unmatched at 0.5");
    r = ap_of(d, 2, g, 2, 0, 0.7, 0.0f);
    ck_assert_int_eq(r.tp, 1);
    assert_near(r.ap, 51.0 / 101, "one of two at 0.7"); /* recall 1/2: i = 0..50 */
}
END_TEST

START_TEST(test_map_over_classes)
{
    /* class 0: found perfectly (AP 1); class 1: has a box, nothing found (AP 0);
     * class 2: no ground truth, detections only -> left out of the mean. mAP = 0.5. */
    const cnn_eval_box g[2] = {bx(0, 0, 0, 0, 0, 10, 10), bx(0, 1, 0, 20, 0, 30, 10)};
    const cnn_eval_box d[2] = {bx(0, 0, 0.9f, 0, 0, 10, 10), bx(0, 2, 0.8f, 50, 0, 60, 10)};
    cnn_class_ap per[3];
    double map50, map;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_metric_map(d, 2, g, 2, 3, 0.5f, per, &map50, &map, &err), CNN_OK);
    assert_near(map50, 0.5, "mAP50");
    assert_near(map, 0.5, "mAP50:95");
    assert_near(per[0].ap50, 1.0, "class 0");
    assert_near(per[1].ap50, 0.0, "class 1");
    ck_assert(isnan(per[2].ap50) && isnan(per[2].ap50_95));
    ck_assert_int_eq(per[2].n_det, 1);
    ck_assert_int_eq(per[0].n_gt, 1);
    assert_near(per[0].precision, 1.0, "class 0 precision at 0.5");
    assert_near(per[0].recall, 1.0, "class 0 recall at 0.5");
    /* nothing with ground truth at all: undefined */
    ck_assert_int_eq(cnn_metric_map(d, 2, NULL, 0, 3, 0.5f, per, &map50, &map, &err), CNN_OK);
    ck_assert(isnan(map50) && isnan(map));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("classification");
    tcase_add_test(tc, test_rank_ties);
    tcase_add_test(tc, test_prf_hand_example);
    tcase_add_test(tc, test_prf_predicted_but_absent);
    tcase_add_test(tc, test_binary);
    tcase_add_test(tc, test_auc_ties);
    suite_add_tcase(s, tc);
    tc = tcase_create("detection");
    tcase_add_test(tc, test_ap_hand_example);
    tcase_add_test(tc, test_ap_perfect_and_empty);
    tcase_add_test(tc, test_ap_duplicates_are_false_positives);
    tcase_add_test(tc, test_ap_iou_threshold);
    tcase_add_test(tc, test_ap_class_and_image_separate);
    tcase_add_test(tc, test_ap_best_unmatched);
    tcase_add_test(tc, test_map_over_classes);
    suite_add_tcase(s, tc);
    return s;
}
