/* sched/placement.c: GPU-set placement shared by the policies (see placement.h). */
#include "sched/placement.h"

#include <assert.h>

static bool is_pow2(int k) { return k > 0 && (k & (k - 1)) == 0; }

int placement_free_block_score(const tetri_cluster *c, tetri_gpuset free)
{
    int n = c->n_gpus;
    int size = 1;
    while (size * 2 <= n) size *= 2;
    for (; size >= 1; size /= 2) {
        int count = 0;
        for (int first = 0; first + size <= n; first += size) {
            tetri_gpuset b = tetri_gpuset_block(first, size);
            if ((free & b) == b) count++;
        }
        if (count) return size * 1024 + count;
    }
    return 0;
}

/* The aligned block of `size` (a power of two) that holds GPU g. */
static tetri_gpuset block_of(int g, int size) { return tetri_gpuset_block(g - g % size, size); }

/* Grows `seed` to `degree` GPUs taken from `pool`, one at a time: a GPU in the fast domain of the
 * set so far, then (unless first_fit, the ablation) one whose aligned block (of the size the set
 * will have) is the most used, so that large free blocks stay whole (best fit), then the lowest
 * number. 0 when pool is too small. */
static tetri_gpuset grow(const tetri_cluster *c, tetri_gpuset seed, tetri_gpuset pool, tetri_gpuset free, int degree,
                         bool first_fit)
{
    int fit = 1;
    while (fit < degree) fit *= 2;
    tetri_gpuset set = seed;
    pool &= ~seed;
    while (tetri_gpuset_count(set) < degree) {
        if (!pool) return 0;
        int anchor = set ? c->fast_domain[__builtin_ctzll(set)] : -1;
        int best = -1, best_same = -1, best_free = 0;
        for (tetri_gpuset s = pool; s; s &= s - 1) {
            int g = __builtin_ctzll(s);
            int same = anchor < 0 || c->fast_domain[g] == anchor;
            int nfree = first_fit ? 0 : tetri_gpuset_count(free & block_of(g, fit));
            if (best < 0 || same > best_same || (same == best_same && nfree < best_free)) {
                best = g;
                best_same = same;
                best_free = nfree;
            }
        }
        set |= 1ULL << best;
        pool &= ~(1ULL << best);
    }
    return set;
}

typedef struct score {
    int fast, preserve, avoided, aligned, frag;
} score;

/* Lexicographic comparison of two candidates; ties go to the lower set (lowest GPU numbers). */
static bool better(score a, tetri_gpuset sa, score b, tetri_gpuset sb)
{
    if (a.fast != b.fast) return a.fast > b.fast;
    if (a.preserve != b.preserve) return a.preserve > b.preserve;
    if (a.avoided != b.avoided) return a.avoided < b.avoided;
    if (a.aligned != b.aligned) return a.aligned > b.aligned;
    if (a.frag != b.frag) return a.frag > b.frag;
    return sa < sb;
}

/* The free aligned blocks of `degree` GPUs (none unless degree is a power of two) into cand;
 * returns how many. */
static int aligned_candidates(const tetri_cluster *c, tetri_gpuset free, int degree, tetri_gpuset *cand)
{
    int n = 0;
    if (is_pow2(degree))
        for (int first = 0; first + degree <= c->n_gpus; first += degree) {
            tetri_gpuset b = tetri_gpuset_block(first, degree);
            if ((free & b) == b) cand[n++] = b;
        }
    return n;
}

/* Ragged sets, appended at cand[n]: when fragmentation leaves no aligned block, or to keep the
 * previous set; then one seed per fast domain, so a fast set is found whenever one exists.
 * Returns the new count (some entries may be 0: no set grew). */
static int ragged_candidates(const tetri_cluster *c, tetri_gpuset free, int degree, tetri_gpuset prev, bool first_fit,
                             tetri_gpuset *cand, int n)
{
    if (prev) {
        int p = tetri_gpuset_count(prev);
        if (p <= degree && (prev & free) == prev) cand[n++] = grow(c, prev, free, free, degree, first_fit);
        if (p > degree) cand[n++] = grow(c, 0, prev & free, free, degree, first_fit);
    }
    tetri_gpuset domains_done = 0;
    for (tetri_gpuset s = free; s; s &= s - 1) {
        int g = __builtin_ctzll(s);
        if (domains_done & (1ULL << g)) continue;
        tetri_gpuset dom = 0;
        for (int h = 0; h < c->n_gpus; h++)
            if (c->fast_domain[h] == c->fast_domain[g]) dom |= 1ULL << h;
        domains_done |= dom;
        if (tetri_gpuset_count(dom & free) >= degree) cand[n++] = grow(c, 0, dom & free, free, degree, first_fit);
        if (n >= TETRI_MAX_GPUS + 6) break;
    }
    cand[n++] = grow(c, 0, free, free, degree, first_fit);
    return n;
}

tetri_gpuset placement_pick(const tetri_cluster *c, tetri_gpuset free, int degree, tetri_gpuset prev,
                            tetri_gpuset avoid, unsigned flags)
{
    assert(degree >= 1);
    free &= tetri_cluster_all(c);
    if (tetri_gpuset_count(free) < degree) return 0;
    const bool first_fit = flags & PLACEMENT_FIRST_FIT;
    if (first_fit) prev = avoid = 0;

    tetri_gpuset cand[TETRI_MAX_GPUS + 8];
    int n = aligned_candidates(c, free, degree, cand);
    /* Under sets=aligned a ragged set of k > 1 GPUs is no candidate at all: the plan check would
     * refuse it, so the policy must choose another degree or wait. */
    if (c->sets == TETRI_SETS_ANY || degree == 1) n = ragged_candidates(c, free, degree, prev, first_fit, cand, n);

    tetri_gpuset best_set = 0;
    score best = {0};
    for (int i = 0; i < n; i++) {
        tetri_gpuset s = cand[i];
        if (!s) continue;
        assert(tetri_gpuset_count(s) == degree && (s & ~free) == 0 && tetri_cluster_set_ok(c, s));
        score sc = {0};
        sc.fast = tetri_cluster_link(c, s) == TETRI_LINK_FAST;
        if ((flags & PLACEMENT_FAST_ONLY) && !sc.fast) continue;
        if (!first_fit) {
            sc.preserve = !prev ? 0 : s == prev ? 2 : ((s & prev) == s || (s & prev) == prev) ? 1 : 0;
            sc.avoided = tetri_gpuset_count(s & avoid & ~prev);
            sc.frag = placement_free_block_score(c, free & ~s);
        }
        sc.aligned = is_pow2(degree) && s == block_of(__builtin_ctzll(s), degree);
        if (!best_set || better(sc, s, best, best_set)) {
            best = sc;
            best_set = s;
        }
    }
    return best_set;
}

bool placement_fits(const tetri_cluster *c, tetri_gpuset free, int degree)
{
    free &= tetri_cluster_all(c);
    if (tetri_gpuset_count(free) < degree) return false;
    if (c->sets == TETRI_SETS_ANY || degree == 1) return true;
    tetri_gpuset cand[TETRI_MAX_GPUS];
    return aligned_candidates(c, free, degree, cand) > 0;
}
