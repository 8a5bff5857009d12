/* Cached-queue WaveNet generation (Paine et al. 2016) for B voices, float32, no Python per sample.
 *
 * Each layer keeps a ring buffer of its past inputs (dilation * (kernel - 1) samples x R channels per voice),
 * so one sample costs O(layers). Conditioning arrives pre-projected per frame of `hop` samples as
 * cond[B, F, L * 2R] (local projection + global projection + conv bias, computed by the caller), and the
 * period input as period[B, F] (samples back into the voice's own history). The GIL is released while
 * generating; voices are split over `threads` OpenMP threads, and the voices of a thread go through every
 * matrix product together (a small GEMM: each weight is read once per sample for all of them). The inner
 * loops come in portable C and in AVX2 + FMA intrinsics, chosen when the kernel is built (CPU check).
 *
 * Weight layout (input-major, so the inner loops run over contiguous outputs and vectorise):
 *   embed[C][R], period_embed[C][R] (optional), per layer conv[k][R][2R] (tap j = x[t - d (k-1-j)]),
 *   skip[R][S] + skip_b[S], res[R][R] + res_b[R] (absent on the last layer), head1[S][S] + b, head2[S][C] + b.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    int layers, R, S, C, kernel, period_input, max_period;
    int *dilation;
    float *embed, *period_embed;
    float **conv, **skip, **skip_b, **res, **res_b;
    float *head1, *head1_b, *head2, *head2_b;
    float *skip_bias; /* sum over layers of skip_b */
    float *arena; /* every matrix above, copied in the order one sample reads them (one sequential stream) */
    int half;     /* 1: the matrices below (IEEE half copies of the ones above) are used instead */
    uint16_t **conv_h, **skip_h, **res_h, *head1_h, *head2_h;
} Net;

typedef struct {
    PyObject_HEAD
    Net net;
    Py_buffer *views; /* buffers kept alive for the weights */
    int n_views;
    int avx2; /* 1: the AVX2 + FMA inner loops, 0: portable C */
} KernelObject;

/* ---- per-voice state -------------------------------------------------------------------------------- */
typedef struct {
    float *queues;    /* sum over layers of qlen_i * R */
    int *qpos;        /* ring write position per layer */
    int32_t *history; /* max_period past classes, ring */
    int hpos;
    int32_t x_prev;
    uint64_t rng;
} Voice;

/* exp(x) for float32 without libm calls, so gate loops vectorise: x = n ln2 + r, |r| <= ln2 / 2, 2^n built in
   the exponent bits, e^r by a degree-6 polynomial (relative error about 2e-7 over the clamped range). */
#pragma omp declare simd
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = __builtin_floorf(x * 1.44269504f + 0.5f);
    const float r = x - n * 0.693145752f - n * 1.42860677e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { uint32_t i; float f; } scale = {(uint32_t)((int32_t)n + 127) << 23};
    return p * scale.f;
}

/* tanh(f) * sigmoid(g) = (1 - 2 / (e^{2f} + 1)) / (1 + e^{-g}) */
#pragma omp declare simd
static inline float gate(float f, float g) {
    return (1.0f - 2.0f / (exp_approx(2.0f * f) + 1.0f)) / (1.0f + exp_approx(-g));
}

static inline double next_uniform(uint64_t *s) { /* splitmix64 -> [0, 1) */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- inner loops: portable C, and AVX2 + FMA versions picked at load time ------------------------------- */

/* y[g][rows] += W x[g] for G voices, W stored input-major (Wt[c][r]). */
typedef void (*GemmFn)(const float *restrict Wt, int rows, int cols, const float *const *x, float *const *y,
                       int G);
/* the same with W in IEEE half precision (converted to float32 as it is loaded; float32 accumulation) */
typedef void (*GemmHalfFn)(const uint16_t *restrict Wt, int rows, int cols, const float *const *x,
                           float *const *y, int G);
/* a[c] = tanh(z[c]) * sigmoid(z[R + c]) for c < R. */
typedef void (*GateFn)(const float *restrict z, float *restrict a, int R);
/* v[c] = exp((v[c] - top) * inv) for c < n. */
typedef void (*ExpFn)(float *restrict v, int n, float top, float inv);

static void gemm_portable(const float *restrict Wt, int rows, int cols, const float *const *x, float *const *y,
                          int G) {
    for (int g = 0; g < G; g++)
        for (int c = 0; c < cols; c++) {
            const float xc = x[g][c];
            const float *restrict w = Wt + (size_t)c * rows;
            float *restrict out = y[g];
            for (int r = 0; r < rows; r++) out[r] += xc * w[r];
        }
}

static void gate_portable(const float *restrict z, float *restrict a, int R) {
    for (int c = 0; c < R; c++) a[c] = gate(z[c], z[R + c]);
}

static void exp_portable(float *restrict v, int n, float top, float inv) {
    for (int c = 0; c < n; c++) v[c] = exp_approx((v[c] - top) * inv);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

/* the same approximation as exp_approx, 8 lanes at a time */
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

AVX2 static void gate_avx2(const float *restrict z, float *restrict a, int R) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    int c = 0;
    for (; c + 8 <= R; c += 8) {
        const __m256 f = _mm256_loadu_ps(z + c), g = _mm256_loadu_ps(z + R + c);
        const __m256 th = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_mul_ps(two, f)), one)));
        const __m256 sg = _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g)));
        _mm256_storeu_ps(a + c, _mm256_div_ps(th, sg));
    }
    for (; c < R; c++) a[c] = gate(z[c], z[R + c]);
}

AVX2 static void exp_avx2(float *restrict v, int n, float top, float inv) {
    const __m256 t = _mm256_set1_ps(top), s = _mm256_set1_ps(inv);
    int c = 0;
    for (; c + 8 <= n; c += 8) _mm256_storeu_ps(v + c, exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(v + c), t), s)));
    for (; c < n; c++) v[c] = exp_approx((v[c] - top) * inv);
}

/* The matrix products, defined once for each weight type (SUFFIX, WTYPE, the load that turns 8 weights into
   8 floats, the target attributes):
   gemv_SUFFIX: one voice, blocks of 64 outputs held in 8 registers across the whole input loop;
   gemm4_SUFFIX: four voices, each 16-output block of W read once for all four (8 accumulators);
   gemm_SUFFIX: G voices in groups of four, the rest one by one. rows must be a multiple of 16 (checked when
   the kernel is built). */
#define DEFINE_PRODUCTS(SUFFIX, WTYPE, LOAD, TARGET) \
TARGET static inline void gemv_##SUFFIX(const WTYPE *restrict Wt, int rows, int cols, const float *restrict x,        \
                                  float *restrict y) {                                                                \
    int r = 0;                                                                                                        \
    for (; r + 64 <= rows; r += 64) {                                                                                 \
        __m256 acc[8];                                                                                                \
        for (int k = 0; k < 8; k++) acc[k] = _mm256_loadu_ps(y + r + 8 * k);                                          \
        const WTYPE *restrict w = Wt + r;                                                                             \
        for (int c = 0; c < cols; c++, w += rows) {                                                                   \
            const __m256 xc = _mm256_broadcast_ss(x + c);                                                             \
            for (int k = 0; k < 8; k++) acc[k] = _mm256_fmadd_ps(LOAD(w + 8 * k), xc, acc[k]);                        \
        }                                                                                                             \
        for (int k = 0; k < 8; k++) _mm256_storeu_ps(y + r + 8 * k, acc[k]);                                          \
    }                                                                                                                 \
    for (; r + 16 <= rows; r += 16) {                                                                                 \
        __m256 a0 = _mm256_loadu_ps(y + r), a1 = _mm256_loadu_ps(y + r + 8);                                          \
        const WTYPE *restrict w = Wt + r;                                                                             \
        for (int c = 0; c < cols; c++, w += rows) {                                                                   \
            const __m256 xc = _mm256_broadcast_ss(x + c);                                                             \
            a0 = _mm256_fmadd_ps(LOAD(w), xc, a0);                                                                    \
            a1 = _mm256_fmadd_ps(LOAD(w + 8), xc, a1);                                                                \
        }                                                                                                             \
        _mm256_storeu_ps(y + r, a0);                                                                                  \
        _mm256_storeu_ps(y + r + 8, a1);                                                                              \
    }                                                                                                                 \
}                                                                                                                     \
                                                                                                                      \
TARGET static inline void gemm4_##SUFFIX(const WTYPE *restrict Wt, int rows, int cols, const float *const *x,         \
                                   float *const *y) {                                                                 \
    for (int r = 0; r + 16 <= rows; r += 16) {                                                                        \
        __m256 acc[4][2];                                                                                             \
        for (int g = 0; g < 4; g++) {                                                                                 \
            acc[g][0] = _mm256_loadu_ps(y[g] + r);                                                                    \
            acc[g][1] = _mm256_loadu_ps(y[g] + r + 8);                                                                \
        }                                                                                                             \
        const WTYPE *restrict w = Wt + r;                                                                             \
        for (int c = 0; c < cols; c++, w += rows) {                                                                   \
            const __m256 w0 = LOAD(w), w1 = LOAD(w + 8);                                                              \
            for (int g = 0; g < 4; g++) {                                                                             \
                const __m256 xc = _mm256_broadcast_ss(x[g] + c);                                                      \
                acc[g][0] = _mm256_fmadd_ps(w0, xc, acc[g][0]);                                                       \
                acc[g][1] = _mm256_fmadd_ps(w1, xc, acc[g][1]);                                                       \
            }                                                                                                         \
        }                                                                                                             \
        for (int g = 0; g < 4; g++) {                                                                                 \
            _mm256_storeu_ps(y[g] + r, acc[g][0]);                                                                    \
            _mm256_storeu_ps(y[g] + r + 8, acc[g][1]);                                                                \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
                                                                                                                      \
TARGET static void gemm_##SUFFIX(const WTYPE *restrict Wt, int rows, int cols, const float *const *x, float *const *y, \
                           int G) {                                                                                   \
    int g = 0;                                                                                                        \
    for (; g + 4 <= G; g += 4) gemm4_##SUFFIX(Wt, rows, cols, x + g, y + g);                                          \
    for (; g < G; g++) gemv_##SUFFIX(Wt, rows, cols, x[g], y[g]);                                                     \
}

#define AVX2F16 __attribute__((target("avx2,fma,f16c")))
#define LOADH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))

AVX2F16 static void to_half(const float *restrict x, uint16_t *restrict y, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; i++) {
        float tail[8] = {x[i]};
        uint16_t out[8];
        _mm_storeu_si128((__m128i *)out, _mm256_cvtps_ph(_mm256_loadu_ps(tail), _MM_FROUND_TO_NEAREST_INT));
        y[i] = out[0];
    }
}

DEFINE_PRODUCTS(avx2, float, _mm256_loadu_ps, AVX2)
/* half-precision weights (F16C): 8 weights converted per load, float32 accumulation */
DEFINE_PRODUCTS(avx2_half, uint16_t, LOADH, AVX2F16)

static int f16c_usable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

static int avx2_usable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int avx2_usable(void) { return 0; }
static int f16c_usable(void) { return 0; }
#endif

typedef struct {
    GemmFn gemm;
    GemmHalfFn gemm_half;
    GateFn gate;
    ExpFn exp;
    const char *name;
} Ops;

static Ops kernel_ops(int avx2) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (avx2) return (Ops){gemm_avx2, gemm_avx2_half, gate_avx2, exp_avx2, "avx2-fma"};
#endif
    (void)avx2;
    return (Ops){gemm_portable, NULL, gate_portable, exp_portable, "portable"};
}

/* Per-voice scratch: h[R], z[2R], a[R], skips[S], hid[S], logits[C]. */
typedef struct {
    float *h, *z, *a, *skips, *hid, *logits;
} Work;

#define MAX_GROUP 64

/* One sample for a group of voices (count <= MAX_GROUP), layer by layer: every matrix product takes all the
   group's voices at once, so each weight is read once per group. cond[g] points at voice g's frame of
   pre-projected conditioning [L * 2R]. */
static void step_group(const Net *n, const Ops *ops, Voice *v, int count, const float *const *cond,
                       const int *period, Work *w) {
    const int R = n->R, S = n->S;
    const float *xs[MAX_GROUP];
    float *ys[MAX_GROUP];
#define PRODUCT(f32, f16, rows, cols)                                                                       \
    (n->half ? ops->gemm_half((f16), rows, cols, xs, ys, count) : ops->gemm((f32), rows, cols, xs, ys, count))
    for (int g = 0; g < count; g++) {
        memcpy(w[g].h, n->embed + (size_t)v[g].x_prev * R, R * sizeof(float));
        if (n->period_input) {
            int p = period[g] < 2 ? 2 : (period[g] > n->max_period ? n->max_period : period[g]);
            /* the ring holds x[t - 1 - P .. t - 2] (x[t - 1] is x_prev, pushed after this step); x[t - p] was
               written p - 1 pushes ago */
            int idx = v[g].hpos - (p - 1);
            idx += idx < 0 ? n->max_period : 0; /* 0 <= p - 1 < max_period: one wrap at most (no division) */
            const float *pe = n->period_embed + (size_t)v[g].history[idx] * R;
            for (int c = 0; c < R; c++) w[g].h[c] += pe[c];
        }
        memcpy(w[g].skips, n->skip_bias, S * sizeof(float)); /* every layer's skip bias, summed once */
    }
    size_t offset = 0; /* of layer i's queue inside each voice's queue block */
    for (int i = 0; i < n->layers; i++) {
        const int d = n->dilation[i], qlen = d * (n->kernel - 1);
        for (int g = 0; g < count; g++) {
            memcpy(w[g].z, cond[g] + (size_t)i * 2 * R, 2 * R * sizeof(float));
            ys[g] = w[g].z;
        }
        for (int j = 0; j < n->kernel; j++) { /* tap j = x[t - d (k-1-j)]; the last tap is h itself */
            for (int g = 0; g < count; g++) {
                if (j < n->kernel - 1) {
                    int slot = v[g].qpos[i] - d * (n->kernel - 1 - j); /* in (-qlen, qlen): one wrap at most */
                    slot += slot < 0 ? qlen : 0;
                    xs[g] = v[g].queues + offset + (size_t)slot * R;
                } else {
                    xs[g] = w[g].h;
                }
            }
            const size_t tap = (size_t)j * R * 2 * R;
            PRODUCT(n->conv[i] + tap, n->half ? n->conv_h[i] + tap : NULL, 2 * R, R);
        }
        for (int g = 0; g < count; g++) {
            if (qlen > 0) {
                memcpy(v[g].queues + offset + (size_t)v[g].qpos[i] * R, w[g].h, R * sizeof(float));
                v[g].qpos[i] = v[g].qpos[i] + 1 == qlen ? 0 : v[g].qpos[i] + 1;
            }
            ops->gate(w[g].z, w[g].a, R);
            xs[g] = w[g].a;
            ys[g] = w[g].skips;
        }
        PRODUCT(n->skip[i], n->half ? n->skip_h[i] : NULL, S, R);
        if (n->res[i] != NULL) {
            for (int g = 0; g < count; g++) {
                for (int c = 0; c < R; c++) w[g].h[c] += n->res_b[i][c];
                ys[g] = w[g].h;
            }
            PRODUCT(n->res[i], n->half ? n->res_h[i] : NULL, R, R);
        }
        offset += (size_t)qlen * R;
    }
    for (int g = 0; g < count; g++) {
        for (int q = 0; q < S; q++) w[g].skips[q] = w[g].skips[q] > 0.0f ? w[g].skips[q] : 0.0f;
        memcpy(w[g].hid, n->head1_b, S * sizeof(float));
        xs[g] = w[g].skips;
        ys[g] = w[g].hid;
    }
    PRODUCT(n->head1, n->head1_h, S, S);
    for (int g = 0; g < count; g++) {
        for (int q = 0; q < S; q++) w[g].hid[q] = w[g].hid[q] > 0.0f ? w[g].hid[q] : 0.0f;
        memcpy(w[g].logits, n->head2_b, n->C * sizeof(float));
        xs[g] = w[g].hid;
        ys[g] = w[g].logits;
    }
    PRODUCT(n->head2, n->head2_h, n->C, S);
#undef PRODUCT
}

/* argmax (temperature 0) or a draw from softmax(logits / temperature); `scratch` holds C floats */
static int32_t choose(const Ops *ops, const float *logits, float *scratch, int C, double temperature,
                      uint64_t *rng) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (logits[c] > logits[best]) best = c;
    if (temperature <= 0.0) return best;
    memcpy(scratch, logits, C * sizeof(float));
    ops->exp(scratch, C, logits[best], (float)(1.0 / temperature));
    /* inverse-CDF draw, by blocks of 8 probabilities (fewer dependent adds than a scan over all C) */
    double blocks[128], total = 0.0;
    const int nb = (C + 7) / 8;
    for (int b = 0; b < nb; b++) {
        float sum = 0.0f;
        for (int c = 8 * b; c < 8 * b + 8 && c < C; c++) sum += scratch[c];
        total += (blocks[b] = sum);
    }
    double u = next_uniform(rng) * total, run = 0.0;
    for (int b = 0; b < nb; b++) {
        if (u < run + blocks[b]) {
            for (int c = 8 * b; c < 8 * b + 8 && c < C; c++) {
                run += scratch[c];
                if (u < run) return c;
            }
            return (8 * b + 8 < C ? 8 * b + 8 : C) - 1;
        }
        run += blocks[b];
    }
    return C - 1;
}

/* ---- Python object ------------------------------------------------------------------------------------ */
static void kernel_dealloc(KernelObject *self) {
    for (int i = 0; i < self->n_views; i++) PyBuffer_Release(&self->views[i]);
    free(self->views);
    free(self->net.dilation);
    free(self->net.conv); free(self->net.skip); free(self->net.skip_b); free(self->net.res); free(self->net.res_b);
    free(self->net.arena);
    free(self->net.skip_bias);
    if (self->net.half) {
        for (int i = 0; i < self->net.layers; i++) {
            free(self->net.conv_h[i]); free(self->net.skip_h[i]); free(self->net.res_h[i]);
        }
        free(self->net.conv_h); free(self->net.skip_h); free(self->net.res_h);
        free(self->net.head1_h); free(self->net.head2_h);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Copy the matrices into one 64-byte-aligned arena in the order a sample reads them (layer by layer: conv taps,
   skip, res; then the head), so the hardware prefetcher sees one sequential stream instead of dozens of
   separate arrays, and repoint the net at the copies. */
static void pack_weights(Net *n) {
    const size_t R = n->R, S = n->S, conv = 2 * R * n->kernel * R;
    size_t total = (size_t)n->S * S + (size_t)n->C * S;
    for (int i = 0; i < n->layers; i++) total += conv + S * R + (n->res[i] ? R * R : 0);
    float *arena = aligned_alloc(64, ((total * sizeof(float) + 63) / 64) * 64), *at = arena;
#define PACK(ptr, count) do { memcpy(at, (ptr), (count) * sizeof(float)); (ptr) = at; at += (count); } while (0)
    for (int i = 0; i < n->layers; i++) {
        PACK(n->conv[i], conv);
        PACK(n->skip[i], S * R);
        if (n->res[i]) PACK(n->res[i], R * R);
    }
    PACK(n->head1, S * S);
    PACK(n->head2, (size_t)n->C * S);
#undef PACK
    n->arena = arena;
}

/* an IEEE-half copy of `count` floats (malloc'd; freed with the kernel) */
static uint16_t *halves(const float *x, size_t count) {
    uint16_t *y = malloc(count * sizeof(uint16_t));
#if defined(__x86_64__) && defined(__GNUC__)
    to_half(x, y, count);
#else
    (void)x;
#endif
    return y;
}

static float *take(KernelObject *self, PyObject *obj, Py_ssize_t count, const char *what) {
    if (obj == Py_None) return NULL;
    Py_buffer *view = &self->views[self->n_views];
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    self->n_views++;
    if (view->itemsize != 4 || strcmp(view->format, "f") != 0 || view->len != count * 4) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd contiguous float32 values", what, count);
        return NULL;
    }
    return (float *)view->buf;
}

/* Kernel(layers, R, S, C, kernel, dilations, max_period, embed, period_embed, conv, skip, skip_b, res, res_b,
 *        head1, head1_b, head2, head2_b[, portable]): conv/skip/... are lists with one float32 array per layer;
 *        portable=True forces the plain C inner loops (for tests and CPUs without AVX2); half=True multiplies by
 *        IEEE-half copies of the matrices (half the bytes per sample; needs F16C). */
static int kernel_init(KernelObject *self, PyObject *args, PyObject *kwds) {
    int layers, R, S, C, kernel, max_period;
    PyObject *dil, *embed, *pembed, *conv, *skip, *skip_b, *res, *res_b, *h1, *h1b, *h2, *h2b;
    int portable = 0, half = 0;
    if (!PyArg_ParseTuple(args, "iiiiiOiOOOOOOOOOOO|pp", &layers, &R, &S, &C, &kernel, &dil, &max_period, &embed,
                          &pembed, &conv, &skip, &skip_b, &res, &res_b, &h1, &h1b, &h2, &h2b, &portable, &half))
        return -1;
    /* the AVX2 products work on blocks of 16 outputs: every output count must be a multiple of 16 */
    self->avx2 = !portable && avx2_usable() && (2 * R) % 16 == 0 && R % 16 == 0 && S % 16 == 0 && C % 16 == 0;
    if (C > 1024 || layers < 1 || R < 1 || S < 1 || kernel < 1) {
        PyErr_SetString(PyExc_ValueError, "unsupported WaveNet sizes");
        return -1;
    }
    Net *n = &self->net;
    n->layers = layers; n->R = R; n->S = S; n->C = C; n->kernel = kernel; n->max_period = max_period;
    n->period_input = pembed != Py_None;
    self->views = calloc(8 + 5 * (size_t)layers, sizeof(Py_buffer));
    n->dilation = calloc(layers, sizeof(int));
    n->conv = calloc(layers, sizeof(float *)); n->skip = calloc(layers, sizeof(float *));
    n->skip_b = calloc(layers, sizeof(float *)); n->res = calloc(layers, sizeof(float *));
    n->res_b = calloc(layers, sizeof(float *));
    for (int i = 0; i < layers; i++) {
        n->dilation[i] = (int)PyLong_AsLong(PyList_GetItem(dil, i));
        if (!(n->conv[i] = take(self, PyList_GetItem(conv, i), (Py_ssize_t)2 * R * kernel * R, "conv"))) return -1;
        if (!(n->skip[i] = take(self, PyList_GetItem(skip, i), (Py_ssize_t)S * R, "skip"))) return -1;
        if (!(n->skip_b[i] = take(self, PyList_GetItem(skip_b, i), S, "skip bias"))) return -1;
        n->res[i] = take(self, PyList_GetItem(res, i), (Py_ssize_t)R * R, "res");
        n->res_b[i] = take(self, PyList_GetItem(res_b, i), R, "res bias");
        if (PyErr_Occurred()) return -1;
    }
    if (!(n->embed = take(self, embed, (Py_ssize_t)C * R, "embed"))) return -1;
    n->period_embed = take(self, pembed, (Py_ssize_t)C * R, "period embed");
    if (PyErr_Occurred()) return -1;
    if (!(n->head1 = take(self, h1, (Py_ssize_t)S * S, "head1")) || !(n->head1_b = take(self, h1b, S, "head1 b")) ||
        !(n->head2 = take(self, h2, (Py_ssize_t)C * S, "head2")) || !(n->head2_b = take(self, h2b, C, "head2 b")))
        return -1;
    pack_weights(n);
    n->skip_bias = calloc(S, sizeof(float));
    for (int i = 0; i < layers; i++)
        for (int q = 0; q < S; q++) n->skip_bias[q] += n->skip_b[i][q];
    if (half) {
        if (!self->avx2 || !f16c_usable()) {
            PyErr_SetString(PyExc_ValueError, "half-precision weights need a CPU with AVX2, FMA and F16C and "
                                              "output sizes that are multiples of 16");
            return -1;
        }
        n->conv_h = calloc(layers, sizeof(uint16_t *)); n->skip_h = calloc(layers, sizeof(uint16_t *));
        n->res_h = calloc(layers, sizeof(uint16_t *));
        for (int i = 0; i < layers; i++) {
            n->conv_h[i] = halves(n->conv[i], (size_t)2 * R * kernel * R);
            n->skip_h[i] = halves(n->skip[i], (size_t)S * R);
            n->res_h[i] = n->res[i] ? halves(n->res[i], (size_t)R * R) : NULL;
        }
        n->head1_h = halves(n->head1, (size_t)S * S);
        n->head2_h = halves(n->head2, (size_t)C * S);
        n->half = 1;
    }
    return 0;
}

static int queue_floats(const Net *n) {
    int total = 0;
    for (int i = 0; i < n->layers; i++) total += n->dilation[i] * (n->kernel - 1) * n->R;
    return total;
}

static int buffer(PyObject *obj, Py_buffer *view, const char *format, Py_ssize_t count, int writable,
                  const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (strcmp(view->format, format) != 0 || view->len != count * view->itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd contiguous values of format '%s'", what, count, format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* generate(queues f32[B, Q], qpos i32[B, L], history i32[B, P], hpos i32[B], x_prev i32[B], rng u64[B],
 *          cond f32[B, F, L * 2R], period i32[B, F], out i32[B, n], logits f32[B, m, C] or None,
 *          batch, frames, hop, n, temperature, threads). State arrays are updated in place; sample t uses
 *          frame t // hop of cond and period; the first m steps' logits are written when given. */
static PyObject *kernel_generate(KernelObject *self, PyObject *args) {
    PyObject *o[10];
    int B, F, hop, n, threads;
    double temperature;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOiiiidi", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                          &o[8], &o[9], &B, &F, &hop, &n, &temperature, &threads))
        return NULL;
    const Net *net = &self->net;
    const int L = net->layers, R = net->R, C = net->C, P = net->max_period > 0 ? net->max_period : 1;
    if (B < 1 || hop < 1 || n < 0 || (Py_ssize_t)F * hop < n) {
        PyErr_SetString(PyExc_ValueError, "generate: need batch >= 1, hop >= 1 and frames * hop >= n");
        return NULL;
    }
    Py_buffer v[10];
    int got = 0, m = 0;
    const char *fmt[10] = {"f", "i", "i", "i", "i", "Q", "f", "i", "i", "f"};
    Py_ssize_t counts[9] = {(Py_ssize_t)B * queue_floats(net), (Py_ssize_t)B * L, (Py_ssize_t)B * P, B, B, B,
                            (Py_ssize_t)B * F * L * 2 * R, (Py_ssize_t)B * F, (Py_ssize_t)B * n};
    const char *names[10] = {"queues", "qpos", "history", "hpos", "x_prev", "rng", "cond", "period", "out",
                             "logits"};
    for (; got < 9; got++)
        if (buffer(o[got], &v[got], fmt[got], counts[got], got < 6 || got == 8, names[got]) < 0) goto fail;
    if (o[9] != Py_None) {
        if (PyObject_GetBuffer(o[9], &v[9], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto fail;
        got++;
        m = (int)(v[9].len / ((Py_ssize_t)B * C * 4));
        if (strcmp(v[9].format, "f") != 0 || v[9].len != (Py_ssize_t)B * m * C * 4 || m > n) {
            PyErr_SetString(PyExc_ValueError, "logits: expected float32 [batch, m <= n, classes]");
            goto fail;
        }
    }
    float *queues = v[0].buf, *cond = v[6].buf, *logit_out = m ? v[9].buf : NULL;
    int32_t *qpos = v[1].buf, *history = v[2].buf, *hpos = v[3].buf, *x_prev = v[4].buf, *period = v[7].buf;
    int32_t *out = v[8].buf;
    uint64_t *rng = v[5].buf;
    const int Q = queue_floats(net), work_len = 4 * R + 2 * net->S;
    const Ops ops = kernel_ops(self->avx2);
    Py_BEGIN_ALLOW_THREADS
    const int nt = threads > 0 ? (threads < B ? threads : B) : 1;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        const int me = omp_get_thread_num(), team = omp_get_num_threads();
#else
        const int me = 0, team = 1;
#endif
        const int first = (int)((long)B * me / team), last = (int)((long)B * (me + 1) / team);
        const int count = last - first, room = count > 0 ? count : 1;
        Voice *voices = malloc(sizeof(Voice) * room);
        Work *work = malloc(sizeof(Work) * room);
        float *scratch = malloc(sizeof(float) * ((size_t)room * (work_len + C) + C));
        float *probs = scratch + (size_t)room * (work_len + C);
        const float **conds = malloc(sizeof(float *) * room);
        int *periods = malloc(sizeof(int) * room);
        for (int g = 0; g < count; g++) {
            const int b = first + g;
            voices[g] = (Voice){queues + (size_t)b * Q, qpos + (size_t)b * L, history + (size_t)b * P, hpos[b],
                                x_prev[b], rng[b]};
            float *base = scratch + (size_t)g * (work_len + C);
            work[g] = (Work){base, base + R, base + 3 * R, base + 4 * R, base + 4 * R + net->S, base + work_len};
        }
        for (int t = 0; t < n && count > 0; t++) {
            const int frame = t / hop;
            for (int g = 0; g < count; g++) {
                const size_t b = (size_t)(first + g);
                conds[g] = cond + (b * F + frame) * L * 2 * R;
                periods[g] = period[b * F + frame];
            }
            for (int g0 = 0; g0 < count; g0 += MAX_GROUP) {
                const int size = count - g0 < MAX_GROUP ? count - g0 : MAX_GROUP;
                step_group(net, &ops, voices + g0, size, conds + g0, periods + g0, work + g0);
            }
            for (int g = 0; g < count; g++) {
                const size_t b = (size_t)(first + g);
                if (t < m) memcpy(logit_out + (b * m + t) * C, work[g].logits, C * sizeof(float));
                int32_t x = choose(&ops, work[g].logits, probs, C, temperature, &voices[g].rng);
                out[b * n + t] = x;
                if (net->period_input) { /* x[t-1] enters the history once step t is done */
                    voices[g].history[voices[g].hpos] = voices[g].x_prev;
                    voices[g].hpos = voices[g].hpos + 1 == P ? 0 : voices[g].hpos + 1;
                }
                voices[g].x_prev = x;
            }
        }
        for (int g = 0; g < count; g++) {
            hpos[first + g] = voices[g].hpos;
            x_prev[first + g] = voices[g].x_prev;
            rng[first + g] = voices[g].rng;
        }
        free(voices); free(work); free(scratch); free(conds); free(periods);
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    return NULL;
}

static PyObject *kernel_backend(KernelObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromFormat("%s-%s", kernel_ops(self->avx2).name, self->net.half ? "fp16" : "fp32");
}

static PyObject *kernel_queue_floats(KernelObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLong(queue_floats(&self->net));
}

static PyMethodDef kernel_methods[] = {
    {"generate", (PyCFunction)kernel_generate, METH_VARARGS, "Generate samples for every voice (see the C source)."},
    {"queue_floats", (PyCFunction)kernel_queue_floats, METH_NOARGS, "Queue floats per voice."},
    {"backend", (PyCFunction)kernel_backend, METH_NOARGS, "The inner loops in use: 'avx2-fma' or 'portable'."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "export.wavenet._wavenet_native.Kernel",
    .tp_basicsize = sizeof(KernelObject),
    .tp_dealloc = (destructor)kernel_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "WaveNet weights for cached-queue generation.",
    .tp_methods = kernel_methods,
    .tp_init = (initproc)kernel_init,
    .tp_new = PyType_GenericNew,
};

static PyObject *openmp_threads(PyObject *m, PyObject *Py_UNUSED(ignored)) {
#ifdef _OPENMP
    return PyLong_FromLong(omp_get_max_threads());
#else
    return PyLong_FromLong(0);
#endif
}

static PyObject *half_supported(PyObject *m, PyObject *Py_UNUSED(ignored)) {
    (void)m;
    return PyBool_FromLong(f16c_usable());
}

static PyMethodDef module_methods[] = {
    {"openmp_threads", openmp_threads, METH_NOARGS, "OpenMP's thread count (0 when built without OpenMP)."},
    {"half_supported", half_supported, METH_NOARGS, "Whether this CPU runs the half-precision products."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wavenet_native",
                                    "Native cached-queue WaveNet generation.", -1, module_methods};

PyMODINIT_FUNC PyInit__wavenet_native(void) {
    if (PyType_Ready(&KernelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&KernelType);
    if (PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0) {
        Py_DECREF(&KernelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
