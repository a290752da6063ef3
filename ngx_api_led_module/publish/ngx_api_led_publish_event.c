
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


static void ngx_api_led_envelope_time(u_char *time);
static size_t ngx_api_led_envelope_string_len(ngx_api_led_envelope_t *env,
    ngx_uint_t i, ngx_str_t *s);
static u_char *ngx_api_led_envelope_string(ngx_api_led_envelope_t *env,
    ngx_uint_t i, u_char *p, const char *name, ngx_str_t *s);


ngx_int_t
ngx_api_led_envelope_init(ngx_http_request_t *r, ngx_api_led_event_def_t *def,
    ngx_str_t *data, ngx_api_led_envelope_t *env)
{
    u_char                    *p;
    size_t                     n;
    ngx_str_t                 *cid;
    u_char                     span[NGX_API_LED_SPAN_ID_SIZE];
    ngx_api_led_ctx_t         *ctx;
    ngx_api_led_loc_conf_t    *alcf;
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_api_led_uuid_write(env->id) == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: RAND_bytes() failed");
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

    ngx_api_led_envelope_time(env->time);

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

    env->escape = 0;

    len = sizeof("{\"specversion\":\"1.0\",\"id\":\"\"") - 1 + 36
          + sizeof(",\"source\":") - 1
          + ngx_api_led_envelope_string_len(env, 0, &env->source)
          + sizeof(",\"type\":") - 1
          + ngx_api_led_envelope_string_len(env, 1, env->type)
          + sizeof(",\"subject\":") - 1
          + ngx_api_led_envelope_string_len(env, 2, &env->subject)
          + sizeof(",\"time\":\"\"") - 1 + sizeof(env->time) - 1
          + sizeof(",\"correlationid\":") - 1
          + ngx_api_led_envelope_string_len(env, 3, &env->correlation_id)
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

    p = ngx_api_led_envelope_string(env, 0, p, ",\"source\":",
                                    &env->source);
    p = ngx_api_led_envelope_string(env, 1, p, ",\"type\":", env->type);
    p = ngx_api_led_envelope_string(env, 2, p, ",\"subject\":",
                                    &env->subject);

    p = ngx_cpymem(p, ",\"time\":\"", sizeof(",\"time\":\"") - 1);
    p = ngx_cpymem(p, env->time, sizeof(env->time) - 1);
    *p++ = '"';

    if (env->data) {
        p = ngx_cpymem(p, ",\"datacontenttype\":\"" NGX_API_LED_JSON_TYPE "\"",
                       sizeof(",\"datacontenttype\":\""
                              NGX_API_LED_JSON_TYPE "\"") - 1);
    }

    p = ngx_api_led_envelope_string(env, 3, p, ",\"correlationid\":",
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


/*
 * The strings are measured first, then written: what needs no escaping
 * (an id, a type, most paths) is copied, not escaped a second time
 */

static size_t
ngx_api_led_envelope_string_len(ngx_api_led_envelope_t *env, ngx_uint_t i,
    ngx_str_t *s)
{
    uintptr_t  n;

    n = ngx_escape_json(NULL, s->data, s->len);

    if (n) {
        env->escape |= 1 << i;
    }

    return 2 + s->len + n;
}


static u_char *
ngx_api_led_envelope_string(ngx_api_led_envelope_t *env, ngx_uint_t i,
    u_char *p, const char *name, ngx_str_t *s)
{
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '"';

    if (env->escape & (1 << i)) {
        p = (u_char *) ngx_escape_json(p, s->data, s->len);

    } else {
        p = ngx_api_led_cpymem(p, s->data, s->len);
    }

    *p++ = '"';

    return p;
}


/*
 * The event's time to the millisecond.  The events of a busy worker share
 * their milliseconds: the text is written once for each.
 */

static void
ngx_api_led_envelope_time(u_char *time)
{
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    static time_t      sec = -1;
    static ngx_msec_t  msec;
    static u_char      text[sizeof("1970-01-01T00:00:00.000Z")];

    tp = ngx_timeofday();

    if (tp->sec != sec || tp->msec != msec) {
        ngx_gmtime(tp->sec, &tm);

        (void) ngx_sprintf(text, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                           tp->msec);

        sec = tp->sec;
        msec = tp->msec;
    }

    ngx_memcpy(time, text, sizeof(text) - 1);
}
