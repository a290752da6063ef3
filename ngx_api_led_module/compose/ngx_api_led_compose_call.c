
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


/* the request headers a call gets (hashes at postconfiguration) */
static ngx_api_led_edit_name_t  ngx_api_led_compose_h[] = {
    { ngx_string(NGX_API_LED_CORRELATION_HEADER),
      ngx_string(NGX_API_LED_CORRELATION_LOWCASE), 0 },
    { ngx_string("Content-Type"), ngx_string("content-type"), 0 },
    { ngx_string("Content-Length"), ngx_string("content-length"), 0 },
    { ngx_string("Content-Encoding"), ngx_string("content-encoding"), 0 },
    { ngx_null_string, ngx_null_string, 0 }
};

#define ngx_api_led_compose_h_cid     ngx_api_led_compose_h[0]
#define ngx_api_led_compose_h_type    ngx_api_led_compose_h[1]
#define ngx_api_led_compose_h_length  ngx_api_led_compose_h[2]
#define ngx_api_led_compose_h_coding  ngx_api_led_compose_h[3]


static ngx_str_t  ngx_api_led_compose_accept_encoding =
    ngx_string("Accept-Encoding");

static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


/*
 * Calls carry the correlation id.  A request without a body of its own
 * gets it among its headers exactly once (as in an API location, where
 * the core module made it so already; elsewhere a client's second,
 * unchecked X-Correlation-ID must not reach a call), and the calls share
 * its headers; with a body, or with an Accept-Encoding that the calls
 * must not carry (the client's answer keeps it), each call gets headers
 * of its own (NGX_DECLINED).
 */

ngx_int_t
ngx_api_led_compose_shared_headers(ngx_http_request_t *r)
{
    ngx_str_t                  *cid;
    ngx_table_elt_t            *h;
    ngx_api_led_header_iter_t   it;

    if (r->headers_in.content_length
        || r->headers_in.transfer_encoding
        || r->headers_in.chunked)
    {
        return NGX_DECLINED;
    }

    if (r->headers_in.headers.nalloc
        && ngx_api_led_header_find(&r->headers_in.headers,
                                   &ngx_api_led_compose_accept_encoding))
    {
        return NGX_DECLINED;
    }

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        return NGX_ERROR;
    }

    it.part = NULL;

    h = ngx_api_led_header_next(&r->headers_in.headers,
                                &ngx_api_led_compose_h_cid.name, &it);

    if (h
        && h->value.len == cid->len
        && ngx_strncmp(h->value.data, cid->data, cid->len) == 0
        && ngx_api_led_header_next(&r->headers_in.headers,
                                   &ngx_api_led_compose_h_cid.name, &it)
           == NULL)
    {
        return NGX_OK;
    }

    /* the first gets the id, the others go */

    return ngx_api_led_edit_headers_in_set(r, &ngx_api_led_compose_h_cid,
                                           cid, 0);
}


/*
 * A call's own request headers: the client's, without the body headers of
 * the client's request (Content-Encoding too), with the call's body
 * headers (type NULL and length -1: no body) and the correlation id.
 * Subrequests otherwise share the parent's header list.  Without the
 * client's Accept-Encoding: the composition reads a call's answer as it
 * comes, and a compressed one is no JSON (a client that accepts gzip
 * would fail every part whose system compresses).
 */

ngx_int_t
ngx_api_led_compose_part_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_str_t *type, off_t length)
{
    u_char     *p;
    ngx_str_t  *cid, len;

    static ngx_str_t  drop[] = {
        ngx_string("Content-Length"),
        ngx_string("Content-Type"),
        ngx_string("Transfer-Encoding"),
        ngx_string("Content-Encoding"),
        ngx_string("Accept-Encoding"),
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

    if (type
        && ngx_api_led_edit_headers_in_set(sr, &ngx_api_led_compose_h_type,
                                           type, 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (length >= 0) {
        p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        len.data = p;
        len.len = ngx_sprintf(p, "%O", length) - p;

        if (ngx_api_led_edit_headers_in_set(sr, &ngx_api_led_compose_h_length,
                                            &len, 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        sr->headers_in.content_length_n = length;
    }

    return ngx_api_led_edit_headers_in_set(sr, &ngx_api_led_compose_h_cid,
                                           cid, 1);
}


/*
 * body=@request: the call sends the client's body as it is, from memory
 * or from nginx's temporary file, with the client's Content-Encoding (the
 * other calls' bodies are the module's, uncoded: part_headers() drops
 * it).  It gets its own buffer headers (the proxy module moves their
 * positions while it sends), over the same data.
 */

ngx_int_t
ngx_api_led_compose_request_body(ngx_http_request_t *r,
    ngx_http_request_t *sr)
{
    ngx_buf_t                *b;
    ngx_chain_t              *cl, **ll, *in;
    ngx_table_elt_t          *h;
    ngx_http_request_body_t  *rb;

    if (r->headers_in.headers.nalloc) {
        h = ngx_api_led_header_find(&r->headers_in.headers,
                                    &ngx_api_led_compose_h_coding.name);

        if (h
            && ngx_api_led_edit_headers_in_set(sr,
                                               &ngx_api_led_compose_h_coding,
                                               &h->value, 1)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

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
    ngx_uint_t                   last;
    ngx_chain_t                 *cl;
    ngx_api_led_compose_call_t  *call;

    if (r == r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    call = ngx_api_led_compose_find_call(r);
    if (call == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }

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

    if (!last && ngx_api_led_upstream_cut_short(r)) {
        /* what came so far is not the call's answer: it failed */
        call->incomplete = 1;
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


/* the body filter, and the hashes of the header names a call gets */

void
ngx_api_led_compose_filter_init(void)
{
    ngx_api_led_edit_name_t  *hn;

    for (hn = ngx_api_led_compose_h; hn->name.len; hn++) {
        hn->hash = ngx_hash_key(hn->lowcase.data, hn->lowcase.len);
    }

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_compose_body_filter;
}
