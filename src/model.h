/* model.h — a model as users name it: cfg + weights + class names, found by name
 * (`-m face` -> models/face.cfg, weights/face.weights, models/face.names, searched in
 * $CNNDEMO_HOME, the install prefix's share/cnndemo and the source tree) or by explicit paths.
 * Also seeded test weights, which are never presented as a trained model. */
#ifndef CNN_MODEL_H
#define CNN_MODEL_H

#include "net.h"
#include "rng.h"

#define CNN_PATH_MAX 4096

typedef struct {
    char name[256];
    char cfg[CNN_PATH_MAX], weights[CNN_PATH_MAX], names[CNN_PATH_MAX]; /* names may be "" */
} cnn_model_paths;

typedef struct {
    cnn_model_paths paths;
    cnn_net *net;
    char **names; /* n_names class names; may be fewer than the model's classes */
    int n_names;
    int n_classes; /* from the output layer */
} cnn_model;

/* Fills paths from -m NAME (a bare name, or a path prefix containing '/'). A missing cfg or
 * weights file is CNN_ERR_MODEL naming every place looked at. */
cnn_status cnn_model_resolve(const char *name, cnn_model_paths *out, cnn_error *err);
/* Builds the network and loads weights and names. weights may be "" to leave seeded weights
 * out of it (tests). */
/* fold_in_place: inference only, batch-norm folded into the loaded weights (cnn_net_fold_in_place). */
cnn_status cnn_model_open(const cnn_model_paths *paths, int batch, int fold_in_place, cnn_model *m,
                          cnn_error *err);
void cnn_model_close(cnn_model *m);
/* Name for class id (or "class N" when the names file is shorter). buf is used for the latter. */
const char *cnn_model_class_name(const cnn_model *m, int id, char *buf, size_t n);

/* Reads a names file: one name per line; blank trailing lines ignored; CR stripped. */
cnn_status cnn_names_load(const char *path, char ***names, int *n, cnn_error *err);
void cnn_names_free(char **names, int n);

/* Seeded random parameters for tests and conformance checks: He-scaled weights, small biases,
 * batch-norm statistics near identity. */
void cnn_net_init_random(cnn_net *net, cnn_rng *rng);

#endif
