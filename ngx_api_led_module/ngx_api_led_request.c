
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Editing the request before it goes upstream: removing and adding
 * request headers, removing query arguments.  nginx has no API for either;
 * these keep nginx's own structures consistent (header pointers, the
 * ngx_list_t rules, the proxied URI).
 */


#include "ngx_api_led.h"


static ngx_int_t ngx_api_led_args_strip(ngx_http_request_t *r,
    ngx_array_t *names, u_char *start, u_char *end, ngx_str_t *out);
static ngx_int_t ngx_api_led_arg_is_named(ngx_array_t *names, u_char *name,
    size_t len);
static ngx_int_t ngx_api_led_request_line_strip(ngx_http_request_t *r,
    ngx_array_t *names);


/*
 * Removes every request header of that name.  nginx keeps pointers to
 * header elements (r->headers_in.host and the like), so elements never
 * move: the list part is split around the removed element instead.  Two
 * rules of ngx_list_t are kept: a part other than the first is never
 * empty (the usual iteration reads its first element unchecked), and
 * ngx_list_push() never writes past the storage of the last part (its
 * room is l->nalloc elements from l->last->elts, so when the last part
 * starts further into its storage, l->nalloc shrinks by as much; later
 * parts are then allocated that smaller, which is harmless).
 */

ngx_int_t
ngx_api_led_headers_in_remove(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t                  i;
    ngx_list_t                 *l;
    ngx_list_part_t            *part, *prev, *tail;
    ngx_table_elt_t            *h, **ph;
    ngx_http_header_t          *hh;
    ngx_http_core_main_conf_t  *cmcf;

    l = &r->headers_in.headers;
    prev = NULL;
    part = &l->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            prev = part;
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != name->len
            || ngx_strncasecmp(h[i].key.data, name->data, name->len) != 0)
        {
            continue;
        }

        /* a header nginx itself parsed: forget its pointer to it */

        if (h[i].hash && h[i].lowcase_key) {
            cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

            hh = ngx_hash_find(&cmcf->headers_in_hash, h[i].hash,
                               h[i].lowcase_key, h[i].key.len);

            if (hh) {
                ph = (ngx_table_elt_t **) ((char *) &r->headers_in
                                           + hh->offset);
                if (*ph == &h[i]) {
#if (nginx_version >= 1023000)
                    *ph = h[i].next;
#else
                    *ph = NULL;
#endif
                }
            }
        }

        h[i].hash = 0;

        if (part->nelts == 1) {

            if (prev == NULL) {
                /* the first part may be empty */
                part->nelts = 0;
                continue;
            }

            /* unlink the emptied part; the previous one gets its room */

            prev->next = part->next;

            if (l->last == part) {
                l->last = prev;
            }

            part = prev;
            h = part->elts;
            i = part->nelts - 1;
            continue;
        }

        if (i == part->nelts - 1) {
            part->nelts--;
            continue;
        }

        if (i == 0) {
            part->elts = (char *) part->elts + l->size;
            part->nelts--;

            if (l->last == part) {
                l->nalloc--;
            }

            h = part->elts;
            i = (ngx_uint_t) -1;
            continue;
        }

        tail = ngx_palloc(r->pool, sizeof(ngx_list_part_t));
        if (tail == NULL) {
            return NGX_ERROR;
        }

        tail->elts = (char *) part->elts + (i + 1) * l->size;
        tail->nelts = part->nelts - i - 1;
        tail->next = part->next;

        part->nelts = i;
        part->next = tail;

        if (l->last == part) {
            l->last = tail;
            l->nalloc -= i + 1;
        }

        prev = part;
        part = tail;
        h = part->elts;
        i = (ngx_uint_t) -1;
    }

    return NGX_OK;
}


/* adds a request header; the name is copied lowercased for the hash */

ngx_int_t
ngx_api_led_headers_in_add(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char           *lowcase;
    ngx_table_elt_t  *h;

    lowcase = ngx_pnalloc(r->pool, name->len);
    if (lowcase == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key = *name;
    h->value = *value;
    h->lowcase_key = lowcase;
    h->hash = ngx_hash_strlow(lowcase, name->data, name->len);
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/*
 * Removes the arguments of these names (ngx_str_t, case-insensitive as
 * $arg_NAME) from $args, and also from $request_uri and $request, so that
 * access logs and the request line of error-log lines do not record them.
 * The proxied URI is then built from $uri and $args, as after a rewrite,
 * instead of the client's request line.
 */

ngx_int_t
ngx_api_led_args_remove(ngx_http_request_t *r, ngx_array_t *names)
{
    u_char     *p, *q, *last;
    size_t      len;
    ngx_str_t   args;

    if (ngx_api_led_args_strip(r, names, r->args.data,
                               r->args.data + r->args.len, &args)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (args.len == r->args.len) {
        /* none of them */
        return NGX_OK;
    }

    r->args = args;
    r->valid_unparsed_uri = 0;

    /* $request_uri */

    last = r->unparsed_uri.data + r->unparsed_uri.len;

    q = ngx_strlchr(r->unparsed_uri.data, last, '?');

    if (q) {
        if (ngx_api_led_args_strip(r, names, q + 1, last, &args) != NGX_OK) {
            return NGX_ERROR;
        }

        if (args.len == 0) {
            r->unparsed_uri.len = q - r->unparsed_uri.data;

        } else {
            len = q + 1 - r->unparsed_uri.data;

            p = ngx_pnalloc(r->pool, len + args.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, r->unparsed_uri.data, len);
            ngx_memcpy(p + len, args.data, args.len);

            r->unparsed_uri.data = p;
            r->unparsed_uri.len = len + args.len;
        }
    }

    return ngx_api_led_request_line_strip(r, names);
}


/* $request: "METHOD URI[?ARGS][ HTTP/x.y]" */

static ngx_int_t
ngx_api_led_request_line_strip(ngx_http_request_t *r, ngx_array_t *names)
{
    u_char     *start, *end, *q, *last, *p;
    ngx_str_t   args, line;

    start = r->request_line.data;
    last = start + r->request_line.len;

    q = ngx_strlchr(start, last, '?');
    if (q == NULL) {
        return NGX_OK;
    }

    end = last;

    for (p = last; p > q + 1; p--) {
        if (p[-1] == ' ') {
            end = p - 1;
            break;
        }
    }

    if (ngx_api_led_args_strip(r, names, q + 1, end, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    line.len = (q - start) + (args.len ? 1 + args.len : 0) + (last - end);
    line.data = ngx_pnalloc(r->pool, line.len);
    if (line.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(line.data, start, q - start);

    if (args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, args.data, args.len);
    }

    ngx_memcpy(p, end, last - end);

    r->request_line = line;

    return NGX_OK;
}


/* [start, end) without the named arguments, in a new buffer */

static ngx_int_t
ngx_api_led_args_strip(ngx_http_request_t *r, ngx_array_t *names,
    u_char *start, u_char *end, ngx_str_t *out)
{
    u_char  *p, *next, *eq, *dst;

    dst = ngx_pnalloc(r->pool, end - start + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    out->data = dst;

    for (p = start; p < end; p = next + 1) {

        next = ngx_strlchr(p, end, '&');
        if (next == NULL) {
            next = end;
        }

        eq = ngx_strlchr(p, next, '=');
        if (eq == NULL) {
            eq = next;
        }

        if (ngx_api_led_arg_is_named(names, p, eq - p)) {
            continue;
        }

        if (dst != out->data) {
            *dst++ = '&';
        }

        dst = ngx_cpymem(dst, p, next - p);
    }

    out->len = dst - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_arg_is_named(ngx_array_t *names, u_char *name, size_t len)
{
    ngx_str_t   *n;
    ngx_uint_t   i;

    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        if (n[i].len == len && ngx_strncasecmp(n[i].data, name, len) == 0) {
            return 1;
        }
    }

    return 0;
}
