
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Editing a request's headers and query arguments and a response's
 * headers (the transformation, api_led_key_hide, the consumer headers,
 * the correlation id).  nginx has no API for either; these keep nginx's
 * own views of them consistent with what goes out: r->headers_in.host and
 * the like, r->headers_out.location..., the ngx_list_t rules, $request_uri.
 */


#include "ngx_api_led.h"


/* response headers that nginx also points to from r->headers_out */
typedef struct {
    ngx_str_t                    name;
    ngx_uint_t                   offset;
} ngx_api_led_out_header_t;


static ngx_uint_t ngx_api_led_edit_starts(ngx_str_t *name,
    const char *prefix);
static void ngx_api_led_edit_forget_header_vars(ngx_http_request_t *r);
static void *ngx_api_led_edit_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_edit_find_header_vars(ngx_conf_t *cf);


static ngx_http_module_t  ngx_api_led_edit_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_edit_find_header_vars,     /* postconfiguration */

    ngx_api_led_edit_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_edit_module = {
    NGX_MODULE_V1,
    &ngx_api_led_edit_module_ctx,          /* module context */
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
static ngx_int_t ngx_api_led_edit_headers_in_own(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_edit_header_is_named(ngx_table_elt_t *h,
    ngx_str_t *names);
static ngx_int_t ngx_api_led_edit_headers_in_sweep(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_edit_headers_in_relink(ngx_http_request_t *r);
static ngx_http_header_t *ngx_api_led_edit_header_in_known(ngx_str_t *name);
static ngx_int_t ngx_api_led_edit_headers_in_relink_one(ngx_http_request_t *r,
    ngx_http_header_t *hh);
static void ngx_api_led_edit_headers_in_forget(ngx_http_request_t *r,
    ngx_http_header_t *hh);
static ngx_int_t ngx_api_led_edit_headers_in_link_list(ngx_http_request_t *r,
    ngx_http_header_t *hh);
static ngx_int_t ngx_api_led_edit_headers_in_link(ngx_http_request_t *r,
    ngx_table_elt_t *h);
static void ngx_api_led_edit_headers_out_unlink(ngx_http_request_t *r,
    ngx_table_elt_t *h);
static ngx_table_elt_t **ngx_api_led_edit_headers_out_own(
    ngx_http_request_t *r, ngx_api_led_edit_name_t *name);
static ngx_int_t ngx_api_led_edit_headers_out_link(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *name, ngx_table_elt_t *h);
static void ngx_api_led_edit_headers_out_point(ngx_http_request_t *r,
    ngx_table_elt_t *h);
static ngx_int_t ngx_api_led_args_strip(ngx_http_request_t *r,
    ngx_array_t *names, u_char *start, u_char *end, ngx_str_t *out);
static ngx_int_t ngx_api_led_arg_is_named(ngx_array_t *names, u_char *name,
    size_t len);
static ngx_int_t ngx_api_led_hex_digit(u_char c);
static ngx_int_t ngx_api_led_request_line_strip(ngx_http_request_t *r,
    ngx_array_t *names);


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
 * A bit for each length and for each first letter of those names: most
 * names (X-..., RateLimit-...) are none of them, at a glance.
 */
#define NGX_API_LED_OUT_HEADER_LENGTHS                                       \
    ((1 << 4) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 13) | (1 << 16))

#define ngx_api_led_letter(c)  (1 << ((c) - 'a'))

#define NGX_API_LED_OUT_HEADER_LETTERS                                       \
    (ngx_api_led_letter('s') | ngx_api_led_letter('d')                        \
     | ngx_api_led_letter('c') | ngx_api_led_letter('l')                      \
     | ngx_api_led_letter('r') | ngx_api_led_letter('a')                      \
     | ngx_api_led_letter('w') | ngx_api_led_letter('e'))

#define ngx_api_led_out_header_may_be(name)                                  \
    ((name)->len < 32                                                         \
     && (NGX_API_LED_OUT_HEADER_LENGTHS & (1 << (name)->len))                 \
     && ((name)->data[0] | 0x20) >= 'a' && ((name)->data[0] | 0x20) <= 'z'    \
     && (NGX_API_LED_OUT_HEADER_LETTERS                                      \
         & ngx_api_led_letter((name)->data[0] | 0x20)))


/*
 * A bit for each length of the request header names nginx knows
 * (ngx_http_headers_in[], the only names in its headers_in hash): a header
 * of another length is none of them, without a look-up.  All lengths until
 * ngx_api_led_edit_init() ran.
 */
static uint64_t  ngx_api_led_in_header_lengths = (uint64_t) -1;

/* the same names by length, a few of each (NULL-ended) */
#define NGX_API_LED_IN_HEADER_LEN   32
#define NGX_API_LED_IN_HEADER_SAME  6

static ngx_http_header_t  *ngx_api_led_in_headers_by_len
    [NGX_API_LED_IN_HEADER_LEN][NGX_API_LED_IN_HEADER_SAME + 1];
static ngx_uint_t          ngx_api_led_in_headers_indexed;


void
ngx_api_led_edit_init(void)
{
    uint64_t            lengths;
    ngx_uint_t          i, indexed;
    ngx_http_header_t  *hh;

    lengths = 0;
    indexed = 1;

    ngx_memzero(ngx_api_led_in_headers_by_len,
                sizeof(ngx_api_led_in_headers_by_len));

    for (hh = ngx_http_headers_in; hh->name.len; hh++) {
        if (hh->name.len >= 64) {
            lengths = (uint64_t) -1;
            indexed = 0;
            break;
        }

        lengths |= (uint64_t) 1 << hh->name.len;

        if (hh->name.len >= NGX_API_LED_IN_HEADER_LEN) {
            indexed = 0;
            continue;
        }

        for (i = 0; ngx_api_led_in_headers_by_len[hh->name.len][i]; i++) {
            /* void */
        }

        if (i == NGX_API_LED_IN_HEADER_SAME) {
            indexed = 0;
            continue;
        }

        ngx_api_led_in_headers_by_len[hh->name.len][i] = hh;
    }

    ngx_api_led_in_header_lengths = lengths;
    ngx_api_led_in_headers_indexed = indexed;
}


/*
 * Whether a header's name is "ref" (of the same length) as nginx's $http_
 * variables and CGI read names: in any case, "-" and "_" alike.  With
 * underscores_in_headers on, a client's X_Consumer_ID is an X-Consumer-ID
 * to an upstream that reads HTTP_X_CONSUMER_ID.
 */

ngx_uint_t
ngx_api_led_header_name_is(u_char *name, u_char *ref, size_t len)
{
    u_char  a, b;

    while (len--) {
        a = ngx_tolower(*name);
        b = ngx_tolower(*ref);

        if (a != b && !((a == '-' || a == '_') && (b == '-' || b == '_'))) {
            return 0;
        }

        name++;
        ref++;
    }

    return 1;
}


/*
 * The next header of that name in a header list (request or response):
 * names match as ngx_api_led_header_name_is() says, removed elements
 * (hash 0) are skipped.  An iterator with part NULL starts at the first
 * element.
 */

ngx_table_elt_t *
ngx_api_led_header_next(ngx_list_t *list, ngx_str_t *name,
    ngx_api_led_header_iter_t *it)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (it->part == NULL) {
        it->part = &list->part;
        it->i = 0;
    }

    part = it->part;
    h = part->elts;

    for (i = it->i; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        /* most often the name comes as it is written: memcmp() first */

        if (h[i].hash == 0
            || h[i].key.len != name->len
            || (ngx_memcmp(h[i].key.data, name->data, name->len) != 0
                && !ngx_api_led_header_name_is(h[i].key.data, name->data,
                                               name->len)))
        {
            continue;
        }

        it->part = part;
        it->i = i + 1;

        return &h[i];
    }

    it->part = part;
    it->i = part->nelts;

    return NULL;
}


ngx_table_elt_t *
ngx_api_led_header_find(ngx_list_t *list, ngx_str_t *name)
{
    ngx_api_led_header_iter_t  it;

    it.part = NULL;

    return ngx_api_led_header_next(list, name, &it);
}


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
    ngx_str_t   v, t, args;
    ngx_uint_t  done, match, n;

    /* no arguments: r->args.data may be NULL, and NULL + 0 is undefined */
    args = r->args;

    if (args.len == 0) {
        args.data = (u_char *) "";
    }

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
    for (p = args.data, end = p + args.len; p < end; p++) {
        if (*p == '&') {
            n++;
        }
    }

    size = args.len + 2 + name->name.len
           + ngx_api_led_form_escape_len(v.data, v.len)
           + n * t.len;

    start = ngx_pnalloc(r->pool, size);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;
    done = 0;
    end = args.data + args.len;

    for (seg = args.data; seg < end; seg = next + 1) {
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

        match = ngx_api_led_arg_name_is(seg, eq - seg, &name->name);

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
    ngx_uint_t                 found, removed;
    ngx_table_elt_t           *h;
    ngx_api_led_header_iter_t  it;

    if (add && value->len == 0) {
        return NGX_OK;
    }

    if (ngx_api_led_edit_headers_in_own(r) != NGX_OK) {
        return NGX_ERROR;
    }

    found = 0;
    removed = 0;

    if (!add) {
        it.part = NULL;

        while ((h = ngx_api_led_header_next(&r->headers_in.headers,
                                            &hn->name, &it)))
        {
            if (!found && value->len) {
                h->value = *value;
                found = 1;
                continue;
            }

            h->hash = 0;
            removed = 1;
        }
    }

    if (removed && ngx_api_led_edit_headers_in_sweep(r) != NGX_OK) {
        return NGX_ERROR;
    }

    if (found || value->len == 0) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    /* the proxy module looks request headers up by their hash */
    h->hash = hn->hash;
    h->key = hn->name;
    h->value = *value;
    h->lowcase_key = hn->lowcase.data;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return ngx_api_led_edit_headers_in_link(r, h);
}


/* removes every request header of that name */

ngx_int_t
ngx_api_led_edit_headers_in_remove(ngx_http_request_t *r, ngx_str_t *name)
{
    void                      *elts;
    ngx_table_elt_t           *h;
    ngx_api_led_header_iter_t  it;

    /* nothing changes when there is nothing to remove: no copy then */

    it.part = NULL;

    h = ngx_api_led_header_next(&r->headers_in.headers, name, &it);
    if (h == NULL) {
        return NGX_OK;
    }

    elts = r->headers_in.headers.part.elts;

    if (ngx_api_led_edit_headers_in_own(r) != NGX_OK) {
        return NGX_ERROR;
    }

    if (r->headers_in.headers.part.elts != elts) {
        /* a subrequest's copy of its parent's list: look in the copy */
        it.part = NULL;
        h = ngx_api_led_header_next(&r->headers_in.headers, name, &it);
    }

    while (h) {
        h->hash = 0;
        h = ngx_api_led_header_next(&r->headers_in.headers, name, &it);
    }

    return ngx_api_led_edit_headers_in_sweep(r);
}


/*
 * Removes the cookie "name" from the Cookie headers, as $cookie_NAME finds
 * it (ngx_api_led_edit_cookie_find()): a header left empty goes, the
 * others keep their other cookies in their order.
 */

ngx_int_t
ngx_api_led_edit_cookie_remove(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *p, *q, *last, *start, *out;
    ngx_str_t                  value;
    ngx_uint_t                 found, changed;
    ngx_table_elt_t           *h;
    ngx_api_led_header_iter_t  it;

    static ngx_str_t  cookie = ngx_string("Cookie");

    found = 0;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers, &cookie,
                                        &it)))
    {
        if (ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                             name->data, name->len - 1))
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

    changed = 0;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers, &cookie,
                                        &it)))
    {
        /* "a;b" becomes "a; b": room for a space a separator */
        out = ngx_pnalloc(r->pool, 2 * h->value.len);
        if (out == NULL) {
            return NGX_ERROR;
        }

        q = out;
        p = h->value.data;
        last = p + h->value.len;

        while (p < last) {

            /* one "name=value" pair, up to ";" */

            while (p < last && (*p == ' ' || *p == '\t' || *p == ';')) {
                p++;
            }

            start = p;

            while (p < last && *p != ';') {
                p++;
            }

            if (p == start) {
                continue;
            }

            if (ngx_api_led_edit_cookie_find(start, p, name, &value)) {
                changed = 1;
                continue;
            }

            if (q != out) {
                *q++ = ';';
                *q++ = ' ';
            }

            q = ngx_cpymem(q, start, p - start);
        }

        if (q == out) {
            h->hash = 0;
            continue;
        }

        h->value.data = out;
        h->value.len = q - out;
    }

    if (!changed) {
        return NGX_OK;
    }

    return ngx_api_led_edit_headers_in_sweep(r);
}


/*
 * Whether one ";"-separated piece of a Cookie header, p .. last, holds a
 * cookie of the name where nginx's $cookie_NAME finds one: at its start or
 * after a ",", the name in any case, blanks allowed around "="; its value
 * runs to the end of the piece.
 */

ngx_int_t
ngx_api_led_edit_cookie_find(u_char *p, u_char *last, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *q;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        q = p + name->len;

        if (q <= last && ngx_strncasecmp(p, name->data, name->len) == 0) {

            while (q < last && *q == ' ') {
                q++;
            }

            if (q < last && *q == '=') {
                q++;

                while (q < last && *q == ' ') {
                    q++;
                }

                value->data = q;
                value->len = last - q;

                return 1;
            }
        }

        p = ngx_strlchr(p, last, ',');
        if (p == NULL) {
            break;
        }

        p++;
    }

    return 0;
}


/* every header "from" is called "to" */

ngx_int_t
ngx_api_led_edit_headers_in_rename(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *from, ngx_api_led_edit_name_t *to)
{
    ngx_uint_t                 found;
    ngx_table_elt_t           *h;
    ngx_api_led_header_iter_t  it;

    if (ngx_api_led_edit_headers_in_own(r) != NGX_OK) {
        return NGX_ERROR;
    }

    found = 0;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers, &from->name,
                                        &it)))
    {
        h->key = to->name;
        h->lowcase_key = to->lowcase.data;
        h->hash = to->hash;
        found = 1;
    }

    /* the old name's pointer goes, the new name's comes */
    return found ? ngx_api_led_edit_headers_in_relink(r) : NGX_OK;
}


/*
 * ngx_api_led_edit_module: the indexed variables nginx reads from request
 * headers.  Their values, once evaluated, stay in the request
 * (r->variables) until it ends, and would no longer follow the edits.
 * Found at postconfiguration: directives index their variables as they
 * are read, nginx's own modules (the log formats) at their
 * postconfiguration, which comes before.
 */

typedef struct {
    ngx_array_t                 *header_vars; /* ngx_uint_t, NULL: none */
} ngx_api_led_edit_main_conf_t;


static void *
ngx_api_led_edit_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     header_vars = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_edit_main_conf_t));
}


static ngx_int_t
ngx_api_led_edit_find_header_vars(ngx_conf_t *cf)
{
    ngx_uint_t                     i, *index;
    ngx_str_t                     *name;
    ngx_http_variable_t           *v;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_api_led_edit_main_conf_t  *emcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_edit_module);

    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        name = &v[i].name;

        if (!(ngx_api_led_edit_starts(name, "http_")
              || ngx_api_led_edit_starts(name, "cookie_")
              || (name->len == 4 && ngx_strncmp(name->data, "host", 4) == 0)
              || (name->len == 12
                  && ngx_strncmp(name->data, "content_type", 12) == 0)))
        {
            continue;
        }

        if (emcf->header_vars == NULL) {
            emcf->header_vars = ngx_array_create(cf->pool, 4,
                                                 sizeof(ngx_uint_t));
            if (emcf->header_vars == NULL) {
                return NGX_ERROR;
            }
        }

        index = ngx_array_push(emcf->header_vars);
        if (index == NULL) {
            return NGX_ERROR;
        }

        *index = i;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_api_led_edit_starts(ngx_str_t *name, const char *prefix)
{
    size_t  len;

    len = ngx_strlen(prefix);

    return name->len > len && ngx_strncmp(name->data, prefix, len) == 0;
}


/* before an edit: the values read from the headers are read again */

static void
ngx_api_led_edit_forget_header_vars(ngx_http_request_t *r)
{
    ngx_uint_t                     i, *index;
    ngx_api_led_edit_main_conf_t  *emcf;

    emcf = ngx_http_get_module_main_conf(r, ngx_api_led_edit_module);

    if (emcf->header_vars == NULL || r->variables == NULL) {
        return;
    }

    index = emcf->header_vars->elts;

    for (i = 0; i < emcf->header_vars->nelts; i++) {
        r->variables[index[i]].valid = 0;
        r->variables[index[i]].not_found = 0;
    }
}


/*
 * A subrequest starts with a copy of its parent's headers_in: the same list
 * parts.  Before its first change it gets a list of its own.  nginx never
 * initialises the list of an HTTP/0.9 request (it has no headers): pushing
 * onto it would allocate from a NULL pool, so it gets an empty list first.
 */

static ngx_int_t
ngx_api_led_edit_headers_in_own(ngx_http_request_t *r)
{
    ngx_api_led_edit_forget_header_vars(r);

    if (r == r->main) {
        if (r->headers_in.headers.nalloc) {
            return NGX_OK;
        }

        return ngx_list_init(&r->headers_in.headers, r->pool, 4,
                             sizeof(ngx_table_elt_t));
    }

    if (r->headers_in.headers.part.elts
        != r->parent->headers_in.headers.part.elts)
    {
        return NGX_OK;
    }

    return ngx_api_led_edit_headers_in_copy(r, NULL);
}


/* a new list with room to push, pointers relinked */

ngx_int_t
ngx_api_led_edit_headers_in_copy(ngx_http_request_t *r, ngx_str_t *drop)
{
    ngx_uint_t          i, n;
    ngx_list_t          old;
    ngx_list_part_t    *part;
    ngx_table_elt_t    *h, *nh;

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

        if (h[i].hash == 0
            || (drop && ngx_api_led_edit_header_is_named(&h[i], drop)))
        {
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

    return ngx_api_led_edit_headers_in_relink(r);
}


static ngx_int_t
ngx_api_led_edit_header_is_named(ngx_table_elt_t *h, ngx_str_t *names)
{
    ngx_str_t  *name;

    for (name = names; name->len; name++) {
        if (h->key.len == name->len
            && ngx_strncasecmp(h->key.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * None of the parent's headers (a subrequest to a service that must not
 * see the client's credentials), and so no body either.
 */

ngx_int_t
ngx_api_led_edit_headers_in_clear(ngx_http_request_t *sr)
{
    if (ngx_list_init(&sr->headers_in.headers, sr->pool, 2,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_length_n = -1;
    sr->headers_in.chunked = 0;

    return ngx_api_led_edit_headers_in_relink(sr);
}


/*
 * Drops the elements marked with hash 0 from the list.  Elements never
 * move: a list part is split around a removed element instead.  Two rules
 * of ngx_list_t are kept: a part other than the first is never empty (the
 * usual iteration reads its first element unchecked), and ngx_list_push()
 * never writes past the storage of the last part (its room is l->nalloc
 * elements from l->last->elts, and it allocates a new part only when
 * l->last->nelts equals l->nalloc).  Then nginx's pointers to the known
 * headers are set again.
 */

static ngx_int_t
ngx_api_led_edit_headers_in_sweep(ngx_http_request_t *r)
{
    ngx_uint_t          i, k, nknown;
    ngx_list_t         *l;
    ngx_list_part_t    *part, *prev, *tail;
    ngx_table_elt_t    *h;
    ngx_http_header_t  *hh, *known[4];

    l = &r->headers_in.headers;
    prev = NULL;
    part = &l->part;
    h = part->elts;
    nknown = 0;

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

        if (h[i].hash != 0) {
            continue;
        }

        /* a header nginx points to from r->headers_in: relinked below */

        hh = ngx_api_led_edit_header_in_known(&h[i].key);

        if (hh) {
            for (k = 0; k < nknown && k < 4; k++) {
                if (known[k] == hh) {
                    break;
                }
            }

            if (k == nknown) {
                if (nknown < 4) {
                    known[nknown] = hh;
                }

                nknown++;
            }
        }

        if (part->nelts == 1) {

            if (prev == NULL) {
                /* the first part may be empty */
                part->nelts = 0;
                continue;
            }

            /* unlink the emptied part */

            prev->next = part->next;

            if (l->last == part) {
                l->last = prev;

                if (prev->nelts) {
                    /* full: the next push allocates a part */
                    l->nalloc = prev->nelts;

                } else {
                    /* the empty first part takes over the room */
                    prev->elts = part->elts;
                }
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

    if (nknown > 4) {
        return ngx_api_led_edit_headers_in_relink(r);
    }

    for (k = 0; k < nknown; k++) {
        if (ngx_api_led_edit_headers_in_relink_one(r, known[k]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the entry of ngx_http_headers_in[] of that name, NULL: none */

static ngx_http_header_t *
ngx_api_led_edit_header_in_known(ngx_str_t *name)
{
    ngx_http_header_t   *hh, **same;

    if (name->len < 64
        && !(ngx_api_led_in_header_lengths & ((uint64_t) 1 << name->len)))
    {
        return NULL;
    }

    if (ngx_api_led_in_headers_indexed) {
        if (name->len >= NGX_API_LED_IN_HEADER_LEN) {
            return NULL;
        }

        same = ngx_api_led_in_headers_by_len[name->len];

        for ( /* void */ ; *same; same++) {
            if (((*same)->name.data[0] | 0x20) == (name->data[0] | 0x20)
                && (ngx_memcmp((*same)->name.data, name->data, name->len)
                    == 0
                    || ngx_strncasecmp((*same)->name.data, name->data,
                                       name->len)
                       == 0))
            {
                return *same;
            }
        }

        return NULL;
    }

    for (hh = ngx_http_headers_in; hh->name.len; hh++) {
        if (hh->name.len == name->len
            && ngx_strncasecmp(hh->name.data, name->data, name->len) == 0)
        {
            return hh;
        }
    }

    return NULL;
}


/*
 * nginx's pointer (or array, before 1.23) for one known header, set again
 * from the elements of that name left in the list
 */

static ngx_int_t
ngx_api_led_edit_headers_in_relink_one(ngx_http_request_t *r,
    ngx_http_header_t *hh)
{
    ngx_api_led_edit_headers_in_forget(r, hh);

    return ngx_api_led_edit_headers_in_link_list(r, hh);
}


/* forgets the known headers, then links them again in order */

static ngx_int_t
ngx_api_led_edit_headers_in_relink(ngx_http_request_t *r)
{
    ngx_http_header_t  *hh;

    for (hh = ngx_http_headers_in; hh->name.len; hh++) {
        ngx_api_led_edit_headers_in_forget(r, hh);
    }

    return ngx_api_led_edit_headers_in_link_list(r, NULL);
}


/* nginx's pointer (or array, before 1.23) for a known header emptied */

static void
ngx_api_led_edit_headers_in_forget(ngx_http_request_t *r,
    ngx_http_header_t *hh)
{
#if (nginx_version < 1023000)
    if (hh->offset == offsetof(ngx_http_headers_in_t, cookies)
#if (NGX_HTTP_X_FORWARDED_FOR)
        || hh->offset == offsetof(ngx_http_headers_in_t, x_forwarded_for)
#endif
       )
    {
        ngx_memzero((char *) &r->headers_in + hh->offset, sizeof(ngx_array_t));
        return;
    }
#endif

    *(ngx_table_elt_t **) ((char *) &r->headers_in + hh->offset) = NULL;
}


/*
 * the elements of the list linked in order: those named as hh, or all
 * (hh NULL)
 */

static ngx_int_t
ngx_api_led_edit_headers_in_link_list(ngx_http_request_t *r,
    ngx_http_header_t *hh)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

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

        /* names most often come as nginx writes them: memcmp() first */

        if (hh
            && (h[i].hash == 0
                || h[i].key.len != hh->name.len
                || (ngx_memcmp(h[i].key.data, hh->name.data, hh->name.len)
                    != 0
                    && ngx_strncasecmp(h[i].key.data, hh->name.data,
                                       hh->name.len)
                       != 0)))
        {
            continue;
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

    if (h->lowcase_key == NULL) {
        /* pushed by another module without it: not a header nginx knows */
        return NGX_OK;
    }

    if (h->key.len < 64
        && !(ngx_api_led_in_header_lengths & ((uint64_t) 1 << h->key.len)))
    {
        return NGX_OK;
    }

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
 * pointers (Location, ETag, WWW-Authenticate...) on added elements and off
 * removed and renamed ones.  Content-Type is r->headers_out.content_type,
 * not an element.
 */

ngx_int_t
ngx_api_led_edit_headers_out(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value)
{
    ngx_str_t                  v;
    ngx_uint_t                 found;
    ngx_table_elt_t           *h, *set;
    ngx_api_led_header_iter_t  it;

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
    set = NULL;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_out.headers, &name->name,
                                        &it)))
    {
        switch (op) {

        case NGX_API_LED_EDIT_RENAME:
            ngx_api_led_edit_headers_out_unlink(r, h);
            h->key = to->name;
            h->lowcase_key = to->lowcase.data;
#if (nginx_version >= 1023000)
            h->next = NULL;
#endif
            ngx_api_led_edit_headers_out_point(r, h);
            break;

        case NGX_API_LED_EDIT_SET:
            if (!found && v.len) {
                h->value = v;
                found = 1;
                set = h;
                break;
            }

            /* fall through */

        default: /* NGX_API_LED_EDIT_REMOVE */
            ngx_api_led_edit_headers_out_unlink(r, h);
            h->hash = 0;
        }
    }

    if (op == NGX_API_LED_EDIT_RENAME) {
        return NGX_OK;
    }

    if (found) {
        return ngx_api_led_edit_headers_out_link(r, name, set);
    }

    if (op != NGX_API_LED_EDIT_SET || v.len == 0) {
        /* removed: nginx must not add its own Server or Date either */
        return ngx_api_led_edit_headers_out_link(r, name, NULL);
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

    return ngx_api_led_edit_headers_out_link(r, name, h);
}


/*
 * Server and Date: nginx's header filter writes its own unless
 * r->headers_out.server (.date) points to an element.  One that is set
 * here is pointed to (else nginx would add a second one); when they are
 * removed, a removed element (hash 0) is pointed to, so that nginx adds
 * none (as headers-more does).
 */

static ngx_table_elt_t **
ngx_api_led_edit_headers_out_own(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *name)
{
    if (name->lowcase.len == sizeof("server") - 1
        && ngx_strcmp(name->lowcase.data, "server") == 0)
    {
        return &r->headers_out.server;
    }

    if (name->lowcase.len == sizeof("date") - 1
        && ngx_strcmp(name->lowcase.data, "date") == 0)
    {
        return &r->headers_out.date;
    }

    return NULL;
}


static ngx_int_t
ngx_api_led_edit_headers_out_link(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *name, ngx_table_elt_t *h)
{
    ngx_table_elt_t  **ph;

    ph = ngx_api_led_edit_headers_out_own(r, name);

    if (ph == NULL) {
        if (h) {
            ngx_api_led_edit_headers_out_point(r, h);
        }

        return NGX_OK;
    }

    if (h) {
        if (*ph == NULL || (*ph)->hash == 0) {
            *ph = h;
        }

        return NGX_OK;
    }

    if (*ph) {
        /* already a removed one */
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 0;
    h->key = name->name;
    ngx_str_null(&h->value);
    h->lowcase_key = name->lowcase.data;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    *ph = h;

    return NGX_OK;
}


/*
 * Another header nginx points to from r->headers_out (WWW-Authenticate,
 * Location...): one that is added here is pointed to, so that nginx treats
 * it as its own ("satisfy any" clears a challenge, a relative Location is
 * made absolute).
 */

static void
ngx_api_led_edit_headers_out_point(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_table_elt_t           **ph;
    ngx_api_led_out_header_t   *oh;

    if (!ngx_api_led_out_header_may_be(&h->key)) {
        return;
    }

    for (oh = ngx_api_led_out_headers; oh->name.len; oh++) {
        if (h->key.len != oh->name.len
            || (h->key.data[0] | 0x20) != oh->name.data[0]
            || ngx_strncasecmp(h->key.data, oh->name.data, oh->name.len) != 0)
        {
            continue;
        }

        ph = (ngx_table_elt_t **) ((char *) &r->headers_out + oh->offset);

#if (nginx_version >= 1023000)

        while (*ph && *ph != h) {
            ph = &(*ph)->next;
        }

        *ph = h;

#else

        if (*ph == NULL) {
            *ph = h;
        }

#endif

        return;
    }
}


static void
ngx_api_led_edit_headers_out_unlink(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_table_elt_t           **ph;
    ngx_api_led_out_header_t   *oh;

    if (!ngx_api_led_out_header_may_be(&h->key)) {
        return;
    }

    for (oh = ngx_api_led_out_headers; oh->name.len; oh++) {
        if (h->key.len != oh->name.len
            || (h->key.data[0] | 0x20) != oh->name.data[0]
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

    if (r->args.len == 0) {
        return NGX_OK;
    }

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
        if (ngx_api_led_arg_name_is(name, len, &n[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * Whether an argument's name as the client sent it is this name: compared
 * percent-decoded, because the upstream decodes it ("api%5Fkey" is its
 * "api_key"), and case-insensitively, as $arg_NAME; and where the name
 * has "_", a ".", a space ("+") or a "[" is one too, as PHP reads names
 * ("api.key" is its "api_key").  A configured name holds no "%"
 * (ngx_api_led_edit_name(), the key and token sources).
 */

ngx_int_t
ngx_api_led_arg_name_is(u_char *p, size_t len, ngx_str_t *name)
{
    u_char      c, *last;
    ngx_int_t   hi, lo;
    ngx_uint_t  i;

    if (len < name->len) {
        /* a name shrinks by decoding, it never grows */
        return 0;
    }

    last = p + len;

    for (i = 0; p < last; i++) {
        c = *p++;

        if (c == '%' && last - p >= 2) {
            hi = ngx_api_led_hex_digit(p[0]);
            lo = ngx_api_led_hex_digit(p[1]);

            if (hi >= 0 && lo >= 0) {
                c = (u_char) (hi << 4 | lo);
                p += 2;
            }

        } else if (c == '+') {
            c = ' ';
        }

        if (i == name->len) {
            return 0;
        }

        if (ngx_tolower(c) != ngx_tolower(name->data[i])
            && !(name->data[i] == '_'
                 && (c == '.' || c == ' ' || c == '[')))
        {
            return 0;
        }
    }

    return (i == name->len);
}


/*
 * Whether every "%" of an argument's value (as sent) is followed by two
 * hex digits: ngx_unescape_uri() drops a "%" it cannot decode, and the
 * digit after it too at the end ("k1%", "k1%4" and "k%-1" become "k1"
 * and "k-1"), so such a value would pass for another one
 */

ngx_int_t
ngx_api_led_arg_escapes_valid(u_char *p, size_t len)
{
    u_char  *last;

    last = p + len;

    for ( ;; ) {
        p = ngx_strlchr(p, last, '%');

        if (p == NULL) {
            return 1;
        }

        if (last - p < 3
            || ngx_api_led_hex_digit(p[1]) < 0
            || ngx_api_led_hex_digit(p[2]) < 0)
        {
            return 0;
        }

        p += 3;
    }
}


static ngx_int_t
ngx_api_led_hex_digit(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* everything but the unreserved characters of RFC 3986 is %XX */

size_t
ngx_api_led_form_escape_len(u_char *src, size_t len)
{
    size_t  n;

    n = len;

    while (len--) {
        if (!(isalnum(*src) || *src == '-' || *src == '.' || *src == '_'
              || *src == '~'))
        {
            n += 2;
        }

        src++;
    }

    return n;
}


u_char *
ngx_api_led_form_escape(u_char *dst, u_char *src, size_t len)
{
    static u_char  hex[] = "0123456789ABCDEF";

    while (len--) {
        if (isalnum(*src) || *src == '-' || *src == '.' || *src == '_'
            || *src == '~')
        {
            *dst++ = *src++;
            continue;
        }

        *dst++ = '%';
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src & 0xf];
        src++;
    }

    return dst;
}
