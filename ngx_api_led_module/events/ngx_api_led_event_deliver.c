
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * ngx_api_led_event_deliver_module: the listeners of
 * api_led_event_deliver KEY group=NAME to=URI.
 *
 * Every worker is a consumer of the group, named "HOSTNAME:N" after its
 * worker number N: a worker that restarts (a reload, a crash) comes back
 * under the same name and finds what its predecessor left pending.  A
 * listener of a worker:
 *
 *   - makes the group (XGROUP CREATE KEY GROUP 0 MKSTREAM; BUSYGROUP is
 *     fine), from the stream's start: the entries already there are
 *     delivered too;
 *   - reads its own pending entries first (XREADGROUP ... 0), then new
 *     ones (XREADGROUP ... BLOCK ... >) on a Redis connection of its own,
 *     as many as it has free slots;
 *   - delivers each entry as nginx's own request without a client: a
 *     fake connection and parent request (never read from, written to a
 *     sink) whose subrequest POSTs the event to "to=", so the target
 *     location runs its phases and filters as for a composition's part
 *     (the access phase is a client's: nginx skips it for subrequests);
 *   - acknowledges (XACK) an entry whose delivery got a 2xx, and only
 *     then; retries the others after a backoff that doubles; after
 *     "retries" retries moves the entry to the dead-letter stream (XADD,
 *     then XACK) or, without one, leaves it pending;
 *   - claims entries left pending longer than "claim_after" by any
 *     consumer (XAUTOCLAIM), a dead node's or a worker's that is gone.
 *
 * At-least-once: an entry leaves the group's pending list only by XACK
 * after a 2xx or after it is in the dead-letter stream.  Anything else
 * (Redis away, a worker gone) leaves it pending, and it is delivered again:
 * by the same worker after a Redis outage or a restart, by anyone after
 * claim_after.  A target may see an event twice (the CloudEvents id tells).
 *
 * Every wait has a timer: a delivery "timeout" (then the subrequest is
 * torn down), the backoff, the read retry, the claim period.  At a
 * graceful exit nothing new is read, claimed or retried (those timers are
 * cancelable), the deliveries in progress finish and are acknowledged.
 */


#include "ngx_api_led_event.h"


/* after Redis failed, the next read waits that long */
#define NGX_API_LED_DELIVER_READ_RETRY   1000
#define NGX_API_LED_DELIVER_ID_LEN       48

#define NGX_API_LED_DELIVER_FREE         0
#define NGX_API_LED_DELIVER_TOUCHING     1   /* XCLAIM JUSTID before a retry */
#define NGX_API_LED_DELIVER_DELIVERING   2
#define NGX_API_LED_DELIVER_WAITING      3   /* backoff */
#define NGX_API_LED_DELIVER_ACKING       4
#define NGX_API_LED_DELIVER_DEAD         5   /* XADD to the dead letters */
#define NGX_API_LED_DELIVER_STARTING     6   /* posted: an attempt starts */
#define NGX_API_LED_DELIVER_UNACKED      7   /* backoff: its XACK refused */

#define NGX_API_LED_DELIVER_GROUP        0
#define NGX_API_LED_DELIVER_HISTORY      1
#define NGX_API_LED_DELIVER_NEW          2


typedef struct ngx_api_led_deliver_s  ngx_api_led_deliver_t;


typedef struct {
    ngx_api_led_deliver_t        *dl;
    ngx_uint_t                    state;
    u_char                       *mem;        /* id, type, event (malloc) */
    ngx_str_t                     id;
    ngx_str_t                     type;
    ngx_str_t                     event;
    ngx_str_t                     correlation;  /* X-Correlation-ID */
    ngx_str_t                     traceparent;  /* traceparent */
    ngx_uint_t                    attempts;
    ngx_int_t                     status;     /* the last attempt's */
    ngx_uint_t                    refused;    /* its XACK refused in a row */
    ngx_connection_t             *c;          /* while delivering */
    ngx_http_request_t           *r;
    ngx_http_request_t           *sr;
    ngx_event_t                   timer;      /* timeout, backoff */
    ngx_event_t                   done;       /* posted: the subrequest is
                                                 done */
    ngx_event_t                   go;         /* posted: an attempt starts
                                                 (never from inside a Redis
                                                 reply's handler) */
    unsigned                      invalid:1;  /* not a JSON event */
    unsigned                      touched:1;  /* a retry's XCLAIM done */
    unsigned                      deleted:1;  /* gone from the stream */
    unsigned                      closed:1;   /* nginx freed the request
                                                 and the connection's
                                                 pool, not the connection */
} ngx_api_led_deliver_slot_t;


struct ngx_api_led_deliver_s {
    ngx_api_led_event_deliver_conf_t  *dc;
    ngx_api_led_event_main_conf_t     *emcf;
    ngx_api_led_redis_t               *blocking;
    ngx_str_t                          consumer;
    ngx_uint_t                         state;
    u_char                             history[NGX_API_LED_DELIVER_ID_LEN];
    size_t                             history_len;
    u_char                             cursor[NGX_API_LED_DELIVER_ID_LEN];
    size_t                             cursor_len;
    ngx_event_t                        read_ev;
    ngx_event_t                        claim_ev;
    ngx_event_t                        rescan_ev;
    unsigned                           reading:1;
    unsigned                           claiming:1;
    unsigned                           overflow:1;  /* an entry came that
                                                       found no slot */
    unsigned                           loading:1;   /* Redis said it
                                                       cannot answer yet */
    unsigned                           skip:1;      /* the next pending
                                                       entry is too large */
    ngx_uint_t                         single;  /* entries read one by one
                                                   (a reply was too large) */
    ngx_uint_t                         refused; /* skips Redis refused in a
                                                   row */
    ngx_uint_t                         unacked; /* XACKs refused in a row,
                                                   for the log */
    ngx_uint_t                         nslots;  /* concurrency= */
    ngx_api_led_deliver_slot_t        *slots;
    ngx_api_led_event_entry_t         *entries; /* a reply's, nslots */
};


/* what the error log says of a delivery */
typedef struct {
    ngx_http_log_ctx_t                 http;  /* first: nginx reads it */
    ngx_api_led_deliver_slot_t        *slot;
} ngx_api_led_deliver_log_ctx_t;


typedef struct {
    ngx_api_led_redis_conf_t          *redis;
} ngx_api_led_deliver_main_conf_t;


static ngx_int_t ngx_api_led_deliver_init(ngx_conf_t *cf);
static void *ngx_api_led_deliver_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_deliver_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_deliver_exit_process(ngx_cycle_t *cycle);
static void ngx_api_led_deliver_forget(ngx_event_t *ev);

static void ngx_api_led_deliver_read_handler(ngx_event_t *ev);
static void ngx_api_led_deliver_read(ngx_api_led_deliver_t *dl);
static void ngx_api_led_deliver_group_done(void *data, redisReply *reply);
static void ngx_api_led_deliver_read_done(void *data, redisReply *reply);
static void ngx_api_led_deliver_too_large(ngx_api_led_deliver_t *dl);
static void ngx_api_led_deliver_find(ngx_api_led_deliver_t *dl);
static void ngx_api_led_deliver_found(void *data, redisReply *reply);
static void ngx_api_led_deliver_refused(ngx_api_led_deliver_t *dl,
    const char *what, redisReply *reply);
static void ngx_api_led_deliver_skipped(void *data, redisReply *reply);
static void ngx_api_led_deliver_retry_read(ngx_api_led_deliver_t *dl,
    ngx_msec_t after);
static void ngx_api_led_deliver_kick(ngx_api_led_deliver_t *dl);
static void ngx_api_led_deliver_overflow(ngx_api_led_deliver_t *dl);
static void ngx_api_led_deliver_rescan_handler(ngx_event_t *ev);
static ngx_api_led_redis_t *ngx_api_led_deliver_claims_client(
    ngx_api_led_deliver_t *dl);
static void ngx_api_led_deliver_claim_handler(ngx_event_t *ev);
static void ngx_api_led_deliver_claim_done(void *data, redisReply *reply);
static ngx_uint_t ngx_api_led_deliver_take(ngx_api_led_deliver_t *dl,
    redisReply *list);
static ngx_int_t ngx_api_led_deliver_read_event(ngx_str_t *event,
    ngx_str_t *correlation, ngx_str_t *traceparent, json_t **doc);
static u_char *ngx_api_led_deliver_copy(u_char *p, ngx_str_t *dst,
    ngx_str_t *src);
static ngx_uint_t ngx_api_led_deliver_free_slots(ngx_api_led_deliver_t *dl);
static redisReply *ngx_api_led_deliver_not_yet(ngx_api_led_deliver_t *dl,
    redisReply *reply);

static void ngx_api_led_deliver_start(ngx_api_led_deliver_slot_t *s);
static void ngx_api_led_deliver_go_handler(ngx_event_t *ev);
static void ngx_api_led_deliver_attempt(ngx_api_led_deliver_slot_t *s);
static void ngx_api_led_deliver_touch_done(void *data, redisReply *reply);
static ngx_int_t ngx_api_led_deliver_request(ngx_api_led_deliver_slot_t *s);
static ngx_int_t ngx_api_led_deliver_body(ngx_http_request_t *r,
    ngx_api_led_deliver_slot_t *s);
static ngx_int_t ngx_api_led_deliver_header(ngx_http_request_t *r,
    char *name, ngx_str_t *value, ngx_table_elt_t **elt);
static ngx_int_t ngx_api_led_deliver_post(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_api_led_deliver_parent_handler(ngx_http_request_t *r);
static void ngx_api_led_deliver_timer_handler(ngx_event_t *ev);
static void ngx_api_led_deliver_done_handler(ngx_event_t *ev);
static void ngx_api_led_deliver_close(ngx_api_led_deliver_slot_t *s);
static void ngx_api_led_deliver_pool_cleanup(void *data);
static void ngx_api_led_deliver_outcome(ngx_api_led_deliver_slot_t *s);
static void ngx_api_led_deliver_ack(ngx_api_led_deliver_slot_t *s);
static void ngx_api_led_deliver_ack_done(void *data, redisReply *reply);
static void ngx_api_led_deliver_ack_refused(ngx_api_led_deliver_slot_t *s,
    redisReply *reply);
static void ngx_api_led_deliver_dead(ngx_api_led_deliver_slot_t *s);
static void ngx_api_led_deliver_dead_done(void *data, redisReply *reply);
static void ngx_api_led_deliver_release(ngx_api_led_deliver_slot_t *s);

static ssize_t ngx_api_led_deliver_recv(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_api_led_deliver_send(ngx_connection_t *c, u_char *buf,
    size_t size);
static ngx_chain_t *ngx_api_led_deliver_send_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);
static void ngx_api_led_deliver_conn_handler(ngx_event_t *ev);
static void ngx_api_led_deliver_empty_request(ngx_http_request_t *r);
static u_char *ngx_api_led_deliver_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


/* this worker's listeners, made at init_process */
static ngx_array_t  *ngx_api_led_deliver_listeners;

/* this worker's client of the listeners' claims, made on the first */
static ngx_api_led_redis_t  *ngx_api_led_deliver_claims;

/* where a delivery comes from, for variables that read it */
static struct sockaddr_in  ngx_api_led_deliver_sin;


static ngx_http_module_t  ngx_api_led_event_deliver_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_deliver_init,              /* postconfiguration */

    ngx_api_led_deliver_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_event_deliver_module = {
    NGX_MODULE_V1,
    &ngx_api_led_event_deliver_module_ctx, /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_deliver_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_deliver_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* configuration */

static void *
ngx_api_led_deliver_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_deliver_main_conf_t));
}


/*
 * Once the http block is parsed: a listener's parent request takes the
 * configuration of its server (the http block's first server for a
 * listener of the http block), and needs Redis.
 */

static ngx_int_t
ngx_api_led_deliver_init(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_http_core_srv_conf_t          **cscfp;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_api_led_event_main_conf_t      *emcf;
    ngx_api_led_deliver_main_conf_t    *dmcf;
    ngx_api_led_event_deliver_conf_t  **dcp, *dc;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_event_module);

    if (emcf->delivers.nelts == 0) {
        return NGX_OK;
    }

    dmcf = ngx_http_conf_get_module_main_conf(cf,
                                          ngx_api_led_event_deliver_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    dcp = emcf->delivers.elts;

    dmcf->redis = ngx_api_led_redis_use(cf);

    if (dmcf->redis == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"api_led_event_deliver\" reads Redis Streams: "
                      "\"api_led_redis\" is needed, in %s:%ui",
                      dcp[0]->file, dcp[0]->line);
        return NGX_ERROR;
    }

    if (cmcf->servers.nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"api_led_event_deliver\" needs a server to deliver "
                      "through, in %s:%ui", dcp[0]->file, dcp[0]->line);
        return NGX_ERROR;
    }

    cscfp = cmcf->servers.elts;

    for (i = 0; i < emcf->delivers.nelts; i++) {
        dc = dcp[i];

        if (dc->ctx == NULL) {
            dc->ctx = cscfp[0]->ctx;
        }

        dc->loc_conf = dc->ctx->loc_conf;
    }

    ngx_api_led_deliver_sin.sin_family = AF_INET;
    ngx_api_led_deliver_sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    return NGX_OK;
}


/* a worker's listeners */

static ngx_int_t
ngx_api_led_deliver_init_process(ngx_cycle_t *cycle)
{
    u_char                              *p;
    ngx_uint_t                           i, k, n;
    ngx_api_led_deliver_t               *dl, **dlp;
    ngx_api_led_event_main_conf_t       *emcf;
    ngx_api_led_deliver_main_conf_t     *dmcf;
    ngx_api_led_event_deliver_conf_t   **dcp;
    ngx_api_led_deliver_slot_t          *s;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    emcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_event_module);
    dmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                          ngx_api_led_event_deliver_module);

    if (emcf == NULL || dmcf == NULL || emcf->delivers.nelts == 0
        || dmcf->redis == NULL)
    {
        return NGX_OK;
    }

    n = emcf->delivers.nelts;

    ngx_api_led_deliver_listeners =
        ngx_array_create(cycle->pool, n, sizeof(ngx_api_led_deliver_t *));
    if (ngx_api_led_deliver_listeners == NULL) {
        return NGX_ERROR;
    }

    dcp = emcf->delivers.elts;

    for (i = 0; i < emcf->delivers.nelts; i++) {

        /* outside the cycle's pool: freed at exit_process */
        dl = ngx_calloc(sizeof(ngx_api_led_deliver_t)
                        + dcp[i]->concurrency
                          * (sizeof(ngx_api_led_deliver_slot_t)
                             + sizeof(ngx_api_led_event_entry_t))
                        + cycle->hostname.len + NGX_INT_T_LEN + 1,
                        cycle->log);
        if (dl == NULL) {
            return NGX_ERROR;
        }

        dl->nslots = dcp[i]->concurrency;
        dl->slots = (ngx_api_led_deliver_slot_t *) &dl[1];
        dl->entries = (ngx_api_led_event_entry_t *) &dl->slots[dl->nslots];

        dlp = ngx_array_push(ngx_api_led_deliver_listeners);
        if (dlp == NULL) {
            ngx_free(dl);
            return NGX_ERROR;
        }

        *dlp = dl;

        dl->dc = dcp[i];
        dl->emcf = emcf;

        p = (u_char *) &dl->entries[dl->nslots];
        dl->consumer.data = p;
        p = ngx_sprintf(p, "%V:%i", &cycle->hostname, ngx_worker);
        dl->consumer.len = p - dl->consumer.data;

        dl->read_ev.handler = ngx_api_led_deliver_read_handler;
        dl->read_ev.data = dl;
        dl->read_ev.log = cycle->log;
        dl->read_ev.cancelable = 1;

        dl->claim_ev.handler = ngx_api_led_deliver_claim_handler;
        dl->claim_ev.data = dl;
        dl->claim_ev.log = cycle->log;
        dl->claim_ev.cancelable = 1;

        dl->rescan_ev.handler = ngx_api_led_deliver_rescan_handler;
        dl->rescan_ev.data = dl;
        dl->rescan_ev.log = cycle->log;
        dl->rescan_ev.cancelable = 1;

        for (k = 0; k < dl->nslots; k++) {
            s = &dl->slots[k];
            s->dl = dl;

            s->timer.handler = ngx_api_led_deliver_timer_handler;
            s->timer.data = s;
            s->timer.log = cycle->log;

            s->done.handler = ngx_api_led_deliver_done_handler;
            s->done.data = s;
            s->done.log = cycle->log;

            s->go.handler = ngx_api_led_deliver_go_handler;
            s->go.data = s;
            s->go.log = cycle->log;
        }

        dl->blocking = ngx_api_led_redis_create_blocking(cycle, dmcf->redis,
                                                         &dl->dc->stream);
        if (dl->blocking == NULL) {
            return NGX_ERROR;
        }

        dl->state = NGX_API_LED_DELIVER_GROUP;

        /* once the worker runs: the shared connection is being made */
        ngx_add_timer(&dl->read_ev, 1);
        ngx_add_timer(&dl->claim_ev, dl->dc->claim_after / 2);

        /*
         * A predecessor of this number that exits (a reload) may still be
         * handed entries by its last blocking read, and ends its
         * deliveries within "timeout": its pending entries are read
         * once more when both are over.
         */
        ngx_add_timer(&dl->rescan_ev,
                      dl->dc->timeout + NGX_API_LED_EVENT_BLOCK + 1000);
    }

    return NGX_OK;
}


static void
ngx_api_led_deliver_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i, k;
    ngx_api_led_deliver_t       **dlp, *dl;
    ngx_api_led_deliver_slot_t   *s;

    if (ngx_api_led_deliver_listeners == NULL) {
        return;
    }

    /* before the listeners its claims' handlers point to */
    if (ngx_api_led_deliver_claims) {
        ngx_api_led_redis_destroy(ngx_api_led_deliver_claims);
        ngx_api_led_deliver_claims = NULL;
    }

    dlp = ngx_api_led_deliver_listeners->elts;

    for (i = 0; i < ngx_api_led_deliver_listeners->nelts; i++) {
        dl = dlp[i];

        if (dl->blocking) {
            ngx_api_led_redis_destroy(dl->blocking);
        }

        /* the timer tree and the posted queue must not keep them */
        ngx_api_led_deliver_forget(&dl->read_ev);
        ngx_api_led_deliver_forget(&dl->claim_ev);
        ngx_api_led_deliver_forget(&dl->rescan_ev);

        for (k = 0; k < dl->nslots; k++) {
            s = &dl->slots[k];

            if (s->c) {
                ngx_api_led_deliver_close(s);
            }

            ngx_api_led_deliver_forget(&s->timer);
            ngx_api_led_deliver_forget(&s->done);
            ngx_api_led_deliver_forget(&s->go);

            if (s->mem) {
                ngx_free(s->mem);
            }
        }

        ngx_free(dl);
    }

    ngx_api_led_deliver_listeners = NULL;
}


static void
ngx_api_led_deliver_forget(ngx_event_t *ev)
{
    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    if (ev->posted) {
        ngx_delete_posted_event(ev);
    }
}


/* reading the stream */

static void
ngx_api_led_deliver_read_handler(ngx_event_t *ev)
{
    ngx_api_led_deliver_read(ev->data);
}


static void
ngx_api_led_deliver_read(ngx_api_led_deliver_t *dl)
{
    u_char                    count[NGX_INT_T_LEN], block[NGX_INT_T_LEN];
    ngx_int_t                 rc;
    ngx_str_t                 args[14];
    ngx_uint_t                n, free;
    ngx_api_led_redis_t      *shared;
    ngx_api_led_redis_cmd_t   cmd;

    if (dl->reading || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (dl->read_ev.timer_set) {
        ngx_del_timer(&dl->read_ev);
    }

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.data = dl;
    cmd.errors = 1;

    if (dl->state == NGX_API_LED_DELIVER_GROUP) {
        shared = ngx_api_led_redis_shared();

        ngx_str_set(&args[0], "XGROUP");
        ngx_str_set(&args[1], "CREATE");
        args[2] = dl->dc->stream;
        args[3] = dl->dc->group;
        ngx_str_set(&args[4], "0");
        ngx_str_set(&args[5], "MKSTREAM");

        cmd.handler = ngx_api_led_deliver_group_done;
        cmd.key = 2;

        rc = ngx_api_led_redis_command(shared, &cmd, 6, args);

        if (rc != NGX_AGAIN) {
            ngx_api_led_deliver_retry_read(dl,
                                           NGX_API_LED_DELIVER_READ_RETRY);
            return;
        }

        dl->reading = 1;
        return;
    }

    if (dl->skip) {
        ngx_api_led_deliver_find(dl);
        return;
    }

    free = ngx_api_led_deliver_free_slots(dl);

    if (free == 0) {
        /* a slot that is released reads again */
        return;
    }

    if (dl->single) {
        free = 1;
    }

    ngx_str_set(&args[0], "XREADGROUP");
    ngx_str_set(&args[1], "GROUP");
    args[2] = dl->dc->group;
    args[3] = dl->consumer;
    ngx_str_set(&args[4], "COUNT");
    args[5].data = count;
    args[5].len = ngx_sprintf(count, "%ui", free) - count;
    n = 6;

    if (dl->state == NGX_API_LED_DELIVER_NEW) {
        ngx_str_set(&args[6], "BLOCK");
        args[7].data = block;
        args[7].len = ngx_sprintf(block, "%ui",
                                  (ngx_uint_t) NGX_API_LED_EVENT_BLOCK)
                      - block;
        cmd.block = NGX_API_LED_EVENT_BLOCK;
        n = 8;
    }

    ngx_str_set(&args[n], "STREAMS");
    cmd.key = n + 1;
    args[n + 1] = dl->dc->stream;

    if (dl->state == NGX_API_LED_DELIVER_NEW) {
        ngx_str_set(&args[n + 2], ">");

    } else {
        args[n + 2].data = dl->history;
        args[n + 2].len = dl->history_len;
    }

    n += 3;

    cmd.handler = ngx_api_led_deliver_read_done;

    rc = ngx_api_led_redis_command(dl->blocking, &cmd, n, args);

    if (rc != NGX_AGAIN) {
        ngx_api_led_deliver_retry_read(dl, NGX_API_LED_DELIVER_READ_RETRY);
        return;
    }

    dl->reading = 1;
}


static void
ngx_api_led_deliver_group_done(void *data, redisReply *reply)
{
    ngx_api_led_deliver_t  *dl = data;

    dl->reading = 0;

    reply = ngx_api_led_deliver_not_yet(dl, reply);

    if (reply == NULL) {
        ngx_api_led_deliver_retry_read(dl, NGX_API_LED_DELIVER_READ_RETRY);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && !ngx_api_led_redis_is_error(reply, "BUSYGROUP"))
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\" cannot make its "
                      "group \"%V\": %*s", &dl->dc->stream, &dl->dc->group,
                      (size_t) ngx_min(reply->len, 200), reply->str);

        ngx_api_led_deliver_retry_read(dl, dl->dc->claim_after / 2);
        return;
    }

    /* this consumer's pending entries first: a predecessor's */
    dl->state = NGX_API_LED_DELIVER_HISTORY;
    dl->history[0] = '0';
    dl->history_len = 1;

    ngx_api_led_deliver_read(dl);
}


static void
ngx_api_led_deliver_read_done(void *data, redisReply *reply)
{
    ngx_api_led_deliver_t  *dl = data;

    redisReply  *list;
    ngx_uint_t   n;

    dl->reading = 0;

    if (reply == NULL && ngx_api_led_redis_too_large(dl->blocking)) {
        ngx_api_led_deliver_too_large(dl);
    }

    reply = ngx_api_led_deliver_not_yet(dl, reply);

    if (reply == NULL) {
        /* Redis away: what was not acknowledged is read again after */
        if (dl->state == NGX_API_LED_DELIVER_NEW) {
            dl->state = NGX_API_LED_DELIVER_HISTORY;
            dl->history[0] = '0';
            dl->history_len = 1;
        }

        ngx_api_led_deliver_retry_read(dl, NGX_API_LED_DELIVER_READ_RETRY);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (ngx_api_led_redis_is_error(reply, "NOGROUP")
            || ngx_api_led_redis_is_error(reply, "UNBLOCKED"))
        {
            /* the stream or group went (a Redis that lost its data) */
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "api_led: listener of stream \"%V\": the group "
                          "\"%V\" is gone, made again", &dl->dc->stream,
                          &dl->dc->group);
            dl->state = NGX_API_LED_DELIVER_GROUP;
            ngx_api_led_deliver_read(dl);
            return;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\" cannot read: %*s",
                      &dl->dc->stream,
                      (size_t) ngx_min(reply->len, 200), reply->str);

        ngx_api_led_deliver_retry_read(dl, dl->dc->claim_after / 2);
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* left pending: the next worker of this number reads them */
        return;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        /* BLOCK ran out */
        ngx_api_led_deliver_read(dl);
        return;
    }

    /* [[KEY, [entries]]] */

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1
        || reply->element[0]->type != REDIS_REPLY_ARRAY
        || reply->element[0]->elements != 2)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": unexpected reply "
                      "to XREADGROUP", &dl->dc->stream);
        ngx_api_led_deliver_retry_read(dl, NGX_API_LED_DELIVER_READ_RETRY);
        return;
    }

    list = reply->element[0]->element[1];

    n = ngx_api_led_deliver_take(dl, list);

    if (dl->single && list->type == REDIS_REPLY_ARRAY && list->elements) {
        dl->single--;
    }

    if (dl->state == NGX_API_LED_DELIVER_HISTORY) {
        if (list->type != REDIS_REPLY_ARRAY || list->elements == 0) {
            dl->state = NGX_API_LED_DELIVER_NEW;
            dl->single = 0;

        } else {
            list = list->element[list->elements - 1];

            if (list->type == REDIS_REPLY_ARRAY && list->elements == 2
                && list->element[0]->type == REDIS_REPLY_STRING
                && list->element[0]->len < NGX_API_LED_DELIVER_ID_LEN)
            {
                dl->history_len = list->element[0]->len;
                ngx_memcpy(dl->history, list->element[0]->str,
                           dl->history_len);

            } else {
                dl->state = NGX_API_LED_DELIVER_NEW;
            }
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "api_led: listener of stream \"%V\" took %ui entries",
                   &dl->dc->stream, n);

    ngx_api_led_deliver_overflow(dl);

    ngx_api_led_deliver_read(dl);
}


/*
 * A read's reply was too large (an entry another producer made larger
 * than a reply may be): what it read is pending with this consumer now.
 * Its pending entries are read again one by one, from where the history
 * read was (the start after a read of new entries); the one that is too
 * large alone is found (XPENDING gives ids only), acknowledged without
 * a delivery and logged, and the reads go on after it.
 */

static void
ngx_api_led_deliver_too_large(ngx_api_led_deliver_t *dl)
{
    if (dl->state == NGX_API_LED_DELIVER_NEW) {
        dl->state = NGX_API_LED_DELIVER_HISTORY;
        dl->history[0] = '0';
        dl->history_len = 1;
        dl->single = dl->nslots;
        return;
    }

    if (dl->single == 0) {
        dl->single = dl->nslots;
        return;
    }

    dl->skip = 1;
}


/*
 * XPENDING KEY GROUP (HISTORY + 1 CONSUMER: the entry too large.  On the
 * listener's own client, idle meanwhile (its read failed): not on the
 * shared one, where an error reply would be logged and answered NULL
 * (read again every second) and count as an outage of the rate limits'
 * connection.  Error replies as they are: one that will not go is
 * refused (ngx_api_led_deliver_refused()).
 */

static void
ngx_api_led_deliver_find(ngx_api_led_deliver_t *dl)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                  args[7];
    ngx_api_led_redis_cmd_t    cmd;
    u_char                     from[NGX_API_LED_DELIVER_ID_LEN + 1];

    p = ngx_cpymem(from, "(", 1);
    p = ngx_cpymem(p, dl->history, dl->history_len);

    ngx_str_set(&args[0], "XPENDING");
    args[1] = dl->dc->stream;
    args[2] = dl->dc->group;
    args[3].data = from;
    args[3].len = p - from;
    ngx_str_set(&args[4], "+");
    ngx_str_set(&args[5], "1");
    args[6] = dl->consumer;

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = ngx_api_led_deliver_found;
    cmd.data = dl;
    cmd.key = 1;
    cmd.errors = 1;

    rc = ngx_api_led_redis_command(dl->blocking, &cmd, 7, args);

    if (rc != NGX_AGAIN) {
        ngx_api_led_deliver_retry_read(dl, NGX_API_LED_DELIVER_READ_RETRY);
        return;
    }

    dl->reading = 1;
}


static void
ngx_api_led_deliver_found(void *data, redisReply *reply)
{
    ngx_api_led_deliver_t  *dl = data;

    ngx_int_t                 rc;
    ngx_str_t                 id;
    ngx_str_t                 args[4];
    redisReply               *e;
    ngx_api_led_redis_cmd_t   cmd;

    dl->reading = 0;

    reply = ngx_api_led_deliver_not_yet(dl, reply);

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_api_led_deliver_refused(dl, "skipping an entry too large to "
                                    "read", reply);
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_api_led_deliver_retry_read(dl, NGX_API_LED_DELIVER_READ_RETRY);
        return;
    }

    dl->refused = 0;
    dl->skip = 0;
    dl->single = 0;

    e = reply->elements ? reply->element[0] : NULL;

    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 1
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[0]->len >= NGX_API_LED_DELIVER_ID_LEN)
    {
        /* no longer pending with us (claimed, acknowledged elsewhere) */
        ngx_api_led_deliver_read(dl);
        return;
    }

    id.data = (u_char *) e->element[0]->str;
    id.len = e->element[0]->len;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "api_led: listener of stream \"%V\": entry %V is larger "
                  "than a reply may be (%d bytes), acknowledged without a "
                  "delivery", &dl->dc->stream, &id,
                  NGX_API_LED_REDIS_MAX_PENDING);

    /* the history reads go on after it, whether XACK succeeds or not */
    ngx_memcpy(dl->history, id.data, id.len);
    dl->history_len = id.len;

    ngx_str_set(&args[0], "XACK");
    args[1] = dl->dc->stream;
    args[2] = dl->dc->group;
    args[3] = id;

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = ngx_api_led_deliver_skipped;
    cmd.data = dl;
    cmd.key = 1;

    /* the skip's commands all on the listener's client */
    rc = ngx_api_led_redis_command(dl->blocking, &cmd, 4, args);

    if (rc == NGX_AGAIN) {
        dl->reading = 1;
        return;
    }

    ngx_api_led_deliver_read(dl);
}


/*
 * An error reply to the skip that waiting a second would not change
 * (NOPERM: the ACL user may not XPENDING; WRONGTYPE): asked again less and
 * less often, 1 s doubled up to 30 s, until Redis answers it (the ACL or
 * the key fixed), as the streams' refused reads are; logged once per run.
 * The listener cannot read past the entry meanwhile.
 */

static void
ngx_api_led_deliver_refused(ngx_api_led_deliver_t *dl, const char *what,
    redisReply *reply)
{
    ngx_msec_t  after;

    after = ngx_api_led_event_backoff(dl->refused);

    if (dl->refused++ == 0) {
        ngx_api_led_event_log_refused(ngx_cycle->log, "listener of stream",
                                      &dl->dc->stream, what, reply, after);
    }

    ngx_api_led_deliver_retry_read(dl, after);
}


static void
ngx_api_led_deliver_skipped(void *data, redisReply *reply)
{
    ngx_api_led_deliver_t  *dl = data;

    dl->reading = 0;

    ngx_api_led_deliver_read(dl);
}


static void
ngx_api_led_deliver_rescan_handler(ngx_event_t *ev)
{
    ngx_api_led_deliver_t  *dl;

    dl = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    dl->overflow = 1;
    ngx_api_led_deliver_overflow(dl);
    ngx_api_led_deliver_kick(dl);
}


static void
ngx_api_led_deliver_overflow(ngx_api_led_deliver_t *dl)
{
    if (!dl->overflow) {
        return;
    }

    dl->overflow = 0;

    /* a history read too: its cursor went past them */
    if (dl->state != NGX_API_LED_DELIVER_GROUP) {
        dl->state = NGX_API_LED_DELIVER_HISTORY;
        dl->history[0] = '0';
        dl->history_len = 1;
    }
}


static void
ngx_api_led_deliver_retry_read(ngx_api_led_deliver_t *dl, ngx_msec_t after)
{
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (!dl->read_ev.timer_set) {
        ngx_add_timer(&dl->read_ev, after);
    }
}


/* a slot is free again: read more, unless a read is on its way */

static void
ngx_api_led_deliver_kick(ngx_api_led_deliver_t *dl)
{
    if (dl->reading || dl->read_ev.timer_set || dl->read_ev.posted) {
        return;
    }

    ngx_post_event(&dl->read_ev, &ngx_posted_events);
}


/*
 * The client of the listeners' claims (XAUTOCLAIM), made on the first:
 * not the worker's shared connection.  A claim may take an entry too
 * large to read (left pending by a consumer that is gone), whose reply
 * fails the connection it comes on: on the shared one, the rate limits'
 * calls in flight, and those made while its circuit is open, would get
 * their on_error.  Not the listener's own client either, where a claim
 * would wait behind a blocking read.  A client for blocking reads: no
 * script loaded, its timers never hold a worker that shuts down; the key
 * is not its own, each claim names its stream.
 */

static ngx_api_led_redis_t *
ngx_api_led_deliver_claims_client(ngx_api_led_deliver_t *dl)
{
    if (ngx_api_led_deliver_claims == NULL) {
        ngx_api_led_deliver_claims = ngx_api_led_redis_create_blocking(
                                                (ngx_cycle_t *) ngx_cycle,
                                                dl->emcf->redis,
                                                &dl->dc->stream);
    }

    return ngx_api_led_deliver_claims;
}


/* entries left pending too long by anyone: XAUTOCLAIM */

static void
ngx_api_led_deliver_claim_handler(ngx_event_t *ev)
{
    u_char                    idle[NGX_INT_T_LEN], count[NGX_INT_T_LEN];
    ngx_int_t                 rc;
    ngx_str_t                 args[8];
    ngx_uint_t                free;
    ngx_api_led_redis_t      *redis;
    ngx_api_led_deliver_t    *dl;
    ngx_api_led_redis_cmd_t   cmd;

    dl = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    free = ngx_api_led_deliver_free_slots(dl);
    redis = ngx_api_led_deliver_claims_client(dl);

    if (dl->claiming || free == 0 || redis == NULL
        || dl->state == NGX_API_LED_DELIVER_GROUP)
    {
        ngx_add_timer(&dl->claim_ev, dl->dc->claim_after / 2);
        return;
    }

    if (dl->cursor_len == 0) {
        ngx_memcpy(dl->cursor, "0-0", 3);
        dl->cursor_len = 3;
    }

    ngx_str_set(&args[0], "XAUTOCLAIM");
    args[1] = dl->dc->stream;
    args[2] = dl->dc->group;
    args[3] = dl->consumer;
    args[4].data = idle;
    args[4].len = ngx_sprintf(idle, "%M", dl->dc->claim_after) - idle;
    args[5].data = dl->cursor;
    args[5].len = dl->cursor_len;
    ngx_str_set(&args[6], "COUNT");
    args[7].data = count;
    args[7].len = ngx_sprintf(count, "%ui", free) - count;

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = ngx_api_led_deliver_claim_done;
    cmd.data = dl;
    cmd.key = 1;

    rc = ngx_api_led_redis_command(redis, &cmd, 8, args);

    if (rc == NGX_AGAIN) {
        dl->claiming = 1;
        return;
    }

    ngx_add_timer(&dl->claim_ev, dl->dc->claim_after / 2);
}


static void
ngx_api_led_deliver_claim_done(void *data, redisReply *reply)
{
    ngx_api_led_deliver_t  *dl = data;

    redisReply  *cursor;
    ngx_uint_t   n;

    dl->claiming = 0;
    n = 0;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* claimed, not delivered: claimed again later by anyone */
        return;
    }

    if (reply == NULL
        && ngx_api_led_redis_too_large(ngx_api_led_deliver_claims))
    {
        /* what it claimed is pending with us: read from there */
        dl->overflow = 1;
        ngx_api_led_deliver_kick(dl);
    }

    /* [cursor, [entries], [deleted ids]] */

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2
        && reply->element[0]->type == REDIS_REPLY_STRING)
    {
        cursor = reply->element[0];

        if (cursor->len < NGX_API_LED_DELIVER_ID_LEN) {
            ngx_memcpy(dl->cursor, cursor->str, cursor->len);
            dl->cursor_len = cursor->len;
        }

        n = ngx_api_led_deliver_take(dl, reply->element[1]);

        if (n) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "api_led: listener of stream \"%V\" claimed %ui "
                          "entries left pending longer than %M ms",
                          &dl->dc->stream, n, dl->dc->claim_after);
        }
    }

    ngx_api_led_deliver_overflow(dl);

    /* more to claim: at once; else in a while */
    ngx_add_timer(&dl->claim_ev,
                  (n && !(dl->cursor_len == 3
                          && ngx_strncmp(dl->cursor, "0-0", 3) == 0))
                  ? 1 : dl->dc->claim_after / 2);
}


/* entries into free slots, each delivered; returns how many */

static ngx_uint_t
ngx_api_led_deliver_take(ngx_api_led_deliver_t *dl, redisReply *list)
{
    u_char                       *p;
    json_t                       *doc;
    ngx_str_t                     cid, tp;
    ngx_uint_t                    i, k, n, taken, invalid;
    ngx_api_led_event_entry_t    *entries;
    ngx_api_led_deliver_slot_t   *s;

    entries = dl->entries;

    if (ngx_api_led_event_entries(list, entries, dl->nslots, &n) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": unexpected "
                      "entries", &dl->dc->stream);
        return 0;
    }

    if (list->elements > n) {
        /* more than the slots: the others are read again */
        dl->overflow = 1;
    }

    taken = 0;

    for (i = 0; i < n; i++) {

        /* already here (a history read or a claim of our own) */

        s = NULL;

        for (k = 0; k < dl->nslots; k++) {
            if (dl->slots[k].state != NGX_API_LED_DELIVER_FREE
                && dl->slots[k].id.len == entries[i].id.len
                && ngx_strncmp(dl->slots[k].id.data, entries[i].id.data,
                               entries[i].id.len) == 0)
            {
                break;
            }

            if (s == NULL
                && dl->slots[k].state == NGX_API_LED_DELIVER_FREE)
            {
                s = &dl->slots[k];
            }
        }

        if (k < dl->nslots) {
            continue;
        }

        if (s == NULL) {
            /*
             * The read and the claim under way both asked for the free
             * slots: the entry is ours and pending, it is read again from
             * our pending entries.
             */
            dl->overflow = 1;
            continue;
        }

        doc = NULL;
        invalid = ngx_api_led_deliver_read_event(&entries[i].event, &cid,
                                                 &tp, &doc);

        s->mem = ngx_alloc(entries[i].id.len + entries[i].type.len
                           + entries[i].event.len + cid.len + tp.len + 1,
                           ngx_cycle->log);
        if (s->mem == NULL) {
            if (doc) {
                json_decref(doc);
            }

            /* left pending: read again after an outage or claimed */
            continue;
        }

        p = s->mem;
        p = ngx_api_led_deliver_copy(p, &s->id, &entries[i].id);
        p = ngx_api_led_deliver_copy(p, &s->type, &entries[i].type);
        p = ngx_api_led_deliver_copy(p, &s->event, &entries[i].event);
        p = ngx_api_led_deliver_copy(p, &s->correlation, &cid);
        (void) ngx_api_led_deliver_copy(p, &s->traceparent, &tp);

        if (doc) {
            /* cid and tp pointed into it */
            json_decref(doc);
        }

        s->attempts = 0;
        s->status = 0;
        s->invalid = invalid;

        taken++;

        if (list->element[i]->element[1]->type == REDIS_REPLY_NIL) {
            /* trimmed or deleted from the stream: nothing to deliver */
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "api_led: listener of stream \"%V\": entry %V "
                          "was deleted from the stream, acknowledged",
                          &dl->dc->stream, &s->id);
            s->deleted = 1;
            ngx_api_led_deliver_ack(s);
            continue;
        }

        if (s->invalid) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "api_led: listener of stream \"%V\": entry %V is "
                          "not a JSON event, not delivered",
                          &dl->dc->stream, &s->id);
            ngx_api_led_deliver_dead(s);
            continue;
        }

        s->state = NGX_API_LED_DELIVER_STARTING;
        ngx_post_event(&s->go, &ngx_posted_events);
    }

    return taken;
}


/*
 * An entry's event: JSON (the module's grammar), an object; its
 * "correlationid" and "traceparent" extension attributes go with the
 * delivery as the request headers the core reads, when they are short
 * visible ASCII (nothing that could end a header).  1: not an event.
 */

static ngx_int_t
ngx_api_led_deliver_read_event(ngx_str_t *event, ngx_str_t *correlation,
    ngx_str_t *traceparent, json_t **doc)
{
    u_char       err[NGX_API_LED_JSON_ERRLEN], *p;
    size_t       len;
    json_t      *v;
    ngx_str_t   *out;
    ngx_uint_t   i;

    static const char  *names[] = { "correlationid", "traceparent" };

    ngx_str_null(correlation);
    ngx_str_null(traceparent);

    if (event->len == 0
        || ngx_api_led_json_parse(event->data, event->len, 0, doc, err,
                                  sizeof(err))
           != NGX_OK)
    {
        *doc = NULL;
        return 1;
    }

    if (!json_is_object(*doc)) {
        return 1;
    }

    for (i = 0; i < 2; i++) {
        out = i ? traceparent : correlation;

        v = json_object_get(*doc, names[i]);

        if (!ngx_api_led_json_is_text(v)) {
            continue;
        }

        p = (u_char *) json_string_value(v);
        len = json_string_length(v);

        if (len == 0 || len > NGX_API_LED_CORRELATION_MAX) {
            continue;
        }

        out->data = p;
        out->len = len;

        for ( /* void */ ; len; len--, p++) {
            if (*p <= ' ' || *p >= 0x7f) {
                ngx_str_null(out);
                break;
            }
        }
    }

    return 0;
}


/* "src" (its data may be NULL when empty) copied to "p" as "dst" */

static u_char *
ngx_api_led_deliver_copy(u_char *p, ngx_str_t *dst, ngx_str_t *src)
{
    dst->data = p;
    dst->len = src->len;

    return src->len ? ngx_cpymem(p, src->data, src->len) : p;
}


static ngx_uint_t
ngx_api_led_deliver_free_slots(ngx_api_led_deliver_t *dl)
{
    ngx_uint_t  k, n;

    n = 0;

    for (k = 0; k < dl->nslots; k++) {
        if (dl->slots[k].state == NGX_API_LED_DELIVER_FREE) {
            n++;
        }
    }

    return n;
}


/*
 * A Redis that is there but cannot answer yet (ngx_api_led_redis.h) is
 * a Redis away: NULL, read again in a second, not after claim_after / 2
 * as for an error that will not go.  Said once while it lasts.
 */

static redisReply *
ngx_api_led_deliver_not_yet(ngx_api_led_deliver_t *dl, redisReply *reply)
{
    if (reply == NULL) {
        return NULL;
    }

    if (!ngx_api_led_redis_not_ready(reply)) {
        dl->loading = 0;
        return reply;
    }

    if (!dl->loading) {
        dl->loading = 1;

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": redis cannot "
                      "answer yet (%*s), read again every %d ms",
                      &dl->dc->stream, (size_t) ngx_min(reply->len, 200),
                      reply->str, NGX_API_LED_DELIVER_READ_RETRY);
    }

    return NULL;
}


/* an attempt */

static void
ngx_api_led_deliver_start(ngx_api_led_deliver_slot_t *s)
{
    ngx_int_t                 rc;
    ngx_str_t                 args[7];
    ngx_api_led_deliver_t    *dl;
    ngx_api_led_redis_cmd_t   cmd;

    dl = s->dl;

    if (s->attempts > 0 && !s->touched) {
        /*
         * A retry: the entry is ours again for claim_after (its idle time
         * starts anew), unless it left the pending list meanwhile.
         */

        ngx_str_set(&args[0], "XCLAIM");
        args[1] = dl->dc->stream;
        args[2] = dl->dc->group;
        args[3] = dl->consumer;
        ngx_str_set(&args[4], "0");
        args[5] = s->id;
        ngx_str_set(&args[6], "JUSTID");

        ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
        cmd.handler = ngx_api_led_deliver_touch_done;
        cmd.data = s;
        cmd.key = 1;

        rc = ngx_api_led_redis_command(ngx_api_led_redis_shared(), &cmd, 7,
                                       args);
        if (rc == NGX_AGAIN) {
            s->state = NGX_API_LED_DELIVER_TOUCHING;
            return;
        }

        /* Redis away: delivered anyway, acknowledged later or again */
    }

    ngx_api_led_deliver_attempt(s);
}


static void
ngx_api_led_deliver_touch_done(void *data, redisReply *reply)
{
    ngx_api_led_deliver_slot_t  *s = data;

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 0) {
        /* acknowledged or deleted meanwhile */
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": entry %V is no "
                      "longer pending, not retried", &s->dl->dc->stream,
                      &s->id);
        ngx_api_led_deliver_release(s);
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_api_led_deliver_release(s);
        return;
    }

    s->touched = 1;
    s->state = NGX_API_LED_DELIVER_STARTING;
    ngx_post_event(&s->go, &ngx_posted_events);
}


static void
ngx_api_led_deliver_go_handler(ngx_event_t *ev)
{
    ngx_api_led_deliver_slot_t  *s = ev->data;

    if (s->state != NGX_API_LED_DELIVER_STARTING) {
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* left pending: the next worker of this number reads it */
        ngx_api_led_deliver_release(s);
        return;
    }

    ngx_api_led_deliver_start(s);
}


static void
ngx_api_led_deliver_attempt(ngx_api_led_deliver_slot_t *s)
{
    s->state = NGX_API_LED_DELIVER_DELIVERING;
    s->touched = 0;
    s->attempts++;
    s->status = 0;

    if (ngx_api_led_deliver_request(s) != NGX_OK) {
        ngx_api_led_deliver_close(s);

        if (s->timer.timer_set) {
            ngx_del_timer(&s->timer);
        }

        s->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_api_led_deliver_outcome(s);
    }
}


/*
 * The request without a client: a connection with no socket (it is
 * never read from, what is written to it goes nowhere, nginx never adds
 * it to the event loop) and a parent request that has the listener's
 * server's configuration, whose subrequest to "to=" POSTs the event.  A
 * subrequest, because nginx runs a subrequest's phases, filters and
 * upstreams for a parent that does nothing but wait.
 */

static ngx_int_t
ngx_api_led_deliver_request(ngx_api_led_deliver_slot_t *s)
{
    ngx_log_t                         *log;
    ngx_pool_t                        *pool, *rpool;
    ngx_connection_t                  *c, *saved;
    ngx_pool_cleanup_t                *cln;
    ngx_http_request_t                *r, *sr;
    ngx_http_connection_t             *hc;
    ngx_http_core_main_conf_t         *cmcf;
    ngx_http_post_subrequest_t        *ps;
    ngx_api_led_deliver_log_ctx_t     *lctx;
    ngx_api_led_event_deliver_conf_t  *dc;

    dc = s->dl->dc;

    /* nginx wants a valid descriptor to hand out a connection */
    saved = ngx_cycle->files ? ngx_cycle->files[0] : NULL;

    c = ngx_get_connection(0, ngx_cycle->log);

    if (ngx_cycle->files) {
        ngx_cycle->files[0] = saved;
    }

    if (c == NULL) {
        return NGX_ERROR;
    }

    c->fd = (ngx_socket_t) -1;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    s->c = c;

    /* a pool for the connection, one for the request, as nginx has */

    c->pool = ngx_create_pool(512, ngx_cycle->log);
    if (c->pool == NULL) {
        return NGX_ERROR;
    }

    rpool = ngx_create_pool(4096, ngx_cycle->log);
    if (rpool == NULL) {
        return NGX_ERROR;
    }

    r = ngx_pcalloc(rpool, sizeof(ngx_http_request_t));
    if (r == NULL) {
        ngx_destroy_pool(rpool);
        return NGX_ERROR;
    }

    r->pool = rpool;
    s->r = r;

    cln = ngx_pool_cleanup_add(rpool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_api_led_deliver_pool_cleanup;
    cln->data = s;

    pool = c->pool;

    log = ngx_palloc(pool, sizeof(ngx_log_t));
    lctx = ngx_pcalloc(pool, sizeof(ngx_api_led_deliver_log_ctx_t));
    hc = ngx_pcalloc(pool, sizeof(ngx_http_connection_t));

    if (log == NULL || lctx == NULL || hc == NULL) {
        return NGX_ERROR;
    }

    *log = *ngx_cycle->log;
    log->connection = c->number;
    log->handler = ngx_api_led_deliver_log_error;
    log->data = lctx;
    log->action = NULL;

    c->log = log;
    c->log_error = NGX_ERROR_INFO;
    c->read->log = log;
    c->write->log = log;

    c->recv = ngx_api_led_deliver_recv;
    c->send = ngx_api_led_deliver_send;
    c->send_chain = ngx_api_led_deliver_send_chain;

    /*
     * No socket to set options on: nginx turns TCP_NODELAY on for the
     * client when it streams an upstream's answer (proxy_buffering off),
     * and setsockopt() on no descriptor failed the delivery (502)
     */
    c->tcp_nodelay = NGX_TCP_NODELAY_DISABLED;

    /* its timers (limit_req's delay, send_timeout) reach its request */
    c->read->handler = ngx_api_led_deliver_conn_handler;
    c->write->handler = ngx_api_led_deliver_conn_handler;

    /* no socket: never in the event loop, always writable */
    c->read->active = 1;
    c->write->active = 1;
    c->write->ready = 1;

    c->sockaddr = (struct sockaddr *) &ngx_api_led_deliver_sin;
    c->socklen = sizeof(struct sockaddr_in);
    c->local_sockaddr = c->sockaddr;
    c->local_socklen = c->socklen;
    ngx_str_set(&c->addr_text, "127.0.0.1");

    c->data = r;
    c->requests = 1;
    c->start_time = ngx_current_msec;

    hc->conf_ctx = dc->ctx;
    c->data = r;

    /* the parent */

    r->signature = NGX_HTTP_MODULE;
    r->connection = c;
    r->http_connection = hc;
    r->main = r;
    r->count = 1;

    r->main_conf = dc->ctx->main_conf;
    r->srv_conf = dc->ctx->srv_conf;
    r->loc_conf = dc->loc_conf;

    r->ctx = ngx_pcalloc(rpool, sizeof(void *) * ngx_http_max_module);
    if (r->ctx == NULL) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    r->variables = ngx_pcalloc(rpool, cmcf->variables.nelts
                                     * sizeof(ngx_http_variable_value_t));
    if (r->variables == NULL) {
        return NGX_ERROR;
    }

    if (ngx_list_init(&r->headers_in.headers, rpool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&r->headers_out.headers, rpool, 4,
                         sizeof(ngx_table_elt_t))
           != NGX_OK
        || ngx_list_init(&r->headers_out.trailers, rpool, 1,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_in.content_length_n = -1;
    r->headers_in.keep_alive_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;

    r->method = NGX_HTTP_POST;
    ngx_str_set(&r->method_name, "POST");
    r->http_version = NGX_HTTP_VERSION_11;
    ngx_str_set(&r->http_protocol, "HTTP/1.1");
    ngx_str_set(&r->schema, "http");
    r->uri = dc->uri;
    r->args = dc->args;
    r->unparsed_uri = dc->uri;

    /* what $request and the access log of log_subrequest show */
    r->request_line.data = ngx_pnalloc(rpool, sizeof("POST ?")
                                             + dc->uri.len + dc->args.len
                                             + sizeof(" HTTP/1.1"));
    if (r->request_line.data == NULL) {
        return NGX_ERROR;
    }

    r->request_line.len = (dc->args.len
                           ? ngx_sprintf(r->request_line.data,
                                         "POST %V?%V HTTP/1.1", &dc->uri,
                                         &dc->args)
                           : ngx_sprintf(r->request_line.data,
                                         "POST %V HTTP/1.1", &dc->uri))
                          - r->request_line.data;

    r->uri_changes = NGX_HTTP_MAX_URI_CHANGES + 1;
    r->subrequests = NGX_HTTP_MAX_SUBREQUESTS + 1;
    r->http_state = NGX_HTTP_PROCESS_REQUEST_STATE;
    r->start_sec = ngx_time();
    r->start_msec = ngx_current_msec % 1000;

    r->read_event_handler = ngx_api_led_deliver_empty_request;
    r->write_event_handler = ngx_api_led_deliver_parent_handler;
    r->log_handler = NULL;

    lctx->http.connection = c;
    lctx->http.request = r;
    lctx->http.current_request = r;
    lctx->slot = s;

    if (ngx_api_led_deliver_body(r, s) != NGX_OK) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(rpool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_api_led_deliver_post;
    ps->data = s;

    if (ngx_http_subrequest(r, &dc->uri, dc->args.len ? &dc->args : NULL,
                            &sr, ps, NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->header_only = 0;

    s->sr = sr;

    /* "timeout=": the subrequest is torn down then; an exit waits */
    s->timer.cancelable = 0;
    ngx_add_timer(&s->timer, dc->timeout);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "api_led: delivering %V to \"%V\", attempt %ui",
                   &s->id, &dc->uri, s->attempts);

    ngx_http_run_posted_requests(c);

    return NGX_OK;
}


/* the event as the request's body: a CloudEvent in structured mode */

static ngx_int_t
ngx_api_led_deliver_body(ngx_http_request_t *r, ngx_api_led_deliver_slot_t *s)
{
    u_char                    *p;
    ngx_buf_t                 *b;
    ngx_str_t                  v;
    ngx_chain_t               *cl;
    ngx_table_elt_t           *h;
    ngx_http_request_body_t   *rb;

    b = ngx_create_temp_buf(r->pool, s->event.len ? s->event.len : 1);
    cl = ngx_alloc_chain_link(r->pool);
    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));

    if (b == NULL || cl == NULL || rb == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, s->event.data, s->event.len);
    b->last_buf = 1;
    cl->buf = b;
    cl->next = NULL;

    rb->bufs = cl;
    rb->buf = b;
    rb->rest = 0;
    r->request_body = rb;

    r->headers_in.content_length_n = s->event.len;

    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v.data = p;
    v.len = ngx_sprintf(p, "%O", (off_t) s->event.len) - p;

    if (ngx_api_led_deliver_header(r, "Content-Length", &v,
                                   &r->headers_in.content_length)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, NGX_API_LED_EVENT_CONTENT_TYPE);

    if (ngx_api_led_deliver_header(r, "Content-Type", &v,
                                   &r->headers_in.content_type)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (s->correlation.len
        && ngx_api_led_deliver_header(r, NGX_API_LED_CORRELATION_HEADER,
                                      &s->correlation, &h)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (s->traceparent.len
        && ngx_api_led_deliver_header(r, "traceparent", &s->traceparent, &h)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "localhost");

    return ngx_api_led_deliver_header(r, "Host", &v, &r->headers_in.host);
}


static ngx_int_t
ngx_api_led_deliver_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value, ngx_table_elt_t **elt)
{
    size_t            len;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(name);

    h->key.data = (u_char *) name;
    h->key.len = len;
    h->value = *value;

    h->lowcase_key = ngx_pnalloc(r->pool, len);
    if (h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, len);

    *elt = h;

    return NGX_OK;
}


/*
 * The subrequest's end (it may be called more than once: an error
 * status, then its page).  The status is kept; an error nginx would end
 * by tearing the request down (and with it the connection it does not
 * know is a fake one) is turned into a failed attempt that ends as usual.
 */

static ngx_int_t
ngx_api_led_deliver_post(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_api_led_deliver_slot_t *s = data;

    if (rc == NGX_ERROR || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST
        || rc == NGX_HTTP_REQUEST_TIME_OUT || rc == NGX_HTTP_CLOSE
        || sr->connection->error)
    {
        if (s->status == 0 || (s->status >= 200 && s->status < 300)) {
            s->status = (rc > 0 && rc != NGX_HTTP_CLIENT_CLOSED_REQUEST)
                        ? rc : NGX_HTTP_BAD_GATEWAY;
        }

        sr->connection->error = 0;

        return NGX_OK;
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        s->status = rc;

    } else if (sr->headers_out.status) {
        s->status = sr->headers_out.status;

    } else if (s->status == 0) {
        s->status = NGX_HTTP_BAD_GATEWAY;
    }

    return rc;
}


/* the parent is woken when its subrequest is done */

static void
ngx_api_led_deliver_parent_handler(ngx_http_request_t *r)
{
    ngx_api_led_deliver_log_ctx_t  *lctx;

    lctx = r->connection->log->data;

    if (lctx->slot->sr == NULL || !lctx->slot->sr->done) {
        return;
    }

    /* not from inside nginx's loop over the posted requests */
    if (!lctx->slot->done.posted) {
        ngx_post_event(&lctx->slot->done, &ngx_posted_events);
    }
}


static void
ngx_api_led_deliver_timer_handler(ngx_event_t *ev)
{
    ngx_api_led_deliver_slot_t *s = ev->data;

    if (s->state == NGX_API_LED_DELIVER_WAITING) {
        if (ngx_exiting || ngx_terminate || ngx_quit) {
            /* left pending: the next worker of this number reads it */
            ngx_api_led_deliver_release(s);
            return;
        }

        ngx_api_led_deliver_start(s);
        return;
    }

    if (s->state == NGX_API_LED_DELIVER_UNACKED) {
        if (ngx_exiting || ngx_terminate || ngx_quit) {
            /* left pending: the next worker of this number reads it */
            ngx_api_led_deliver_release(s);
            return;
        }

        ngx_api_led_deliver_ack(s);
        return;
    }

    if (s->state != NGX_API_LED_DELIVER_DELIVERING) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, s->c ? s->c->log : ngx_cycle->log,
                  NGX_ETIMEDOUT, "api_led: delivery timed out");

    if (s->done.posted) {
        ngx_delete_posted_event(&s->done);
    }

    ngx_api_led_deliver_close(s);

    s->status = NGX_HTTP_GATEWAY_TIME_OUT;

    ngx_api_led_deliver_outcome(s);
}


static void
ngx_api_led_deliver_done_handler(ngx_event_t *ev)
{
    ngx_api_led_deliver_slot_t *s = ev->data;

    if (s->state != NGX_API_LED_DELIVER_DELIVERING) {
        return;
    }

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    if (s->c) {
        ngx_api_led_deliver_close(s);
    }

    if (s->status == 0) {
        s->status = NGX_HTTP_BAD_GATEWAY;
    }

    ngx_api_led_deliver_outcome(s);
}


/*
 * The fake request goes: what is still registered on it (an upstream
 * that has not answered) is cleaned up as nginx does when a client goes,
 * then its pool and connection.
 */

static void
ngx_api_led_deliver_close(ngx_api_led_deliver_slot_t *s)
{
    ngx_pool_t          *rpool;
    ngx_connection_t    *c, *saved;
    ngx_pool_cleanup_t  *pc;
    ngx_http_cleanup_t  *cln;

    c = s->c;

    if (c == NULL) {
        return;
    }

    c->destroyed = 1;

    if (s->r) {
        /* our reference keeps nginx from closing it under us */
        s->r->count++;

        cln = s->r->cleanup;
        s->r->cleanup = NULL;

        while (cln) {
            if (cln->handler) {
                cln->handler(cln->data);
            }

            cln = cln->next;
        }

        s->r->posted_requests = NULL;

        rpool = s->r->pool;
        s->r = NULL;

        /* the cleanup must not run: the slot knows */
        for (pc = rpool->cleanup; pc; pc = pc->next) {
            if (pc->handler == ngx_api_led_deliver_pool_cleanup) {
                pc->handler = NULL;
            }
        }

        ngx_destroy_pool(rpool);
    }

    s->sr = NULL;
    s->c = NULL;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (!s->closed && c->pool) {
        ngx_destroy_pool(c->pool);
    }

    c->pool = NULL;
    s->closed = 0;

    saved = ngx_cycle->files ? ngx_cycle->files[0] : NULL;

    c->fd = 0;
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    if (ngx_cycle->files) {
        ngx_cycle->files[0] = saved;
    }
}


/*
 * nginx itself freed the request (it tore it down), and closes the
 * connection next: its pool goes, the connection (no socket to close) is
 * left to the slot.
 */

static void
ngx_api_led_deliver_pool_cleanup(void *data)
{
    ngx_api_led_deliver_slot_t *s = data;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "api_led: listener of stream \"%V\": the delivery of %V "
                  "was closed by nginx", &s->dl->dc->stream, &s->id);

    if (s->c) {
        /* its log is in the pool that goes */
        s->c->log = ngx_cycle->log;
        s->c->read->log = ngx_cycle->log;
        s->c->write->log = ngx_cycle->log;
        s->closed = 1;
    }

    s->r = NULL;
    s->sr = NULL;

    if (s->state == NGX_API_LED_DELIVER_DELIVERING && !s->done.posted) {
        if (s->status == 0) {
            s->status = NGX_HTTP_BAD_GATEWAY;
        }

        ngx_post_event(&s->done, &ngx_posted_events);
    }
}


/* an attempt's outcome: acknowledge, retry or give up */

static void
ngx_api_led_deliver_outcome(ngx_api_led_deliver_slot_t *s)
{
    ngx_msec_t                          backoff, cap;
    ngx_uint_t                          i;
    ngx_api_led_event_deliver_conf_t   *dc;

    dc = s->dl->dc;

    if (s->status >= 200 && s->status < 300) {
        ngx_api_led_deliver_ack(s);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "api_led: listener of stream \"%V\": delivery of %V to "
                  "\"%V\" failed with %i (attempt %ui of %ui)",
                  &dc->stream, &s->id, &dc->uri, s->status, s->attempts,
                  dc->retries + 1);

    if (s->attempts > dc->retries) {
        ngx_api_led_deliver_dead(s);
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_api_led_deliver_release(s);
        return;
    }

    ngx_api_led_event_count(s->dl->emcf, &dc->stream, "retried", 1);

    backoff = NGX_API_LED_DELIVER_BACKOFF;

    for (i = 1; i < s->attempts && backoff < NGX_API_LED_DELIVER_BACKOFF_MAX;
         i++)
    {
        backoff *= 2;
    }

    /* waiting must not make the entry look abandoned to other consumers */
    cap = (dc->claim_after - dc->timeout) / 2;
    cap = ngx_min(cap, NGX_API_LED_DELIVER_BACKOFF_MAX);

    if (backoff > cap) {
        backoff = cap ? cap : 1;
    }

    s->state = NGX_API_LED_DELIVER_WAITING;

    /* a worker that exits does not wait for it */
    s->timer.cancelable = 1;
    ngx_add_timer(&s->timer, backoff);
}


static void
ngx_api_led_deliver_ack(ngx_api_led_deliver_slot_t *s)
{
    ngx_int_t                 rc;
    ngx_str_t                 args[4];
    ngx_api_led_redis_cmd_t   cmd;

    ngx_str_set(&args[0], "XACK");
    args[1] = s->dl->dc->stream;
    args[2] = s->dl->dc->group;
    args[3] = s->id;

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = ngx_api_led_deliver_ack_done;
    cmd.data = s;
    cmd.key = 1;
    cmd.errors = 1;

    rc = ngx_api_led_redis_command(ngx_api_led_redis_shared(), &cmd, 4,
                                   args);

    if (rc == NGX_AGAIN) {
        s->state = NGX_API_LED_DELIVER_ACKING;
        return;
    }

    ngx_api_led_deliver_ack_done(s, NULL);
}


static void
ngx_api_led_deliver_ack_done(void *data, redisReply *reply)
{
    ngx_api_led_deliver_slot_t *s = data;

    ngx_api_led_deliver_t  *dl;

    dl = s->dl;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        if (!ngx_api_led_redis_not_ready(reply)) {
            ngx_api_led_deliver_ack_refused(s, reply);
            return;
        }

        /* LOADING, BUSY, MASTERDOWN: as a Redis away */
        reply = NULL;

    } else if (reply) {
        dl->unacked = 0;
    }

    /*
     * Counted once, when the entry leaves the pending list: an entry whose
     * XACK failed is delivered again and counted then; 0 says another
     * consumer that claimed it acknowledged (and counted) it first.
     */

    if (s->deleted
        || reply == NULL
        || reply->type != REDIS_REPLY_INTEGER
        || reply->integer == 0)
    {
        /* nothing delivered, or not by us */

    } else if (s->invalid) {
        /* moved to the dead letters */
        ngx_api_led_event_count(dl->emcf, &dl->dc->stream, "dead_lettered",
                                1);

    } else if (s->status >= 200 && s->status < 300) {
        ngx_api_led_event_count(dl->emcf, &dl->dc->stream, "delivered", 1);

    } else {
        ngx_api_led_event_count(dl->emcf, &dl->dc->stream, "dead_lettered",
                                1);
    }

    if (reply == NULL) {
        /* still pending: delivered again once Redis is back */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": entry %V not "
                      "acknowledged (Redis unavailable), it will be "
                      "delivered again", &dl->dc->stream, &s->id);

        if (dl->state == NGX_API_LED_DELIVER_NEW) {
            dl->state = NGX_API_LED_DELIVER_HISTORY;
            dl->history[0] = '0';
            dl->history_len = 1;
        }
    }

    ngx_api_led_deliver_release(s);
}


/*
 * An XACK that Redis refuses, which waiting a second would not change
 * (NOPERM: the ACL user may not XACK).  Taken as a Redis away, the entry
 * would be read again from the pending entries and delivered again after
 * each blocking read, for as long as it lasts, with a line each time.
 * The delivery is done: only the XACK is made again, after 1 s doubled up
 * to 30 s, as the streams' refused reads are; the slot is held meanwhile,
 * so a listener whose every XACK is refused stops taking entries once its
 * slots are full.  Logged once per run.  Its idle time grows: another
 * consumer may claim it after claim_after and deliver it (at least once).
 */

static void
ngx_api_led_deliver_ack_refused(ngx_api_led_deliver_slot_t *s,
    redisReply *reply)
{
    ngx_msec_t              after;
    ngx_api_led_deliver_t  *dl;

    dl = s->dl;

    after = ngx_api_led_event_backoff(s->refused++);

    if (dl->unacked++ == 0) {
        ngx_api_led_event_log_refused(ngx_cycle->log, "listener of stream",
                                      &dl->dc->stream, "acknowledging",
                                      reply, after);
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_api_led_deliver_release(s);
        return;
    }

    s->state = NGX_API_LED_DELIVER_UNACKED;

    /* a worker that exits does not wait for it */
    s->timer.cancelable = 1;
    ngx_add_timer(&s->timer, after);
}


/*
 * An entry that cannot be delivered: into the dead-letter stream, then
 * acknowledged; without a dead-letter stream it stays pending (claimed
 * and tried again after claim_after).
 */

static void
ngx_api_led_deliver_dead(ngx_api_led_deliver_slot_t *s)
{
    u_char                              status[NGX_INT_T_LEN],
                                        attempts[NGX_INT_T_LEN];
    ngx_int_t                           rc;
    ngx_str_t                           args[17];
    ngx_api_led_event_deliver_conf_t   *dc;
    ngx_api_led_redis_cmd_t             cmd;

    dc = s->dl->dc;

    if (dc->dead_letter.len == 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": entry %V not "
                      "delivered after %ui attempts, left pending (no "
                      "\"dead_letter=\")", &dc->stream, &s->id,
                      s->attempts);
        ngx_api_led_deliver_release(s);
        return;
    }

    ngx_str_set(&args[0], "XADD");
    args[1] = dc->dead_letter;
    ngx_str_set(&args[2], "*");
    ngx_str_set(&args[3], NGX_API_LED_EVENT_FIELD_TYPE);
    args[4] = s->type;
    ngx_str_set(&args[5], NGX_API_LED_EVENT_FIELD_EVENT);
    args[6] = s->event;
    ngx_str_set(&args[7], "stream");
    args[8] = dc->stream;
    ngx_str_set(&args[9], "id");
    args[10] = s->id;
    ngx_str_set(&args[11], "group");
    args[12] = dc->group;
    ngx_str_set(&args[13], "attempts");
    args[14].data = attempts;
    args[14].len = ngx_sprintf(attempts, "%ui", s->attempts) - attempts;
    ngx_str_set(&args[15], "status");

    if (s->invalid) {
        ngx_str_set(&args[16], "invalid");

    } else {
        args[16].data = status;
        args[16].len = ngx_sprintf(status, "%i", s->status) - status;
    }

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = ngx_api_led_deliver_dead_done;
    cmd.data = s;
    cmd.key = 1;

    rc = ngx_api_led_redis_command(ngx_api_led_redis_shared(), &cmd, 17,
                                   args);

    if (rc == NGX_AGAIN) {
        s->state = NGX_API_LED_DELIVER_DEAD;
        return;
    }

    /* stays pending: tried again once read again or claimed */
    ngx_api_led_deliver_release(s);
}


static void
ngx_api_led_deliver_dead_done(void *data, redisReply *reply)
{
    ngx_api_led_deliver_slot_t *s = data;

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "api_led: listener of stream \"%V\": entry %V not "
                      "moved to the dead letters (Redis unavailable), left "
                      "pending", &s->dl->dc->stream, &s->id);
        ngx_api_led_deliver_release(s);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "api_led: listener of stream \"%V\": entry %V moved to "
                  "the dead letters \"%V\"", &s->dl->dc->stream, &s->id,
                  &s->dl->dc->dead_letter);

    ngx_api_led_deliver_ack(s);
}


static void
ngx_api_led_deliver_release(ngx_api_led_deliver_slot_t *s)
{
    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    s->timer.cancelable = 0;

    if (s->done.posted) {
        ngx_delete_posted_event(&s->done);
    }

    if (s->go.posted) {
        ngx_delete_posted_event(&s->go);
    }

    if (s->mem) {
        ngx_free(s->mem);
        s->mem = NULL;
    }

    ngx_str_null(&s->id);
    s->state = NGX_API_LED_DELIVER_FREE;
    s->attempts = 0;
    s->refused = 0;
    s->invalid = 0;
    s->touched = 0;
    s->deleted = 0;

    ngx_api_led_deliver_kick(s->dl);
}


/* the fake connection's I/O: nothing comes in, what goes out is gone */

static ssize_t
ngx_api_led_deliver_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    return 0;
}


static ssize_t
ngx_api_led_deliver_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    c->sent += size;
    return size;
}


static ngx_chain_t *
ngx_api_led_deliver_send_chain(ngx_connection_t *c, ngx_chain_t *in,
    off_t limit)
{
    for ( /* void */ ; in; in = in->next) {

        if (ngx_buf_special(in->buf)) {
            continue;
        }

        c->sent += ngx_buf_size(in->buf);

        if (in->buf->in_file) {
            in->buf->file_pos = in->buf->file_last;
        }

        in->buf->pos = in->buf->last;
    }

    return NULL;
}


/* what nginx's own handler of a client connection does */

static void
ngx_api_led_deliver_conn_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    c = ev->data;
    r = c->data;

    if (c->destroyed || r == NULL) {
        return;
    }

    ngx_http_set_log_request(c->log, r);

    /* a delay (limit_req) is over */
    if (ev->delayed && ev->timedout) {
        ev->delayed = 0;
        ev->timedout = 0;
    }

    if (ev->write) {
        r->write_event_handler(r);

    } else {
        r->read_event_handler(r);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_api_led_deliver_empty_request(ngx_http_request_t *r)
{
}


static u_char *
ngx_api_led_deliver_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                          *p;
    ngx_http_request_t              *r;
    ngx_api_led_deliver_log_ctx_t   *lctx;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(p, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    lctx = log->data;

    p = ngx_snprintf(buf, len, ", listener of stream \"%V\" group \"%V\", "
                     "entry %V",
                     &lctx->slot->dl->dc->stream, &lctx->slot->dl->dc->group,
                     &lctx->slot->id);
    len -= p - buf;
    buf = p;

    r = lctx->http.current_request;

    if (r) {
        p = ngx_snprintf(buf, len, ", request: \"POST %V\"", &r->uri);
    }

    return p;
}
