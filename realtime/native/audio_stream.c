/* The live engine's audio callback in C: a PortAudio duplex stream whose callback never calls Python and never
 * takes the interpreter lock, so a thread that holds the lock (the worker, the OSC pump) cannot delay it.
 *
 * PortAudio (libportaudio.so.2) is opened at run time with dlopen, under the name sounddevice uses, so both share
 * one PortAudio: its device indices, its JACK client and its initialisation count (Pa_Initialize counts). The
 * few types and prototypes needed are declared below from portaudio.h (V19 ABI); no headers at build time.
 *
 * The callback does what `Engine.callback` does (realtime/engine.py), sample for sample: block `seq` of the
 * mono mix of the input goes into the input ring; block `seq - prefill` of the output ring is played on every
 * output channel, or, when absent, the dry mix (a late block), crossfaded with `fade_in` on the way out of and
 * back into the wet signal. It counts xruns (PortAudio's status flags), late blocks, device-clock gaps
 * (> 2.5 periods between callbacks) and its own overruns (> half a period inside), keeps the output peak, and
 * copies each output and input block into optional recording rings. Rings are single-producer single-consumer
 * blocks keyed by sequence number; a slot's number is cleared before its data is written and published
 * (release) after, and a reader checks it before (acquire) and after copying (a seqlock), so nobody waits.
 * Samples are float32, interleaved [frames, channels] at the device rate.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- PortAudio V19 (portaudio.h) ---------------------------------------------------------------------- */
typedef int PaError;
typedef int PaDeviceIndex;
typedef double PaTime;
typedef unsigned long PaSampleFormat;
typedef unsigned long PaStreamFlags;
typedef unsigned long PaStreamCallbackFlags;
typedef void PaStream;

typedef struct {
    PaDeviceIndex device;
    int channelCount;
    PaSampleFormat sampleFormat;
    PaTime suggestedLatency;
    void *hostApiSpecificStreamInfo;
} PaStreamParameters;

typedef struct {
    PaTime inputBufferAdcTime;
    PaTime currentTime;
    PaTime outputBufferDacTime;
} PaStreamCallbackTimeInfo;

typedef struct {
    int structVersion;
    PaTime inputLatency;
    PaTime outputLatency;
    double sampleRate;
} PaStreamInfo;

typedef int PaStreamCallback(const void *input, void *output, unsigned long frameCount,
                             const PaStreamCallbackTimeInfo *timeInfo, PaStreamCallbackFlags statusFlags,
                             void *userData);

#define paNoError 0
#define paFloat32 ((PaSampleFormat)0x00000001)
#define paNoFlag ((PaStreamFlags)0) /* as sounddevice opens its streams: clipping and dithering on */
#define paInputUnderflow ((PaStreamCallbackFlags)0x00000001)
#define paInputOverflow ((PaStreamCallbackFlags)0x00000002)
#define paOutputUnderflow ((PaStreamCallbackFlags)0x00000004)
#define paOutputOverflow ((PaStreamCallbackFlags)0x00000008)
#define paContinue 0
#define XRUN_FLAGS (paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow)

static struct {
    void *handle;
    PaError (*Initialize)(void);
    PaError (*Terminate)(void);
    PaError (*OpenStream)(PaStream **, const PaStreamParameters *, const PaStreamParameters *, double,
                          unsigned long, PaStreamFlags, PaStreamCallback *, void *);
    PaError (*StartStream)(PaStream *);
    PaError (*StopStream)(PaStream *);
    PaError (*AbortStream)(PaStream *);
    PaError (*CloseStream)(PaStream *);
    const PaStreamInfo *(*GetStreamInfo)(PaStream *);
    double (*GetStreamCpuLoad)(PaStream *);
    const char *(*GetErrorText)(PaError);
} pa;

/* ---- rings ---------------------------------------------------------------------------------------------- */
typedef struct {
    int slots, width; /* width: floats per block */
    float *data;
    _Atomic int64_t *numbers;
    _Atomic int64_t newest;
} Ring;

static int ring_init(Ring *r, int slots, int width) {
    r->slots = slots;
    r->width = width;
    atomic_init(&r->newest, -1);
    if (slots == 0) return 0;
    r->data = calloc((size_t)slots * width, sizeof(float));
    r->numbers = malloc((size_t)slots * sizeof(*r->numbers));
    if (r->data == NULL || r->numbers == NULL) return -1;
    for (int i = 0; i < slots; i++) atomic_init(&r->numbers[i], -1);
    return 0;
}

static void ring_free(Ring *r) {
    free(r->data);
    free((void *)r->numbers);
}

static void ring_put(Ring *r, int64_t seq, const float *block) {
    int slot = (int)(seq % r->slots);
    atomic_store_explicit(&r->numbers[slot], -1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* a reader that sees new data also sees the cleared number */
    memcpy(r->data + (size_t)slot * r->width, block, (size_t)r->width * sizeof(float));
    atomic_store_explicit(&r->numbers[slot], seq, memory_order_release);
    atomic_store_explicit(&r->newest, seq, memory_order_release);
}

/* 1 and block `seq` in `out`, or 0 when it is not written yet or was overwritten (before or while copying). */
static int ring_get(Ring *r, int64_t seq, float *out) {
    if (seq < 0 || r->slots == 0) return 0;
    int slot = (int)(seq % r->slots);
    if (atomic_load_explicit(&r->numbers[slot], memory_order_acquire) != seq) return 0;
    memcpy(out, r->data + (size_t)slot * r->width, (size_t)r->width * sizeof(float));
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&r->numbers[slot], memory_order_relaxed) == seq;
}

/* ---- what the callback shares with Python ------------------------------------------------------------ */
#define LISTED 64 /* block numbers kept of late blocks, xruns, gaps and overruns (as Engine keeps them) */

typedef struct {
    _Atomic int count;
    int64_t at[LISTED];
    double ms[LISTED]; /* gaps only */
} List;

static void list_add(List *l, int64_t seq, double ms) {
    int k = atomic_load_explicit(&l->count, memory_order_relaxed);
    if (k >= LISTED) return;
    l->at[k] = seq;
    l->ms[k] = ms;
    atomic_store_explicit(&l->count, k + 1, memory_order_release);
}

typedef struct {
    int n, channels, prefill, priority;
    double period;
    float *fade_in, *dry, *wet, *out; /* [n] each */
    Ring inputs, outputs, rec_out, rec_in;
    /* the callback's own state */
    int was_dry;
    float last_out;
    double last_callback;
    /* read from any thread */
    _Atomic int64_t seq, late, xruns, overrun_count; /* overrun_count: every overrun (the list keeps 64) */
    _Atomic uint32_t peak_bits; /* the float's bits: swapped for 0 by take_peak */
    _Atomic int realtime;       /* -1 before the first callback, then 0 or 1 */
    List late_at, xrun_at, overruns, gaps;
} Shared;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* what time.perf_counter() reads */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static int callback(const void *input, void *output, unsigned long frames, const PaStreamCallbackTimeInfo *time_info,
                    PaStreamCallbackFlags flags, void *user) {
    (void)time_info;
    Shared *s = user;
    if (atomic_load_explicit(&s->realtime, memory_order_relaxed) < 0) { /* first call, on PortAudio's thread */
        struct sched_param param = {.sched_priority = s->priority};
        atomic_store(&s->realtime,
                     s->priority > 0 && pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0);
    }
    double now = now_s();
    double gap = now - s->last_callback;
    s->last_callback = now;
    int64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    if (gap > 2.5 * s->period && seq > 0) list_add(&s->gaps, seq, 1000.0 * gap); /* the device clock stalled */
    if (flags & XRUN_FLAGS) {
        atomic_fetch_add_explicit(&s->xruns, 1, memory_order_relaxed);
        list_add(&s->xrun_at, seq, 0.0);
    }
    const int n = s->n, ch = s->channels;
    const float *in = input;
    float *outdata = output;
    if (frames != (unsigned long)n) { /* PortAudio keeps the size fixed; be safe anyway */
        for (unsigned long i = 0; i < frames; i++)
            for (int c = 0; c < ch; c++) outdata[i * ch + c] = in != NULL ? in[i * ch] : 0.0f;
        atomic_fetch_add_explicit(&s->late, 1, memory_order_relaxed);
        return paContinue;
    }
    float *dry = s->dry, *out = s->out;
    const float *fade = s->fade_in;
    for (int i = 0; i < n; i++) {
        if (in == NULL) {
            dry[i] = 0.0f;
        } else if (ch == 1) {
            dry[i] = in[i];
        } else { /* numpy's mean over the channels in float32: (0 + a + b + ...) / channels */
            float sum = 0.0f;
            for (int c = 0; c < ch; c++) sum += in[i * ch + c];
            dry[i] = sum / (float)ch;
        }
    }
    ring_put(&s->inputs, seq, dry);
    if (seq >= s->prefill && ring_get(&s->outputs, seq - s->prefill, s->wet)) {
        if (s->was_dry)
            for (int i = 0; i < n; i++) out[i] = dry[i] * (1.0f - fade[i]) + s->wet[i] * fade[i];
        else
            memcpy(out, s->wet, (size_t)n * sizeof(float));
        s->was_dry = 0;
    } else {
        if (seq >= s->prefill) {
            atomic_fetch_add_explicit(&s->late, 1, memory_order_relaxed);
            list_add(&s->late_at, seq, 0.0);
        }
        if (!s->was_dry) { /* fade from the last wet sample into the dry signal */
            const float last = s->last_out;
            for (int i = 0; i < n; i++) out[i] = last * (1.0f - fade[i]) + dry[i] * fade[i];
        } else {
            memcpy(out, dry, (size_t)n * sizeof(float));
        }
        s->was_dry = 1;
    }
    s->last_out = out[n - 1];
    float peak = 0.0f;
    for (int i = 0; i < n; i++) peak = fabsf(out[i]) > peak ? fabsf(out[i]) : peak;
    uint32_t old = atomic_load_explicit(&s->peak_bits, memory_order_relaxed);
    while (peak > bits_float(old) &&
           !atomic_compare_exchange_weak_explicit(&s->peak_bits, &old, float_bits(peak), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
    for (int i = 0; i < n; i++)
        for (int c = 0; c < ch; c++) outdata[i * ch + c] = out[i];
    if (s->rec_out.slots) ring_put(&s->rec_out, seq, outdata);
    if (s->rec_in.slots && in != NULL) ring_put(&s->rec_in, seq, in);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
    if (now_s() - now > 0.5 * s->period) { /* the callback's own fault */
        atomic_fetch_add_explicit(&s->overrun_count, 1, memory_order_relaxed);
        list_add(&s->overruns, seq, 0.0);
    }
    return paContinue;
}

/* ---- the Python type ------------------------------------------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    Shared *shared;
    PaStream *stream;
    int initialized, running;
    double input_latency, output_latency, cpu_load;
} StreamObject;

static PyObject *pa_error(const char *what, PaError err) {
    PyErr_Format(PyExc_OSError, "%s: %s", what, pa.GetErrorText ? pa.GetErrorText(err) : "PortAudio not loaded");
    return NULL;
}

static void shared_free(Shared *s) {
    if (s == NULL) return;
    ring_free(&s->inputs);
    ring_free(&s->outputs);
    ring_free(&s->rec_out);
    ring_free(&s->rec_in);
    free(s->fade_in);
    free(s->dry);
    free(s->wet);
    free(s->out);
    free(s);
}

/* load(libname): dlopen PortAudio and find its functions; OSError when it cannot. Loading twice is harmless. */
static PyObject *load(PyObject *m, PyObject *args) {
    (void)m;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (pa.handle != NULL) Py_RETURN_NONE;
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) return PyErr_Format(PyExc_OSError, "cannot load %s: %s", name, dlerror());
    struct {
        void **slot;
        const char *symbol;
    } symbols[] = {{(void **)&pa.Initialize, "Pa_Initialize"},
                   {(void **)&pa.Terminate, "Pa_Terminate"},
                   {(void **)&pa.OpenStream, "Pa_OpenStream"},
                   {(void **)&pa.StartStream, "Pa_StartStream"},
                   {(void **)&pa.StopStream, "Pa_StopStream"},
                   {(void **)&pa.AbortStream, "Pa_AbortStream"},
                   {(void **)&pa.CloseStream, "Pa_CloseStream"},
                   {(void **)&pa.GetStreamInfo, "Pa_GetStreamInfo"},
                   {(void **)&pa.GetStreamCpuLoad, "Pa_GetStreamCpuLoad"},
                   {(void **)&pa.GetErrorText, "Pa_GetErrorText"}};
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        *symbols[i].slot = dlsym(h, symbols[i].symbol);
        if (*symbols[i].slot == NULL) {
            memset(&pa, 0, sizeof(pa));
            dlclose(h);
            return PyErr_Format(PyExc_OSError, "%s has no %s", name, symbols[i].symbol);
        }
    }
    pa.handle = h;
    Py_RETURN_NONE;
}

static int float_view(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (strcmp(view->format, "f") != 0 || view->len != count * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd contiguous float32 values", what, count);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Stream(input_device, output_device, samplerate, blocksize, channels, prefill, slots, fade_in, input_latency,
 *        output_latency, record_output_slots, record_input_slots, priority): opens (does not start) the stream.
 *        Slot counts of 0 turn a recording ring off; priority is the callback's SCHED_FIFO level (0: leave the
 *        thread as it is). Both devices -1: no PortAudio stream at all, `run_callback` plays the device (tests). */
static int stream_init(StreamObject *self, PyObject *args, PyObject *kwds) {
    (void)kwds;
    int in_dev, out_dev, n, ch, prefill, slots, rec_out, rec_in, priority;
    double rate, in_latency, out_latency;
    PyObject *fade;
    if (!PyArg_ParseTuple(args, "iidiiiiOddiii", &in_dev, &out_dev, &rate, &n, &ch, &prefill, &slots, &fade,
                          &in_latency, &out_latency, &rec_out, &rec_in, &priority))
        return -1;
    const int detached = in_dev < 0 && out_dev < 0;
    if (pa.handle == NULL && !detached) {
        PyErr_SetString(PyExc_RuntimeError, "PortAudio is not loaded (call load(libname) first)");
        return -1;
    }
    if (self->shared != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the stream is already open");
        return -1;
    }
    if (n < 1 || ch < 1 || prefill < 1 || slots <= 2 * prefill || rec_out < 0 || rec_in < 0 || rate <= 0) {
        PyErr_SetString(PyExc_ValueError, "unsupported stream sizes");
        return -1;
    }
    Shared *s = calloc(1, sizeof(Shared));
    if (s == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->n = n;
    s->channels = ch;
    s->prefill = prefill;
    s->priority = priority;
    s->period = n / rate;
    s->was_dry = 1;
    atomic_init(&s->seq, 0);
    atomic_init(&s->late, 0);
    atomic_init(&s->xruns, 0);
    atomic_init(&s->overrun_count, 0);
    atomic_init(&s->peak_bits, 0);
    atomic_init(&s->realtime, -1);
    s->fade_in = malloc((size_t)n * sizeof(float));
    s->dry = calloc((size_t)n, sizeof(float));
    s->wet = calloc((size_t)n, sizeof(float));
    s->out = calloc((size_t)n, sizeof(float));
    if (s->fade_in == NULL || s->dry == NULL || s->wet == NULL || s->out == NULL || ring_init(&s->inputs, slots, n) ||
        ring_init(&s->outputs, slots, n) || ring_init(&s->rec_out, rec_out, n * ch) ||
        ring_init(&s->rec_in, rec_in, n * ch)) {
        shared_free(s);
        PyErr_NoMemory();
        return -1;
    }
    Py_buffer view;
    if (float_view(fade, &view, n, 0, "fade_in") < 0) {
        shared_free(s);
        return -1;
    }
    memcpy(s->fade_in, view.buf, (size_t)n * sizeof(float));
    PyBuffer_Release(&view);

    if (detached) {
        self->shared = s;
        return 0;
    }
    PaStreamParameters ip = {in_dev, ch, paFloat32, in_latency, NULL};
    PaStreamParameters op = {out_dev, ch, paFloat32, out_latency, NULL};
    PaError err;
    PaStream *stream = NULL;
    Py_BEGIN_ALLOW_THREADS
    err = pa.Initialize();
    if (err == paNoError) {
        err = pa.OpenStream(&stream, &ip, &op, rate, (unsigned long)n, paNoFlag, callback, s);
        if (err != paNoError) pa.Terminate();
    }
    Py_END_ALLOW_THREADS
    if (err != paNoError) {
        shared_free(s);
        pa_error("cannot open the stream", err);
        return -1;
    }
    const PaStreamInfo *info = pa.GetStreamInfo(stream);
    self->input_latency = info ? info->inputLatency : 0.0;
    self->output_latency = info ? info->outputLatency : 0.0;
    self->shared = s;
    self->stream = stream;
    self->initialized = 1;
    return 0;
}

static PyObject *stream_start(StreamObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->stream == NULL) return PyErr_Format(PyExc_RuntimeError, "the stream is closed");
    if (self->running) Py_RETURN_NONE;
    PaError err;
    Py_BEGIN_ALLOW_THREADS
    err = pa.StartStream(self->stream);
    Py_END_ALLOW_THREADS
    if (err != paNoError) return pa_error("cannot start the stream", err);
    self->running = 1;
    Py_RETURN_NONE;
}

static PyObject *stream_stop(StreamObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->stream == NULL || !self->running) Py_RETURN_NONE;
    self->cpu_load = pa.GetStreamCpuLoad(self->stream);
    self->running = 0; /* before the lock is released: no other thread asks a stopping stream for its load */
    PaStream *stream = self->stream;
    PaError err;
    Py_BEGIN_ALLOW_THREADS
    err = pa.StopStream(stream); /* waits for the callback in progress */
    Py_END_ALLOW_THREADS
    if (err != paNoError) return pa_error("cannot stop the stream", err);
    Py_RETURN_NONE;
}

static void close_stream(StreamObject *self) {
    if (self->stream != NULL) {
        PaStream *stream = self->stream; /* forgotten before the lock is released (other threads see NULL) */
        int running = self->running;
        self->stream = NULL;
        self->running = 0;
        Py_BEGIN_ALLOW_THREADS
        if (running) pa.AbortStream(stream);
        pa.CloseStream(stream);
        Py_END_ALLOW_THREADS
    }
    if (self->initialized) {
        pa.Terminate(); /* drops this module's count only: sounddevice's PortAudio stays up */
        self->initialized = 0;
    }
}

static PyObject *stream_close(StreamObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->stream != NULL && self->running) self->cpu_load = pa.GetStreamCpuLoad(self->stream);
    close_stream(self);
    Py_RETURN_NONE;
}

static void stream_dealloc(StreamObject *self) {
    close_stream(self); /* no callback runs after this: the shared state can go */
    shared_free(self->shared);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Ring *ring_of(StreamObject *self, int which) {
    if (self->shared == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the stream was never opened");
        return NULL;
    }
    Ring *rings[] = {&self->shared->inputs, &self->shared->outputs, &self->shared->rec_out, &self->shared->rec_in};
    if (which < 0 || which > 3 || rings[which]->slots == 0) {
        PyErr_Format(PyExc_ValueError, "no ring %d", which);
        return NULL;
    }
    return rings[which];
}

/* newest(ring): the newest block number written to ring 0 (input), 1 (output), 2 (recorded output) or 3
 * (recorded input); -1 before the first. */
static PyObject *stream_newest(StreamObject *self, PyObject *args) {
    int which;
    if (!PyArg_ParseTuple(args, "i", &which)) return NULL;
    Ring *r = ring_of(self, which);
    if (r == NULL) return NULL;
    return PyLong_FromLongLong(atomic_load_explicit(&r->newest, memory_order_acquire));
}

/* get(ring, seq, out): copy block seq into out (float32, the ring's block size); False when it is absent. */
static PyObject *stream_get(StreamObject *self, PyObject *args) {
    int which;
    long long seq;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "iLO", &which, &seq, &obj)) return NULL;
    Ring *r = ring_of(self, which);
    if (r == NULL) return NULL;
    Py_buffer view;
    if (float_view(obj, &view, r->width, 1, "out") < 0) return NULL;
    int found = ring_get(r, seq, view.buf);
    PyBuffer_Release(&view);
    return PyBool_FromLong(found);
}

/* put_output(seq, block): the chain's output for input block seq (float32 [blocksize]); the worker only. */
static PyObject *stream_put_output(StreamObject *self, PyObject *args) {
    long long seq;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "LO", &seq, &obj)) return NULL;
    Ring *r = ring_of(self, 1);
    if (r == NULL) return NULL;
    if (seq < 0) return PyErr_Format(PyExc_ValueError, "negative block number %lld", seq);
    Py_buffer view;
    if (float_view(obj, &view, r->width, 0, "block") < 0) return NULL;
    ring_put(r, seq, view.buf);
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

/* run_callback(input, output, flags): one callback on this thread, as PortAudio would make it, on a stream
 * opened without devices; input and output are float32 [frames, channels]. For tests. */
static PyObject *stream_run_callback(StreamObject *self, PyObject *args) {
    PyObject *in_obj, *out_obj;
    unsigned long flags;
    if (!PyArg_ParseTuple(args, "OOk", &in_obj, &out_obj, &flags)) return NULL;
    if (self->shared == NULL || self->stream != NULL || self->initialized)
        return PyErr_Format(PyExc_RuntimeError, "run_callback needs a stream opened without devices");
    Py_buffer in, out;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) return NULL;
    Py_ssize_t count = out.len / (Py_ssize_t)sizeof(float);
    if (strcmp(out.format, "f") != 0 || count % self->shared->channels != 0) {
        PyBuffer_Release(&out);
        return PyErr_Format(PyExc_ValueError, "output: expected float32 [frames, channels]");
    }
    if (float_view(in_obj, &in, count, 0, "input") < 0) {
        PyBuffer_Release(&out);
        return NULL;
    }
    callback(in.buf, out.buf, (unsigned long)(count / self->shared->channels), NULL, flags, self->shared);
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* take_peak(): the output's peak (linear) since the last call. */
static PyObject *stream_take_peak(StreamObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->shared == NULL) return PyFloat_FromDouble(0.0);
    return PyFloat_FromDouble(bits_float(atomic_exchange(&self->shared->peak_bits, 0)));
}

static PyObject *stream_latency(StreamObject *self, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("(dd)", self->input_latency, self->output_latency);
}

static PyObject *stream_cpu_load(StreamObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->stream != NULL && self->running) self->cpu_load = pa.GetStreamCpuLoad(self->stream);
    return PyFloat_FromDouble(self->cpu_load);
}

static PyObject *list_numbers(List *l, int with_ms) {
    int k = atomic_load_explicit(&l->count, memory_order_acquire);
    PyObject *out = PyList_New(k);
    if (out == NULL) return NULL;
    for (int i = 0; i < k; i++) {
        PyObject *item = with_ms ? Py_BuildValue("(Ld)", (long long)l->at[i], round(10.0 * l->ms[i]) / 10.0)
                                 : PyLong_FromLongLong(l->at[i]);
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, item);
    }
    return out;
}

#define REQUIRE_SHARED(self)                                                \
    if ((self)->shared == NULL) {                                           \
        PyErr_SetString(PyExc_RuntimeError, "the stream was never opened"); \
        return NULL;                                                        \
    }

static PyObject *get_seq(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return PyLong_FromLongLong(atomic_load_explicit(&self->shared->seq, memory_order_acquire));
}

static PyObject *get_late(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return PyLong_FromLongLong(atomic_load_explicit(&self->shared->late, memory_order_relaxed));
}

static PyObject *get_xruns(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return PyLong_FromLongLong(atomic_load_explicit(&self->shared->xruns, memory_order_relaxed));
}

static PyObject *get_overrun_count(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return PyLong_FromLongLong(atomic_load_explicit(&self->shared->overrun_count, memory_order_relaxed));
}

static PyObject *get_realtime(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    int rt = atomic_load(&self->shared->realtime);
    if (rt < 0) Py_RETURN_NONE;
    return PyBool_FromLong(rt);
}

static PyObject *get_late_at(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return list_numbers(&self->shared->late_at, 0);
}

static PyObject *get_xrun_at(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return list_numbers(&self->shared->xrun_at, 0);
}

static PyObject *get_overruns(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return list_numbers(&self->shared->overruns, 0);
}

static PyObject *get_gaps(StreamObject *self, void *c) {
    (void)c;
    REQUIRE_SHARED(self);
    return list_numbers(&self->shared->gaps, 1);
}

static PyGetSetDef stream_getset[] = {
    {"seq", (getter)get_seq, NULL, "blocks the callback has played", NULL},
    {"late", (getter)get_late, NULL, "late blocks (played dry)", NULL},
    {"xruns", (getter)get_xruns, NULL, "callbacks with an under- or overflow flag", NULL},
    {"overrun_count", (getter)get_overrun_count, NULL, "callbacks that took too long (all of them)", NULL},
    {"callback_realtime", (getter)get_realtime, NULL, "SCHED_FIFO on the callback (None before the first)", NULL},
    {"late_at", (getter)get_late_at, NULL, "the first 64 late blocks", NULL},
    {"xrun_at", (getter)get_xrun_at, NULL, "the blocks of the first 64 xruns", NULL},
    {"callback_overruns", (getter)get_overruns, NULL, "the first 64 blocks the callback took too long on", NULL},
    {"gaps", (getter)get_gaps, NULL, "(block, ms) of the first 64 device-clock gaps", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef stream_methods[] = {
    {"start", (PyCFunction)stream_start, METH_NOARGS, "Start the stream."},
    {"stop", (PyCFunction)stream_stop, METH_NOARGS, "Stop the stream (after the callback in progress)."},
    {"close", (PyCFunction)stream_close, METH_NOARGS, "Close the stream; rings and counters stay readable."},
    {"newest", (PyCFunction)stream_newest, METH_VARARGS, "The newest block number of a ring (see the source)."},
    {"get", (PyCFunction)stream_get, METH_VARARGS, "Copy a block of a ring into an array; False if absent."},
    {"put_output", (PyCFunction)stream_put_output, METH_VARARGS, "Publish the chain's output for a block."},
    {"take_peak", (PyCFunction)stream_take_peak, METH_NOARGS, "The output peak since the last call."},
    {"run_callback", (PyCFunction)stream_run_callback, METH_VARARGS, "One callback on this thread (tests)."},
    {"latency", (PyCFunction)stream_latency, METH_NOARGS, "(input, output) latency in seconds (PortAudio's)."},
    {"cpu_load", (PyCFunction)stream_cpu_load, METH_NOARGS, "PortAudio's CPU load estimate of the callback."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime._audio_native.Stream",
    .tp_basicsize = sizeof(StreamObject),
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A PortAudio duplex stream with a C callback (see the module source).",
    .tp_methods = stream_methods,
    .tp_getset = stream_getset,
    .tp_init = (initproc)stream_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"load", load, METH_VARARGS, "dlopen PortAudio (e.g. 'libportaudio.so.2'); OSError when it cannot."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_audio_native",
                                    "A PortAudio duplex stream whose callback never takes the GIL.", -1,
                                    module_methods};

PyMODINIT_FUNC PyInit__audio_native(void) {
    if (PyType_Ready(&StreamType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&StreamType);
    if (PyModule_AddObject(m, "Stream", (PyObject *)&StreamType) < 0 ||
        PyModule_AddIntConstant(m, "LISTED", LISTED) < 0) {
        Py_DECREF(&StreamType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
