
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The transformation's editing of a request's headers and query arguments
 * and of a response's headers, keeping nginx's own views of them
 * (r->headers_in.host and the like, r->headers_out.location...) consistent
 * with what goes out.
 */


#include "ngx_api_led.h"


/* response headers that nginx also points to from r->headers_out */
typedef struct {
    ngx_str_t                    name;
    ngx_uint_t                   offset;
} ngx_api_led_out_header_t;


static ngx_int_t ngx_api_led_edit_headers_in_own(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_edit_headers_in_rebuild(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_edit_headers_in_link(ngx_http_request_t *r,
    ngx_table_elt_t *h);
static void ngx_api_led_edit_headers_out_unlink(ngx_http_request_t *r,
    ngx_table_elt_t *h);


static ngx_api_led_out_header_t  ngx_api_led_out_headers[] = {
    { ngx_string("server"), offsetof(ngx_http_headers_out_t, server) },
    { ngx_string("date"), offsetof(ngx_http_headers_out_t, date) },
    { ngx_string("content-encoding"),
      offsetof(ngx_http_headers_out_t, content_encoding) },
    { ngx_string("location"), offsetof(ngx_http_headers_out_t, location) },
    { ngx_string("refresh"), offsetof(ngx_http_headers_out_t, refresh) },
    { ngx_string("last-modified"),
      offsetof(ngx_http_headers_out_t, last_modified) },
    { ngx_string("content-range"),
      offsetof(ngx_http_headers_out_t, content_range) },
    { ngx_string("accept-ranges"),
      offsetof(ngx_http_headers_out_t, accept_ranges) },
    { ngx_string("www-authenticate"),
      offsetof(ngx_http_headers_out_t, www_authenticate) },
    { ngx_string("expires"), offsetof(ngx_http_headers_out_t, expires) },
    { ngx_string("etag"), offsetof(ngx_http_headers_out_t, etag) },
    { ngx_null_string, 0 }
};


/*
 * A header name: an HTTP token.  An argument name: printable, without
 * "&", "=", "#", "%" or "+", matched and written as it is.
 */

char *
ngx_api_led_edit_name(ngx_conf_t *cf, ngx_str_t *name, ngx_uint_t header,
    ngx_api_led_edit_name_t *hn)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty name");
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (header) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || ngx_strlchr((u_char *) "!#$%&'*+-.^_`|~",
                               (u_char *) "!#$%&'*+-.^_`|~" + 15, c))
            {
                continue;
            }

        } else if (c > 0x20 && c < 0x7f && c != '&' && c != '='
                   && c != '#' && c != '%' && c != '+')
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s name \"%V\"",
                           header ? "header" : "argument", name);
        return NGX_CONF_ERROR;
    }

    hn->name = *name;
    hn->lowcase.len = name->len;
    hn->lowcase.data = ngx_pnalloc(cf->pool, name->len + 1);
    if (hn->lowcase.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_strlow(hn->lowcase.data, name->data, name->len);
    hn->lowcase.data[name->len] = '\0';
    hn->hash = ngx_hash_key(hn->lowcase.data, hn->lowcase.len);

    return NGX_CONF_OK;
}


/*
 * Query arguments.  Names match case-insensitively, as $arg_NAME does;
 * values are percent-encoded.  The request line goes upstream rebuilt
 * from the URI and the new arguments.
 */

ngx_int_t
ngx_api_led_edit_args(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value)
{
    u_char     *p, *end, *seg, *eq, *next, *start;
    size_t      size;
    ngx_str_t   v, t;
    ngx_uint_t  done, match, n;

    if (value) {
        v = *value;

    } else {
        ngx_str_null(&v);
    }

    if (to) {
        t = to->name;

    } else {
        ngx_str_null(&t);
    }

    n = 1;
    for (p = r->args.data, end = p + r->args.len; p < end; p++) {
        if (*p == '&') {
            n++;
        }
    }

    size = r->args.len + 2 + name->name.len
           + ngx_api_led_form_escape_len(v.data, v.len)
           + n * t.len;

    start = ngx_pnalloc(r->pool, size);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;
    done = 0;
    end = r->args.data + r->args.len;

    for (seg = r->args.data; seg < end; seg = next + 1) {
        next = ngx_strlchr(seg, end, '&');
        if (next == NULL) {
            next = end;
        }

        if (next == seg) {
            continue;
        }

        eq = ngx_strlchr(seg, next, '=');
        if (eq == NULL) {
            eq = next;
        }

        match = ((size_t) (eq - seg) == name->name.len
                 && ngx_strncasecmp(seg, name->name.data,
                                    name->name.len) == 0);

        if (match && op == NGX_API_LED_EDIT_REMOVE) {
            continue;
        }

        if (match && op == NGX_API_LED_EDIT_SET && done) {
            continue;
        }

        if (p != start) {
            *p++ = '&';
        }

        if (!match) {
            p = ngx_cpymem(p, seg, next - seg);
            continue;
        }

        if (op == NGX_API_LED_EDIT_RENAME) {
            p = ngx_cpymem(p, t.data, t.len);
            p = ngx_cpymem(p, eq, next - eq);
            continue;
        }

        /* NGX_API_LED_EDIT_SET */

        p = ngx_cpymem(p, name->name.data, name->name.len);
        *p++ = '=';
        p = ngx_api_led_form_escape(p, v.data, v.len);
        done = 1;
    }

    if (op == NGX_API_LED_EDIT_SET && !done) {
        if (p != start) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, name->name.data, name->name.len);
        *p++ = '=';
        p = ngx_api_led_form_escape(p, v.data, v.len);
    }

    r->args.data = start;
    r->args.len = p - start;
    r->valid_unparsed_uri = 0;

    return NGX_OK;
}


/*
 * "set": the first header of the name gets the value, the others go; an
 * empty value removes them all (as proxy_set_header does).  "add": one
 * more header.
 */

ngx_int_t
ngx_api_led_edit_headers_in_set(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *hn, ngx_str_t *value, ngx_uint_t add)
{
    ngx_uint_t        i, found, removed;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (add && value->len == 0) {
        return NGX_OK;
    }

    if (ngx_api_led_edit_headers_in_own(r) != NGX_OK) {
        return NGX_ERROR;
    }

    found = 0;
    removed = 0;

    if (!add) {
        part = &r->headers_in.headers.part;
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

            if (h[i].hash == 0
                || h[i].key.len != hn->name.len
                || ngx_strncmp(h[i].lowcase_key, hn->lowcase.data,
                               hn->name.len) != 0)
            {
                continue;
            }

            if (!found && value->len) {
                h[i].value = *value;
                found = 1;
                continue;
            }

            h[i].hash = 0;
            removed = 1;
        }
    }

    if (removed && ngx_api_led_edit_headers_in_rebuild(r) != NGX_OK) {
        return NGX_ERROR;
    }

    if (found || value->len == 0) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = hn->hash;
    h->key = hn->name;
    h->value = *value;
    h->lowcase_key = hn->lowcase.data;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return ngx_api_led_edit_headers_in_link(r, h);
}


ngx_int_t
ngx_api_led_edit_headers_in_remove(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *hn)
{
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* nothing changes when there is nothing to remove: no copy then */

    found = 0;
    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == hn->name.len
            && ngx_strncmp(h[i].lowcase_key, hn->lowcase.data,
                           hn->name.len) == 0)
        {
            found = 1;
            break;
        }
    }

    if (!found) {
        return NGX_OK;
    }

    if (ngx_api_led_edit_headers_in_own(r) != NGX_OK) {
        return NGX_ERROR;
    }

    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == hn->name.len
            && ngx_strncmp(h[i].lowcase_key, hn->lowcase.data,
                           hn->name.len) == 0)
        {
            h[i].hash = 0;
        }
    }

    return ngx_api_led_edit_headers_in_rebuild(r);
}


/* every header "from" is called "to" */

ngx_int_t
ngx_api_led_edit_headers_in_rename(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *from, ngx_api_led_edit_name_t *to)
{
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_api_led_edit_headers_in_own(r) != NGX_OK) {
        return NGX_ERROR;
    }

    found = 0;
    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == from->name.len
            && ngx_strncmp(h[i].lowcase_key, from->lowcase.data,
                           h[i].key.len) == 0)
        {
            h[i].key = to->name;
            h[i].lowcase_key = to->lowcase.data;
            h[i].hash = to->hash;
            found = 1;
        }
    }

    /* relink: the old name's pointer goes, the new name's comes */
    return found ? ngx_api_led_edit_headers_in_rebuild(r) : NGX_OK;
}


/*
 * A subrequest starts with a copy of its parent's headers_in: the same list
 * parts.  Before its first change it gets a list of its own.
 */

static ngx_int_t
ngx_api_led_edit_headers_in_own(ngx_http_request_t *r)
{
    if (r == r->main
        || r->headers_in.headers.part.elts
           != r->parent->headers_in.headers.part.elts)
    {
        return NGX_OK;
    }

    return ngx_api_led_edit_headers_in_rebuild(r);
}


/* a new list without the elements marked with hash 0, pointers relinked */

static ngx_int_t
ngx_api_led_edit_headers_in_rebuild(ngx_http_request_t *r)
{
    ngx_uint_t          i, n;
    ngx_list_t          old;
    ngx_list_part_t    *part;
    ngx_table_elt_t    *h, *nh;
    ngx_http_header_t  *hh;

    /* old.last may point into r->headers_in: only old.part is walked */
    old = r->headers_in.headers;

    n = 0;
    for (part = &old.part; part; part = part->next) {
        n += part->nelts;
    }

    if (ngx_list_init(&r->headers_in.headers, r->pool, n + 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &old.part;
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

        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = h[i];
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif
    }

    /* forget the known headers, then link them again in order */

    for (hh = ngx_http_headers_in; hh->name.len; hh++) {
#if (nginx_version < 1023000)
        if (hh->offset == offsetof(ngx_http_headers_in_t, cookies)
#if (NGX_HTTP_X_FORWARDED_FOR)
            || hh->offset == offsetof(ngx_http_headers_in_t, x_forwarded_for)
#endif
           )
        {
            ngx_memzero((char *) &r->headers_in + hh->offset,
                        sizeof(ngx_array_t));
            continue;
        }
#endif
        *(ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset) = NULL;
    }

    part = &r->headers_in.headers.part;
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

        if (ngx_api_led_edit_headers_in_link(r, &h[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_edit_headers_in_link(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_table_elt_t            **ph;
    ngx_http_header_t           *hh;
    ngx_http_core_main_conf_t   *cmcf;
#if (nginx_version < 1023000)
    ngx_array_t                 *a;
#endif

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    hh = ngx_hash_find(&cmcf->headers_in_hash, h->hash, h->lowcase_key,
                       h->key.len);
    if (hh == NULL) {
        return NGX_OK;
    }

#if (nginx_version < 1023000)

    if (hh->offset == offsetof(ngx_http_headers_in_t, cookies)
#if (NGX_HTTP_X_FORWARDED_FOR)
        || hh->offset == offsetof(ngx_http_headers_in_t, x_forwarded_for)
#endif
       )
    {
        a = (ngx_array_t *) ((char *) &r->headers_in + hh->offset);

        if (a->elts == NULL
            && ngx_array_init(a, r->pool, 1, sizeof(ngx_table_elt_t *))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ph = ngx_array_push(a);
        if (ph == NULL) {
            return NGX_ERROR;
        }

        *ph = h;
        return NGX_OK;
    }

    ph = (ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset);

    if (*ph == NULL) {
        *ph = h;
    }

#else

    ph = (ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset);

    while (*ph) {
        ph = &(*ph)->next;
    }

    *ph = h;
    h->next = NULL;

#endif

    return NGX_OK;
}


/*
 * Response headers: "set", "add", "remove", "rename" on the list (hash 0
 * marks a removed element, as nginx does), keeping r->headers_out's own
 * pointers (Location, ETag...) off removed and renamed elements.
 * Content-Type is r->headers_out.content_type, not an element.
 */

ngx_int_t
ngx_api_led_edit_headers_out(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value)
{
    ngx_str_t         v;
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (value) {
        v = *value;

    } else {
        ngx_str_null(&v);
    }

    if (name->lowcase.len == sizeof("content-type") - 1
        && ngx_strcmp(name->lowcase.data, "content-type") == 0)
    {
        /* not a list element: r->headers_out.content_type */

        if (op == NGX_API_LED_EDIT_SET && v.len) {
            r->headers_out.content_type = v;
            r->headers_out.content_type_len = v.len;

        } else {
            ngx_str_null(&r->headers_out.content_type);
            r->headers_out.content_type_len = 0;
        }

        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.content_type_hash = 0;
        ngx_str_null(&r->headers_out.charset);

        return NGX_OK;
    }

    if (op == NGX_API_LED_EDIT_ADD) {
        if (v.len == 0) {
            return NGX_OK;
        }

        goto push;
    }

    found = 0;
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

        if (h[i].hash == 0
            || h[i].key.len != name->name.len
            || ngx_strncasecmp(h[i].key.data, name->name.data,
                               name->name.len) != 0)
        {
            continue;
        }

        switch (op) {

        case NGX_API_LED_EDIT_RENAME:
            ngx_api_led_edit_headers_out_unlink(r, &h[i]);
            h[i].key = to->name;
            h[i].lowcase_key = to->lowcase.data;
            break;

        case NGX_API_LED_EDIT_SET:
            if (!found && v.len) {
                h[i].value = v;
                found = 1;
                break;
            }

            /* fall through */

        default: /* NGX_API_LED_EDIT_REMOVE */
            ngx_api_led_edit_headers_out_unlink(r, &h[i]);
            h[i].hash = 0;
        }
    }

    if (op != NGX_API_LED_EDIT_SET || found || v.len == 0) {
        return NGX_OK;
    }

push:

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = name->name;
    h->value = v;
    h->lowcase_key = name->lowcase.data;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


static void
ngx_api_led_edit_headers_out_unlink(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_table_elt_t           **ph;
    ngx_api_led_out_header_t   *oh;

    for (oh = ngx_api_led_out_headers; oh->name.len; oh++) {
        if (h->key.len != oh->name.len
            || ngx_strncasecmp(h->key.data, oh->name.data, oh->name.len) != 0)
        {
            continue;
        }

        ph = (ngx_table_elt_t **) ((char *) &r->headers_out + oh->offset);

        if (*ph == h) {
#if (nginx_version >= 1023000)
            *ph = h->next;
#else
            *ph = NULL;
#endif
        }

        return;
    }
}
