
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The publishing service: CloudEvents 1.0 envelopes, a worker's bounded
 * outbox and the Redis calls that carry its events to their streams.  The
 * policies that publish (events/: api_led_event, compose/: a part with
 * event=) call it; it calls observe/ (its counters), redis/, json/ and
 * core/.  It is an nginx module of its own, ngx_api_led_publish_module,
 * with api_led_event_outbox and the variables of the outbox.
 */


#ifndef _NGX_API_LED_PUBLISH_H_INCLUDED_
#define _NGX_API_LED_PUBLISH_H_INCLUDED_


#include "ngx_api_led.h"
#include "ngx_api_led_json.h"


/* api_led_event_outbox default: a worker's events waiting for Redis */
#define NGX_API_LED_PUBLISH_OUTBOX        (1024 * 1024)

/* the fields of a stream entry the module writes and reads */
#define NGX_API_LED_EVENT_FIELD_TYPE      "type"
#define NGX_API_LED_EVENT_FIELD_EVENT     "event"

#define NGX_API_LED_EVENT_CONTENT_TYPE    "application/cloudevents+json"

/* CloudEvents "type" and a stream key: at most that long */
#define NGX_API_LED_EVENT_NAME_MAX        256


/* one event a location or a composition part publishes (configuration) */
typedef struct {
    ngx_str_t                    type;        /* CloudEvents "type" */
    ngx_str_t                    stream;      /* the stream's key */
    ngx_uint_t                   maxlen;      /* XADD MAXLEN ~ N, 0: none */
    ngx_array_t                 *data;        /* ngx_api_led_tmpl_seg_t, a
                                                 JSON template; NULL: none */
    ngx_str_t                    data_text;   /* as written */
} ngx_api_led_event_def_t;


/*
 * Configuration: the event's type (checked), then its parameters one by
 * one (stream=KEY, maxlen=N: NGX_CONF_OK; NGX_DECLINED as a char *: not
 * one of these), then ngx_api_led_publish_def_done() (stream= given; the
 * publisher is needed: api_led_redis must be configured, checked once the
 * http block is parsed).  data= is compiled by the caller, whose
 * placeholders it resolves, after ngx_api_led_publish_def_data().
 * ngx_api_led_publish_def_stream() is stream= for a key written alone
 * (api_led_event_stream KEY).
 */
#define NGX_API_LED_PUBLISH_NOT_MINE  ((char *) NGX_DECLINED)

char *ngx_api_led_publish_def_type(ngx_conf_t *cf,
    ngx_api_led_event_def_t *def, ngx_str_t *type);
char *ngx_api_led_publish_def_param(ngx_conf_t *cf,
    ngx_api_led_event_def_t *def, ngx_str_t *value);
char *ngx_api_led_publish_def_stream(ngx_conf_t *cf,
    ngx_api_led_event_def_t *def, ngx_str_t *key);
/* data=: "text" compiled into def->data ("what" "name" in messages) */
ngx_int_t ngx_api_led_publish_def_data(ngx_conf_t *cf,
    ngx_api_led_event_def_t *def, ngx_str_t *text, const char *what,
    ngx_str_t *name);
char *ngx_api_led_publish_def_done(ngx_conf_t *cf,
    ngx_api_led_event_def_t *def);

/*
 * Publishes an event of the request "r": its envelope (id, source: the
 * API, subject: the URI, time, the correlation id and trace context as
 * extension attributes) around "data" (JSON text, checked; NULL: no
 * data), into the worker's outbox.  Never waits: the event leaves with the
 * worker's next call to Redis.  NGX_OK; NGX_DECLINED: not published
 * (data not JSON, the outbox full: logged and counted); NGX_ERROR.
 */
ngx_int_t ngx_api_led_publish(ngx_http_request_t *r,
    ngx_api_led_event_def_t *def, ngx_str_t *data);

/*
 * An event of "r" that its publisher could not make (its data template
 * failed: "why"): logged and counted as dropped, like data that is not
 * JSON.
 */
void ngx_api_led_publish_drop(ngx_http_request_t *r,
    ngx_api_led_event_def_t *def, ngx_str_t *why);


/* ngx_api_led_publish_event.c: the envelope, for the outbox */
typedef struct {
    u_char                       id[36];      /* a UUID (version 4) */
    ngx_str_t                    source;
    ngx_str_t                    subject;
    u_char                       time[sizeof("1970-01-01T00:00:00.000Z")];
    ngx_str_t                    correlation_id;
    ngx_str_t                    traceparent; /* "": none */
    ngx_str_t                   *type;
    ngx_str_t                   *data;        /* NULL: none */
    ngx_uint_t                   escape;      /* the strings to escape */
} ngx_api_led_envelope_t;

ngx_int_t ngx_api_led_envelope_init(ngx_http_request_t *r,
    ngx_api_led_event_def_t *def, ngx_str_t *data,
    ngx_api_led_envelope_t *env);
size_t ngx_api_led_envelope_len(ngx_api_led_envelope_t *env);
u_char *ngx_api_led_envelope_write(u_char *p, ngx_api_led_envelope_t *env);

#endif /* _NGX_API_LED_PUBLISH_H_INCLUDED_ */
