/* pool.c — see pool.h. The threading design of the engine:
 *
 * - `-t N` means N cores in total: the thread that calls cnn_net_forward plus N - 1 helpers that
 *   the network owns, started by cnn_net_set_threads or cnn_net_clone (never during a forward).
 *   In batch mode every worker's clone has its own pool, so -j W -t T uses W x T threads.
 * - OpenBLAS always runs on one thread (main.c, cli_apply_threads). Its own threading split each
 *   of our GEMMs (a band of ~1000 output pixels, or a 13x13 map) too finely, its threads woke
 *   slowly between calls and its threaded driver allocates per call; instead a layer cuts its
 *   work into tasks (bands of output rows, blocks of filters, channels or planes: see conv.c)
 *   and each task runs the 1-thread kernels.
 * - Tasks are claimed one at a time with a compare-and-swap on one 64-bit word holding the
 *   job's generation, its task count and the next task, so a helper that wakes late can never
 *   claim a task of a finished job. The caller works through the tasks too and then waits only
 *   for tasks that helpers actually claimed: a helper that another process keeps off its core
 *   costs nothing, and a slower core simply takes fewer tasks.
 * - Tasks write disjoint outputs, and each kernel computes an output the same way whichever
 *   thread runs it.
 * - Waiting threads spin for POOL_SPIN_NS (layers follow each other within microseconds), then
 *   sleep on a condition variable, so an idle network costs no CPU. */
#include "pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a waiting thread spins before it sleeps. */
#define POOL_SPIN_NS 100000

/* The ticket: generation (24 bits) | end of the unclaimed tasks (20 bits) | start (20 bits). */
#define TICKET_BITS 20
#define TICKET_MASK ((UINT64_C(1) << TICKET_BITS) - 1)
#define POOL_MAX_TASKS ((int)TICKET_MASK)
#define TICKET_GEN(t) ((unsigned)((t) >> (2 * TICKET_BITS)))

typedef struct {
    cnn_pool *pool;
    int id;
} pool_helper;

struct cnn_pool {
    int n_threads;
    int n_started;
    pthread_t *threads;
    pool_helper *helpers;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* helpers wait here for a new job */
    pthread_cond_t done; /* the caller waits here for claimed tasks */
    /* the current job, written by the caller before the ticket that announces it */
    cnn_pool_fn fn;
    void *ctx;
    _Atomic uint64_t ticket;
    atomic_int finished; /* tasks of the current job completed by helpers */
    atomic_int sleepers; /* helpers blocked on wake */
    atomic_int caller_sleeps;
    atomic_int stop;
    unsigned gen;        /* the caller's last generation */
    long jobs;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A bounded spin: spin_more pauses once and returns 0 when POOL_SPIN_NS have passed. */
typedef struct {
    unsigned i;
    long long t0;
} spinner;

static int spin_more(spinner *s)
{
    cpu_relax();
    if ((++s->i & 63) == 0) {
        const long long t = now_ns();
        if (!s->t0) s->t0 = t;
        else if (t - s->t0 > POOL_SPIN_NS) return 0;
    }
    return 1;
}

/* Claims and runs tasks of job gen until none is left; returns how many it ran. The caller
 * takes tasks from the front, helpers from the back: layers cut the same way in a row (bands of
 * rows) then leave each core the part of the data that it wrote itself, in its own cache. */
static int run_tasks(cnn_pool *p, unsigned gen, int worker)
{
    int ran = 0;
    const uint64_t step = worker == 0 ? 1 : -(UINT64_C(1) << TICKET_BITS);
    uint64_t t = atomic_load(&p->ticket);
    for (;;) {
        const unsigned start = (unsigned)(t & TICKET_MASK), end = (unsigned)((t >> TICKET_BITS) & TICKET_MASK);
        if (TICKET_GEN(t) != gen || start >= end) return ran;
        if (!atomic_compare_exchange_weak(&p->ticket, &t, t + step)) continue;
        /* the job cannot end before this task does, so fn and ctx are still this job's */
        p->fn(p->ctx, (int)(worker == 0 ? start : end - 1), worker);
        ran++;
        t = atomic_load(&p->ticket);
    }
}

static void *helper_main(void *arg)
{
    const pool_helper *h = arg;
    cnn_pool *p = h->pool;
    unsigned seen = 0;
    for (;;) {
        spinner sp = {0};
        while (TICKET_GEN(atomic_load_explicit(&p->ticket, memory_order_acquire)) == seen &&
               spin_more(&sp)) {
        }
        if (TICKET_GEN(atomic_load(&p->ticket)) == seen) {
            /* Dekker with the caller: we announce ourselves, then look at the ticket; it
             * replaces the ticket, then looks at sleepers (all sequentially consistent), so
             * one of us sees the other. The mutex makes announcing and waiting one step. */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (TICKET_GEN(atomic_load(&p->ticket)) == seen) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        seen = TICKET_GEN(atomic_load(&p->ticket));
        if (atomic_load(&p->stop)) return NULL;
        const int ran = run_tasks(p, seen, h->id);
        if (ran) {
            /* Dekker again: the caller announces that it sleeps, then reads finished */
            atomic_fetch_add(&p->finished, ran);
            if (atomic_load(&p->caller_sleeps)) {
                pthread_mutex_lock(&p->mu);
                pthread_cond_signal(&p->done);
                pthread_mutex_unlock(&p->mu);
            }
        }
    }
}

/* Announces job (fn, ctx) with n tasks (or the stop flag) to every helper. */
static void publish(cnn_pool *p, int n)
{
    atomic_store(&p->finished, 0);
    p->gen = (p->gen + 1) & (unsigned)((UINT64_C(1) << (64 - 2 * TICKET_BITS)) - 1);
    atomic_store(&p->ticket, (uint64_t)p->gen << (2 * TICKET_BITS) | (uint64_t)n << TICKET_BITS);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Waits until the helpers have finished the tasks they claimed (want of them). */
static void wait_helpers(cnn_pool *p, int want)
{
    spinner sp = {0};
    while (atomic_load_explicit(&p->finished, memory_order_acquire) != want && spin_more(&sp)) {
    }
    if (atomic_load(&p->finished) == want) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeps, 1);
    while (atomic_load(&p->finished) != want) pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_sleeps, 0);
    pthread_mutex_unlock(&p->mu);
}

void cnn_pool_free(cnn_pool *p)
{
    if (!p) return;
    if (p->n_started) {
        atomic_store(&p->stop, 1);
        publish(p, 0);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->helpers);
    free(p);
}

cnn_status cnn_pool_create(int threads, cnn_pool **out, cnn_error *err)
{
    *out = NULL;
    if (threads < 1 || threads > 1024)
        return cnn_fail(err, CNN_ERR_USAGE, "thread count %d out of range 1..1024", threads);
    cnn_pool *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    p->n_threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)threads, sizeof *p->threads);
    p->helpers = calloc((size_t)threads, sizeof *p->helpers);
    if (!p->threads || !p->helpers) {
        cnn_pool_free(p);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    /* helpers take no signals: those go to the application's own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (int i = 1; i < threads && rc == 0; i++) {
        p->helpers[i] = (pool_helper){p, i};
        rc = pthread_create(&p->threads[p->n_started], NULL, helper_main, &p->helpers[i]);
        if (rc == 0) p->n_started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        cnn_pool_free(p);
        return cnn_fail(err, CNN_ERR_NOMEM, "cannot start %d threads: %s", threads - 1, strerror(rc));
    }
    *out = p;
    return CNN_OK;
}

int cnn_pool_threads(const cnn_pool *p) { return p ? p->n_threads : 1; }
long cnn_pool_jobs(const cnn_pool *p) { return p ? p->jobs : 0; }

void cnn_pool_run(cnn_pool *p, int n_tasks, cnn_pool_fn fn, void *ctx)
{
    if (!p || p->n_started == 0 || n_tasks < 2 || n_tasks > POOL_MAX_TASKS) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->jobs++;
    publish(p, n_tasks);
    const int mine = run_tasks(p, p->gen, 0);
    wait_helpers(p, n_tasks - mine);
}
