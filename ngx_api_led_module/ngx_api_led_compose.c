
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration.  api_led_compose runs the parts of a composition as nginx
 * subrequests: parts that do not depend on each other run in parallel, a
 * part that takes a value from another ({PART/json/pointer}) or names it in
 * after= waits for it.  The JSON answers are merged in declaration order
 * (never arrival order) and the parts' outcome maps to one status.  Also
 * the layer contract (api_led_callers), checked for subrequests too, since
 * nginx runs no access phase for them.
 *
 * Parts are background subrequests: they never become the connection's
 * active request, so the composition can answer (a required part timed out)
 * while a part is still running, and a body filter of this module keeps
 * every byte a part produces (nothing of it reaches the client).  Unlike
 * in-memory subrequests, a part may itself be a composition (an Experience
 * API composing Process APIs that compose System APIs).
 */


#include "ngx_api_led.h"


#define NGX_API_LED_COMPOSE_MAX_PARTS  32

#define NGX_API_LED_SEG_TEXT           0
#define NGX_API_LED_SEG_VAR            1
#define NGX_API_LED_SEG_CAPTURE        2
#define NGX_API_LED_SEG_PLACEHOLDER    3

#define NGX_API_LED_MERGE_NAMESPACED   0
#define NGX_API_LED_MERGE_DEEP         1

#define NGX_API_LED_CONFLICT_ERROR     0
#define NGX_API_LED_CONFLICT_FIRST     1
#define NGX_API_LED_CONFLICT_LAST      2

#define NGX_API_LED_PART_PENDING       0
#define NGX_API_LED_PART_RUNNING       1
#define NGX_API_LED_PART_OK            2
#define NGX_API_LED_PART_FAILED        3
#define NGX_API_LED_PART_TIMEDOUT      4
#define NGX_API_LED_PART_SKIPPED       5

/*
 * api_led_callers: a bit per caller, 1 << NGX_API_LED_LAYER_* for the
 * layers (NONE: a location that is no API) and 1 << 4 for clients
 */
#define NGX_API_LED_CALLER_CLIENT_INDEX  4
#define NGX_API_LED_CALLER_ANY           0x1f

/* how a rendered value is copied into a URI or a body */
#define NGX_API_LED_COPY_RAW           0
#define NGX_API_LED_COPY_JSON_ESCAPE   1
#define NGX_API_LED_COPY_URI_ESCAPE    2

typedef struct {
    ngx_uint_t                        type;
    ngx_str_t                         text;      /* TEXT; PLACEHOLDER: as
                                                    written, for messages */
    ngx_str_t                         part_name; /* PLACEHOLDER */
    ngx_uint_t                        index;     /* VAR: variable index,
                                                    CAPTURE: $N,
                                                    PLACEHOLDER: part */
    ngx_api_led_json_path_t           path;      /* PLACEHOLDER */
    unsigned                          in_args:1; /* URI: after the "?" */
} ngx_api_led_compose_seg_t;


typedef struct {
    ngx_str_t                         name;
    ngx_uint_t                        method;
    ngx_str_t                         method_name;
    ngx_array_t                       uri;       /* compose_seg_t */
    ngx_array_t                      *body;      /* compose_seg_t or NULL */
    ngx_msec_t                        timeout;   /* 0: none */
    ngx_array_t                      *after_names;
    uint32_t                          after;     /* parts to wait for */
    uint32_t                          uses;      /* parts whose JSON the
                                                    part's templates use */
    ngx_uint_t                        line;
    unsigned                          optional:1;
} ngx_api_led_compose_part_conf_t;


typedef struct {
    ngx_array_t                      *parts;     /* compose_part_conf_t */
    ngx_uint_t                        merge;
    ngx_uint_t                        conflict;
    ngx_uint_t                        status;
    size_t                            max_part_size;
    ngx_uint_t                        callers;   /* 0: no contract */
    uint32_t                          parsed;    /* parts whose JSON the
                                                    templates read */
} ngx_api_led_compose_loc_conf_t;


typedef struct ngx_api_led_compose_s  ngx_api_led_compose_t;

typedef struct {
    ngx_api_led_compose_part_conf_t  *conf;
    ngx_api_led_compose_t            *compose;
    ngx_http_request_t               *sr;
    ngx_uint_t                        state;
    ngx_uint_t                        status;    /* HTTP status, 0: none */
    ngx_str_t                         reason;    /* why it failed */
    u_char                           *body;
    size_t                            len;
    size_t                            size;
    json_t                           *json;
    ngx_event_t                       timer;
    unsigned                          overflow:1;
    unsigned                          unreadable:1;
    unsigned                          cancelled:1;
} ngx_api_led_compose_part_t;


/* the request ctx of a composition (the request running the handler) */
struct ngx_api_led_compose_s {
    ngx_http_request_t               *request;
    ngx_api_led_compose_loc_conf_t   *conf;
    ngx_api_led_compose_part_t       *parts;
    ngx_uint_t                        nparts;
    ngx_uint_t                        running;
    uint32_t                          done;      /* parts in a final state */
    uint32_t                          ok;        /* parts that succeeded */
    ngx_str_t                        *conflict_part;
    ngx_str_t                         conflict_at;
    unsigned                          doomed:1;  /* a required part failed */
    unsigned                          finished:1;
    unsigned                          copy_headers:1;
};


typedef struct {
    ngx_str_t                         value;
    ngx_uint_t                        copy;
} ngx_api_led_compose_value_t;


static ngx_int_t ngx_api_led_compose_handler(ngx_http_request_t *r);
static void ngx_api_led_compose_wake(ngx_http_request_t *r);
static void ngx_api_led_compose_run(ngx_api_led_compose_t *cmp);
static void ngx_api_led_compose_schedule(ngx_api_led_compose_t *cmp);
static void ngx_api_led_compose_start(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_end(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, ngx_uint_t state, ngx_uint_t status,
    char *reason);
static ngx_int_t ngx_api_led_compose_part_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_str_t *body);
static ngx_int_t ngx_api_led_compose_part_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_api_led_compose_part_problem(ngx_http_request_t *sr,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_part_parse(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_timeout(ngx_event_t *ev);
static void ngx_api_led_compose_finish(ngx_api_led_compose_t *cmp);
static ngx_int_t ngx_api_led_compose_fail(ngx_api_led_compose_t *cmp);
static ngx_int_t ngx_api_led_compose_namespaced(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);
static ngx_int_t ngx_api_led_compose_deep(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);
static ngx_int_t ngx_api_led_compose_deep_merge(json_t *dst, json_t *src,
    ngx_uint_t conflict, u_char *path, u_char *p, u_char *end, u_char **at);
static ngx_int_t ngx_api_led_compose_send(ngx_api_led_compose_t *cmp,
    ngx_buf_t *b);
static void ngx_api_led_compose_cleanup(void *data);

static ngx_int_t ngx_api_led_compose_render(ngx_api_led_compose_t *cmp,
    ngx_array_t *segs, ngx_uint_t body, ngx_str_t *out, ngx_str_t *err);
static ngx_int_t ngx_api_led_compose_json_valid(u_char *p, u_char *end);
static u_char *ngx_api_led_compose_json_string(u_char *p, u_char *end);

static ngx_api_led_compose_part_t *ngx_api_led_compose_find_part(
    ngx_http_request_t *r);
static ngx_int_t ngx_api_led_compose_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_api_led_compose_keep(ngx_http_request_t *r,
    ngx_api_led_compose_part_t *part, u_char *data, size_t size);

static ngx_int_t ngx_api_led_compose_callers_handler(ngx_http_request_t *r);

static ngx_int_t ngx_api_led_compose_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_api_led_compose_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_compose_init(ngx_conf_t *cf);
static void *ngx_api_led_compose_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_compose_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_api_led_compose_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_compose_part(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static ngx_int_t ngx_api_led_compose_name_is_valid(ngx_str_t *name);
static ngx_int_t ngx_api_led_compose_tmpl(ngx_conf_t *cf, ngx_str_t *src,
    ngx_array_t *segs, ngx_uint_t uri);
static ngx_int_t ngx_api_led_compose_resolve(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *lcf);
static ngx_int_t ngx_api_led_compose_find_cycle(
    ngx_api_led_compose_part_conf_t *pc, ngx_uint_t n, ngx_uint_t i,
    u_char *color, ngx_uint_t *stack, ngx_uint_t depth, ngx_uint_t *len);
static char *ngx_api_led_compose_merge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_compose_callers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_num_bounds_t  ngx_api_led_compose_status_bounds = {
    ngx_conf_check_num_bounds, 200, 299
};


static ngx_command_t  ngx_api_led_compose_commands[] = {

    { ngx_string("api_led_compose"),
      NGX_HTTP_LOC_CONF|NGX_CONF_BLOCK|NGX_CONF_NOARGS,
      ngx_api_led_compose_block,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_compose_merge"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_api_led_compose_merge,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_compose_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_compose_loc_conf_t, status),
      &ngx_api_led_compose_status_bounds },

    { ngx_string("api_led_compose_max_part_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_compose_loc_conf_t, max_part_size),
      NULL },

    { ngx_string("api_led_callers"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_compose_callers,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_compose_module_ctx = {
    ngx_api_led_compose_add_variables,     /* preconfiguration */
    ngx_api_led_compose_init,              /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_compose_create_loc_conf,   /* create location configuration */
    ngx_api_led_compose_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_api_led_compose_module = {
    NGX_MODULE_V1,
    &ngx_api_led_compose_module_ctx,       /* module context */
    ngx_api_led_compose_commands,          /* module directives */
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


static ngx_str_t  ngx_api_led_compose_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_api_led_compose_partial_header =
    ngx_string("API-Led-Partial");
static ngx_str_t  ngx_api_led_compose_cid_header =
    ngx_string("X-Correlation-ID");

static ngx_str_t  ngx_api_led_compose_caller_names[] = {
    ngx_string("none"),
    ngx_string("experience"),
    ngx_string("process"),
    ngx_string("system"),
    ngx_string("client")
};


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


/* the content handler */

static ngx_int_t
ngx_api_led_compose_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_list_part_t                 *lp;
    ngx_table_elt_t                 *h;
    ngx_api_led_ctx_t               *ctx;
    ngx_http_request_t              *pr;
    ngx_pool_cleanup_t              *cln;
    ngx_api_led_compose_t           *cmp, *pcmp;
    ngx_api_led_compose_part_t      *part;
    ngx_api_led_compose_loc_conf_t  *lcf;
    ngx_api_led_compose_part_conf_t *pc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_compose_module);

    /* a composition that (through its parts) calls itself would fan out
     * until the subrequest limits stop it */

    for (pr = r->parent; pr; pr = pr->parent) {
        pcmp = ngx_http_get_module_ctx(pr, ngx_api_led_compose_module);

        if (pcmp && pcmp->conf == lcf) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led_compose: the composition calls itself "
                          "through \"%V\"", &r->uri);
            return ngx_api_led_problem_send(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "internal_error",
                                            "the composition calls itself");
        }
    }

    if (r == r->main) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmp = ngx_pcalloc(r->pool, sizeof(ngx_api_led_compose_t));
    if (cmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmp->request = r;
    cmp->conf = lcf;
    cmp->nparts = lcf->parts->nelts;

    cmp->parts = ngx_pcalloc(r->pool,
                             cmp->nparts * sizeof(ngx_api_led_compose_part_t));
    if (cmp->parts == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pc = lcf->parts->elts;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];
        part->conf = &pc[i];
        part->compose = cmp;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_api_led_compose_cleanup;
    cln->data = cmp;

    /*
     * Parts get their own copy of the request headers when the request
     * carries a body of its own (GET parts send none) or when its headers
     * lack the correlation id (in API locations the core module added it).
     */

    cmp->copy_headers = 1;

    if (r->headers_in.content_length == NULL
        && r->headers_in.transfer_encoding == NULL
        && !r->headers_in.chunked)
    {
        lp = &r->headers_in.headers.part;
        h = lp->elts;

        for (i = 0; /* void */; i++) {

            if (i >= lp->nelts) {
                if (lp->next == NULL) {
                    break;
                }

                lp = lp->next;
                h = lp->elts;
                i = 0;
            }

            if (h[i].key.len == ngx_api_led_compose_cid_header.len
                && ngx_strncasecmp(h[i].key.data,
                                   ngx_api_led_compose_cid_header.data,
                                   h[i].key.len) == 0)
            {
                if (h[i].value.len == ctx->correlation_id.len
                    && ngx_strncmp(h[i].value.data, ctx->correlation_id.data,
                                   h[i].value.len) == 0)
                {
                    cmp->copy_headers = 0;
                }

                break;
            }
        }
    }

    ngx_http_set_ctx(r, cmp, ngx_api_led_compose_module);

    /* the request is finalized when the composition answers */
    r->main->count++;

    if (r == r->main && r->read_event_handler == ngx_http_block_reading) {
        /* notice a client that goes away while the parts run */
        r->read_event_handler = ngx_http_test_reading;
    }

    r->write_event_handler = ngx_api_led_compose_wake;

    ngx_api_led_compose_run(cmp);

    return NGX_DONE;
}


/* the write handler of the composition: a part finished (it posted us) */

static void
ngx_api_led_compose_wake(ngx_http_request_t *r)
{
    ngx_api_led_compose_t  *cmp;

    cmp = ngx_http_get_module_ctx(r, ngx_api_led_compose_module);

    if (cmp == NULL || cmp->finished) {
        return;
    }

    ngx_api_led_compose_run(cmp);
}


static void
ngx_api_led_compose_run(ngx_api_led_compose_t *cmp)
{
    ngx_uint_t  all;

    ngx_api_led_compose_schedule(cmp);

    all = (cmp->nparts == 32) ? 0xffffffff : ((1U << cmp->nparts) - 1);

    if (cmp->running == 0 && cmp->done == all) {
        ngx_api_led_compose_finish(cmp);
    }
}


/*
 * Starts every part whose predecessors are done.  A part whose
 * placeholders use a part that did not succeed does not run; once a
 * required part failed, no part starts any more (the composition fails:
 * a POST to the next system would be a side effect for nothing).
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
    ngx_buf_t                        *b;
    ngx_str_t                         uri, args, body, err;
    ngx_uint_t                        flags;
    ngx_chain_t                      *cl;
    ngx_http_request_t               *r, *sr;
    ngx_http_request_body_t          *rb;
    ngx_http_post_subrequest_t       *ps;
    ngx_api_led_compose_part_conf_t  *pc;

    r = cmp->request;
    pc = part->conf;

    ngx_str_null(&err);

    if (ngx_api_led_compose_render(cmp, &pc->uri, 0, &uri, &err) != NGX_OK) {
        goto failed;
    }

    ngx_str_null(&args);
    flags = 0;

    if (ngx_http_parse_unsafe_uri(r, &uri, &args, &flags) != NGX_OK) {
        ngx_str_set(&err, "unsafe URI");
        goto failed;
    }

    if (pc->body) {
        if (ngx_api_led_compose_render(cmp, pc->body, 1, &body, &err)
            != NGX_OK)
        {
            goto failed;
        }
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        goto error;
    }

    ps->handler = ngx_api_led_compose_part_done;
    ps->data = part;

    if (ngx_http_subrequest(r, &uri, &args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        goto error;
    }

    part->sr = sr;

    /* the body filter wants file buffers read into memory */
    sr->filter_need_in_memory = 1;

    sr->method = pc->method;
    sr->method_name = pc->method_name;

    if (pc->body || cmp->copy_headers) {
        if (ngx_api_led_compose_part_headers(r, sr, pc->body ? &body : NULL)
            != NGX_OK)
        {
            goto error;
        }
    }

    if (pc->body) {
        rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
        b = ngx_calloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);

        if (rb == NULL || b == NULL || cl == NULL) {
            goto error;
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

    } else if (cmp->copy_headers) {
        /* the client's body, if any, is not the part's */
        sr->request_body = NULL;
    }

    part->state = NGX_API_LED_PART_RUNNING;
    cmp->running++;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led_compose: part \"%V\" %V \"%V?%V\"",
                   &pc->name, &pc->method_name, &uri, &args);

    if (pc->timeout) {
        part->timer.handler = ngx_api_led_compose_timeout;
        part->timer.data = part;
        part->timer.log = r->connection->log;

        ngx_add_timer(&part->timer, pc->timeout);
    }

    return;

failed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "api_led_compose: part \"%V\" not run: %V",
                  &pc->name, &err);

    ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, 0,
                            err.len ? (char *) err.data : "not run");
    return;

error:

    ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                            "subrequest not created");
}


static void
ngx_api_led_compose_end(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, ngx_uint_t state, ngx_uint_t status,
    char *reason)
{
    uint32_t  bit;

    bit = 1U << (part - cmp->parts);

    part->state = state;
    part->status = status;

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
 * A part's own request headers: the client's, without the body headers of
 * the client's request, with the part's body headers and the correlation
 * id.  Subrequests otherwise share the parent's header list.
 */

static ngx_int_t
ngx_api_led_compose_part_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_str_t *body)
{
    u_char             *p;
    ngx_uint_t          i, n;
    ngx_list_part_t    *lp;
    ngx_table_elt_t    *h, *nh;
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (lp = &r->headers_in.headers.part; lp; lp = lp->next) {
        n += lp->nelts;
    }

    if (ngx_list_init(&sr->headers_in.headers, r->pool, n + 3,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    lp = &r->headers_in.headers.part;
    h = lp->elts;

    for (i = 0; /* void */; i++) {

        if (i >= lp->nelts) {
            if (lp->next == NULL) {
                break;
            }

            lp = lp->next;
            h = lp->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        if ((h[i].key.len == sizeof("Content-Length") - 1
             && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Length",
                                h[i].key.len) == 0)
            || (h[i].key.len == sizeof("Content-Type") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Type",
                                   h[i].key.len) == 0)
            || (h[i].key.len == sizeof("Transfer-Encoding") - 1
                && ngx_strncasecmp(h[i].key.data,
                                   (u_char *) "Transfer-Encoding",
                                   h[i].key.len) == 0)
            || (h[i].key.len == ngx_api_led_compose_cid_header.len
                && ngx_strncasecmp(h[i].key.data,
                                   ngx_api_led_compose_cid_header.data,
                                   h[i].key.len) == 0))
        {
            continue;
        }

        nh = ngx_list_push(&sr->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = h[i];
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif
    }

    sr->headers_in.content_length = NULL;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.content_type = NULL;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.chunked = 0;

    if (body) {
        nh = ngx_list_push(&sr->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        /* the proxy module looks request headers up by their hash */
        nh->hash = ngx_hash_key((u_char *) "content-type",
                                sizeof("content-type") - 1);
        ngx_str_set(&nh->key, "Content-Type");
        nh->value = ngx_api_led_compose_json_type;
        nh->lowcase_key = (u_char *) "content-type";
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif

        sr->headers_in.content_type = nh;

        nh = ngx_list_push(&sr->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        nh->hash = ngx_hash_key((u_char *) "content-length",
                                sizeof("content-length") - 1);
        ngx_str_set(&nh->key, "Content-Length");
        nh->value.data = p;
        nh->value.len = ngx_sprintf(p, "%uz", body->len) - p;
        nh->lowcase_key = (u_char *) "content-length";
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif

        sr->headers_in.content_length = nh;
        sr->headers_in.content_length_n = body->len;
    }

    nh = ngx_list_push(&sr->headers_in.headers);
    if (nh == NULL) {
        return NGX_ERROR;
    }

    nh->hash = ngx_hash_key((u_char *) "x-correlation-id",
                            sizeof("x-correlation-id") - 1);
    nh->key = ngx_api_led_compose_cid_header;
    nh->value = ctx->correlation_id;
    nh->lowcase_key = (u_char *) "x-correlation-id";
#if (nginx_version >= 1023000)
    nh->next = NULL;
#endif

    return NGX_OK;
}


/*
 * The post-subrequest handler: records the part's outcome and wakes the
 * composition.  It returns NGX_OK whatever the part's rc, so that nginx
 * neither builds an error page inside the part (which would call this
 * handler a second time) nor terminates the client's request when a part
 * ends with NGX_ERROR: a failed part is an outcome, not a fatal error.
 */

static ngx_int_t
ngx_api_led_compose_part_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_api_led_compose_part_t *part = data;

    ngx_uint_t              status;
    ngx_api_led_compose_t  *cmp;

    cmp = part->compose;

    if (part->state != NGX_API_LED_PART_RUNNING || part->sr != sr) {
        /* timed out before, or called again */
        return NGX_OK;
    }

    if (part->timer.timer_set) {
        ngx_del_timer(&part->timer);
    }

    cmp->running--;

    status = sr->headers_out.status;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "api_led_compose: part \"%V\" done, rc:%i status:%ui "
                   "size:%uz", &part->conf->name, rc, status, part->len);

    if (rc == NGX_ERROR) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                NGX_HTTP_BAD_GATEWAY,
                                status ? "response incomplete"
                                       : "request failed");

    } else if (rc >= NGX_HTTP_SPECIAL_RESPONSE
               || (status == 0 && rc >= NGX_HTTP_OK))
    {
        /* the part answered with an error page nginx did not build yet */
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, rc,
                                NULL);

    } else if (status == 0) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                NGX_HTTP_BAD_GATEWAY, "no response");

    } else if (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED, status,
                                NULL);
        ngx_api_led_compose_part_problem(sr, part);

    } else {
        part->status = status;
        ngx_api_led_compose_part_parse(cmp, part);
    }

    if (!cmp->finished) {
        if (ngx_http_post_request(cmp->request, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A failed part that answered a problem (an inner composition, a policy
 * of the inner layer) lends its detail to the outer answer, so that a 502
 * of an Experience API names the System API that failed below it.
 */

static void
ngx_api_led_compose_part_problem(ngx_http_request_t *sr,
    ngx_api_led_compose_part_t *part)
{
    json_t       *doc, *detail;
    ngx_str_t     s;
    const char   *text;

    if (part->len == 0 || part->overflow
        || sr->headers_out.content_type.len < 4
        || ngx_strlcasestrn(sr->headers_out.content_type.data,
                            sr->headers_out.content_type.data
                            + sr->headers_out.content_type.len,
                            (u_char *) "json", 4 - 1)
           == NULL)
    {
        return;
    }

    doc = json_loadb((char *) part->body, part->len, 0, NULL);
    if (doc == NULL) {
        return;
    }

    detail = json_object_get(doc, "detail");

    if (json_is_string(detail)) {
        text = json_string_value(detail);

        s.data = (u_char *) text;
        s.len = ngx_min(ngx_strlen(text), 256);

        s.data = ngx_pnalloc(sr->pool, s.len + 1);
        if (s.data) {
            ngx_memcpy(s.data, text, s.len);
            s.data[s.len] = '\0';
            part->reason = s;
        }
    }

    json_decref(doc);
}


static void
ngx_api_led_compose_part_parse(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part)
{
    u_char  err[NGX_MAX_ERROR_STR];

    if (part->overflow) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status,
                                "larger than api_led_compose_max_part_size");
        return;
    }

    if (part->unreadable) {
        ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                part->status, "body not in memory");
        return;
    }

    if (part->len == 0 && part->status == NGX_HTTP_NO_CONTENT) {
        part->json = json_null();

    } else if (cmp->conf->merge == NGX_API_LED_MERGE_NAMESPACED
               && !(cmp->conf->parsed & (1U << (part - cmp->parts))))
    {
        /*
         * Copied into the answer as it is: validating is enough, and
         * an order of magnitude cheaper than building jansson's tree.
         */

        if (ngx_api_led_compose_json_valid(part->body,
                                           part->body + part->len)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, part->sr->connection->log, 0,
                          "api_led_compose: part \"%V\" answered invalid "
                          "JSON", &part->conf->name);

            ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                    part->status, "invalid JSON");
            return;
        }

    } else if (ngx_api_led_json_parse(part->body, part->len, &part->json,
                                      err, sizeof(err))
               != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, part->sr->connection->log, 0,
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
 * A part's own timer.  A proxied part is cancelled (its upstream request
 * is finalized the way a client abort finalizes it), so neither the
 * upstream connection nor the client's keepalive connection waits for it;
 * any other part runs to its end and its late answer is ignored.
 */

static void
ngx_api_led_compose_timeout(ngx_event_t *ev)
{
    ngx_api_led_compose_part_t *part = ev->data;

    ngx_connection_t       *c;
    ngx_http_request_t     *r, *sr;
    ngx_http_upstream_t    *u;
    ngx_api_led_compose_t  *cmp;

    cmp = part->compose;
    r = cmp->request;
    sr = part->sr;
    c = r->connection;

    if (part->state != NGX_API_LED_PART_RUNNING) {
        return;
    }

    ngx_http_set_log_request(c->log, r);

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "api_led_compose: part \"%V\" timed out after %Mms",
                  &part->conf->name, part->conf->timeout);

    cmp->running--;

    ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_TIMEDOUT,
                            NGX_HTTP_GATEWAY_TIME_OUT, "timeout");

    u = sr->upstream;

    if (u && u->cleanup && *u->cleanup) {
        (*u->cleanup)(sr);
    }

    if (!cmp->finished) {
        ngx_api_led_compose_run(cmp);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_api_led_compose_finish(ngx_api_led_compose_t *cmp)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_http_request_t  *r;

    r = cmp->request;
    cmp->finished = 1;

    if (cmp->doomed) {
        rc = ngx_api_led_compose_fail(cmp);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (cmp->conf->merge == NGX_API_LED_MERGE_DEEP) {
        rc = ngx_api_led_compose_deep(cmp, &b);

    } else {
        rc = ngx_api_led_compose_namespaced(cmp, &b);
    }

    if (rc == NGX_OK) {
        rc = ngx_api_led_compose_send(cmp, b);

    } else if (rc == NGX_DECLINED) {
        rc = ngx_api_led_problem_send(r, NGX_HTTP_BAD_GATEWAY,
                                      "merge_conflict",
                                      "part %V collides with an earlier "
                                      "part at \"%V\"", cmp->conflict_part,
                                      &cmp->conflict_at);
    }

    ngx_http_finalize_request(r, rc);
}


/* 502 upstream_failed or 504 upstream_timeout naming the failed parts */

static ngx_int_t
ngx_api_led_compose_fail(ngx_api_led_compose_t *cmp)
{
    u_char                      *p, *end, buf[1024];
    ngx_str_t                    detail;
    ngx_uint_t                   i, timedout, n;
    ngx_api_led_compose_part_t  *part;

    p = buf;
    end = buf + sizeof(buf);
    timedout = 0;
    n = 0;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->conf->optional || part->state == NGX_API_LED_PART_OK) {
            continue;
        }

        /* parts that did not run because another failed say nothing */
        if (part->cancelled) {
            continue;
        }

        p = ngx_slprintf(p, end, "%s%V ", n++ ? ", " : "", &part->conf->name);

        switch (part->state) {

        case NGX_API_LED_PART_TIMEDOUT:
            timedout = 1;
            p = ngx_slprintf(p, end, "(timed out after %Mms)",
                             part->conf->timeout);
            break;

        case NGX_API_LED_PART_SKIPPED:
            p = ngx_slprintf(p, end, "(not run: %V)", &part->reason);
            break;

        default: /* NGX_API_LED_PART_FAILED */
            if (part->status && part->reason.len) {
                p = ngx_slprintf(p, end, "(%ui, %V)", part->status,
                                 &part->reason);

            } else if (part->status) {
                p = ngx_slprintf(p, end, "(%ui)", part->status);

            } else {
                p = ngx_slprintf(p, end, "(not run: %V)", &part->reason);
            }
        }
    }

    detail.data = buf;
    detail.len = p - buf;

    if (timedout) {
        return ngx_api_led_problem_send(cmp->request,
                                        NGX_HTTP_GATEWAY_TIME_OUT,
                                        "upstream_timeout",
                                        "required parts failed: %V",
                                        &detail);
    }

    return ngx_api_led_problem_send(cmp->request, NGX_HTTP_BAD_GATEWAY,
                                    "upstream_failed",
                                    "required parts failed: %V", &detail);
}


/*
 * {"NAME": <part body>, ...} in declaration order.  A part's body was
 * validated as JSON and is copied as it came (numbers keep their digits);
 * a part that failed (only optional ones get here) is null.
 */

static ngx_int_t
ngx_api_led_compose_namespaced(ngx_api_led_compose_t *cmp, ngx_buf_t **bp)
{
    u_char                      *p, *s, *e;
    size_t                       len;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    ngx_api_led_compose_part_t  *part;

    len = sizeof("{}\n") - 1;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        len += sizeof("\"\":,") - 1 + part->conf->name.len;

        if (part->state == NGX_API_LED_PART_OK && part->len) {
            len += part->len;

        } else {
            len += sizeof("null") - 1;
        }
    }

    b = ngx_create_temp_buf(cmp->request->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    *p++ = '{';

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, part->conf->name.data, part->conf->name.len);
        *p++ = '"';
        *p++ = ':';

        if (part->state == NGX_API_LED_PART_OK && part->len) {
            s = part->body;
            e = part->body + part->len;

            while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'
                             || *s == '\n'))
            {
                s++;
            }

            while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
                             || e[-1] == '\n'))
            {
                e--;
            }

            p = ngx_cpymem(p, s, e - s);

        } else {
            p = ngx_cpymem(p, "null", sizeof("null") - 1);
        }
    }

    *p++ = '}';
    *p++ = '\n';

    b->last = p;
    *bp = b;

    return NGX_OK;
}


/*
 * Objects merged into one, in declaration order.  Objects under the same
 * key merge recursively, equal values agree; any other collision (values
 * that differ, an object and a non-object) follows conflict=: error
 * (502 merge_conflict), first (the earlier part's value stays) or last
 * (the later part's value wins).
 */

static ngx_int_t
ngx_api_led_compose_deep(ngx_api_led_compose_t *cmp, ngx_buf_t **bp)
{
    u_char                      *at, path[256];
    size_t                       hint;
    json_t                      *dst;
    ngx_str_t                    text;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    ngx_api_led_compose_part_t  *part;

    dst = json_object();
    if (dst == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->state != NGX_API_LED_PART_OK) {
            continue;
        }

        at = NULL;

        rc = ngx_api_led_compose_deep_merge(dst, part->json,
                                            cmp->conf->conflict, path, path,
                                            path + sizeof(path), &at);

        if (rc == NGX_ERROR) {
            json_decref(dst);
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            json_decref(dst);

            ngx_log_error(NGX_LOG_ERR, cmp->request->connection->log, 0,
                          "api_led_compose: part \"%V\" collides with an "
                          "earlier part at \"%*s\"", &part->conf->name,
                          at - path, path);

            /* the caller answers 502 merge_conflict */
            cmp->conflict_part = &part->conf->name;
            cmp->conflict_at.len = at - path;
            cmp->conflict_at.data = path;
            cmp->conflict_at.data = ngx_pstrdup(cmp->request->pool,
                                                &cmp->conflict_at);
            if (cmp->conflict_at.data == NULL) {
                return NGX_ERROR;
            }

            return NGX_DECLINED;
        }
    }

    hint = 0;

    for (i = 0; i < cmp->nparts; i++) {
        hint += cmp->parts[i].len;
    }

    rc = ngx_api_led_json_dump(cmp->request->pool, dst, hint, &text);

    json_decref(dst);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(cmp->request->pool, text.len + 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, text.data, text.len);
    *b->last++ = '\n';

    *bp = b;

    return NGX_OK;
}


/*
 * Merges src into dst.  Members of src are shared with dst, not copied:
 * the parts' documents are only read before the merge and freed after.
 * On a conflict (conflict=error) returns NGX_DECLINED with the JSON
 * Pointer of the collision in path .. *at.
 */

static ngx_int_t
ngx_api_led_compose_deep_merge(json_t *dst, json_t *src, ngx_uint_t conflict,
    u_char *path, u_char *p, u_char *end, u_char **at)
{
    u_char      *q;
    json_t      *value, *cur;
    ngx_int_t    rc;
    const char  *key;

    json_object_foreach(src, key, value) {

        cur = json_object_get(dst, key);

        if (cur == NULL) {
            if (json_object_set(dst, key, value) != 0) {
                return NGX_ERROR;
            }

            continue;
        }

        q = ngx_slprintf(p, end, "/%s", key);

        if (json_is_object(cur) && json_is_object(value)) {
            rc = ngx_api_led_compose_deep_merge(cur, value, conflict, path,
                                                q, end, at);
            if (rc != NGX_OK) {
                return rc;
            }

            continue;
        }

        /* parts that agree do not collide */
        if (json_equal(cur, value)) {
            continue;
        }

        switch (conflict) {

        case NGX_API_LED_CONFLICT_FIRST:
            break;

        case NGX_API_LED_CONFLICT_LAST:
            if (json_object_set(dst, key, value) != 0) {
                return NGX_ERROR;
            }

            break;

        default: /* NGX_API_LED_CONFLICT_ERROR */
            *at = q;
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_compose_send(ngx_api_led_compose_t *cmp, ngx_buf_t *b)
{
    u_char              *p;
    size_t               len;
    ngx_int_t            rc;
    ngx_str_t            partial;
    ngx_uint_t           i;
    ngx_chain_t          out;
    ngx_http_request_t  *r;

    r = cmp->request;

    len = 0;

    for (i = 0; i < cmp->nparts; i++) {
        if (cmp->parts[i].state != NGX_API_LED_PART_OK) {
            len += cmp->parts[i].conf->name.len + 1;
        }
    }

    if (len) {
        partial.data = ngx_pnalloc(r->pool, len);
        if (partial.data == NULL) {
            return NGX_ERROR;
        }

        p = partial.data;

        for (i = 0; i < cmp->nparts; i++) {
            if (cmp->parts[i].state != NGX_API_LED_PART_OK) {
                if (p != partial.data) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, cmp->parts[i].conf->name.data,
                               cmp->parts[i].conf->name.len);
            }
        }

        partial.len = p - partial.data;

        if (ngx_api_led_set_header(r, &ngx_api_led_compose_partial_header,
                                   &partial)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    r->headers_out.status = cmp->conf->status;
    r->headers_out.content_type = ngx_api_led_compose_json_type;
    r->headers_out.content_type_len = ngx_api_led_compose_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_api_led_compose_cleanup(void *data)
{
    ngx_api_led_compose_t *cmp = data;

    ngx_uint_t                   i;
    ngx_api_led_compose_part_t  *part;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->timer.timer_set) {
            ngx_del_timer(&part->timer);
        }

        if (part->json) {
            json_decref(part->json);
            part->json = NULL;
        }
    }
}


/*
 * Renders a URI or body template in the composition's request: nginx
 * variables and captures, and placeholders from finished parts.  In a
 * body, variables are JSON-escaped (write them inside a JSON string) and
 * placeholders become JSON values; in a URI, a placeholder must be a
 * scalar and is percent-encoded, and in the path it may not hold a "/".
 */

static ngx_int_t
ngx_api_led_compose_render(ngx_api_led_compose_t *cmp, ngx_array_t *segs,
    ngx_uint_t body, ngx_str_t *out, ngx_str_t *err)
{
    u_char                       *p;
    size_t                        len;
    json_t                       *doc, *v;
    ngx_uint_t                    i, k;
    ngx_http_request_t           *r;
    ngx_api_led_compose_seg_t    *seg;
    ngx_http_variable_value_t    *vv;
    ngx_api_led_compose_value_t  *val;

    r = cmp->request;
    seg = segs->elts;

    val = ngx_palloc(r->pool,
                     segs->nelts * sizeof(ngx_api_led_compose_value_t));
    if (val == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (i = 0; i < segs->nelts; i++) {
        val[i].copy = NGX_API_LED_COPY_RAW;

        switch (seg[i].type) {

        case NGX_API_LED_SEG_TEXT:
            val[i].value = seg[i].text;
            break;

        case NGX_API_LED_SEG_VAR:
            vv = ngx_http_get_indexed_variable(r, seg[i].index);

            if (vv == NULL || vv->not_found) {
                ngx_str_null(&val[i].value);

            } else {
                val[i].value.data = vv->data;
                val[i].value.len = vv->len;
            }

            if (body) {
                val[i].copy = NGX_API_LED_COPY_JSON_ESCAPE;
            }

            break;

        case NGX_API_LED_SEG_CAPTURE:
            k = 2 * seg[i].index;

            if (r->captures && k + 1 < r->ncaptures) {
                val[i].value.data = r->captures_data + r->captures[k];
                val[i].value.len = r->captures[k + 1] - r->captures[k];

            } else {
                ngx_str_null(&val[i].value);
            }

            if (body) {
                val[i].copy = NGX_API_LED_COPY_JSON_ESCAPE;
            }

            break;

        default: /* NGX_API_LED_SEG_PLACEHOLDER */
            doc = cmp->parts[seg[i].index].json;
            v = doc ? ngx_api_led_json_get(doc, &seg[i].path) : NULL;

            if (v == NULL) {
                goto not_found;
            }

            if (!body && json_is_string(v)) {
                val[i].value.data = (u_char *) json_string_value(v);
                val[i].value.len = json_string_length(v);

                if (!seg[i].in_args) {
                    if (ngx_strlchr(val[i].value.data,
                                    val[i].value.data + val[i].value.len,
                                    '/')
                        || val[i].value.len == 0)
                    {
                        goto unsafe;
                    }
                }

                val[i].copy = NGX_API_LED_COPY_URI_ESCAPE;
                break;
            }

            if (!body && (json_is_object(v) || json_is_array(v))) {
                goto unsafe;
            }

            if (ngx_api_led_json_dump(r->pool, v, 64, &val[i].value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        switch (val[i].copy) {

        case NGX_API_LED_COPY_JSON_ESCAPE:
            len += val[i].value.len
                   + ngx_escape_json(NULL, val[i].value.data,
                                     val[i].value.len);
            break;

        case NGX_API_LED_COPY_URI_ESCAPE:
            len += val[i].value.len
                   + 2 * ngx_escape_uri(NULL, val[i].value.data,
                                        val[i].value.len,
                                        NGX_ESCAPE_URI_COMPONENT);
            break;

        default:
            len += val[i].value.len;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL && len) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < segs->nelts; i++) {

        switch (val[i].copy) {

        case NGX_API_LED_COPY_JSON_ESCAPE:
            p = (u_char *) ngx_escape_json(p, val[i].value.data,
                                           val[i].value.len);
            break;

        case NGX_API_LED_COPY_URI_ESCAPE:
            p = (u_char *) ngx_escape_uri(p, val[i].value.data,
                                          val[i].value.len,
                                          NGX_ESCAPE_URI_COMPONENT);
            break;

        default:
            p = ngx_cpymem(p, val[i].value.data, val[i].value.len);
        }
    }

    out->len = p - out->data;

    return NGX_OK;

not_found:

    err->data = ngx_pnalloc(r->pool, seg[i].text.len + sizeof(" not found"));
    if (err->data == NULL) {
        return NGX_ERROR;
    }

    err->len = ngx_sprintf(err->data, "%V not found%Z", &seg[i].text)
               - err->data - 1;

    return NGX_DECLINED;

unsafe:

    err->data = ngx_pnalloc(r->pool,
                            seg[i].text.len + sizeof(" is not a URI value"));
    if (err->data == NULL) {
        return NGX_ERROR;
    }

    err->len = ngx_sprintf(err->data, "%V is not a URI value%Z",
                           &seg[i].text)
               - err->data - 1;

    return NGX_DECLINED;
}


/*
 * RFC 8259 validation without building a document: structure, strings
 * (escapes, surrogate pairs, no control characters, well-formed UTF-8, no
 * \u0000, as jansson), numbers, literals; any value at the top, nesting up
 * to NGX_API_LED_JSON_MAX_DEPTH levels, like the documents parsed.
 */

#define ngx_api_led_json_ws(p, end)                                           \
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) { \
        p++;                                                                  \
    }

static ngx_int_t
ngx_api_led_compose_json_valid(u_char *p, u_char *end)
{
    uint64_t    stack[(NGX_API_LED_JSON_MAX_DEPTH + 63) / 64];
    ngx_uint_t  depth;

    depth = 0;
    ngx_memzero(stack, sizeof(stack));

    ngx_api_led_json_ws(p, end);

value:

    if (p >= end) {
        return NGX_ERROR;
    }

    switch (*p) {

    case '{':
    case '[':
        if (depth == NGX_API_LED_JSON_MAX_DEPTH) {
            return NGX_ERROR;
        }

        if (*p == '{') {
            stack[depth / 64] |= (uint64_t) 1 << (depth % 64);

        } else {
            stack[depth / 64] &= ~((uint64_t) 1 << (depth % 64));
        }

        depth++;
        p++;

        ngx_api_led_json_ws(p, end);

        if (p < end && (*p == '}' || *p == ']')) {
            goto close;
        }

        if (stack[(depth - 1) / 64] & ((uint64_t) 1 << ((depth - 1) % 64))) {
            goto key;
        }

        goto value;

    case '"':
        p = ngx_api_led_compose_json_string(p, end);
        if (p == NULL) {
            return NGX_ERROR;
        }

        goto next;

    case 't':
        if (end - p < 4 || ngx_strncmp(p, "true", 4) != 0) {
            return NGX_ERROR;
        }

        p += 4;
        goto next;

    case 'f':
        if (end - p < 5 || ngx_strncmp(p, "false", 5) != 0) {
            return NGX_ERROR;
        }

        p += 5;
        goto next;

    case 'n':
        if (end - p < 4 || ngx_strncmp(p, "null", 4) != 0) {
            return NGX_ERROR;
        }

        p += 4;
        goto next;

    default:
        /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */

        if (*p == '-') {
            p++;
        }

        if (p >= end || *p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        if (*p++ != '0') {
            while (p < end && *p >= '0' && *p <= '9') {
                p++;
            }
        }

        if (p < end && *p == '.') {
            p++;

            if (p >= end || *p < '0' || *p > '9') {
                return NGX_ERROR;
            }

            while (p < end && *p >= '0' && *p <= '9') {
                p++;
            }
        }

        if (p < end && (*p == 'e' || *p == 'E')) {
            p++;

            if (p < end && (*p == '+' || *p == '-')) {
                p++;
            }

            if (p >= end || *p < '0' || *p > '9') {
                return NGX_ERROR;
            }

            while (p < end && *p >= '0' && *p <= '9') {
                p++;
            }
        }

        goto next;
    }

key:

    if (p >= end || *p != '"') {
        return NGX_ERROR;
    }

    p = ngx_api_led_compose_json_string(p, end);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_api_led_json_ws(p, end);

    if (p >= end || *p != ':') {
        return NGX_ERROR;
    }

    p++;

    ngx_api_led_json_ws(p, end);

    goto value;

next:

    /* a value ended */

    ngx_api_led_json_ws(p, end);

    if (depth == 0) {
        return (p == end) ? NGX_OK : NGX_ERROR;
    }

    if (p >= end) {
        return NGX_ERROR;
    }

    if (*p == ',') {
        p++;

        ngx_api_led_json_ws(p, end);

        if (stack[(depth - 1) / 64] & ((uint64_t) 1 << ((depth - 1) % 64))) {
            goto key;
        }

        goto value;
    }

close:

    /* *p must close the innermost container */

    if (stack[(depth - 1) / 64] & ((uint64_t) 1 << ((depth - 1) % 64))) {
        if (*p != '}') {
            return NGX_ERROR;
        }

    } else if (*p != ']') {
        return NGX_ERROR;
    }

    p++;
    depth--;

    goto next;
}


/* p at the opening quote; returns the position after the closing one */

static u_char *
ngx_api_led_compose_json_string(u_char *p, u_char *end)
{
    u_char      c;
    ngx_uint_t  i, cp, low;

    for (p++; p < end; /* void */) {

        c = *p;

        if (c == '"') {
            return p + 1;
        }

        if (c < 0x20) {
            return NULL;
        }

        if (c == '\\') {
            if (++p >= end) {
                return NULL;
            }

            switch (*p) {

            case '"': case '\\': case '/': case 'b':
            case 'f': case 'n': case 'r': case 't':
                p++;
                continue;

            case 'u':
                break;

            default:
                return NULL;
            }

            /* \uXXXX, a surrogate pair in two of them */

            low = 0;

        unicode:

            if (end - p < 5) {
                return NULL;
            }

            cp = 0;

            for (i = 1; i <= 4; i++) {
                c = p[i];
                cp <<= 4;

                if (c >= '0' && c <= '9') {
                    cp |= c - '0';

                } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                    cp |= (c | 0x20) - 'a' + 10;

                } else {
                    return NULL;
                }
            }

            p += 5;

            if (low) {
                if (cp < 0xdc00 || cp > 0xdfff) {
                    return NULL;
                }

                continue;
            }

            if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
                return NULL;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u') {
                    return NULL;
                }

                p++;
                low = 1;
                goto unicode;
            }

            continue;
        }

        if (c < 0x80) {
            p++;
            continue;
        }

        /* UTF-8: no overlong forms, no surrogates, at most U+10FFFF */

        if (c >= 0xc2 && c <= 0xdf) {
            if (end - p < 2 || (p[1] & 0xc0) != 0x80) {
                return NULL;
            }

            p += 2;
            continue;
        }

        if (c >= 0xe0 && c <= 0xef) {
            if (end - p < 3 || (p[1] & 0xc0) != 0x80
                || (p[2] & 0xc0) != 0x80
                || (c == 0xe0 && p[1] < 0xa0)
                || (c == 0xed && p[1] > 0x9f))
            {
                return NULL;
            }

            p += 3;
            continue;
        }

        if (c >= 0xf0 && c <= 0xf4) {
            if (end - p < 4 || (p[1] & 0xc0) != 0x80
                || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80
                || (c == 0xf0 && p[1] < 0x90)
                || (c == 0xf4 && p[1] > 0x8f))
            {
                return NULL;
            }

            p += 4;
            continue;
        }

        return NULL;
    }

    return NULL;
}


/*
 * The body filter keeps what a part produces (the part's own filters, a
 * response transformation for example, ran before) and passes nothing on:
 * a part's bytes never reach the client.
 */

static ngx_api_led_compose_part_t *
ngx_api_led_compose_find_part(ngx_http_request_t *r)
{
    ngx_uint_t              i;
    ngx_api_led_compose_t  *cmp;

    if (r->parent == NULL) {
        return NULL;
    }

    cmp = ngx_http_get_module_ctx(r->parent, ngx_api_led_compose_module);
    if (cmp == NULL) {
        return NULL;
    }

    for (i = 0; i < cmp->nparts; i++) {
        if (cmp->parts[i].sr == r) {
            return &cmp->parts[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_api_led_compose_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl;
    ngx_api_led_compose_part_t  *part;

    if (r == r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    part = ngx_api_led_compose_find_part(r);
    if (part == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (part->state == NGX_API_LED_PART_RUNNING
            && !part->overflow && !part->unreadable)
        {
            if (ngx_buf_in_memory(b)) {
                if (ngx_api_led_compose_keep(r, part, b->pos,
                                             b->last - b->pos)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

            } else if (ngx_buf_size(b)) {
                part->unreadable = 1;
            }
        }

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_compose_keep(ngx_http_request_t *r,
    ngx_api_led_compose_part_t *part, u_char *data, size_t size)
{
    u_char                          *p;
    size_t                           need;
    ngx_api_led_compose_loc_conf_t  *lcf;

    if (size == 0) {
        return NGX_OK;
    }

    lcf = part->compose->conf;
    need = part->len + size;

    if (need > lcf->max_part_size) {
        part->overflow = 1;
        return NGX_OK;
    }

    if (need > part->size) {

        if (part->size == 0 && r->headers_out.content_length_n > 0
            && (size_t) r->headers_out.content_length_n >= need
            && (size_t) r->headers_out.content_length_n
               <= lcf->max_part_size)
        {
            part->size = r->headers_out.content_length_n;

        } else {
            part->size = ngx_max(part->size * 2, ngx_max(need, 1024));
            part->size = ngx_min(part->size, lcf->max_part_size);
        }

        p = ngx_palloc(r->pool, part->size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (part->len) {
            ngx_memcpy(p, part->body, part->len);
            ngx_pfree(r->pool, part->body);
        }

        part->body = p;
    }

    ngx_memcpy(part->body + part->len, data, size);
    part->len += size;

    return NGX_OK;
}


/*
 * The layer contract, in the preaccess phase: it runs for subrequests,
 * unlike the access phase.  The caller of a subrequest is the location
 * of its parent request; a main request's caller is the client.
 */

static ngx_int_t
ngx_api_led_compose_callers_handler(ngx_http_request_t *r)
{
    u_char                          *p, allowed[128];
    ngx_str_t                        none;
    ngx_uint_t                       caller, i;
    ngx_api_led_loc_conf_t          *llcf, *pllcf;
    ngx_api_led_compose_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_compose_module);

    if (lcf->callers == 0) {
        return NGX_DECLINED;
    }

    if (r == r->main) {
        caller = NGX_API_LED_CALLER_CLIENT_INDEX;
        pllcf = NULL;

    } else {
        pllcf = ngx_http_get_module_loc_conf(r->parent, ngx_api_led_module);
        caller = pllcf->layer;
    }

    if (lcf->callers & (1U << caller)) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    p = allowed;

    for (i = 1; i <= NGX_API_LED_CALLER_CLIENT_INDEX; i++) {
        if (lcf->callers & (1U << i)) {
            p = ngx_slprintf(p, allowed + sizeof(allowed), "%s%V",
                             p == allowed ? "" : " ",
                             &ngx_api_led_compose_caller_names[i]);
        }
    }

    ngx_str_set(&none, "-");

    if (pllcf) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: layer violation: api \"%V\" called from "
                      "\"%V\" (api \"%V\", layer %V), allowed callers: %*s",
                      llcf->api.len ? &llcf->api : &none, &r->parent->uri,
                      pllcf->api.len ? &pllcf->api : &none,
                      &ngx_api_led_compose_caller_names[caller],
                      p - allowed, allowed);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: layer violation: api \"%V\" called by a "
                      "client, allowed callers: %*s",
                      llcf->api.len ? &llcf->api : &none,
                      p - allowed, allowed);
    }

    return ngx_api_led_problem_finalize(r, NGX_HTTP_FORBIDDEN,
                                        "layer_violation",
                                        "the %V layer may not call this API",
                                        &ngx_api_led_compose_caller_names[
                                            caller]);
}


/* $api_led_compose_status: "NAME:STATUS,..." in declaration order */

static ngx_int_t
ngx_api_led_compose_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_api_led_compose_t       *cmp;
    ngx_api_led_compose_part_t  *part;

    cmp = ngx_http_get_module_ctx(r, ngx_api_led_compose_module);

    if (cmp == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = 0;

    for (i = 0; i < cmp->nparts; i++) {
        len += cmp->parts[i].conf->name.len + sizeof(":timeout,") - 1;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "%V:", &part->conf->name);

        if (part->state == NGX_API_LED_PART_TIMEDOUT) {
            p = ngx_cpymem(p, "timeout", sizeof("timeout") - 1);

        } else if (part->status && part->state != NGX_API_LED_PART_RUNNING) {
            p = ngx_sprintf(p, "%03ui", part->status);

        } else {
            *p++ = '-';
        }
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* configuration */

static ngx_int_t
ngx_api_led_compose_add_variables(ngx_conf_t *cf)
{
    ngx_str_t             name = ngx_string("api_led_compose_status");
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_api_led_compose_status_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_compose_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_api_led_compose_callers_handler;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_compose_body_filter;

    return NGX_OK;
}


static void *
ngx_api_led_compose_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_compose_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_compose_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->parts = NULL;
     */

    conf->merge = NGX_CONF_UNSET_UINT;
    conf->conflict = NGX_CONF_UNSET_UINT;
    conf->status = NGX_CONF_UNSET_UINT;
    conf->max_part_size = NGX_CONF_UNSET_SIZE;
    conf->callers = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_api_led_compose_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_compose_loc_conf_t  *prev = parent;
    ngx_api_led_compose_loc_conf_t  *conf = child;

    /* parts are a location's own: a nested location has no handler */

    if (conf->merge == NGX_CONF_UNSET_UINT) {
        conf->merge = prev->merge;
        conf->conflict = prev->conflict;
    }

    ngx_conf_merge_uint_value(conf->merge, prev->merge,
                              NGX_API_LED_MERGE_NAMESPACED);
    ngx_conf_merge_uint_value(conf->conflict, prev->conflict,
                              NGX_API_LED_CONFLICT_ERROR);
    ngx_conf_merge_uint_value(conf->status, prev->status, NGX_HTTP_OK);
    ngx_conf_merge_size_value(conf->max_part_size, prev->max_part_size,
                              1024 * 1024);
    ngx_conf_merge_uint_value(conf->callers, prev->callers, 0);

    return NGX_CONF_OK;
}


static char *
ngx_api_led_compose_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_compose_loc_conf_t *lcf = conf;

    char                      *rv;
    ngx_conf_t                 save;
    ngx_http_core_loc_conf_t  *clcf;

    if (lcf->parts) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler of the location";
    }

    lcf->parts = ngx_array_create(cf->pool, 4,
                                  sizeof(ngx_api_led_compose_part_conf_t));
    if (lcf->parts == NULL) {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_api_led_compose_part;
    cf->handler_conf = lcf;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (lcf->parts->nelts == 0) {
        return "has no parts";
    }

    if (ngx_api_led_compose_resolve(cf, lcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_api_led_compose_handler;

    return NGX_CONF_OK;
}


/* NAME [METHOD] URI [body=TEMPLATE] [optional] [timeout=TIME] [after=NAME] */

static char *
ngx_api_led_compose_part(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_api_led_compose_loc_conf_t *lcf = conf;

    u_char                           *p, *last;
    ngx_str_t                        *value, s, *name;
    ngx_int_t                         t;
    ngx_uint_t                        i, n;
    ngx_api_led_compose_part_conf_t  *pc, *parts;

    static ngx_str_t  methods[] = {
        ngx_string("GET"), ngx_string("POST"), ngx_string("PUT"),
        ngx_string("PATCH"), ngx_string("DELETE")
    };

    static ngx_uint_t  method_codes[] = {
        NGX_HTTP_GET, NGX_HTTP_POST, NGX_HTTP_PUT, NGX_HTTP_PATCH,
        NGX_HTTP_DELETE
    };

    value = cf->args->elts;
    n = cf->args->nelts;

    if (!ngx_api_led_compose_name_is_valid(&value[0])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid part name \"%V\": use 1 to 64 letters, "
                           "digits, \"_\" and \"-\", starting with a letter "
                           "or \"_\"", &value[0]);
        return NGX_CONF_ERROR;
    }

    parts = lcf->parts->elts;

    for (i = 0; i < lcf->parts->nelts; i++) {
        if (parts[i].name.len == value[0].len
            && ngx_strncmp(parts[i].name.data, value[0].data,
                           value[0].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate part name \"%V\"", &value[0]);
            return NGX_CONF_ERROR;
        }
    }

    if (lcf->parts->nelts == NGX_API_LED_COMPOSE_MAX_PARTS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many parts: at most %d",
                           NGX_API_LED_COMPOSE_MAX_PARTS);
        return NGX_CONF_ERROR;
    }

    pc = ngx_array_push(lcf->parts);
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(pc, sizeof(ngx_api_led_compose_part_conf_t));

    pc->name = value[0];
    pc->line = cf->conf_file->line;
    pc->method = 0;

    i = 1;

    if (i < n) {
        for (t = 0; t < 5; t++) {
            if (value[i].len == methods[t].len
                && ngx_strncmp(value[i].data, methods[t].data,
                               value[i].len) == 0)
            {
                pc->method = method_codes[t];
                pc->method_name = methods[t];
                i++;
                break;
            }
        }
    }

    if (i >= n || value[i].len == 0 || value[i].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "part \"%V\" needs a URI that starts with \"/\"",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&pc->uri, cf->pool, 4,
                       sizeof(ngx_api_led_compose_seg_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_compose_tmpl(cf, &value[i], &pc->uri, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i++; i < n; i++) {

        if (ngx_strncmp(value[i].data, "body=", 5) == 0) {
            if (pc->body) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"body=\" in part \"%V\"",
                                   &value[0]);
                return NGX_CONF_ERROR;
            }

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            pc->body = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_api_led_compose_seg_t));
            if (pc->body == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_api_led_compose_tmpl(cf, &s, pc->body, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (value[i].len == 8
            && ngx_strncmp(value[i].data, "optional", 8) == 0)
        {
            pc->optional = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            t = ngx_parse_time(&s, 0);

            if (t == NGX_ERROR || t == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\" in part \"%V\"",
                                   &s, &value[0]);
                return NGX_CONF_ERROR;
            }

            pc->timeout = t;
            continue;
        }

        if (ngx_strncmp(value[i].data, "after=", 6) == 0) {
            p = value[i].data + 6;
            last = value[i].data + value[i].len;

            if (pc->after_names == NULL) {
                pc->after_names = ngx_array_create(cf->pool, 2,
                                                   sizeof(ngx_str_t));
                if (pc->after_names == NULL) {
                    return NGX_CONF_ERROR;
                }
            }

            /* after=a,b and after=a after=b */

            while (p <= last) {
                s.data = p;

                while (p < last && *p != ',') {
                    p++;
                }

                s.len = p - s.data;
                p++;

                if (!ngx_api_led_compose_name_is_valid(&s)) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid part name \"%V\" in "
                                       "\"%V\"", &s, &value[i]);
                    return NGX_CONF_ERROR;
                }

                name = ngx_array_push(pc->after_names);
                if (name == NULL) {
                    return NGX_CONF_ERROR;
                }

                *name = s;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in part \"%V\"",
                           &value[i], &value[0]);
        return NGX_CONF_ERROR;
    }

    if (pc->method == 0) {
        if (pc->body) {
            pc->method = NGX_HTTP_POST;
            ngx_str_set(&pc->method_name, "POST");

        } else {
            pc->method = NGX_HTTP_GET;
            ngx_str_set(&pc->method_name, "GET");
        }

    } else if (pc->body && pc->method == NGX_HTTP_GET) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "part \"%V\": a GET part has no body",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_api_led_compose_name_is_valid(ngx_str_t *name)
{
    u_char      ch;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 64) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        ch = name->data[i];

        if (!(isalpha(ch) || ch == '_'
              || (i && (isdigit(ch) || ch == '-'))))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Compiles a template into segments: text, $variable / ${variable}, $N
 * captures, and {PART} / {PART/json/pointer} placeholders.  A "{" that
 * does not start a placeholder (JSON's own braces) is text.
 */

static ngx_int_t
ngx_api_led_compose_tmpl(ngx_conf_t *cf, ngx_str_t *src, ngx_array_t *segs,
    ngx_uint_t uri)
{
    char                       *err;
    u_char                     *p, *last, *start, *text, *q;
    ngx_str_t                   name, ptr;
    ngx_int_t                   index;
    ngx_uint_t                  in_args, braced;
    ngx_api_led_compose_seg_t  *seg;

    p = src->data;
    last = src->data + src->len;
    text = p;
    in_args = 0;

    while (p < last) {

        if (*p == '?' && uri) {
            in_args = 1;
            p++;
            continue;
        }

        if (*p == '$') {
            start = p++;
            braced = 0;

            if (p < last && *p == '{') {
                braced = 1;
                p++;
            }

            name.data = p;

            while (p < last && (isalnum(*p) || *p == '_')) {
                p++;
            }

            name.len = p - name.data;

            if (braced) {
                if (p >= last || *p != '}') {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "the closing bracket in \"%V\" "
                                       "variable is missing", &name);
                    return NGX_ERROR;
                }

                p++;
            }

            if (name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid variable name in \"%V\"", src);
                return NGX_ERROR;
            }

            if (start > text) {
                seg = ngx_array_push(segs);
                if (seg == NULL) {
                    return NGX_ERROR;
                }

                ngx_memzero(seg, sizeof(ngx_api_led_compose_seg_t));
                seg->type = NGX_API_LED_SEG_TEXT;
                seg->text.data = text;
                seg->text.len = start - text;
            }

            seg = ngx_array_push(segs);
            if (seg == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(seg, sizeof(ngx_api_led_compose_seg_t));
            seg->in_args = in_args;

            index = ngx_atoi(name.data, name.len);

            if (index != NGX_ERROR && name.len == 1) {
                seg->type = NGX_API_LED_SEG_CAPTURE;
                seg->index = index;

            } else {
                index = ngx_http_get_variable_index(cf, &name);
                if (index == NGX_ERROR) {
                    return NGX_ERROR;
                }

                seg->type = NGX_API_LED_SEG_VAR;
                seg->index = index;
            }

            text = p;
            continue;
        }

        if (*p == '{' && p + 1 < last && (isalpha(p[1]) || p[1] == '_')) {
            q = p + 1;

            while (q < last && (isalnum(*q) || *q == '_' || *q == '-')) {
                q++;
            }

            if (q >= last || (*q != '/' && *q != '}')) {
                /* not a placeholder */
                p++;
                continue;
            }

            name.data = p + 1;
            name.len = q - name.data;

            ptr.data = q;

            while (q < last && *q != '}') {
                q++;
            }

            if (q >= last) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unterminated placeholder \"%*s\"",
                                   (size_t) (last - p), p);
                return NGX_ERROR;
            }

            ptr.len = q - ptr.data;

            if (p > text) {
                seg = ngx_array_push(segs);
                if (seg == NULL) {
                    return NGX_ERROR;
                }

                ngx_memzero(seg, sizeof(ngx_api_led_compose_seg_t));
                seg->type = NGX_API_LED_SEG_TEXT;
                seg->text.data = text;
                seg->text.len = p - text;
            }

            seg = ngx_array_push(segs);
            if (seg == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(seg, sizeof(ngx_api_led_compose_seg_t));
            seg->type = NGX_API_LED_SEG_PLACEHOLDER;
            seg->text.data = p;
            seg->text.len = q + 1 - p;
            seg->part_name = name;
            seg->in_args = in_args;

            err = ngx_api_led_json_path_parse(cf->pool, &ptr, &seg->path);
            if (err) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid JSON Pointer \"%V\" in \"%V\": %s",
                                   &ptr, &seg->text, err);
                return NGX_ERROR;
            }

            p = q + 1;
            text = p;
            continue;
        }

        p++;
    }

    if (p > text) {
        seg = ngx_array_push(segs);
        if (seg == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(seg, sizeof(ngx_api_led_compose_seg_t));
        seg->type = NGX_API_LED_SEG_TEXT;
        seg->text.data = text;
        seg->text.len = p - text;
    }

    return NGX_OK;
}


/* part names to indexes, dependencies, cycles */

static ngx_int_t
ngx_api_led_compose_resolve(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *lcf)
{
    u_char                           *p, *end, buf[1024];
    u_char                            color[NGX_API_LED_COMPOSE_MAX_PARTS];
    ngx_str_t                        *name;
    ngx_uint_t                        i, j, k, n, found, len, line;
    ngx_uint_t                        stack[NGX_API_LED_COMPOSE_MAX_PARTS + 1];
    ngx_array_t                      *segs;
    ngx_api_led_compose_seg_t        *seg;
    ngx_api_led_compose_part_conf_t  *pc;

    pc = lcf->parts->elts;
    n = lcf->parts->nelts;
    line = cf->conf_file->line;

    for (i = 0; i < n; i++) {

        /* placeholders */

        for (k = 0; k < 2; k++) {
            segs = (k == 0) ? &pc[i].uri : pc[i].body;

            if (segs == NULL) {
                continue;
            }

            seg = segs->elts;

            for (j = 0; j < segs->nelts; j++) {
                if (seg[j].type != NGX_API_LED_SEG_PLACEHOLDER) {
                    continue;
                }

                for (found = 0; found < n; found++) {
                    if (pc[found].name.len == seg[j].part_name.len
                        && ngx_strncmp(pc[found].name.data,
                                       seg[j].part_name.data,
                                       seg[j].part_name.len) == 0)
                    {
                        break;
                    }
                }

                if (found == n) {
                    cf->conf_file->line = pc[i].line;
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unknown part \"%V\" in placeholder "
                                       "\"%V\" of part \"%V\"",
                                       &seg[j].part_name, &seg[j].text,
                                       &pc[i].name);
                    cf->conf_file->line = line;
                    return NGX_ERROR;
                }

                seg[j].index = found;
                pc[i].uses |= 1U << found;
                pc[i].after |= 1U << found;
                lcf->parsed |= 1U << found;
            }
        }

        /* after= */

        if (pc[i].after_names) {
            name = pc[i].after_names->elts;

            for (j = 0; j < pc[i].after_names->nelts; j++) {
                for (found = 0; found < n; found++) {
                    if (pc[found].name.len == name[j].len
                        && ngx_strncmp(pc[found].name.data, name[j].data,
                                       name[j].len) == 0)
                    {
                        break;
                    }
                }

                if (found == n) {
                    cf->conf_file->line = pc[i].line;
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unknown part \"%V\" in \"after=\" "
                                       "of part \"%V\"", &name[j],
                                       &pc[i].name);
                    cf->conf_file->line = line;
                    return NGX_ERROR;
                }

                pc[i].after |= 1U << found;
            }
        }
    }

    ngx_memzero(color, sizeof(color));

    for (i = 0; i < n; i++) {
        if (color[i]) {
            continue;
        }

        len = 0;

        if (ngx_api_led_compose_find_cycle(pc, n, i, color, stack, 0, &len)
            != NGX_OK)
        {
            p = buf;
            end = buf + sizeof(buf);

            for (j = 0; j < len; j++) {
                p = ngx_slprintf(p, end, "%s%V", j ? " -> " : "",
                                 &pc[stack[j]].name);
            }

            cf->conf_file->line = pc[stack[0]].line;
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "parts depend on each other in a cycle: %*s",
                               p - buf, buf);
            cf->conf_file->line = line;
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Depth-first search (color 1: on the path, 2: done).  On a cycle,
 * stack[0 .. *len - 1] holds it, first part repeated at the end.
 */

static ngx_int_t
ngx_api_led_compose_find_cycle(ngx_api_led_compose_part_conf_t *pc,
    ngx_uint_t n, ngx_uint_t i, u_char *color, ngx_uint_t *stack,
    ngx_uint_t depth, ngx_uint_t *len)
{
    ngx_uint_t  j, k;

    color[i] = 1;
    stack[depth] = i;

    for (j = 0; j < n; j++) {
        if (!(pc[i].after & (1U << j))) {
            continue;
        }

        if (color[j] == 1) {
            /* the cycle starts where j is on the path */
            for (k = 0; stack[k] != j; k++) { /* void */ }

            ngx_memmove(stack, stack + k, (depth - k + 1) * sizeof(ngx_uint_t));
            stack[depth - k + 1] = j;
            *len = depth - k + 2;

            return NGX_ERROR;
        }

        if (color[j] == 0
            && ngx_api_led_compose_find_cycle(pc, n, j, color, stack,
                                              depth + 1, len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    color[i] = 2;

    return NGX_OK;
}


/* api_led_compose_merge namespaced | deep [conflict=error|first|last] */

static char *
ngx_api_led_compose_merge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_compose_loc_conf_t *lcf = conf;

    ngx_str_t  *value, s;

    if (lcf->merge != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "namespaced") == 0) {
        lcf->merge = NGX_API_LED_MERGE_NAMESPACED;

    } else if (ngx_strcmp(value[1].data, "deep") == 0) {
        lcf->merge = NGX_API_LED_MERGE_DEEP;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid merge mode \"%V\", must be "
                           "\"namespaced\" or \"deep\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->conflict = NGX_API_LED_CONFLICT_ERROR;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "conflict=", 9) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (lcf->merge != NGX_API_LED_MERGE_DEEP) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"conflict=\" applies to the deep merge only");
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 9;
    s.len = value[2].len - 9;

    if (s.len == 5 && ngx_strncmp(s.data, "error", 5) == 0) {
        lcf->conflict = NGX_API_LED_CONFLICT_ERROR;

    } else if (s.len == 5 && ngx_strncmp(s.data, "first", 5) == 0) {
        lcf->conflict = NGX_API_LED_CONFLICT_FIRST;

    } else if (s.len == 4 && ngx_strncmp(s.data, "last", 4) == 0) {
        lcf->conflict = NGX_API_LED_CONFLICT_LAST;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid conflict rule \"%V\", must be \"error\", "
                           "\"first\" or \"last\"", &s);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* api_led_callers experience | process | system | client | any ... */

static char *
ngx_api_led_compose_callers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_compose_loc_conf_t *lcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, k;

    if (lcf->callers != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->callers = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "any") == 0) {
            lcf->callers |= NGX_API_LED_CALLER_ANY;
            continue;
        }

        for (k = 1; k <= NGX_API_LED_CALLER_CLIENT_INDEX; k++) {
            if (ngx_strcmp(value[i].data,
                           ngx_api_led_compose_caller_names[k].data)
                == 0)
            {
                break;
            }
        }

        if (k > NGX_API_LED_CALLER_CLIENT_INDEX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown caller \"%V\", must be "
                               "\"experience\", \"process\", \"system\", "
                               "\"client\" or \"any\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        lcf->callers |= 1U << k;
    }

    return NGX_CONF_OK;
}
