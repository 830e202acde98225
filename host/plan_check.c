/* host/plan_check.c: the rules every plan keeps (see plan_check.h). */
#include "host/plan_check.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The view index of request `id`, or -1. Views hold the pending requests only, so a scan is short. */
static int32_t view_index(const tetri_view *v, int32_t id)
{
    for (int32_t i = 0; i < v->n_requests; i++)
        if (v->requests[i]->id == id) return i;
    return -1;
}

/* Request `id` of the plan, unused so far and waiting; marks it seen. NULL with err otherwise. */
static const tetri_request *claim(const tetri_view *v, int32_t id, unsigned char *seen, const char *what, tetri_error *err)
{
    int32_t i = view_index(v, id);
    if (i < 0) return tetri_errorf(err, "%s request %d, which is not pending (unknown, not arrived or finished)", what, id), NULL;
    const tetri_request *r = v->requests[i];
    if (r->state != TETRI_REQ_WAITING) return tetri_errorf(err, "%s request %d, which is running", what, id), NULL;
    if (seen[i]) return tetri_errorf(err, "%s request %d, which the plan names twice", what, id), NULL;
    seen[i] = 1;
    return r;
}

/* The rules about an assignment's GPU set: real GPUs, free, used once, and a set the cluster's
 * rule allows. */
static int check_set(const tetri_view *v, int32_t a, const tetri_assignment *as, tetri_gpuset used, tetri_error *err)
{
    const tetri_gpuset all = tetri_cluster_all(v->cluster);
    if (as->gpus == 0) return tetri_errorf(err, "assignment %d has no GPU", a);
    if (as->gpus & ~all)
        return tetri_errorf(err, "assignment %d uses a GPU the cluster lacks (set %#llx; %s has %d GPUs)", a,
                            (unsigned long long)as->gpus, v->cluster->hardware, v->cluster->n_gpus);
    if (!tetri_cluster_set_ok(v->cluster, as->gpus)) {
        char name[256];
        tetri_gpuset_name(as->gpus, name, sizeof name);
        return tetri_errorf(err, "assignment %d runs degree %d on %s (set %#llx), not an aligned power-of-two block: "
                                 "the cluster's rule sets=aligned refuses it (the GPU backend has no communicator for it)",
                            a, tetri_gpuset_count(as->gpus), name, (unsigned long long)as->gpus);
    }
    if (as->gpus & used)
        return tetri_errorf(err, "assignment %d reuses a GPU of another assignment (set %#llx)", a, (unsigned long long)as->gpus);
    if (as->gpus & v->busy)
        return tetri_errorf(err, "assignment %d uses busy GPUs %#llx (busy %#llx)", a,
                            (unsigned long long)(as->gpus & v->busy), (unsigned long long)v->busy);
    return 0;
}

static int check_assignment(const tetri_view *v, int32_t a, const tetri_assignment *as, tetri_gpuset used,
                            unsigned char *seen, tetri_error *err)
{
    if (check_set(v, a, as, used, err)) return -1;
    if (as->n_req < 1 || as->n_req > TETRI_MAX_BATCH)
        return tetri_errorf(err, "assignment %d has a batch of %d requests (1 to %d)", a, as->n_req, TETRI_MAX_BATCH);
    if (as->steps < 1) return tetri_errorf(err, "assignment %d runs %d steps", a, as->steps);
    const tetri_request *first = NULL;
    for (int32_t k = 0; k < as->n_req; k++) {
        char what[48];
        snprintf(what, sizeof what, "assignment %d names", a);
        const tetri_request *r = claim(v, as->req[k], seen, what, err);
        if (!r) return -1;
        if (as->steps > tetri_request_steps_left(r))
            return tetri_errorf(err, "assignment %d runs %d steps of request %d, which has %d left", a, as->steps, r->id,
                                tetri_request_steps_left(r));
        if (!first) {
            first = r;
            continue;
        }
        /* Members may stand at different steps of different schedules: the executor keeps each
         * request's step index in its own slot (dit/dit_gpu.h). */
        if (r->model != first->model || r->width != first->width || r->height != first->height)
            return tetri_errorf(err, "assignment %d batches requests %d and %d, which differ in model or size", a, first->id, r->id);
    }
    return 0;
}

int host_plan_check(const tetri_plan *plan, const tetri_view *view, unsigned char *seen, tetri_error *err)
{
    if (plan->n_assign < 0 || plan->n_assign > TETRI_MAX_GPUS)
        return tetri_errorf(err, "plan has %d assignments (0 to %d)", plan->n_assign, TETRI_MAX_GPUS);
    if (plan->n_drop < 0 || plan->n_drop > view->n_requests)
        return tetri_errorf(err, "plan drops %d requests of the %d pending", plan->n_drop, view->n_requests);
    memset(seen, 0, (size_t)view->n_requests);
    tetri_gpuset used = 0;
    for (int32_t a = 0; a < plan->n_assign; a++) {
        if (check_assignment(view, a, &plan->assign[a], used, seen, err)) return -1;
        used |= plan->assign[a].gpus;
    }
    for (int32_t d = 0; d < plan->n_drop; d++)
        if (!claim(view, plan->drop[d], seen, "drop names", err)) return -1;
    return 0;
}

int tetri_plan_validate(const tetri_plan *plan, const tetri_view *view, tetri_error *err)
{
    unsigned char *seen = malloc((size_t)view->n_requests + 1);
    if (!seen) return tetri_errorf(err, "out of memory validating a plan");
    int rc = host_plan_check(plan, view, seen, err);
    free(seen);
    return rc;
}
