
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration, a call: the request headers and the body a call's
 * subrequest gets, and the body filter that keeps what the call answers.
 */


#include "ngx_api_led_compose.h"


static ngx_api_led_compose_call_t *ngx_api_led_compose_find_call(
    ngx_http_request_t *r);
static ngx_int_t ngx_api_led_compose_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_api_led_compose_keep(ngx_http_request_t *r,
    ngx_api_led_compose_call_t *call, u_char *data, size_t size);


static ngx_str_t  ngx_api_led_compose_cid_header =
    ngx_string("X-Correlation-ID");


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


/*
 * A call's own request headers: the client's, without the body headers of
 * the client's request, with the call's body headers (type NULL and length
 * -1: no body) and the correlation id.  Subrequests otherwise share the
 * parent's header list.
 */

ngx_int_t
ngx_api_led_compose_part_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_str_t *type, off_t length)
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

    if (type) {
        nh = ngx_list_push(&sr->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        /* the proxy module looks request headers up by their hash */
        nh->hash = ngx_hash_key((u_char *) "content-type",
                                sizeof("content-type") - 1);
        ngx_str_set(&nh->key, "Content-Type");
        nh->value = *type;
        nh->lowcase_key = (u_char *) "content-type";
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif

        sr->headers_in.content_type = nh;
    }

    if (length >= 0) {
        nh = ngx_list_push(&sr->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        nh->hash = ngx_hash_key((u_char *) "content-length",
                                sizeof("content-length") - 1);
        ngx_str_set(&nh->key, "Content-Length");
        nh->value.data = p;
        nh->value.len = ngx_sprintf(p, "%O", length) - p;
        nh->lowcase_key = (u_char *) "content-length";
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif

        sr->headers_in.content_length = nh;
        sr->headers_in.content_length_n = length;
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
 * body=@request: the call sends the client's body as it is, from memory
 * or from nginx's temporary file.  It gets its own buffer headers (the
 * proxy module moves their positions while it sends), over the same data.
 */

ngx_int_t
ngx_api_led_compose_request_body(ngx_http_request_t *r,
    ngx_http_request_t *sr)
{
    ngx_buf_t                *b;
    ngx_chain_t              *cl, **ll, *in;
    ngx_http_request_body_t  *rb;

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    ll = &rb->bufs;

    for (in = r->request_body ? r->request_body->bufs : NULL;
         in;
         in = in->next)
    {
        if (ngx_buf_size(in->buf) == 0) {
            continue;
        }

        b = ngx_alloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);

        if (b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(b, in->buf, sizeof(ngx_buf_t));
        b->last_buf = 0;
        b->last_in_chain = 0;

        cl->buf = b;
        cl->next = NULL;

        *ll = cl;
        ll = &cl->next;
        rb->buf = b;
    }

    if (rb->buf) {
        rb->buf->last_buf = 1;
        rb->buf->last_in_chain = 1;
    }

    sr->request_body = rb;

    return NGX_OK;
}


/*
 * The body filter keeps what a call produces (the part location's own
 * filters, a response transformation for example, ran before) and passes
 * nothing on: a call's bytes never reach the client.
 */

static ngx_api_led_compose_call_t *
ngx_api_led_compose_find_call(ngx_http_request_t *r)
{
    ngx_uint_t                   i, j;
    ngx_api_led_compose_t       *cmp;
    ngx_api_led_compose_part_t  *part;

    if (r->parent == NULL) {
        return NULL;
    }

    cmp = ngx_http_get_module_ctx(r->parent, ngx_api_led_compose_module);
    if (cmp == NULL) {
        return NULL;
    }

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->call.sr == r) {
            return &part->call;
        }

        for (j = 0; j < part->next; j++) {
            if (part->calls[j].sr == r) {
                return &part->calls[j];
            }
        }
    }

    return NULL;
}


static ngx_int_t
ngx_api_led_compose_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl;
    ngx_api_led_compose_call_t  *call;

    if (r == r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    call = ngx_api_led_compose_find_call(r);
    if (call == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (call->state == NGX_API_LED_PART_RUNNING
            && !call->overflow && !call->unreadable)
        {
            if (ngx_buf_in_memory(b)) {
                if (ngx_api_led_compose_keep(r, call, b->pos,
                                             b->last - b->pos)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

            } else if (ngx_buf_size(b)) {
                call->unreadable = 1;
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
    ngx_api_led_compose_call_t *call, u_char *data, size_t size)
{
    u_char                          *p;
    size_t                           need;
    ngx_api_led_compose_loc_conf_t  *lcf;

    if (size == 0) {
        return NGX_OK;
    }

    lcf = call->part->compose->conf;
    need = call->len + size;

    if (need > lcf->max_part_size) {
        call->overflow = 1;
        return NGX_OK;
    }

    if (need > call->size) {

        if (call->size == 0 && r->headers_out.content_length_n > 0
            && (size_t) r->headers_out.content_length_n >= need
            && (size_t) r->headers_out.content_length_n
               <= lcf->max_part_size)
        {
            call->size = r->headers_out.content_length_n;

        } else {
            call->size = ngx_max(call->size * 2, ngx_max(need, 1024));
            call->size = ngx_min(call->size, lcf->max_part_size);
        }

        p = ngx_palloc(r->pool, call->size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (call->len) {
            ngx_memcpy(p, call->body, call->len);
            ngx_pfree(r->pool, call->body);
        }

        call->body = p;
    }

    ngx_memcpy(call->body + call->len, data, size);
    call->len += size;

    return NGX_OK;
}


void
ngx_api_led_compose_filter_init(void)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_compose_body_filter;
}
