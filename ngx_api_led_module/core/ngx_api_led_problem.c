
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Every response the module generates itself: RFC 9457 problem details,
 * application/problem+json.
 *
 * A policy of the access phase does not answer the client itself: it
 * remembers its problem (ngx_api_led_problem_refuse()) and returns the
 * status to nginx, as auth_basic and limit_req do, so that error_page,
 * satisfy and auth_delay apply.  When no error_page takes over, nginx
 * sends its special response through the filters, r->err_status set: the
 * filters of this module give it the remembered problem as its body.  In
 * API locations nginx's own errors (deny, a 404, a 502 from the proxy...)
 * get a problem body as well (api_led_problem_errors), so that a channel
 * sees one error format.
 */


#include "ngx_api_led.h"


#define NGX_API_LED_DETAIL_MAX  512


typedef struct {
    const char                  *code;
    const char                  *title;
    ngx_uint_t                   status;      /* nginx's errors: the code
                                                 of that status, 0: none */
} ngx_api_led_problem_title_t;


/* api_led_problem_detail; AUTO: public in layer=experience, else full */
#define NGX_API_LED_DETAIL_AUTO    0
#define NGX_API_LED_DETAIL_PUBLIC  1
#define NGX_API_LED_DETAIL_FULL    2


typedef struct {
    ngx_flag_t                   errors;
    ngx_uint_t                   detail;
} ngx_api_led_problem_loc_conf_t;


/*
 * The request ctx: the problem a policy refused the request with, until
 * nginx sends its special response.  nginx wipes r->ctx on an internal
 * redirect: once an error_page took over, no problem is left to render.
 */
typedef struct {
    ngx_uint_t                   status;
    const char                  *code;
    ngx_str_t                    detail;
    ngx_uint_t                   phase_limit; /* for the special response
                                                 before the request gets
                                                 past this phase */
    ngx_buf_t                   *body;        /* rendering */
    unsigned                     sent:1;
} ngx_api_led_problem_ctx_t;


static ngx_api_led_problem_title_t  ngx_api_led_problem_titles[] = {
    { "missing_credentials",      "Missing credentials", 0 },
    { "invalid_api_key",          "Invalid API key", 0 },
    { "ambiguous_credentials",    "Ambiguous credentials", 0 },
    { "invalid_token",            "Invalid token", 0 },
    { "insufficient_scope",       "Insufficient scope", 0 },
    { "jwt_keys_unavailable",     "Token signing keys unavailable", 0 },
    { "rate_limited",             "Too many requests", 429 },
    { "rate_limit_unavailable",   "Rate limit unavailable", 0 },
    { "invalid_json",             "Invalid JSON", 0 },
    { "invalid_form",             "Invalid form", 0 },
    { "body_too_large",           "Request body too large", 413 },
    { "upstream_failed",          "Upstream failed", 502 },
    { "upstream_timeout",         "Upstream timeout", 504 },
    { "merge_conflict",           "Merge conflict", 0 },
    { "layer_violation",          "Layer violation", 0 },
    { "internal_error",           "Internal error", 500 },
    { "bad_request",              "Bad request", 400 },
    { "unauthorized",             "Unauthorized", 401 },
    { "forbidden",                "Forbidden", 403 },
    { "not_found",                "Not found", 404 },
    { "method_not_allowed",       "Method not allowed", 405 },
    { "no_such_spec",             "No such spec", 0 },
    { "not_acceptable",           "Not acceptable", 406 },
    { "request_timeout",          "Request timeout", 408 },
    { "conflict",                 "Conflict", 409 },
    { "gone",                     "Gone", 410 },
    { "length_required",          "Length required", 411 },
    { "precondition_failed",      "Precondition failed", 412 },
    { "unprocessable_content",    "Unprocessable content", 422 },
    { "precondition_required",    "Precondition required", 428 },
    { "uri_too_long",             "URI too long", 414 },
    { "unsupported_media_type",   "Unsupported media type", 415 },
    { "range_not_satisfiable",    "Range not satisfiable", 416 },
    { "misdirected_request",      "Misdirected request", 421 },
    { "not_implemented",          "Not implemented", 501 },
    { "service_unavailable",      "Service unavailable", 503 },
    { "http_version_not_supported", "HTTP version not supported", 505 },
    { "insufficient_storage",     "Insufficient storage", 507 },
    { "request_rejected",         "Request rejected", 0 },
    { NULL, NULL, 0 }
};


static ngx_str_t  ngx_api_led_problem_type = ngx_string("urn:api-led:error:");
static ngx_str_t  ngx_api_led_problem_content_type =
    ngx_string(NGX_API_LED_PROBLEM_TYPE);


static ngx_int_t ngx_api_led_problem_init(ngx_conf_t *cf);
static void *ngx_api_led_problem_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_problem_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_api_led_problem_vsend(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, va_list args);
static ngx_buf_t *ngx_api_led_problem_body(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, ngx_str_t *detail);
static void ngx_api_led_problem_title(const char *code, ngx_str_t *title);
static const char *ngx_api_led_problem_code(ngx_uint_t status);
static ngx_int_t ngx_api_led_problem_nginx_error(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_problem_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_problem_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_conf_enum_t  ngx_api_led_problem_details[] = {
    { ngx_string("public"), NGX_API_LED_DETAIL_PUBLIC },
    { ngx_string("full"), NGX_API_LED_DETAIL_FULL },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_api_led_problem_commands[] = {

    { ngx_string("api_led_problem_errors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_problem_loc_conf_t, errors),
      NULL },

    { ngx_string("api_led_problem_detail"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_problem_loc_conf_t, detail),
      &ngx_api_led_problem_details },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_problem_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_problem_init,              /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_problem_create_loc_conf,   /* create location configuration */
    ngx_api_led_problem_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_api_led_problem_module = {
    NGX_MODULE_V1,
    &ngx_api_led_problem_module_ctx,       /* module context */
    ngx_api_led_problem_commands,          /* module directives */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * The filters render refusals (a policy's step, the layer contract) and
 * nginx's errors in API locations: without any of these in the
 * configuration there is nothing for them to do.
 */

static ngx_int_t
ngx_api_led_problem_init(ngx_conf_t *cf)
{
    ngx_api_led_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    if (!lmcf->apis && !lmcf->steps_used && !lmcf->callers) {
        return NGX_OK;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_api_led_problem_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_problem_body_filter;

    return NGX_OK;
}


static void *
ngx_api_led_problem_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_problem_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_api_led_problem_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->errors = NGX_CONF_UNSET;
    conf->detail = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_api_led_problem_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_problem_loc_conf_t  *prev = parent;
    ngx_api_led_problem_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->errors, prev->errors, 1);
    ngx_conf_merge_uint_value(conf->detail, prev->detail,
                              NGX_API_LED_DETAIL_AUTO);

    return NGX_CONF_OK;
}


/*
 * Whether the problems of this request keep what names the inside (parts,
 * internal URIs, layer rules) to the error log: api_led_problem_detail,
 * by default public in Experience APIs, which face external consumers.
 */

ngx_uint_t
ngx_api_led_problem_detail_public(ngx_http_request_t *r)
{
    ngx_api_led_loc_conf_t          *llcf;
    ngx_api_led_problem_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_api_led_problem_module);

    if (plcf->detail != NGX_API_LED_DETAIL_AUTO) {
        return plcf->detail == NGX_API_LED_DETAIL_PUBLIC;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    return llcf->layer == NGX_API_LED_LAYER_EXPERIENCE;
}


ngx_int_t
ngx_api_led_problem_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *detail, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, detail);
    rc = ngx_api_led_problem_vsend(r, status, code, detail, args);
    va_end(args);

    return rc;
}


ngx_int_t
ngx_api_led_problem_finalize(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *detail, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, detail);
    rc = ngx_api_led_problem_vsend(r, status, code, detail, args);
    va_end(args);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


ngx_int_t
ngx_api_led_problem_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *detail, ...)
{
    u_char                      *p, buf[NGX_API_LED_DETAIL_MAX];
    va_list                      args;
    ngx_api_led_problem_ctx_t   *pctx;
    ngx_http_core_main_conf_t   *cmcf;

    pctx = ngx_http_get_module_ctx(r, ngx_api_led_problem_module);

    if (pctx == NULL) {
        pctx = ngx_pcalloc(r->pool, sizeof(ngx_api_led_problem_ctx_t));
        if (pctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_set_ctx(r, pctx, ngx_api_led_problem_module);
    }

    va_start(args, detail);
    p = ngx_vslprintf(buf, buf + sizeof(buf), detail, args);
    va_end(args);

    pctx->detail.len = ngx_api_led_utf8_cut(buf, p - buf);
    pctx->detail.data = ngx_pnalloc(r->pool, pctx->detail.len);
    if (pctx->detail.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(pctx->detail.data, buf, pctx->detail.len);

    pctx->status = status;
    pctx->code = code;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    pctx->phase_limit = cmcf->phase_engine.handlers[r->phase_handler].next;

    return status;
}


static ngx_int_t
ngx_api_led_problem_vsend(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, va_list args)
{
    u_char      *p, detail[NGX_API_LED_DETAIL_MAX];
    ngx_str_t    dtl;
    ngx_buf_t   *b;

    if (r->header_sent) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: cannot send \"%s\" problem, "
                      "header already sent", code);
        return NGX_ERROR;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    p = ngx_vslprintf(detail, detail + sizeof(detail), fmt, args);
    dtl.data = detail;

    /* a detail cut to the buffer stays valid UTF-8, the body valid JSON */
    dtl.len = ngx_api_led_utf8_cut(detail, p - detail);

    b = ngx_api_led_problem_body(r, status, code, &dtl);
    if (b == NULL) {
        return NGX_ERROR;
    }

    return ngx_api_led_send_buf(r, status, &ngx_api_led_problem_content_type,
                                b);
}


/* {"type", "title", "status", "detail" (if any), "correlation_id"} */

static ngx_buf_t *
ngx_api_led_problem_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *detail)
{
    u_char      *p;
    size_t       len;
    ngx_str_t    title, cid, *id;
    ngx_buf_t   *b;

    ngx_api_led_problem_title(code, &title);

    id = ngx_api_led_correlation_id(r);
    if (id) {
        cid = *id;

    } else {
        ngx_str_null(&cid);
    }

    len = sizeof("{\"type\":\"") - 1 + ngx_api_led_problem_type.len
          + ngx_strlen(code)
          + sizeof("\",\"title\":\"") - 1
          + title.len + ngx_escape_json(NULL, title.data, title.len)
          + sizeof("\",\"status\":") - 1 + NGX_INT_T_LEN
          + sizeof(",\"detail\":\"") - 1
          + detail->len + ngx_escape_json(NULL, detail->data, detail->len)
          + sizeof("\",\"correlation_id\":\"") - 1 + cid.len
          + sizeof("\"}\n") - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;
    p = ngx_cpymem(p, "{\"type\":\"", sizeof("{\"type\":\"") - 1);
    p = ngx_cpymem(p, ngx_api_led_problem_type.data,
                   ngx_api_led_problem_type.len);
    p = ngx_cpymem(p, code, ngx_strlen(code));
    p = ngx_cpymem(p, "\",\"title\":\"", sizeof("\",\"title\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, title.data, title.len);
    p = ngx_sprintf(p, "\",\"status\":%ui", status);

    if (detail->len) {
        p = ngx_cpymem(p, ",\"detail\":\"", sizeof(",\"detail\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, detail->data, detail->len);
        *p++ = '"';
    }

    if (cid.len) {
        p = ngx_cpymem(p, ",\"correlation_id\":\"",
                       sizeof(",\"correlation_id\":\"") - 1);
        p = ngx_cpymem(p, cid.data, cid.len);
        *p++ = '"';
    }

    *p++ = '}';
    *p++ = '\n';

    b->last = p;

    return b;
}


ngx_int_t
ngx_api_led_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
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

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_api_led_problem_title(const char *code, ngx_str_t *title)
{
    ngx_api_led_problem_title_t  *t;

    for (t = ngx_api_led_problem_titles; t->code; t++) {
        if (ngx_strcmp(t->code, code) == 0) {
            title->data = (u_char *) t->title;
            title->len = ngx_strlen(t->title);
            return;
        }
    }

    ngx_str_set(title, "Error");
}


static const char *
ngx_api_led_problem_code(ngx_uint_t status)
{
    ngx_api_led_problem_title_t  *t;

    for (t = ngx_api_led_problem_titles; t->code; t++) {
        if (t->status == status) {
            return t->code;
        }
    }

    return "error";
}


/*
 * nginx's own special response in an API location, not one an error_page
 * of the user took over.  An error_page redirect wipes r->ctx but not the
 * shared ctx, which notes that it was found again with r->err_status set;
 * a location with an error_page for the status only sends nginx's page
 * when that page failed too.
 */

static ngx_int_t
ngx_api_led_problem_nginx_error(ngx_http_request_t *r)
{
    ngx_uint_t                       i;
    ngx_api_led_ctx_t               *ctx;
    ngx_http_err_page_t             *err_page;
    ngx_api_led_loc_conf_t          *llcf;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_api_led_problem_loc_conf_t  *plcf;

    if (r != r->main) {
        return 0;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_api_led_problem_module);

    if (llcf->api.len == 0 || !plcf->errors) {
        return 0;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->error_pages) {
        err_page = clcf->error_pages->elts;

        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (err_page[i].status == (ngx_int_t) r->err_status) {
                return 0;
            }
        }
    }

    ctx = ngx_api_led_get_ctx(r);

    return (ctx && !ctx->error_page);
}


static ngx_int_t
ngx_api_led_problem_header_filter(ngx_http_request_t *r)
{
    const char                 *code;
    ngx_str_t                   detail;
    ngx_buf_t                  *b;
    ngx_api_led_problem_ctx_t  *pctx;

    if (r->err_status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    pctx = ngx_http_get_module_ctx(r, ngx_api_led_problem_module);

    if (pctx && pctx->status == r->err_status
        && (ngx_uint_t) r->phase_handler <= pctx->phase_limit)
    {
        code = pctx->code;
        detail = pctx->detail;

    } else if (ngx_api_led_problem_nginx_error(r)) {
        code = ngx_api_led_problem_code(r->err_status);
        ngx_str_null(&detail);

        if (pctx == NULL) {
            pctx = ngx_pcalloc(r->pool, sizeof(ngx_api_led_problem_ctx_t));
            if (pctx == NULL) {
                return NGX_ERROR;
            }

            ngx_http_set_ctx(r, pctx, ngx_api_led_problem_module);
        }

    } else {
        return ngx_http_next_header_filter(r);
    }

    b = ngx_api_led_problem_body(r, r->err_status, code, &detail);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    pctx->body = b;

    r->headers_out.content_type = ngx_api_led_problem_content_type;
    r->headers_out.content_type_len = ngx_api_led_problem_content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_null(&r->headers_out.charset);

    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


/* nginx's page goes, the problem goes out instead */

static ngx_int_t
ngx_api_led_problem_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                 *cl, out;
    ngx_api_led_problem_ctx_t   *pctx;

    pctx = ngx_http_get_module_ctx(r, ngx_api_led_problem_module);

    if (pctx == NULL || pctx->body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        if (ngx_buf_in_memory(cl->buf)) {
            cl->buf->pos = cl->buf->last;
        }

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }
    }

    if (pctx->sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    pctx->sent = 1;

    out.buf = pctx->body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
