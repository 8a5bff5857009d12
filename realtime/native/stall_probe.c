/* Machine-stall probe: one thread per online CPU, pinned to it, under SCHED_FIFO at a level above every audio
 * thread where the system allows it, waking every `period_ms` on CLOCK_MONOTONIC's absolute timeline (what
 * cyclictest does). A wake-up later than `threshold_ms` means that CPU ran nothing of this machine's for that
 * long: with the probe over every thread here, only the kernel or the hypervisor (stolen time on a VM) can
 * hold it back. Each such stall is kept (the first STALLS per CPU) as (start time in CLOCK_MONOTONIC seconds,
 * length in ms, CPU): `latentbridge bench stalls` (realtime/stall_bench.py) says from them whether a machine
 * can play live at all. It does not run inside the engine: its wake-ups cost the engine's worker 10-25 % on a VM.
 *
 * Module realtime._stall_native, type StallProbe(priority, threshold_ms, period_ms): start(), stop(),
 * stalls (list of (start_s, ms, cpu), by start), max_ms, wakeups, realtime (every probe thread got SCHED_FIFO),
 * cpus. Each thread writes only its own list (one writer: a slot is written, then the count published with
 * release); readers load the count with acquire, so nobody waits on anybody.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STALLS 256 /* kept per CPU */
#define MAX_CPUS 64

typedef struct {
    double start_s, ms;
    int cpu;
} Stall;

typedef struct ProbeState {
    int priority, cpus;
    double threshold_s, period_s;
    _Atomic int running, realtime_threads;
    _Atomic int64_t wakeups;
    _Atomic uint64_t max_ns;
    _Atomic int count[MAX_CPUS]; /* stalls published, per probe thread */
    Stall stalls[MAX_CPUS][STALLS];
    pthread_t threads[MAX_CPUS];
    int cpu_of[MAX_CPUS];
    int started;
} ProbeState;

typedef struct {
    ProbeState *probe;
    int index;
} ThreadArg;

static double seconds(const struct timespec *t) { return (double)t->tv_sec + 1e-9 * (double)t->tv_nsec; }

static void add_ns(struct timespec *t, int64_t ns) {
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec += 1;
    }
}

static void record(ProbeState *p, int index, double start_s, double ms, int cpu) {
    int k = atomic_load_explicit(&p->count[index], memory_order_relaxed);
    if (k >= STALLS) return;
    p->stalls[index][k] = (Stall){start_s, ms, cpu};
    atomic_store_explicit(&p->count[index], k + 1, memory_order_release);
}

static void *probe_main(void *arg) {
    ThreadArg *a = (ThreadArg *)arg;
    ProbeState *p = a->probe;
    int index = a->index, cpu = p->cpu_of[index];
    free(a);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    struct sched_param param = {.sched_priority = p->priority};
    if (p->priority > 0 && pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0)
        atomic_fetch_add(&p->realtime_threads, 1);
    int64_t period_ns = (int64_t)(p->period_s * 1e9);
    struct timespec next, now;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (atomic_load_explicit(&p->running, memory_order_acquire)) {
        add_ns(&next, period_ns);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        atomic_fetch_add_explicit(&p->wakeups, 1, memory_order_relaxed);
        double late = seconds(&now) - seconds(&next);
        uint64_t late_ns = late > 0 ? (uint64_t)(late * 1e9) : 0;
        uint64_t max = atomic_load_explicit(&p->max_ns, memory_order_relaxed);
        while (late_ns > max && !atomic_compare_exchange_weak(&p->max_ns, &max, late_ns)) {
        }
        if (late > p->threshold_s) {
            record(p, index, seconds(&next), 1e3 * late, cpu);
            next = now; /* one stall, not a burst of catch-up wake-ups behind it */
        }
    }
    return NULL;
}

typedef struct {
    PyObject_HEAD ProbeState *probe;
} ProbeObject;

static int probe_init(ProbeObject *self, PyObject *args, PyObject *Py_UNUSED(kwargs)) {
    int priority;
    double threshold_ms, period_ms;
    if (!PyArg_ParseTuple(args, "idd", &priority, &threshold_ms, &period_ms)) return -1;
    if (period_ms <= 0 || threshold_ms <= 0) {
        PyErr_SetString(PyExc_ValueError, "period and threshold must be > 0");
        return -1;
    }
    ProbeState *p = calloc(1, sizeof(ProbeState));
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    p->priority = priority;
    p->threshold_s = 1e-3 * threshold_ms;
    p->period_s = 1e-3 * period_ms;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof allowed, &allowed);
    for (int c = 0; c < CPU_SETSIZE && p->cpus < MAX_CPUS; c++)
        if (CPU_ISSET(c, &allowed)) p->cpu_of[p->cpus++] = c;
    self->probe = p;
    return 0;
}

static PyObject *probe_start(ProbeObject *self, PyObject *Py_UNUSED(ignored)) {
    ProbeState *p = self->probe;
    if (p->started) Py_RETURN_NONE;
    atomic_store(&p->running, 1);
    atomic_store(&p->realtime_threads, 0);
    for (int i = 0; i < p->cpus; i++) {
        ThreadArg *a = malloc(sizeof(ThreadArg));
        if (a == NULL) return PyErr_NoMemory();
        *a = (ThreadArg){p, i};
        if (pthread_create(&p->threads[i], NULL, probe_main, a) != 0) {
            free(a);
            atomic_store(&p->running, 0);
            for (int j = 0; j < i; j++) pthread_join(p->threads[j], NULL);
            PyErr_SetString(PyExc_OSError, "cannot start the stall probe's threads");
            return NULL;
        }
    }
    p->started = 1;
    Py_RETURN_NONE;
}

static void stop_threads(ProbeState *p) {
    if (!p->started) return;
    atomic_store(&p->running, 0);
    for (int i = 0; i < p->cpus; i++) pthread_join(p->threads[i], NULL);
    p->started = 0;
}

static PyObject *probe_stop(ProbeObject *self, PyObject *Py_UNUSED(ignored)) {
    Py_BEGIN_ALLOW_THREADS stop_threads(self->probe);
    Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

static void probe_dealloc(ProbeObject *self) {
    if (self->probe != NULL) {
        stop_threads(self->probe);
        free(self->probe);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *get_stalls(ProbeObject *self, void *Py_UNUSED(closure)) {
    ProbeState *p = self->probe;
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    for (int i = 0; i < p->cpus; i++) {
        int n = atomic_load_explicit(&p->count[i], memory_order_acquire);
        for (int k = 0; k < n; k++) {
            Stall *s = &p->stalls[i][k];
            PyObject *row = Py_BuildValue("(ddi)", s->start_s, s->ms, s->cpu);
            if (row == NULL || PyList_Append(list, row) < 0) {
                Py_XDECREF(row);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(row);
        }
    }
    if (PyList_Sort(list) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyObject *get_max_ms(ProbeObject *self, void *Py_UNUSED(closure)) {
    return PyFloat_FromDouble(1e-6 * (double)atomic_load(&self->probe->max_ns));
}

static PyObject *get_wakeups(ProbeObject *self, void *Py_UNUSED(closure)) {
    return PyLong_FromLongLong(atomic_load(&self->probe->wakeups));
}

static PyObject *get_realtime(ProbeObject *self, void *Py_UNUSED(closure)) {
    ProbeState *p = self->probe;
    return PyBool_FromLong(p->cpus > 0 && atomic_load(&p->realtime_threads) == p->cpus);
}

static PyObject *get_cpus(ProbeObject *self, void *Py_UNUSED(closure)) { return PyLong_FromLong(self->probe->cpus); }

static PyMethodDef probe_methods[] = {
    {"start", (PyCFunction)probe_start, METH_NOARGS, "start one probe thread per CPU"},
    {"stop", (PyCFunction)probe_stop, METH_NOARGS, "stop and join the probe threads"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef probe_getset[] = {
    {"stalls", (getter)get_stalls, NULL, "(start in CLOCK_MONOTONIC s, ms, cpu) of the first stalls", NULL},
    {"max_ms", (getter)get_max_ms, NULL, "the latest wake-up seen, in ms", NULL},
    {"wakeups", (getter)get_wakeups, NULL, "wake-ups so far, all threads", NULL},
    {"realtime", (getter)get_realtime, NULL, "every probe thread got SCHED_FIFO (at its last start)", NULL},
    {"cpus", (getter)get_cpus, NULL, "CPUs probed", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ProbeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime._stall_native.StallProbe",
    .tp_basicsize = sizeof(ProbeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "StallProbe(priority, threshold_ms, period_ms)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)probe_init,
    .tp_dealloc = (destructor)probe_dealloc,
    .tp_methods = probe_methods,
    .tp_getset = probe_getset,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stall_native",
                                    "Per-CPU machine-stall probe (see stall_probe.c)", -1, NULL};

PyMODINIT_FUNC PyInit__stall_native(void) {
    if (PyType_Ready(&ProbeType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ProbeType);
    if (PyModule_AddObject(m, "StallProbe", (PyObject *)&ProbeType) < 0) {
        Py_DECREF(&ProbeType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
