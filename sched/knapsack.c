/* sched/knapsack.c: the group knapsack (see knapsack.h). */
#include "sched/knapsack.h"

#include <assert.h>
#include <stdlib.h>

void knapsack_init(knapsack *k)
{
    k->best = k->next = NULL;
    k->choice = NULL;
    k->cap_groups = k->cap_capacity = 0;
}

void knapsack_free(knapsack *k)
{
    free(k->best);
    free(k->next);
    free(k->choice);
    knapsack_init(k);
}

int knapsack_reserve(knapsack *k, int32_t groups, int32_t capacity)
{
    assert(groups >= 0 && capacity >= 0);
    if (groups <= k->cap_groups && capacity <= k->cap_capacity) return 0;
    /* Grow geometrically so a slowly rising pending count costs a few reallocations per run. */
    int32_t g = k->cap_groups, c = k->cap_capacity;
    while (g < groups) g = g ? 2 * g : 16;
    if (c < capacity) c = capacity;
    int64_t *best = realloc(k->best, (size_t)(c + 1) * sizeof *best);
    if (!best) return -1;
    k->best = best;
    int64_t *next = realloc(k->next, (size_t)(c + 1) * sizeof *next);
    if (!next) return -1;
    k->next = next;
    uint8_t *choice = realloc(k->choice, (size_t)g * (size_t)(c + 1));
    if (!choice) return -1;
    k->choice = choice;
    k->cap_groups = g;
    k->cap_capacity = c;
    return 0;
}

int64_t knapsack_solve(knapsack *k, int32_t n_groups, const int32_t *first, const int32_t *n_options,
                       const knap_option *options, int32_t capacity, int32_t *pick)
{
    assert(n_groups <= k->cap_groups && capacity <= k->cap_capacity);
    const int32_t width = capacity + 1;
    int64_t *best = k->best, *next = k->next;
    for (int32_t c = 0; c <= capacity; c++) best[c] = 0;
    for (int32_t i = 0; i < n_groups; i++) {
        const knap_option *opt = options + first[i];
        const int32_t m = n_options[i];
        assert(m >= 1 && m <= KNAPSACK_MAX_OPTIONS && opt[0].weight == 0);
        uint8_t *ch = k->choice + (size_t)i * (size_t)width;
        for (int32_t c = 0; c <= capacity; c++) {
            int64_t v = best[c] + opt[0].value;
            uint8_t o = 0;
            for (int32_t j = 1; j < m; j++) {
                int32_t w = opt[j].weight;
                if (w > c) continue;
                int64_t cand = best[c - w] + opt[j].value;
                if (cand > v) {
                    v = cand;
                    o = (uint8_t)j;
                }
            }
            next[c] = v;
            ch[c] = o;
        }
        int64_t *swap = best;
        best = next;
        next = swap;
    }
    /* best[c] is monotone in c (weight <= c), so the answer is at full capacity. Walk back. */
    int64_t total = best[capacity];
    int32_t c = capacity;
    for (int32_t i = n_groups - 1; i >= 0; i--) {
        int32_t o = k->choice[(size_t)i * (size_t)width + c];
        pick[i] = o;
        c -= options[first[i] + o].weight;
        assert(c >= 0);
    }
    return total;
}

static int64_t brute(int32_t i, int32_t n_groups, const int32_t *first, const int32_t *n_options,
                     const knap_option *options, int32_t left)
{
    if (i == n_groups) return 0;
    int64_t best = INT64_MIN;
    for (int32_t j = 0; j < n_options[i]; j++) {
        const knap_option *o = &options[first[i] + j];
        if (o->weight > left) continue;
        int64_t v = o->value + brute(i + 1, n_groups, first, n_options, options, left - o->weight);
        if (v > best) best = v;
    }
    return best;
}

int64_t knapsack_brute_force(int32_t n_groups, const int32_t *first, const int32_t *n_options,
                             const knap_option *options, int32_t capacity)
{
    return brute(0, n_groups, first, n_options, options, capacity);
}
