/* pool.h — a persistent thread pool that splits one layer's work across cores (design notes at
 * the top of pool.c). A network owns one (cnn_net_set_threads, cnn_net_clone); layers reach it
 * through net->pool. Running a job never allocates. */
#ifndef CNN_POOL_H
#define CNN_POOL_H

#include "status.h"

typedef struct cnn_pool cnn_pool;

/* One task of a job: task is in [0, n_tasks); worker is in [0, threads) and names the thread
 * running it (0 = the caller), e.g. to pick a per-thread slice of scratch memory. */
typedef void (*cnn_pool_fn)(void *ctx, int task, int worker);

/* threads = cores to use in total, counting the caller: starts threads - 1 helpers. */
cnn_status cnn_pool_create(int threads, cnn_pool **out, cnn_error *err);
/* Stops and joins the helpers. Accepts NULL. */
void cnn_pool_free(cnn_pool *pool);
/* Threads a job may run on (1 for a NULL pool). */
int cnn_pool_threads(const cnn_pool *pool);
/* Jobs handed to the helpers so far (for tests: was a layer split at all?). */
long cnn_pool_jobs(const cnn_pool *pool);

/* Runs fn(ctx, task, worker) for every task in [0, n_tasks) on the caller and the helpers and
 * returns when all are done. Tasks are handed out one at a time in increasing order, so a
 * slower core takes fewer. With a NULL pool or fewer than 2 tasks it is a plain loop on the
 * caller. Not reentrant: fn must not run a job on the same pool. */
void cnn_pool_run(cnn_pool *pool, int n_tasks, cnn_pool_fn fn, void *ctx);

#endif
