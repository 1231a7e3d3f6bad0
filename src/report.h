/* report.h — results of one input as plain data, and their renderings: JSONL (the stable
 * machine format, DESIGN.md §4), TSV, human text, CSV rows and YOLO txt labels.
 * Renderers append to a growable string buffer owned by the caller. */
#ifndef CNN_REPORT_H
#define CNN_REPORT_H

#include <stddef.h>

#include "detect.h"
#include "explain.h"
#include "model.h"

typedef struct {
    char *s;
    size_t len, cap;
    int oom; /* set when an append failed; the buffer then holds a prefix */
} cnn_sbuf;

void cnn_sbuf_printf(cnn_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cnn_sbuf_json_string(cnn_sbuf *b, const char *s); /* quoted, escaped */
void cnn_sbuf_clear(cnn_sbuf *b);
void cnn_sbuf_free(cnn_sbuf *b);

enum { CNN_STAGE_DECODE, CNN_STAGE_PREPROCESS, CNN_STAGE_FORWARD, CNN_STAGE_POSTPROCESS,
       CNN_STAGE_DRAW_ENCODE, CNN_STAGE_COUNT };
extern const char *const cnn_stage_names[CNN_STAGE_COUNT];

typedef struct {
    const char *path;
    int width, height; /* 0 when decoding failed */
    const char *error; /* NULL on success */
    const cnn_det *dets;
    int n_dets;
    const int *top_ids; /* classify: top-k class ids and probabilities */
    const float *top_p;
    int n_top;
    const char *output; /* annotated image path, or NULL */
    double ms[CNN_STAGE_COUNT];
    /* --explain: the JSONL object gets "explain" (null for a failed input), text a line */
    int explained;
    const cnn_explanation *explain; /* NULL when the input failed */
} cnn_result;

void cnn_report_jsonl(cnn_sbuf *b, const cnn_result *r, const cnn_model *m);
void cnn_report_tsv(cnn_sbuf *b, const cnn_result *r, const cnn_model *m);
void cnn_report_text(cnn_sbuf *b, const cnn_result *r, const cnn_model *m);
void cnn_report_csv_header(cnn_sbuf *b);
void cnn_report_csv(cnn_sbuf *b, const cnn_result *r, const cnn_model *m);
/* YOLO txt: "class cx cy w h" normalised to the image, one line per detection. */
void cnn_report_yolo_txt(cnn_sbuf *b, const cnn_result *r);

#endif
