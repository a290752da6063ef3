
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Every response the module generates itself: RFC 9457 problem details,
 * application/problem+json.
 */


#include "ngx_api_led.h"


#define NGX_API_LED_DETAIL_MAX  512


typedef struct {
    const char                  *code;
    const char                  *title;
} ngx_api_led_problem_title_t;


static ngx_api_led_problem_title_t  ngx_api_led_problem_titles[] = {
    { "missing_credentials",      "Missing credentials" },
    { "invalid_api_key",          "Invalid API key" },
    { "ambiguous_credentials",    "Ambiguous credentials" },
    { "invalid_token",            "Invalid token" },
    { "insufficient_scope",       "Insufficient scope" },
    { "jwt_keys_unavailable",     "Token signing keys unavailable" },
    { "rate_limited",             "Too many requests" },
    { "rate_limit_unavailable",   "Rate limit unavailable" },
    { "invalid_json",             "Invalid JSON" },
    { "invalid_form",             "Invalid form" },
    { "body_too_large",           "Request body too large" },
    { "upstream_failed",          "Upstream failed" },
    { "upstream_timeout",         "Upstream timeout" },
    { "merge_conflict",           "Merge conflict" },
    { "layer_violation",          "Layer violation" },
    { "internal_error",           "Internal error" },
    { NULL, NULL }
};


static ngx_str_t  ngx_api_led_problem_type = ngx_string("urn:api-led:error:");
static ngx_str_t  ngx_api_led_problem_content_type =
    ngx_string(NGX_API_LED_PROBLEM_TYPE);


static ngx_int_t ngx_api_led_problem_vsend(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, va_list args);
static void ngx_api_led_problem_title(const char *code, ngx_str_t *title);


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


static ngx_int_t
ngx_api_led_problem_vsend(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, va_list args)
{
    size_t              len;
    u_char             *p, detail[NGX_API_LED_DETAIL_MAX];
    ngx_str_t           title, cid, dtl, *id;
    ngx_buf_t          *b;

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
          + dtl.len + ngx_escape_json(NULL, dtl.data, dtl.len)
          + sizeof("\",\"correlation_id\":\"") - 1 + cid.len
          + sizeof("\"}\n") - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    p = ngx_cpymem(p, "{\"type\":\"", sizeof("{\"type\":\"") - 1);
    p = ngx_cpymem(p, ngx_api_led_problem_type.data,
                   ngx_api_led_problem_type.len);
    p = ngx_cpymem(p, code, ngx_strlen(code));
    p = ngx_cpymem(p, "\",\"title\":\"", sizeof("\",\"title\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, title.data, title.len);
    p = ngx_sprintf(p, "\",\"status\":%ui", status);

    if (dtl.len) {
        p = ngx_cpymem(p, ",\"detail\":\"", sizeof(",\"detail\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, dtl.data, dtl.len);
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

    return ngx_api_led_send_buf(r, status, &ngx_api_led_problem_content_type,
                                b);
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
