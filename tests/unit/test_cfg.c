/* test_cfg.c — the strict cfg reader and the build-time checks that rest on it: a valid cfg
 * parses (whitespace, comments, CRLF); every malformed cfg is CNN_ERR_MODEL naming the line and
 * the offending key or value; semantic errors (route, yolo/region channel counts, anchors, mask,
 * groups, kernel fit, memory limit) are caught before anything is allocated. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "report.h"
#include "net.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

/* Four lines: [net] at line 1, options at lines 2..4. The next line is line 5. */
#define NET8 "[net]\nwidth=8\nheight=8\nchannels=3\n"

/* Whether building text fails with CNN_ERR_MODEL and a message containing "t.cfg:<line>:"
 * (if line > 0) and needle (if non-NULL); why explains a mismatch. */
static int model_error_ok(const char *text, int line, const char *needle, char *why, size_t n)
{
    cnn_error err;
    cnn_status st = tu_build_fail(text, 1, &err);
    char where[32];
    snprintf(where, sizeof where, "t.cfg:%d:", line);
    if (st != CNN_ERR_MODEL)
        snprintf(why, n, "expected CNN_ERR_MODEL (3), got %d (%s) for:\n%s", (int)st, err.msg, text);
    else if (line > 0 && !strstr(err.msg, where))
        snprintf(why, n, "message \"%s\" lacks \"%s\"", err.msg, where);
    else if (needle && !strstr(err.msg, needle))
        snprintf(why, n, "message \"%s\" lacks \"%s\"", err.msg, needle);
    else
        return 1;
    return 0;
}

/* A macro so that a failure reports the line of the case, not of the helper. */
#define expect_model_error(text, line, needle)                                                 \
    do {                                                                                       \
        char why_[2048];                                                                       \
        ck_assert_msg(model_error_ok((text), (line), (needle), why_, sizeof why_), "%s", why_); \
    } while (0)

/* ---- valid text ---- */

START_TEST(test_parse_valid_sections_and_options)
{
    static const char text[] =
        "# a comment line\n"                       /* 1 */
        "\n"                                       /* 2 */
        "[net]\n"                                  /* 3 */
        "  width = 32 ; trailing comment\n"        /* 4 */
        "height=16#comment without space\n"        /* 5 */
        "\t channels\t=\t3\r\n"                    /* 6: tabs and CR */
        "; a semicolon comment line\n"             /* 7 */
        "   \t  \n"                                /* 8: blank */
        "[ convolutional ]\n"                      /* 9: spaces inside the brackets */
        "anchors = 10, 14,  23,27\n"               /* 10 */
        "activation=leaky";                        /* 11: no final newline */
    cnn_cfg cfg;
    cnn_error err = {0};
    ck_assert_msg(cnn_cfg_parse(text, strlen(text), "v.cfg", &cfg, &err) == CNN_OK, "%s", err.msg);
    ck_assert_int_eq(cfg.n_secs, 2);
    ck_assert_str_eq(cfg.secs[0].name, "net");
    ck_assert_int_eq(cfg.secs[0].line, 3);
    ck_assert_int_eq(cfg.secs[0].n_opts, 3);
    const char *keys[] = {"width", "height", "channels"}, *vals[] = {"32", "16", "3"};
    const int lines[] = {4, 5, 6};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(cfg.secs[0].opts[i].key, keys[i]);
        ck_assert_str_eq(cfg.secs[0].opts[i].val, vals[i]);
        ck_assert_int_eq(cfg.secs[0].opts[i].line, lines[i]);
        ck_assert_int_eq(cfg.secs[0].opts[i].used, 0);
    }
    ck_assert_str_eq(cfg.secs[1].name, "convolutional");
    ck_assert_int_eq(cfg.secs[1].line, 9);
    ck_assert_int_eq(cfg.secs[1].n_opts, 2);
    ck_assert_str_eq(cfg.secs[1].opts[0].val, "10,14,23,27");
    ck_assert_str_eq(cfg.secs[1].opts[1].key, "activation");
    ck_assert_str_eq(cfg.secs[1].opts[1].val, "leaky");
    ck_assert_int_eq(cfg.secs[1].opts[1].line, 11);

    /* typed getters on the parsed text */
    int v = 0, n = 0, ints[8];
    ck_assert_int_eq(cnn_cfg_int(&cfg, &cfg.secs[0], "width", 1, 1, 100, &v, &err), CNN_OK);
    ck_assert_int_eq(v, 32);
    ck_assert_int_eq(cfg.secs[0].opts[0].used, 1);
    ck_assert_int_eq(cnn_cfg_int(&cfg, &cfg.secs[0], "absent", 7, 1, 100, &v, &err), CNN_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(cnn_cfg_int(&cfg, &cfg.secs[0], "height", 1, 1, 15, &v, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "v.cfg:5:");
    tu_assert_msg_has(err.msg, "height=16");
    ck_assert_int_eq(cnn_cfg_ints(&cfg, &cfg.secs[1], "anchors", ints, 8, &n, &err), CNN_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(ints[0], 10);
    ck_assert_int_eq(ints[3], 27);
    ck_assert_int_eq(cnn_cfg_ints(&cfg, &cfg.secs[1], "anchors", ints, 3, &n, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "v.cfg:10:");
    /* channels is still unused: check_unused names it */
    ck_assert_int_eq(cnn_cfg_check_unused(&cfg, &cfg.secs[0], &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "v.cfg:6:");
    tu_assert_msg_has(err.msg, "channels");
    cnn_cfg_free(&cfg);
    ck_assert_int_eq(cfg.n_secs, 0);
    cnn_cfg_free(NULL);
}
END_TEST

START_TEST(test_getter_number_forms)
{
    static const char text[] = "[s]\na=3x\nb=2147483648\nc=-7\nd=0.25\ne=1e\nf=1,2,\ng=1,,2\nh=nan\n";
    cnn_cfg cfg;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_cfg_parse(text, strlen(text), "g.cfg", &cfg, &err), CNN_OK);
    cnn_cfg_section *s = &cfg.secs[0];
    int v;
    float f;
    int ints[4], n;
    ck_assert_int_eq(cnn_cfg_int(&cfg, s, "a", 0, -100, 100, &v, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "g.cfg:2:");
    ck_assert_int_eq(cnn_cfg_int(&cfg, s, "b", 0, -100, 100, &v, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "g.cfg:3:");
    ck_assert_int_eq(cnn_cfg_int(&cfg, s, "c", 0, -100, 100, &v, &err), CNN_OK);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(cnn_cfg_int(&cfg, s, "d", 0, -100, 100, &v, &err), CNN_ERR_MODEL);
    ck_assert_int_eq(cnn_cfg_float(&cfg, s, "d", 0, -1, 1, &f, &err), CNN_OK);
    ck_assert_float_eq(f, 0.25f);
    ck_assert_int_eq(cnn_cfg_float(&cfg, s, "e", 0, -1, 1, &f, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "g.cfg:6:");
    ck_assert_int_eq(cnn_cfg_ints(&cfg, s, "f", ints, 4, &n, &err), CNN_OK); /* trailing comma */
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(cnn_cfg_ints(&cfg, s, "g", ints, 4, &n, &err), CNN_ERR_MODEL); /* empty item */
    tu_assert_msg_has(err.msg, "g.cfg:8:");
    ck_assert_int_eq(cnn_cfg_float(&cfg, s, "h", 0, -1, 1, &f, &err), CNN_ERR_MODEL);
    cnn_cfg_free(&cfg);
}
END_TEST

START_TEST(test_valid_network_builds)
{
    static const char text[] = "[net]\r\n"
                               "width=9 \r\n"
                               "height = 7\r\n"
                               "channels=3 # rgb\r\n"
                               "momentum=0.9\r\n"
                               "policy=steps\r\n"
                               "[convolutional]\r\n"
                               "filters=4\r\n"
                               "size=3\r\n"
                               "stride=2\r\n"
                               "pad=1\r\n"
                               "activation=leaky\r\n"
                               "[conv]\r\n" /* darknet alias */
                               "filters=2\r\n"
                               "size=1\r\n"
                               "activation=linear\r\n";
    cnn_net *net = tu_build(text, 2);
    ck_assert_int_eq(net->n_layers, 2);
    ck_assert_int_eq(net->in.w, 9);
    ck_assert_int_eq(net->in.h, 7);
    ck_assert_int_eq(net->in.c, 3);
    /* (9 + 2 - 3)/2 + 1 = 5, (7 + 2 - 3)/2 + 1 = 4 */
    ck_assert_int_eq(net->layers[0].out.w, 5);
    ck_assert_int_eq(net->layers[0].out.h, 4);
    ck_assert_int_eq(net->layers[0].out.c, 4);
    ck_assert_int_eq(net->layers[0].cfg_line, 7);
    ck_assert_int_eq(net->layers[1].cfg_line, 13);
    ck_assert_int_eq(net->layers[1].out.c, 2);
    ck_assert_int_eq(net->layers[0].act, CNN_ACT_LEAKY);
    /* conv params: biases 4 + weights 4*3*3*3 = 112; second: 2 + 2*4 = 10 */
    ck_assert_uint_eq(net->n_params, 112 + 10);
    cnn_net_free(net);
    cnn_net_free(NULL);
}
END_TEST

/* ---- syntax errors ---- */

START_TEST(test_unknown_section)
{
    expect_model_error(NET8 "[convolutionl]\nfilters=2\n", 5, "convolutionl");
}
END_TEST

START_TEST(test_unknown_key_in_conv)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\nfiltres=4\nsize=1\n", 7, "filtres");
}
END_TEST

START_TEST(test_unknown_key_in_net)
{
    expect_model_error("[net]\nwidth=8\nheight=8\nheigth=8\n[convolutional]\n", 4, "heigth");
}
END_TEST

START_TEST(test_bad_number)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\nsize=3x\n", 7, "size=3x");
}
END_TEST

START_TEST(test_bad_float)
{
    expect_model_error(NET8 "[dropout]\nprobability=0.5.5\n", 6, "probability=0.5.5");
}
END_TEST

START_TEST(test_size_zero)
{
    expect_model_error(NET8 "[convolutional]\nsize=0\nfilters=2\n", 6, "size=0");
}
END_TEST

START_TEST(test_stride_negative)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\n\nstride=-1\n", 8, "stride=-1");
}
END_TEST

START_TEST(test_width_out_of_range)
{
    expect_model_error("[net]\nwidth=16385\nheight=8\n[maxpool]\n", 2, "width=16385");
}
END_TEST

START_TEST(test_unknown_activation)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\nactivation=leakyy\n", 7, "activation=leakyy");
}
END_TEST

START_TEST(test_duplicate_key)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\nsize=1\nfilters=3\n", 8, "filters");
    /* the reader itself refuses it, before any layer looks at the keys */
    static const char text[] = "[s]\na=1\nb=2\na = 1\n";
    cnn_cfg cfg;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_cfg_parse(text, strlen(text), "d.cfg", &cfg, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "d.cfg:4:");
    tu_assert_msg_has(err.msg, "'a'");
    /* the same key in two sections is fine */
    static const char ok[] = "[s]\na=1\n[t]\na=1\n";
    ck_assert_int_eq(cnn_cfg_parse(ok, strlen(ok), "d.cfg", &cfg, &err), CNN_OK);
    cnn_cfg_free(&cfg);
}
END_TEST

/* A hostile cfg with a huge section is refused by count, not parsed in quadratic time. */
START_TEST(test_too_many_options)
{
    cnn_sbuf b = {0};
    cnn_sbuf_printf(&b, "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\n");
    for (int i = 0; i < 1024; i++) cnn_sbuf_printf(&b, "k%d=1\n", i);
    cnn_cfg cfg;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_cfg_parse(b.s, b.len, "big.cfg", &cfg, &err), CNN_OK); /* 1024: the cap */
    ck_assert_int_eq(cfg.secs[1].n_opts, 1024);
    cnn_cfg_free(&cfg);
    cnn_sbuf_printf(&b, "one_more=1\n");
    ck_assert_int_eq(cnn_cfg_parse(b.s, b.len, "big.cfg", &cfg, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "big.cfg:1030: more than 1024 options in [convolutional] (line 5)");
    cnn_sbuf_free(&b);
}
END_TEST

START_TEST(test_option_before_section)
{
    expect_model_error("# header comment\nwidth=8\n[net]\nheight=8\n", 2, "width");
}
END_TEST

START_TEST(test_line_without_equals)
{
    expect_model_error(NET8 "[convolutional]\nfilters 2\n", 6, "filters");
}
END_TEST

START_TEST(test_empty_value)
{
    expect_model_error(NET8 "[convolutional]\nfilters=\nsize=1\n", 6, "filters");
}
END_TEST

START_TEST(test_empty_key)
{
    expect_model_error(NET8 "[convolutional]\n=2\n", 6, "=2");
}
END_TEST

START_TEST(test_malformed_header)
{
    expect_model_error(NET8 "[conv\nfilters=2\n", 5, "[conv");
    expect_model_error(NET8 "[]\n", 5, "[]");
}
END_TEST

START_TEST(test_non_ascii_byte)
{
    /* "é" in UTF-8 is c3 a9; the first offending byte is named */
    expect_model_error(NET8 "[convolutional]\nfilters=2\nactivation=l\xc3\xa9\x61ky\n", 7, "0xc3");
    /* a NUL byte inside the text is not a terminator */
    static const char with_nul[] = NET8 "[maxpool]\nsize=2\0\nstride=2\n";
    cnn_net *net = NULL;
    cnn_error err = {0};
    ck_assert_int_eq(cnn_net_build_text(with_nul, sizeof with_nul - 1, "t.cfg", 1, &net, &err),
                     CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "t.cfg:6:");
    ck_assert_ptr_null(net);
}
END_TEST

START_TEST(test_first_section_not_net)
{
    expect_model_error("\n[convolutional]\nfilters=2\n[net]\nwidth=8\nheight=8\n", 2, "convolutional");
}
END_TEST

START_TEST(test_no_layers)
{
    cnn_error err;
    ck_assert_int_eq(tu_build_fail(NET8, 1, &err), CNN_ERR_MODEL);
    ck_assert_int_eq(tu_build_fail("", 1, &err), CNN_ERR_MODEL);
    ck_assert_int_eq(tu_build_fail("# only a comment\n", 1, &err), CNN_ERR_MODEL);
}
END_TEST

/* ---- semantic errors ---- */

START_TEST(test_route_later_layer)
{
    /* layer 0 conv, layer 1 route: layers=2 names a later layer (itself + 1), 1 is itself */
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[route]\nlayers=2\n[maxpool]\n", 8,
                       "layers=2");
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[route]\nlayers=1\n", 8, "layers=1");
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[route]\nlayers=-1,0\n[route]\nlayers=0,-1,3\n",
                       10, "layers=0,-1,3");
}
END_TEST

START_TEST(test_route_nonexistent_layer)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[route]\nlayers=-2\n", 8, "layers=-2");
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[route]\nlayers=-1, -7\n", 8, "-7");
}
END_TEST

START_TEST(test_route_shape_mismatch)
{
    /* layer 0 is 8x8, layer 1 (maxpool 2/2) is 4x4: they cannot be concatenated */
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[maxpool]\nsize=2\nstride=2\n[route]\nlayers=0,1\n",
                       10, "[route]");
}
END_TEST

START_TEST(test_shortcut_bad_from)
{
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[shortcut]\nfrom=1\n", 8, "from=1");
    /* shapes differ: layer 0 has 2 channels, layer 1 has 3 */
    expect_model_error(NET8 "[convolutional]\nfilters=2\n[convolutional]\nfilters=3\n[shortcut]\nfrom=0\n",
                       9, "[shortcut]");
}
END_TEST

START_TEST(test_yolo_filters_mismatch)
{
    /* 3 masks x (2 classes + 5) = 21 channels needed, 20 given */
    expect_model_error(NET8 "[convolutional]\nfilters=20\nsize=1\n"          /* 5-7 */
                            "[yolo]\nmask=0,1,2\nanchors=1,2,3,4,5,6\n"      /* 8-10 */
                            "classes=2\nnum=3\n",
                       8, "21");
    /* the right count builds */
    cnn_net *net = tu_build(NET8 "[convolutional]\nfilters=21\nsize=1\n"
                                 "[yolo]\nmask=0,1,2\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n",
                            1);
    cnn_net_free(net);
    /* mask subset: 2 masks x 7 = 14 */
    expect_model_error(NET8 "[convolutional]\nfilters=21\nsize=1\n"
                            "[yolo]\nmask=1,2\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n",
                       8, "14");
}
END_TEST

START_TEST(test_region_mismatch)
{
    /* num 2 x (coords 4 + 1 + classes 3) = 16 needed, 15 given */
    expect_model_error(NET8 "[convolutional]\nfilters=15\nsize=1\n"
                            "[region]\nanchors=1,1,2,2\nclasses=3\nnum=2\nsoftmax=1\n",
                       8, "16");
    cnn_net *net = tu_build(NET8 "[convolutional]\nfilters=16\nsize=1\n"
                                 "[region]\nanchors=1,1,2,2\nclasses=3\nnum=2\nsoftmax=1\n",
                            1);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_anchors_count_mismatch)
{
    expect_model_error(NET8 "[convolutional]\nfilters=21\nsize=1\n"
                            "[yolo]\nmask=0,1,2\nanchors=1,2,3,4,5\nclasses=2\nnum=3\n",
                       10, "anchors=1,2,3,4,5");
    expect_model_error(NET8 "[convolutional]\nfilters=16\nsize=1\n"
                            "[region]\nclasses=3\nnum=2\nanchors=1,1,2,2,3,3\n",
                       11, "anchors=1,1,2,2,3,3");
}
END_TEST

START_TEST(test_mask_out_of_range)
{
    expect_model_error(NET8 "[convolutional]\nfilters=21\nsize=1\n"
                            "[yolo]\nmask=0,1,3\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n",
                       9, "mask=0,1,3");
    expect_model_error(NET8 "[convolutional]\nfilters=21\nsize=1\n"
                            "[yolo]\nmask=-1,1,2\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n",
                       9, "mask=-1,1,2");
}
END_TEST

START_TEST(test_groups_not_dividing)
{
    /* 3 input channels, groups=2 */
    expect_model_error(NET8 "[convolutional]\nfilters=4\ngroups=2\n", 5, "groups=2");
    /* channels divisible (6), filters not (3) */
    expect_model_error(NET8 "[convolutional]\nfilters=6\n[convolutional]\nfilters=3\ngroups=2\n", 7,
                       "groups=2");
    /* route groups must divide the routed layer's channels */
    expect_model_error(NET8 "[convolutional]\nfilters=3\n[route]\nlayers=-1\ngroups=2\ngroup_id=1\n",
                       7, "groups=2");
    /* group_id must be below groups */
    expect_model_error(NET8 "[convolutional]\nfilters=4\n[route]\nlayers=-1\ngroups=2\ngroup_id=2\n",
                       10, "group_id=2");
}
END_TEST

START_TEST(test_kernel_larger_than_input)
{
    /* 5x5 kernel, no padding, 3x3 input: (3 - 5)/1 + 1 = -1 */
    expect_model_error("[net]\nwidth=3\nheight=3\nchannels=1\n[convolutional]\nfilters=1\nsize=5\n", 5,
                       "5x5");
    /* same with stride 2: (3 - 5)/2 + 1 would be 0 with truncating division */
    expect_model_error("[net]\nwidth=3\nheight=3\nchannels=1\n[convolutional]\nfilters=1\nsize=5\nstride=2\n",
                       5, "5x5");
    /* maxpool 5x5 with padding 0 on a 3x3 input */
    expect_model_error("[net]\nwidth=3\nheight=3\nchannels=1\n[maxpool]\nsize=5\nstride=1\npadding=0\n", 5,
                       "[maxpool]");
}
END_TEST

START_TEST(test_kernel_larger_than_input_strided)
{
    /* 5x5 kernel, no padding, 4x4 input, stride 2: the window never fits, yet
     * (4 - 5)/2 + 1 is 1 with C's truncating division. It must be refused like the stride-1
     * case, not silently computed from zero padding that the cfg did not ask for. */
    expect_model_error("[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nfilters=1\nsize=5\nstride=2\n",
                       5, "5x5");
}
END_TEST

START_TEST(test_pool_larger_than_input_strided)
{
    /* the same truncation for [maxpool]: (4 + 0 - 5)/2 + 1 is 1 */
    expect_model_error("[net]\nwidth=4\nheight=4\nchannels=1\n[maxpool]\nsize=5\nstride=2\npadding=0\n", 5,
                       "[maxpool]");
}
END_TEST

#ifndef TU_ASAN
/* Current virtual address-space size of this process, from /proc/self/statm. */
static size_t current_vsize(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

/* Builds text in a child process whose address space may grow by at most `extra` bytes (when
 * not under ASan, which reserves terabytes of shadow), so a build that tried to allocate the
 * planned memory would get ENOMEM instead of failing cleanly. Returns the child's exit code:
 * the cnn_status of the build, or 200+ for other outcomes. */
static int build_in_capped_child(const char *text, size_t extra, char *msg, size_t msg_n)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
#ifndef TU_ASAN
        const size_t cap = current_vsize() + extra;
        struct rlimit rl = {cap, cap};
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(201);
#else
        (void)extra;
#endif
        cnn_net *net = NULL;
        cnn_error err = {0};
        cnn_status st = cnn_net_build_text(text, strlen(text), "t.cfg", 1, &net, &err);
        ssize_t w = write(fds[1], err.msg, strlen(err.msg));
        (void)w;
        if (st == CNN_OK) cnn_net_free(net);
        _exit(st);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < msg_n && (r = read(fds[0], msg + got, msg_n - 1 - got)) > 0) got += (size_t)r;
    msg[got] = '\0';
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) return 200 + WTERMSIG(status) % 50;
    return WEXITSTATUS(status);
}

START_TEST(test_memory_limit_single_layer)
{
    /* one layer output of 64 x 16384 x 16384 floats = 64 GiB */
    static const char text[] = "[net]\nwidth=16384\nheight=16384\nchannels=3\n"
                               "[convolutional]\nfilters=64\nsize=1\nactivation=linear\n";
    char msg[CNN_ERROR_MSG_MAX];
    int code = build_in_capped_child(text, (size_t)256 << 20, msg, sizeof msg);
    ck_assert_msg(code == CNN_ERR_MODEL, "expected exit %d, got %d (%s)", CNN_ERR_MODEL, code, msg);
    tu_assert_msg_has(msg, "t.cfg");
}
END_TEST

START_TEST(test_memory_limit_total)
{
    /* No single tensor exceeds the limit (each conv output is 16384^2 floats = 1 GiB), but the
     * input (3 GiB) plus ten 1 GiB activations does. */
    char text[2048];
    int n = snprintf(text, sizeof text, "[net]\nwidth=16384\nheight=16384\nchannels=3\n");
    for (int i = 0; i < 10; i++)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "[convolutional]\nfilters=1\nsize=1\nactivation=linear\n");
    char msg[CNN_ERROR_MSG_MAX];
    int code = build_in_capped_child(text, (size_t)256 << 20, msg, sizeof msg);
    ck_assert_msg(code == CNN_ERR_MODEL, "expected exit %d, got %d (%s)", CNN_ERR_MODEL, code, msg);
    tu_assert_msg_has(msg, "MiB");
}
END_TEST

START_TEST(test_memory_capped_child_can_fail)
{
    /* The harness itself: a network that fits builds (exit 0) under the same cap, and a cap too
     * small for a modest network is reported as something other than success. */
    char msg[CNN_ERROR_MSG_MAX];
    int ok = build_in_capped_child(NET8 "[convolutional]\nfilters=2\n", (size_t)256 << 20, msg,
                                   sizeof msg);
    ck_assert_msg(ok == 0, "small net under the cap: exit %d (%s)", ok, msg);
#ifndef TU_ASAN
    /* 1024 x 1024 x 64 floats = 256 MiB of activations: over a 128 MiB address-space cap */
    int bad = build_in_capped_child("[net]\nwidth=1024\nheight=1024\nchannels=3\n"
                                    "[convolutional]\nfilters=64\nsize=1\n",
                                    (size_t)128 << 20, msg, sizeof msg);
    ck_assert_msg(bad != 0, "a build larger than the cap reported success");
#endif
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_valid_sections_and_options);
    tcase_add_test(tc, test_getter_number_forms);
    tcase_add_test(tc, test_valid_network_builds);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_test(tc, test_unknown_section);
    tcase_add_test(tc, test_unknown_key_in_conv);
    tcase_add_test(tc, test_unknown_key_in_net);
    tcase_add_test(tc, test_bad_number);
    tcase_add_test(tc, test_bad_float);
    tcase_add_test(tc, test_size_zero);
    tcase_add_test(tc, test_stride_negative);
    tcase_add_test(tc, test_width_out_of_range);
    tcase_add_test(tc, test_unknown_activation);
    tcase_add_test(tc, test_duplicate_key);
    tcase_add_test(tc, test_too_many_options);
    tcase_add_test(tc, test_option_before_section);
    tcase_add_test(tc, test_line_without_equals);
    tcase_add_test(tc, test_empty_value);
    tcase_add_test(tc, test_empty_key);
    tcase_add_test(tc, test_malformed_header);
    tcase_add_test(tc, test_non_ascii_byte);
    tcase_add_test(tc, test_first_section_not_net);
    tcase_add_test(tc, test_no_layers);
    suite_add_tcase(s, tc);

    tc = tcase_create("semantic");
    tcase_add_test(tc, test_route_later_layer);
    tcase_add_test(tc, test_route_nonexistent_layer);
    tcase_add_test(tc, test_route_shape_mismatch);
    tcase_add_test(tc, test_shortcut_bad_from);
    tcase_add_test(tc, test_yolo_filters_mismatch);
    tcase_add_test(tc, test_region_mismatch);
    tcase_add_test(tc, test_anchors_count_mismatch);
    tcase_add_test(tc, test_mask_out_of_range);
    tcase_add_test(tc, test_groups_not_dividing);
    tcase_add_test(tc, test_kernel_larger_than_input);
    tcase_add_test(tc, test_kernel_larger_than_input_strided);
    tcase_add_test(tc, test_pool_larger_than_input_strided);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_memory_limit_single_layer);
    tcase_add_test(tc, test_memory_limit_total);
    tcase_add_test(tc, test_memory_capped_child_can_fail);
    suite_add_tcase(s, tc);
    return s;
}
