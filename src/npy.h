/* npy.h — writes float32 arrays as NumPy .npy files (format 1.0, little-endian, C order), so
 * any engine's outputs can be compared with ours. */
#ifndef CNN_NPY_H
#define CNN_NPY_H

#include "status.h"

cnn_status cnn_npy_save(const char *path, const float *data, const int *shape, int ndim,
                        cnn_error *err);

#endif
