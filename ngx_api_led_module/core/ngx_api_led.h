
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Shared types and prototypes of ngx_api_led_module.  Every file of the
 * module includes this header and nothing else of the others: shared state
 * goes through here.
 *
 * The shared object holds several nginx modules, one per concern, each with
 * its own directives and configuration:
 *
 *   ngx_api_led_module            APIs, layers, correlation id, access phase
 *                                 pipeline, identity variables
 *   ngx_api_led_layer_module      the layer contract (api_led_callers)
 *   ngx_api_led_problem_module    problem bodies for nginx's special
 *                                 responses (filter)
 *   ngx_api_led_consumer_module   consumers file, plans, API keys
 *   ngx_api_led_jwt_module        JWT verification
 *   ngx_api_led_auth_module       api_led_auth: the authentication dispatcher
 *   ngx_api_led_limit_module      rate limits (Redis and shared memory)
 *   ngx_api_led_transform_module  request/response transformation (filter)
 *   ngx_api_led_compose_module    orchestration (content handler)
 */


#ifndef _NGX_API_LED_H_INCLUDED_
#define _NGX_API_LED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>

#include "ngx_api_led_trace.h"


#define NGX_API_LED_LAYER_NONE        0
#define NGX_API_LED_LAYER_EXPERIENCE  1
#define NGX_API_LED_LAYER_PROCESS     2
#define NGX_API_LED_LAYER_SYSTEM      3

/* memcpy() from NULL is undefined even for 0 bytes: an empty string may be */
#define ngx_api_led_cpymem(dst, src, n)                                      \
    ((n) ? ngx_cpymem(dst, src, n) : (u_char *) (dst))

#define NGX_API_LED_CORRELATION_MAX   128

/* names and limits more than one concern uses: one place for each */
#define NGX_API_LED_CORRELATION_HEADER   "X-Correlation-ID"
#define NGX_API_LED_CORRELATION_LOWCASE  "x-correlation-id"
#define NGX_API_LED_JSON_TYPE            "application/json"
#define NGX_API_LED_PROBLEM_TYPE         "application/problem+json"
/* API names, limit names, composition part names */
#define NGX_API_LED_NAME_MAX             64

/* api_led_correlation_id: the X-Correlation-ID header, or the trace id */
#define NGX_API_LED_CORRELATION_FROM_HEADER  0
#define NGX_API_LED_CORRELATION_FROM_TRACE   1

/* the rate limits checked together for one request: a location's and its
   consumer's plan's (nginx -t refuses more) */
#define NGX_API_LED_LIMIT_MAX         16

/*
 * The slots of the request's pipeline, in the order they run.  The steps
 * before NGX_API_LED_STEP_ADMITTED run in the access phase; the others
 * once nginx let the request in ("satisfy", allow/deny, auth_basic and
 * auth_request had their say), in the precontent phase, so that a request
 * refused is not counted.
 */
#define NGX_API_LED_STEP_AUTH         0
#define NGX_API_LED_STEP_LIMIT        1
#define NGX_API_LED_STEP_N            2

#define NGX_API_LED_STEP_ADMITTED     NGX_API_LED_STEP_LIMIT
#define NGX_API_LED_STEPS_ACCESS      ((1 << NGX_API_LED_STEP_ADMITTED) - 1)


/* "100r/s": count requests per period */
typedef struct {
    ngx_uint_t                   count;
    ngx_msec_t                   period;
    ngx_str_t                    text;
} ngx_api_led_rate_t;


typedef struct {
    ngx_str_t                    name;
    ngx_array_t                  limits;      /* ngx_api_led_rate_t */
} ngx_api_led_plan_t;


typedef struct {
    ngx_str_t                    id;
    ngx_api_led_plan_t          *plan;        /* NULL: no plan */
    ngx_array_t                  metadata;    /* ngx_keyval_t, string values */
} ngx_api_led_consumer_t;


typedef struct {
    ngx_str_t                    api;         /* api_led_api NAME, "" if none */
    ngx_uint_t                   layer;       /* NGX_API_LED_LAYER_* */
    ngx_str_t                    version;
    ngx_uint_t                   steps;       /* a bit for each step that
                                                 applies here */
    ngx_array_t                 *hidden;      /* ngx_str_t: the variables
                                                 a credential's hiding
                                                 empties, NULL: none */
    ngx_flag_t                   trace;       /* api_led_trace */
    ngx_flag_t                   forwards;    /* passes the client's headers
                                                 on to API locations (a
                                                 composition): see
                                                 ngx_api_led_forwards() */
    ngx_uint_t                   correlation; /* api_led_correlation_id */

    /*
     * the API's life cycle: deprecated=, sunset= (NGX_API_LED_DATE_NONE:
     * none; 0 is 1970-01-01, a date), spec=
     */
    time_t                       deprecated;
    time_t                       sunset;
    ngx_str_t                    spec;        /* full path, "" if none */

    /* where api_led_api was written, for checks made after parsing */
    u_char                      *conf_file;
    ngx_uint_t                   conf_line;
} ngx_api_led_loc_conf_t;


typedef struct ngx_api_led_ctx_s  ngx_api_led_ctx_t;

typedef ngx_int_t (*ngx_api_led_step_pt)(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);

typedef struct {
    ngx_api_led_step_pt          steps[NGX_API_LED_STEP_N];
    ngx_uint_t                   steps_used;  /* by some location */
    unsigned                     apis:1;      /* some location is an API */
    unsigned                     callers:1;   /* ... has api_led_callers */

    /* the most limits a plan of the consumers file has: the rate-limit
       concern counts a location's limits with it */
    ngx_uint_t                   plan_limits_max;

    /* hides a request's credentials as authentication would: registered
       by auth/ (the core does not call it), for a request the core
       refuses before authentication runs (the layer contract) */
    ngx_int_t                  (*hide_credentials)(ngx_http_request_t *r);

    /* the locations a directive of the module answers, checked once the
       configuration is parsed: ngx_api_led_content_handler() */
    ngx_array_t                 *contents;    /* ngx_api_led_content_t */
} ngx_api_led_main_conf_t;


/*
 * Per-request state shared by the concerns.  It lives on the main request,
 * so subrequests (orchestration parts) see the same correlation id and
 * consumer, and it survives internal redirects (see ngx_api_led_get_ctx()).
 * State private to one concern goes in that module's own request ctx.
 */
struct ngx_api_led_ctx_s {
    ngx_str_t                    correlation_id;  /* "" until needed: use
                                                 ngx_api_led_correlation_id() */
    ngx_event_t                 *wake;        /* see ngx_api_led_wake() */

    /*
     * The client's request headers the core cares about, found in one look
     * (ngx_api_led_request_headers()): the first X-Correlation-ID and
     * traceparent elements, and whether API-Led-Caller, X-Consumer-*, more
     * than one traceparent, and tracestate headers (any of them invalid)
     * came.
     */
    ngx_table_elt_t             *correlation_in;
    ngx_table_elt_t             *traceparent_in;

    /* the W3C trace (ngx_api_led_trace.c), made on first use: its id and
       flags, the client's parent span, the main request's own span */
    ngx_api_led_trace_t          trace;
    u_char                       span_id[NGX_API_LED_SPAN_ID_SIZE];

    /* identity, set by the authentication step */
    ngx_api_led_consumer_t      *consumer;    /* from the consumers file */
    ngx_str_t                    consumer_id; /* consumer->id or JWT subject */
    ngx_str_t                    auth_method; /* "key", "jwt", "anonymous" */
    json_t                      *claims;      /* verified JWT claims (owned;
                                                 read-only: the JWT cache
                                                 shares them) */
    ngx_str_t                    jwt_token;   /* the token that proved the
                                                 request, to check it again
                                                 after an internal redirect
                                                 (it may be hidden by then) */

    /* the caller a signed assertion names (ngx_api_led_caller.c) */
    ngx_str_t                    caller_api;
    ngx_uint_t                   caller_layer;  /* NGX_API_LED_LAYER_* */
    ngx_uint_t                   caller_state;

    /* the pipeline: each step runs once, even when re-entered */
    unsigned                     steps_done:NGX_API_LED_STEP_N;
    unsigned                     correlation_forwarded:1;

    unsigned                     headers_seen:1;
    unsigned                     caller_header:1;
    unsigned                     consumer_headers:1;
    unsigned                     consumer_cleaned:1;  /* the client's
                                                 X-Consumer-* went */
    unsigned                     traceparent_many:1;
    unsigned                     tracestate_in:1;
    unsigned                     tracestate_many:1;
    unsigned                     tracestate_bad:1;

    unsigned                     trace_made:1;
    unsigned                     trace_parent:1;  /* the client's is used */
    unsigned                     trace_forwarded:1;
    unsigned                     tracestate_drop:1;  /* not passed on */

    /* a credential proved the identity (not the anonymous consumer) */
    unsigned                     authenticated:1;

    /* "satisfy any": a step granted access, or refused it with a 401 or
       403 that is returned once the later steps ran */
    unsigned                     granted:1;
    unsigned                     refused:1;
    unsigned                     refused_status:10;

    /* an error_page of the user redirected the request */
    unsigned                     error_page:1;
};


extern ngx_module_t  ngx_api_led_module;
extern ngx_str_t     ngx_api_led_layer_names[];   /* by NGX_API_LED_LAYER_* */

/* info | notice | warn | error, for the *_log_level directives */
extern ngx_conf_enum_t  ngx_api_led_log_levels[];

/* the post handler of a size slot that refuses 0 (the largest body...) */
extern ngx_conf_post_t  ngx_api_led_size_not_zero;

/*
 * The methods a directive may name (api_led_compose, api_led_event's
 * methods=), in the order Allow lists them; ngx_api_led_method_index()
 * is a name's index in the tables, NGX_API_LED_NMETHODS if none.
 */
#define NGX_API_LED_NMETHODS  7
extern ngx_str_t     ngx_api_led_method_names[];
extern ngx_uint_t    ngx_api_led_method_codes[];
ngx_uint_t ngx_api_led_method_index(u_char *name, size_t len);


/*
 * A shared-memory zone of entries in a tree with a queue of the least
 * recently used (the rate limits' local store, the caller assertions'
 * nonces): ngx_api_led_shm_zone_init() is the zone's init handler, which
 * keeps the tree of a reload's old zone.  "insert" and "log_ctx" (" in
 * NAME", for the slab allocator's messages) are set with the zone.
 */
typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;       /* least recently used last */
} ngx_api_led_shm_tree_t;

typedef struct {
    ngx_api_led_shm_tree_t      *sh;
    ngx_slab_pool_t             *shpool;
    ngx_rbtree_insert_pt         insert;
    char                        *log_ctx;
} ngx_api_led_shm_zone_t;

ngx_int_t ngx_api_led_shm_zone_init(ngx_shm_zone_t *shm_zone, void *data);


/* ngx_api_led_module.c */

/* the request's shared ctx, made on first use; NULL: no memory */
ngx_api_led_ctx_t *ngx_api_led_ctx_create(ngx_http_request_t *r);

static ngx_inline ngx_api_led_ctx_t *
ngx_api_led_get_ctx(ngx_http_request_t *r)
{
    ngx_api_led_ctx_t  *ctx;

    /* every policy asks for it, often several times a request */
    ctx = ngx_http_get_module_ctx(r->main, ngx_api_led_module);

    return ctx ? ctx : ngx_api_led_ctx_create(r);
}

/* looks at the client's request headers once: see ngx_api_led_ctx_t */
void ngx_api_led_request_headers(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
/* the request's correlation id, made on first use; NULL: no memory */
ngx_str_t *ngx_api_led_correlation_id(ngx_http_request_t *r);
/*
 * A subrequest (a part of a composition) of r is a child span in the
 * request's trace, where r's location has api_led_trace on: its own span
 * id, in the traceparent of its own request headers.  NGX_OK, NGX_ERROR.
 */
ngx_int_t ngx_api_led_trace_subrequest(ngx_http_request_t *r,
    ngx_http_request_t *sr);
void *ngx_api_led_ctx_recover(ngx_http_request_t *r, ngx_module_t *m,
    ngx_pool_cleanup_pt handler);
ngx_int_t ngx_api_led_add_variable_table(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
ngx_int_t ngx_api_led_header_value_is_safe(ngx_str_t *value);


/*
 * ngx_api_led_problem.c
 *
 * Sends an RFC 9457 application/problem+json response.  "code" is the
 * short error code (the type is "urn:api-led:error:CODE"); the title comes
 * from a table of known codes, else from the status line.  "detail" is a
 * printf-style format (ngx_vslprintf); it never carries a secret.  Headers
 * the answer needs (WWW-Authenticate, Retry-After) are set by the caller
 * before the call.  Returns what the output filter returned, NGX_ERROR on
 * failure.
 */
ngx_int_t ngx_api_led_problem_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *detail, ...);

/*
 * The same for a phase handler (access, precontent): sends, finalizes the
 * request and returns NGX_DONE, which the handler returns as it is.
 */
ngx_int_t ngx_api_led_problem_finalize(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *detail, ...);

/*
 * Refusing a request through nginx, for a phase handler of the main
 * request: remembers the problem and returns "status", which the handler
 * returns to nginx (NGX_HTTP_INTERNAL_SERVER_ERROR if memory ran out).
 * nginx then applies error_page, satisfy and auth_delay; when it sends its
 * own special response for the status, the problem is its body.  Headers
 * (WWW-Authenticate, Retry-After) are set by the caller.
 */
ngx_int_t ngx_api_led_problem_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *detail, ...);

/*
 * api_led_problem_detail: whether the problems of this request keep the
 * inside (part names, internal URIs, layer rules) to the error log.
 */
ngx_uint_t ngx_api_led_problem_detail_public(ngx_http_request_t *r);

/*
 * Sends the buffer "b" as the whole response with "status" and the
 * Content-Type "type"; Content-Length is its size, and what described
 * another representation (Accept-Ranges, Last-Modified, ETag) goes.
 */
ngx_int_t ngx_api_led_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);


/*
 * ngx_api_led_layer.c: the layer contract.  api_led_callers of a location
 * (its loc_conf array) as a bit per caller, 1 << NGX_API_LED_LAYER_* and
 * 1 << NGX_API_LED_CALLER_CLIENT (0: no contract); the callers' names by
 * that index.
 */
#define NGX_API_LED_CALLER_CLIENT     4

ngx_uint_t ngx_api_led_layer_callers(void **loc_conf);
extern ngx_str_t  ngx_api_led_caller_names[];

/*
 * ngx_api_led_caller.c: every X-Consumer-* header of the request goes (who
 * the consumer is, only the gateway says).  NGX_OK, NGX_ERROR.
 */
ngx_int_t ngx_api_led_strip_consumer(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);


/*
 * ngx_api_led_caller.c: the caller of a client's request for the layer
 * contract: the layer a valid signed assertion (API-Led-Caller) names,
 * else "client_index"; the API it names (NULL: none); the level of the
 * contract's log lines (api_led_callers_log_level, the caller module's).
 */
ngx_uint_t ngx_api_led_caller_of(ngx_http_request_t *r,
    ngx_uint_t client_index);
ngx_str_t *ngx_api_led_caller_api(ngx_http_request_t *r);
ngx_uint_t ngx_api_led_callers_log_level(ngx_http_request_t *r);


/*
 * ngx_api_led_body.c: the client's request body once nginx read it.  The
 * size of its buffers; its text in one piece (NGX_DECLINED: larger than
 * "max"), read back from the temporary file if nginx wrote one.
 */
off_t ngx_api_led_body_size(ngx_http_request_body_t *rb);
ngx_int_t ngx_api_led_body_text(ngx_http_request_t *r, size_t max,
    ngx_str_t *text);


/*
 * Whether the upstream of r (proxy_pass, fastcgi_pass...) ended its
 * response before the end: for a body filter that was passed a chain
 * without the last buffer.  A complete response ends with one (last_buf;
 * last_in_chain in a subrequest).  When the upstream closes early, times
 * out or breaks its chunked body after the header went out, nginx logs
 * it, finalizes the upstream (u->cleanup goes) and passes the filters a
 * flush, never the last buffer.  A part or a buffered transformation must
 * not take what came so far for the whole.
 */
static ngx_inline ngx_uint_t
ngx_api_led_upstream_cut_short(ngx_http_request_t *r)
{
    return (r->upstream && r->upstream->cleanup == NULL
            && r->upstream->header_sent);
}


/*
 * The request's pipeline.  Policies register their step at
 * postconfiguration; the core runs the steps in the order of their slots,
 * each once per request: authentication in its access handler, the rate
 * limits in its precontent handler, after the access decision.  A step
 * returns NGX_DECLINED to go on, NGX_OK to go on and grant access
 * ("satisfy any": a proven credential; an admitted step's NGX_OK is
 * NGX_DECLINED), NGX_AGAIN while it waits (the request is woken by
 * ngx_api_led_wake()), NGX_DONE after it answered the request itself, or
 * NGX_ERROR / an HTTP status (see ngx_api_led_problem_refuse()).
 *
 * A step runs only in the locations its policy marked, from its
 * merge_loc_conf, with ngx_api_led_use_step(): a location without module
 * directives costs nothing, and each handler is registered only when some
 * location needs it.
 *
 * The module's other precontent handlers are registered with
 * ngx_api_led_add_precontent(), which runs them after the admitted steps:
 * a request the rate limits refuse is neither read nor signed.
 */

ngx_int_t ngx_api_led_add_step(ngx_conf_t *cf, ngx_uint_t slot,
    ngx_api_led_step_pt step);
void ngx_api_led_use_step(ngx_conf_t *cf, ngx_uint_t slot);
ngx_int_t ngx_api_led_add_precontent(ngx_conf_t *cf,
    ngx_http_handler_pt handler);

/*
 * The location being configured passes the client's request headers on
 * to API locations in subrequests (a composition's parts), which never
 * clean them (the preaccess phase cleans a client's request only): what a
 * client may not assert (X-Consumer-*, an API-Led-Caller that does not
 * verify) is removed here as in an API location, API or not.
 */
void ngx_api_led_forwards(ngx_conf_t *cf);

/*
 * Authentication hides a credential from the request (api_led_key_hide,
 * api_led_jwt_hide) before the limits count it, so a variable that reads
 * it is empty there.  Called while the location is merged: the hiding
 * policy names the variable ("http_x_api_key", "arg_api_key"), a later
 * policy asks whether a value's text reads one, to fail nginx -t.
 */
ngx_int_t ngx_api_led_hide_variable(ngx_conf_t *cf, const char *prefix,
    ngx_str_t *name);
ngx_str_t *ngx_api_led_reads_hidden(ngx_conf_t *cf, ngx_str_t *text);

/*
 * A directive that answers its location (api_led_compose,
 * api_led_event_stream, api_led_metrics, api_led_catalog) makes its
 * handler the location's content handler (and its limit_except block's,
 * once the configuration is parsed).  nginx lets a later directive
 * (proxy_pass, ...) replace it silently: an earlier one is refused here,
 * a later one once the configuration is parsed, with the directive's
 * file and line.  The same handler twice is allowed (a location's
 * api_led_compose blocks for several methods).
 */
char *ngx_api_led_content_handler(ngx_conf_t *cf, const char *directive,
    ngx_http_handler_pt handler);
/*
 * Whether such a directive answers the request: its answer (the metrics
 * text, the catalog page, an event stream) is the module's, not an
 * upstream's.
 */
ngx_uint_t ngx_api_led_answers_itself(ngx_http_request_t *r);

/* "2026-01-31" or "2026-01-31T12:00:00Z" (UTC) as a time, NGX_ERROR */
/* no deprecated= or sunset= date: no date parses to it */
#define NGX_API_LED_DATE_NONE  ((time_t) -1)

time_t ngx_api_led_parse_date(ngx_str_t *text);

/*
 * ngx_api_led_trace.c: the request's W3C trace, the shared ctx given
 * (the core's module file finds it).  Made on first use from the client's
 * traceparent and tracestate (a new trace when they cannot be used); in an
 * API location the upstream gets the request's span (forward); a child
 * span for a subrequest; the span of any request of the tree into "span"
 * and its parent's into "parent", 8 bytes each (NGX_DECLINED: the span
 * has no parent, the trace started here).  The client's trace headers are
 * those ngx_api_led_request_headers() found: call it first.
 */
void ngx_api_led_trace_init(void);
ngx_int_t ngx_api_led_trace_start(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
ngx_int_t ngx_api_led_trace_forward(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
ngx_int_t ngx_api_led_trace_child(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_http_request_t *sr);
ngx_int_t ngx_api_led_trace_span(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, u_char *span, u_char *parent);

/* ngx_api_led_layer.c: the callers of the location being configured */
ngx_uint_t ngx_api_led_callers_names(ngx_conf_t *cf, ngx_str_t *names);

/* "100r/s", "5r/m", "1r/h", "200000r/d" */
ngx_int_t ngx_api_led_parse_rate(ngx_str_t *text, ngx_api_led_rate_t *rate);

/*
 * The one way a suspended request goes on: it runs its phases again from
 * a posted event, never from inside the caller (another request's handler,
 * the Redis read loop).  A request that goes away meanwhile takes the
 * event with it.
 */
ngx_int_t ngx_api_led_wake(ngx_http_request_t *r);



#include "ngx_api_led_edit.h"
#include "ngx_api_led_text.h"


#endif /* _NGX_API_LED_H_INCLUDED_ */
