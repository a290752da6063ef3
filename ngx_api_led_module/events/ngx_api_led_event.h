
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the events concern (ngx_api_led_event*.c): its
 * configuration, request ctx and the functions its files share.  Nothing
 * outside the events files includes it.
 *
 * The concern's files call one way: the file of the directives
 * (ngx_api_led_event.c, ngx_api_led_event_module) never calls the request
 * paths, each an nginx module of its own that reads its configuration
 * (and gives the directives the SSE content handler through it):
 * publishing from the log phase (ngx_api_led_event_log.c), the SSE
 * content handler (ngx_api_led_event_stream.c) and the listeners
 * (ngx_api_led_event_deliver.c, with its requests without a client).
 * What they share (reading stream entries) is in the directives' file,
 * the lower one.  Events leave through the publishing service
 * (publish/).
 */


#ifndef _NGX_API_LED_EVENT_H_INCLUDED_
#define _NGX_API_LED_EVENT_H_INCLUDED_


#include "ngx_api_led_publish.h"
#include "ngx_api_led_redis.h"
#include "ngx_api_led_observe.h"
#include <hiredis/hiredis.h>


extern ngx_module_t  ngx_api_led_event_module;


/* what an event's data template reads: {request...}, {response...} */
#define NGX_API_LED_EVENT_DOC_REQUEST    0
#define NGX_API_LED_EVENT_DOC_RESPONSE   1

/* the client's body and the response an event reads, at most */
#define NGX_API_LED_EVENT_MAX_BODY       (1024 * 1024)

/* api_led_event_stream defaults */
#define NGX_API_LED_EVENT_HEARTBEAT      15000
#define NGX_API_LED_EVENT_BUFFER         (256 * 1024)
/* a blocking read waits that long in Redis, then is made again */
#define NGX_API_LED_EVENT_BLOCK          5000
/* entries read at once */
#define NGX_API_LED_EVENT_COUNT          100
/* a read Redis refused waits 1 s, doubled after each refusal up to 30 s */
#define NGX_API_LED_EVENT_REFUSED        1000
#define NGX_API_LED_EVENT_REFUSED_MAX    30000

/* api_led_event_deliver defaults */
#define NGX_API_LED_DELIVER_RETRIES      5
#define NGX_API_LED_DELIVER_TIMEOUT      10000
#define NGX_API_LED_DELIVER_CLAIM_AFTER  60000
#define NGX_API_LED_DELIVER_BACKOFF      200
#define NGX_API_LED_DELIVER_BACKOFF_MAX  30000
/* entries a listener of a worker holds at once (delivering or waiting) */
#define NGX_API_LED_DELIVER_CONCURRENCY  16
#define NGX_API_LED_DELIVER_CONCURRENCY_MAX  1024


/* one api_led_event */
typedef struct {
    ngx_api_led_event_def_t           def;
    ngx_uint_t                        classes;   /* bit N: Nxx (on=) */
    ngx_array_t                      *codes;     /* ngx_uint_t (on=) */
    ngx_uint_t                        methods;   /* NGX_HTTP_*, 0: any */
    unsigned                          request:1; /* data reads {request} */
    unsigned                          response:1;
} ngx_api_led_event_conf_t;


/* api_led_event_stream KEY [types=T,...] [heartbeat=T] [buffer=SIZE] */
typedef struct {
    ngx_str_t                         key;
    ngx_array_t                      *types;     /* ngx_str_t; NULL: all */
    ngx_msec_t                        heartbeat;
    size_t                            buffer;
} ngx_api_led_event_stream_conf_t;


/*
 * api_led_event_deliver KEY group=NAME to=URI [retries=N]
 *     [dead_letter=KEY] [timeout=T] [claim_after=T] [concurrency=N]
 */
typedef struct {
    ngx_str_t                         stream;
    ngx_str_t                         group;
    ngx_str_t                         uri;
    ngx_str_t                         args;
    ngx_uint_t                        retries;
    ngx_str_t                         dead_letter;   /* "": none */
    ngx_msec_t                        timeout;
    ngx_msec_t                        claim_after;
    ngx_uint_t                        concurrency;
    ngx_http_conf_ctx_t              *ctx;       /* its server's; NULL: the
                                                    http block's first */
    void                            **loc_conf;  /* what a delivery's
                                                    parent request has */
    ngx_api_led_loc_conf_t            caller;    /* the layer contract's
                                                    view of that parent */
    u_char                           *file;
    ngx_uint_t                        line;
} ngx_api_led_event_deliver_conf_t;


typedef struct {
    ngx_array_t                      *events;    /* event_conf_t */
    ngx_api_led_event_stream_conf_t  *stream;    /* NULL: no SSE here */
    unsigned                          request:1; /* an event reads them */
    unsigned                          response:1;
} ngx_api_led_event_loc_conf_t;


typedef struct {
    ngx_api_led_redis_conf_t         *redis;     /* api_led_redis */
    ngx_array_t                       streams;   /* stream_conf_t * */

    /* the SSE content handler, which its module sets at preconfiguration,
       before the directives that name it are read */
    ngx_http_handler_pt               stream_handler;
    ngx_array_t                       delivers;  /* deliver_conf_t * */
    ngx_api_led_metric_t             *metric;    /* api_led_events */
    unsigned                          events:1;  /* some api_led_event */
    unsigned                          response:1;
} ngx_api_led_event_main_conf_t;


/* one entry of a stream, as read */
typedef struct {
    ngx_str_t                         id;        /* "1700000000000-0" */
    ngx_str_t                         type;      /* "" if none */
    ngx_str_t                         event;     /* "" if none */
} ngx_api_led_event_entry_t;


/* ngx_api_led_event.c: what the request paths share */

/* "MS" or "MS-SEQ", digits: NGX_OK */
ngx_int_t ngx_api_led_event_id_valid(ngx_str_t *id);
/* -1, 0, 1 as ids a, b compare (both valid) */
ngx_int_t ngx_api_led_event_id_cmp(ngx_str_t *a, ngx_str_t *b);
/*
 * The entries of a reply's stream element: ["KEY", [[ID, [F, V, ...]],
 * ...]] (XREAD) or the entries array itself (XRANGE, XAUTOCLAIM's
 * second element).  Entries deleted meanwhile come as [ID, nil]: their
 * type and event are "".  NGX_ERROR: not such a reply.  "entries" is
 * filled up to "max"; *n says how many.
 */
ngx_int_t ngx_api_led_event_entries(redisReply *list,
    ngx_api_led_event_entry_t *entries, ngx_uint_t max, ngx_uint_t *n);
/* whether a subscriber of these types takes an entry of this type */
ngx_int_t ngx_api_led_event_type_wanted(ngx_array_t *types,
    ngx_str_t *type);
/*
 * An entry too large for a reply (ngx_api_led_redis_too_large()) cannot be
 * read, so no stream command tells its id: a script does.  The id of the
 * first entry after "after" (exclusive, "(ID"), or of the stream's last
 * entry when "after" is empty; handler(data, reply) gets it as a string,
 * nil when there is none, NULL or an error reply when it failed.  The
 * return is ngx_api_led_redis_command()'s.
 */
ngx_int_t ngx_api_led_event_next_id(ngx_api_led_redis_t *rd, ngx_str_t *key,
    ngx_str_t *after, ngx_api_led_redis_handler_pt handler, void *data);
/* the id a handler of ngx_api_led_event_next_id() got: NGX_OK */
ngx_int_t ngx_api_led_event_next_id_reply(redisReply *reply, ngx_str_t *id);
/*
 * How long a read that Redis refused (an error reply that waiting would
 * not change: WRONGTYPE, NOPERM) waits before it is made again, after
 * "refused" refusals in a row before it: 1 s, doubled up to 30 s.  The
 * one backoff of the streams' readers, their subscribers' catch-ups and
 * the listeners.
 */
ngx_msec_t ngx_api_led_event_backoff(ngx_uint_t refused);
/*
 * The line of the first refusal of a run, at error: "WHO "KEY": WHAT
 * failed: "REPLY", asked again after N ms, then less often (up to
 * 30000 ms)"; WHO is "event stream" or "listener of stream".
 */
void ngx_api_led_event_log_refused(ngx_log_t *log, const char *who,
    ngx_str_t *key, const char *what, redisReply *reply, ngx_msec_t after);
/* counts api_led_events_total{stream, outcome} */
void ngx_api_led_event_count(ngx_api_led_event_main_conf_t *emcf,
    ngx_str_t *stream, const char *outcome, ngx_uint_t n);


#endif /* _NGX_API_LED_EVENT_H_INCLUDED_ */
