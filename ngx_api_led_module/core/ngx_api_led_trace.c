
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): reading and
 * writing the traceparent header, checking tracestate, and the trace of a
 * request.
 *
 * A request's trace is made on first use: the client's traceparent when
 * it is valid (its trace id, its span as the parent, its flags; a valid
 * tracestate is passed on as it is), else a new trace (sampled) and no
 * tracestate.  The main request has a span of its own, kept in the shared
 * ctx; in an API location its upstream gets it in traceparent.  A part of
 * a composition is a child span: its own span id, written into the
 * traceparent of its own request headers, where it stays (an internal
 * redirect of the part keeps it) and where its upstream and its own parts
 * find it.  Another subrequest shares its parent's span.
 *
 * The shared ctx is given by the core's module file, which calls these
 * functions and is never called by them.
 */


#include "ngx_api_led.h"
#include <openssl/rand.h>


static ngx_int_t ngx_api_led_trace_new_id(u_char *id, size_t len);
static ngx_int_t ngx_api_led_trace_header(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, u_char *span);
static ngx_int_t ngx_api_led_trace_set(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, u_char *span, ngx_uint_t add);
static ngx_int_t ngx_api_led_trace_hex(u_char *src, size_t len, u_char *dst);
static ngx_int_t ngx_api_led_trace_zero(u_char *id, size_t len);
static ngx_uint_t ngx_api_led_tracestate_list_valid(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_tracestate_key(u_char *p, u_char *last);
static ngx_int_t ngx_api_led_tracestate_value(u_char *p, u_char *last);


/* the value of a lowercase hex digit; 0xff: not one */
static const u_char  ngx_api_led_trace_hex_values[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};


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
    p = ngx_api_led_hex_dump(p, trace_id, NGX_API_LED_TRACE_ID_SIZE);
    *p++ = '-';
    p = ngx_api_led_hex_dump(p, span_id, NGX_API_LED_SPAN_ID_SIZE);
    *p++ = '-';

    return ngx_api_led_hex_dump(p, &flags, 1);
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
 * Several tracestate headers are one list (RFC 9110, 5.3): its members
 * together are at most 32, each key once, at most 512 characters, as
 * the upstream sees them.  Rare: joined in the request's pool.
 */

static ngx_uint_t
ngx_api_led_tracestate_list_valid(ngx_http_request_t *r)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         list;
    ngx_uint_t        i, pass;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = 0;
    p = NULL;
    list.data = NULL;

    for (pass = 0; pass < 2; pass++) {

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
                || h[i].key.len != sizeof("tracestate") - 1
                || ngx_strncasecmp(h[i].key.data, (u_char *) "tracestate",
                                   h[i].key.len) != 0)
            {
                continue;
            }

            if (pass == 0) {
                len += h[i].value.len + 1;
                continue;
            }

            if (p != list.data) {
                *p++ = ',';
            }

            if (h[i].value.len) {
                p = ngx_cpymem(p, h[i].value.data, h[i].value.len);
            }
        }

        if (pass == 0) {
            if (len == 0) {
                return 1;
            }

            if (len - 1 > 512) {
                /* joined, longer than a tracestate may be */
                return 0;
            }

            list.data = ngx_pnalloc(r->pool, len);
            if (list.data == NULL) {
                return 0;
            }

            p = list.data;
        }
    }

    list.len = p - list.data;

    return ngx_api_led_tracestate_valid(&list) ? 1 : 0;
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


/*
 * lowercase hex only, as the specification wants; "len" digits, even.
 * A table lookup a digit: every API call of a traced request reads one.
 */

static ngx_int_t
ngx_api_led_trace_hex(u_char *src, size_t len, u_char *dst)
{
    u_char   hi, lo;
    u_char  *last;

    for (last = src + len; src < last; src += 2) {
        hi = ngx_api_led_trace_hex_values[src[0]];
        lo = ngx_api_led_trace_hex_values[src[1]];

        if ((hi | lo) & 0xf0) {
            return NGX_DECLINED;
        }

        *dst++ = (u_char) (hi << 4 | lo);
    }

    return NGX_OK;
}




static ngx_int_t
ngx_api_led_trace_zero(u_char *id, size_t len)
{
    size_t    i;
    uint64_t  w, any;

    /* ids are 8 or 16 bytes: a word at a time */

    any = 0;

    for (i = 0; i + 8 <= len; i += 8) {
        ngx_memcpy(&w, id + i, 8);
        any |= w;
    }

    for ( /* void */ ; i < len; i++) {
        any |= id[i];
    }

    return any == 0;
}


static ngx_api_led_edit_name_t  ngx_api_led_traceparent =
    { ngx_string("traceparent"), ngx_string("traceparent"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_tracestate =
    { ngx_string("tracestate"), ngx_string("tracestate"), 0 };


/* at postconfiguration (the core module's) */

void
ngx_api_led_trace_init(void)
{
    ngx_api_led_traceparent.hash =
        ngx_hash_key(ngx_api_led_traceparent.lowcase.data,
                     ngx_api_led_traceparent.lowcase.len);
    ngx_api_led_tracestate.hash =
        ngx_hash_key(ngx_api_led_tracestate.lowcase.data,
                     ngx_api_led_tracestate.lowcase.len);
}


/*
 * The client's trace, from the headers ngx_api_led_request_headers() found
 * in its one look: exactly one traceparent that parses (two of them are no
 * trace: the specification wants a new one then), and tracestate headers
 * that are all valid, or none of them is passed on.
 */

ngx_int_t
ngx_api_led_trace_start(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_table_elt_t  *parent;

    if (ctx->trace_made) {
        return NGX_OK;
    }

    parent = ctx->traceparent_in;

    if (parent && parent->hash && !ctx->traceparent_many
        && ngx_api_led_trace_parse(&parent->value, &ctx->trace) == NGX_OK)
    {
        ctx->trace_parent = 1;
        ctx->tracestate_drop = ctx->tracestate_bad
                               || (ctx->tracestate_many
                                   && !ngx_api_led_tracestate_list_valid(
                                           r->main));

    } else {
        if (parent) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "api_led: traceparent not used, a new trace");
        }

        if (ngx_api_led_trace_new_id(ctx->trace.trace_id,
                                     NGX_API_LED_TRACE_ID_SIZE)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* a trace that starts here is recorded here: the access log */
        ctx->trace.flags = 0x01;
        ctx->trace_parent = 0;
        ctx->tracestate_drop = ctx->tracestate_in;
    }

    if (ngx_api_led_trace_new_id(ctx->span_id, NGX_API_LED_SPAN_ID_SIZE)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->trace_made = 1;

    return NGX_OK;
}


/* the main request's upstream continues the trace from its span, once */

ngx_int_t
ngx_api_led_trace_forward(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    if (ctx->trace_forwarded) {
        return NGX_OK;
    }

    if (ngx_api_led_trace_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->trace_forwarded = 1;

    /* the client sent none: added, with no look for one to replace */
    return ngx_api_led_trace_set(r->main, ctx, ctx->span_id,
                                 ctx->traceparent_in == NULL);
}


/* a subrequest of r becomes a child span of r's span */

ngx_int_t
ngx_api_led_trace_child(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_http_request_t *sr)
{
    u_char  span[NGX_API_LED_SPAN_ID_SIZE];

    if (ngx_api_led_trace_start(r, ctx) != NGX_OK
        || ngx_api_led_trace_new_id(span, NGX_API_LED_SPAN_ID_SIZE) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_api_led_trace_set(sr, ctx, span, 0);
}


/*
 * The span of a request of the tree, and its parent: the main request's
 * are in the ctx; a subrequest with a span of its own has it in its own
 * traceparent, and its parent is the span of the request that made it; a
 * subrequest without shares its parent's.
 */

ngx_int_t
ngx_api_led_trace_span(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    u_char *span, u_char *parent)
{
    if (ngx_api_led_trace_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    while (r != r->main) {

        if (ngx_api_led_trace_header(r, ctx, span) == NGX_OK) {
            if (parent) {
                (void) ngx_api_led_trace_span(r->parent, ctx, parent, NULL);
            }

            return NGX_OK;
        }

        r = r->parent;
    }

    ngx_memcpy(span, ctx->span_id, NGX_API_LED_SPAN_ID_SIZE);

    if (!ctx->trace_parent) {
        return NGX_DECLINED;
    }

    if (parent) {
        ngx_memcpy(parent, ctx->trace.parent_id, NGX_API_LED_SPAN_ID_SIZE);
    }

    return NGX_OK;
}


/*
 * A subrequest's own span: the traceparent of request headers of its own
 * (not its parent's list), of this trace, and not the client's (a list
 * copied before the main request forwarded its span still holds that).
 */

static ngx_int_t
ngx_api_led_trace_header(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    u_char *span)
{
    ngx_table_elt_t      *h;
    ngx_api_led_trace_t   t;

    if (r->headers_in.headers.part.elts
        == r->parent->headers_in.headers.part.elts)
    {
        return NGX_DECLINED;
    }

    h = ngx_api_led_header_find(&r->headers_in.headers,
                                &ngx_api_led_traceparent.name);

    if (h == NULL
        || ngx_api_led_trace_parse(&h->value, &t) != NGX_OK
        || ngx_memcmp(t.trace_id, ctx->trace.trace_id,
                      NGX_API_LED_TRACE_ID_SIZE) != 0
        || (ctx->trace_parent
            && ngx_memcmp(t.parent_id, ctx->trace.parent_id,
                          NGX_API_LED_SPAN_ID_SIZE) == 0))
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(span, t.parent_id, NGX_API_LED_SPAN_ID_SIZE);

    return NGX_OK;
}


/*
 * r's request headers carry the trace from "span" on: traceparent set
 * (the others removed; just added when "add": the caller knows r has none),
 * a tracestate that cannot be
 * passed on removed.
 * A subrequest gets a header list of its own first (core/edit.c).
 */

static ngx_int_t
ngx_api_led_trace_set(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    u_char *span, ngx_uint_t add)
{
    u_char     *p;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, NGX_API_LED_TRACEPARENT_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_api_led_trace_write(p, ctx->trace.trace_id, span,
                                        ctx->trace.flags)
                - p;

    if (ngx_api_led_edit_headers_in_set(r, &ngx_api_led_traceparent, &value,
                                        add)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->tracestate_drop) {
        return ngx_api_led_edit_headers_in_remove(r,
                                               &ngx_api_led_tracestate.name);
    }

    return NGX_OK;
}




/* a random id, never all zeros (the specification's invalid value) */

static ngx_int_t
ngx_api_led_trace_new_id(u_char *id, size_t len)
{
    u_char  *rnd;

    do {
        rnd = ngx_api_led_random_bytes(len);
        if (rnd == NULL) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "api_led: RAND_bytes() failed");
            return NGX_ERROR;
        }

        ngx_memcpy(id, rnd, len);

    } while (ngx_api_led_trace_zero(id, len));

    return NGX_OK;
}


/*
 * RAND_bytes() takes locks and reseeds: one call per request costs more
 * than the rest of an id, so random bytes are drawn in batches.  Each
 * byte is handed out once; it becomes part of a public id, so there is
 * nothing to wipe.
 */

u_char *
ngx_api_led_random_bytes(size_t n)
{
    u_char  *p;

    static u_char  pool[4096];
    static size_t  used = sizeof(pool);

    if (used + n > sizeof(pool)) {
        if (RAND_bytes(pool, sizeof(pool)) != 1) {
            return NULL;
        }

        used = 0;
    }

    p = pool + used;
    used += n;

    return p;
}


/* xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx */

u_char *
ngx_api_led_uuid_write(u_char *p)
{
    u_char  *rnd;

    rnd = ngx_api_led_random_bytes(16);
    if (rnd == NULL) {
        return NULL;
    }

    /* version 4, variant 10xx */
    rnd[6] = (rnd[6] & 0x0f) | 0x40;
    rnd[8] = (rnd[8] & 0x3f) | 0x80;

    p = ngx_api_led_hex_dump(p, &rnd[0], 4);
    *p++ = '-';
    p = ngx_api_led_hex_dump(p, &rnd[4], 2);
    *p++ = '-';
    p = ngx_api_led_hex_dump(p, &rnd[6], 2);
    *p++ = '-';
    p = ngx_api_led_hex_dump(p, &rnd[8], 2);
    *p++ = '-';

    return ngx_api_led_hex_dump(p, &rnd[10], 6);
}
