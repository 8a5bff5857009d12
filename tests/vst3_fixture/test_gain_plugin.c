/* Latentbridge Test Gain: a minimal VST3 effect in plain C, the test fixture for latentbridge's VST3 host path.
 *
 * out[n] = in[n - 64] * 10^(gain_dB / 20) * (invert ? -1 : 1) per channel, zeros first; latency and tail are
 * 64 samples. Parameters: 0 "Gain" (dB, -24..+12, default 0), 1 "Invert" (toggle, default off). Points from
 * the host's parameter queues apply at their sample offsets and hold (piecewise constant); the gain acts
 * before the delay line, so a change at offset k is heard at k + 64.
 * Conventions: one object is IComponent + IAudioProcessor + IEditController (a single-component effect); the
 * Linux (non-COM) ABI: INLINE_UID words big-endian, kResultOk 0, kResultFalse 1, kNoInterface -1; one main
 * audio bus in and out, mono or stereo alike (stereo by default); 32-bit float only; missing buffers are
 * silence in, dropped out; state: "LBG1" + the two normalised values as little-endian doubles.
 * LB_VST3_TRACE=1 logs host calls to stderr. Build: see `make vst3-fixture` or tests/vst3_plugin.py.
 */

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t tresult;
typedef uint8_t tuid[16];
typedef uint16_t char16;
typedef char16 str128[128];

enum { kNoInterface = -1, kResultOk = 0, kResultTrue = 0, kResultFalse = 1, kInvalidArgument = 2,
       kNotImplemented = 3, kOutOfMemory = 6 };
enum { kAudio = 0, kInput = 0, kOutput = 1, kMain = 0, kDefaultActive = 1, kSample32 = 0, kCanAutomate = 1 };
enum { LATENCY = 64, MAX_CHANNELS = 2, NUM_PARAMS = 2, STATE_SIZE = 4 + 2 * 8 };
static const uint64_t kMono = 1u << 19, kStereo = 0x3;  /* kSpeakerM; kSpeakerL | kSpeakerR */

#define UID(a, b, c, d) { (a) >> 24 & 255, (a) >> 16 & 255, (a) >> 8 & 255, (a) & 255, (b) >> 24 & 255, \
    (b) >> 16 & 255, (b) >> 8 & 255, (b) & 255, (c) >> 24 & 255, (c) >> 16 & 255, (c) >> 8 & 255, (c) & 255, \
    (d) >> 24 & 255, (d) >> 16 & 255, (d) >> 8 & 255, (d) & 255 }
static const tuid IID_FUnknown = UID(0x00000000u, 0x00000000u, 0xC0000000u, 0x00000046u);
static const tuid IID_IPluginBase = UID(0x22888DDBu, 0x156E45AEu, 0x8358B348u, 0x08190625u);
static const tuid IID_IPluginFactory = UID(0x7A4D811Cu, 0x52114A1Fu, 0xAED9D2EEu, 0x0B43BF9Fu);
static const tuid IID_IPluginFactory2 = UID(0x0007B650u, 0xF24B4C0Bu, 0xA464EDB9u, 0xF00B2ABBu);
static const tuid IID_IComponent = UID(0xE831FF31u, 0xF2D54301u, 0x928EBBEEu, 0x25697802u);
static const tuid IID_IAudioProcessor = UID(0x42043F99u, 0xB7DA453Cu, 0xA569E79Du, 0x9AAEC33Du);
static const tuid IID_IEditController = UID(0xDCD7BBE3u, 0x7742448Du, 0xA874AACCu, 0x979C759Eu);
static const tuid CID_TestGain = UID(0x4C425447u, 0x61696E31u, 0x56535433u, 0x46697874u);  /* "LBTGain1VST3Fixt" */

/* ---- host-side structs and interfaces we read (layouts as in the VST3 SDK, natural alignment) ---- */
struct factory_info { char vendor[64], url[256], email[128]; int32_t flags; };
struct class_info { tuid cid; int32_t cardinality; char category[32], name[64]; };
struct class_info2 {
    tuid cid; int32_t cardinality; char category[32], name[64];
    uint32_t class_flags; char sub_categories[128], vendor[64], version[64], sdk_version[64];
};
struct bus_info { int32_t media_type, direction, channel_count; str128 name; int32_t bus_type; uint32_t flags; };
struct param_info {
    uint32_t id; str128 title, short_title, units; int32_t step_count; double default_normalised;
    int32_t unit_id, flags;
};
struct process_setup { int32_t process_mode, sample_size, max_block; double sample_rate; };
struct bus_buffers { int32_t num_channels; uint64_t silence_flags; float **channels; };
struct process_data {
    int32_t process_mode, sample_size, num_samples, num_inputs, num_outputs;
    struct bus_buffers *inputs, *outputs;
    struct param_changes *input_changes, *output_changes;
    void *input_events, *output_events, *context;
};
_Static_assert(sizeof(struct factory_info) == 452 && sizeof(struct class_info) == 116, "factory layout");
_Static_assert(sizeof(struct class_info2) == 440 && sizeof(struct bus_info) == 276, "class/bus layout");
_Static_assert(sizeof(struct param_info) == 792 && offsetof(struct param_info, default_normalised) == 776,
               "ParameterInfo layout");
_Static_assert(sizeof(struct bus_buffers) == 24 && sizeof(struct process_data) == 80, "ProcessData layout");

#define FUNKNOWN_METHODS \
    tresult (*query_interface)(void *self, const tuid iid, void **obj); \
    uint32_t (*add_ref)(void *self); \
    uint32_t (*release)(void *self);
struct bstream_vtbl {
    FUNKNOWN_METHODS
    tresult (*read)(void *self, void *buffer, int32_t bytes, int32_t *done);
    tresult (*write)(void *self, void *buffer, int32_t bytes, int32_t *done);
    tresult (*seek)(void *self, int64_t pos, int32_t mode, int64_t *result);
    tresult (*tell)(void *self, int64_t *pos);
};
struct bstream { const struct bstream_vtbl *vtbl; };
struct value_queue_vtbl {
    FUNKNOWN_METHODS
    uint32_t (*get_parameter_id)(void *self);
    int32_t (*get_point_count)(void *self);
    tresult (*get_point)(void *self, int32_t index, int32_t *offset, double *value);
    tresult (*add_point)(void *self, int32_t offset, double value, int32_t *index);
};
struct value_queue { const struct value_queue_vtbl *vtbl; };
struct param_changes_vtbl {
    FUNKNOWN_METHODS
    int32_t (*get_parameter_count)(void *self);
    struct value_queue *(*get_parameter_data)(void *self, int32_t index);
    struct value_queue *(*add_parameter_data)(void *self, const uint32_t *id, int32_t *index);
};
struct param_changes { const struct param_changes_vtbl *vtbl; };

/* ---- the interfaces we implement ---- */
struct factory_vtbl {
    FUNKNOWN_METHODS
    tresult (*get_factory_info)(void *self, struct factory_info *info);
    int32_t (*count_classes)(void *self);
    tresult (*get_class_info)(void *self, int32_t index, struct class_info *info);
    tresult (*create_instance)(void *self, const tuid cid, const tuid iid, void **obj);
    tresult (*get_class_info2)(void *self, int32_t index, struct class_info2 *info);
};
struct component_vtbl {
    FUNKNOWN_METHODS
    tresult (*initialize)(void *self, void *context);
    tresult (*terminate)(void *self);
    tresult (*get_controller_class_id)(void *self, tuid cid);
    tresult (*set_io_mode)(void *self, int32_t mode);
    int32_t (*get_bus_count)(void *self, int32_t type, int32_t dir);
    tresult (*get_bus_info)(void *self, int32_t type, int32_t dir, int32_t index, struct bus_info *info);
    tresult (*get_routing_info)(void *self, void *in_info, void *out_info);
    tresult (*activate_bus)(void *self, int32_t type, int32_t dir, int32_t index, uint8_t state);
    tresult (*set_active)(void *self, uint8_t state);
    tresult (*set_state)(void *self, struct bstream *state);
    tresult (*get_state)(void *self, struct bstream *state);
};
struct processor_vtbl {
    FUNKNOWN_METHODS
    tresult (*set_bus_arrangements)(void *self, uint64_t *ins, int32_t num_ins, uint64_t *outs, int32_t num_outs);
    tresult (*get_bus_arrangement)(void *self, int32_t dir, int32_t index, uint64_t *arr);
    tresult (*can_process_sample_size)(void *self, int32_t size);
    uint32_t (*get_latency_samples)(void *self);
    tresult (*setup_processing)(void *self, struct process_setup *setup);
    tresult (*set_processing)(void *self, uint8_t state);
    tresult (*process)(void *self, struct process_data *data);
    uint32_t (*get_tail_samples)(void *self);
};
struct controller_vtbl {
    FUNKNOWN_METHODS
    tresult (*initialize)(void *self, void *context);
    tresult (*terminate)(void *self);
    tresult (*set_component_state)(void *self, struct bstream *state);
    tresult (*set_state)(void *self, struct bstream *state);
    tresult (*get_state)(void *self, struct bstream *state);
    int32_t (*get_parameter_count)(void *self);
    tresult (*get_parameter_info)(void *self, int32_t index, struct param_info *info);
    tresult (*get_param_string_by_value)(void *self, uint32_t id, double value, str128 out);
    tresult (*get_param_value_by_string)(void *self, uint32_t id, char16 *text, double *value);
    double (*normalized_param_to_plain)(void *self, uint32_t id, double value);
    double (*plain_param_to_normalized)(void *self, uint32_t id, double plain);
    double (*get_param_normalized)(void *self, uint32_t id);
    tresult (*set_param_normalized)(void *self, uint32_t id, double value);
    tresult (*set_component_handler)(void *self, void *handler);
    void *(*create_view)(void *self, const char *name);
};

static int trace_on;
#define TRACE(...) do { if (trace_on) { fprintf(stderr, "[lb-vst3] " __VA_ARGS__); fputc('\n', stderr); } } while (0)

static void trace_iid(const char *who, const tuid iid, bool found) {
    if (!trace_on) return;
    char hex[33];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02X", iid[i]);
    TRACE("%s.queryInterface %s -> %s", who, hex, found ? "ok" : "no interface");
}

static void to_str128(str128 out, const char *text) {
    size_t i = 0;
    for (; text[i] && i < 127; i++) out[i] = (unsigned char)text[i];
    out[i] = 0;
}

/* ---- the plugin object: three interface pointers, one reference count ---- */
struct plugin {
    const struct component_vtbl *component;  /* also its FUnknown and IPluginBase */
    const struct processor_vtbl *processor;
    const struct controller_vtbl *controller;
    uint32_t refs;
    int initialised;                          /* initialize() calls not yet matched by terminate() */
    bool active;
    uint64_t arrangement;                     /* the same for input and output */
    double proc_value[NUM_PARAMS];            /* normalised values the audio uses (state, queues) */
    double ctrl_value[NUM_PARAMS];            /* the controller's view (setParamNormalized) */
    float delay[MAX_CHANNELS][LATENCY];
    int pos;
};

#define FROM(iface, self) ((struct plugin *)((char *)(self) - offsetof(struct plugin, iface)))
static const double DEFAULT_VALUE[NUM_PARAMS] = { 24.0 / 36.0, 0.0 };  /* 0 dB, off */

static int channels_of(uint64_t arr) { return arr == kMono ? 1 : 2; }
static double clamp01(double x) { return x != x ? 0.0 : x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x; }
static double gain_db(double normalised) { return -24.0 + 36.0 * clamp01(normalised); }
static float linear_gain(const double *value) {
    return (float)(pow(10.0, gain_db(value[0]) / 20.0) * (value[1] >= 0.5 ? -1.0 : 1.0));
}

static tresult plugin_query(struct plugin *p, const char *who, const tuid iid, void **obj) {
    if (!obj) return kInvalidArgument;
    void *found = NULL;
    if (!memcmp(iid, IID_FUnknown, 16) || !memcmp(iid, IID_IPluginBase, 16) || !memcmp(iid, IID_IComponent, 16))
        found = &p->component;
    else if (!memcmp(iid, IID_IAudioProcessor, 16))
        found = &p->processor;
    else if (!memcmp(iid, IID_IEditController, 16))
        found = &p->controller;
    trace_iid(who, iid, found != NULL);
    *obj = found;
    if (!found) return kNoInterface;
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return kResultOk;
}

static uint32_t plugin_release(struct plugin *p) {
    uint32_t left = __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
    if (left == 0) {
        TRACE("plugin freed");
        free(p);
    }
    return left;
}

#define FUNKNOWN_IMPL(iface) \
    static tresult iface##_query(void *self, const tuid iid, void **obj) { \
        return plugin_query(FROM(iface, self), #iface, iid, obj); } \
    static uint32_t iface##_add_ref(void *self) { \
        return __atomic_add_fetch(&FROM(iface, self)->refs, 1, __ATOMIC_RELAXED); } \
    static uint32_t iface##_release(void *self) { return plugin_release(FROM(iface, self)); }
FUNKNOWN_IMPL(component)
FUNKNOWN_IMPL(processor)
FUNKNOWN_IMPL(controller)

static tresult plugin_initialize(void *self, void *context) {
    (void)context;  /* nothing of the host is kept, so nothing to reference */
    FROM(component, self)->initialised++;
    return kResultOk;
}
static tresult controller_initialize(void *self, void *context) {
    return plugin_initialize(&FROM(controller, self)->component, context);
}
static tresult plugin_terminate(struct plugin *p) {
    if (p->initialised == 0) return kResultFalse;
    p->initialised--;
    return kResultOk;
}
static tresult component_terminate(void *self) { return plugin_terminate(FROM(component, self)); }
static tresult controller_terminate(void *self) { return plugin_terminate(FROM(controller, self)); }

/* ---- state: "LBG1" + two little-endian doubles ---- */
static tresult write_state(const double *value, struct bstream *s) {
    if (!s) return kInvalidArgument;
    uint8_t buf[STATE_SIZE];
    memcpy(buf, "LBG1", 4);
    memcpy(buf + 4, value, 2 * sizeof(double));
    int32_t done = 0;
    if (s->vtbl->write(s, buf, STATE_SIZE, &done) != kResultOk || done != STATE_SIZE) return kResultFalse;
    return kResultOk;
}
static tresult read_state(double *value, struct bstream *s) {
    if (!s) return kInvalidArgument;
    uint8_t buf[STATE_SIZE];
    int32_t have = 0;
    while (have < STATE_SIZE) {
        int32_t got = 0;
        if (s->vtbl->read(s, buf + have, STATE_SIZE - have, &got) != kResultOk || got <= 0) break;
        have += got;
    }
    if (have != STATE_SIZE || memcmp(buf, "LBG1", 4)) return kResultFalse;
    double v[NUM_PARAMS];
    memcpy(v, buf + 4, sizeof v);
    for (int i = 0; i < NUM_PARAMS; i++) value[i] = clamp01(v[i]);
    return kResultOk;
}

/* ---- IComponent ---- */
static tresult component_get_controller_class_id(void *self, tuid cid) {
    (void)self; (void)cid;
    return kNotImplemented;  /* the component is its own controller */
}
static tresult component_set_io_mode(void *self, int32_t mode) { (void)self; (void)mode; return kNotImplemented; }
static int32_t component_get_bus_count(void *self, int32_t type, int32_t dir) {
    (void)self; (void)dir;
    return type == kAudio ? 1 : 0;
}
static tresult component_get_bus_info(void *self, int32_t type, int32_t dir, int32_t index, struct bus_info *info) {
    if (type != kAudio || index != 0 || (dir != kInput && dir != kOutput) || !info) return kInvalidArgument;
    memset(info, 0, sizeof *info);
    info->media_type = kAudio;
    info->direction = dir;
    info->channel_count = channels_of(FROM(component, self)->arrangement);
    to_str128(info->name, dir == kInput ? "Input" : "Output");
    info->bus_type = kMain;
    info->flags = kDefaultActive;
    return kResultOk;
}
static tresult component_get_routing_info(void *self, void *in_info, void *out_info) {
    (void)self; (void)in_info; (void)out_info;
    return kNotImplemented;
}
static tresult component_activate_bus(void *self, int32_t type, int32_t dir, int32_t index, uint8_t state) {
    (void)self; (void)state;
    return type == kAudio && index == 0 && (dir == kInput || dir == kOutput) ? kResultOk : kInvalidArgument;
}
static tresult component_set_active(void *self, uint8_t state) {
    struct plugin *p = FROM(component, self);
    TRACE("setActive(%d)", state);
    if (state) {  /* a fresh start: the delay line holds zeros again */
        memset(p->delay, 0, sizeof p->delay);
        p->pos = 0;
    }
    p->active = state != 0;
    return kResultOk;
}
static tresult component_set_state(void *self, struct bstream *s) {
    return read_state(FROM(component, self)->proc_value, s);
}
static tresult component_get_state(void *self, struct bstream *s) {
    return write_state(FROM(component, self)->proc_value, s);
}

/* ---- IAudioProcessor ---- */
static tresult processor_set_bus_arrangements(void *self, uint64_t *ins, int32_t num_ins, uint64_t *outs,
                                              int32_t num_outs) {
    struct plugin *p = FROM(processor, self);
    bool ok = num_ins == 1 && num_outs == 1 && ins && outs && ins[0] == outs[0]
              && (ins[0] == kMono || ins[0] == kStereo) && !p->active;
    TRACE("setBusArrangements(%d: %#llx, %d: %#llx) -> %s", num_ins, ins && num_ins ? (unsigned long long)ins[0] : 0,
          num_outs, outs && num_outs ? (unsigned long long)outs[0] : 0, ok ? "true" : "false");
    if (!ok) return kResultFalse;
    p->arrangement = ins[0];
    return kResultTrue;
}
static tresult processor_get_bus_arrangement(void *self, int32_t dir, int32_t index, uint64_t *arr) {
    if (index != 0 || (dir != kInput && dir != kOutput) || !arr) return kInvalidArgument;
    *arr = FROM(processor, self)->arrangement;
    return kResultOk;
}
static tresult processor_can_process_sample_size(void *self, int32_t size) {
    (void)self;
    return size == kSample32 ? kResultTrue : kResultFalse;
}
static uint32_t processor_get_latency_samples(void *self) { (void)self; return LATENCY; }
static uint32_t processor_get_tail_samples(void *self) { (void)self; return LATENCY; }
static tresult processor_setup_processing(void *self, struct process_setup *setup) {
    (void)self;
    if (!setup) return kInvalidArgument;
    TRACE("setupProcessing(mode %d, size %d, block %d, rate %g)", setup->process_mode, setup->sample_size,
          setup->max_block, setup->sample_rate);
    return setup->sample_size == kSample32 ? kResultOk : kResultFalse;
}
static tresult processor_set_processing(void *self, uint8_t state) { (void)self; (void)state; return kResultOk; }

/* One parameter queue being read through a block: its id, points and the next point to apply. */
struct cursor { struct value_queue *q; uint32_t id; int32_t count, next, offset; double value; };

static void cursor_load(struct cursor *c) {
    c->offset = INT32_MAX;
    while (c->next < c->count) {
        if (c->q->vtbl->get_point(c->q, c->next, &c->offset, &c->value) == kResultOk) return;
        c->next++;  /* skip a point the host cannot give */
    }
    c->offset = INT32_MAX;
}

/* Apply every point at or before sample `at` (INT32_MAX: all that are left). */
static void cursors_apply(struct cursor *cur, int n, int32_t at, double *value) {
    for (int i = 0; i < n; i++)
        while (cur[i].next < cur[i].count && cur[i].offset <= at) {
            value[cur[i].id] = clamp01(cur[i].value);
            cur[i].next++;
            cursor_load(&cur[i]);
        }
}

static void run_segment(struct plugin *p, struct process_data *d, int32_t start, int32_t end) {
    const float g = linear_gain(p->proc_value);
    const int n = end - start;
    struct bus_buffers *in = d->num_inputs > 0 ? d->inputs : NULL, *out = d->num_outputs > 0 ? d->outputs : NULL;
    for (int c = 0; c < channels_of(p->arrangement); c++) {  /* a missing input is silence, a missing output dropped */
        const float *x = in && in->channels && c < in->num_channels ? in->channels[c] : NULL;
        float *y = out && out->channels && c < out->num_channels ? out->channels[c] : NULL, *line = p->delay[c];
        int at = p->pos;
        for (int i = start; i < end; i++) {
            float v = x ? x[i] * g : 0.0f;  /* read before writing: the host may process in place */
            if (y) y[i] = line[at];
            line[at] = v;
            at = at + 1 == LATENCY ? 0 : at + 1;
        }
    }
    p->pos = (p->pos + n) % LATENCY;
}

static tresult processor_process(void *self, struct process_data *d) {
    struct plugin *p = FROM(processor, self);
    if (!d) return kInvalidArgument;
    if (d->sample_size != kSample32 && d->num_samples > 0) return kInvalidArgument;
    struct cursor cur[8];
    int n = 0;
    struct param_changes *changes = d->input_changes;
    int32_t queues = changes ? changes->vtbl->get_parameter_count(changes) : 0;
    for (int32_t i = 0; i < queues && n < 8; i++) {
        struct value_queue *q = changes->vtbl->get_parameter_data(changes, i);
        if (!q) continue;
        uint32_t id = q->vtbl->get_parameter_id(q);
        if (id >= NUM_PARAMS) continue;
        cur[n] = (struct cursor){ q, id, q->vtbl->get_point_count(q), 0, INT32_MAX, 0.0 };
        cursor_load(&cur[n]);
        n++;
    }
    int32_t at = 0;
    while (at < d->num_samples) {
        cursors_apply(cur, n, at, p->proc_value);
        int32_t end = d->num_samples;
        for (int i = 0; i < n; i++)
            if (cur[i].next < cur[i].count && cur[i].offset < end) end = cur[i].offset;
        run_segment(p, d, at, end);
        at = end;
    }
    cursors_apply(cur, n, INT32_MAX, p->proc_value);  /* a flush (0 samples) or points past the block */
    if (d->num_outputs > 0 && d->outputs) d->outputs[0].silence_flags = 0;
    return kResultOk;
}

/* ---- IEditController ---- */
static tresult controller_set_component_state(void *self, struct bstream *s) {
    return read_state(FROM(controller, self)->ctrl_value, s);
}
static tresult controller_set_state(void *self, struct bstream *s) { (void)self; (void)s; return kResultOk; }
static tresult controller_get_state(void *self, struct bstream *s) { (void)self; (void)s; return kResultOk; }
static int32_t controller_get_parameter_count(void *self) { (void)self; return NUM_PARAMS; }
static tresult controller_get_parameter_info(void *self, int32_t index, struct param_info *info) {
    (void)self;
    if (index < 0 || index >= NUM_PARAMS || !info) return kInvalidArgument;
    memset(info, 0, sizeof *info);
    info->id = (uint32_t)index;
    to_str128(info->title, index == 0 ? "Gain" : "Invert");
    to_str128(info->short_title, index == 0 ? "Gain" : "Invert");
    to_str128(info->units, index == 0 ? "dB" : "");
    info->step_count = index == 0 ? 0 : 1;
    info->default_normalised = DEFAULT_VALUE[index];
    info->flags = kCanAutomate;
    return kResultOk;
}
static tresult controller_get_param_string_by_value(void *self, uint32_t id, double value, str128 out) {
    (void)self;
    if (id >= NUM_PARAMS || !out) return kInvalidArgument;
    char text[32];
    double shown = round(gain_db(value) * 10.0) / 10.0;  /* 0.1 dB steps, and never "-0.0" */
    if (id == 0) snprintf(text, sizeof text, "%.1f", shown == 0.0 ? 0.0 : shown);
    else snprintf(text, sizeof text, "%s", clamp01(value) >= 0.5 ? "On" : "Off");
    to_str128(out, text);
    return kResultOk;
}
static tresult controller_get_param_value_by_string(void *self, uint32_t id, char16 *text, double *value) {
    (void)self;
    if (id >= NUM_PARAMS || !text || !value) return kInvalidArgument;
    char ascii[64];
    size_t n = 0;
    for (; text[n] && n < sizeof ascii - 1; n++) ascii[n] = text[n] < 128 ? (char)text[n] : '?';
    ascii[n] = 0;
    char *end;
    double x = strtod(ascii, &end);
    if (id == 0) {
        while (*end == ' ') end++;
        if (end == ascii || x != x || (*end && strcmp(end, "dB"))) return kResultFalse;
        *value = clamp01((x + 24.0) / 36.0);
        return kResultOk;
    }
    if (!strcmp(ascii, "On") || !strcmp(ascii, "on") || (end != ascii && !*end && x >= 0.5)) *value = 1.0;
    else if (!strcmp(ascii, "Off") || !strcmp(ascii, "off") || (end != ascii && !*end)) *value = 0.0;
    else return kResultFalse;
    return kResultOk;
}
static double controller_normalized_param_to_plain(void *self, uint32_t id, double value) {
    (void)self;
    return id == 0 ? gain_db(value) : clamp01(value) >= 0.5 ? 1.0 : 0.0;
}
static double controller_plain_param_to_normalized(void *self, uint32_t id, double plain) {
    (void)self;
    return id == 0 ? clamp01((plain + 24.0) / 36.0) : plain >= 0.5 ? 1.0 : 0.0;
}
static double controller_get_param_normalized(void *self, uint32_t id) {
    return id < NUM_PARAMS ? FROM(controller, self)->ctrl_value[id] : 0.0;
}
static tresult controller_set_param_normalized(void *self, uint32_t id, double value) {
    if (id >= NUM_PARAMS) return kInvalidArgument;
    FROM(controller, self)->ctrl_value[id] = clamp01(value);
    return kResultOk;
}
static tresult controller_set_component_handler(void *self, void *handler) {
    (void)self; (void)handler;  /* never called back, so not kept (and not referenced) */
    return kResultOk;
}
static void *controller_create_view(void *self, const char *name) { (void)self; (void)name; return NULL; }

static const struct component_vtbl COMPONENT = {
    component_query, component_add_ref, component_release, plugin_initialize, component_terminate,
    component_get_controller_class_id, component_set_io_mode, component_get_bus_count, component_get_bus_info,
    component_get_routing_info, component_activate_bus, component_set_active, component_set_state,
    component_get_state,
};
static const struct processor_vtbl PROCESSOR = {
    processor_query, processor_add_ref, processor_release, processor_set_bus_arrangements,
    processor_get_bus_arrangement, processor_can_process_sample_size, processor_get_latency_samples,
    processor_setup_processing, processor_set_processing, processor_process, processor_get_tail_samples,
};
static const struct controller_vtbl CONTROLLER = {
    controller_query, controller_add_ref, controller_release, controller_initialize, controller_terminate,
    controller_set_component_state, controller_set_state, controller_get_state, controller_get_parameter_count,
    controller_get_parameter_info, controller_get_param_string_by_value, controller_get_param_value_by_string,
    controller_normalized_param_to_plain, controller_plain_param_to_normalized, controller_get_param_normalized,
    controller_set_param_normalized, controller_set_component_handler, controller_create_view,
};

/* ---- the factory: one static object (its reference count is kept but it is never freed) ---- */
struct factory { const struct factory_vtbl *vtbl; uint32_t refs; };
static struct factory the_factory;  /* defined below, once its vtable exists */

static tresult factory_query(void *self, const tuid iid, void **obj) {
    if (!obj) return kInvalidArgument;
    bool ok = !memcmp(iid, IID_FUnknown, 16) || !memcmp(iid, IID_IPluginFactory, 16)
              || !memcmp(iid, IID_IPluginFactory2, 16);
    trace_iid("factory", iid, ok);
    *obj = ok ? self : NULL;
    if (!ok) return kNoInterface;
    __atomic_add_fetch(&the_factory.refs, 1, __ATOMIC_RELAXED);
    return kResultOk;
}
static uint32_t factory_add_ref(void *self) {
    (void)self;
    return __atomic_add_fetch(&the_factory.refs, 1, __ATOMIC_RELAXED);
}
static uint32_t factory_release(void *self) {
    (void)self;
    return __atomic_sub_fetch(&the_factory.refs, 1, __ATOMIC_RELAXED);
}
static tresult factory_get_factory_info(void *self, struct factory_info *info) {
    (void)self;
    if (!info) return kInvalidArgument;
    memset(info, 0, sizeof *info);
    snprintf(info->vendor, sizeof info->vendor, "latentbridge");
    snprintf(info->url, sizeof info->url, "https://example.invalid/latentbridge");
    info->flags = 1 << 4;  /* kUnicode: String128 fields are UTF-16 */
    return kResultOk;
}
static int32_t factory_count_classes(void *self) { (void)self; return 1; }
static tresult factory_get_class_info(void *self, int32_t index, struct class_info *info) {
    (void)self;
    if (index != 0 || !info) return kInvalidArgument;
    memset(info, 0, sizeof *info);
    memcpy(info->cid, CID_TestGain, 16);
    info->cardinality = 0x7FFFFFFF;  /* kManyInstances */
    snprintf(info->category, sizeof info->category, "Audio Module Class");
    snprintf(info->name, sizeof info->name, "Latentbridge Test Gain");
    return kResultOk;
}
static tresult factory_get_class_info2(void *self, int32_t index, struct class_info2 *info) {
    struct class_info base;
    if (!info || factory_get_class_info(self, index, &base) != kResultOk) return kInvalidArgument;
    memset(info, 0, sizeof *info);
    memcpy(info, &base, sizeof base);
    snprintf(info->sub_categories, sizeof info->sub_categories, "Fx");
    snprintf(info->vendor, sizeof info->vendor, "latentbridge");
    snprintf(info->version, sizeof info->version, "1.0.0");
    snprintf(info->sdk_version, sizeof info->sdk_version, "VST 3.7.0");
    return kResultOk;
}
static tresult factory_create_instance(void *self, const tuid cid, const tuid iid, void **obj) {
    (void)self;
    if (!obj) return kInvalidArgument;
    *obj = NULL;
    if (!cid || !iid || memcmp(cid, CID_TestGain, 16)) return kNoInterface;
    struct plugin *p = calloc(1, sizeof *p);
    if (!p) return kOutOfMemory;
    p->component = &COMPONENT;
    p->processor = &PROCESSOR;
    p->controller = &CONTROLLER;
    p->refs = 1;
    p->arrangement = kStereo;
    memcpy(p->proc_value, DEFAULT_VALUE, sizeof DEFAULT_VALUE);
    memcpy(p->ctrl_value, DEFAULT_VALUE, sizeof DEFAULT_VALUE);
    TRACE("plugin created");
    tresult r = plugin_query(p, "factory.createInstance", iid, obj);
    plugin_release(p);  /* the creation reference: the host now holds the only one (or none, freeing it) */
    return r;
}
static const struct factory_vtbl FACTORY = {
    factory_query, factory_add_ref, factory_release, factory_get_factory_info, factory_count_classes,
    factory_get_class_info, factory_create_instance, factory_get_class_info2,
};
static struct factory the_factory = { &FACTORY, 0 };

/* ---- the module's exports (Linux) ---- */
__attribute__((visibility("default"))) bool ModuleEntry(void *library) {
    (void)library;
    const char *env = getenv("LB_VST3_TRACE");
    trace_on = env && *env && strcmp(env, "0");
    TRACE("ModuleEntry");
    return true;
}
__attribute__((visibility("default"))) bool ModuleExit(void) {
    TRACE("ModuleExit (factory references left: %u)", the_factory.refs);
    return true;
}
__attribute__((visibility("default"))) void *GetPluginFactory(void) {
    __atomic_add_fetch(&the_factory.refs, 1, __ATOMIC_RELAXED);  /* the caller owns one reference */
    return &the_factory;
}
