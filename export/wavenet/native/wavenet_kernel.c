/* Cached-queue WaveNet generation (Paine et al. 2016) for B voices, no Python per sample.
 *
 * Each layer keeps a ring buffer of its past inputs (dilation * (kernel - 1) samples x R channels per voice),
 * so one sample costs O(layers). Conditioning arrives pre-projected per frame of `hop` samples as
 * cond[B, F, L * 2R] (local projection + global projection + conv bias, computed by the caller), the period
 * input as period[B, F] (samples back into the voice's own history), and optional per-sample features as
 * features[B, n, K] (projected by feature_proj[K][R] and added to the input embedding, like the period
 * embedding). An optional LPC mode (LPCNet-style) samples the excitation of a pre-emphasised signal instead of
 * the signal: per sample p = clamp(-sum_k a_k s[t - k]) from the voice's own past s (per-frame coefficients),
 * feature 0 = compand(p) (computed here; the caller's column 0 is ignored), the input class = encode(s[t - 1]),
 * the period input reads past *excitation* classes, the chosen excitation is clipped to the frame's limit and
 * re-encoded, s[t] = clamp(p + e), and the de-emphasised x[t] = clamp(s[t] + c x[t - 1]) is written out
 * (models/wavenet/lpc_decoder.py `generate` is the reference). The GIL is released while generating; voices are split over `threads` OpenMP threads, and the
 * voices of a thread go through every matrix product together (a small GEMM: each weight is read once per
 * sample for all of them).
 *
 * Weight layout (input-major, so the inner loops run over contiguous outputs and vectorise):
 *   embed[C][R], period_embed[C][R] (optional), feature_proj[K][R] (optional), per layer conv[k][R][2R]
 *   (tap j = x[t - d (k-1-j)]), skip[R][S] + skip_b[S], res[R][R] + res_b[R] (absent on the last layer),
 *   head1[S][S] + b, head2[S][C] + b.
 *
 * Precisions of the per-sample matrix products (conv taps, skip, res, head1, head2); the embeddings, the
 * feature projection, biases, gates and sampling are float32 in all of them:
 *   fp32  float32 weights, float32 accumulation (AVX2 + FMA or portable C);
 *   fp16  IEEE-half copies of the weights, converted as they are loaded (AVX2 + FMA + F16C);
 *   int8  weights quantised at load per output row (symmetric: w = round(127 W / max|W[., r]|), scale[r]),
 *         stored [ceil(cols / 4)][rows][4] (four consecutive inputs of one output in one 32-bit word, the
 *         operand shape of vpmaddubsw / vpdpbusd); each input vector quantised per voice and product to s8 in
 *         [-127, 127] with one scale (max |x| / 127); exact int32 sums, then y[r] += fma(acc, sx * scale[r]).
 *         Three paths, chosen at load by CPUID (a lower one can be forced), giving bit-identical results:
 *         avx512vnni: vpdpbusd wants unsigned inputs, so it takes x + 128 (u8) and subtracts 128 * sum_c w[c][r]
 *                     (precomputed per row);
 *         avx2:       vpmaddubsw on (|x|, w * sign(x)): both at most 127 in magnitude, so a pair sums to at
 *                     most 2 * 127 * 127 = 32258 and the int16 never saturates; vpmaddwd widens to int32;
 *         portable:   plain int32 loops.
 *         The float code around the products (gates, softmax) rounds the same on every path (no fused
 *         multiply-adds outside explicit ones, -ffp-contract=off), so the paths differ only in how they compute
 *         the same integer sums.
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

enum { FP32, FP16, INT8 };
enum { PORTABLE, AVX2_LEVEL, VNNI_LEVEL }; /* SIMD paths, each CPU running every one up to its best */
static const char *const LEVEL_NAMES[] = {"portable", "avx2", "avx512vnni"};

/* an int8 matrix (see the top comment) */
typedef struct {
    int8_t *w;       /* [ceil(cols / 4)][rows][4] */
    float *scale;    /* [rows] */
    int32_t *offset; /* [rows]: 128 * sum_c w[c][r] */
    int rows, cols;
} QMat;

typedef struct {
    int layers, R, S, C, kernel, period_input, max_period, features;
    int *dilation;
    float *embed, *period_embed, *feature_proj;
    float **conv, **skip, **skip_b, **res, **res_b;
    float *head1, *head1_b, *head2, *head2_b;
    float *skip_bias; /* sum over layers of skip_b */
    float *arena; /* every matrix above, copied in the order one sample reads them (one sequential stream) */
    int precision; /* FP16: the half copies below are multiplied; INT8: the QMats below */
    uint16_t **conv_h, **skip_h, **res_h, *head1_h, *head2_h;
    QMat *conv_q, *skip_q, *res_q, head1_q, head2_q; /* conv_q[layer * kernel + tap] */
} Net;

typedef struct {
    PyObject_HEAD
    Net net;
    Py_buffer *views; /* buffers kept alive for the weights */
    int n_views;
    int level; /* the SIMD path: PORTABLE, AVX2_LEVEL (AVX2 + FMA float loops) or VNNI_LEVEL (int8 only) */
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
   the exponent bits, e^r by a degree-6 polynomial (relative error about 2e-7 over the clamped range). The
   vector versions below do the same operations in the same order without fused multiply-adds, and the kernel
   is built with -ffp-contract=off, so gates and softmax are bit-identical on every path. */
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

/* ---- LPC mode helpers ---------------------------------------------------------------------------------- */
typedef struct {
    const float *coef;       /* [B, F, order]: a_1 .. a_order of each frame */
    const float *limit;      /* [B, F]: largest |excitation| (<= 0: unbounded) */
    float *state;            /* [B, order + 1]: s[t - order .. t - 1], then the de-emphasis state x[t - 1] */
    int32_t *e_prev;         /* [B]: the excitation class of t - 1 (enters the period history after step t) */
    float *signal;           /* [B, n]: de-emphasised output */
    const double *boundaries; /* [C - 1] class edges in the signal domain (round half up: searchsorted right) */
    const float *levels;     /* [C] */
    double emphasis;
    int order;
} Lpc;

static inline int32_t lpc_encode(const Lpc *l, int C, float x) {
    int lo = 0, hi = C - 1; /* the number of boundaries <= x */
    const double v = (double)x;
    while (lo < hi) {
        const int mid = (lo + hi) >> 1;
        if (l->boundaries[mid] <= v) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static inline float lpc_compand(float x) { /* sign(x) ln(1 + 255 |x|) / ln(256), x already in [-1, 1] */
    const float m = log1pf(255.0f * fabsf(x)) / 5.54517744f;
    return x < 0.0f ? -m : m;
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

/* int8: y[g][rows] += W x[g] from the quantised inputs x[g] (ceil(cols / 4) * 4 values, scale sx[g]);
   `acc` is scratch for `rows` int32 (used by the portable loops only). */
typedef void (*QGemmFn)(const QMat *m, const int8_t *const *x, const float *sx, float *const *y, int G,
                        int32_t *acc);

/* x[cols] -> q[ceil(cols / 4) * 4] in [-127, 127], zero padded, q = round-half-even(x * 127 / max|x|); returns
   the scale max|x| / 127 (0 for x = 0). The AVX2 version computes the same numbers. */
typedef float (*QuantFn)(const float *restrict x, int cols, int8_t *restrict q);

static float quantise_portable(const float *restrict x, int cols, int8_t *restrict q) {
    float top = 0.0f;
    for (int c = 0; c < cols; c++) top = fabsf(x[c]) > top ? fabsf(x[c]) : top;
    const int padded = (cols + 3) & ~3;
    if (top == 0.0f) {
        memset(q, 0, padded);
        return 0.0f;
    }
    const float inv = 127.0f / top;
    for (int c = 0; c < cols; c++) q[c] = (int8_t)lrintf(x[c] * inv);
    for (int c = cols; c < padded; c++) q[c] = 0;
    return top / 127.0f;
}

static void qgemm_portable(const QMat *m, const int8_t *const *x, const float *sx, float *const *y, int G,
                           int32_t *restrict acc) {
    const int rows = m->rows, groups = (m->cols + 3) / 4;
    for (int g = 0; g < G; g++) {
        memset(acc, 0, rows * sizeof(int32_t));
        for (int k = 0; k < groups; k++) {
            const int8_t *xk = x[g] + 4 * k;
            const int8_t *restrict w = m->w + (size_t)k * rows * 4;
            for (int r = 0; r < rows; r++)
                acc[r] += xk[0] * w[4 * r] + xk[1] * w[4 * r + 1] + xk[2] * w[4 * r + 2] + xk[3] * w[4 * r + 3];
        }
        for (int r = 0; r < rows; r++) y[g][r] = fmaf((float)acc[r], sx[g] * m->scale[r], y[g][r]);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

/* exp_approx 8 lanes at a time, operation for operation (no fused multiply-adds: the same roundings) */
AVX2 static inline __m256 mul_add(__m256 a, __m256 b, __m256 c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }

AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_floor_ps(mul_add(x, _mm256_set1_ps(1.44269504f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693145752f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(1.42860677e-6f)));
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = mul_add(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = mul_add(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = mul_add(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = mul_add(p, r, _mm256_set1_ps(0.5f));
    p = mul_add(p, r, _mm256_set1_ps(1.0f));
    p = mul_add(p, r, _mm256_set1_ps(1.0f));
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

/* cols is a multiple of 8 here (the output sizes of the SIMD paths are multiples of 16) */
AVX2 static float quantise_avx2(const float *restrict x, int cols, int8_t *restrict q) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 top8 = _mm256_setzero_ps();
    for (int c = 0; c < cols; c += 8) top8 = _mm256_max_ps(top8, _mm256_and_ps(_mm256_loadu_ps(x + c), magnitude));
    __m128 top4 = _mm_max_ps(_mm256_castps256_ps128(top8), _mm256_extractf128_ps(top8, 1));
    top4 = _mm_max_ps(top4, _mm_movehl_ps(top4, top4));
    const float top = _mm_cvtss_f32(_mm_max_ss(top4, _mm_shuffle_ps(top4, top4, 1)));
    if (top == 0.0f) {
        memset(q, 0, cols);
        return 0.0f;
    }
    const __m256 inv = _mm256_set1_ps(127.0f / top);
    for (int c = 0; c < cols; c += 8) { /* cvtps rounds half to even, as lrintf; |values| <= 127: no saturation */
        const __m256i i32 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c), inv));
        const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
        _mm_storel_epi64((__m128i *)(q + c), _mm_packs_epi16(i16, i16));
    }
    return top / 127.0f;
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

/* int8 tiles: NV voices (<= 4) x RB registers of outputs starting at row r, over every input; NV and RB are
   constants at each call, so each call site compiles to its own register-resident loop. */
#define INLINE static inline __attribute__((always_inline))

AVX2 INLINE void qtile_avx2(const QMat *m, int r, const int8_t *const *x, const float *sx, float *const *y,
                            const int NV, const int RB) {
    __m256i acc[4][4];
    for (int v = 0; v < NV; v++)
        for (int b = 0; b < RB; b++) acc[v][b] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    const int groups = (m->cols + 3) / 4;
    const int8_t *w = m->w + (size_t)r * 4;
    for (int k = 0; k < groups; k++, w += (size_t)m->rows * 4) {
        __m256i wv[4];
        for (int b = 0; b < RB; b++) wv[b] = _mm256_loadu_si256((const __m256i *)(w + 32 * b));
        for (int v = 0; v < NV; v++) {
            int32_t word;
            memcpy(&word, x[v] + 4 * k, 4);
            const __m256i xb = _mm256_set1_epi32(word), ax = _mm256_abs_epi8(xb);
            for (int b = 0; b < RB; b++) {
                const __m256i pairs = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv[b], xb));
                acc[v][b] = _mm256_add_epi32(acc[v][b], _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    for (int v = 0; v < NV; v++)
        for (int b = 0; b < RB; b++) {
            const int o = r + 8 * b;
            const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(sx[v]), _mm256_loadu_ps(m->scale + o));
            _mm256_storeu_ps(y[v] + o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[v][b]), scale,
                                                       _mm256_loadu_ps(y[v] + o)));
        }
}

/* rows is a multiple of 16 (checked when the kernel is built): four voices at a time over 16 outputs, then
   the rest one by one over 32 (and a last 16) */
AVX2 static void qgemm_avx2(const QMat *m, const int8_t *const *x, const float *sx, float *const *y, int G,
                            int32_t *acc) {
    (void)acc;
    int g = 0;
    for (; g + 4 <= G; g += 4)
        for (int r = 0; r < m->rows; r += 16) qtile_avx2(m, r, x + g, sx + g, y + g, 4, 2);
    for (; g < G; g++) {
        int r = 0;
        for (; r + 32 <= m->rows; r += 32) qtile_avx2(m, r, x + g, sx + g, y + g, 1, 4);
        if (r < m->rows) qtile_avx2(m, r, x + g, sx + g, y + g, 1, 2);
    }
}

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI INLINE void qtile_vnni(const QMat *m, int r, const int8_t *const *x, const float *sx, float *const *y,
                            const int NV, const int RB) {
    __m512i acc[4][4];
    for (int v = 0; v < NV; v++)
        for (int b = 0; b < RB; b++) acc[v][b] = _mm512_setzero_si512();
    const __m512i flip = _mm512_set1_epi8((char)0x80); /* s8 x -> u8 x + 128 */
    const int groups = (m->cols + 3) / 4;
    const int8_t *w = m->w + (size_t)r * 4;
    for (int k = 0; k < groups; k++, w += (size_t)m->rows * 4) {
        __m512i wv[4];
        for (int b = 0; b < RB; b++) wv[b] = _mm512_loadu_si512((const void *)(w + 64 * b));
        for (int v = 0; v < NV; v++) {
            int32_t word;
            memcpy(&word, x[v] + 4 * k, 4);
            const __m512i xu = _mm512_xor_si512(_mm512_set1_epi32(word), flip);
            for (int b = 0; b < RB; b++) acc[v][b] = _mm512_dpbusd_epi32(acc[v][b], xu, wv[b]);
        }
    }
    for (int v = 0; v < NV; v++)
        for (int b = 0; b < RB; b++) {
            const int o = r + 16 * b;
            const __m512i sum = _mm512_sub_epi32(acc[v][b], _mm512_loadu_si512((const void *)(m->offset + o)));
            const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(sx[v]), _mm512_loadu_ps(m->scale + o));
            _mm512_storeu_ps(y[v] + o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, _mm512_loadu_ps(y[v] + o)));
        }
}

/* four voices at a time over 32 (and a last 16) outputs, then the rest one by one over 64 (and 16s) */
VNNI static void qgemm_vnni(const QMat *m, const int8_t *const *x, const float *sx, float *const *y, int G,
                            int32_t *acc) {
    (void)acc;
    int g = 0;
    for (; g + 4 <= G; g += 4) {
        int r = 0;
        for (; r + 32 <= m->rows; r += 32) qtile_vnni(m, r, x + g, sx + g, y + g, 4, 2);
        if (r < m->rows) qtile_vnni(m, r, x + g, sx + g, y + g, 4, 1);
    }
    for (; g < G; g++) {
        int r = 0;
        for (; r + 64 <= m->rows; r += 64) qtile_vnni(m, r, x + g, sx + g, y + g, 1, 4);
        for (; r < m->rows; r += 16) qtile_vnni(m, r, x + g, sx + g, y + g, 1, 1);
    }
}

static int vnni_usable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

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
static int vnni_usable(void) { return 0; }
#endif

/* the best SIMD path of this CPU */
static int cpu_level(void) { return avx2_usable() ? (vnni_usable() ? VNNI_LEVEL : AVX2_LEVEL) : PORTABLE; }

typedef struct {
    GemmFn gemm;
    GemmHalfFn gemm_half;
    QuantFn quantise;
    QGemmFn qgemm;
    GateFn gate;
    ExpFn exp;
    const char *name;
} Ops;

static Ops kernel_ops(int level, int precision) {
    Ops ops = {gemm_portable, NULL, quantise_portable, qgemm_portable, gate_portable, exp_portable, "portable"};
#if defined(__x86_64__) && defined(__GNUC__)
    if (precision == INT8) {
        if (level >= AVX2_LEVEL) { /* the vector gate, exp and quantiser round exactly as the portable ones */
            ops.gate = gate_avx2;
            ops.exp = exp_avx2;
            ops.quantise = quantise_avx2;
        }
        ops.qgemm = level == VNNI_LEVEL ? qgemm_vnni : (level == AVX2_LEVEL ? qgemm_avx2 : qgemm_portable);
        ops.name = LEVEL_NAMES[level];
    } else if (level >= AVX2_LEVEL) {
        ops = (Ops){gemm_avx2, gemm_avx2_half, NULL, NULL, gate_avx2, exp_avx2, "avx2-fma"};
    }
#else
    (void)level; (void)precision;
#endif
    return ops;
}

/* Per-voice scratch: h[R], z[2R], a[R], skips[S], hid[S], logits[C]; for int8, q holds the quantised input
   of the product in progress (ceil(max(R, S) / 4) * 4) and acc the portable loops' sums (max(2R, S, C)). */
typedef struct {
    float *h, *z, *a, *skips, *hid, *logits;
    int8_t *q;
    int32_t *acc;
} Work;

#define MAX_GROUP 64

/* y[g] += W x[g] for the group, in the kernel's precision: w (fp32), wh (fp16) or wq (int8) */
static void product(const Net *n, const Ops *ops, const float *w, const uint16_t *wh, const QMat *wq, int rows,
                    int cols, const float *const *x, float *const *y, int count, Work *work) {
    if (n->precision == FP32) {
        ops->gemm(w, rows, cols, x, y, count);
    } else if (n->precision == FP16) {
        ops->gemm_half(wh, rows, cols, x, y, count);
    } else {
        const int8_t *q[MAX_GROUP];
        float sx[MAX_GROUP];
        for (int g = 0; g < count; g++) {
            sx[g] = ops->quantise(x[g], cols, work[g].q);
            q[g] = work[g].q;
        }
        ops->qgemm(wq, q, sx, y, count, work[0].acc);
    }
}

/* One sample for a group of voices (count <= MAX_GROUP), layer by layer: every matrix product takes all the
   group's voices at once, so each weight is read once per group. cond[g] points at voice g's frame of
   pre-projected conditioning [L * 2R], feat[g] at its sample's features [K] (when the net takes them). */
static void step_group(const Net *n, const Ops *ops, Voice *v, int count, const float *const *cond,
                       const int *period, const float *const *feat, Work *w) {
    const int R = n->R, S = n->S, k = n->kernel;
    const float *xs[MAX_GROUP];
    float *ys[MAX_GROUP];
#define PRODUCT(f32, f16, q, rows, cols) product(n, ops, (f32), (f16), (q), rows, cols, xs, ys, count, w)
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
        for (int f = 0; f < n->features; f++) {
            const float *pf = n->feature_proj + (size_t)f * R;
            for (int c = 0; c < R; c++) w[g].h[c] += feat[g][f] * pf[c];
        }
        memcpy(w[g].skips, n->skip_bias, S * sizeof(float)); /* every layer's skip bias, summed once */
    }
    size_t offset = 0; /* of layer i's queue inside each voice's queue block */
    for (int i = 0; i < n->layers; i++) {
        const int d = n->dilation[i], qlen = d * (k - 1);
        for (int g = 0; g < count; g++) {
            memcpy(w[g].z, cond[g] + (size_t)i * 2 * R, 2 * R * sizeof(float));
            ys[g] = w[g].z;
        }
        for (int j = 0; j < k; j++) { /* tap j = x[t - d (k-1-j)]; the last tap is h itself */
            for (int g = 0; g < count; g++) {
                if (j < k - 1) {
                    int slot = v[g].qpos[i] - d * (k - 1 - j); /* in (-qlen, qlen): one wrap at most */
                    slot += slot < 0 ? qlen : 0;
                    xs[g] = v[g].queues + offset + (size_t)slot * R;
                } else {
                    xs[g] = w[g].h;
                }
            }
            const size_t tap = (size_t)j * R * 2 * R;
            PRODUCT(n->conv[i] + tap, n->conv_h ? n->conv_h[i] + tap : NULL,
                    n->conv_q ? n->conv_q + (size_t)i * k + j : NULL, 2 * R, R);
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
        PRODUCT(n->skip[i], n->skip_h ? n->skip_h[i] : NULL, n->skip_q ? n->skip_q + i : NULL, S, R);
        if (n->res[i] != NULL) {
            for (int g = 0; g < count; g++) {
                for (int c = 0; c < R; c++) w[g].h[c] += n->res_b[i][c];
                ys[g] = w[g].h;
            }
            PRODUCT(n->res[i], n->res_h ? n->res_h[i] : NULL, n->res_q ? n->res_q + i : NULL, R, R);
        }
        offset += (size_t)qlen * R;
    }
    for (int g = 0; g < count; g++) {
        for (int q = 0; q < S; q++) w[g].skips[q] = w[g].skips[q] > 0.0f ? w[g].skips[q] : 0.0f;
        memcpy(w[g].hid, n->head1_b, S * sizeof(float));
        xs[g] = w[g].skips;
        ys[g] = w[g].hid;
    }
    PRODUCT(n->head1, n->head1_h, &n->head1_q, S, S);
    for (int g = 0; g < count; g++) {
        for (int q = 0; q < S; q++) w[g].hid[q] = w[g].hid[q] > 0.0f ? w[g].hid[q] : 0.0f;
        memcpy(w[g].logits, n->head2_b, n->C * sizeof(float));
        xs[g] = w[g].hid;
        ys[g] = w[g].logits;
    }
    PRODUCT(n->head2, n->head2_h, &n->head2_q, n->C, S);
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
static void free_qmat(QMat *m) {
    free(m->w); free(m->scale); free(m->offset);
}

static void kernel_dealloc(KernelObject *self) {
    Net *n = &self->net;
    for (int i = 0; i < self->n_views; i++) PyBuffer_Release(&self->views[i]);
    free(self->views);
    for (int i = 0; i < n->layers; i++) {
        if (n->conv_h) { free(n->conv_h[i]); free(n->skip_h[i]); free(n->res_h[i]); }
        if (n->conv_q) {
            for (int j = 0; j < n->kernel; j++) free_qmat(&n->conv_q[(size_t)i * n->kernel + j]);
            free_qmat(&n->skip_q[i]); free_qmat(&n->res_q[i]);
        }
    }
    free(n->conv_h); free(n->skip_h); free(n->res_h); free(n->head1_h); free(n->head2_h);
    free(n->conv_q); free(n->skip_q); free(n->res_q);
    free_qmat(&n->head1_q); free_qmat(&n->head2_q);
    free(n->dilation);
    free(n->conv); free(n->skip); free(n->skip_b); free(n->res); free(n->res_b);
    free(n->arena);
    free(n->skip_bias);
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

/* the int8 copy of an input-major float matrix Wt[cols][rows] (see the top comment); NULL in gives a zeroed m */
static void quantise_matrix(const float *Wt, int rows, int cols, QMat *m) {
    if (Wt == NULL) return;
    const int groups = (cols + 3) / 4;
    m->rows = rows;
    m->cols = cols;
    m->w = aligned_alloc(64, (((size_t)groups * rows * 4 + 63) / 64) * 64);
    m->scale = malloc(rows * sizeof(float));
    m->offset = malloc(rows * sizeof(int32_t));
    memset(m->w, 0, (size_t)groups * rows * 4);
    for (int r = 0; r < rows; r++) {
        float top = 0.0f;
        for (int c = 0; c < cols; c++) {
            const float a = fabsf(Wt[(size_t)c * rows + r]);
            top = a > top ? a : top;
        }
        const float inv = top > 0.0f ? 127.0f / top : 0.0f;
        int32_t sum = 0;
        for (int c = 0; c < cols; c++) {
            const int8_t q = (int8_t)lrintf(Wt[(size_t)c * rows + r] * inv);
            m->w[((size_t)(c / 4) * rows + r) * 4 + c % 4] = q;
            sum += q;
        }
        m->scale[r] = top / 127.0f;
        m->offset[r] = 128 * sum;
    }
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
 *        head1, head1_b, head2, head2_b[, simd, precision, feature_proj]): conv/skip/... are lists with one
 *        float32 array per layer; simd caps the SIMD path (0 portable, 1 AVX2, 2 AVX-512 VNNI, -1 the best this
 *        CPU has); precision 0 fp32, 1 fp16 (needs F16C), 2 int8 (quantised here); feature_proj float32
 *        [K, R] or None. The path in use is the cap, the CPU's best and, when an output size is not a multiple
 *        of 16, portable, whichever is lowest; fp32 and fp16 have no AVX-512 loops and run AVX2 there. */
static int kernel_init(KernelObject *self, PyObject *args, PyObject *kwds) {
    int layers, R, S, C, kernel, max_period;
    PyObject *dil, *embed, *pembed, *conv, *skip, *skip_b, *res, *res_b, *h1, *h1b, *h2, *h2b, *fproj = Py_None;
    int simd = -1, precision = FP32;
    if (!PyArg_ParseTuple(args, "iiiiiOiOOOOOOOOOOO|iiO", &layers, &R, &S, &C, &kernel, &dil, &max_period, &embed,
                          &pembed, &conv, &skip, &skip_b, &res, &res_b, &h1, &h1b, &h2, &h2b, &simd, &precision,
                          &fproj))
        return -1;
    if (C > 1024 || layers < 1 || R < 1 || S < 1 || kernel < 1 || precision < FP32 || precision > INT8) {
        PyErr_SetString(PyExc_ValueError, "unsupported WaveNet sizes or precision");
        return -1;
    }
    /* the SIMD products work on blocks of 16 outputs: every output count must be a multiple of 16 */
    const int fits = (2 * R) % 16 == 0 && R % 16 == 0 && S % 16 == 0 && C % 16 == 0;
    int level = simd < 0 || simd > cpu_level() ? cpu_level() : simd;
    level = !fits ? PORTABLE : (precision != INT8 && level > AVX2_LEVEL ? AVX2_LEVEL : level);
    self->level = level;
    Net *n = &self->net;
    n->layers = layers; n->R = R; n->S = S; n->C = C; n->kernel = kernel; n->max_period = max_period;
    n->period_input = pembed != Py_None;
    self->views = calloc(9 + 5 * (size_t)layers, sizeof(Py_buffer));
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
    if (fproj != Py_None) {
        Py_ssize_t size = PyObject_Size(fproj); /* a [K, R] array: len() is K */
        if (size < 1 || size > 1024) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "feature_proj: expected [K, R], 1 <= K <= 1024");
            return -1;
        }
        n->features = (int)size;
        if (!(n->feature_proj = take(self, fproj, size * R, "feature_proj"))) return -1;
    }
    if (!(n->head1 = take(self, h1, (Py_ssize_t)S * S, "head1")) || !(n->head1_b = take(self, h1b, S, "head1 b")) ||
        !(n->head2 = take(self, h2, (Py_ssize_t)C * S, "head2")) || !(n->head2_b = take(self, h2b, C, "head2 b")))
        return -1;
    pack_weights(n);
    n->skip_bias = calloc(S, sizeof(float));
    for (int i = 0; i < layers; i++)
        for (int q = 0; q < S; q++) n->skip_bias[q] += n->skip_b[i][q];
    n->precision = precision;
    if (precision == FP16) {
        if (level < AVX2_LEVEL || !f16c_usable()) {
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
    } else if (precision == INT8) {
        n->conv_q = calloc((size_t)layers * kernel, sizeof(QMat));
        n->skip_q = calloc(layers, sizeof(QMat));
        n->res_q = calloc(layers, sizeof(QMat));
        for (int i = 0; i < layers; i++) {
            for (int j = 0; j < kernel; j++)
                quantise_matrix(n->conv[i] + (size_t)j * R * 2 * R, 2 * R, R, &n->conv_q[(size_t)i * kernel + j]);
            quantise_matrix(n->skip[i], S, R, &n->skip_q[i]);
            quantise_matrix(n->res[i], R, R, &n->res_q[i]);
        }
        quantise_matrix(n->head1, S, S, &n->head1_q);
        quantise_matrix(n->head2, C, S, &n->head2_q);
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
 *          batch, frames, hop, n, temperature, threads[, features f32[B, n, K] or None, teacher i32[B, n]]).
 *          State arrays are updated in place; sample t uses frame t // hop of cond and period and row t of
 *          features (needed when the kernel was built with a feature projection); the first m steps' logits are
 *          written when given; with teacher, teacher[b, t] is fed back after step t instead of the chosen class
 *          (which still goes to out); LPC mode (see the top comment) with lpc f32[B, F, order], limit f32[B, F],
 *          lpc_state f32[B, order + 1], e_prev i32[B], signal f32[B, n], boundaries f64[C - 1], levels f32[C],
 *          emphasis, order: out then holds the chosen excitation classes (before the limit), and a teacher
 *          class replaces the chosen one before the limit. */
static PyObject *kernel_generate(KernelObject *self, PyObject *args) {
    PyObject *o[19];
    for (int i = 10; i < 19; i++) o[i] = Py_None;
    int B, F, hop, n, threads, order = 0;
    double temperature, emphasis = 0.0;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOiiiidi|OOOOOOOOOdi", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], &o[9], &B, &F, &hop, &n, &temperature, &threads, &o[10], &o[11], &o[12],
                          &o[13], &o[14], &o[15], &o[16], &o[17], &o[18], &emphasis, &order))
        return NULL;
    const Net *net = &self->net;
    const int L = net->layers, R = net->R, C = net->C, P = net->max_period > 0 ? net->max_period : 1;
    if (B < 1 || hop < 1 || n < 0 || (Py_ssize_t)F * hop < n) {
        PyErr_SetString(PyExc_ValueError, "generate: need batch >= 1, hop >= 1 and frames * hop >= n");
        return NULL;
    }
    Py_buffer v[19];
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
    const float *features = NULL;
    if (net->features) {
        if (o[10] == Py_None) {
            PyErr_SetString(PyExc_ValueError, "features: this kernel needs per-sample features [batch, n, K]");
            goto fail;
        }
        if (buffer(o[10], &v[got], "f", (Py_ssize_t)B * n * net->features, 0, "features") < 0) goto fail;
        features = v[got++].buf;
    }
    const int32_t *teacher = NULL;
    if (o[11] != Py_None) {
        if (buffer(o[11], &v[got], "i", (Py_ssize_t)B * n, 0, "teacher") < 0) goto fail;
        teacher = v[got++].buf;
    }
    Lpc lpc = {0};
    const int use_lpc = o[12] != Py_None;
    if (use_lpc) {
        if (order < 1 || net->features < 1 || !net->period_input || emphasis < 0.0 || emphasis >= 1.0) {
            PyErr_SetString(PyExc_ValueError, "lpc: need order >= 1, 0 <= emphasis < 1, a feature projection "
                                              "(feature 0 is the prediction) and the period input");
            goto fail;
        }
        const char *lf[7] = {"f", "f", "f", "i", "f", "d", "f"};
        const Py_ssize_t lc[7] = {(Py_ssize_t)B * F * order, (Py_ssize_t)B * F, (Py_ssize_t)B * (order + 1), B,
                                  (Py_ssize_t)B * n, C - 1, C};
        const char *ln[7] = {"lpc", "limit", "lpc_state", "e_prev", "signal", "boundaries", "levels"};
        void *lb[7];
        for (int i = 0; i < 7; i++) {
            if (o[12 + i] == Py_None) {
                PyErr_Format(PyExc_ValueError, "lpc mode needs %s", ln[i]);
                goto fail;
            }
            if (buffer(o[12 + i], &v[got], lf[i], lc[i], i == 2 || i == 3 || i == 4, ln[i]) < 0) goto fail;
            lb[i] = v[got++].buf;
        }
        lpc = (Lpc){lb[0], lb[1], lb[2], lb[3], lb[4], lb[5], lb[6], emphasis, order};
    }
    float *queues = v[0].buf, *cond = v[6].buf, *logit_out = m ? v[9].buf : NULL;
    int32_t *qpos = v[1].buf, *history = v[2].buf, *hpos = v[3].buf, *x_prev = v[4].buf, *period = v[7].buf;
    int32_t *out = v[8].buf;
    uint64_t *rng = v[5].buf;
    const int Q = queue_floats(net), work_len = 4 * R + 2 * net->S, K = net->features;
    const int qlen = ((R > net->S ? R : net->S) + 3) & ~3, rows = 2 * R > net->S ? (2 * R > C ? 2 * R : C)
                                                                                  : (net->S > C ? net->S : C);
    const Ops ops = kernel_ops(self->level, net->precision);
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
        const float **conds = malloc(sizeof(float *) * room), **feats = malloc(sizeof(float *) * room);
        int *periods = malloc(sizeof(int) * room);
        float *own_feats = malloc(sizeof(float) * (size_t)room * (K > 0 ? K : 1)); /* LPC: feature rows */
        float *predictions = malloc(sizeof(float) * room);
        int8_t *quantised = malloc((size_t)room * qlen);
        int32_t *acc = malloc(sizeof(int32_t) * rows);
        for (int g = 0; g < count; g++) {
            const int b = first + g;
            voices[g] = (Voice){queues + (size_t)b * Q, qpos + (size_t)b * L, history + (size_t)b * P, hpos[b],
                                x_prev[b], rng[b]};
            float *base = scratch + (size_t)g * (work_len + C);
            work[g] = (Work){base, base + R, base + 3 * R, base + 4 * R, base + 4 * R + net->S, base + work_len,
                             quantised + (size_t)g * qlen, acc};
        }
        for (int t = 0; t < n && count > 0; t++) {
            const int frame = t / hop;
            for (int g = 0; g < count; g++) {
                const size_t b = (size_t)(first + g);
                conds[g] = cond + (b * F + frame) * L * 2 * R;
                periods[g] = period[b * F + frame];
                feats[g] = K ? features + (b * n + t) * K : NULL;
                if (use_lpc) {
                    const float *a = lpc.coef + (b * F + frame) * lpc.order, *past = lpc.state + b * (order + 1);
                    float acc = 0.0f; /* a_order s[t - order] + ... + a_1 s[t - 1] */
                    for (int k = 0; k < order; k++) acc += a[order - 1 - k] * past[k];
                    const float pr = -acc < -1.0f ? -1.0f : (-acc > 1.0f ? 1.0f : -acc);
                    predictions[g] = pr;
                    float *row = own_feats + (size_t)g * K;
                    memcpy(row, feats[g], K * sizeof(float));
                    row[0] = lpc_compand(pr);
                    feats[g] = row;
                }
            }
            for (int g0 = 0; g0 < count; g0 += MAX_GROUP) {
                const int size = count - g0 < MAX_GROUP ? count - g0 : MAX_GROUP;
                step_group(net, &ops, voices + g0, size, conds + g0, periods + g0, feats + g0, work + g0);
            }
            for (int g = 0; g < count; g++) {
                const size_t b = (size_t)(first + g);
                if (t < m) memcpy(logit_out + (b * m + t) * C, work[g].logits, C * sizeof(float));
                int32_t x = choose(&ops, work[g].logits, probs, C, temperature, &voices[g].rng);
                if (use_lpc) { /* out: the chosen class; fed back: it (or the teacher's), limited */
                    out[b * n + t] = x;
                    if (teacher) x = teacher[b * n + t];
                    const float bound = lpc.limit[b * F + frame];
                    float e = lpc.levels[x];
                    if (bound > 0.0f) {
                        e = e > bound ? bound : (e < -bound ? -bound : e);
                        x = lpc_encode(&lpc, C, e);
                    }
                    float *past = lpc.state + b * (order + 1);
                    float sig = predictions[g] + e;
                    sig = sig < -1.0f ? -1.0f : (sig > 1.0f ? 1.0f : sig);
                    memmove(past, past + 1, (order - 1) * sizeof(float));
                    past[order - 1] = sig;
                    float xd = sig + (float)lpc.emphasis * past[order];
                    past[order] = xd < -1.0f ? -1.0f : (xd > 1.0f ? 1.0f : xd);
                    lpc.signal[b * n + t] = past[order];
                    /* the excitation of t - 1 enters the period history; the input is the signal's class */
                    voices[g].history[voices[g].hpos] = lpc.e_prev[b];
                    voices[g].hpos = voices[g].hpos + 1 == P ? 0 : voices[g].hpos + 1;
                    lpc.e_prev[b] = x;
                    voices[g].x_prev = lpc_encode(&lpc, C, sig);
                    continue;
                }
                out[b * n + t] = x;
                if (net->period_input) { /* x[t-1] enters the history once step t is done */
                    voices[g].history[voices[g].hpos] = voices[g].x_prev;
                    voices[g].hpos = voices[g].hpos + 1 == P ? 0 : voices[g].hpos + 1;
                }
                voices[g].x_prev = teacher ? teacher[b * n + t] : x;
            }
        }
        for (int g = 0; g < count; g++) {
            hpos[first + g] = voices[g].hpos;
            x_prev[first + g] = voices[g].x_prev;
            rng[first + g] = voices[g].rng;
        }
        free(voices); free(work); free(scratch); free(conds); free(feats); free(periods); free(quantised); free(acc);
        free(own_feats); free(predictions);
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    return NULL;
}

static PyObject *kernel_backend(KernelObject *self, PyObject *Py_UNUSED(ignored)) {
    static const char *const precisions[] = {"fp32", "fp16", "int8"};
    return PyUnicode_FromFormat("%s-%s", kernel_ops(self->level, self->net.precision).name,
                                precisions[self->net.precision]);
}

static PyObject *kernel_simd(KernelObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(LEVEL_NAMES[self->level]);
}

static PyObject *kernel_queue_floats(KernelObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLong(queue_floats(&self->net));
}

static PyMethodDef kernel_methods[] = {
    {"generate", (PyCFunction)kernel_generate, METH_VARARGS, "Generate samples for every voice (see the C source)."},
    {"queue_floats", (PyCFunction)kernel_queue_floats, METH_NOARGS, "Queue floats per voice."},
    {"backend", (PyCFunction)kernel_backend, METH_NOARGS,
     "The inner loops and precision in use, e.g. 'avx2-fma-fp32', 'portable-fp32', 'avx512vnni-int8'."},
    {"simd", (PyCFunction)kernel_simd, METH_NOARGS, "The SIMD path in use: 'avx512vnni', 'avx2' or 'portable'."},
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

static PyObject *simd_paths(PyObject *m, PyObject *Py_UNUSED(ignored)) {
    (void)m;
    PyObject *paths = PyList_New(0);
    for (int level = PORTABLE; paths && level <= cpu_level(); level++) {
        PyObject *name = PyUnicode_FromString(LEVEL_NAMES[level]);
        if (name == NULL || PyList_Append(paths, name) < 0) Py_CLEAR(paths);
        Py_XDECREF(name);
    }
    return paths;
}

static PyMethodDef module_methods[] = {
    {"simd_paths", simd_paths, METH_NOARGS, "The SIMD paths this CPU runs, lowest first (index = simd cap)."},
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
