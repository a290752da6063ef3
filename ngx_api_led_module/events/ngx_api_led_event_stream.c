
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * ngx_api_led_event_stream_module: api_led_event_stream, a Redis Stream
 * as Server-Sent Events (text/event-stream).  The location's policies ran
 * in the access phase before: this is its content handler.
 *
 * A worker reads a stream once for all its subscribers: one reader per
 * stream key, with a blocking XREAD on a connection of its own, whose
 * entries are formatted once and handed to every subscriber from a posted
 * event (never from inside the Redis read loop).  A subscriber starts
 * where it asked (Last-Event-ID, a stream id) or where the stream is when
 * it subscribes, catches up with XRANGE on the shared connection, a page
 * at a time and only as fast as it reads, then takes the reader's entries;
 * what it has sent is remembered by id, so nothing comes twice or is
 * skipped between the two.  Entries trimmed (MAXLEN) past a subscriber's
 * id are announced by an "api_led.gap" event before the oldest kept.
 *
 * Each message is "id: ID", "event: TYPE", "data: EVENT" (the CloudEvent,
 * on one line); entries of other types than types= are skipped, entries
 * whose event is not JSON too (logged once per reader).  A comment line
 * every heartbeat= keeps proxies from closing an idle stream.  A client
 * that does not read holds at most buffer= bytes: then it is told why
 * ("api_led.closed") and the stream ends.  A worker that shuts down ends
 * its streams: EventSource reconnects, with its Last-Event-ID, to another.
 */


#include "ngx_api_led_event.h"


#define NGX_API_LED_STREAM_START     0      /* where the stream is */
#define NGX_API_LED_STREAM_CATCHUP   1      /* XRANGE from its id */
#define NGX_API_LED_STREAM_LIVE      2      /* the reader's entries */
#define NGX_API_LED_STREAM_DONE      3

#define NGX_API_LED_STREAM_BUF       4096
#define NGX_API_LED_STREAM_FREE_MAX  16
#define NGX_API_LED_STREAM_RETRY     500
#define NGX_API_LED_STREAM_ID_MAX    48

typedef struct ngx_api_led_stream_reader_s  ngx_api_led_stream_reader_t;
typedef struct ngx_api_led_stream_sub_s     ngx_api_led_stream_sub_t;


/* an id, kept */
typedef struct {
    u_char                            data[NGX_API_LED_STREAM_ID_MAX];
    size_t                            len;
} ngx_api_led_stream_id_t;


/* entries formatted as SSE messages, in one piece of memory */
typedef struct {
    ngx_api_led_stream_id_t           id;
    ngx_str_t                         type;      /* into text */
    ngx_str_t                         text;      /* the whole message */
} ngx_api_led_stream_msg_t;


typedef struct {
    ngx_api_led_stream_msg_t         *msgs;
    ngx_uint_t                        n;
    u_char                           *mem;      /* ngx_alloc()ed, or NULL */
} ngx_api_led_stream_batch_t;


/*
 * A command of a subscriber on the shared connection: the reply may come
 * after the request went away, so it points to this ticket, which the
 * request's cleanup detaches and the reply frees.
 */
typedef struct {
    ngx_api_led_stream_sub_t         *sub;
} ngx_api_led_stream_ticket_t;


/* a worker's reader of one stream (made on the first subscriber) */
struct ngx_api_led_stream_reader_s {
    ngx_queue_t                       queue;     /* the worker's readers */
    ngx_str_t                         key;
    ngx_api_led_redis_t              *redis;     /* its own connection */
    ngx_queue_t                       subs;
    ngx_api_led_stream_id_t           last;      /* "": not known yet */
    ngx_api_led_stream_batch_t        batch;     /* to hand out */
    ngx_event_t                       fanout;    /* posted */
    ngx_event_t                       retry;
    ngx_uint_t                        invalid_logged;
    unsigned                          reading:1;
};


/* a subscriber: a request of api_led_event_stream */
struct ngx_api_led_stream_sub_s {
    ngx_queue_t                       queue;     /* the reader's */
    ngx_http_request_t               *request;
    ngx_api_led_event_stream_conf_t  *conf;
    ngx_api_led_stream_reader_t      *reader;
    ngx_api_led_stream_ticket_t      *ticket;    /* a command on its way */
    ngx_uint_t                        state;
    ngx_api_led_stream_id_t           last;      /* what it has (P) */
    ngx_api_led_stream_id_t           live_max;  /* the reader's, meanwhile */
    ngx_api_led_stream_batch_t        page;      /* a catch-up page */
    ngx_chain_t                      *free;
    ngx_chain_t                      *busy;
    size_t                            pending;   /* bytes not sent yet */
    ngx_event_t                       run;       /* posted: go on */
    ngx_event_t                       heartbeat;
    ngx_event_t                       retry;
    unsigned                          resumed:1; /* Last-Event-ID given */
    unsigned                          gap_checked:1;
    unsigned                          more:1;    /* the page was full */
    unsigned                          headers:1;
};


typedef struct {
    ngx_api_led_event_main_conf_t    *conf;
    ngx_queue_t                       readers;
} ngx_api_led_stream_worker_t;


static ngx_int_t ngx_api_led_stream_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_stream_start(ngx_api_led_stream_sub_t *sub);
static ngx_int_t ngx_api_led_stream_retry_after(ngx_http_request_t *r);
static void ngx_api_led_stream_cleanup(void *data);
static void ngx_api_led_stream_next(ngx_api_led_stream_sub_t *sub);
static ngx_int_t ngx_api_led_stream_command(ngx_api_led_stream_sub_t *sub,
    ngx_uint_t nargs, ngx_str_t *args, ngx_api_led_redis_handler_pt handler);
static void ngx_api_led_stream_top_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_info_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_page_reply(void *data, redisReply *reply);
static ngx_api_led_stream_sub_t *ngx_api_led_stream_ticket_done(void *data);
static void ngx_api_led_stream_run(ngx_event_t *ev);
static void ngx_api_led_stream_retry(ngx_event_t *ev);
static void ngx_api_led_stream_heartbeat(ngx_event_t *ev);
static void ngx_api_led_stream_writer(ngx_http_request_t *r);
static void ngx_api_led_stream_reading(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_stream_send_headers(
    ngx_api_led_stream_sub_t *sub);
static ngx_int_t ngx_api_led_stream_emit(ngx_api_led_stream_sub_t *sub,
    ngx_api_led_stream_batch_t *batch);
static ngx_int_t ngx_api_led_stream_write(ngx_api_led_stream_sub_t *sub,
    u_char *data, size_t len, ngx_chain_t ***last);
static ngx_int_t ngx_api_led_stream_flush(ngx_api_led_stream_sub_t *sub,
    ngx_chain_t *out);
static void ngx_api_led_stream_close(ngx_api_led_stream_sub_t *sub,
    const char *reason);
static void ngx_api_led_stream_finalize(ngx_api_led_stream_sub_t *sub,
    ngx_int_t rc);

static ngx_api_led_stream_reader_t *ngx_api_led_stream_reader(
    ngx_api_led_stream_worker_t *wk, ngx_str_t *key);
static void ngx_api_led_stream_read(ngx_api_led_stream_reader_t *rd);
static void ngx_api_led_stream_read_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_top_of_reader(void *data, redisReply *reply);
static void ngx_api_led_stream_fanout(ngx_event_t *ev);
static void ngx_api_led_stream_reader_retry(ngx_event_t *ev);
static ngx_int_t ngx_api_led_stream_format(redisReply *list,
    ngx_api_led_stream_batch_t *batch, ngx_uint_t *invalid);

static void ngx_api_led_stream_id_set(ngx_api_led_stream_id_t *id,
    ngx_str_t *s);
static ngx_int_t ngx_api_led_stream_id_after(ngx_api_led_stream_id_t *a,
    ngx_api_led_stream_id_t *b);

static ngx_int_t ngx_api_led_stream_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_stream_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_stream_exit_process(ngx_cycle_t *cycle);


/* this worker's readers */
static ngx_api_led_stream_worker_t  *ngx_api_led_stream_worker;


static ngx_str_t  ngx_api_led_stream_type = ngx_string("text/event-stream");
static ngx_str_t  ngx_api_led_stream_h_cache = ngx_string("Cache-Control");
static ngx_str_t  ngx_api_led_stream_h_last_id = ngx_string("Last-Event-ID");


static ngx_http_module_t  ngx_api_led_event_stream_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_stream_init,               /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_event_stream_module = {
    NGX_MODULE_V1,
    &ngx_api_led_event_stream_module_ctx,  /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_stream_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_stream_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the content handler: the policies of the location ran before */

static ngx_int_t
ngx_api_led_stream_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      id;
    ngx_table_elt_t               *h;
    ngx_pool_cleanup_t            *cln;
    ngx_api_led_stream_sub_t      *sub;
    ngx_api_led_event_loc_conf_t  *lecf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_api_led_stream_worker == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lecf = ngx_http_get_module_loc_conf(r, ngx_api_led_event_module);

    ngx_str_null(&id);

    h = ngx_api_led_header_find(&r->headers_in.headers,
                                &ngx_api_led_stream_h_last_id);
    if (h) {
        id = h->value;

        if (ngx_api_led_event_id_valid(&id) != NGX_OK
            || id.len >= NGX_API_LED_STREAM_ID_MAX)
        {
            return ngx_api_led_problem_send(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_last_event_id",
                                            "Last-Event-ID is not a stream "
                                            "id (MILLISECONDS-SEQUENCE)");
        }
    }

    sub = ngx_pcalloc(r->pool, sizeof(ngx_api_led_stream_sub_t));
    if (sub == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sub->request = r;
    sub->conf = lecf->stream;

    sub->run.handler = ngx_api_led_stream_run;
    sub->run.data = sub;
    sub->run.log = r->connection->log;

    sub->retry.handler = ngx_api_led_stream_retry;
    sub->retry.data = sub;
    sub->retry.log = r->connection->log;
    sub->retry.cancelable = 1;

    sub->heartbeat.handler = ngx_api_led_stream_heartbeat;
    sub->heartbeat.data = sub;
    sub->heartbeat.log = r->connection->log;
    sub->heartbeat.cancelable = 1;

    if (id.len) {
        ngx_api_led_stream_id_set(&sub->last, &id);
        sub->resumed = 1;
        sub->state = NGX_API_LED_STREAM_CATCHUP;

    } else {
        sub->state = NGX_API_LED_STREAM_START;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_api_led_stream_cleanup;
    cln->data = sub;

    sub->reader = ngx_api_led_stream_reader(ngx_api_led_stream_worker,
                                            &sub->conf->key);
    if (sub->reader == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_queue_insert_tail(&sub->reader->subs, &sub->queue);

    rc = ngx_api_led_stream_start(sub);

    if (rc != NGX_OK) {
        ngx_queue_remove(&sub->queue);
        sub->reader = NULL;
        return rc;
    }

    if (!sub->reader->reading) {
        ngx_api_led_stream_read(sub->reader);
    }

    r->main->count++;

    r->read_event_handler = ngx_api_led_stream_reading;
    r->write_event_handler = ngx_api_led_stream_writer;

    /* a worker that shuts down closes idle connections: this one too */
    if (r->connection->fd != (ngx_socket_t) -1 && r == r->main
        && !r->stream)
    {
        r->connection->idle = 1;
    }

    return NGX_DONE;
}


/*
 * A new subscriber: where the stream is (XREVRANGE), or, resuming,
 * whether entries after its id were trimmed (XINFO STREAM).  The headers
 * go out once the start is known: what is published after the client saw
 * them reaches it.  Redis away: 503, unless resuming (the client has an
 * id to come back with; it waits, and gets heartbeats).
 */

static ngx_int_t
ngx_api_led_stream_start(ngx_api_led_stream_sub_t *sub)
{
    ngx_int_t    rc;
    ngx_str_t    args[6];

    if (sub->resumed) {
        if (ngx_api_led_stream_send_headers(sub) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_api_led_stream_next(sub);
        return NGX_OK;
    }

    ngx_str_set(&args[0], "XREVRANGE");
    args[1] = sub->conf->key;
    ngx_str_set(&args[2], "+");
    ngx_str_set(&args[3], "-");
    ngx_str_set(&args[4], "COUNT");
    ngx_str_set(&args[5], "1");

    rc = ngx_api_led_stream_command(sub, 6, args,
                                    ngx_api_led_stream_top_reply);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        if (ngx_api_led_stream_retry_after(sub->request) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_api_led_problem_send(sub->request,
                                        NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "event_stream_unavailable",
                                        "the event stream is not available "
                                        "now");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_api_led_stream_retry_after(ngx_http_request_t *r)
{
    u_char           *p;
    ngx_msec_t        ms;
    ngx_table_elt_t  *h;

    ms = ngx_api_led_redis_retry_after(ngx_api_led_redis_shared());

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    h = ngx_list_push(&r->headers_out.headers);

    if (p == NULL || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->next = NULL;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%M", ms ? (ms + 999) / 1000 : 1) - p;

    return NGX_OK;
}


/* the request goes away: it leaves its reader, its command's reply finds
   nobody */

static void
ngx_api_led_stream_cleanup(void *data)
{
    ngx_api_led_stream_sub_t *sub = data;

    if (sub->reader) {
        ngx_queue_remove(&sub->queue);
        sub->reader = NULL;
    }

    if (sub->ticket) {
        sub->ticket->sub = NULL;
        sub->ticket = NULL;
    }

    if (sub->run.posted) {
        ngx_delete_posted_event(&sub->run);
    }

    if (sub->heartbeat.timer_set) {
        ngx_del_timer(&sub->heartbeat);
    }

    if (sub->retry.timer_set) {
        ngx_del_timer(&sub->retry);
    }

    if (sub->page.mem) {
        ngx_free(sub->page.mem);
        sub->page.mem = NULL;
    }

    sub->state = NGX_API_LED_STREAM_DONE;
}


/*
 * Catching up: the next page after what the subscriber has, while it
 * reads (half its buffer free) and no command of its own is on its way;
 * first, for a resumed stream, whether entries were trimmed past its id.
 */

static void
ngx_api_led_stream_next(ngx_api_led_stream_sub_t *sub)
{
    u_char     *p, count[NGX_INT_T_LEN];
    ngx_int_t   rc;
    ngx_str_t   args[7];
    u_char      from[NGX_API_LED_STREAM_ID_MAX + 1];

    if (sub->state != NGX_API_LED_STREAM_CATCHUP || sub->ticket
        || sub->page.msgs || sub->retry.timer_set
        || sub->pending > sub->conf->buffer / 2)
    {
        return;
    }

    if (sub->resumed && !sub->gap_checked) {
        ngx_str_set(&args[0], "XINFO");
        ngx_str_set(&args[1], "STREAM");
        args[2] = sub->conf->key;

        rc = ngx_api_led_stream_command(sub, 3, args,
                                        ngx_api_led_stream_info_reply);

    } else {
        p = ngx_cpymem(from, "(", 1);
        p = ngx_cpymem(p, sub->last.data, sub->last.len);

        ngx_str_set(&args[0], "XRANGE");
        args[1] = sub->conf->key;
        args[2].data = from;
        args[2].len = p - from;
        ngx_str_set(&args[3], "+");
        ngx_str_set(&args[4], "COUNT");
        args[5].data = count;
        args[5].len = ngx_sprintf(count, "%d", NGX_API_LED_EVENT_COUNT)
                      - count;

        rc = ngx_api_led_stream_command(sub, 6, args,
                                        ngx_api_led_stream_page_reply);
    }

    if (rc == NGX_OK) {
        return;
    }

    /* Redis away: the subscriber waits, with its heartbeats */
    ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY * 2);
}


static ngx_int_t
ngx_api_led_stream_command(ngx_api_led_stream_sub_t *sub, ngx_uint_t nargs,
    ngx_str_t *args, ngx_api_led_redis_handler_pt handler)
{
    ngx_int_t                     rc;
    ngx_api_led_redis_cmd_t       cmd;
    ngx_api_led_stream_ticket_t  *t;

    t = ngx_alloc(sizeof(ngx_api_led_stream_ticket_t),
                  sub->request->connection->log);
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->sub = sub;

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = handler;
    cmd.data = t;
    cmd.key = 1;
    cmd.errors = 1;

    rc = ngx_api_led_redis_command(ngx_api_led_redis_shared(), &cmd, nargs,
                                   args);

    if (rc != NGX_AGAIN) {
        ngx_free(t);
        return (rc == NGX_DECLINED) ? NGX_DECLINED : NGX_ERROR;
    }

    sub->ticket = t;

    return NGX_OK;
}


/* the reply of a subscriber's command: its subscriber, or NULL (gone) */

static ngx_api_led_stream_sub_t *
ngx_api_led_stream_ticket_done(void *data)
{
    ngx_api_led_stream_ticket_t *t = data;

    ngx_api_led_stream_sub_t  *sub;

    sub = t->sub;
    ngx_free(t);

    if (sub) {
        sub->ticket = NULL;
    }

    return sub;
}


/* XREVRANGE KEY + - COUNT 1: the newest entry, or none */

static void
ngx_api_led_stream_top_reply(void *data, redisReply *reply)
{
    ngx_str_t                  id;
    ngx_api_led_stream_sub_t  *sub;

    sub = ngx_api_led_stream_ticket_done(data);
    if (sub == NULL) {
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        /* answered from the posted event: 503 */
        sub->state = NGX_API_LED_STREAM_DONE;
        ngx_post_event(&sub->run, &ngx_posted_events);
        return;
    }

    if (reply->elements
        && reply->element[0]->type == REDIS_REPLY_ARRAY
        && reply->element[0]->elements == 2
        && reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
    {
        id.data = (u_char *) reply->element[0]->element[0]->str;
        id.len = reply->element[0]->element[0]->len;

        if (ngx_api_led_event_id_valid(&id) != NGX_OK) {
            ngx_str_set(&id, "0-0");
        }

    } else {
        ngx_str_set(&id, "0-0");
    }

    ngx_api_led_stream_id_set(&sub->last, &id);

    sub->state = NGX_API_LED_STREAM_CATCHUP;
    sub->gap_checked = 1;

    ngx_post_event(&sub->run, &ngx_posted_events);
}


/*
 * XINFO STREAM: Redis 7 tells the largest id it deleted (trimmed); past
 * the subscriber's id, entries it never saw are gone.  No stream: none.
 */

static void
ngx_api_led_stream_info_reply(void *data, redisReply *reply)
{
    size_t                     i;
    ngx_str_t                  deleted, first;
    redisReply                *k, *v;
    ngx_api_led_stream_sub_t  *sub;
    ngx_api_led_stream_id_t    d;

    sub = ngx_api_led_stream_ticket_done(data);
    if (sub == NULL) {
        return;
    }

    if (reply == NULL) {
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY * 2);
        return;
    }

    sub->gap_checked = 1;

    ngx_str_null(&deleted);
    ngx_str_null(&first);

    if (reply->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < reply->elements; i += 2) {
            k = reply->element[i];
            v = reply->element[i + 1];

            if (k->type != REDIS_REPLY_STRING) {
                continue;
            }

            if (k->len == sizeof("max-deleted-entry-id") - 1
                && ngx_strncmp(k->str, "max-deleted-entry-id", k->len) == 0
                && v->type == REDIS_REPLY_STRING)
            {
                deleted.data = (u_char *) v->str;
                deleted.len = v->len;

            } else if (k->len == sizeof("first-entry") - 1
                       && ngx_strncmp(k->str, "first-entry", k->len) == 0
                       && v->type == REDIS_REPLY_ARRAY && v->elements == 2
                       && v->element[0]->type == REDIS_REPLY_STRING)
            {
                first.data = (u_char *) v->element[0]->str;
                first.len = v->element[0]->len;
            }
        }
    }

    if (deleted.len && ngx_api_led_event_id_valid(&deleted) == NGX_OK
        && deleted.len < NGX_API_LED_STREAM_ID_MAX)
    {
        ngx_api_led_stream_id_set(&d, &deleted);

        if (ngx_api_led_stream_id_after(&d, &sub->last)
            && ngx_api_led_stream_batch_gap(sub, &first) != NGX_OK)
        {
            ngx_api_led_stream_close(sub, NULL);
            return;
        }
    }

    ngx_post_event(&sub->run, &ngx_posted_events);
}
