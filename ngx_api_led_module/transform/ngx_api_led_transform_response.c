
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Response transformation: a header filter applies header operations and,
 * for a JSON response to transform, holds the header back; the body filter
 * buffers the body (bounded), transforms it at the last buffer and sends the
 * header with the new Content-Length, then the body.  The module sits
 * before the copy filter, so it sees the upstream's body before gzip
 * compresses it for the client; the request side asks the upstream for
 * identity encoding.
 *
 * A filter module of its own (ngx_api_led_transform_response_module),
 * without directives: its filters are installed only when some location
 * transforms responses.
 */


#include "ngx_api_led_transform.h"


static ngx_int_t ngx_api_led_transform_response_init(ngx_conf_t *cf);
static void ngx_api_led_transform_clear_validators(ngx_http_request_t *r,
    ngx_api_led_transform_loc_conf_t *conf);
static ngx_int_t ngx_api_led_transform_header_out(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op);
static ngx_int_t ngx_api_led_transform_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_transform_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_api_led_transform_passthrough(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *rest);
static ngx_int_t ngx_api_led_transform_response(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_api_led_transform_send(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_api_led_transform_untyped(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_api_led_transform_drop(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_api_led_transform_refuse(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, const char *detail);
static ngx_int_t ngx_api_led_transform_incomplete(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx);


#define NGX_API_LED_TRANSFORM_NOT_DONE                                        \
    "the response of the upstream could not be transformed"


static ngx_http_module_t  ngx_api_led_transform_response_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_transform_response_init,   /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_transform_response_module = {
    NGX_MODULE_V1,
    &ngx_api_led_transform_response_module_ctx, /* module context */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* the upstream's checksums of its body, not of the transformed one */
static ngx_str_t  ngx_api_led_transform_digests[] = {
    ngx_string("digest"),
    ngx_string("content-md5"),
    ngx_string("content-digest"),
    ngx_string("repr-digest"),
};


#define NGX_API_LED_TRANSFORM_NDIGESTS                                        \
    (sizeof(ngx_api_led_transform_digests) / sizeof(ngx_str_t))


static ngx_int_t
ngx_api_led_transform_response_init(ngx_conf_t *cf)
{
    ngx_api_led_transform_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_api_led_transform_module);

    if (!tmcf->response) {
        return NGX_OK;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_api_led_transform_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_transform_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_transform_header_out(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op)
{
    ngx_str_t  value;

    if (op->value == NULL) {
        return ngx_api_led_edit_headers_out(r, op->op, &op->name, &op->to,
                                            NULL);
    }

    if (ngx_http_complex_value(r, op->value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ngx_api_led_header_value_is_safe(&value)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "api_led: value of response header \"%V\" holds "
                      "a control character, header not changed",
                      &op->name.name);
        return NGX_OK;
    }

    return ngx_api_led_edit_headers_out(r, op->op, &op->name, NULL, &value);
}


/*
 * The header filter: header operations on every response of the location;
 * for a 2xx JSON response with JSON operations, the header waits for the
 * transformed body (its length).  Not transformed, and left as they are:
 * other statuses, other types (application/problem+json included: the
 * module's own errors), HEAD.  Ranges (206) and encoded bodies (the
 * upstream ignored our request for the whole identity body), and bodies
 * announced larger than the limit cannot be transformed: they pass as
 * they are, or, where the location fails closed, the header waits for a
 * 502 in its place.
 */

static ngx_int_t
ngx_api_led_transform_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                         *ce, *ct;
    ngx_uint_t                         i;
    const char                        *failed;
    ngx_api_led_transform_op_t        *op;
    ngx_api_led_transform_ctx_t       *ctx;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    if (conf->response_header_ops == NULL
        && conf->response_json_ops == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    if (conf->response_header_ops) {
        op = conf->response_header_ops->elts;

        for (i = 0; i < conf->response_header_ops->nelts; i++) {
            if (ngx_api_led_transform_header_out(r, &op[i]) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (conf->response_json_ops == NULL
        || r->headers_out.status < NGX_HTTP_OK
        || r->headers_out.status >= NGX_HTTP_SPECIAL_RESPONSE
        || r->headers_out.status == NGX_HTTP_NO_CONTENT)
    {
        return ngx_http_next_header_filter(r);
    }

    failed = NULL;

    if (r->headers_out.status == NGX_HTTP_PARTIAL_CONTENT) {

        /*
         * A range of the body, whatever its type (one range of JSON, or
         * multipart/byteranges): the module asks for none, so an upstream
         * sent it on its own, and it cannot be transformed.
         */

        if (!conf->response_closed) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "api_led: response is a range of the body (206), "
                          "JSON operations skipped");
            return ngx_http_next_header_filter(r);
        }

        failed = "it is a range of the body (206)";
        goto delay;
    }

    ct = &r->headers_out.content_type;

    if (ct->len >= sizeof("application/problem+json") - 1
        && ngx_strncasecmp(ct->data, (u_char *) "application/problem+json",
                           sizeof("application/problem+json") - 1)
           == 0)
    {
        return ngx_http_next_header_filter(r);
    }

    if (!ngx_api_led_json_media_type(ct)) {

        /*
         * Where fields are removed or kept, a body the upstream did not
         * label JSON (text/plain, no type) may still be the document
         * whose fields must not go out: it fails closed, as a body that
         * does not parse does.  An empty one has nothing to hide, nor
         * has the module's own answer (metrics, an event stream).
         */

        if (!conf->response_closed
            || r->header_only || r->method == NGX_HTTP_HEAD
            || r->headers_out.content_length_n == 0
            || ngx_api_led_answers_itself(r))
        {
            return ngx_http_next_header_filter(r);
        }

        failed = "its Content-Type is not a JSON type";

        if (r->headers_out.content_length_n < 0) {
            /* its end tells: see ngx_api_led_transform_untyped() */

            ctx = ngx_api_led_transform_get_ctx(r);
            if (ctx == NULL) {
                return NGX_ERROR;
            }

            ctx->response = 1;
            ctx->header_delayed = 1;
            ctx->untyped = 1;

            return NGX_OK;
        }

        goto delay;
    }

    if (r->header_only || r->method == NGX_HTTP_HEAD) {
        /*
         * the transformed length is not known without the body; the
         * ETag and ranges go as they go for GET: they described the old
         * body
         */
        ngx_api_led_transform_clear_validators(r, conf);

        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->hash)
    {
        ce = &r->headers_out.content_encoding->value;

        if (ce->len && !(ce->len == 8
                         && ngx_strncasecmp(ce->data, (u_char *) "identity",
                                            8) == 0))
        {
            if (!conf->response_closed) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "api_led: response is \"%V\" encoded, JSON "
                              "operations skipped",
                              ngx_api_led_log_value(r->pool, ce));
                return ngx_http_next_header_filter(r);
            }

            failed = "it is encoded";
        }
    }

    if (failed == NULL
        && r->headers_out.content_length_n > (off_t) conf->response_max_size)
    {
        if (!conf->response_closed) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "api_led: response of %O bytes is larger than "
                          "api_led_response_json_max_size, passed through "
                          "unchanged", r->headers_out.content_length_n);
            return ngx_http_next_header_filter(r);
        }

        failed = "it is larger than api_led_response_json_max_size";
    }

delay:

    ctx = ngx_api_led_transform_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->response = 1;
    ctx->header_delayed = 1;

    if (failed) {
        /* its body is dropped, the 502 goes out at its end */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: response not transformed: %s; 502 in its "
                      "place (fields are removed or kept here)", failed);

        ctx->failed = 1;
        ngx_http_clear_content_length(r);

        return NGX_OK;
    }

    if (r->headers_out.content_length_n > 0) {
        ctx->cap = (size_t) r->headers_out.content_length_n;
    }

    ngx_api_led_transform_clear_validators(r, conf);

    r->filter_need_in_memory = 1;

    return NGX_OK;
}


/*
 * What described the upstream's body does not describe the transformed
 * one: its length, ranges, ETag and checksums go (for HEAD as for GET).
 * Its date goes where the operations have per-request values ($arg_who):
 * a cache downstream (a client's, a CDN) would revalidate a body made for
 * this request with it, and a 304 would give it another request's body.
 * (nginx's own 304 of a proxy_cache'd response is decided before this
 * filter: docs/transform.md says to turn if_modified_since off there.)
 */

static void
ngx_api_led_transform_clear_validators(ngx_http_request_t *r,
    ngx_api_led_transform_loc_conf_t *conf)
{
    ngx_uint_t        i, k;
    ngx_str_t        *d;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_etag(r);

    if (conf->response_varies) {
        ngx_http_clear_last_modified(r);
    }

    /* one look at the headers for the checksums */

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        for (k = 0; k < NGX_API_LED_TRANSFORM_NDIGESTS; k++) {
            d = &ngx_api_led_transform_digests[k];

            if (h[i].key.len == d->len
                && ngx_strncasecmp(h[i].key.data, d->data, d->len) == 0)
            {
                h[i].hash = 0;
                break;
            }
        }
    }
}


static ngx_int_t
ngx_api_led_transform_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char                            *p;
    size_t                             size, cap;
    ngx_buf_t                         *b, *data;
    ngx_uint_t                         last, n;
    ngx_chain_t                       *cl;
    ngx_api_led_transform_ctx_t       *ctx;
    ngx_api_led_transform_loc_conf_t  *conf;

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_transform_module);

    if (ctx == NULL || !ctx->response || ctx->passthrough
        || ctx->response_done)
    {
        return ngx_http_next_body_filter(r, in);
    }

    if (in == NULL) {
        return NGX_OK;
    }

    if (ctx->untyped) {
        return ngx_api_led_transform_untyped(r, ctx, in);
    }

    if (ctx->failed) {
        return ngx_api_led_transform_drop(r, ctx, in);
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    /* the whole body in one buffer, the usual case: no copy */

    if (ctx->size == 0) {
        n = 0;
        last = 0;
        data = NULL;

        for (cl = in; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_size(b)) {
                n++;
                data = b;
            }

            if (b->last_buf || (r != r->main && b->last_in_chain)) {
                last = 1;
            }
        }

        if (last && n == 1 && ngx_buf_in_memory(data)
            && (size_t) (data->last - data->pos) <= conf->response_max_size)
        {
            p = data->pos;
            size = data->last - data->pos;

            for (cl = in; cl; cl = cl->next) {
                cl->buf->pos = cl->buf->last;
            }

            return ngx_api_led_transform_response(r, ctx, p, size);
        }
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_size(b) && !ngx_buf_in_memory(b)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "api_led: response buffer not in memory");
            return NGX_ERROR;
        }

        size = b->last - b->pos;

        if (ctx->size + size > conf->response_max_size) {
            if (!conf->response_closed) {
                return ngx_api_led_transform_passthrough(r, ctx, cl);
            }

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led: response not transformed: it is larger "
                          "than api_led_response_json_max_size; 502 in its "
                          "place (fields are removed or kept here)");

            ctx->failed = 1;

            return ngx_api_led_transform_drop(r, ctx, cl);
        }

        if (size) {
            if (ctx->buf == NULL || ctx->size + size > ctx->cap) {
                cap = ngx_max(ctx->cap, 4096);

                while (cap < ctx->size + size) {
                    cap *= 2;
                }

                cap = ngx_min(cap, conf->response_max_size);

                p = ngx_palloc(r->pool, cap);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                if (ctx->buf) {
                    ngx_memcpy(p, ctx->buf, ctx->size);
                    ngx_pfree(r->pool, ctx->buf);
                }

                ctx->buf = p;
                ctx->cap = cap;
            }

            ngx_memcpy(ctx->buf + ctx->size, b->pos, size);
            ctx->size += size;
            b->pos = b->last;
        }

        if (b->last_buf || (r != r->main && b->last_in_chain)) {
            last = 1;
        }
    }

    if (!last) {
        if (ngx_api_led_upstream_cut_short(r)) {
            return ngx_api_led_transform_incomplete(r, ctx);
        }

        return NGX_OK;
    }

    return ngx_api_led_transform_response(r, ctx, ctx->buf, ctx->size);
}


/*
 * A body not labelled JSON whose length was not announced (chunked, up to
 * the upstream's close), where the location fails closed: empty, it has
 * nothing to hide and goes out as it came (a 201 without a body); its
 * first byte makes it the 502 of ngx_api_led_transform_drop().
 */

static ngx_int_t
ngx_api_led_transform_untyped(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_int_t     rc;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = in; cl; cl = cl->next) {

        if (ngx_buf_size(cl->buf)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led: response not transformed: its "
                          "Content-Type is not a JSON type; 502 in its "
                          "place (fields are removed or kept here)");

            ctx->untyped = 0;
            ctx->failed = 1;

            return ngx_api_led_transform_drop(r, ctx, in);
        }

        if (cl->buf->last_buf || (r != r->main && cl->buf->last_in_chain)) {
            last = 1;
        }
    }

    if (!last) {
        if (ngx_api_led_upstream_cut_short(r)) {
            ctx->untyped = 0;
            return ngx_api_led_transform_incomplete(r, ctx);
        }

        return NGX_OK;
    }

    ctx->untyped = 0;
    ctx->passthrough = 1;
    ctx->header_delayed = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_next_body_filter(r, in);
}


/*
 * Failing closed: what comes of the response is dropped; at its end (or
 * when the upstream is gone before it) the 502 goes out in its place.
 */

static ngx_int_t
ngx_api_led_transform_drop(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || (r != r->main && b->last_in_chain)) {
            last = 1;
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    if (last) {
        return ngx_api_led_transform_refuse(r, ctx,
                                            NGX_API_LED_TRANSFORM_NOT_DONE);
    }

    if (ngx_api_led_upstream_cut_short(r)) {
        return ngx_api_led_transform_incomplete(r, ctx);
    }

    return NGX_OK;
}


/*
 * A 502 problem in place of the response held back (failing closed): the
 * upstream's headers and what the header operations did to them go; the
 * operations apply again to the problem.  The caller logged why.
 */

static ngx_int_t
ngx_api_led_transform_refuse(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, const char *detail)
{
    ctx->response_done = 1;
    ctx->header_delayed = 0;

    ngx_http_clean_header(r);

    return ngx_api_led_problem_send(r, NGX_HTTP_BAD_GATEWAY,
                                    "upstream_failed", detail);
}


/*
 * The upstream ended the response before its end (it closed early, timed
 * out): what was held is not the response, and no header went out yet.
 * The client gets a 502 problem, not an empty reply; a part fails with
 * it.  nginx logged the cause already.
 */

static ngx_int_t
ngx_api_led_transform_incomplete(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "api_led: the upstream response ended before its end, "
                  "answered 502");

    return ngx_api_led_transform_refuse(r, ctx,
                                        "the upstream response is incomplete");
}


/* over the limit: what was held goes out unchanged, then the rest */

static ngx_int_t
ngx_api_led_transform_passthrough(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *rest)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "api_led: response is larger than "
                  "api_led_response_json_max_size, passed through unchanged");

    ctx->passthrough = 1;
    ctx->header_delayed = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (ctx->size == 0) {
        return ngx_http_next_body_filter(r, rest);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->temporary = 1;
    b->start = ctx->buf;
    b->pos = ctx->buf;
    b->last = ctx->buf + ctx->size;
    b->end = b->last;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = rest;

    return ngx_http_next_body_filter(r, cl);
}


/*
 * The whole body is here: transform it, or send it unchanged when it is
 * not JSON after all (with a warning: the upstream mislabels it).
 */

static ngx_int_t
ngx_api_led_transform_response(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len)
{
    u_char                             err[NGX_API_LED_T_ERRLEN], *p;
    size_t                             max, left;
    json_t                            *doc;
    ngx_int_t                          rc;
    ngx_str_t                          out;
    ngx_api_led_json_arena_t          *prev;
    ngx_api_led_json_light_t          *light;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    ctx->response_done = 1;

    if (len == 0) {
        /* nothing to transform, nothing to warn about */
        return ngx_api_led_transform_send(r, ctx, NULL, 0);
    }

    /*
     * the new body is bounded as the document's memory is; the copies of
     * a value set under "*" count against the same bound as they are made
     */
    max = NGX_API_LED_JSON_MEMORY_FACTOR * len + NGX_API_LED_JSON_MEMORY_EXTRA;
    left = max;

    if (conf->response_stream) {
        rc = ngx_api_led_json_stream_run(r->pool, conf->response_stream,
                                         data, len, max, &out);

        if (rc == NGX_OK) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "api_led json: response body, streamed");

            return ngx_api_led_transform_send(r, ctx, out.data, out.len);
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* the light path takes it, from the start */
    }

    if (conf->response_light) {
        rc = ngx_api_led_json_light_parse(r->pool, data, len, &light);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "api_led json: response body, light document");

            rc = ngx_api_led_json_light_ops_apply(r, conf->response_json_ops,
                                                  &light, &left);

            if (rc == NGX_OK) {
                rc = ngx_api_led_json_light_dump_max(r->pool, light, len + 64,
                                                     max, &out);
            }

            if (rc == NGX_API_LED_JSON_TOO_BIG) {
                ngx_cpystrn(err, (u_char *) "the transformed document would "
                            "be larger than 32 times the body", sizeof(err));
                goto failed;
            }

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }

            return ngx_api_led_transform_send(r, ctx, out.data, out.len);
        }

        /* the tree takes it, and says what is wrong with it if anything */
    }

    if (ngx_api_led_transform_arena(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    prev = ngx_api_led_json_arena_enter(ctx->arena);
    rc = ngx_api_led_json_parse_pool(r->pool, data, len, &doc, err,
                                     sizeof(err));
    ngx_api_led_json_arena_leave(prev);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {

    failed:

        if (conf->response_closed) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led: response not transformed: %s; 502 in "
                          "its place (fields are removed or kept here)",
                          err);

            return ngx_api_led_transform_refuse(r, ctx,
                                                NGX_API_LED_TRANSFORM_NOT_DONE);
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "api_led: response is not JSON to transform (%s), "
                      "passed through unchanged", err);

        if (data != ctx->buf && len) {
            /* the upstream's buffer was consumed: it may be reused */
            p = ngx_pnalloc(r->pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, data, len);
            data = p;
        }

        return ngx_api_led_transform_send(r, ctx, data, len);
    }

    prev = ngx_api_led_json_arena_enter(ctx->arena);

    rc = ngx_api_led_json_ops_apply(r, conf->response_json_ops, &doc, &left);

    if (rc == NGX_OK) {
        rc = ngx_api_led_json_dump_max(r->pool, doc, len + 64, max, &out);
    }

    json_decref(doc);

    ngx_api_led_json_arena_leave(prev);

    if (rc == NGX_API_LED_JSON_TOO_BIG) {
        ngx_cpystrn(err, (u_char *) "the transformed document would be "
                    "larger than 32 times the body", sizeof(err));
        goto failed;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_api_led_transform_send(r, ctx, out.data, out.len);
}


static ngx_int_t
ngx_api_led_transform_send(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.content_length_n = len;
    ctx->header_delayed = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->temporary = (len > 0);
    b->start = data;
    b->pos = data;
    b->last = len ? data + len : data;
    b->end = b->last;

    if (r == r->main) {
        b->last_buf = 1;

    } else {
        b->last_in_chain = 1;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
