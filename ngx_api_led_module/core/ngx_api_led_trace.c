
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): reading and
 * writing the traceparent header, checking tracestate.  Pure functions:
 * the correlation machinery of the core decides when to call them.
 */


#include "ngx_api_led.h"


static ngx_int_t ngx_api_led_trace_hex(u_char *src, size_t len, u_char *dst);
static ngx_int_t ngx_api_led_trace_zero(u_char *id, size_t len);
static ngx_int_t ngx_api_led_tracestate_key(u_char *p, u_char *last);
static ngx_int_t ngx_api_led_tracestate_value(u_char *p, u_char *last);


/*
 * traceparent: VERSION "-" TRACE-ID "-" PARENT-ID "-" FLAGS, lowercase
 * hex.  Version 00 is exactly 55 characters.  A later version (not ff) is
 * read as far as version 00 goes, when what follows starts with "-".  An
 * all-zero trace id or parent id is invalid.  NGX_OK, or NGX_DECLINED when
 * the header cannot be used (then a new trace starts).
 */

ngx_int_t
ngx_api_led_trace_parse(ngx_str_t *header, ngx_api_led_trace_t *t)
{
    u_char  *p, version;

    p = header->data;

    if (header->len < NGX_API_LED_TRACEPARENT_LEN) {
        return NGX_DECLINED;
    }

    if (ngx_api_led_trace_hex(p, 2, &version) != NGX_OK || version == 0xff) {
        return NGX_DECLINED;
    }

    if (version == 0 && header->len != NGX_API_LED_TRACEPARENT_LEN) {
        return NGX_DECLINED;
    }

    if (version != 0 && header->len > NGX_API_LED_TRACEPARENT_LEN
        && p[NGX_API_LED_TRACEPARENT_LEN] != '-')
    {
        return NGX_DECLINED;
    }

    if (p[2] != '-' || p[35] != '-' || p[52] != '-') {
        return NGX_DECLINED;
    }

    if (ngx_api_led_trace_hex(p + 3, 32, t->trace_id) != NGX_OK
        || ngx_api_led_trace_hex(p + 36, 16, t->parent_id) != NGX_OK
        || ngx_api_led_trace_hex(p + 53, 2, &t->flags) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_api_led_trace_zero(t->trace_id, NGX_API_LED_TRACE_ID_SIZE)
        || ngx_api_led_trace_zero(t->parent_id, NGX_API_LED_SPAN_ID_SIZE))
    {
        return NGX_DECLINED;
    }

    /* the flags this version knows: "sampled" */
    t->flags &= 0x01;

    return NGX_OK;
}


/* "00-TRACE-SPAN-FLAGS", NGX_API_LED_TRACEPARENT_LEN characters */

u_char *
ngx_api_led_trace_write(u_char *p, u_char *trace_id, u_char *span_id,
    u_char flags)
{
    p = ngx_cpymem(p, "00-", 3);
    p = ngx_hex_dump(p, trace_id, NGX_API_LED_TRACE_ID_SIZE);
    *p++ = '-';
    p = ngx_hex_dump(p, span_id, NGX_API_LED_SPAN_ID_SIZE);
    *p++ = '-';

    return ngx_hex_dump(p, &flags, 1);
}


/*
 * tracestate: at most 32 list members "key=value" separated by commas
 * (optional spaces and tabs around them), at most 512 characters, each
 * key once.  Empty members are allowed.  A header that breaks the rules
 * is not passed on (the specification allows dropping it).
 */

ngx_int_t
ngx_api_led_tracestate_valid(ngx_str_t *state)
{
    u_char      *p, *last, *member, *end, *eq, *q;
    ngx_uint_t   n, i;
    ngx_str_t    keys[32];

    if (state->len == 0 || state->len > 512) {
        return 0;
    }

    p = state->data;
    last = p + state->len;
    n = 0;

    while (p <= last) {
        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        member = p;
        q = end;

        while (member < q && (*member == ' ' || *member == '\t')) {
            member++;
        }

        while (q > member && (q[-1] == ' ' || q[-1] == '\t')) {
            q--;
        }

        if (member < q) {
            eq = ngx_strlchr(member, q, '=');

            if (eq == NULL || n == 32
                || ngx_api_led_tracestate_key(member, eq) != NGX_OK
                || ngx_api_led_tracestate_value(eq + 1, q) != NGX_OK)
            {
                return 0;
            }

            for (i = 0; i < n; i++) {
                if (keys[i].len == (size_t) (eq - member)
                    && ngx_strncmp(keys[i].data, member, eq - member) == 0)
                {
                    return 0;
                }
            }

            keys[n].data = member;
            keys[n].len = eq - member;
            n++;
        }

        p = end + 1;
    }

    return 1;
}


/*
 * key: lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/"), or
 * tenant "@" system (tenant up to 241 characters starting with lcalpha or
 * a digit, system up to 14 starting with lcalpha)
 */

static ngx_int_t
ngx_api_led_tracestate_key(u_char *p, u_char *last)
{
    u_char  *at, *s, c;

    if (p == last || last - p > 256) {
        return NGX_DECLINED;
    }

    at = ngx_strlchr(p, last, '@');

    for (s = p; s < last; s++) {
        c = *s;

        if (s == at) {
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-' || c == '*' || c == '/'))
        {
            return NGX_DECLINED;
        }
    }

    if (at == NULL) {
        return (*p >= 'a' && *p <= 'z') ? NGX_OK : NGX_DECLINED;
    }

    if (at == p || at - p > 241 || last - at - 1 < 1 || last - at - 1 > 14
        || !(at[1] >= 'a' && at[1] <= 'z')
        || !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* value: 0*255(chr) nblk-chr, printable ASCII but "," and "=" */

static ngx_int_t
ngx_api_led_tracestate_value(u_char *p, u_char *last)
{
    if (p == last || last - p > 256 || last[-1] == ' ') {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == ',' || *p == '=') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* lowercase hex only, as the specification wants */

static ngx_int_t
ngx_api_led_trace_hex(u_char *src, size_t len, u_char *dst)
{
    u_char      c, v;
    ngx_uint_t  i;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;

        } else {
            return NGX_DECLINED;
        }

        if (i % 2 == 0) {
            dst[i / 2] = (u_char) (v << 4);

        } else {
            dst[i / 2] |= v;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_trace_zero(u_char *id, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (id[i]) {
            return 0;
        }
    }

    return 1;
}
