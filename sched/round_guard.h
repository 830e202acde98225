/* sched/round_guard.h: the guard band at a round boundary, for the round-based policies
 * (tetriserve, optimal) in real time.
 * defines: round_guard_wake.
 *
 * A block sized to end by a round's end may, in real time, end a little after it. When the
 * policy's wake-up at the boundary comes while such a block still runs, starting the round then
 * plans it without those GPUs, and with fixed rounds (midround=wait) they idle a whole round. So
 * the round waits for it, at most `guard` past the boundary: the block's completion calls the
 * policy earlier, and the round starts at that call's now.
 *
 * In the simulator without jitter the wait never happens, whatever the guard: a block ends exactly
 * at its predicted end and completions at an instant are handled before the wake-up at that
 * instant, so at a call at or after the boundary no busy GPU shows a predicted end by it. With
 * --jitter a simulated block may run past its prediction (the view shows the prediction, as a live
 * host's does), and the band then acts as it does in real time. */
#ifndef TETRI_SCHED_ROUND_GUARD_H
#define TETRI_SCHED_ROUND_GUARD_H

#include "core/plan.h"
#include "core/types.h"

/* At a call at or after `round_end`: when to wake to start the round, round_end + guard, if it
 * should wait (some busy GPU's block was predicted to end by the boundary, now < round_end +
 * guard, and this is not an arrival to an idle cluster); TETRI_NS_NEVER when it starts now. */
static inline tetri_ns round_guard_wake(const tetri_view *v, tetri_ns round_end, tetri_ns guard)
{
    if (guard <= 0 || v->idle_arrival || v->now < round_end || v->now - round_end >= guard) return TETRI_NS_NEVER;
    for (tetri_gpuset b = v->busy; b; b &= b - 1)
        if (v->gpu_busy_until[__builtin_ctzll(b)] <= round_end) return round_end + guard;
    return TETRI_NS_NEVER;
}

#endif
