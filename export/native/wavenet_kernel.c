/* Cached-queue WaveNet generation (Paine et al. 2016) for B voices, float32, no Python per sample.
 *
 * Each layer keeps a ring buffer of its past inputs (dilation * (kernel - 1) samples x R channels per voice),
 * so one sample costs O(layers). Conditioning arrives pre-projected per frame of `hop` samples as
 * cond[B, F, L * 2R] (local projection + global projection + conv bias, computed by the caller), and the
 * period input as period[B, F] (samples back into the voice's own history). The GIL is released while
 * generating; voices are split over `threads` OpenMP threads.
 *
 * Weight layout (input-major, so the inner loops run over contiguous outputs and vectorise; the same voices
 * of a thread go through each layer together, so that layer's weights stay in cache):
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
} Net;

typedef struct {
    PyObject_HEAD
    Net net;
    Py_buffer *views; /* buffers kept alive for the weights */
    int n_views;
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

/* y[r0 .. r0 + B) += W x for one block of B outputs; B is a compile-time constant, so the accumulators stay in
   vector registers across the whole input loop (no load / store of y per input). */
#define BLOCK_KERNEL(B)                                                                                   \
    static inline void block_##B(const float *restrict Wt, const float *restrict x, float *restrict y,    \
                                 int rows, int cols) {                                                    \
        float acc[B];                                                                                     \
        for (int r = 0; r < B; r++) acc[r] = y[r];                                                        \
        for (int c = 0; c < cols; c++) {                                                                  \
            const float xc = x[c];                                                                        \
            const float *restrict w = Wt + (size_t)c * rows;                                              \
            for (int r = 0; r < B; r++) acc[r] += xc * w[r];                                              \
        }                                                                                                 \
        for (int r = 0; r < B; r++) y[r] = acc[r];                                                        \
    }
BLOCK_KERNEL(64)
BLOCK_KERNEL(32)
BLOCK_KERNEL(8)

/* y[rows] += W x with W stored input-major (Wt[c][r]): blocks of 64 outputs, then 32, 8, single ones. */
static inline void matvec_add(const float *restrict Wt, const float *restrict x, float *restrict y, int rows,
                              int cols) {
    int r = 0;
    for (; r + 64 <= rows; r += 64) block_64(Wt + r, x, y + r, rows, cols);
    for (; r + 32 <= rows; r += 32) block_32(Wt + r, x, y + r, rows, cols);
    for (; r + 8 <= rows; r += 8) block_8(Wt + r, x, y + r, rows, cols);
    for (; r < rows; r++) {
        float acc = y[r];
        for (int c = 0; c < cols; c++) acc += x[c] * Wt[(size_t)c * rows + r];
        y[r] = acc;
    }
}

/* Per-voice scratch: h[R], z[2R], a[R], skips[S], hid[S], logits[C]. */
typedef struct {
    float *h, *z, *a, *skips, *hid, *logits;
} Work;

/* One sample for a group of voices, layer by layer (each layer's weights stay in cache across the group).
   cond[g] points at voice g's frame of pre-projected conditioning [L * 2R]. */
__attribute__((target_clones("arch=x86-64-v3", "default")))
static void step_group(const Net *n, Voice *v, int count, const float *const *cond, const int *period, Work *w) {
    const int R = n->R, S = n->S;
    for (int g = 0; g < count; g++) {
        memcpy(w[g].h, n->embed + (size_t)v[g].x_prev * R, R * sizeof(float));
        if (n->period_input) {
            int p = period[g] < 2 ? 2 : (period[g] > n->max_period ? n->max_period : period[g]);
            /* the ring holds x[t - 1 - P .. t - 2] (x[t - 1] is x_prev, pushed after this step); x[t - p] was
               written p - 1 pushes ago */
            int idx = (v[g].hpos - (p - 1) + n->max_period) % n->max_period;
            const float *pe = n->period_embed + (size_t)v[g].history[idx] * R;
            for (int c = 0; c < R; c++) w[g].h[c] += pe[c];
        }
        memset(w[g].skips, 0, S * sizeof(float));
    }
    size_t offset = 0; /* of layer i's queue inside each voice's queue block */
    for (int i = 0; i < n->layers; i++) {
        const int d = n->dilation[i], qlen = d * (n->kernel - 1);
        const float *W = n->conv[i];
        for (int g = 0; g < count; g++) {
            float *queue = v[g].queues + offset, *h = w[g].h, *z = w[g].z, *a = w[g].a;
            memcpy(z, cond[g] + (size_t)i * 2 * R, 2 * R * sizeof(float));
            for (int j = 0; j < n->kernel; j++) { /* tap j = x[t - d (k-1-j)]; the last tap is h itself */
                const float *tap = h;
                if (j < n->kernel - 1) {
                    int slot = (v[g].qpos[i] - d * (n->kernel - 1 - j) + qlen) % qlen;
                    tap = queue + (size_t)slot * R;
                }
                matvec_add(W + (size_t)j * R * 2 * R, tap, z, 2 * R, R);
            }
            if (qlen > 0) {
                memcpy(queue + (size_t)v[g].qpos[i] * R, h, R * sizeof(float));
                v[g].qpos[i] = (v[g].qpos[i] + 1) % qlen;
            }
#pragma omp simd
            for (int c = 0; c < R; c++) a[c] = gate(z[c], z[R + c]);
            for (int q = 0; q < S; q++) w[g].skips[q] += n->skip_b[i][q];
            matvec_add(n->skip[i], a, w[g].skips, S, R);
            if (n->res[i] != NULL) {
                for (int c = 0; c < R; c++) h[c] += n->res_b[i][c];
                matvec_add(n->res[i], a, h, R, R);
            }
        }
        offset += (size_t)qlen * R;
    }
    for (int g = 0; g < count; g++) {
        float *skips = w[g].skips, *hid = w[g].hid;
        for (int q = 0; q < S; q++) skips[q] = skips[q] > 0.0f ? skips[q] : 0.0f;
        memcpy(hid, n->head1_b, S * sizeof(float));
        matvec_add(n->head1, skips, hid, S, S);
        for (int q = 0; q < S; q++) hid[q] = hid[q] > 0.0f ? hid[q] : 0.0f;
        memcpy(w[g].logits, n->head2_b, n->C * sizeof(float));
        matvec_add(n->head2, hid, w[g].logits, n->C, S);
    }
}

static int32_t choose(const float *logits, int C, double temperature, uint64_t *rng) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (logits[c] > logits[best]) best = c;
    if (temperature <= 0.0) return best;
    double total = 0.0, probs[1024];
    const float inv = (float)(1.0 / temperature), top = logits[best];
    for (int c = 0; c < C; c++) total += (probs[c] = exp_approx((logits[c] - top) * inv));
    double u = next_uniform(rng) * total, run = 0.0;
    for (int c = 0; c < C; c++) {
        run += probs[c];
        if (u < run) return c;
    }
    return C - 1;
}

/* ---- Python object ------------------------------------------------------------------------------------ */
static void kernel_dealloc(KernelObject *self) {
    for (int i = 0; i < self->n_views; i++) PyBuffer_Release(&self->views[i]);
    free(self->views);
    free(self->net.dilation);
    free(self->net.conv); free(self->net.skip); free(self->net.skip_b); free(self->net.res); free(self->net.res_b);
    Py_TYPE(self)->tp_free((PyObject *)self);
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
 *        head1, head1_b, head2, head2_b): conv/skip/... are lists with one float32 array per layer. */
static int kernel_init(KernelObject *self, PyObject *args, PyObject *kwds) {
    int layers, R, S, C, kernel, max_period;
    PyObject *dil, *embed, *pembed, *conv, *skip, *skip_b, *res, *res_b, *h1, *h1b, *h2, *h2b;
    if (!PyArg_ParseTuple(args, "iiiiiOiOOOOOOOOOOO", &layers, &R, &S, &C, &kernel, &dil, &max_period, &embed,
                          &pembed, &conv, &skip, &skip_b, &res, &res_b, &h1, &h1b, &h2, &h2b))
        return -1;
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
        float *scratch = malloc(sizeof(float) * (size_t)room * (work_len + C));
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
            step_group(net, voices, count, conds, periods, work);
            for (int g = 0; g < count; g++) {
                const size_t b = (size_t)(first + g);
                if (t < m) memcpy(logit_out + (b * m + t) * C, work[g].logits, C * sizeof(float));
                int32_t x = choose(work[g].logits, C, temperature, &voices[g].rng);
                out[b * n + t] = x;
                if (net->period_input) { /* x[t-1] enters the history once step t is done */
                    voices[g].history[voices[g].hpos] = voices[g].x_prev;
                    voices[g].hpos = (voices[g].hpos + 1) % P;
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

static PyObject *kernel_queue_floats(KernelObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLong(queue_floats(&self->net));
}

static PyMethodDef kernel_methods[] = {
    {"generate", (PyCFunction)kernel_generate, METH_VARARGS, "Generate samples for every voice (see the C source)."},
    {"queue_floats", (PyCFunction)kernel_queue_floats, METH_NOARGS, "Queue floats per voice."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "export._wavenet_native.Kernel",
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

static PyMethodDef module_methods[] = {
    {"openmp_threads", openmp_threads, METH_NOARGS, "OpenMP's thread count (0 when built without OpenMP)."},
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
