
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The client's request body as the concerns read it, once nginx has read
 * it (ngx_http_read_client_request_body): its size and its text in one
 * piece.  The request transformation and the composition share it.
 */


#include "ngx_api_led.h"


/* the size of a body's buffers, in memory or in the temporary file */

off_t
ngx_api_led_body_size(ngx_http_request_body_t *rb)
{
    off_t         size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = 0;

    if (rb == NULL) {
        return 0;
    }

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            size += b->last - b->pos;

        } else if (b->in_file) {
            size += b->file_last - b->file_pos;
        }
    }

    return size;
}


/*
 * The body in one piece: the buffer itself when it is one buffer in
 * memory, else a copy (a body buffered to a temporary file is read back,
 * as the proxy module does to send it; the file was just written).
 * NGX_DECLINED: larger than "max".
 */

ngx_int_t
ngx_api_led_body_text(ngx_http_request_t *r, size_t max, ngx_str_t *text)
{
    u_char       *p;
    off_t         size, len;
    ssize_t       n;
    ngx_buf_t    *b, *single;
    ngx_uint_t    nbufs;
    ngx_chain_t  *cl;

    ngx_str_null(text);

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    size = 0;
    nbufs = 0;
    single = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        len = ngx_buf_in_memory(b) ? b->last - b->pos
                                   : (b->in_file ? b->file_last - b->file_pos
                                                 : 0);
        if (len) {
            nbufs++;
            single = b;
            size += len;
        }
    }

    if (size > (off_t) max) {
        return NGX_DECLINED;
    }

    if (size == 0) {
        return NGX_OK;
    }

    if (nbufs == 1 && ngx_buf_in_memory(single)) {
        text->data = single->pos;
        text->len = single->last - single->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;
    text->len = (size_t) size;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file || b->file_last == b->file_pos) {
            continue;
        }

        len = b->file_last - b->file_pos;

        n = ngx_read_file(b->file, p, (size_t) len, b->file_pos);

        if (n != (ssize_t) len) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                          "api_led: cannot read the request body from "
                          "\"%V\"", &b->file->name);
            return NGX_ERROR;
        }

        p += len;
    }

    return NGX_OK;
}
