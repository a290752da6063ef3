
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * W3C Trace Context: traceparent and tracestate
 * (core/ngx_api_led_trace.c).
 */


#ifndef _NGX_API_LED_TRACE_H_INCLUDED_
#define _NGX_API_LED_TRACE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_API_LED_TRACE_ID_SIZE     16          /* bytes */
#define NGX_API_LED_SPAN_ID_SIZE      8
#define NGX_API_LED_TRACEPARENT_LEN   55          /* version 00 */


typedef struct {
    u_char                       trace_id[NGX_API_LED_TRACE_ID_SIZE];
    u_char                       parent_id[NGX_API_LED_SPAN_ID_SIZE];
    u_char                       flags;
} ngx_api_led_trace_t;


/* NGX_OK, or NGX_DECLINED when the header cannot be used */
ngx_int_t ngx_api_led_trace_parse(ngx_str_t *header, ngx_api_led_trace_t *t);
/* "00-TRACE-SPAN-FLAGS": NGX_API_LED_TRACEPARENT_LEN characters */
u_char *ngx_api_led_trace_write(u_char *p, u_char *trace_id,
    u_char *span_id, u_char flags);
/* 1 when a tracestate header may be passed on */
ngx_int_t ngx_api_led_tracestate_valid(ngx_str_t *state);

/*
 * n random bytes for ids (correlation ids, trace and span ids), drawn
 * from OpenSSL in batches; NULL when RAND_bytes() failed
 */
u_char *ngx_api_led_random_bytes(size_t n);
/*
 * a random (version 4) UUID, its 36 characters written at p: the
 * correlation id's and an event's id; NULL when RAND_bytes() failed
 */
u_char *ngx_api_led_uuid_write(u_char *p);


#endif /* _NGX_API_LED_TRACE_H_INCLUDED_ */
