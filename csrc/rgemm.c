/* See rgemm.h.  The kernels use AVX-512F or AVX2 + FMA intrinsics in functions compiled
 * for that target only (target attributes), so the rest of the build stays generic
 * x86-64; the CPU is checked once, when the module is loaded. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "rgemm.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FR_HAVE_SIMD_KERNELS 1
#include <immintrin.h>
#define FR_TARGET_512 __attribute__((target("avx512f,fma")))
#define FR_TARGET_256 __attribute__((target("avx2,fma")))
#define FR_INLINE static inline __attribute__((always_inline))
#endif

/* 2: AVX-512F + FMA, 1: AVX2 + FMA, 0: neither (callers use BLAS).  Set once when the
 * module is loaded, before any thread can ask.  FASTRNN_KERNEL=avx2 or =blas in the
 * environment caps it (to test the other paths on a CPU that has more). */
static int level = 0;

#ifdef FR_HAVE_SIMD_KERNELS
__attribute__((constructor)) static void check_cpu(void) {
    const char *cap = getenv("FASTRNN_KERNEL");
    int most = cap == NULL ? 2 : strcmp(cap, "avx2") == 0 ? 1 : strcmp(cap, "blas") == 0 ? 0 : 2;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f"))
        level = 2;
    else if (__builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2"))
        level = 1;
    if (level > most)
        level = most;
}
#endif

int fr_rgemm_supported(void) {
    return level > 0;
}

int fr_rgemm_level(void) {
    return level;
}

long fr_rgemm_packed_size(int K, int N) {
    return (long)K * ((N + FR_NR - 1) / FR_NR) * FR_NR;
}

#define FR_HUGE_PAGE (2L << 20)
#define FR_HUGE_MIN (256L << 10)
#define FR_HUGE_FLOPS_PER_BYTE 1000.0

/* The kernels stream a packed operand many times (W4's 5 MB panel at every step: 1,300
 * pages of 4 KB, beyond what the TLB maps).  In huge pages the products ran 6-15%
 * faster (C bench), but each allocation is a fresh mapping whose 2 MB pages are faulted
 * in and zeroed (about 0.1-0.2 ms per page, where plain malloc reuses its memory).
 * That repays itself at about 250 flops of the product per byte zeroed; from 1000 (and
 * 256 KB), the buffer is allocated in whole 2 MB blocks, 2 MB aligned, and marked for
 * transparent huge pages.  madvise is a hint: where THP is off, these are ordinary
 * pages. */
#ifdef MADV_HUGEPAGE
static size_t whole_huge_pages(size_t bytes) {
    return (bytes + FR_HUGE_PAGE - 1) & ~(size_t)(FR_HUGE_PAGE - 1);
}
#endif

int fr_packed_wants_huge(long floats, double flops) {
#ifdef MADV_HUGEPAGE
    size_t bytes = (size_t)floats * sizeof(float);
    return floats >= 0 && bytes >= (size_t)FR_HUGE_MIN
           && flops >= FR_HUGE_FLOPS_PER_BYTE * (double)whole_huge_pages(bytes);
#else
    (void)floats;
    (void)flops;
    return 0;
#endif
}

float *fr_packed_alloc(long floats, double flops) {
    size_t bytes = (size_t)floats * sizeof(float);
#ifdef MADV_HUGEPAGE
    if (fr_packed_wants_huge(floats, flops)) {
        void *p = NULL;
        size_t whole = whole_huge_pages(bytes);
        if (posix_memalign(&p, FR_HUGE_PAGE, whole) != 0)
            return NULL;
        madvise(p, whole, MADV_HUGEPAGE);
        return p;
    }
#endif
    /* 64-byte aligned (malloc gives 16, which puts every panel vector across two cache
     * lines: a packed product at 64 x 128 x 512 ran 8-18% slower so) */
    void *p = NULL;
    return posix_memalign(&p, 64, bytes > 0 ? bytes : 64) == 0 ? p : NULL;
}

void fr_rgemm_pack(const float *U, int K, int N, int ldu, int trans, float *P) {
    for (int p = 0; p * FR_NR < N; p++)
        for (int k = 0; k < K; k++) {
            float *row = P + ((long)p * K + k) * FR_NR;
            for (int j = 0; j < FR_NR; j++) {
                int c = p * FR_NR + j;
                row[j] = c >= N ? 0.0f : (trans ? U[(long)c * ldu + k] : U[(long)k * ldu + c]);
            }
        }
}

/* Plain loops: the fallback where the fast kernel is missing or its buffers cannot be
 * had.  Row-major C (M x N) = beta C + op(A) op(B). */
static void fr_sgemm_portable(int ta, int tb, int M, int N, int K, const float *A, int lda,
                              const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s += (ta ? A[(long)k * lda + i] : A[(long)i * lda + k]) *
                     (tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j]);
            float *cc = C + (long)i * ldc + j;
            *cc = beta == 0.0f ? s : beta * *cc + s;
        }
}

#ifdef FR_HAVE_SIMD_KERNELS
/* The lanes of the 16-column vector v (0 or 1) of a strip that hold one of cols columns. */
FR_TARGET_512 FR_INLINE __mmask16 lanes512(int cols, int v) {
    int c = cols - 16 * v;
    return c >= 16 ? 0xFFFF : c <= 0 ? 0 : (__mmask16)((1u << c) - 1);
}

/* ---- AVX-512: one register tile: C[0:ROWS, 0:32] = beta C + op(A)[0:ROWS, 0:K] B[0:K, 0:32].
 * op(A)[r][k] is A[r lda + k] for k < K1 and A2[r lda2 + k - K1] after (two sources
 * side by side, e.g. x_t and h_{t-1}; K1 = K: A alone), or A[k lda + r] when TA (then
 * K1 = K); row k of B starts at B + k ldb
 * and holds 32 floats (a packed panel, zero-padded past the last column of C).  ROWS
 * (1 to FR_MR) and TA are constants at each call site, so the loops over rows unroll
 * and the 2 ROWS accumulators stay in registers.  cols: the columns of C that exist
 * (its loads and stores of the others are masked off).
 * beta == 0 stores without reading C (NaN or garbage there is overwritten, as BLAS
 * does). */
FR_TARGET_512 FR_INLINE void tile512(const int ROWS, const int TA, int K, const float *A,
                                     long lda, int K1, const float *A2, long lda2,
                                     const float *B, long ldb, float beta,
                                     float *C, long ldc, int cols) {
    __m512 c0[FR_MR], c1[FR_MR];
    const float *a[FR_MR], *a2[FR_MR];
    for (int r = 0; r < ROWS; r++) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
        a[r] = A + r * lda;
        a2[r] = A2 + r * lda2;
    }
    /* part 0: columns [0, K1) from a (or the transposed A); part 1: [K1, K) from a2 */
    for (int part = 0, k = 0; part < 2; part++) {
        const float *const *src = part ? a2 : a;
        for (const int k0 = part ? K1 : 0, kend = part ? K : K1; k < kend; k++) {
            __m512 b0 = _mm512_loadu_ps(B + k * ldb);
            __m512 b1 = _mm512_loadu_ps(B + k * ldb + 16);
            for (int r = 0; r < ROWS; r++) {
                __m512 ar = _mm512_set1_ps(TA ? A[k * lda + r] : src[r][k - k0]);
                c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
                c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
            }
        }
    }
    __m512 vb = _mm512_set1_ps(beta);
    __mmask16 m0 = lanes512(cols, 0), m1 = lanes512(cols, 1);
    for (int r = 0; r < ROWS; r++) {
        float *cr = C + r * ldc;
        if (beta != 0.0f) {
            c0[r] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), c0[r]);
            c1[r] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), c1[r]);
        }
        _mm512_mask_storeu_ps(cr, m0, c0[r]);
        _mm512_mask_storeu_ps(cr + 16, m1, c1[r]);
    }
}

/* ---- AVX2: the same 8 x 32 tile of C, computed as four 4 x 16 blocks (8 accumulators
 * of the 16 ymm registers each), so that packing and drivers are shared. */
FR_TARGET_256 FR_INLINE __m256i lanes256(int cols, int v) {
    /* the lanes of the 8-column vector v (0 to 3) that hold one of cols columns */
    int c = cols - 8 * v;
    c = c < 0 ? 0 : c > 8 ? 8 : c;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

FR_TARGET_256 FR_INLINE void block256(const int ROWS, const int TA, int K, const float *A,
                                      long lda, int K1, const float *A2, long lda2,
                                      const float *B, long ldb, float beta,
                                      float *C, long ldc, int cols) {
    /* C[0:ROWS, 0:16] (ROWS 1 to 4) from 16 columns of B; A, K1 and A2 as in tile512 */
    __m256 c0[4], c1[4];
    const float *a[4], *a2[4];
    for (int r = 0; r < ROWS; r++) {
        c0[r] = _mm256_setzero_ps();
        c1[r] = _mm256_setzero_ps();
        a[r] = A + r * lda;
        a2[r] = A2 + r * lda2;
    }
    /* part 0: columns [0, K1) from a (or the transposed A); part 1: [K1, K) from a2 */
    for (int part = 0, k = 0; part < 2; part++) {
        const float *const *src = part ? a2 : a;
        for (const int k0 = part ? K1 : 0, kend = part ? K : K1; k < kend; k++) {
            __m256 b0 = _mm256_loadu_ps(B + k * ldb);
            __m256 b1 = _mm256_loadu_ps(B + k * ldb + 8);
            for (int r = 0; r < ROWS; r++) {
                __m256 ar = _mm256_set1_ps(TA ? A[k * lda + r] : src[r][k - k0]);
                c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
            }
        }
    }
    __m256 vb = _mm256_set1_ps(beta);
    __m256i m0 = lanes256(cols, 0), m1 = lanes256(cols, 1);
    for (int r = 0; r < ROWS; r++) {
        float *cr = C + r * ldc;
        if (cols >= 16) {
            if (beta != 0.0f) {
                c0[r] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), c0[r]);
                c1[r] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), c1[r]);
            }
            _mm256_storeu_ps(cr, c0[r]);
            _mm256_storeu_ps(cr + 8, c1[r]);
        } else {
            if (beta != 0.0f) {
                c0[r] = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr, m0), c0[r]);
                c1[r] = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + 8, m1), c1[r]);
            }
            _mm256_maskstore_ps(cr, m0, c0[r]);
            _mm256_maskstore_ps(cr + 8, m1, c1[r]);
        }
    }
}

FR_TARGET_256 FR_INLINE void tile256(const int ROWS, const int TA, int K, const float *A,
                                     long lda, int K1, const float *A2, long lda2,
                                     const float *B, long ldb, float beta,
                                     float *C, long ldc, int cols) {
    for (int g = 0; g < ROWS; g += 4) {       /* rows g..g+3 (ROWS is a constant) */
        const int rows = ROWS - g < 4 ? ROWS - g : 4;
        const float *Ag = TA ? A + g : A + g * lda, *A2g = A2 + g * lda2;
        for (int h = 0; h < 2 && 16 * h < cols; h++)
            block256(rows, TA, K, Ag, lda, K1, A2g, lda2, B + 16 * h, ldb, beta,
                     C + g * ldc + 16 * h, ldc,
                     cols - 16 * h);
    }
}

/* Every row tile of op(A) (M x K) against one 32-column strip of B (columns that exist:
 * cols), into C (M x cols); tile t (rows 8t to 8t + 7) starts at A + t * tile_step (and
 * its columns from K1 on at A2 + 8 t lda2, see tile512; K1 = K: A alone).
 * run_strip<ISA> is the entry the drivers below call (TA at run time), written once for
 * both instruction sets: the last rows get a tile with a constant row count each. */
#define FR_TILE(ISA, R) tile##ISA(R, TA, K, A, lda, K1, A2, lda2, B, ldb, beta, C, ldc, cols)
#define FR_DEFINE_STRIP(ISA, TARGET)                                                      \
    TARGET FR_INLINE void strip##ISA(const int TA, int M, int cols, int K, const float *A, \
                                     long lda, long tile_step, int K1, const float *A2,   \
                                     long lda2, const float *B, long ldb, float beta,     \
                                     float *C, long ldc) {                                \
        int i = 0;                                                                        \
        for (; i + FR_MR <= M;                                                            \
             i += FR_MR, A += tile_step, A2 += FR_MR * lda2, C += FR_MR * ldc)            \
            FR_TILE(ISA, FR_MR);                                                          \
        switch (M - i) {                                                                  \
        case 7: FR_TILE(ISA, 7); break;                                                   \
        case 6: FR_TILE(ISA, 6); break;                                                   \
        case 5: FR_TILE(ISA, 5); break;                                                   \
        case 4: FR_TILE(ISA, 4); break;                                                   \
        case 3: FR_TILE(ISA, 3); break;                                                   \
        case 2: FR_TILE(ISA, 2); break;                                                   \
        case 1: FR_TILE(ISA, 1); break;                                                   \
        default: break;                                                                   \
        }                                                                                 \
    }                                                                                     \
    TARGET static void run_strip##ISA(int ta, int M, int cols, int K, const float *A,     \
                                      long lda, long tile_step, int K1, const float *A2,  \
                                      long lda2, const float *B, long ldb, float beta,    \
                                      float *C, long ldc) {                               \
        if (ta)                                                                           \
            strip##ISA(1, M, cols, K, A, lda, tile_step, K, A, 0, B, ldb, beta, C, ldc);  \
        else                                                                              \
            strip##ISA(0, M, cols, K, A, lda, tile_step, K1, A2, lda2, B, ldb, beta, C,   \
                       ldc);                                                              \
    }

FR_DEFINE_STRIP(512, FR_TARGET_512)
FR_DEFINE_STRIP(256, FR_TARGET_256)
#endif

/* ---- Drivers, shared by both instruction sets: one strip of C at a time. */
typedef void (*strip_fn)(int ta, int M, int cols, int K, const float *A, long lda,
                         long tile_step, int K1, const float *A2, long lda2,
                         const float *B, long ldb, float beta, float *C, long ldc);

static strip_fn pick_strip(void) {
#ifdef FR_HAVE_SIMD_KERNELS
    if (level >= 2)
        return run_strip512;
    if (level == 1)
        return run_strip256;
#endif
    return NULL;
}

#define FR_RKC 256     /* depth of one pass of fr_rgemm: a 256 x 32 panel block is 32 KB */

void fr_rgemm2(int M, int N, int K, const float *A, int lda, int K1, const float *A2,
               int lda2, const float *P, float beta, float *C, int ldc, int reverse) {
    strip_fn run = pick_strip();
    if (run == NULL) {          /* callers use BLAS here; kept correct all the same */
        for (int i = 0; i < M; i++)
            for (int c = 0; c < N; c++) {
                const float *Pp = P + (long)(c / FR_NR) * K * FR_NR + c % FR_NR;
                float s = 0.0f;
                for (int k = 0; k < K; k++)
                    s += (k < K1 ? A[(long)i * lda + k] : A2[(long)i * lda2 + k - K1]) *
                         Pp[(long)k * FR_NR];
                float *cc = C + (long)i * ldc + c;
                *cc = beta == 0.0f ? s : beta * *cc + s;
            }
        return;
    }
    /* Panels outer, then depth blocks, then row tiles: one panel block (up to 256
     * deep, 32 KB, L1) stays in cache while every row tile of A streams past it, and
     * the C strip accumulates over the depth blocks.  The columns are independent, so
     * the panel order does not change a result: reversed, a call starts with the
     * panels the previous call (in the other order) left in L2, which a panel larger
     * than L2 (W4's 5 MB) otherwise streams from L3 at every step. */
    int panels = (N + FR_NR - 1) / FR_NR;
    for (int q = 0; q < panels; q++) {
        int p = reverse ? panels - 1 - q : q;
        int cols = N - p * FR_NR < FR_NR ? N - p * FR_NR : FR_NR;
        for (int k0 = 0; k0 < K || k0 == 0; k0 += FR_RKC) {
            int kc = K - k0 < FR_RKC ? K - k0 : FR_RKC;
            /* this block's columns below K1 come from A, the rest from A2 */
            int k1 = K1 - k0 < 0 ? 0 : K1 - k0 > kc ? kc : K1 - k0;
            run(0, M, cols, kc, k1 > 0 ? A + k0 : A, lda, FR_MR * (long)lda, k1,
                k0 > K1 ? A2 + (k0 - K1) : A2, lda2, P + ((long)p * K + k0) * FR_NR, FR_NR,
                k0 == 0 ? beta : 1.0f, C + p * FR_NR, ldc);
        }
    }
}

void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P, float beta,
              float *C, int ldc, int reverse) {
    fr_rgemm2(M, N, K, A, lda, K, A, lda, P, beta, C, ldc, reverse);
}

/* Cache blocking of fr_sgemm (Goto's scheme): a KC x NC block of op(B) is packed into
 * 32-column strips (L2); then, per MC x KC block of op(A), every row tile runs against
 * one KC x 32 strip (32 KB, L1) at a time.  A transposed A is packed into row tiles
 * first (its rows would be 8 floats read at a stride); a plain A is read in place (8
 * row streams).  The packing reads whole rows (streams the prefetchers follow) and
 * leaves every load of the inner loop contiguous. */
#define FR_KC 256
#define FR_MC 512
#define FR_NC 1024

/* A^T[0:mc, 0:kc] (A (kc x mc), row step lda) into row tiles: tile t holds rows
 * 8t..8t+7 of A^T, k-major, A^T[8t + r][k] at Ap[t * kc * 8 + k * 8 + r] (rows past mc
 * are not written).  Only transposed A is packed: rows of A are read in place. */
static void pack_a(const float *A, long lda, int mc, int kc, float *Ap) {
    for (int t = 0; t * FR_MR < mc; t++) {
        int rows = mc - t * FR_MR < FR_MR ? mc - t * FR_MR : FR_MR;
        float *dst = Ap + (long)t * kc * FR_MR;
        if (rows == FR_MR)      /* constant size: the compiler inlines the copy */
            for (int k = 0; k < kc; k++)
                memcpy(dst + k * FR_MR, A + (long)k * lda + t * FR_MR, FR_MR * sizeof(float));
        else
            for (int k = 0; k < kc; k++)
                memcpy(dst + k * FR_MR, A + (long)k * lda + t * FR_MR, rows * sizeof(float));
    }
}

/* op(B)[0:kc, 0:nc] into 32-column strips: strip s holds columns 32s..32s+31, k-major,
 * op(B)[k][32s + j] at Bp[s * kc * 32 + k * 32 + j]; columns past nc are zero. */
static void pack_b(int tb, const float *B, long ldb, int kc, int nc, float *Bp) {
    int strips = (nc + FR_NR - 1) / FR_NR;
    if (nc % FR_NR) {
        float *last = Bp + (long)(strips - 1) * kc * FR_NR;
        memset(last, 0, (size_t)kc * FR_NR * sizeof(float));
    }
    if (tb) {                  /* op(B)[k][n] = B[n ldb + k]: read each row of B whole */
        for (int n = 0; n < nc; n++) {
            const float *row = B + (long)n * ldb;
            float *dst = Bp + (long)(n / FR_NR) * kc * FR_NR + n % FR_NR;
            for (int k = 0; k < kc; k++) dst[(long)k * FR_NR] = row[k];
        }
    } else {
        for (int k = 0; k < kc; k++) {
            const float *row = B + (long)k * ldb;
            int full = nc / FR_NR;      /* whole strips: a constant-size, inlined copy */
            for (int s = 0; s < full; s++)
                memcpy(Bp + ((long)s * kc + k) * FR_NR, row + s * FR_NR, FR_NR * sizeof(float));
            if (full < strips)
                memcpy(Bp + ((long)full * kc + k) * FR_NR, row + full * FR_NR,
                       (nc - full * FR_NR) * sizeof(float));
        }
    }
}

/* db[0:nc] += the column sums of the kc rows of packed strips (as pack_b leaves them),
 * added row by row (each column's sum in one lane: fr_sum_rows_f's order and values). */
#ifdef FR_HAVE_SIMD_KERNELS
FR_TARGET_512 static void add_strip_sums512(const float *Bp, int kc, int nc, float *db) {
    for (int s = 0; s * FR_NR < nc; s++) {
        int cols = nc - s * FR_NR < FR_NR ? nc - s * FR_NR : FR_NR;
        __mmask16 m0 = lanes512(cols, 0), m1 = lanes512(cols, 1);
        const float *p = Bp + (long)s * kc * FR_NR;
        float *d = db + s * FR_NR;
        __m512 s0 = _mm512_maskz_loadu_ps(m0, d), s1 = _mm512_maskz_loadu_ps(m1, d + 16);
        for (int k = 0; k < kc; k++) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + k * FR_NR));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + k * FR_NR + 16));
        }
        _mm512_mask_storeu_ps(d, m0, s0);
        _mm512_mask_storeu_ps(d + 16, m1, s1);
    }
}
#endif

static void add_strip_sums(const float *Bp, int kc, int nc, float *db) {
#ifdef FR_HAVE_SIMD_KERNELS
    if (level >= 2) {
        add_strip_sums512(Bp, kc, nc, db);
        return;
    }
#endif
    for (int s = 0; s * FR_NR < nc; s++) {
        int cols = nc - s * FR_NR < FR_NR ? nc - s * FR_NR : FR_NR;
        const float *p = Bp + (long)s * kc * FR_NR;
        for (int k = 0; k < kc; k++)
            for (int j = 0; j < cols; j++) db[s * FR_NR + j] += p[k * FR_NR + j];
    }
}

/* C_i = beta C_i + op(A_i) op(B) for every term i < n (one op(B), several A): each
 * KC x NC block of op(B) is packed once and serves every term; db (N, or NULL) gets
 * the column sums of B (tb == 0 only), added row by row as the blocks are packed (the
 * order of fr_sum_rows_f, so the same sums). */
static void sgemm_terms(int ta, int tb, int N, int K, const float *B, int ldb, float beta,
                        int n, const fr_wgrad_term *terms, float *db) {
    strip_fn run = pick_strip();
    int mmax = 0;
    for (int i = 0; i < n; i++)
        mmax = terms[i].M > mmax ? terms[i].M : mmax;
    if (N <= 0 || (mmax <= 0 && db == NULL))
        return;
    int ka = K < FR_KC ? K : FR_KC, ma = mmax < FR_MC ? mmax : FR_MC, na = N < FR_NC ? N : FR_NC;
    /* a_size: whole 64-byte lines, so that the strips of Bp start aligned as Ap does */
    long a_size = ta ? ((long)ka * ((ma + FR_MR - 1) / FR_MR) * FR_MR + 15) / 16 * 16 : 0;
    long b_size = (long)ka * ((na + FR_NR - 1) / FR_NR) * FR_NR;
    double flops = 0;
    for (int i = 0; i < n; i++)
        flops += 2.0 * terms[i].M * N * K;
    float *Ap = run == NULL || K <= 0 || mmax <= 0 ? NULL
                                                   : fr_packed_alloc(a_size + b_size, flops);
    if (Ap == NULL) {       /* no kernel, nothing to multiply, or no memory for copies */
        for (int i = 0; i < n; i++)
            fr_sgemm_portable(ta, tb, terms[i].M, N, K, terms[i].A, terms[i].lda, B, ldb,
                              beta, terms[i].C, terms[i].ldc);
        if (db != NULL) {
            for (int j = 0; j < N; j++) db[j] = 0.0f;
            for (long k = 0; k < K; k++)
                for (int j = 0; j < N; j++) db[j] += B[k * ldb + j];
        }
        return;
    }
    float *Bp = Ap + a_size;
    for (int j0 = 0; j0 < N; j0 += FR_NC) {
        int nc = N - j0 < FR_NC ? N - j0 : FR_NC;
        for (int k0 = 0; k0 < K; k0 += FR_KC) {
            int kc = K - k0 < FR_KC ? K - k0 : FR_KC;
            float b = k0 == 0 ? beta : 1.0f;        /* later K blocks accumulate */
            pack_b(tb, tb ? B + (long)j0 * ldb + k0 : B + (long)k0 * ldb + j0, ldb, kc, nc, Bp);
            if (db != NULL) {
                if (k0 == 0)
                    memset(db + j0, 0, (size_t)nc * sizeof(float));
                add_strip_sums(Bp, kc, nc, db + j0);
            }
            for (int t = 0; t < n; t++) {
                int M = terms[t].M, lda = terms[t].lda, ldc = terms[t].ldc;
                const float *A = terms[t].A;
                for (int i0 = 0; i0 < M; i0 += FR_MC) {
                    int mc = M - i0 < FR_MC ? M - i0 : FR_MC;
                    float *Cb = terms[t].C + (long)i0 * ldc + j0;
                    if (ta)         /* packed tiles read like a transposed A of 8 columns */
                        pack_a(A + (long)k0 * lda + i0, lda, mc, kc, Ap);
                    for (int s = 0; s * FR_NR < nc; s++) {
                        int cols = nc - s * FR_NR < FR_NR ? nc - s * FR_NR : FR_NR;
                        const float *Bs = Bp + (long)s * kc * FR_NR;
                        if (ta)
                            run(1, mc, cols, kc, Ap, FR_MR, (long)kc * FR_MR, kc, Ap, 0, Bs,
                                FR_NR, b, Cb + s * FR_NR, ldc);
                        else        /* rows of A read in place, 8 streams */
                            run(0, mc, cols, kc, A + (long)i0 * lda + k0, lda,
                                FR_MR * (long)lda, kc, A, 0, Bs, FR_NR, b, Cb + s * FR_NR,
                                ldc);
                    }
                }
            }
        }
    }
    free(Ap);
}

void fr_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {           /* C = beta C, with beta == 0 clearing (BLAS's rule) */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
        return;
    }
    fr_wgrad_term term = {M, A, lda, C, ldc};
    sgemm_terms(ta, tb, N, K, B, ldb, beta, 1, &term, NULL);
}

void fr_wgrad(int K, int N, const float *dz, int ldz, int n, const fr_wgrad_term *terms,
              float *db) {
    if (N <= FR_NC || n == 0) {   /* one column block: the terms share each packed copy
                                   * (no terms: the sums alone, without packing) */
        sgemm_terms(1, 0, N, K, dz, ldz, 0.0f, n, terms, db);
        return;
    }
    /* Wider: the packed block and the terms' tiles outgrow L2 together (measured
     * slower at W4's N 2048), so one term at a time; the first adds the sums. */
    for (int i = 0; i < n; i++)
        sgemm_terms(1, 0, N, K, dz, ldz, 0.0f, 1, terms + i, i == 0 ? db : NULL);
}

void fr_sgemm_colmajor(char *ta, char *tb, int *m, int *n, int *k, float *alpha, float *a,
                       int *lda, float *b, int *ldb, float *beta, float *c, int *ldc) {
    /* Column-major C (m x n) = op(a) op(b) is row-major C^T = op(b)^T op(a)^T: the
     * operands swap and each keeps its transpose flag.  alpha must be 1 (gemm_all
     * routes other products to BLAS). */
    (void)alpha;
    fr_sgemm(*tb == 'T' || *tb == 't', *ta == 'T' || *ta == 't', *n, *m, *k, b, *ldb, a,
             *lda, *beta, c, *ldc);
}
