/* inputs.h — the list of input images from the command line: files, folders (top level, or
 * recursive with -r; only .png/.jpg/.jpeg/.bmp files are taken from folders, in sorted order),
 * @list.txt files (one path per line) and "-" (paths on stdin). Missing paths are kept in the
 * list so that they are reported as failed inputs, like any other bad file. */
#ifndef CNN_INPUTS_H
#define CNN_INPUTS_H

#include <stddef.h>

#include "status.h"

typedef struct {
    char **items;
    size_t n, cap;
} cnn_strlist;

cnn_status cnn_strlist_push(cnn_strlist *l, const char *s, cnn_error *err);
void cnn_strlist_free(cnn_strlist *l);

cnn_status cnn_inputs_collect(char *const *args, int nargs, int recursive, cnn_strlist *out,
                              cnn_error *err);

/* Whether a file name has an image extension we read (case-insensitive). */
int cnn_has_image_ext(const char *name);

/* Output path for an input: dir + "/" + the input path made relative and safe (leading "/" and
 * "./" dropped, ".." components become "__"), optionally with a new extension. */
void cnn_output_path(const char *dir, const char *input, const char *new_ext, char *out, size_t n);

#endif
