
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The publishing service: a worker's outbox and the Redis calls that
 * empty it.
 *
 * An event is published into the worker's outbox, in memory outside any
 * request, and the request goes on at once.  The outbox leaves as the
 * rate limits' batches do: with no call on its way, at the end of the
 * event loop's turn; else when the reply comes, with everything that came
 * meanwhile.  A batch makes one call per stream (a script that runs XADD
 * for each of the stream's events, in order; one key per call, so that a
 * client of several nodes can route it), all pipelined on the worker's
 * shared connection.  Under load, Redis sees far fewer calls than events.
 *
 * An event leaves the outbox when Redis said it was added.  While Redis
 * is away (the circuit open, a call failed or timed out) the events wait,
 * in order, and are sent again when it is back: at least once, since a
 * call that timed out may have been carried out.  The outbox is bounded
 * (api_led_event_outbox, bytes of events): an event that does not fit is
 * dropped, counted ($api_led_event_dropped, the metrics) and the first of
 * an outage is logged.  What the outbox holds when the worker exits is
 * lost (logged): a worker that shuts down gracefully sends it first while
 * Redis answers.
 */


#include "ngx_api_led_publish.h"
#include "ngx_api_led_redis.h"
#include "ngx_api_led_observe.h"
#include <hiredis/hiredis.h>


/* a batch takes at most that much of the outbox at once */
#define NGX_API_LED_PUBLISH_BATCH_EVENTS  1024
#define NGX_API_LED_PUBLISH_BATCH_BYTES   (4 * 1024 * 1024)
#define NGX_API_LED_PUBLISH_BATCH_CALLS   32

#define NGX_API_LED_PUBLISH_RETRY_MIN     100

/*
 * An envelope every reader of its stream can read: its entry comes in a
 * reply that must fit NGX_API_LED_REDIS_MAX_PENDING with the bytes read
 * with it.  A larger one would be in the stream for good, and every
 * subscriber and listener would stop at it.
 */
#define NGX_API_LED_EVENT_MAX                                                 \
    (NGX_API_LED_REDIS_MAX_PENDING - 64 * 1024)


typedef struct {
    size_t                           outbox;   /* api_led_event_outbox */
    ngx_api_led_redis_script_t      *script;
    ngx_api_led_metric_t            *metric;

    /* the first definition of an event, for nginx -t */
    u_char                          *file;
    ngx_uint_t                       line;
    unsigned                         used:1;
} ngx_api_led_publish_main_conf_t;


typedef struct {
    ngx_queue_t                      queue;    /* in the outbox, in order */
    ngx_api_led_event_def_t         *def;
    size_t                           len;
    unsigned                         sent:1;   /* in a call on its way */
    unsigned                         waited:1; /* counted as queued */
    u_char                           text[1];  /* the envelope */
} ngx_api_led_outbox_event_t;


typedef struct ngx_api_led_publish_worker_s  ngx_api_led_publish_worker_t;


/* one call of a batch: the events of one stream and MAXLEN, in order */
typedef struct {
    ngx_queue_t                      queue;    /* on its way */
    ngx_api_led_publish_worker_t    *worker;
    ngx_api_led_event_def_t         *def;      /* its stream and maxlen */
    ngx_uint_t                       nevents;
    ngx_api_led_outbox_event_t     **events;
    ngx_str_t                       *args;
    u_char                           maxlen[NGX_INT_T_LEN];
} ngx_api_led_publish_call_t;


/* a worker's outbox: made at init_process, never in the configuration */
struct ngx_api_led_publish_worker_s {
    ngx_api_led_publish_main_conf_t *conf;
    ngx_queue_t                      outbox;
    size_t                           size;     /* bytes of its events */
    ngx_uint_t                       count;    /* its events */
    ngx_uint_t                       calls;    /* on their way */
    ngx_queue_t                      flight;   /* those calls */
    ngx_event_t                      flush;
    ngx_event_t                      retry;
    ngx_uint_t                       dropped;  /* since the worker began */
    ngx_uint_t                       dropped_outage;
    ngx_msec_t                       refused_logged;
    unsigned                         down:1;   /* the last call failed */
    unsigned                         drop_logged:1;
};


static void ngx_api_led_publish_enqueue(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_outbox_event_t *e, ngx_log_t *log);
static void ngx_api_led_publish_flush(ngx_event_t *ev);
static ngx_api_led_publish_call_t *ngx_api_led_publish_call(
    ngx_api_led_publish_worker_t *wk, ngx_api_led_publish_call_t **calls,
    ngx_uint_t *ncalls, ngx_api_led_outbox_event_t *e);
static ngx_int_t ngx_api_led_publish_send(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call);
static void ngx_api_led_publish_reply(void *data, redisReply *reply);
static void ngx_api_led_publish_remove(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call);
static void ngx_api_led_publish_refused(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call);
static void ngx_api_led_publish_failed(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call);
static void ngx_api_led_publish_retry(ngx_event_t *ev);
static void ngx_api_led_publish_free_call(ngx_api_led_publish_call_t *call);
static void ngx_api_led_publish_count(ngx_api_led_publish_worker_t *wk,
    ngx_str_t *stream, const char *outcome, ngx_uint_t n);

static ngx_int_t ngx_api_led_publish_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_publish_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_publish_init(ngx_conf_t *cf);
static void *ngx_api_led_publish_create_main_conf(ngx_conf_t *cf);
static char *ngx_api_led_publish_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_api_led_publish_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_publish_exit_process(ngx_cycle_t *cycle);


/* why an event over NGX_API_LED_EVENT_MAX is dropped */
static ngx_str_t  ngx_api_led_event_too_large = ngx_string(
    "it is larger than a reader of its stream takes");


/*
 * KEYS[1]: the stream; ARGV[1]: MAXLEN ("0": none), then each event's
 * type and envelope.  Returns how many were added.
 */
static ngx_str_t  ngx_api_led_publish_xadd = ngx_string(
    "local n = 0\n"
    "for i = 2, #ARGV, 2 do\n"
    "  if ARGV[1] == '0' then\n"
    "    redis.call('XADD', KEYS[1], '*', '" NGX_API_LED_EVENT_FIELD_TYPE
    "', ARGV[i], '" NGX_API_LED_EVENT_FIELD_EVENT "', ARGV[i + 1])\n"
    "  else\n"
    "    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', '"
    NGX_API_LED_EVENT_FIELD_TYPE "', ARGV[i], '"
    NGX_API_LED_EVENT_FIELD_EVENT "', ARGV[i + 1])\n"
    "  end\n"
    "  n = n + 1\n"
    "end\n"
    "return n\n");


static char  *ngx_api_led_publish_labels[] = { "stream", "outcome", NULL };


/* this worker's outbox (each worker process has its own) */
static ngx_api_led_publish_worker_t  *ngx_api_led_publish_worker;


static ngx_command_t  ngx_api_led_publish_commands[] = {

    { ngx_string("api_led_event_outbox"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_api_led_publish_main_conf_t, outbox),
      &ngx_api_led_size_not_zero },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_publish_module_ctx = {
    ngx_api_led_publish_add_variables,     /* preconfiguration */
    ngx_api_led_publish_init,              /* postconfiguration */

    ngx_api_led_publish_create_main_conf,  /* create main configuration */
    ngx_api_led_publish_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_publish_module = {
    NGX_MODULE_V1,
    &ngx_api_led_publish_module_ctx,       /* module context */
    ngx_api_led_publish_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_publish_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_publish_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


#define NGX_API_LED_PUBLISH_VAR_DROPPED  0
#define NGX_API_LED_PUBLISH_VAR_QUEUED   1

static ngx_http_variable_t  ngx_api_led_publish_vars[] = {

    { ngx_string("api_led_event_dropped"), NULL,
      ngx_api_led_publish_variable, NGX_API_LED_PUBLISH_VAR_DROPPED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_event_queued"), NULL,
      ngx_api_led_publish_variable, NGX_API_LED_PUBLISH_VAR_QUEUED,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* configuration of an event: api_led_event, a part's event= */

char *
ngx_api_led_publish_def_type(ngx_conf_t *cf, ngx_api_led_event_def_t *def,
    ngx_str_t *type)
{
    u_char  *p;

    if (type->len == 0 || type->len > NGX_API_LED_EVENT_NAME_MAX) {
        goto invalid;
    }

    for (p = type->data; p < type->data + type->len; p++) {
        if (!(isalnum(*p) || *p == '.' || *p == '-' || *p == '_'
              || *p == ':' || *p == '/'))
        {
            goto invalid;
        }
    }

    def->type = *type;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid event type \"%V\": use 1 to %d letters, "
                       "digits, \".\", \"-\", \"_\", \":\" and \"/\"",
                       type, NGX_API_LED_EVENT_NAME_MAX);

    return NGX_CONF_ERROR;
}


char *
ngx_api_led_publish_def_param(ngx_conf_t *cf, ngx_api_led_event_def_t *def,
    ngx_str_t *value)
{
    ngx_int_t   n;
    ngx_str_t   s;

    if (ngx_strncmp(value->data, "stream=", 7) == 0) {
        s.data = value->data + 7;
        s.len = value->len - 7;

        return ngx_api_led_publish_def_stream(cf, def, &s);
    }

    if (ngx_strncmp(value->data, "maxlen=", 7) == 0) {
        n = ngx_atoi(value->data + 7, value->len - 7);

        if (n == NGX_ERROR || n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": a number of entries, at "
                               "least 1", value);
            return NGX_CONF_ERROR;
        }

        def->maxlen = n;
        return NGX_CONF_OK;
    }

    return NGX_API_LED_PUBLISH_NOT_MINE;
}


/* the template of data=: its placeholders are the caller's to resolve */

ngx_int_t
ngx_api_led_publish_def_data(ngx_conf_t *cf, ngx_api_led_event_def_t *def,
    ngx_str_t *text, const char *what, ngx_str_t *name)
{
    def->data = ngx_array_create(cf->pool, 4,
                                 sizeof(ngx_api_led_tmpl_seg_t));
    if (def->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_tmpl_json(cf, text, what, name, def->data) != NGX_OK) {
        return NGX_ERROR;
    }

    def->data_text = *text;

    return NGX_OK;
}


/* the stream key of stream=, also the key api_led_event_stream reads */

char *
ngx_api_led_publish_def_stream(ngx_conf_t *cf, ngx_api_led_event_def_t *def,
    ngx_str_t *key)
{
    u_char  *p;

    if (def->stream.len) {
        return "has a duplicate \"stream=\"";
    }

    if (key->len == 0 || key->len > NGX_API_LED_EVENT_NAME_MAX) {
        goto invalid;
    }

    for (p = key->data; p < key->data + key->len; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            goto invalid;
        }

        if (*p == '$') {
            /*
             * the key is taken as written: "events:$api_led_consumer" would
             * be one stream for every consumer, each subscriber reading
             * the others' events, while the configuration reads as one
             * stream each
             */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid stream key \"%V\": a stream key "
                               "is fixed, it takes no variables", key);
            return NGX_CONF_ERROR;
        }
    }

    def->stream = *key;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid stream key \"%V\": a stream key of 1 to "
                       "%d characters without spaces", key,
                       NGX_API_LED_EVENT_NAME_MAX);

    return NGX_CONF_ERROR;
}


char *
ngx_api_led_publish_def_done(ngx_conf_t *cf, ngx_api_led_event_def_t *def)
{
    ngx_api_led_publish_main_conf_t  *pmcf;

    if (def->stream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "event \"%V\" needs \"stream=\"", &def->type);
        return NGX_CONF_ERROR;
    }

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_publish_module);

    if (!pmcf->used) {
        pmcf->used = 1;
        pmcf->file = cf->conf_file->file.name.data;
        pmcf->line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


/* the request path: an event whose data could not be made */

void
ngx_api_led_publish_drop(ngx_http_request_t *r, ngx_api_led_event_def_t *def,
    ngx_str_t *why)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "api_led: event \"%V\" not published: %V",
                  &def->type, why);

    if (ngx_api_led_publish_worker) {
        ngx_api_led_publish_count(ngx_api_led_publish_worker, &def->stream,
                                  "dropped", 1);
    }
}


/* the request path: the event into the outbox */

ngx_int_t
ngx_api_led_publish(ngx_http_request_t *r, ngx_api_led_event_def_t *def,
    ngx_str_t *data)
{
    size_t                           len;
    u_char                          *p;
    ngx_api_led_envelope_t           env;
    ngx_api_led_publish_worker_t    *wk;
    ngx_api_led_outbox_event_t      *e;

    wk = ngx_api_led_publish_worker;

    if (wk == NULL) {
        return NGX_DECLINED;
    }

    if (data && ngx_api_led_json_validate(data->data, data->len) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: event \"%V\" not published: its data is "
                      "not JSON", &def->type);
        ngx_api_led_publish_count(wk, &def->stream, "dropped", 1);
        return NGX_DECLINED;
    }

    if (ngx_api_led_envelope_init(r, def, data, &env) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ngx_api_led_envelope_len(&env);

    if (len > NGX_API_LED_EVENT_MAX) {
        ngx_api_led_publish_drop(r, def, &ngx_api_led_event_too_large);
        return NGX_DECLINED;
    }

    e = ngx_alloc(offsetof(ngx_api_led_outbox_event_t, text) + len,
                  r->connection->log);
    if (e == NULL) {
        return NGX_ERROR;
    }

    p = ngx_api_led_envelope_write(e->text, &env);

    e->def = def;
    e->len = p - e->text;
    e->sent = 0;
    e->waited = 0;

    if (wk->size + e->len > wk->conf->outbox) {
        ngx_free(e);

        wk->dropped++;
        wk->dropped_outage++;

        ngx_api_led_publish_count(wk, &def->stream, "dropped", 1);

        if (!wk->drop_logged) {
            wk->drop_logged = 1;

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "api_led: the event outbox is full (%uz bytes, "
                          "%ui events waiting for redis): events are "
                          "dropped, first \"%V\" to \"%V\"",
                          wk->size, wk->count, &def->type, &def->stream);
        }

        return NGX_DECLINED;
    }

    ngx_api_led_publish_enqueue(wk, e, r->connection->log);

    return NGX_OK;
}


static void
ngx_api_led_publish_enqueue(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_outbox_event_t *e, ngx_log_t *log)
{
    ngx_queue_insert_tail(&wk->outbox, &e->queue);
    wk->size += e->len;
    wk->count++;

    if (wk->down) {
        /* it waits for Redis to come back */
        e->waited = 1;
        ngx_api_led_publish_count(wk, &e->def->stream, "queued", 1);
        return;
    }

    if (wk->calls == 0 && !wk->flush.posted) {
        ngx_post_event(&wk->flush, &ngx_posted_events);
    }
}


/*
 * The head of the outbox leaves: a call per stream (and MAXLEN), each
 * with its events in their order.  Nothing leaves while a call is on its
 * way: its reply sends the next batch, or tells that Redis is away.
 */

static void
ngx_api_led_publish_flush(ngx_event_t *ev)
{
    size_t                           bytes;
    ngx_uint_t                       i, n, ncalls;
    ngx_queue_t                     *q;
    ngx_api_led_redis_t             *rd;
    ngx_api_led_publish_call_t      *calls[NGX_API_LED_PUBLISH_BATCH_CALLS];
    ngx_api_led_publish_call_t      *call;
    ngx_api_led_outbox_event_t      *e;
    ngx_api_led_publish_worker_t    *wk;

    wk = ev->data;

    if (wk->calls || ngx_queue_empty(&wk->outbox)) {
        return;
    }

    rd = ngx_api_led_redis_shared();

    if (ngx_api_led_redis_usable(rd) != NGX_OK) {
        ngx_api_led_publish_failed(wk, NULL);
        return;
    }

    /* how many events of each group, to size the calls */

    ncalls = 0;
    n = 0;
    bytes = 0;

    for (q = ngx_queue_head(&wk->outbox);
         q != ngx_queue_sentinel(&wk->outbox)
         && n < NGX_API_LED_PUBLISH_BATCH_EVENTS
         && bytes < NGX_API_LED_PUBLISH_BATCH_BYTES;
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_api_led_outbox_event_t, queue);

        call = ngx_api_led_publish_call(wk, calls, &ncalls, e);
        if (call == NULL) {
            break;
        }

        call->nevents++;
        n++;
        bytes += e->len;
    }

    for (i = 0; i < ncalls; i++) {
        call = calls[i];

        call->events = ngx_alloc(call->nevents
                                 * (sizeof(ngx_api_led_outbox_event_t *)
                                    + 2 * sizeof(ngx_str_t))
                                 + 3 * sizeof(ngx_str_t), ev->log);
        if (call->events == NULL) {
            goto failed;
        }

        call->args = (ngx_str_t *) &call->events[call->nevents];
        call->nevents = 0;
    }

    /* the same walk again: each event into its call, in order */

    q = ngx_queue_head(&wk->outbox);

    for (i = 0; i < n; i++, q = ngx_queue_next(q)) {
        e = ngx_queue_data(q, ngx_api_led_outbox_event_t, queue);

        call = ngx_api_led_publish_call(wk, calls, &ncalls, e);

        call->events[call->nevents++] = e;
        e->sent = 1;
    }

    for (i = 0; i < ncalls; i++) {
        if (ngx_api_led_publish_send(wk, calls[i]) != NGX_OK) {
            /* the circuit opened: this call and the next ones wait */
            for ( /* void */ ; i < ncalls; i++) {
                ngx_api_led_publish_failed(wk, calls[i]);
                ngx_api_led_publish_free_call(calls[i]);
            }

            break;
        }

        wk->calls++;
        ngx_queue_insert_tail(&wk->flight, &calls[i]->queue);
    }

    return;

failed:

    for (i = 0; i < ncalls; i++) {
        ngx_api_led_publish_free_call(calls[i]);
    }

    ngx_api_led_publish_failed(wk, NULL);
}


/* the call of the event's group, made when new; NULL: no room */

static ngx_api_led_publish_call_t *
ngx_api_led_publish_call(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t **calls, ngx_uint_t *ncalls,
    ngx_api_led_outbox_event_t *e)
{
    ngx_uint_t                   i;
    ngx_api_led_event_def_t     *def;
    ngx_api_led_publish_call_t  *call;

    for (i = 0; i < *ncalls; i++) {
        def = calls[i]->def;

        if (def == e->def
            || (def->maxlen == e->def->maxlen
                && def->stream.len == e->def->stream.len
                && ngx_strncmp(def->stream.data, e->def->stream.data,
                               def->stream.len) == 0))
        {
            return calls[i];
        }
    }

    if (*ncalls == NGX_API_LED_PUBLISH_BATCH_CALLS) {
        return NULL;
    }

    call = ngx_calloc(sizeof(ngx_api_led_publish_call_t), ngx_cycle->log);
    if (call == NULL) {
        return NULL;
    }

    call->worker = wk;
    call->def = e->def;

    calls[(*ncalls)++] = call;

    return call;
}


static ngx_int_t
ngx_api_led_publish_send(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call)
{
    ngx_int_t                    rc;
    ngx_str_t                   *arg;
    ngx_uint_t                   i;
    ngx_api_led_redis_waiter_t  *w;

    arg = call->args;

    ngx_str_set(arg, "1");
    arg++;

    *arg++ = call->def->stream;

    arg->data = call->maxlen;
    arg->len = ngx_sprintf(call->maxlen, "%ui", call->def->maxlen)
               - call->maxlen;
    arg++;

    for (i = 0; i < call->nevents; i++) {
        *arg++ = call->events[i]->def->type;

        arg->data = call->events[i]->text;
        arg->len = call->events[i]->len;
        arg++;
    }

    rc = ngx_api_led_redis_evalsha(ngx_api_led_redis_shared(),
                                   wk->conf->script, arg - call->args,
                                   call->args, ngx_api_led_publish_reply,
                                   call, &w);

    if (rc != NGX_AGAIN) {
        return NGX_ERROR;
    }

    /*
     * A stream that Redis refuses (a key of another type, an ACL that
     * forbids it) would refuse these events for ever: they must not
     * wait at the head of the outbox as if Redis were away
     */
    ngx_api_led_redis_refusals(w);

    return NGX_OK;
}


static void
ngx_api_led_publish_reply(void *data, redisReply *reply)
{
    ngx_api_led_publish_call_t *call = data;

    ngx_api_led_publish_worker_t  *wk;

    wk = call->worker;
    wk->calls--;
    ngx_queue_remove(&call->queue);

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        /* a refusal: the client answered any other error NULL */
        ngx_api_led_publish_refused(wk, call);

    } else if (reply
               && reply->type == REDIS_REPLY_INTEGER
               && reply->integer == (long long) call->nevents)
    {
        ngx_api_led_publish_remove(wk, call);

        ngx_api_led_publish_count(wk, &call->def->stream, "published",
                                  call->nevents);

    } else {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "api_led: unexpected reply from the redis event "
                          "script for \"%V\"", &call->def->stream);
        }

        ngx_api_led_publish_failed(wk, call);
        ngx_api_led_publish_free_call(call);
        return;
    }

    ngx_api_led_publish_free_call(call);

    if (wk->calls) {
        return;
    }

    if (wk->down) {
        wk->down = 0;

        if (wk->retry.timer_set) {
            ngx_del_timer(&wk->retry);
        }

        if (wk->drop_logged) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "api_led: redis takes events again, %ui were "
                          "dropped meanwhile", wk->dropped_outage);

        } else {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "api_led: redis takes events again, %ui waiting",
                          wk->count);
        }

        wk->drop_logged = 0;
        wk->dropped_outage = 0;
    }

    /* what came meanwhile leaves at the end of this turn */

    if (!ngx_queue_empty(&wk->outbox) && !wk->flush.posted) {
        ngx_post_event(&wk->flush, &ngx_posted_events);
    }
}


/* the call's events leave the outbox: added, or refused */

static void
ngx_api_led_publish_remove(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call)
{
    ngx_uint_t                   i;
    ngx_api_led_outbox_event_t  *e;

    for (i = 0; i < call->nevents; i++) {
        e = call->events[i];

        ngx_queue_remove(&e->queue);
        wk->size -= e->len;
        wk->count--;

        ngx_free(e);
    }
}


/*
 * Redis refused the stream (WRONGTYPE, NOPERM; redis logged its answer):
 * the same call would be refused again, so its events are dropped, not
 * kept at the head of the outbox where they would hold every stream's
 * events until it is full.  Nothing of the call was added: its XADDs all
 * name the stream that was refused.
 */

static void
ngx_api_led_publish_refused(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call)
{
    if (ngx_current_msec - wk->refused_logged >= 1000
        || wk->refused_logged == 0)
    {
        wk->refused_logged = ngx_current_msec ? ngx_current_msec : 1;

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "api_led: redis refused the stream \"%V\", %ui "
                      "events dropped", &call->def->stream, call->nevents);
    }

    ngx_api_led_publish_remove(wk, call);

    wk->dropped += call->nevents;

    ngx_api_led_publish_count(wk, &call->def->stream, "dropped",
                              call->nevents);
}


/*
 * Redis is away: the call's events (NULL: none) wait in the outbox, in
 * their places, and the outbox is tried again once the Redis client tries
 * to reconnect.
 */

static void
ngx_api_led_publish_failed(ngx_api_led_publish_worker_t *wk,
    ngx_api_led_publish_call_t *call)
{
    ngx_msec_t                   ms;
    ngx_uint_t                   i, n;
    ngx_queue_t                 *q;
    ngx_api_led_outbox_event_t  *e;

    if (call) {
        for (i = 0; i < call->nevents; i++) {
            call->events[i]->sent = 0;
        }
    }

    if (!wk->down) {
        wk->down = 1;

        /*
         * An outage of its own: its first drop is said, and counted from
         * here for the notice at its end (a drop while Redis answered, an
         * event larger than the outbox, did not begin it)
         */
        wk->drop_logged = 0;
        wk->dropped_outage = 0;

        /* everything in the outbox now waits for Redis */

        n = 0;

        for (q = ngx_queue_head(&wk->outbox);
             q != ngx_queue_sentinel(&wk->outbox);
             q = ngx_queue_next(q))
        {
            e = ngx_queue_data(q, ngx_api_led_outbox_event_t, queue);

            if (!e->waited) {
                e->waited = 1;
                ngx_api_led_publish_count(wk, &e->def->stream, "queued", 1);
                n++;
            }
        }

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "api_led: redis unavailable, %ui events wait in the "
                      "outbox", wk->count);
    }

    if (wk->calls || wk->retry.timer_set || ngx_queue_empty(&wk->outbox)) {
        return;
    }

    ms = ngx_api_led_redis_retry_after(ngx_api_led_redis_shared());

    if (ms < NGX_API_LED_PUBLISH_RETRY_MIN) {
        ms = NGX_API_LED_PUBLISH_RETRY_MIN;
    }

    ngx_add_timer(&wk->retry, ms);
}


static void
ngx_api_led_publish_retry(ngx_event_t *ev)
{
    ngx_api_led_publish_worker_t *wk = ev->data;

    ngx_api_led_publish_flush(&wk->flush);
}


static void
ngx_api_led_publish_free_call(ngx_api_led_publish_call_t *call)
{
    if (call->events) {
        ngx_free(call->events);
    }

    ngx_free(call);
}


static void
ngx_api_led_publish_count(ngx_api_led_publish_worker_t *wk, ngx_str_t *stream,
    const char *outcome, ngx_uint_t n)
{
    ngx_str_t  values[2];

    if (wk->conf->metric == NULL) {
        return;
    }

    values[0] = *stream;
    values[1].data = (u_char *) outcome;
    values[1].len = ngx_strlen(outcome);

    ngx_api_led_metric_count(wk->conf->metric, values, n, ngx_cycle->log);
}


static ngx_int_t
ngx_api_led_publish_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_uint_t                     n;
    ngx_api_led_publish_worker_t  *wk;

    wk = ngx_api_led_publish_worker;

    if (wk == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = (data == NGX_API_LED_PUBLISH_VAR_DROPPED) ? wk->dropped : wk->count;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", n) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_publish_add_variables(ngx_conf_t *cf)
{
    return ngx_api_led_add_variable_table(cf, ngx_api_led_publish_vars);
}


/*
 * Once the http block is parsed: an event is published somewhere, so
 * Redis must be configured, its script goes into the handshake and the
 * worker's shared connection is needed.
 */

static ngx_int_t
ngx_api_led_publish_init(ngx_conf_t *cf)
{
    ngx_api_led_redis_conf_t         *rcf;
    ngx_api_led_publish_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_publish_module);

    if (!pmcf->used) {
        return NGX_OK;
    }

    rcf = ngx_api_led_redis_use(cf);

    if (rcf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "events are published to Redis Streams: "
                      "\"api_led_redis\" is needed, for the event in "
                      "%s:%ui", pmcf->file, pmcf->line);
        return NGX_ERROR;
    }

    pmcf->script = ngx_api_led_redis_add_script(cf, rcf,
                                                &ngx_api_led_publish_xadd);
    if (pmcf->script == NULL) {
        return NGX_ERROR;
    }

    return ngx_api_led_metric_add(cf, &pmcf->metric, "api_led_events",
                                  "Events by stream and outcome: published, "
                                  "queued (waited for Redis), dropped, "
                                  "streamed (sent to SSE subscribers), "
                                  "delivered, retried, dead_lettered",
                                  NGX_API_LED_METRIC_COUNTER,
                                  ngx_api_led_publish_labels);
}


static void *
ngx_api_led_publish_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_publish_main_conf_t  *pmcf;

    pmcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_publish_main_conf_t));
    if (pmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pmcf->script = NULL;
     *     pmcf->metric = NULL;
     *     pmcf->used = 0;
     */

    pmcf->outbox = NGX_CONF_UNSET_SIZE;

    return pmcf;
}


static char *
ngx_api_led_publish_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_api_led_publish_main_conf_t *pmcf = conf;

    ngx_conf_init_size_value(pmcf->outbox, NGX_API_LED_PUBLISH_OUTBOX);

    return NGX_CONF_OK;
}


/* not in the cycle's pool: it lives as long as the worker */

static ngx_int_t
ngx_api_led_publish_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_publish_worker_t     *wk;
    ngx_api_led_publish_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_publish_module);

    if (pmcf == NULL || !pmcf->used) {
        return NGX_OK;
    }

    wk = ngx_calloc(sizeof(ngx_api_led_publish_worker_t), cycle->log);
    if (wk == NULL) {
        return NGX_ERROR;
    }

    wk->conf = pmcf;
    ngx_queue_init(&wk->outbox);
    ngx_queue_init(&wk->flight);

    wk->flush.handler = ngx_api_led_publish_flush;
    wk->flush.data = wk;
    wk->flush.log = cycle->log;

    /* waiting for Redis never holds a worker that shuts down */
    wk->retry.handler = ngx_api_led_publish_retry;
    wk->retry.data = wk;
    wk->retry.log = cycle->log;
    wk->retry.cancelable = 1;

    ngx_api_led_publish_worker = wk;

    return NGX_OK;
}


/*
 * The Redis module closed the connection before (it comes first): no
 * reply reaches a freed call.  What is left in the outbox is lost.
 */

static void
ngx_api_led_publish_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_api_led_outbox_event_t    *e;
    ngx_api_led_publish_worker_t  *wk;

    wk = ngx_api_led_publish_worker;

    if (wk == NULL) {
        return;
    }

    if (wk->count) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "api_led: %ui events of the outbox lost at exit, "
                      "redis did not take them", wk->count);
    }

    if (wk->flush.posted) {
        ngx_delete_posted_event(&wk->flush);
    }

    if (wk->retry.timer_set) {
        ngx_del_timer(&wk->retry);
    }

    while (!ngx_queue_empty(&wk->flight)) {
        q = ngx_queue_head(&wk->flight);
        ngx_queue_remove(q);

        ngx_api_led_publish_free_call(ngx_queue_data(q,
                                                ngx_api_led_publish_call_t,
                                                queue));
    }

    while (!ngx_queue_empty(&wk->outbox)) {
        q = ngx_queue_head(&wk->outbox);
        ngx_queue_remove(q);

        e = ngx_queue_data(q, ngx_api_led_outbox_event_t, queue);
        ngx_free(e);
    }

    ngx_free(wk);
    ngx_api_led_publish_worker = NULL;
}
