/* test_report_html.c — the pieces of --report that a browser cannot see wrong: the JSON reader
 * (valid documents, escapes incl. our \u00XX raw bytes and surrogate pairs, and strict rejection
 * of malformed input), HTML escaping (markup characters, invalid UTF-8) and URL encoding, the run
 * page built from a folder (a row per readable line, failures listed, a line cut short skipped),
 * and the val page (escaped class names, confusion counts, n/a for undefined values). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "html_report.h"
#include "json.h"
#include "testutil.h"

static cnn_status parse(const char *text, cnn_json *j)
{
    cnn_error err = {0};
    return cnn_json_parse(text, strlen(text), "t.json", j, &err);
}

START_TEST(test_json_valid)
{
    cnn_json j;
    const char *doc = " {\"a\": [1, -2.5e2, true, false, null, {\"b\": \"x\"}], \"s\": \"q\\\"\\\\\\/\\n\\u00e9\\u0080\\ud83d\\ude00\","
                      " \"a\": 7, \"e\": {}, \"z\": []} ";
    ck_assert_int_eq(parse(doc, &j), CNN_OK);
    ck_assert_int_eq(j.type, CNN_JSON_OBJ);
    ck_assert_double_eq(cnn_json_num(cnn_json_get(&j, "a"), 0), 7); /* the last of a repeated key */
    const cnn_json *arr = &j.items[0];
    ck_assert_int_eq(cnn_json_len(arr), 6);
    ck_assert_double_eq(cnn_json_num(cnn_json_at(arr, 1), 0), -250);
    ck_assert_int_eq(cnn_json_at(arr, 2)->boolean, 1);
    ck_assert_int_eq(cnn_json_at(arr, 4)->type, CNN_JSON_NULL);
    ck_assert_str_eq(cnn_json_str(cnn_json_get(cnn_json_at(arr, 5), "b")), "x");
    /* \u00e9 and \u0080 as the raw bytes our writer escaped (json.h), U+1F600 from a pair */
    ck_assert_str_eq(cnn_json_str(cnn_json_get(&j, "s")), "q\"\\/\n\xe9\x80\xf0\x9f\x98\x80");
    ck_assert_int_eq(cnn_json_get(&j, "e")->type, CNN_JSON_OBJ);
    ck_assert_int_eq(cnn_json_len(cnn_json_get(&j, "z")), 0);
    ck_assert_ptr_null(cnn_json_get(&j, "missing"));
    ck_assert_ptr_null(cnn_json_str(cnn_json_get(&j, "e")));
    cnn_json_free(&j);
}
END_TEST

START_TEST(test_json_invalid)
{
    static const char *const bad[] = {
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\": 1,}", "\"abc", "01", "1.", "-", "1e", "tru", "nul",
        "[1] x", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\x\"", "\"a\tb\"", "{1: 2}", "'a'",
        "\"\\u12\"", "[\"a\\",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cnn_json j;
        cnn_error err = {0};
        ck_assert_msg(cnn_json_parse(bad[i], strlen(bad[i]), "t.json", &j, &err) == CNN_ERR_INPUT,
                      "accepted invalid JSON: %s", bad[i]);
        tu_assert_msg_has(err.msg, "t.json: invalid JSON at byte");
        cnn_json_free(&j); /* safe on a failed parse */
    }
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    cnn_json j;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_json_parse(deep, 200, "d", &j, &err), CNN_ERR_INPUT);
    tu_assert_msg_has(err.msg, "nested too deeply");
    ck_assert_int_eq(cnn_json_parse(deep + 40, 120, "d", &j, &err), CNN_OK); /* 60 deep is fine */
    cnn_json_free(&j);
}
END_TEST

START_TEST(test_escaping)
{
    cnn_sbuf b = {0};
    cnn_html_text(&b, "a&b <i>\"x\" 'y' \xc3\xa9 \xff\xfe \xed\xa0\x80 \x01");
    ck_assert_str_eq(b.s, "a&amp;b &lt;i&gt;&quot;x&quot; &#39;y&#39; \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd "
                          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd");
    cnn_sbuf_clear(&b);
    cnn_html_url(&b, "images/odd dir/a&b #1?%\xc3\xa9.jpg");
    ck_assert_str_eq(b.s, "images/odd%20dir/a%26b%20%231%3F%25%C3%A9.jpg");
    cnn_sbuf_free(&b);
}
END_TEST

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t n = 0;
    cnn_error err = {0};
    ck_assert_msg(cnn_read_file(path, 1 << 24, &text, &n, CNN_ERR_INPUT, &err) == CNN_OK, "%s", err.msg);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

START_TEST(test_run_page)
{
    char dir[256], path[320];
    tu_mkdtemp(dir, sizeof dir);
    const char *run = "{\"version\": \"0\", \"command\": [\"cnndemo\", \"detect\", \"<x>\"], \"model\": "
                      "{\"name\": \"m<1>\", \"cfg\": {\"path\": \"m.cfg\", \"sha256\": \"ab\"}, \"weights\": null, "
                      "\"names\": null}, \"task\": \"detect\", \"conf\": 0.5, \"iou\": 0.4, \"processed\": 2, "
                      "\"failed\": 1, \"finished\": true, \"interrupted\": false, \"timing_ms\": {\"first\": "
                      "{\"decode\": 1, \"forward\": 2}, \"steady_mean\": {\"decode\": 0.5, \"forward\": 1.5}}}\n";
    const char *results =
        "{\"path\": \"a<b>.jpg\", \"width\": 10, \"height\": 8, \"detections\": [{\"class_id\": 0, "
        "\"class\": \"face\", \"score\": 0.9, \"box\": [1, 1, 5, 5]}], \"classes\": [], \"output\": null, "
        "\"timing_ms\": {\"forward\": 2}, \"error\": null}\n"
        "{\"path\": \"bad.png\", \"width\": 0, \"height\": 0, \"detections\": [], \"classes\": [], "
        "\"output\": null, \"timing_ms\": {}, \"error\": \"bad.png: <corrupt>\"}\n"
        "{\"path\": \"c.jpg\", \"width\": 10, \"height\": 8, \"detections\": [], \"classes\": [], \"output\": null, "
        "\"timing_ms\": {}, \"error\": null}\n"
        "{\"path\": \"cut-short.jpg\", \"wid";
    snprintf(path, sizeof path, "%s/run.json", dir);
    tu_write(path, run, strlen(run));
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    tu_write(path, results, strlen(results));
    cnn_error err = {0};
    ck_assert_msg(cnn_html_write_run(dir, &err) == CNN_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = slurp(path);
    ck_assert_int_eq(count(html, "<tr class=\"result "), 3);
    ck_assert_int_eq(count(html, "<tr class=\"result failed\""), 1);
    ck_assert_int_eq(count(html, "<tr class=\"failure\""), 1);
    ck_assert_ptr_nonnull(strstr(html, "<title>cnndemo detect — m&lt;1&gt;</title>"));
    ck_assert_ptr_nonnull(strstr(html, "a&lt;b&gt;.jpg"));
    ck_assert_ptr_nonnull(strstr(html, "bad.png: &lt;corrupt&gt;"));
    ck_assert_ptr_null(strstr(html, "<corrupt>"));
    ck_assert_ptr_null(strstr(html, "<x>"));
    ck_assert_ptr_null(strstr(html, "cut-short")); /* an incomplete line is not a result */
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_int_eq(count(html, "<svg class=\"chart\""), 3);
    free(html);
    /* no results file: an error naming it */
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    unlink(path);
    ck_assert_int_ne(cnn_html_write_run(dir, &err), CNN_OK);
    tu_assert_msg_has(err.msg, "results.jsonl");
    snprintf(path, sizeof path, "%s/run.json", dir), unlink(path);
    snprintf(path, sizeof path, "%s/report.html", dir), unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_val_page)
{
    char dir[256], path[320];
    tu_mkdtemp(dir, sizeof dir);
    const char *names[3] = {"cat", "<dog>", "bird"};
    const char *mnames[2] = {"top1", "auc"};
    const double mvals[2] = {0.75, NAN};
    const long long cm[9] = {5, 1, 0, 2, 6, 0, 0, 0, 0}, support[3] = {6, 8, 0};
    const double p[3] = {0.714, 0.857, NAN}, r[3] = {0.833, 0.75, NAN}, f1[3] = {0.769, 0.8, 0};
    cnn_html_val v = {.model = "m", .dataset = "ds", .split = "test", .n_metrics = 2, .metric_names = mnames,
                      .metric_values = mvals, .n_samples = 14, .k = 3, .names = names, .cm = cm,
                      .support = support, .precision = p, .recall = r, .f1 = f1};
    cnn_error err = {0};
    ck_assert_msg(cnn_html_write_val(dir, &v, &err) == CNN_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = slurp(path);
    ck_assert_ptr_nonnull(strstr(html, "<title>cnndemo val — m</title>"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;dog&gt;"));
    ck_assert_ptr_null(strstr(html, "<dog>"));
    ck_assert_ptr_nonnull(strstr(html, "class=\"confusion\""));
    ck_assert_int_eq(count(html, "<tr class=\"row\"><th>"), 3); /* one confusion row per class */
    ck_assert_ptr_nonnull(strstr(html, ">6</td>"));
    ck_assert_ptr_nonnull(strstr(html, "n/a"));
    ck_assert_ptr_nonnull(strstr(html, "0.7500"));
    free(html);
    /* a detector's page */
    const int n_gt[3] = {4, 2, 0}, n_det[3] = {5, 1, 3};
    const double ap[3] = {0.9, 0.5, NAN};
    cnn_html_val d = {.model = "det", .n_metrics = 1, .metric_names = mnames, .metric_values = mvals,
                      .k = 3, .names = names, .n_gt = n_gt, .n_det = n_det, .ap50 = ap};
    ck_assert_msg(cnn_html_write_val(dir, &d, &err) == CNN_OK, "%s", err.msg);
    html = slurp(path);
    ck_assert_ptr_nonnull(strstr(html, "AP@0.5"));
    ck_assert_ptr_null(strstr(html, "class=\"confusion\""));
    ck_assert_int_eq(count(html, "<svg class=\"chart\""), 2);
    free(html);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("report_html");
    TCase *tc = tcase_create("report_html");
    tcase_add_test(tc, test_json_valid);
    tcase_add_test(tc, test_json_invalid);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_run_page);
    tcase_add_test(tc, test_val_page);
    suite_add_tcase(s, tc);
    return s;
}
