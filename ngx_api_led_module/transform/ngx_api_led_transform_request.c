
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Request transformation: a precontent phase handler reads the body without
 * blocking (after the access phase, so policies saw the original request),
 * runs the operations in the order written and hands the upstream a new
 * body with a matching Content-Length.
 *
 * A module of its own (ngx_api_led_transform_request_module), without
 * directives: its handler is registered only when some location uses it.
 */


#include "ngx_api_led_transform.h"


static ngx_int_t ngx_api_led_transform_request_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_transform_handler(ngx_http_request_t *r);
static void ngx_api_led_transform_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_transform_request(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_uint_t body);
static ngx_int_t ngx_api_led_transform_read_doc(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_api_led_transform_loc_conf_t *conf,
    json_t **doc, ngx_api_led_json_light_t **light);
static ngx_int_t ngx_api_led_transform_write_body(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx,
    ngx_api_led_transform_loc_conf_t *conf, json_t *doc,
    ngx_api_led_json_light_t *light);
static ngx_int_t ngx_api_led_transform_too_big(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_transform_arg(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op);
static ngx_int_t ngx_api_led_transform_header_in(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op);
static ngx_int_t ngx_api_led_transform_identity(ngx_http_request_t *r);


static ngx_api_led_edit_name_t  ngx_api_led_h_content_length =
    { ngx_string("Content-Length"), ngx_string("content-length"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_transfer_encoding =
    { ngx_string("Transfer-Encoding"), ngx_string("transfer-encoding"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_content_type =
    { ngx_string("Content-Type"), ngx_string("content-type"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_accept_encoding =
    { ngx_string("Accept-Encoding"), ngx_string("accept-encoding"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_range =
    { ngx_string("Range"), ngx_string("range"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_if_range =
    { ngx_string("If-Range"), ngx_string("if-range"), 0 };

static ngx_str_t  ngx_api_led_json_type =
    ngx_string(NGX_API_LED_JSON_TYPE);
static ngx_str_t  ngx_api_led_form_type =
    ngx_string("application/x-www-form-urlencoded");


static ngx_http_module_t  ngx_api_led_transform_request_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_transform_request_init,    /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_transform_request_module = {
    NGX_MODULE_V1,
    &ngx_api_led_transform_request_module_ctx, /* module context */
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


static ngx_int_t
ngx_api_led_transform_request_init(ngx_conf_t *cf)
{
    ngx_api_led_transform_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_api_led_transform_module);

    if (!tmcf->request) {
        return NGX_OK;
    }

    ngx_api_led_h_content_length.hash =
        ngx_hash_key(ngx_api_led_h_content_length.lowcase.data,
                     ngx_api_led_h_content_length.lowcase.len);
    ngx_api_led_h_transfer_encoding.hash =
        ngx_hash_key(ngx_api_led_h_transfer_encoding.lowcase.data,
                     ngx_api_led_h_transfer_encoding.lowcase.len);
    ngx_api_led_h_content_type.hash =
        ngx_hash_key(ngx_api_led_h_content_type.lowcase.data,
                     ngx_api_led_h_content_type.lowcase.len);
    ngx_api_led_h_accept_encoding.hash =
        ngx_hash_key(ngx_api_led_h_accept_encoding.lowcase.data,
                     ngx_api_led_h_accept_encoding.lowcase.len);

    return ngx_api_led_add_precontent(cf, ngx_api_led_transform_handler);
}


/*
 * The precontent phase handler.  It runs after the access phase (so
 * policies see the original request) and before the content handler that
 * sends the request upstream; subrequests run it too.
 */

static ngx_int_t
ngx_api_led_transform_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_api_led_transform_ctx_t       *ctx;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    if (conf->request_ops == NULL && conf->response_json_ops == NULL
        && !conf->request_body)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_transform_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->started) {
        /* done, or woken while the body is still being read */
        return ctx->done ? NGX_DECLINED : NGX_DONE;
    }

    ctx->started = 1;

    if (conf->response_json_ops
        && ngx_api_led_transform_identity(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!conf->request_body) {
        rc = ngx_api_led_transform_request(r, ctx, 0);

        if (rc == NGX_OK) {
            ctx->done = 1;
            return NGX_DECLINED;
        }

        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    if (r->headers_in.content_length_n > (off_t) conf->request_max_size) {
        return ngx_api_led_problem_finalize(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is larger than %uz bytes",
                   conf->request_max_size);
    }

    /* the body handler's outcome when it runs inside the call */
    ctx->rc = NGX_DONE;

    ctx->reading = 1;
    rc = ngx_http_read_client_request_body(r,
                                           ngx_api_led_transform_body_handler);
    ctx->reading = 0;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /*
     * The outcome is read before the reference that
     * ngx_http_read_client_request_body() took is given back: when a
     * problem was sent, that was the request's last reference, and the
     * request and ctx are freed with it.
     */

    rc = ctx->rc;

    ngx_http_finalize_request(r, NGX_DONE);

    if (rc == NGX_DONE) {
        /* a problem was sent, or the body handler runs the phases again */
        return NGX_DONE;
    }

    /* the whole body was there already: the handler ran inside the call */

    if (rc == NGX_OK) {
        return NGX_DECLINED;
    }

    return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
}


static void
ngx_api_led_transform_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_api_led_transform_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_transform_module);

    if (ctx->reading) {

        /*
         * Inside ngx_http_read_client_request_body(): its reference keeps
         * the request, even when a problem was sent, and the phase
         * handler goes on with the outcome.
         */

        rc = ngx_api_led_transform_request(r, ctx, 1);

        ctx->rc = rc;
        ctx->done = (rc == NGX_OK);

        return;
    }

    rc = ngx_api_led_transform_request(r, ctx, 1);

    if (rc == NGX_DONE) {
        /* a problem was sent: the request, and ctx, may be freed */
        return;
    }

    if (rc == NGX_OK) {
        ctx->done = 1;
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
        return;
    }

    ngx_http_finalize_request(r, (rc == NGX_ERROR)
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc);
}


/*
 * Runs the request operations in the order written, on the headers, the
 * arguments and the JSON document.  NGX_OK; NGX_DONE when a problem was
 * sent; NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_transform_request(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_uint_t body)
{
    size_t                             left;
    json_t                            *doc;
    ngx_int_t                          rc;
    ngx_uint_t                         i;
    ngx_api_led_json_arena_t          *prev;
    ngx_api_led_json_light_t          *light;
    ngx_api_led_transform_op_t        *op;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    doc = NULL;
    light = NULL;

    if (body) {
        rc = ngx_api_led_transform_read_doc(r, ctx, conf, &doc, &light);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /*
     * the copies of a value set under "*" take at most what the new body
     * may be: counted as they are made, not only once written out
     */

    left = NGX_API_LED_JSON_MEMORY_FACTOR * ctx->body_len
           + NGX_API_LED_JSON_MEMORY_EXTRA;

    rc = NGX_OK;

    if (conf->request_ops) {
        op = conf->request_ops->elts;

        for (i = 0; i < conf->request_ops->nelts; i++) {

            switch (op[i].kind) {

            case NGX_API_LED_T_HEADER:
                rc = ngx_api_led_transform_header_in(r, &op[i]);
                break;

            case NGX_API_LED_T_ARG:
                rc = ngx_api_led_transform_arg(r, &op[i]);
                break;

            default: /* NGX_API_LED_T_JSON */
                if (light) {
                    rc = ngx_api_led_json_light_op_apply(r, op[i].json,
                                                         &light, &left);

                } else if (doc) {
                    prev = ngx_api_led_json_arena_enter(ctx->arena);
                    rc = ngx_api_led_json_op_apply(r, op[i].json, &doc,
                                                   &left);
                    ngx_api_led_json_arena_leave(prev);
                }
            }

            if (rc == NGX_API_LED_JSON_TOO_BIG) {
                rc = ngx_api_led_transform_too_big(r);
                goto done;
            }

            if (rc != NGX_OK) {
                goto done;
            }
        }
    }

    if (doc || light || ctx->streamed.data) {
        rc = ngx_api_led_transform_write_body(r, ctx, conf, doc, light);
    }

done:

    if (doc) {
        prev = ngx_api_led_json_arena_enter(ctx->arena);
        json_decref(doc);
        ngx_api_led_json_arena_leave(prev);
    }

    return rc;
}


/*
 * The request body as a document: JSON whatever the Content-Type says
 * (a client must not skip the operations by mislabelling), a form with
 * form_to_json.  No document for an empty body unless the method carries
 * one (POST, PUT, PATCH): then an empty object.
 */

static ngx_int_t
ngx_api_led_transform_read_doc(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_api_led_transform_loc_conf_t *conf,
    json_t **doc, ngx_api_led_json_light_t **light)
{
    u_char                     err[NGX_API_LED_T_ERRLEN];
    ngx_int_t                  rc;
    ngx_str_t                  text, *ct;
    ngx_uint_t                 form;
    ngx_api_led_json_arena_t  *prev;

    rc = ngx_api_led_body_text(r, conf->request_max_size, &text);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->body_len = text.len;

    if (rc == NGX_DECLINED) {
        return ngx_api_led_problem_finalize(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is larger than %uz bytes",
                   conf->request_max_size);
    }

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    form = (conf->body_convert == NGX_API_LED_CONVERT_FORM
            && ct
            && ct->len >= ngx_api_led_form_type.len
            && ngx_strncasecmp(ct->data, ngx_api_led_form_type.data,
                               ngx_api_led_form_type.len) == 0
            && (ct->len == ngx_api_led_form_type.len
                || ct->data[ngx_api_led_form_type.len] == ';'
                || ct->data[ngx_api_led_form_type.len] == ' '));

    if (conf->request_stream && text.len && !form) {
        rc = ngx_api_led_json_stream_run(r->pool, conf->request_stream,
                                         text.data, text.len,
                                         NGX_API_LED_JSON_MEMORY_FACTOR
                                         * text.len
                                         + NGX_API_LED_JSON_MEMORY_EXTRA,
                                         &ctx->streamed);
        if (rc == NGX_OK) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "api_led json: request body, streamed");
        }

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* the light path takes it, from the start */
    }

    if (conf->request_light && text.len && !form) {
        rc = ngx_api_led_json_light_parse(r->pool, text.data, text.len,
                                          light);
        if (rc == NGX_OK) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "api_led json: request body, light document");
        }

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* the tree takes it, and says what is wrong with it if anything */
    }

    /* jansson values from here on, in the request's arena */

    if (ngx_api_led_transform_arena(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    if (text.len == 0) {
        if (r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_PATCH)) {
            prev = ngx_api_led_json_arena_enter(ctx->arena);
            *doc = json_object();
            ngx_api_led_json_arena_leave(prev);

            return (*doc == NULL) ? NGX_ERROR : NGX_OK;
        }

        return NGX_OK;
    }

    if (form) {
        prev = ngx_api_led_json_arena_enter(ctx->arena);
        *doc = ngx_api_led_form_to_json(&text);
        ngx_api_led_json_arena_leave(prev);

        if (*doc == NULL) {
            return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_form",
                       "the form is not valid UTF-8 once decoded");
        }

        return NGX_OK;
    }

    prev = ngx_api_led_json_arena_enter(ctx->arena);
    rc = ngx_api_led_json_parse_pool(r->pool, text.data, text.len, doc,
                                     err, sizeof(err));
    ngx_api_led_json_arena_leave(prev);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_API_LED_JSON_TOO_DEEP || rc == NGX_API_LED_JSON_TOO_BIG) {
        /* valid JSON, past what the gateway takes on */
        return ngx_api_led_problem_finalize(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "%s", err);
    }

    return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_json", "%s", err);
}


/*
 * The transformed document becomes the body the upstream gets, in memory,
 * with Content-Length set, Transfer-Encoding gone and the Content-Type of
 * what it now is.
 */

static ngx_int_t
ngx_api_led_transform_write_body(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_api_led_transform_loc_conf_t *conf,
    json_t *doc, ngx_api_led_json_light_t *light)
{
    u_char                   *p;
    size_t                    hint, max;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_str_t                 out, len, *ct;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    ct = NULL;

    /*
     * The new body is bounded as the document's memory is: operations may
     * multiply a value (a long header's value set in every element of a
     * long array) far past the body
     */

    max = NGX_API_LED_JSON_MEMORY_FACTOR * ctx->body_len
          + NGX_API_LED_JSON_MEMORY_EXTRA;

    if (conf->body_convert == NGX_API_LED_CONVERT_JSON) {
        if (!json_is_object(doc)) {
            return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_json",
                       "only a JSON object converts to a form");
        }

        rc = ngx_api_led_json_to_form(r->pool, doc, max, &out);

        if (rc == NGX_API_LED_JSON_TOO_BIG) {
            goto too_big;
        }

        if (rc == NGX_DECLINED) {
            return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_json",
                       "a lone surrogate escape (\\ud800 to \\udfff) is "
                       "no character a form can carry");
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        ct = &ngx_api_led_form_type;

    } else {
        hint = r->headers_in.content_length_n > 0
               ? (size_t) r->headers_in.content_length_n + 64 : 256;

        if (ctx->streamed.data) {
            out = ctx->streamed;
            rc = NGX_OK;

        } else {
            rc = light ? ngx_api_led_json_light_dump_max(r->pool, light, hint,
                                                         max, &out)
                       : ngx_api_led_json_dump_max(r->pool, doc, hint, max,
                                                   &out);
        }

        if (rc == NGX_API_LED_JSON_TOO_BIG) {
            goto too_big;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (r->headers_in.content_type == NULL
            || !ngx_api_led_json_media_type(
                    &r->headers_in.content_type->value))
        {
            ct = &ngx_api_led_json_type;
        }
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->temporary = (out.len > 0);
    b->pos = out.data;
    b->last = out.data + out.len;
    b->start = b->pos;
    b->end = b->last;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    if (r != r->main || r->request_body == NULL) {
        /* a subrequest shares its parent's body: it gets its own */
        rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
        if (rb == NULL) {
            return NGX_ERROR;
        }

        r->request_body = rb;
    }

    rb = r->request_body;
    rb->bufs = cl;
    rb->temp_file = NULL;
    rb->rest = 0;

    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len.data = p;
    len.len = ngx_sprintf(p, "%uz", out.len) - p;

    r->headers_in.content_length_n = out.len;
    r->headers_in.chunked = 0;

    if (ngx_api_led_edit_headers_in_set(r, &ngx_api_led_h_content_length,
                                        &len, 0)
        != NGX_OK
        || ngx_api_led_edit_headers_in_remove(r,
                                    &ngx_api_led_h_transfer_encoding.name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ct
        && ngx_api_led_edit_headers_in_set(r, &ngx_api_led_h_content_type,
                                           ct, 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;

too_big:

    return ngx_api_led_transform_too_big(r);
}


/* the operations would make the body far larger than the client's */

static ngx_int_t
ngx_api_led_transform_too_big(ngx_http_request_t *r)
{
    return ngx_api_led_problem_finalize(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
               "body_too_large",
               "the transformed JSON document would be larger than %uz "
               "times the body", (size_t) NGX_API_LED_JSON_MEMORY_FACTOR);
}


/*
 * A response JSON transformation needs the upstream's whole body as it
 * is: the request goes upstream without Accept-Encoding, Range and
 * If-Range (a range of the body would pass untransformed: the fields the
 * operations remove with it).  r->headers_in still points at the
 * client's headers, so gzip for the client keeps working.
 */

static ngx_int_t
ngx_api_led_transform_identity(ngx_http_request_t *r)
{
    ngx_table_elt_t  *ae, *range, *if_range;

    ae = r->headers_in.accept_encoding;
    range = r->headers_in.range;
    if_range = r->headers_in.if_range;

    if (ngx_api_led_edit_headers_in_remove(r,
                                           &ngx_api_led_h_accept_encoding.name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* nginx points at the first Range and If-Range it read, if any */

    if (range
        && ngx_api_led_edit_headers_in_remove(r, &ngx_api_led_h_range.name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (if_range
        && ngx_api_led_edit_headers_in_remove(r, &ngx_api_led_h_if_range.name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_in.accept_encoding = ae;
    r->headers_in.range = range;
    r->headers_in.if_range = if_range;

    return NGX_OK;
}


/*
 * Query arguments.  The request line goes upstream rebuilt from the URI
 * and the new arguments.
 */

static ngx_int_t
ngx_api_led_transform_arg(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op)
{
    ngx_str_t  value;

    if (op->op != NGX_API_LED_EDIT_SET) {
        return ngx_api_led_edit_args(r, op->op, &op->name, &op->to, NULL);
    }

    if (ngx_http_complex_value(r, op->value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_api_led_edit_args(r, op->op, &op->name, NULL, &value);
}


/* CR, LF and other control characters never reach a header */

static ngx_int_t
ngx_api_led_transform_header_in(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op)
{
    ngx_str_t  value;

    switch (op->op) {

    case NGX_API_LED_EDIT_REMOVE:
        return ngx_api_led_edit_headers_in_remove(r, &op->name.name);

    case NGX_API_LED_EDIT_RENAME:
        return ngx_api_led_edit_headers_in_rename(r, &op->name, &op->to);

    default: /* NGX_API_LED_EDIT_SET, NGX_API_LED_EDIT_ADD */

        if (ngx_http_complex_value(r, op->value, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!ngx_api_led_header_value_is_safe(&value)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "api_led: value of request header \"%V\" holds a "
                          "control character, header not changed",
                          &op->name.name);
            return NGX_OK;
        }

        return ngx_api_led_edit_headers_in_set(r, &op->name, &value,
                                          op->op == NGX_API_LED_EDIT_ADD);
    }
}
