/* sim/sim.c: the virtual-clock backend of the host (contract in sim/sim.h).
 *
 * Only block ends live in the heap (at most one block per GPU, so the heap stays in cache);
 * arrivals and the policy's wake-up are the host's, which passes the earlier of them as `until`.
 * wait_next pops the earliest block end at or before `until` (ties by insertion order), or else
 * moves the clock to `until`. */
#include "sim/sim.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct sim_event sim_event;

static bool event_before(const sim_event *a, const sim_event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(sim_backend *s, tetri_ns t, int32_t slot)
{
    assert(s->n_heap < TETRI_MAX_GPUS); /* one outstanding block per GPU at most */
    sim_event e = {.t = t, .seq = s->seq++, .slot = slot};
    int32_t i = s->n_heap++;
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!event_before(&e, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = e;
}

static sim_event heap_pop(sim_backend *s)
{
    assert(s->n_heap > 0);
    sim_event top = s->heap[0], last = s->heap[--s->n_heap];
    int32_t i = 0;
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= s->n_heap) break;
        if (c + 1 < s->n_heap && event_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!event_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap > 0) s->heap[i] = last;
    return top;
}

static tetri_ns sim_now(void *self) { return ((sim_backend *)self)->clock; }

static int sim_start_block(void *self, const host_block *b, tetri_error *err)
{
    (void)err;
    sim_backend *s = self;
    assert(b->slot >= 0 && b->slot < TETRI_MAX_GPUS && b->emulate_ns > 0);
    s->start[b->slot] = s->clock;
    heap_push(s, s->clock + b->emulate_ns, b->slot);
    return 0;
}

static int sim_wait_next(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    sim_backend *s = self;
    if (s->n_heap && s->heap[0].t <= until) {
        sim_event e = heap_pop(s);
        assert(e.t >= s->clock); /* time never runs backwards */
        s->clock = e.t;
        *ev = (host_event){.kind = HOST_EVENT_DONE, .slot = e.slot, .start = s->start[e.slot], .end = e.t};
        return 0;
    }
    if (until == TETRI_NS_NEVER) return tetri_errorf(err, "nothing running and nothing to wait for");
    if (until > s->clock) s->clock = until;
    *ev = (host_event){.kind = HOST_EVENT_TIMEOUT, .slot = -1, .end = s->clock};
    return 0;
}

static const host_backend_ops sim_ops = {
    .name = "sim", .now = sim_now, .start_block = sim_start_block, .wait_next = sim_wait_next};

void sim_backend_init(host_backend *be, sim_backend *state)
{
    memset(state, 0, sizeof *state);
    *be = (host_backend){.ops = &sim_ops, .self = state, .settle_ns = 0};
}

host_arrival *sim_arrivals_of(const tetri_trace *trace)
{
    host_arrival *a = malloc((trace->n ? trace->n : 1) * sizeof *a);
    if (!a) return NULL;
    for (size_t i = 0; i < trace->n; i++) {
        const tetri_trace_entry *e = &trace->entries[i];
        a[i] = (host_arrival){.model = e->model, .width = e->width, .height = e->height, .steps = e->steps,
                              .arrival = e->arrival, .deadline = e->deadline};
    }
    return a;
}

int sim_run(const sim_config *cfg, const tetri_trace *trace, sim_result *out, tetri_error *err)
{
    memset(out, 0, sizeof *out);
    host_arrival *arr = sim_arrivals_of(trace);
    if (!arr) return tetri_errorf(err, "out of memory for %zu requests", trace->n);
    sim_backend state;
    host_backend be;
    sim_backend_init(&be, &state);
    int rc = host_run(cfg, &be, arr, trace->n, out, err);
    free(arr);
    return rc;
}
