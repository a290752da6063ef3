
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration, the request path: the content handler starts the parts
 * of a composition as subrequests when their predecessors are done, keeps
 * what they answer (a body filter), enforces their timeouts and answers
 * once every part is done.
 *
 * Parts are background subrequests: they never become the connection's
 * active request, so the composition can answer (a required part timed out)
 * while a part is still running, and the body filter keeps every byte a
 * part produces (nothing of it reaches the client).  Unlike in-memory
 * subrequests, a part may itself be a composition (an Experience API
 * composing Process APIs that compose System APIs).
 *
 * A module of its own (ngx_api_led_compose_run_module), without
 * directives: at postconfiguration it makes its handler the content
 * handler of the locations with api_led_compose and installs its body
 * filter, when there are any.
 */


#include "ngx_api_led_compose.h"


/* how a rendered value is copied into a URI or a body */
#define NGX_API_LED_COPY_RAW           0
#define NGX_API_LED_COPY_JSON_ESCAPE   1
#define NGX_API_LED_COPY_URI_ESCAPE    2


typedef struct {
    ngx_str_t                         value;
    ngx_uint_t                        copy;
} ngx_api_led_compose_value_t;


static ngx_int_t ngx_api_led_compose_run_init(ngx_conf_t *cf);
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
static ngx_int_t ngx_api_led_compose_part_json(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part, u_char *err, size_t errlen);
static void ngx_api_led_compose_part_parse(ngx_api_led_compose_t *cmp,
    ngx_api_led_compose_part_t *part);
static void ngx_api_led_compose_timeout(ngx_event_t *ev);
static void ngx_api_led_compose_finish(ngx_api_led_compose_t *cmp);
static ngx_int_t ngx_api_led_compose_fail(ngx_api_led_compose_t *cmp);
static ngx_int_t ngx_api_led_compose_send(ngx_api_led_compose_t *cmp,
    ngx_buf_t *b);
static void ngx_api_led_compose_cleanup(void *data);
static ngx_int_t ngx_api_led_compose_render(ngx_api_led_compose_t *cmp,
    ngx_array_t *segs, ngx_uint_t body, ngx_str_t *out, ngx_str_t *err);
static ngx_api_led_compose_part_t *ngx_api_led_compose_find_part(
    ngx_http_request_t *r);
static ngx_int_t ngx_api_led_compose_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_api_led_compose_keep(ngx_http_request_t *r,
    ngx_api_led_compose_part_t *part, u_char *data, size_t size);


static ngx_str_t  ngx_api_led_compose_json_type =
    ngx_string(NGX_API_LED_JSON_TYPE);
static ngx_api_led_edit_name_t  ngx_api_led_compose_partial_header =
    { ngx_string("API-Led-Partial"), ngx_string("api-led-partial"), 0 };
static ngx_str_t  ngx_api_led_compose_cid_header =
    ngx_string(NGX_API_LED_CORRELATION_HEADER);

/* the request headers a part gets (hashes at postconfiguration) */
static ngx_api_led_edit_name_t  ngx_api_led_compose_h_cid = {
    ngx_string(NGX_API_LED_CORRELATION_HEADER),
    ngx_string(NGX_API_LED_CORRELATION_LOWCASE), 0
};
static ngx_api_led_edit_name_t  ngx_api_led_compose_h_type =
    { ngx_string("Content-Type"), ngx_string("content-type"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_compose_h_length =
    { ngx_string("Content-Length"), ngx_string("content-length"), 0 };


static ngx_http_module_t  ngx_api_led_compose_run_module_ctx = {
    NULL,                                  /* preconfiguration */
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


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


/*
 * The locations with api_led_compose get the content handler; a content
 * handler set there by a later directive (proxy_pass after the block) is
 * a conflict, reported with the block's file and line.
 */

static ngx_int_t
ngx_api_led_compose_run_init(ngx_conf_t *cf)
{
    ngx_uint_t                        i;
    ngx_api_led_compose_location_t   *loc;
    ngx_api_led_compose_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_compose_module);

    if (cmcf->locations.nelts == 0) {
        return NGX_OK;
    }

    ngx_api_led_compose_h_cid.hash =
        ngx_hash_key(ngx_api_led_compose_h_cid.lowcase.data,
                     ngx_api_led_compose_h_cid.lowcase.len);
    ngx_api_led_compose_h_type.hash =
        ngx_hash_key(ngx_api_led_compose_h_type.lowcase.data,
                     ngx_api_led_compose_h_type.lowcase.len);
    ngx_api_led_compose_h_length.hash =
        ngx_hash_key(ngx_api_led_compose_h_length.lowcase.data,
                     ngx_api_led_compose_h_length.lowcase.len);

    loc = cmcf->locations.elts;

    for (i = 0; i < cmcf->locations.nelts; i++) {

        if (loc[i].clcf->handler) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"api_led_compose\" directive conflicts with "
                          "another content handler of the location in "
                          "%s:%ui", loc[i].file, loc[i].line);
            return NGX_ERROR;
        }

        loc[i].clcf->handler = ngx_api_led_compose_handler;
    }

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_compose_body_filter;

    return NGX_OK;
}


/* the content handler */

static ngx_int_t
ngx_api_led_compose_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_str_t                       *cid;
    ngx_table_elt_t                 *h;
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
                          "through \"%V\"",
                          ngx_api_led_log_value(r->pool, &r->uri));
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

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
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
     * Parts carry the correlation id.  A request without a body of its own
     * gets it among its headers once (as in an API location, where the
     * core module added it already), and the parts share its headers;
     * with a body (GET parts send none), each part gets headers of its
     * own.
     */

    cmp->copy_headers = 1;

    if (r->headers_in.content_length == NULL
        && r->headers_in.transfer_encoding == NULL
        && !r->headers_in.chunked)
    {
        h = ngx_api_led_header_find(&r->headers_in.headers,
                                    &ngx_api_led_compose_cid_header);

        if (!(h
              && h->value.len == cid->len
              && ngx_strncmp(h->value.data, cid->data, h->value.len) == 0)
            && ngx_api_led_edit_headers_in_set(r, &ngx_api_led_compose_h_cid,
                                               cid, 0)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cmp->copy_headers = 0;
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

    all = (cmp->nparts == NGX_API_LED_COMPOSE_MAX_PARTS)
          ? 0xffffffff : ((1U << cmp->nparts) - 1);

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
                   &pc->name, &pc->method_name,
                   ngx_api_led_log_value(r->pool, &uri),
                   ngx_api_led_log_value(r->pool, &args));

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
    u_char     *p;
    ngx_str_t  *cid, len;

    static ngx_str_t  drop[] = {
        ngx_string("Content-Length"),
        ngx_string("Content-Type"),
        ngx_string("Transfer-Encoding"),
        ngx_string(NGX_API_LED_CORRELATION_HEADER),
        ngx_null_string
    };

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_edit_headers_in_copy(sr, drop) != NGX_OK) {
        return NGX_ERROR;
    }

    sr->headers_in.content_length_n = -1;
    sr->headers_in.chunked = 0;

    if (body) {
        p = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        len.data = p;
        len.len = ngx_sprintf(p, "%uz", body->len) - p;

        if (ngx_api_led_edit_headers_in_set(sr, &ngx_api_led_compose_h_type,
                                            &ngx_api_led_compose_json_type, 1)
            != NGX_OK
            || ngx_api_led_edit_headers_in_set(sr,
                                               &ngx_api_led_compose_h_length,
                                               &len, 1)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        sr->headers_in.content_length_n = body->len;
    }

    return ngx_api_led_edit_headers_in_set(sr, &ngx_api_led_compose_h_cid,
                                           cid, 1);
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
    u_char        err[NGX_API_LED_JSON_ERRLEN];
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

    if (ngx_api_led_json_parse(part->body, part->len, 0, &doc, err,
                               sizeof(err))
        != NGX_OK)
    {
        return;
    }

    detail = json_object_get(doc, "detail");

    if (json_is_string(detail)) {
        text = json_string_value(detail);

        s.data = (u_char *) text;
        s.len = ngx_api_led_utf8_cut(s.data, ngx_min(ngx_strlen(text), 256));

        s.data = ngx_pnalloc(sr->pool, s.len + 1);
        if (s.data) {
            ngx_memcpy(s.data, text, s.len);
            s.data[s.len] = '\0';
            part->reason = s;
        }
    }

    json_decref(doc);
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

        if (ngx_api_led_json_validate(part->body, part->len) != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, part->sr->connection->log, 0,
                          "api_led_compose: part \"%V\" answered invalid "
                          "JSON", &part->conf->name);

            ngx_api_led_compose_end(cmp, part, NGX_API_LED_PART_FAILED,
                                    part->status, "invalid JSON");
            return;
        }

    } else if (ngx_api_led_compose_part_json(cmp, part, err, sizeof(err))
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
    detail.len = ngx_api_led_utf8_cut(buf, p - buf);

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


static ngx_int_t
ngx_api_led_compose_send(ngx_api_led_compose_t *cmp, ngx_buf_t *b)
{
    u_char              *p;
    size_t               len;
    ngx_str_t            partial;
    ngx_uint_t           i;
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

        if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                         &ngx_api_led_compose_partial_header,
                                         NULL, &partial)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_api_led_send_buf(r, cmp->conf->status,
                                &ngx_api_led_compose_json_type, b);
}


static void
ngx_api_led_compose_cleanup(void *data)
{
    ngx_api_led_compose_t *cmp = data;

    ngx_uint_t                   i;
    ngx_api_led_json_arena_t    *prev;
    ngx_api_led_compose_part_t  *part;

    prev = ngx_api_led_json_arena_enter(cmp->arena);

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

    ngx_api_led_json_arena_leave(prev);
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

