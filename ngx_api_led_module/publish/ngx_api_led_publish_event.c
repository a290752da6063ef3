
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * A CloudEvents 1.0 envelope (JSON format) around an event's data, as
 * text: written once, straight into the outbox's memory.
 *
 *   {"specversion":"1.0","id":UUID,"source":API,"type":TYPE,
 *    "subject":URI,"time":RFC 3339,"datacontenttype":"application/json",
 *    "correlationid":ID,"traceparent":W3C,"data":DATA}
 *
 * "source" is the API's name (api_led_api), else the location's; the
 * subject is the request's path, percent-encoded where it is not plain
 * ASCII; "correlationid" is the request's correlation id and
 * "traceparent" (CloudEvents' distributed tracing extension) the W3C
 * trace context of the API call: the request's trace id (the client's
 * when it sent a valid one) and the call's own span ($api_led_span_id).
 */


#include "ngx_api_led_publish.h"
#include <openssl/rand.h>


#define NGX_API_LED_ENVELOPE_RANDOM  4096


static ngx_int_t ngx_api_led_envelope_id(u_char *id);
static size_t ngx_api_led_envelope_string_len(ngx_str_t *s);
static u_char *ngx_api_led_envelope_string(u_char *p, const char *name,
    ngx_str_t *s);


ngx_int_t
ngx_api_led_envelope_init(ngx_http_request_t *r, ngx_api_led_event_def_t *def,
    ngx_str_t *data, ngx_api_led_envelope_t *env)
{
    u_char                    *p;
    size_t                     n;
    ngx_str_t                 *cid;
    ngx_tm_t                   tm;
    ngx_time_t                *tp;
    u_char                     span[NGX_API_LED_SPAN_ID_SIZE];
    ngx_api_led_ctx_t         *ctx;
    ngx_api_led_loc_conf_t    *alcf;
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_api_led_envelope_id(env->id) != NGX_OK) {
        return NGX_ERROR;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (alcf && alcf->api.len) {
        env->source = alcf->api;

    } else {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
        env->source = clcf->name;
    }

    /* the path, ASCII: escaped where it is not */

    n = ngx_escape_uri(NULL, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

    if (n == 0) {
        env->subject = r->uri;

    } else {
        p = ngx_pnalloc(r->pool, r->uri.len + 2 * n);
        if (p == NULL) {
            return NGX_ERROR;
        }

        env->subject.data = p;
        env->subject.len = (u_char *) ngx_escape_uri(p, r->uri.data,
                                                     r->uri.len,
                                                     NGX_ESCAPE_URI)
                           - p;
    }

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    (void) ngx_sprintf(env->time, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       tp->msec);

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        return NGX_ERROR;
    }

    env->correlation_id = *cid;

    /*
     * CloudEvents' distributed tracing: the trace context of the span
     * that produced the event, the API call's own (its trace id, its span
     * id as in $api_led_span_id), not the client's parent span
     */

    ngx_str_null(&env->traceparent);

    ctx = ngx_api_led_get_ctx(r);

    if (ctx && ngx_api_led_trace_span(r, ctx, span, NULL) != NGX_ERROR) {
        p = ngx_pnalloc(r->pool, NGX_API_LED_TRACEPARENT_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        env->traceparent.data = p;
        env->traceparent.len = ngx_api_led_trace_write(p, ctx->trace.trace_id,
                                                       span,
                                                       ctx->trace.flags)
                               - p;
    }

    env->type = &def->type;
    env->data = data;

    return NGX_OK;
}


size_t
ngx_api_led_envelope_len(ngx_api_led_envelope_t *env)
{
    size_t  len;

    len = sizeof("{\"specversion\":\"1.0\",\"id\":\"\"") - 1 + 36
          + sizeof(",\"source\":") - 1
          + ngx_api_led_envelope_string_len(&env->source)
          + sizeof(",\"type\":") - 1
          + ngx_api_led_envelope_string_len(env->type)
          + sizeof(",\"subject\":") - 1
          + ngx_api_led_envelope_string_len(&env->subject)
          + sizeof(",\"time\":\"\"") - 1 + sizeof(env->time) - 1
          + sizeof(",\"correlationid\":") - 1
          + ngx_api_led_envelope_string_len(&env->correlation_id)
          + sizeof("}") - 1;

    if (env->traceparent.len) {
        len += sizeof(",\"traceparent\":\"\"") - 1 + env->traceparent.len;
    }

    if (env->data) {
        len += sizeof(",\"datacontenttype\":\"" NGX_API_LED_JSON_TYPE "\"")
               - 1
               + sizeof(",\"data\":") - 1 + env->data->len;
    }

    return len;
}


u_char *
ngx_api_led_envelope_write(u_char *p, ngx_api_led_envelope_t *env)
{
    p = ngx_cpymem(p, "{\"specversion\":\"1.0\",\"id\":\"",
                   sizeof("{\"specversion\":\"1.0\",\"id\":\"") - 1);
    p = ngx_cpymem(p, env->id, 36);
    *p++ = '"';

    p = ngx_api_led_envelope_string(p, ",\"source\":", &env->source);
    p = ngx_api_led_envelope_string(p, ",\"type\":", env->type);
    p = ngx_api_led_envelope_string(p, ",\"subject\":", &env->subject);

    p = ngx_cpymem(p, ",\"time\":\"", sizeof(",\"time\":\"") - 1);
    p = ngx_cpymem(p, env->time, sizeof(env->time) - 1);
    *p++ = '"';

    if (env->data) {
        p = ngx_cpymem(p, ",\"datacontenttype\":\"" NGX_API_LED_JSON_TYPE "\"",
                       sizeof(",\"datacontenttype\":\""
                              NGX_API_LED_JSON_TYPE "\"") - 1);
    }

    p = ngx_api_led_envelope_string(p, ",\"correlationid\":",
                                    &env->correlation_id);

    if (env->traceparent.len) {
        p = ngx_cpymem(p, ",\"traceparent\":\"",
                       sizeof(",\"traceparent\":\"") - 1);
        p = ngx_cpymem(p, env->traceparent.data, env->traceparent.len);
        *p++ = '"';
    }

    if (env->data) {
        p = ngx_cpymem(p, ",\"data\":", sizeof(",\"data\":") - 1);
        p = ngx_api_led_cpymem(p, env->data->data, env->data->len);
    }

    *p++ = '}';

    return p;
}


static size_t
ngx_api_led_envelope_string_len(ngx_str_t *s)
{
    return 2 + s->len + ngx_escape_json(NULL, s->data, s->len);
}


static u_char *
ngx_api_led_envelope_string(u_char *p, const char *name, ngx_str_t *s)
{
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s->data, s->len);
    *p++ = '"';

    return p;
}


/*
 * A version 4 UUID: 122 random bits, from a worker's reserve of OpenSSL's
 * random bytes (one RAND_bytes() call for many events).
 */

static ngx_int_t
ngx_api_led_envelope_id(u_char *id)
{
    u_char  *b, *p;

    static u_char      random[NGX_API_LED_ENVELOPE_RANDOM];
    static ngx_uint_t  used = NGX_API_LED_ENVELOPE_RANDOM;

    if (used + 16 > NGX_API_LED_ENVELOPE_RANDOM) {
        if (RAND_bytes(random, NGX_API_LED_ENVELOPE_RANDOM) != 1) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "api_led: RAND_bytes() failed");
            return NGX_ERROR;
        }

        used = 0;
    }

    b = random + used;
    used += 16;

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    p = ngx_hex_dump(id, b, 4);
    *p++ = '-';
    p = ngx_hex_dump(p, b + 4, 2);
    *p++ = '-';
    p = ngx_hex_dump(p, b + 6, 2);
    *p++ = '-';
    p = ngx_hex_dump(p, b + 8, 2);
    *p++ = '-';
    (void) ngx_hex_dump(p, b + 10, 6);

    return NGX_OK;
}
