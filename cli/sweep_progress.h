/* cli/sweep_progress.h: the progress bar of a sweep on a terminal: done / total, runs per second,
 * time left, redrawn in place at most ten times a second.
 * defines: sweep_progress, sweep_progress_start, sweep_progress_update, sweep_progress_end,
 *          sweep_progress_now. */
#ifndef TETRI_CLI_SWEEP_PROGRESS_H
#define TETRI_CLI_SWEEP_PROGRESS_H

#include <stdio.h>

typedef struct sweep_progress {
    FILE *out;
    long total, done;
    double elapsed_s, drawn_at; /* drawn_at: elapsed time of the last redraw (< 0: never) */
} sweep_progress;

void sweep_progress_start(sweep_progress *p, FILE *out, long total);
/* done runs finished after elapsed_s seconds. */
void sweep_progress_update(sweep_progress *p, long done, double elapsed_s);
/* Draws the final state and ends the line. */
void sweep_progress_end(sweep_progress *p);
/* Seconds on the monotonic clock. */
double sweep_progress_now(void);

#endif
