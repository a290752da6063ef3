
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration, the request path: the content handler picks the
 * composition of the request's method, reads the client's body when parts
 * use it, starts the parts as subrequests when their predecessors are
 * done, keeps what they answer (a body filter), enforces their timeouts
 * and answers once every part is done.
 *
 * Each subrequest is a call: a part makes one, a foreach part one per
 * element of an array (at most concurrency= at a time).  Calls are
 * background subrequests: they never become the connection's active
 * request, so the composition can answer (a required part timed out)
 * while a call is still running, and the body filter keeps every byte a
 * call produces (ngx_api_led_compose_call.c; nothing of it reaches the
 * client).  Unlike in-memory subrequests, a part may itself be a
 * composition (an Experience API composing Process APIs that compose
 * System APIs).
 *
 * A module of its own (ngx_api_led_compose_run_module), without
 * directives: at postconfiguration it checks the layer contract of the
 * parts, makes its handler the content handler of the locations with
 * api_led_compose and installs the body filter, when there are any.
 */


#include "ngx_api_led_compose.h"


static ngx_int_t ngx_api_led_compose_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_compose_run_preconf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_compose_run_init(ngx_conf_t *cf);
static ngx_api_led_compose_conf_t *ngx_api_led_compose_select(
    ngx_http_request_t *r, ngx_api_led_compose_loc_conf_t *lcf);
static ngx_int_t ngx_api_led_compose_not_allowed(ngx_http_request_t *r,
    ngx_api_led_compose_loc_conf_t *lcf);
static void ngx_api_led_compose_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_compose_request_json(ngx_api_led_compose_t *cmp,
    u_char *err, size_t errlen);
static void ngx_api_led_compose_begin(ngx_api_led_compose_t *cmp);
static void ngx_api_led_compose_wake(ngx_http_request_t *r);
static void ngx_api_led_compose_run(ngx_api_led_compose_t *cmp);
static void ngx_api_led_compose_schedule(ngx_api_led_compose_t *cmp);
static void ngx_api_led_compose_start(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_publish(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_foreach_start(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_foreach_next(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static ngx_int_t ngx_api_led_compose_call(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_call_t *call, ngx_str_t *err);
static void ngx_api_led_compose_end(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, ngx_uint_t state, ngx_uint_t status,
    char *reason);
static ngx_int_t ngx_api_led_compose_dot_segment(ngx_http_request_t *r,
    ngx_str_t *path);
static void ngx_api_led_compose_call_end(ngx_api_led_compose_call_t *call,
    ngx_uint_t state, ngx_uint_t status, char *reason);
static void ngx_api_led_compose_call_over(ngx_http_request_t *sr,
    ngx_api_led_compose_call_t *call);
static void ngx_api_led_compose_release(ngx_api_led_compose_t *cmp);
static ngx_int_t ngx_api_led_compose_call_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_api_led_compose_call_problem(ngx_http_request_t *sr,
    ngx_api_led_compose_call_t *call);
static void ngx_api_led_compose_call_finished(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_call_t *call);
static void ngx_api_led_compose_element_finished(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, ngx_api_led_compose_call_t *call);
static ngx_int_t ngx_api_led_compose_foreach_answer(
    ngx_api_led_compose_t *cmp, ngx_api_led_compose_part_t *part);
static ngx_int_t ngx_api_led_compose_part_json(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, u_char *err, size_t errlen);
static void ngx_api_led_compose_part_parse(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_timeout(ngx_event_t *ev);
static void ngx_api_led_compose_count(ngx_api_led_compose_t *cmp);
static void ngx_api_led_compose_cleanup(void *data);


/* the labels of the parts' series (the time's without the outcome) */
static char  *ngx_api_led_compose_part_labels[] = {
    "api", "part", "outcome", NULL
};

static char  *ngx_api_led_compose_time_labels[] = {
    "api", "part", NULL
};

static ngx_str_t  ngx_api_led_compose_json_type =
    ngx_string(NGX_API_LED_JSON_TYPE);
static ngx_api_led_edit_name_t  ngx_api_led_compose_allow_header =
    { ngx_string("Allow"), ngx_string("allow"), 0 };


/* what a placeholder of a call's templates reads */

typedef struct {
    ngx_api_led_compose_t            *cmp;
    json_t                           *item;
} ngx_api_led_compose_docs_t;


static json_t *
ngx_api_led_compose_doc(void *data, ngx_api_led_compose_seg_t *seg)
{
    ngx_api_led_compose_docs_t *docs = data;

    switch (seg->index) {

    case NGX_API_LED_COMPOSE_REQUEST:
        return docs->cmp->request_json;

    case NGX_API_LED_COMPOSE_ITEM:
        return docs->item;

    default:
        return docs->cmp->parts[seg->index].json;
    }
}


/* a variable's value as the composition took it when its parts started */

static ngx_http_variable_value_t *
ngx_api_led_compose_var(void *data, ngx_api_led_compose_seg_t *seg)
{
    ngx_api_led_compose_docs_t *docs = data;

    ngx_uint_t              i, *v;
    ngx_api_led_compose_t  *cmp;

    cmp = docs->cmp;

    if (cmp->values == NULL) {
        return NULL;
    }

    v = cmp->comp->vars->elts;

    for (i = 0; i < cmp->comp->vars->nelts; i++) {
        if (v[i] == seg->index) {
            return &cmp->values[i];
        }
    }

    return NULL;
}


static ngx_http_module_t  ngx_api_led_compose_run_module_ctx = {
    ngx_api_led_compose_run_preconf,       /* preconfiguration */
    ngx_api_led_compose_run_init,          /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_compose_run_module = {
    NGX_MODULE_V1,
    &ngx_api_led_compose_run_module_ctx,   /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the directives make the handler their location's content handler */

static ngx_int_t
ngx_api_led_compose_run_preconf(ngx_conf_t *cf)
{
    ngx_api_led_compose_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_compose_module);

    cmcf->handler = ngx_api_led_compose_handler;

    return NGX_OK;
}


/* the compositions' layer check, the body filter, the metrics */

static ngx_int_t
ngx_api_led_compose_run_init(ngx_conf_t *cf)
{
    ngx_api_led_compose_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_compose_module);

    if (cmcf->sites.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_api_led_compose_check_layers(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_api_led_compose_filter_init();

    if (ngx_api_led_metric_add(cf, &cmcf->parts, "api_led_compose_parts",
                               "Parts of compositions by outcome: ok, "
                               "failed, timeout, not_run.",
                               NGX_API_LED_METRIC_COUNTER,
                               ngx_api_led_compose_part_labels)
        != NGX_OK
        || ngx_api_led_metric_add(cf, &cmcf->part_duration,
                                  "api_led_compose_part_duration_seconds",
                                  "Time from a part's start to its end "
                                  "(every element of a foreach part).",
                                  NGX_API_LED_METRIC_HISTOGRAM,
                                  ngx_api_led_compose_time_labels)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the content handler of a location with api_led_compose */

static ngx_int_t
ngx_api_led_compose_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_http_request_t              *pr;
    ngx_pool_cleanup_t              *cln;
    ngx_api_led_compose_t           *cmp, *pcmp;
    ngx_api_led_compose_conf_t      *comp;
    ngx_api_led_compose_part_t      *part;
    ngx_api_led_compose_loc_conf_t  *lcf;
    ngx_api_led_compose_part_conf_t *pc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_compose_module);

    comp = ngx_api_led_compose_select(r, lcf);
    if (comp == NULL) {
        return ngx_api_led_compose_not_allowed(r, lcf);
    }

    /* a composition that (through its parts) calls itself would fan out
     * until the subrequest limits stop it */

    for (pr = r->parent; pr; pr = pr->parent) {
        pcmp = ngx_http_get_module_ctx(pr, ngx_api_led_compose_module);

        if (pcmp && pcmp->comp == comp) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led_compose: the composition calls itself "
                          "through \"%V\"",
                          ngx_api_led_log_value(r->pool, &r->uri));

            return ngx_api_led_problem_send(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "internal_error",
                                            ngx_api_led_problem_detail_public(
                                                r)
                                            ? ""
                                            : "the composition calls itself");
        }
    }

    cmp = ngx_pcalloc(r->pool, sizeof(ngx_api_led_compose_t));
    if (cmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmp->request = r;
    cmp->conf = lcf;
    cmp->comp = comp;
    cmp->nparts = comp->parts->nelts;

    cmp->parts = ngx_pcalloc(r->pool,
                             cmp->nparts * sizeof(ngx_api_led_compose_part_t));
    if (cmp->parts == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pc = comp->parts->elts;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];
        part->conf = &pc[i];
        part->compose = cmp;
        part->call.part = part;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_api_led_compose_cleanup;
    cln->data = cmp;

    /* calls share the request's headers, or get their own each */

    rc = ngx_api_led_compose_shared_headers(r);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmp->copy_headers = (rc == NGX_DECLINED);

    ngx_http_set_ctx(r, cmp, ngx_api_led_compose_module);

    if (comp->request_body) {
        /*
         * Read once, without blocking, whatever the number of parts that
         * use it; the reference the reading takes is the composition's.
         */

        rc = ngx_http_read_client_request_body(r,
                                               ngx_api_led_compose_body_read);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
                return ngx_api_led_problem_send(r, rc, "body_too_large",
                           "the request body is larger than "
                           "client_max_body_size");
            }

            return rc;
        }

        return NGX_DONE;
    }

    if (r == r->main) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* the request is finalized when the composition answers */
    r->main->count++;

    ngx_api_led_compose_begin(cmp);

    return NGX_DONE;
}


/* the composition of the request's method; NULL: none */

static ngx_api_led_compose_conf_t *
ngx_api_led_compose_select(ngx_http_request_t *r,
    ngx_api_led_compose_loc_conf_t *lcf)
{
    ngx_uint_t                   i;
    ngx_api_led_compose_conf_t  *comp;

    comp = lcf->compositions->elts;

    for (i = 0; i < lcf->compositions->nelts; i++) {
        if (comp[i].methods & r->method) {
            return &comp[i];
        }
    }

    return NULL;
}


/* 405 with the methods the location's compositions answer */

static ngx_int_t
ngx_api_led_compose_not_allowed(ngx_http_request_t *r,
    ngx_api_led_compose_loc_conf_t *lcf)
{
    if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                     &ngx_api_led_compose_allow_header, NULL,
                                     &lcf->allow)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_api_led_problem_send(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "the method is not allowed here; "
                                    "allowed: %V", &lcf->allow);
}


/*
 * The client's body is there (or the subrequest's own): parse it when
 * placeholders read it, then run the parts.
 */

static void
ngx_api_led_compose_body_read(ngx_http_request_t *r)
{
    u_char                  err[NGX_MAX_ERROR_STR];
    ngx_int_t               rc;
    ngx_api_led_compose_t  *cmp;

    cmp = ngx_http_get_module_ctx(r, ngx_api_led_compose_module);

    if (cmp->comp->request_json) {
        rc = ngx_api_led_compose_request_json(cmp, err, sizeof(err));

        if (rc == NGX_DECLINED) {
            rc = ngx_api_led_problem_send(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_json", "%s", err);
            ngx_http_finalize_request(r, rc);
            return;
        }

        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_api_led_compose_begin(cmp);
}


/*
 * {request} and {request/pointer}: the body (after the request
 * transformation of the location, if any) as a JSON document.  NGX_OK;
 * NGX_DECLINED: not JSON (400 invalid_json, "err" says why); NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_compose_request_json(ngx_api_led_compose_t *cmp, u_char *err,
    size_t errlen)
{
    ngx_int_t                  rc;
    ngx_str_t                  text;
    ngx_http_request_t        *r;
    ngx_api_led_json_arena_t  *prev;

    r = cmp->request;

    if (ngx_api_led_body_text(r, NGX_MAX_SIZE_T_VALUE, &text) != NGX_OK) {
        return NGX_ERROR;
    }

    if (text.len == 0) {
        ngx_cpystrn(err, (u_char *) "the request has no JSON body", errlen);
        return NGX_DECLINED;
    }

    if (cmp->arena == NULL) {
        cmp->arena = ngx_api_led_json_arena_create(r->pool);
        if (cmp->arena == NULL) {
            return NGX_ERROR;
        }
    }

    prev = ngx_api_led_json_arena_enter(cmp->arena);
    rc = ngx_api_led_json_parse_pool(r->pool, text.data, text.len,
                                     &cmp->request_json, err, errlen);
    ngx_api_led_json_arena_leave(prev);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    return (rc == NGX_OK) ? NGX_OK : NGX_DECLINED;
}


/*
 * The values of the templates' variables, taken (copied) once, before
 * any part starts.  A part is a subrequest, which shares the variables
 * of its parent: a part's location writes its named captures ("(?<id>")
 * and "set" variables there, so a part that renders later (after=, a
 * placeholder) would otherwise read what another part, even another
 * element of a foreach, put there: another customer's id.
 */

static ngx_int_t
ngx_api_led_compose_vars(ngx_api_led_compose_t *cmp)
{
    ngx_uint_t                  i, n, *v;
    ngx_http_request_t         *r;
    ngx_http_variable_value_t  *vv, *value;

    if (cmp->comp->vars == NULL) {
        return NGX_OK;
    }

    r = cmp->request;
    v = cmp->comp->vars->elts;
    n = cmp->comp->vars->nelts;

    value = ngx_pcalloc(r->pool, n * sizeof(ngx_http_variable_value_t));
    if (value == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        vv = ngx_http_get_flushed_variable(r, v[i]);

        if (vv == NULL || vv->not_found) {
            value[i].not_found = 1;
            continue;
        }

        value[i].valid = 1;
        value[i].no_cacheable = 1;
        value[i].len = vv->len;

        if (vv->len) {
            value[i].data = ngx_pnalloc(r->pool, vv->len);
            if (value[i].data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(value[i].data, vv->data, vv->len);
        }
    }

    cmp->values = value;

    return NGX_OK;
}


static void
ngx_api_led_compose_begin(ngx_api_led_compose_t *cmp)
{
    ngx_http_request_t  *r;

    r = cmp->request;

    if (ngx_api_led_compose_vars(cmp) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (r == r->main && r->read_event_handler == ngx_http_block_reading) {
        /* notice a client that goes away while the parts run */
        r->read_event_handler = ngx_http_test_reading;
    }

    r->write_event_handler = ngx_api_led_compose_wake;

    ngx_api_led_compose_run(cmp);
}


/* the write handler of the composition: a call finished (it posted us) */

static void
ngx_api_led_compose_wake(ngx_http_request_t *r)
{
    ngx_api_led_compose_t  *cmp;

    cmp = ngx_http_get_module_ctx(r, ngx_api_led_compose_module);

    if (cmp == NULL) {
        return;
    }

    ngx_api_led_compose_release(cmp);

    if (cmp->finished) {
        return;
    }

    ngx_api_led_compose_run(cmp);
}


static void
ngx_api_led_compose_run(ngx_api_led_compose_t *cmp)
{
    ngx_uint_t  all;

    ngx_api_led_compose_release(cmp);

    ngx_api_led_compose_schedule(cmp);

    all = (cmp->nparts == NGX_API_LED_COMPOSE_MAX_PARTS)
          ? 0xffffffff : ((1U << cmp->nparts) - 1);

    if (cmp->running == 0 && cmp->done == all) {
        ngx_api_led_compose_count(cmp);
        ngx_api_led_compose_finish(cmp);
    }
}


/*
 * Starts every part whose predecessors are done, and the next elements of
 * running foreach parts.  A part whose placeholders use a part that did
 * not succeed does not run; once a required part failed, no part (and no
 * element) starts any more (the composition fails: a POST to the next
 * system would be a side effect for nothing).
 */

static void
ngx_api_led_compose_schedule(ngx_api_led_compose_t *cmp)
{
    u_char                           *p;
    uint32_t                          missing;
    ngx_uint_t                        i, j, changed;
    ngx_api_led_compose_part_t       *part;
    ngx_api_led_compose_part_conf_t  *pc;

    do {
        changed = 0;

        for (i = 0; i < cmp->nparts; i++) {
            part = &cmp->parts[i];

            if (part->state == NGX_API_LED_PART_RUNNING && part->calls) {
                if (!cmp->doomed) {
                    ngx_api_led_compose_foreach_next(cmp, part);

                } else if (part->running == 0) {
                    /* the elements not started yet never will */
                    part->cancelled = 1;
                    ngx_api_led_compose_end(cmp, part,
                                            NGX_API_LED_PART_SKIPPED, 0,
                                            "a required part failed");
                    changed = 1;
                }

                continue;
            }

            if (part->state != NGX_API_LED_PART_PENDING) {
                continue;
            }

            pc = part->conf;

            if (cmp->doomed) {
                part->cancelled = 1;
                ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_SKIPPED,
                                        0, "a required part failed");
                changed = 1;
                continue;
            }

            if ((cmp->done & pc->after) != pc->after) {
                continue;
            }

            missing = pc->uses & ~cmp->ok;

            if (pc->event) {
                /* an event tells of what succeeded: after= too */
                missing |= pc->after & ~cmp->ok;
            }

            if (missing) {
                for (j = 0; !(missing & (1U << j)); j++) { /* void */ }

                p = ngx_pnalloc(cmp->request->pool,
                                sizeof(" failed") - 1
                                + cmp->parts[j].conf->name.len + 1);
                if (p) {
                    *ngx_sprintf(p, "%V failed", &cmp->parts[j].conf->name)
                        = '\0';
                }

                ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_SKIPPED,
                                        0, p ? (char *) p : "dependency");
                changed = 1;
                continue;
            }

            ngx_api_led_compose_start(cmp, part);
            changed = 1;
        }

    } while (changed);
}


static void
ngx_api_led_compose_start(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    ngx_int_t  rc;
    ngx_str_t  err;

    part->start = ngx_current_msec;
    part->started = 1;

    if (part->conf->foreach) {
        ngx_api_led_compose_foreach_start(cmp, part);
        return;
    }

    if (part->conf->event) {
        ngx_api_led_compose_publish(cmp, part);
        return;
    }

    ngx_str_null(&err);

    rc = ngx_api_led_compose_call(cmp, &part->call, &err);

    if (rc == NGX_OK) {
        part->state = NGX_API_LED_PART_RUNNING;
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, 0,
                                (char *) err.data);
        return;
    }

    ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                            "subrequest not created");
}


/*
 * An event part publishes at once (into the worker's outbox: nothing
 * waits) with its data rendered from the parts it uses.
 */

static void
ngx_api_led_compose_publish(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    ngx_str_t                         data, err, *dp;
    ngx_http_request_t               *r;
    ngx_api_led_compose_docs_t        docs;
    ngx_api_led_compose_part_conf_t  *pc;

    r = cmp->request;
    pc = part->conf;
    dp = NULL;

    if (pc->event->data) {
        docs.cmp = cmp;
        docs.item = NULL;

        ngx_str_null(&err);

        if (ngx_api_led_tmpl_render_vars(r, pc->event->data, 1,
                                         ngx_api_led_compose_doc,
                                         ngx_api_led_compose_var, &docs,
                                         &data, &err)
            != NGX_OK)
        {
            if (err.len == 0) {
                ngx_str_set(&err, "not made");
            }

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led_compose: part \"%V\": event \"%V\" not "
                          "published: %V", &pc->name, &pc->event->type, &err);

            ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, 0,
                                    (char *) err.data);
            return;
        }

        dp = &data;
    }

    if (ngx_api_led_publish(r, pc->event, dp) != NGX_OK) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, 0,
                                "event not published");
        return;
    }

    ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_OK, 0, NULL);
}


/*
 * foreach=PART/POINTER: a call per element of the array, at most
 * max_items= of them, concurrency= at a time; no element: [].
 */

static void
ngx_api_led_compose_foreach_start(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    u_char                           *p;
    size_t                            n;
    json_t                           *doc, *array;
    ngx_uint_t                        i;
    ngx_http_request_t               *r;
    ngx_api_led_compose_part_conf_t  *pc;

    r = cmp->request;
    pc = part->conf;

    doc = cmp->parts[pc->foreach_part].json;
    array = doc ? ngx_api_led_json_get(doc, &pc->foreach_path) : NULL;

    if (!json_is_array(array)) {
        p = ngx_pnalloc(r->pool, pc->foreach_text.len + 32);
        if (p) {
            *ngx_sprintf(p, "%V is not an array", &pc->foreach_text) = '\0';
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led_compose: part \"%V\" not run: \"%V\" is not "
                      "an array", &pc->name, &pc->foreach_text);

        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, 0,
                                p ? (char *) p : "not an array");
        return;
    }

    n = json_array_size(array);

    if (n > pc->max_items) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led_compose: part \"%V\" not run: \"%V\" has %uz "
                      "elements, more than max_items=%ui", &pc->name,
                      &pc->foreach_text, n, pc->max_items);

        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, 0,
                                "more elements than max_items");
        return;
    }

    if (n == 0) {
        part->body = (u_char *) "[]";
        part->len = 2;
        part->status = NGX_HTTP_OK;
        ngx_api_led_compose_part_parse(cmp, part);
        return;
    }

    part->calls = ngx_pcalloc(r->pool, n * sizeof(ngx_api_led_compose_call_t));
    if (part->calls == NULL) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "out of memory");
        return;
    }

    part->ncalls = n;

    for (i = 0; i < n; i++) {
        part->calls[i].part = part;
        part->calls[i].item = json_array_get(array, i);
    }

    part->state = NGX_API_LED_PART_RUNNING;

    ngx_api_led_compose_foreach_next(cmp, part);
}


static void
ngx_api_led_compose_foreach_next(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    ngx_int_t                    rc;
    ngx_str_t                    err;
    ngx_api_led_compose_call_t  *call;

    while (part->state == NGX_API_LED_PART_RUNNING
           && part->next < part->ncalls
           && part->running < part->conf->concurrency)
    {
        call = &part->calls[part->next++];

        ngx_str_null(&err);

        rc = ngx_api_led_compose_call(cmp, call, &err);

        if (rc == NGX_OK) {
            part->running++;
            continue;
        }

        if (rc == NGX_DECLINED) {
            ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, 0,
                                         (char *) err.data);

        } else {
            ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED,
                                         NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "subrequest not created");
        }

        ngx_api_led_compose_element_finished(cmp, part, call);
    }
}


/*
 * Starts a call: NGX_OK; NGX_DECLINED when its templates do not render
 * (a value missing, an unsafe URI: "err" says why, NUL-terminated);
 * NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_compose_call(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_call_t *call, ngx_str_t *err)
{
    ngx_buf_t                        *b;
    ngx_str_t                         uri, args, body, *type;
    ngx_uint_t                        flags;
    ngx_chain_t                      *cl;
    ngx_http_request_t               *r, *sr;
    ngx_http_request_body_t          *rb;
    ngx_http_post_subrequest_t       *ps;
    ngx_api_led_compose_docs_t        docs;
    ngx_api_led_compose_part_conf_t  *pc;

    r = cmp->request;
    pc = call->part->conf;

    docs.cmp = cmp;
    docs.item = call->item;

    if (ngx_api_led_tmpl_render_vars(r, &pc->uri, 0, ngx_api_led_compose_doc,
                                     ngx_api_led_compose_var, &docs, &uri,
                                     err)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_str_null(&args);
    flags = 0;

    if (ngx_http_parse_unsafe_uri(r, &uri, &args, &flags) != NGX_OK) {
        ngx_str_set(err, "unsafe URI");
        goto failed;
    }

    switch (ngx_api_led_compose_dot_segment(r, &uri)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_str_set(err, "unsafe URI");
        goto failed;

    default:
        return NGX_ERROR;
    }

    if (pc->body_type == NGX_API_LED_BODY_TEMPLATE) {
        if (ngx_api_led_tmpl_render_vars(r, pc->body, 1,
                                         ngx_api_led_compose_doc,
                                         ngx_api_led_compose_var, &docs,
                                         &body, err)
            != NGX_OK)
        {
            goto failed;
        }

        /* a large block (ngx_pfree() gives back no other) */
        call->rendered = (body.len > r->pool->max) ? body.data : NULL;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_api_led_compose_call_done;
    ps->data = call;

    if (ngx_http_subrequest(r, &uri, &args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->sr = sr;

    /* the body filter wants file buffers read into memory */
    sr->filter_need_in_memory = 1;

    sr->method = pc->method;
    sr->method_name = pc->method_name;

    switch (pc->body_type) {

    case NGX_API_LED_BODY_TEMPLATE:
        if (ngx_api_led_compose_part_headers(r, sr,
                                             &ngx_api_led_compose_json_type,
                                             body.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
        b = ngx_calloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);

        if (rb == NULL || b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        b->pos = body.data;
        b->start = body.data;
        b->last = body.data + body.len;
        b->end = b->last;
        b->memory = 1;
        b->last_buf = 1;
        b->last_in_chain = 1;

        cl->buf = b;
        cl->next = NULL;

        rb->bufs = cl;
        rb->buf = b;

        sr->request_body = rb;
        break;

    case NGX_API_LED_BODY_REQUEST:
        type = r->headers_in.content_type ? &r->headers_in.content_type->value
                                          : NULL;

        if (ngx_api_led_compose_part_headers(r, sr, type,
                                   ngx_api_led_body_size(r->request_body))
            != NGX_OK
            || ngx_api_led_compose_request_body(r, sr) != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    default: /* NGX_API_LED_BODY_NONE */

        if (cmp->copy_headers) {
            if (ngx_api_led_compose_part_headers(r, sr, NULL, -1) != NGX_OK) {
                return NGX_ERROR;
            }

            /* the client's body, if any, is not the part's */
            sr->request_body = NULL;
        }
    }

    /* a child span: a traceparent of its own (its own headers, then) */
    if (ngx_api_led_trace_subrequest(r, sr) != NGX_OK) {
        return NGX_ERROR;
    }

    call->state = NGX_API_LED_PART_RUNNING;
    cmp->running++;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led_compose: part \"%V\" %V \"%V?%V\"",
                   &pc->name, &pc->method_name,
                   ngx_api_led_log_value(r->pool, &uri),
                   ngx_api_led_log_value(r->pool, &args));

    if (pc->timeout) {
        call->timer.handler = ngx_api_led_compose_timeout;
        call->timer.data = call;
        call->timer.log = r->connection->log;

        ngx_add_timer(&call->timer, pc->timeout);
    }

    return NGX_OK;

failed:

    if (err->len == 0) {
        ngx_str_set(err, "not run");
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "api_led_compose: part \"%V\" not run: %V",
                  &pc->name, err);

    return NGX_DECLINED;
}


/* a part's final state; a required part that did not succeed dooms */

static void
ngx_api_led_compose_end(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, ngx_uint_t state, ngx_uint_t status,
    char *reason)
{
    uint32_t  bit;

    bit = 1U << (part - cmp->parts);

    part->state = state;
    part->status = status;

    if (part->started) {
        part->duration = ngx_current_msec - part->start;
    }

    if (reason) {
        part->reason.data = (u_char *) reason;
        part->reason.len = ngx_strlen(reason);
    }

    cmp->done |= bit;

    if (state == NGX_API_LED_PART_OK) {
        cmp->ok |= bit;

    } else if (!part->conf->optional) {
        cmp->doomed = 1;
    }
}


/*
 * A part's path may hold no dot segment that an upstream would resolve
 * (ngx_http_parse_unsafe_uri(), which decoded it, refuses "/../" only): a
 * placeholder "." makes "/users/./orders", which the upstream takes for
 * "/users/orders".  Refused: "." and ".." also percent-encoded once more
 * ("%2e", "%2E%2e": the path is decoded until no escape is left, a few
 * times at most), followed by path parameters (".;", "..;x", which Tomcat
 * and others drop), ended by a NUL (".%00"), padded with blanks, or
 * between backslashes.  NGX_DECLINED: found.
 */

static ngx_int_t
ngx_api_led_compose_dot_segment(ngx_http_request_t *r, ngx_str_t *path)
{
    u_char      *p, *last, *s, *end, *src, *dst, *buf;
    size_t       len;
    ngx_uint_t   round, dots;

    p = path->data;
    len = path->len;
    buf = NULL;

    for (round = 0; ngx_strlchr(p, p + len, '%'); round++) {

        if (round == 4) {
            /* escapes nested this deep are no name of anything */
            return NGX_DECLINED;
        }

        if (buf == NULL) {
            buf = ngx_pnalloc(r->pool, len);
            if (buf == NULL) {
                return NGX_ERROR;
            }
        }

        src = p;
        dst = buf;

        /* dst never passes src: decoding in place is safe */
        ngx_unescape_uri(&dst, &src, len, 0);

        if ((size_t) (dst - buf) == len) {
            /* a "%" that escapes nothing */
            break;
        }

        p = buf;
        len = dst - buf;
    }

    last = p + len;

    while (p < last) {

        s = p;

        while (p < last && *p != '/' && *p != '\\') {
            p++;
        }

        /* the segment's name: up to its parameters or a NUL */

        for (end = s; end < p && *end != ';' && *end != '\0'; end++) {
            /* void */
        }

        dots = 0;

        while (s < end && (*s == '.' || *s == ' ' || *s == '\t')) {
            dots += (*s++ == '.');
        }

        if (s == end && dots) {
            return NGX_DECLINED;
        }

        p++;
    }

    return NGX_OK;
}


static void
ngx_api_led_compose_call_end(ngx_api_led_compose_call_t *call,
    ngx_uint_t state, ngx_uint_t status, char *reason)
{
    call->state = state;

    if (status) {
        call->status = status;
    }

    if (reason) {
        call->reason.data = (u_char *) reason;
        call->reason.len = ngx_strlen(reason);
    }
}


/*
 * The post-subrequest handler: records the call's outcome and wakes the
 * composition.  It returns NGX_OK whatever the call's rc, so that nginx
 * neither builds an error page inside the call (which would call this
 * handler a second time) nor terminates the client's request when a call
 * ends with NGX_ERROR: a failed call is an outcome, not a fatal error.
 */

static ngx_int_t
ngx_api_led_compose_call_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_api_led_compose_call_t *call = data;

    ngx_uint_t              status;
    ngx_api_led_compose_t  *cmp;

    cmp = call->part->compose;

    ngx_api_led_compose_call_over(sr, call);

    if (call->state != NGX_API_LED_PART_RUNNING || call->sr != sr) {
        /* timed out before, or called again */
        return NGX_OK;
    }

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    cmp->running--;

    status = sr->headers_out.status;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "api_led_compose: part \"%V\" done, rc:%i status:%ui "
                   "size:%uz", &call->part->conf->name, rc, status,
                   call->len);

    if (rc == NGX_ERROR || call->incomplete) {
        ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED,
                                     NGX_HTTP_BAD_GATEWAY,
                                     status ? "response incomplete"
                                            : "request failed");

    } else if (rc >= NGX_HTTP_SPECIAL_RESPONSE
               || (status == 0 && rc >= NGX_HTTP_OK))
    {
        /* the call answered with an error page nginx did not build yet */
        ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, rc, NULL);

    } else if (status == 0) {
        ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED,
                                     NGX_HTTP_BAD_GATEWAY, "no response");

    } else if (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, status,
                                     NULL);
        ngx_api_led_compose_call_problem(sr, call);

    } else {
        ngx_api_led_compose_call_end(call, NGX_API_LED_PART_OK, status, NULL);
    }

    ngx_api_led_compose_call_finished(cmp, call);

    if (!cmp->finished) {
        if (ngx_http_post_request(cmp->request, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A call's rendered body stays until nothing reads it: its subrequest is
 * over, its upstream if any is done with it (the upstream's finalization
 * clears u->cleanup), and it waits for no subrequest of its own (SSI's
 * and a cache's background update share the body).  A call to a nested
 * composition keeps it for the request, as before: its late parts may
 * still read it.  The block goes back at the composition's next run, not
 * here: nginx may still log the subrequest ($request_body) after this
 * handler.  So a foreach= part holds the bodies of the calls running, not
 * one for each element.
 */

static void
ngx_api_led_compose_call_over(ngx_http_request_t *sr,
    ngx_api_led_compose_call_t *call)
{
    ngx_api_led_compose_t  *cmp;

    if (call->rendered == NULL || call->released || call->sr != sr
        || (sr->upstream && sr->upstream->cleanup) || sr->postponed
        || ngx_http_get_module_ctx(sr, ngx_api_led_compose_module))
    {
        return;
    }

#if (NGX_HTTP_CACHE)
    if (sr->cache && sr->cache->background) {
        /* a cache's background update, a subrequest of its own, sends it */
        return;
    }
#endif

    cmp = call->part->compose;

    call->released = 1;
    call->next_released = cmp->released;
    cmp->released = call;
}


static void
ngx_api_led_compose_release(ngx_api_led_compose_t *cmp)
{
    ngx_api_led_compose_call_t  *call;

    for (call = cmp->released; call; call = call->next_released) {
        ngx_pfree(cmp->request->pool, call->rendered);
        call->rendered = NULL;
    }

    cmp->released = NULL;
}


/*
 * A failed call that answered a problem (an inner composition, a policy
 * of the inner layer) lends its detail to the outer answer, so that a 502
 * of a Process API names the System API that failed below it.
 */

static void
ngx_api_led_compose_call_problem(ngx_http_request_t *sr,
    ngx_api_led_compose_call_t *call)
{
    u_char        err[NGX_API_LED_JSON_ERRLEN];
    json_t       *doc, *detail;
    ngx_str_t     s;
    const char   *text;

    if (call->len == 0 || call->overflow
        || sr->headers_out.content_type.len < 4
        || ngx_strlcasestrn(sr->headers_out.content_type.data,
                            sr->headers_out.content_type.data
                            + sr->headers_out.content_type.len,
                            (u_char *) "json", 4 - 1)
           == NULL)
    {
        return;
    }

    if (ngx_api_led_json_parse(call->body, call->len, 0, &doc, err,
                               sizeof(err))
        != NGX_OK)
    {
        return;
    }

    detail = json_object_get(doc, "detail");

    if (ngx_api_led_json_is_text(detail)) {
        text = json_string_value(detail);

        /* to a NUL or a lone surrogate: text for the problem's detail */
        s.len = ngx_api_led_json_utf8_len((u_char *) text, ngx_strlen(text));
        s.len = ngx_api_led_utf8_cut((u_char *) text, ngx_min(s.len, 256));

        s.data = ngx_pnalloc(sr->pool, s.len + 1);
        if (s.data) {
            ngx_memcpy(s.data, text, s.len);
            s.data[s.len] = '\0';
            call->reason = s;
        }
    }

    json_decref(doc);
}


/* a call is done (answered, failed or timed out): its part moves on */

static void
ngx_api_led_compose_call_finished(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_call_t *call)
{
    ngx_api_led_compose_part_t  *part;

    part = call->part;

    if (part->calls) {
        part->running--;
        ngx_api_led_compose_element_finished(cmp, part, call);
        return;
    }

    if (part->state != NGX_API_LED_PART_RUNNING) {
        return;
    }

    if (call->state == NGX_API_LED_PART_TIMEDOUT) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_TIMEDOUT,
                                NGX_HTTP_GATEWAY_TIME_OUT, "timeout");
        return;
    }

    if (call->state != NGX_API_LED_PART_OK) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                call->status, NULL);
        part->reason = call->reason;
        return;
    }

    part->status = call->status;
    part->body = call->body;
    part->len = call->len;

    if (call->overflow) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status,
                                "larger than api_led_compose_max_part_size");
        return;
    }

    if (call->unreadable) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status, "body not in memory");
        return;
    }

    ngx_api_led_compose_part_parse(cmp, part);
}


/*
 * An element of a foreach part is done.  An element that failed fails a
 * required part at once (no further element starts) and is null in an
 * optional part's array; the part is done when every element is.
 */

static void
ngx_api_led_compose_element_finished(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, ngx_api_led_compose_call_t *call)
{
    u_char      *s, *e;
    ngx_uint_t   state;

    part->finished++;

    if (part->state != NGX_API_LED_PART_RUNNING) {
        return;
    }

    if (call->state == NGX_API_LED_PART_OK) {

        if (call->overflow) {
            ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, 0,
                                  "larger than api_led_compose_max_part_size");

        } else if (call->unreadable) {
            ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, 0,
                                         "body not in memory");

        } else if (call->len) {
            s = call->body;
            e = call->body + call->len;

            if (ngx_api_led_json_validate(s, e - s) != NGX_OK) {
                ngx_log_error(NGX_LOG_ERR, cmp->request->connection->log, 0,
                              "api_led_compose: part \"%V\" answered invalid "
                              "JSON for element %ui", &part->conf->name,
                              (ngx_uint_t) (call - part->calls));

                ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, 0,
                                             "invalid JSON");
            }

        } else if (call->status != NGX_HTTP_NO_CONTENT) {
            ngx_api_led_compose_call_end(call, NGX_API_LED_PART_FAILED, 0,
                                         "invalid JSON");
        }
    }

    if (call->state != NGX_API_LED_PART_OK) {

        if (!part->conf->optional) {
            state = (call->state == NGX_API_LED_PART_TIMEDOUT)
                    ? NGX_API_LED_PART_TIMEDOUT : NGX_API_LED_PART_FAILED;

            ngx_api_led_compose_end(cmp, part, state, call->status,
                                    call->reason.len
                                    ? (char *) call->reason.data : NULL);
            return;
        }

        part->partial = 1;
    }

    if (part->finished < part->ncalls) {
        return;
    }

    if (ngx_api_led_compose_foreach_answer(cmp, part) != NGX_OK) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "out of memory");
        return;
    }

    part->status = NGX_HTTP_OK;

    ngx_api_led_compose_part_parse(cmp, part);
}


/* the answers of the elements, in element order: [a, b, null, ...] */

static ngx_int_t
ngx_api_led_compose_foreach_answer(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    u_char                      *p, *s, *e;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_api_led_compose_call_t  *call;

    len = sizeof("[]") - 1;

    for (i = 0; i < part->ncalls; i++) {
        call = &part->calls[i];
        len += sizeof("null,") - 1;

        if (call->state == NGX_API_LED_PART_OK) {
            len += call->len;
        }
    }

    p = ngx_pnalloc(cmp->request->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    part->body = p;

    *p++ = '[';

    for (i = 0; i < part->ncalls; i++) {
        call = &part->calls[i];

        if (i) {
            *p++ = ',';
        }

        s = call->body;
        e = call->len ? call->body + call->len : s;

        /* an element's own line ends and indentation stay out */

        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        {
            s++;
        }

        while (e > s
               && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
                   || e[-1] == '\n'))
        {
            e--;
        }

        if (call->state == NGX_API_LED_PART_OK && e > s) {
            p = ngx_cpymem(p, s, e - s);

        } else {
            p = ngx_cpymem(p, "null", sizeof("null") - 1);
        }
    }

    *p++ = ']';

    part->len = p - part->body;

    return NGX_OK;
}


/*
 * Documents that placeholders read or that the deep merge combines are
 * parsed in the composition's jansson arena (request pool memory, nothing
 * freed one by one); every use of them that allocates (the merge) or frees
 * (the cleanup) happens in the arena too.
 */

static ngx_int_t
ngx_api_led_compose_part_json(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, u_char *err, size_t errlen)
{
    ngx_int_t                  rc;
    ngx_api_led_json_arena_t  *prev;

    if (cmp->arena == NULL) {
        cmp->arena = ngx_api_led_json_arena_create(cmp->request->pool);
        if (cmp->arena == NULL) {
            ngx_cpystrn(err, (u_char *) "out of memory", errlen);
            return NGX_ERROR;
        }
    }

    prev = ngx_api_led_json_arena_enter(cmp->arena);

    rc = ngx_api_led_json_parse_pool(cmp->request->pool, part->body,
                                     part->len, &part->json, err, errlen);

    ngx_api_led_json_arena_leave(prev);

    return rc;
}


/* a part's answer (part->body) is JSON: validated or parsed */

static void
ngx_api_led_compose_part_parse(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    u_char  err[NGX_MAX_ERROR_STR];

    if (part->len == 0 && part->status == NGX_HTTP_NO_CONTENT) {
        part->json = json_null();

    } else if (part->len == 0) {
        /*
         * A 2xx other than 204 without a body is no JSON.  Said here: the
         * body kept nothing (part->body is NULL), and the parser must not
         * be given a NULL text.
         */

        ngx_log_error(NGX_LOG_ERR, cmp->request->connection->log, 0,
                      "api_led_compose: part \"%V\" answered no body",
                      &part->conf->name);

        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status, "invalid JSON");
        return;

    } else if (cmp->conf->merge == NGX_API_LED_MERGE_NAMESPACED
               && !(cmp->comp->parsed & (1U << (part - cmp->parts))))
    {
        /*
         * Copied into the answer as it is: validating is enough, and
         * an order of magnitude cheaper than building jansson's tree.
         */

        if (ngx_api_led_json_validate(part->body, part->len) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, cmp->request->connection->log, 0,
                          "api_led_compose: part \"%V\" answered invalid "
                          "JSON", &part->conf->name);

            ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                    part->status, "invalid JSON");
            return;
        }

    } else if (ngx_api_led_compose_part_json(cmp, part, err, sizeof(err))
               != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, cmp->request->connection->log, 0,
                      "api_led_compose: part \"%V\" answered invalid "
                      "JSON: %s", &part->conf->name, err);

        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status, "invalid JSON");
        return;
    }

    if (cmp->conf->merge == NGX_API_LED_MERGE_DEEP
        && !json_is_object(part->json))
    {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status, "not a JSON object");
        return;
    }

    ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_OK, part->status,
                            NULL);
}


/*
 * A call's own timer.  A proxied call is cancelled (its upstream request
 * is finalized the way a client abort finalizes it), so neither the
 * upstream connection nor the client's keepalive connection waits for it;
 * any other call runs to its end and its late answer is ignored.
 */

static void
ngx_api_led_compose_timeout(ngx_event_t *ev)
{
    ngx_api_led_compose_call_t *call = ev->data;

    ngx_connection_t       *c;
    ngx_http_request_t     *r, *sr;
    ngx_http_upstream_t    *u;
    ngx_api_led_compose_t  *cmp;

    cmp = call->part->compose;
    r = cmp->request;
    sr = call->sr;
    c = r->connection;

    if (call->state != NGX_API_LED_PART_RUNNING) {
        return;
    }

    ngx_http_set_log_request(c->log, r);

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "api_led_compose: part \"%V\" timed out after %Mms",
                  &call->part->conf->name, call->part->conf->timeout);

    cmp->running--;

    ngx_api_led_compose_call_end(call, NGX_API_LED_PART_TIMEDOUT,
                                 NGX_HTTP_GATEWAY_TIME_OUT, "timeout");

    ngx_api_led_compose_call_finished(cmp, call);

    u = sr->upstream;

    if (u && u->cleanup && *u->cleanup) {
        (*u->cleanup)(sr);

        /* the upstream let the body go (no post-subrequest handler) */
        ngx_api_led_compose_call_over(sr, call);
    }

    if (!cmp->finished) {
        ngx_api_led_compose_run(cmp);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * The composition is done: each part is counted by its outcome (a part
 * skipped or cancelled did not run), and the time of each that started.
 */

static void
ngx_api_led_compose_count(ngx_api_led_compose_t *cmp)
{
    ngx_str_t                         values[3];
    ngx_uint_t                        i;
    ngx_log_t                        *log;
    ngx_api_led_loc_conf_t           *llcf;
    ngx_api_led_compose_part_t       *part;
    ngx_api_led_compose_main_conf_t  *cmcf;

    static ngx_str_t  outcomes[] = {
        ngx_null_string,                       /* PENDING */
        ngx_null_string,                       /* RUNNING */
        ngx_string("ok"),
        ngx_string("failed"),
        ngx_string("timeout"),
        ngx_string("not_run")
    };

    cmcf = ngx_http_get_module_main_conf(cmp->request,
                                         ngx_api_led_compose_module);

    if (cmcf->parts == NULL) {
        return;
    }

    llcf = ngx_http_get_module_loc_conf(cmp->request, ngx_api_led_module);
    log = cmp->request->connection->log;

    values[0] = llcf->api;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        values[1] = part->conf->name;
        values[2] = outcomes[part->state];

        ngx_api_led_metric_count(cmcf->parts, values, 1, log);

        if (part->started) {
            ngx_api_led_metric_observe(cmcf->part_duration, values,
                                       (ngx_msec_int_t) part->duration, log);
        }
    }
}


static void
ngx_api_led_compose_cleanup(void *data)
{
    ngx_api_led_compose_t *cmp = data;

    ngx_uint_t                   i, j;
    ngx_api_led_json_arena_t    *prev;
    ngx_api_led_compose_part_t  *part;

    prev = ngx_api_led_json_arena_enter(cmp->arena);

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->call.timer.timer_set) {
            ngx_del_timer(&part->call.timer);
        }

        for (j = 0; j < part->ncalls; j++) {
            if (part->calls[j].timer.timer_set) {
                ngx_del_timer(&part->calls[j].timer);
            }
        }

        if (part->json) {
            json_decref(part->json);
            part->json = NULL;
        }
    }

    if (cmp->request_json) {
        json_decref(cmp->request_json);
        cmp->request_json = NULL;
    }

    ngx_api_led_json_arena_leave(prev);
}


