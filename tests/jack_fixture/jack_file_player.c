/* A JACK test client in C: plays a file of float32 samples into one port and records another, so the engine
 * tests have a player that never waits for Python's interpreter lock inside the JACK cycle (a Python process
 * callback that stalls is an xrun the server reports to every client, the engine included).
 *
 * Usage: jack_file_player SERVER CLIENT PLAY.f32 RECORD.f32 RECORD_FRAMES CONNECT_OUT_TO CONNECT_IN_FROM
 *   PLAY.f32    raw float32 mono at the server rate, played from "start" on (silence before and after)
 *   RECORD.f32  written at the end: RECORD_FRAMES samples of what reached the input port from "start" on
 * Protocol on stdin/stdout (one line each): prints "ready RATE" once connected; reads "start" (or "stop", or
 * end of input to stop early); prints "done XRUNS AT..." when RECORD_FRAMES were recorded or it was stopped
 * (AT: for each of the first MAX_XRUNS xruns the server reported, the frames recorded when it was reported, -1
 * before start), then writes RECORD.f32 (only the frames recorded) and exits 0. Errors: one line on stderr, exit
 * code 1.
 */

#include <jack/jack.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_XRUNS 64
#define PRIORITY 65 /* SCHED_FIFO for the process thread where allowed, as a JACK client under a realtime server */

typedef struct {
    jack_port_t *out, *in;
    float *play, *record;
    long play_frames, record_frames;
    atomic_long pos;    /* frames played and recorded since start; -1 before start */
    atomic_int stop;    /* set by the main thread to end early */
    atomic_int xruns;
    atomic_long xrun_at[MAX_XRUNS]; /* the position (pos) when each xrun was reported */
    int realtime_tried;
} Player;

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "jack_file_player: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static int on_process(jack_nframes_t frames, void *arg) {
    Player *p = arg;
    if (!p->realtime_tried) {
        p->realtime_tried = 1;
        struct sched_param param = {.sched_priority = PRIORITY};
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
    }
    float *out = jack_port_get_buffer(p->out, frames);
    const float *in = jack_port_get_buffer(p->in, frames);
    long pos = atomic_load(&p->pos);
    memset(out, 0, frames * sizeof(float));
    if (pos < 0 || pos >= p->record_frames || atomic_load(&p->stop))
        return 0;
    for (long i = 0; i < (long)frames && pos + i < p->play_frames; i++)
        out[i] = p->play[pos + i];
    long keep = p->record_frames - pos < (long)frames ? p->record_frames - pos : (long)frames;
    memcpy(p->record + pos, in, keep * sizeof(float));
    atomic_store(&p->pos, pos + keep);
    return 0;
}

static int on_xrun(void *arg) {
    Player *p = arg;
    int n = atomic_fetch_add(&p->xruns, 1);
    if (n < MAX_XRUNS)
        atomic_store(&p->xrun_at[n], atomic_load(&p->pos));
    return 0;
}

static float *read_samples(const char *path, long *frames) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *data = calloc(bytes / sizeof(float) + 1, sizeof(float));
    *frames = data ? (long)fread(data, sizeof(float), bytes / sizeof(float), f) : 0;
    fclose(f);
    return data;
}

static void *watch_stdin(void *arg) {
    Player *p = arg;
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "start", 5) == 0)
            atomic_store(&p->pos, 0);
        else if (strncmp(line, "stop", 4) == 0)
            break;
    }
    atomic_store(&p->stop, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 8)
        return fail("usage: SERVER CLIENT PLAY.f32 RECORD.f32 RECORD_FRAMES CONNECT_OUT_TO CONNECT_IN_FROM", NULL);
    Player p = {.record_frames = atol(argv[5])};
    atomic_init(&p.pos, -1);
    atomic_init(&p.stop, 0);
    atomic_init(&p.xruns, 0);
    for (int i = 0; i < MAX_XRUNS; i++)
        atomic_init(&p.xrun_at[i], -1);
    if (!(p.play = read_samples(argv[3], &p.play_frames)))
        return fail("cannot read", argv[3]);
    if (p.record_frames <= 0 || !(p.record = calloc(p.record_frames, sizeof(float))))
        return fail("bad RECORD_FRAMES", argv[5]);
    memset(p.record, 0, p.record_frames * sizeof(float)); /* touch every page before the cycle writes there */

    jack_status_t status;
    jack_client_t *client = jack_client_open(argv[2], JackNoStartServer | JackServerName, &status, argv[1]);
    if (!client)
        return fail("cannot connect to the JACK server", argv[1]);
    p.out = jack_port_register(client, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    p.in = jack_port_register(client, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (!p.out || !p.in)
        return fail("cannot register ports", NULL);
    jack_set_process_callback(client, on_process, &p);
    jack_set_xrun_callback(client, on_xrun, &p);
    if (jack_activate(client))
        return fail("cannot activate", NULL);
    if (jack_connect(client, jack_port_name(p.out), argv[6]))
        return fail("cannot connect the output to", argv[6]);
    if (jack_connect(client, argv[7], jack_port_name(p.in)))
        return fail("cannot connect the input from", argv[7]);
    printf("ready %u\n", jack_get_sample_rate(client));
    fflush(stdout);

    pthread_t watcher;
    pthread_create(&watcher, NULL, watch_stdin, &p);
    pthread_detach(watcher);
    while (atomic_load(&p.pos) < p.record_frames && !atomic_load(&p.stop))
        usleep(5000);
    long recorded = atomic_load(&p.pos) > 0 ? atomic_load(&p.pos) : 0;
    jack_deactivate(client);
    int xruns = atomic_load(&p.xruns);
    printf("done %d", xruns);
    for (int i = 0; i < xruns && i < MAX_XRUNS; i++)
        printf(" %ld", atomic_load(&p.xrun_at[i]));
    printf("\n");
    fflush(stdout);
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(p.record, sizeof(float), recorded, f) != (size_t)recorded || fclose(f))
        return fail("cannot write", argv[4]);
    jack_client_close(client);
    free(p.play);
    free(p.record);
    return 0;
}
