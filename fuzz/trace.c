
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * W3C Trace Context (core/ngx_api_led_trace.c): the input is a client's
 * request headers, one a line, "name: value" (a line without ": " is a
 * traceparent value).  Each traceparent and tracestate value goes through
 * the parsers, and the request's trace is made and forwarded
 * (ngx_api_led_request_headers(), the core's one look at the headers,
 * then ngx_api_led_trace_forward(), as an API location's upstream gets
 * it).
 *
 * Properties:
 *
 *   - ngx_api_led_trace_parse() agrees with a model written from the
 *     specification here (version 00 exactly 55 characters, a later
 *     version read as far as 00 goes when "-" follows, version ff and
 *     upper case refused, zero ids refused); what it reads writes back
 *     (ngx_api_led_trace_write()) as the same ids; only the "sampled"
 *     flag is kept;
 *   - ngx_api_led_tracestate_valid() agrees with the specification's
 *     grammar (keys, tenant@system keys, values, 32 members, each key
 *     once, empty members, spaces and tabs around members; at most 512
 *     characters, the module's limit);
 *   - after forwarding, the request holds exactly one traceparent, valid,
 *     with the client's trace id when the client sent exactly one valid
 *     traceparent (a new, non-zero one otherwise), a span id of its own
 *     (never the client's); a tracestate stays only if the client's trace
 *     is continued and every tracestate header is valid, and all of them
 *     together as one list.
 */


#include "harness.h"
#include "ngx_api_led.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint8_t  *input;
static size_t          input_size;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


static void
failed(const char *what, ngx_str_t *value)
{
    fz_dump("input", input, input_size);

    if (value) {
        fz_dump("value", value->data, value->len);
    }

    fz_fail("%s", what);
}


/* the model: the specification's grammar, written plainly */

static int
model_hex(u_char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}


static int
model_zeros(u_char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (p[i] != '0') {
            return 0;
        }
    }

    return 1;
}


static int
model_traceparent(ngx_str_t *v)
{
    u_char  *p;

    p = v->data;

    if (v->len < 55 || !model_hex(p, 2) || (p[0] == 'f' && p[1] == 'f')) {
        return 0;
    }

    if (p[0] == '0' && p[1] == '0') {
        if (v->len != 55) {
            return 0;
        }

    } else if (v->len > 55 && p[55] != '-') {
        return 0;
    }

    return p[2] == '-' && model_hex(p + 3, 32) && p[35] == '-'
           && model_hex(p + 36, 16) && p[52] == '-' && model_hex(p + 53, 2)
           && !model_zeros(p + 3, 32) && !model_zeros(p + 36, 16);
}


static int
model_key_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '_' || c == '-' || c == '*' || c == '/';
}


static int
model_key(u_char *p, size_t n)
{
    size_t  i, at;

    for (at = 0; at < n && p[at] != '@'; at++) { /* void */ }

    if (at == n) {
        /* simple-key = lcalpha 0*255( lcalpha / DIGIT / _ - * / ) */
        if (n < 1 || n > 256 || !(p[0] >= 'a' && p[0] <= 'z')) {
            return 0;
        }

        for (i = 1; i < n; i++) {
            if (!model_key_char(p[i])) {
                return 0;
            }
        }

        return 1;
    }

    /* tenant-id = ( lcalpha / DIGIT ) 0*240( keychar ) */
    if (at < 1 || at > 241
        || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9')))
    {
        return 0;
    }

    for (i = 1; i < at; i++) {
        if (!model_key_char(p[i])) {
            return 0;
        }
    }

    /* system-id = lcalpha 0*13( keychar ) */
    if (n - at - 1 < 1 || n - at - 1 > 14
        || !(p[at + 1] >= 'a' && p[at + 1] <= 'z'))
    {
        return 0;
    }

    for (i = at + 2; i < n; i++) {
        if (!model_key_char(p[i])) {
            return 0;
        }
    }

    return 1;
}


static int
model_value(u_char *p, size_t n)
{
    size_t  i;

    /* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr */
    if (n < 1 || n > 256 || p[n - 1] == ' ') {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == ',' || p[i] == '=') {
            return 0;
        }
    }

    return 1;
}


static int
model_tracestate(ngx_str_t *v)
{
    size_t   s, e, i, eq, members;
    size_t   ks[32], kl[32];
    u_char  *p;

    if (v->len == 0 || v->len > 512) {
        return 0;
    }

    p = v->data;
    members = 0;
    s = 0;

    for ( ;; ) {
        for (e = s; e < v->len && p[e] != ','; e++) { /* void */ }

        /* OWS around a member */
        i = s;
        while (i < e && (p[i] == ' ' || p[i] == '\t')) {
            i++;
        }

        while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t')) {
            e--;
        }

        if (i < e) {
            for (eq = i; eq < e && p[eq] != '='; eq++) { /* void */ }

            if (eq == e || members == 32
                || !model_key(p + i, eq - i)
                || !model_value(p + eq + 1, e - eq - 1))
            {
                return 0;
            }

            for (s = 0; s < members; s++) {
                if (kl[s] == eq - i
                    && ngx_memcmp(p + ks[s], p + i, eq - i) == 0)
                {
                    return 0;
                }
            }

            ks[members] = i;
            kl[members] = eq - i;
            members++;
        }

        /* the next member starts after the comma */
        for (s = i; s < v->len && p[s] != ','; s++) { /* void */ }

        if (s == v->len) {
            return 1;
        }

        s++;
    }
}


static void
check_traceparent(ngx_str_t *v)
{
    u_char               out[NGX_API_LED_TRACEPARENT_LEN];
    ngx_int_t            rc;
    ngx_api_led_trace_t  t;

    rc = ngx_api_led_trace_parse(v, &t);

    if ((rc == NGX_OK) != model_traceparent(v)) {
        failed(rc == NGX_OK ? "traceparent accepted, the model refuses it"
                            : "traceparent refused, the model accepts it",
               v);
    }

    if (rc != NGX_OK) {
        return;
    }

    if (t.flags > 1) {
        failed("a flag other than \"sampled\" kept", v);
    }

    (void) ngx_api_led_trace_write(out, t.trace_id, t.parent_id, t.flags);

    if (ngx_memcmp(out, "00-", 3) != 0
        || ngx_memcmp(out + 3, v->data + 3, 49) != 0
        || out[53] != '0' || out[54] != (u_char) ('0' + t.flags)
        || (ngx_hextoi(v->data + 54, 1) & 1) != (t.flags & 1))
    {
        failed("traceparent does not write back as read", v);
    }
}


static void
check_tracestate(ngx_str_t *v)
{
    ngx_int_t  ok;

    ok = ngx_api_led_tracestate_valid(v);

    if (ok != model_tracestate(v)) {
        failed(ok ? "tracestate accepted, the model refuses it"
                  : "tracestate refused, the model accepts it", v);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char               *p, *end, *colon;
    fz_t                  fz;
    u_char               *q;
    ngx_str_t             line, value, *client_parent, joined;
    ngx_uint_t            nparent, nstate, states_ok, n, i;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h;
    ngx_api_led_ctx_t    *ctx;
    ngx_api_led_trace_t   client, out;

    input = data;
    input_size = size;

    fz_begin(&fz);
    fz_request(&fz);

    p = (u_char *) data;
    end = p + size;

    nparent = 0;
    nstate = 0;
    states_ok = 1;
    client_parent = NULL;
    ngx_str_null(&joined);

    while (fz_next(&p, end, '\n', &line)) {
        colon = ngx_strlcasestrn(line.data, line.data + line.len,
                                 (u_char *) ": ", 2 - 1);

        h = ngx_list_push(&fz.r->headers_in.headers);
        if (h == NULL) {
            abort();
        }

        if (colon == NULL) {
            ngx_str_set(&h->key, "traceparent");
            h->value = line;

        } else {
            h->key.data = line.data;
            h->key.len = colon - line.data;
            h->value.data = colon + 2;
            h->value.len = line.data + line.len - colon - 2;
        }

        h->hash = 1;
        h->lowcase_key = ngx_pnalloc(fz.pool, h->key.len + 1);
        if (h->lowcase_key == NULL) {
            abort();
        }

        ngx_strlow(h->lowcase_key, h->key.data, h->key.len);

        if (h->key.len == 11
            && ngx_strncmp(h->lowcase_key, "traceparent", 11) == 0)
        {
            check_traceparent(&h->value);
            nparent++;
            client_parent = &h->value;

        } else if (h->key.len == 10
                   && ngx_strncmp(h->lowcase_key, "tracestate", 10) == 0)
        {
            check_tracestate(&h->value);
            nstate++;
            states_ok &= ngx_api_led_tracestate_valid(&h->value);

            /* the headers together: one list */
            q = ngx_pnalloc(fz.pool, joined.len + 1 + h->value.len);
            if (q == NULL) {
                abort();
            }

            value.data = q;

            if (joined.len) {
                q = ngx_cpymem(q, joined.data, joined.len);
            }

            if (nstate > 1) {
                *q++ = ',';
            }

            q = ngx_cpymem(q, h->value.data, h->value.len);
            joined.data = value.data;
            joined.len = q - value.data;
        }
    }

    if (nstate > 1) {
        states_ok &= ngx_api_led_tracestate_valid(&joined);
    }

    /* the request's trace, as its upstream gets it */

    /* the request's shared ctx, with its one look at the headers */
    ctx = ngx_api_led_get_ctx(fz.r);
    if (ctx == NULL) {
        abort();
    }

    ngx_api_led_request_headers(fz.r, ctx);

    /* the client's, before the header is edited in place */
    if (nparent != 1
        || ngx_api_led_trace_parse(client_parent, &client) != NGX_OK)
    {
        client_parent = NULL;
    }

    if (ngx_api_led_trace_forward(fz.r, ctx) != NGX_OK) {
        failed("ngx_api_led_trace_forward() failed", NULL);
    }

    n = 0;
    nstate = 0;
    part = &fz.r->headers_in.headers.part;
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

        if (h[i].key.len == 10
            && ngx_strncasecmp(h[i].key.data, (u_char *) "tracestate", 10)
               == 0)
        {
            nstate++;
            continue;
        }

        if (h[i].key.len != 11
            || ngx_strncasecmp(h[i].key.data, (u_char *) "traceparent", 11)
               != 0)
        {
            continue;
        }

        n++;
        value = h[i].value;

        if (value.len != NGX_API_LED_TRACEPARENT_LEN
            || ngx_api_led_trace_parse(&value, &out) != NGX_OK)
        {
            failed("the traceparent forwarded is not valid", &value);
        }

        if (client_parent
            && (ngx_memcmp(out.trace_id, client.trace_id,
                           NGX_API_LED_TRACE_ID_SIZE) != 0
                || out.flags != client.flags))
        {
            failed("the client's trace is not continued", &value);
        }

        if (client_parent
            && ngx_memcmp(out.parent_id, client.parent_id,
                          NGX_API_LED_SPAN_ID_SIZE) == 0)
        {
            failed("the client's span forwarded as the request's", &value);
        }

        if (client_parent == NULL && !(out.flags & 1)) {
            failed("a new trace is not sampled", &value);
        }
    }

    if (n != 1) {
        failed("not exactly one traceparent forwarded", NULL);
    }

    if (nstate && (client_parent == NULL || !states_ok)) {
        failed("a tracestate forwarded without the client's valid trace",
               NULL);
    }

    fz_end(&fz);

    return 0;
}
