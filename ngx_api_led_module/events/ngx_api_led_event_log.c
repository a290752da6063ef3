
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * ngx_api_led_event_log_module: api_led_event publishes once the outcome
 * is known.  A client's request publishes from the log phase, after its
 * response went out (the event never delays it); a subrequest (a
 * composition's part) publishes when its response ends, since nginx runs
 * no log phase for it.  An event is published when the status and the
 * method match its on= and methods=; its data is the template rendered
 * with the client's body ({request...}) and the response after the
 * response transformation ({response...}), of which a bounded copy is
 * kept in the locations whose events read it, and only there.
 */


#include "ngx_api_led_event.h"


typedef struct {
    u_char                           *body;      /* the response, kept */
    size_t                            len;
    size_t                            size;
    unsigned                          overflow:1;
    unsigned                          published:1;
} ngx_api_led_event_ctx_t;


/* the documents of one request's events, parsed once */
typedef struct {
    ngx_http_request_t               *request;
    ngx_api_led_event_ctx_t          *ctx;
    ngx_api_led_json_arena_t         *arena;
    json_t                           *docs[2];
    unsigned                          tried:2;
} ngx_api_led_event_docs_t;


static void ngx_api_led_event_publish_all(ngx_http_request_t *r,
    ngx_api_led_event_loc_conf_t *lecf, ngx_api_led_event_ctx_t *ctx);
static ngx_int_t ngx_api_led_event_matches(ngx_http_request_t *r,
    ngx_api_led_event_conf_t *ec, ngx_uint_t status);
static json_t *ngx_api_led_event_doc(void *data, ngx_api_led_tmpl_seg_t *seg);
static ngx_int_t ngx_api_led_event_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_event_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_event_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_api_led_event_keep(ngx_http_request_t *r,
    ngx_api_led_event_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_api_led_event_log_init(ngx_conf_t *cf);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_http_module_t  ngx_api_led_event_log_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_event_log_init,            /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_event_log_module = {
    NGX_MODULE_V1,
    &ngx_api_led_event_log_module_ctx,     /* module context */
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


/* a client's request: its status is known, its response is gone */

static ngx_int_t
ngx_api_led_event_log_handler(ngx_http_request_t *r)
{
    ngx_api_led_event_ctx_t       *ctx;
    ngx_api_led_event_loc_conf_t  *lecf;

    if (r != r->main) {
        /* log_subrequest: the subrequest published from the filter */
        return NGX_OK;
    }

    lecf = ngx_http_get_module_loc_conf(r, ngx_api_led_event_module);

    if (lecf->events == NULL) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_event_log_module);

    if (ctx && ctx->published) {
        return NGX_OK;
    }

    ngx_api_led_event_publish_all(r, lecf, ctx);

    return NGX_OK;
}


static void
ngx_api_led_event_publish_all(ngx_http_request_t *r,
    ngx_api_led_event_loc_conf_t *lecf, ngx_api_led_event_ctx_t *ctx)
{
    ngx_str_t                   data, err, *dp;
    ngx_uint_t                  i, status;
    ngx_api_led_event_conf_t   *ec;
    ngx_api_led_event_docs_t    docs;

    status = r->err_status ? r->err_status : r->headers_out.status;

    ngx_memzero(&docs, sizeof(ngx_api_led_event_docs_t));
    docs.request = r;
    docs.ctx = ctx;

    ec = lecf->events->elts;

    for (i = 0; i < lecf->events->nelts; i++) {

        if (!ngx_api_led_event_matches(r, &ec[i], status)) {
            continue;
        }

        dp = NULL;

        if (ec[i].def.data) {
            ngx_str_null(&err);

            if (ngx_api_led_tmpl_render(r, ec[i].def.data, 1,
                                        ngx_api_led_event_doc, &docs, &data,
                                        &err)
                != NGX_OK)
            {
                if (err.len == 0) {
                    ngx_str_set(&err, "its data was not made");
                }

                ngx_api_led_publish_drop(r, &ec[i].def, &err);
                continue;
            }

            dp = &data;
        }

        (void) ngx_api_led_publish(r, &ec[i].def, dp);
    }
}


static ngx_int_t
ngx_api_led_event_matches(ngx_http_request_t *r, ngx_api_led_event_conf_t *ec,
    ngx_uint_t status)
{
    ngx_uint_t  *code, i;

    if (ec->methods && !(ec->methods & r->method)) {
        return 0;
    }

    /*
     * A status nginx logs for a request it closed without an answer (444,
     * 499 when the client left, 408 when its body stopped coming) is in
     * no class: only an on= that names the code matches it.
     */

    if (status >= 100 && status < 600
        && r->header_sent
        && (ec->classes & (1 << status / 100)))
    {
        return 1;
    }

    if (ec->codes) {
        code = ec->codes->elts;

        for (i = 0; i < ec->codes->nelts; i++) {
            if (code[i] == status) {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * {request...} and {response...}: the body parsed once, in the request's
 * jansson arena (a short window: the template's variables are evaluated
 * outside it).  NULL: no body, not JSON, or larger than kept.
 */

static json_t *
ngx_api_led_event_doc(void *data, ngx_api_led_tmpl_seg_t *seg)
{
    ngx_api_led_event_docs_t *docs = data;

    u_char                     err[NGX_API_LED_JSON_ERRLEN];
    ngx_int_t                  rc;
    ngx_str_t                  text;
    ngx_uint_t                 which;
    ngx_http_request_t        *r;
    ngx_api_led_json_arena_t  *prev;

    which = seg->index;
    r = docs->request;

    if (docs->tried & (1 << which)) {
        return docs->docs[which];
    }

    docs->tried |= 1 << which;

    if (which == NGX_API_LED_EVENT_DOC_REQUEST) {
        if (ngx_api_led_body_text(r, NGX_API_LED_EVENT_MAX_BODY, &text)
            != NGX_OK)
        {
            return NULL;
        }

    } else {
        if (docs->ctx == NULL || docs->ctx->overflow) {
            return NULL;
        }

        text.data = docs->ctx->body;
        text.len = docs->ctx->len;
    }

    if (text.len == 0) {
        return NULL;
    }

    if (docs->arena == NULL) {
        docs->arena = ngx_api_led_json_arena_create(r->pool);
        if (docs->arena == NULL) {
            return NULL;
        }
    }

    prev = ngx_api_led_json_arena_enter(docs->arena);
    rc = ngx_api_led_json_parse_pool(r->pool, text.data, text.len,
                                     &docs->docs[which], err, sizeof(err));
    ngx_api_led_json_arena_leave(prev);

    if (rc != NGX_OK) {
        docs->docs[which] = NULL;
    }

    return docs->docs[which];
}


/* where an event reads the response: its body is kept, in memory */

static ngx_int_t
ngx_api_led_event_header_filter(ngx_http_request_t *r)
{
    ngx_api_led_event_ctx_t       *ctx;
    ngx_api_led_event_loc_conf_t  *lecf;

    lecf = ngx_http_get_module_loc_conf(r, ngx_api_led_event_module);

    if (lecf->request && lecf->events && r == r->main) {
        /*
         * {request...} reads the body at the log phase: a body in a
         * temporary file stays open (the upstream closes it once the
         * header is sent, unless kept; the mirror module does the same)
         */
        r->preserve_body = 1;
    }

    if (lecf->events == NULL || (!lecf->response && r == r->main)) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_event_log_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_api_led_event_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_api_led_event_log_module);
    }

    if (lecf->response) {
        r->filter_need_in_memory = 1;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_api_led_event_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                   *cl;
    ngx_api_led_event_ctx_t       *ctx;
    ngx_api_led_event_loc_conf_t  *lecf;

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_event_log_module);

    if (ctx == NULL || ctx->published || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    lecf = ngx_http_get_module_loc_conf(r, ngx_api_led_event_module);

    if (lecf->events == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (lecf->response
        && ngx_api_led_event_keep(r, ctx, in) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (r != r->main) {
        for (cl = in; cl; cl = cl->next) {
            if (cl->buf->last_in_chain || cl->buf->last_buf) {
                /* the part's response is whole: its outcome is known */
                ctx->published = 1;
                ngx_api_led_event_publish_all(r, lecf, ctx);
                break;
            }
        }
    }

    return ngx_http_next_body_filter(r, in);
}


/* a copy of the body, up to NGX_API_LED_EVENT_MAX_BODY */

static ngx_int_t
ngx_api_led_event_keep(ngx_http_request_t *r, ngx_api_led_event_ctx_t *ctx,
    ngx_chain_t *in)
{
    u_char       *p;
    size_t        n, size;
    ngx_chain_t  *cl;

    for (cl = in; cl && !ctx->overflow; cl = cl->next) {

        if (!ngx_buf_in_memory(cl->buf)) {
            continue;
        }

        n = cl->buf->last - cl->buf->pos;

        if (n == 0) {
            continue;
        }

        if (ctx->len + n > NGX_API_LED_EVENT_MAX_BODY) {
            ctx->overflow = 1;
            break;
        }

        if (ctx->len + n > ctx->size) {
            size = ngx_max(ctx->size * 2, ngx_max(ctx->len + n, 1024));
            size = ngx_min(size, NGX_API_LED_EVENT_MAX_BODY);

            p = ngx_pnalloc(r->pool, size);
            if (p == NULL) {
                return NGX_ERROR;
            }

            if (ctx->len) {
                ngx_memcpy(p, ctx->body, ctx->len);
            }

            if (ctx->body) {
                ngx_pfree(r->pool, ctx->body);
            }

            ctx->body = p;
            ctx->size = size;
        }

        ngx_memcpy(ctx->body + ctx->len, cl->buf->pos, n);
        ctx->len += n;
    }

    return NGX_OK;
}


/* only when some location publishes events */

static ngx_int_t
ngx_api_led_event_log_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_api_led_event_main_conf_t  *emcf;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_event_module);

    if (!emcf->events) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_api_led_event_log_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_api_led_event_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_event_body_filter;

    return NGX_OK;
}
