/* See pool.h. */
#include <pthread.h>
#include "pool.h"

#define FR_MAX_THREADS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_cond_t start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int size = 1;                 /* threads wanted, caller included */
static int workers = 0;              /* worker threads running */
static unsigned long generation = 0; /* bumped for each job */
static void (*job_fn)(void *, int);
static void *job_arg;
static int job_parts, job_next, job_pending;
static int atfork_done = 0;

static void *worker_main(void *unused) {
    unsigned long seen = 0;
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (generation == seen) pthread_cond_wait(&start, &lock);
        seen = generation;
        while (job_next < job_parts) {
            int part = job_next++;
            pthread_mutex_unlock(&lock);
            job_fn(job_arg, part);
            pthread_mutex_lock(&lock);
            if (--job_pending == 0) pthread_cond_signal(&done);
        }
    }
    return 0;
}

static void child_after_fork(void) {
    /* The workers do not exist in a forked child: start again from nothing. */
    pthread_mutex_init(&lock, 0);
    pthread_mutex_init(&busy, 0);
    pthread_cond_init(&start, 0);
    pthread_cond_init(&done, 0);
    workers = 0;
    generation = 0;
}

void fr_pool_set_size(int n) {
    pthread_mutex_lock(&lock);
    size = n < 1 ? 1 : (n > FR_MAX_THREADS ? FR_MAX_THREADS : n);
    pthread_mutex_unlock(&lock);
}

int fr_pool_size(void) { return size; }

static void ensure_workers(int wanted) {
    /* called with lock held; workers are never stopped, only added */
    if (!atfork_done) {
        pthread_atfork(0, 0, child_after_fork);
        atfork_done = 1;
    }
    while (workers < wanted) {
        pthread_t t;
        if (pthread_create(&t, 0, worker_main, 0) != 0) break;
        pthread_detach(t);
        workers++;
    }
}

void fr_pool_run(void (*fn)(void *, int), void *arg, int parts) {
    int p;
    if (parts <= 1 || size <= 1 || pthread_mutex_trylock(&busy) != 0) {
        for (p = 0; p < parts; p++) fn(arg, p);
        return;
    }
    pthread_mutex_lock(&lock);
    ensure_workers(size - 1);
    job_fn = fn;
    job_arg = arg;
    job_parts = parts;
    job_next = 1;                     /* part 0 is the caller's */
    job_pending = parts - 1;
    generation++;
    pthread_cond_broadcast(&start);
    pthread_mutex_unlock(&lock);
    fn(arg, 0);
    pthread_mutex_lock(&lock);
    while (job_next < job_parts) {    /* help with what no worker has taken yet */
        int part = job_next++;
        pthread_mutex_unlock(&lock);
        fn(arg, part);
        pthread_mutex_lock(&lock);
        job_pending--;
    }
    while (job_pending > 0) pthread_cond_wait(&done, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&busy);
}

/* One GEMM split into parts along the larger of m and n. */
#define DEFINE_GEMM_SPLIT(T, S, GEMM_T)                                               \
    typedef struct {                                                                  \
        GEMM_T gemm; char ta, tb; int m, n, k; T alpha; const T *a; int lda;          \
        const T *b; int ldb; T beta; T *c; int ldc; int parts;                        \
    } split_##S;                                                                      \
    static void split_part_##S(void *arg, int part) {                                 \
        split_##S *g = (split_##S *)arg;                                              \
        int m = g->m, n = g->n, lda = g->lda, ldb = g->ldb, ldc = g->ldc, k = g->k;   \
        T alpha = g->alpha, beta = g->beta;                                           \
        const T *a = g->a, *b = g->b;                                                 \
        T *c = g->c;                                                                  \
        char ta = g->ta, tb = g->tb;                                                  \
        if (g->m >= g->n) {   /* rows of C: rows of op(A) */                          \
            int lo = (int)((long)g->m * part / g->parts);                             \
            int hi = (int)((long)g->m * (part + 1) / g->parts);                       \
            m = hi - lo;                                                              \
            a += (ta == 'N') ? lo : (long)lo * lda;                                   \
            c += lo;                                                                  \
        } else {              /* columns of C: columns of op(B) */                    \
            int lo = (int)((long)g->n * part / g->parts);                             \
            int hi = (int)((long)g->n * (part + 1) / g->parts);                       \
            n = hi - lo;                                                              \
            b += (tb == 'N') ? (long)lo * ldb : lo;                                   \
            c += (long)lo * ldc;                                                      \
        }                                                                             \
        if (m > 0 && n > 0)                                                           \
            g->gemm(&ta, &tb, &m, &n, &k, &alpha, (T *)a, &lda, (T *)b, &ldb, &beta,  \
                    c, &ldc);                                                         \
    }                                                                                 \
    void fr_gemm_split_##S(GEMM_T gemm, char ta, char tb, int m, int n, int k,        \
                           T alpha, const T *a, int lda, const T *b, int ldb, T beta, \
                           T *c, int ldc, int parts) {                                \
        split_##S g = {gemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,    \
                       parts};                                                        \
        fr_pool_run(split_part_##S, &g, parts);                                       \
    }

DEFINE_GEMM_SPLIT(float, f, fr_sgemm_t)
DEFINE_GEMM_SPLIT(double, d, fr_dgemm_t)

/* fr_wgrad over parts column ranges, each of whole panels (the last takes the rest). */
typedef struct {
    int K, N;
    const float *dz;
    int ldz, n;
    const fr_wgrad_term *terms;
    float *db;
    int parts;
} wgrad_job;

static void wgrad_part(void *arg, int part) {
    wgrad_job *g = (wgrad_job *)arg;
    long panels = (g->N + FR_NR - 1) / FR_NR;
    int lo = (int)(panels * part / g->parts) * FR_NR;
    int hi = part + 1 == g->parts ? g->N : (int)(panels * (part + 1) / g->parts) * FR_NR;
    fr_wgrad_term t[FR_WGRAD_MAX_TERMS];
    if (hi <= lo)
        return;
    for (int i = 0; i < g->n; i++) {
        t[i] = g->terms[i];
        t[i].C += lo;
    }
    fr_wgrad(g->K, hi - lo, g->dz + lo, g->ldz, g->n, t, g->db == NULL ? NULL : g->db + lo);
}

void fr_wgrad_split(int K, int N, const float *dz, int ldz, int n, const fr_wgrad_term *terms,
                    float *db, int parts) {
    wgrad_job g = {K, N, dz, ldz, n, terms, db, parts};
    if (n > FR_WGRAD_MAX_TERMS) {
        fr_wgrad(K, N, dz, ldz, n, terms, db);
        return;
    }
    fr_pool_run(wgrad_part, &g, parts);
}
