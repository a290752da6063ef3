
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * What the files of the observe concern share at run time, below the
 * module file (ngx_api_led_observe.c, which registers their directives
 * and handlers and so calls them): the index of the module's
 * configuration (ngx_api_led_observe_main_conf() and the others), set by
 * the module when its main configuration is made; content negotiation
 * (the index of the type of "types" the Accept header prefers, 0 without
 * one); "Vary: Accept"; the 405 answer of the content handlers.  With it
 * the metrics and catalog files never name the module file: the files call
 * one way (tools/call-graph).
 */


#include "ngx_api_led_observe_module.h"


ngx_uint_t  ngx_api_led_observe_index;

ngx_api_led_edit_name_t  ngx_api_led_observe_vary_name =
    { ngx_string("Vary"), ngx_string("vary"), 0 };
ngx_api_led_edit_name_t  ngx_api_led_observe_allow =
    { ngx_string("Allow"), ngx_string("allow"), 0 };


static ngx_int_t ngx_api_led_observe_range(u_char *p, u_char *end,
    ngx_str_t *type, ngx_int_t *q);


ngx_int_t
ngx_api_led_observe_vary(ngx_http_request_t *r)
{
    static ngx_str_t  accept = ngx_string("Accept");

    return ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_ADD,
                                        &ngx_api_led_observe_vary_name, NULL,
                                        &accept);
}


ngx_int_t
ngx_api_led_observe_not_allowed(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    static ngx_str_t  methods = ngx_string("GET, HEAD");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                     &ngx_api_led_observe_allow, NULL,
                                     &methods)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_api_led_problem_send(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "this resource answers GET and HEAD");
}


/*
 * Content negotiation (RFC 9110, 12.5.1): each type takes the quality of
 * the most specific media range that matches it ("type/subtype", then
 * "type/x", then x/x); the best quality wins, a tie goes to the type
 * listed first.  Without an Accept header, or when nothing is acceptable,
 * the first type: these resources always answer something.
 */

ngx_uint_t
ngx_api_led_observe_accept(ngx_http_request_t *r, ngx_str_t *types,
    ngx_uint_t n)
{
    u_char                     *p, *end, *next;
    ngx_int_t                   q, spec, best_q[4], best_spec[4];
    ngx_str_t                   range;
    ngx_uint_t                  i, best, seen;
    ngx_table_elt_t            *h;
    ngx_api_led_header_iter_t   it;

    static ngx_str_t  accept = ngx_string("Accept");

    n = ngx_min(n, 4);

    for (i = 0; i < n; i++) {
        best_q[i] = 0;
        best_spec[i] = 0;
    }

    seen = 0;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers, &accept,
                                        &it)))
    {
        seen = 1;
        p = h->value.data;
        end = p + h->value.len;

        while (p < end) {
            next = ngx_strlchr(p, end, ',');
            if (next == NULL) {
                next = end;
            }

            if (ngx_api_led_observe_range(p, next, &range, &q) == NGX_OK) {

                for (i = 0; i < n; i++) {
                    spec = 0;

                    if (range.len == 3
                        && ngx_strncmp(range.data, "*/*", 3) == 0)
                    {
                        spec = 1;

                    } else if (range.len == types[i].len
                               && ngx_strncasecmp(range.data, types[i].data,
                                                  range.len) == 0)
                    {
                        spec = 3;

                    } else if (range.len >= 2
                               && range.data[range.len - 1] == '*'
                               && range.data[range.len - 2] == '/'
                               && range.len - 1 <= types[i].len
                               && ngx_strncasecmp(range.data, types[i].data,
                                                  range.len - 1) == 0)
                    {
                        spec = 2;
                    }

                    if (spec > best_spec[i]) {
                        best_spec[i] = spec;
                        best_q[i] = q;
                    }
                }
            }

            p = next + 1;
        }
    }

    if (!seen) {
        return 0;
    }

    best = 0;

    for (i = 1; i < n; i++) {
        if (best_q[i] > best_q[best]) {
            best = i;
        }
    }

    return best;
}


/* " type/subtype ; a=b ; q=0.5 " -> the range and its quality (0..1000) */

static ngx_int_t
ngx_api_led_observe_range(u_char *p, u_char *end, ngx_str_t *type,
    ngx_int_t *q)
{
    u_char  *semi, *v, *last;

    *q = 1000;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    semi = ngx_strlchr(p, end, ';');
    last = semi ? semi : end;

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (last == p) {
        return NGX_DECLINED;
    }

    type->data = p;
    type->len = last - p;

    while (semi) {
        p = semi + 1;
        semi = ngx_strlchr(p, end, ';');
        last = semi ? semi : end;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (last - p < 2 || (*p != 'q' && *p != 'Q') || p[1] != '=') {
            continue;
        }

        v = p + 2;

        while (last > v && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        *q = ngx_atofp(v, last - v, 3);

        if (*q < 0 || *q > 1000) {
            /* not a quality: the range counts as not acceptable */
            *q = 0;
        }
    }

    return NGX_OK;
}
