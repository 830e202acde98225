/* cli/sweep_progress.c: a sweep's progress bar (contract in cli/sweep_progress.h). */
#include "cli/sweep_progress.h"

#include "core/types.h"

#define BAR_WIDTH 30

double sweep_progress_now(void)
{
    return (double)tetri_monotonic_ns() / 1e9;
}

void sweep_progress_start(sweep_progress *p, FILE *out, long total)
{
    *p = (sweep_progress){.out = out, .total = total > 0 ? total : 0, .drawn_at = -1.0};
}

static void draw(sweep_progress *p)
{
    const double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    const int filled = (int)(frac * BAR_WIDTH + 0.5);
    const double rate = p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0.0;
    const double left = rate > 0 ? (double)(p->total - p->done) / rate : 0.0;
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    /* \r and a clear to the end of the line: the bar is redrawn where it stands. */
    fprintf(p->out, "\r[%s] %ld/%ld runs  %.1f runs/s  %d:%02d left\033[K", bar, p->done, p->total, rate,
            (int)(left / 60), (int)left % 60);
    fflush(p->out);
    p->drawn_at = p->elapsed_s;
}

void sweep_progress_update(sweep_progress *p, long done, double elapsed_s)
{
    p->done = done;
    p->elapsed_s = elapsed_s;
    if (p->drawn_at < 0 || elapsed_s - p->drawn_at >= 0.1 || done == p->total) draw(p);
}

void sweep_progress_end(sweep_progress *p)
{
    draw(p);
    fputc('\n', p->out);
}
