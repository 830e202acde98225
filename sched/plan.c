/* sched/plan.c: plan helpers and the invariants every plan keeps (see policy.h). */
#include "sched/policy.h"

#include <stdlib.h>
#include <string.h>

void tetri_plan_clear(tetri_plan *plan)
{
    plan->n_assign = 0;
    plan->n_drop = 0;
    plan->wake_at = TETRI_NS_NEVER;
}

/* The view's request with this id, or NULL. Views are small (pending requests), so a scan is fine
 * for validation, which runs only in checking mode. */
static const tetri_request *view_find(const tetri_view *v, int32_t id, int32_t *index)
{
    for (int32_t i = 0; i < v->n_requests; i++)
        if (v->requests[i]->id == id) {
            *index = i;
            return v->requests[i];
        }
    return NULL;
}

int tetri_plan_validate(const tetri_plan *plan, const tetri_view *view, tetri_error *err)
{
    if (plan->n_assign < 0 || plan->n_assign > TETRI_MAX_GPUS)
        return tetri_errorf(err, "plan has %d assignments", plan->n_assign);
    tetri_gpuset used = 0, all = tetri_cluster_all(view->cluster);
    unsigned char *seen = calloc((size_t)view->n_requests + 1, 1);
    if (!seen) return tetri_errorf(err, "out of memory validating a plan");
    int rc = 0;
    for (int32_t a = 0; a < plan->n_assign && !rc; a++) {
        const tetri_assignment *as = &plan->assign[a];
        if (as->gpus == 0) { rc = tetri_errorf(err, "assignment %d has no GPU", a); break; }
        if (as->gpus & ~all) { rc = tetri_errorf(err, "assignment %d uses a GPU the cluster lacks (set %#llx, %d GPUs)", a, (unsigned long long)as->gpus, view->cluster->n_gpus); break; }
        if (as->gpus & used) { rc = tetri_errorf(err, "assignment %d reuses a GPU of another assignment (set %#llx)", a, (unsigned long long)as->gpus); break; }
        if (as->gpus & view->busy) { rc = tetri_errorf(err, "assignment %d uses a busy GPU (set %#llx, busy %#llx)", a, (unsigned long long)as->gpus, (unsigned long long)view->busy); break; }
        used |= as->gpus;
        if (as->n_req < 1 || as->n_req > TETRI_MAX_BATCH) { rc = tetri_errorf(err, "assignment %d has %d requests", a, as->n_req); break; }
        if (as->steps < 1) { rc = tetri_errorf(err, "assignment %d runs %d steps", a, as->steps); break; }
        const tetri_request *first = NULL;
        for (int32_t k = 0; k < as->n_req; k++) {
            int32_t idx;
            const tetri_request *r = view_find(view, as->req[k], &idx);
            if (!r) { rc = tetri_errorf(err, "assignment %d names request %d, not pending", a, as->req[k]); break; }
            if (r->state != TETRI_REQ_WAITING) { rc = tetri_errorf(err, "assignment %d names request %d, which is running", a, r->id); break; }
            if (seen[idx]) { rc = tetri_errorf(err, "request %d appears twice in the plan", r->id); break; }
            seen[idx] = 1;
            if (as->steps > tetri_request_steps_left(r)) { rc = tetri_errorf(err, "assignment %d runs %d steps of request %d, which has %d left", a, as->steps, r->id, tetri_request_steps_left(r)); break; }
            if (!first) first = r;
            else if (r->model != first->model || r->width != first->width || r->height != first->height) {
                rc = tetri_errorf(err, "assignment %d batches requests %d and %d, which differ", a, first->id, r->id);
                break;
            }
        }
    }
    for (int32_t d = 0; d < plan->n_drop && !rc; d++) {
        int32_t idx;
        const tetri_request *r = view_find(view, plan->drop[d], &idx);
        if (!r) { rc = tetri_errorf(err, "drop names request %d, not pending", plan->drop[d]); break; }
        if (r->state != TETRI_REQ_WAITING) { rc = tetri_errorf(err, "drop names request %d, which is running", r->id); break; }
        if (seen[idx]) { rc = tetri_errorf(err, "request %d is both dropped and assigned (or dropped twice)", r->id); break; }
        seen[idx] = 1;
    }
    free(seen);
    return rc;
}
