
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * ngx_api_led_event_stream_module: api_led_event_stream, a Redis Stream
 * as Server-Sent Events (text/event-stream).  The location's policies ran
 * in the access phase before: this is its content handler.
 *
 * A worker reads a stream once for all its subscribers: one reader per
 * stream key, with a blocking XREAD on a connection of its own (a
 * blocking read would hold the shared, pipelined connection).  Its
 * entries are formatted once and handed to every subscriber from a posted
 * event, then the next read is made.  A subscriber starts where the
 * reader is (the stream's end when it subscribed) or, resuming, after its
 * Last-Event-ID: it catches up with XRANGE pages on the worker's
 * connection for catch-ups, only as fast as it reads, then takes the
 * reader's entries.  What it was
 * sent is remembered by id, so that nothing comes twice or is skipped
 * between the two.  Entries trimmed past a resumed subscriber's id
 * (XINFO STREAM) are announced by a comment.
 *
 * A message is "id: ID", "event: TYPE", "data: EVENT" (the CloudEvent on
 * one line).  A comment line every heartbeat= keeps proxies from closing
 * an idle stream.  What a subscriber has not taken is bounded by buffer=
 * (and send_timeout without progress): past it, its stream is closed and
 * the reason logged.
 */


#include "ngx_api_led_event.h"
#include "ngx_api_led_edit.h"


#define NGX_API_LED_STREAM_NEW       0      /* its start is posted */
#define NGX_API_LED_STREAM_START     1      /* waits for the reader */
#define NGX_API_LED_STREAM_CATCHUP   2      /* XRANGE after its id */
#define NGX_API_LED_STREAM_LIVE      3      /* the reader's entries */

#define NGX_API_LED_STREAM_BUF       4096
#define NGX_API_LED_STREAM_RETRY     1000
#define NGX_API_LED_STREAM_ID_MAX    48


typedef struct ngx_api_led_stream_sub_s     ngx_api_led_stream_sub_t;


/* an id, kept */
typedef struct {
    u_char                            data[NGX_API_LED_STREAM_ID_MAX];
    size_t                            len;
} ngx_api_led_stream_id_t;


/* entries formatted as SSE messages, in one piece of memory */
typedef struct {
    ngx_str_t                         id;
    ngx_str_t                         type;
    ngx_str_t                         text;      /* the whole message */
} ngx_api_led_stream_msg_t;


typedef struct {
    ngx_api_led_stream_msg_t         *msgs;     /* ngx_alloc()ed, with the
                                                   texts after them */
    ngx_uint_t                        n;
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
typedef struct {
    ngx_queue_t                       queue;     /* the worker's readers */
    ngx_str_t                         key;
    ngx_api_led_redis_t              *redis;     /* its own connection */
    ngx_queue_t                       subs;
    ngx_api_led_stream_id_t           last;      /* len 0: not known yet */
    ngx_api_led_stream_batch_t        batch;     /* to hand out */
    ngx_event_t                       fanout;    /* posted */
    ngx_event_t                       retry;
    ngx_uint_t                        failed;    /* reads failed in a row */
    ngx_uint_t                        read_refused; /* its reads refused in
                                                       a row */
    ngx_uint_t                        refused;   /* catch-up reads refused
                                                    in a row, for its
                                                    subscribers' log */
    ngx_uint_t                        single;    /* entries read one by
                                                    one (a reply was too
                                                    large) */
    unsigned                          reading:1;
    unsigned                          skip:1;    /* the next entry is too
                                                    large: its id next */
} ngx_api_led_stream_reader_t;


/* a subscriber: a request of api_led_event_stream */
struct ngx_api_led_stream_sub_s {
    ngx_queue_t                       queue;     /* the reader's */
    ngx_http_request_t               *request;
    ngx_api_led_event_stream_conf_t  *conf;
    ngx_api_led_stream_reader_t      *reader;
    ngx_api_led_stream_ticket_t      *ticket;    /* a command on its way */
    ngx_uint_t                        state;
    ngx_api_led_stream_id_t           last;      /* what it was sent up to */
    ngx_chain_t                      *free;
    ngx_chain_t                      *busy;
    size_t                            pending;   /* bytes not sent yet */
    ngx_event_t                       start;     /* posted */
    ngx_event_t                       heartbeat;
    ngx_event_t                       retry;
    ngx_uint_t                        single;    /* as the reader's */
    ngx_uint_t                        refused;   /* its catch-up reads
                                                    refused in a row */
    unsigned                          skip:1;
    unsigned                          resumed:1; /* Last-Event-ID given */
    unsigned                          gap_checked:1;
    unsigned                          more:1;    /* a page was full */
    unsigned                          headers:1;
    unsigned                          done:1;
};


typedef struct {
    ngx_api_led_event_main_conf_t    *conf;
    ngx_queue_t                       readers;
    ngx_api_led_redis_t              *pages;     /* the catch-ups' client */
} ngx_api_led_stream_worker_t;


static ngx_int_t ngx_api_led_stream_handler(ngx_http_request_t *r);
static void ngx_api_led_stream_start(ngx_event_t *ev);
static void ngx_api_led_stream_cleanup(void *data);
static void ngx_api_led_stream_begin(ngx_api_led_stream_sub_t *sub);
static void ngx_api_led_stream_next(ngx_api_led_stream_sub_t *sub);
static ngx_int_t ngx_api_led_stream_command(ngx_api_led_stream_sub_t *sub,
    ngx_uint_t nargs, ngx_str_t *args, ngx_api_led_redis_handler_pt handler);
static ngx_api_led_redis_t *ngx_api_led_stream_pages(ngx_str_t *key);
static ngx_api_led_stream_ticket_t *ngx_api_led_stream_ticket(
    ngx_api_led_stream_sub_t *sub);
static void ngx_api_led_stream_skip_reply(void *data, redisReply *reply);
static ngx_api_led_stream_sub_t *ngx_api_led_stream_ticket_done(void *data);
static void ngx_api_led_stream_info_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_page_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_refused(ngx_api_led_stream_sub_t *sub,
    const char *what, redisReply *reply);
static void ngx_api_led_stream_retry(ngx_event_t *ev);
static void ngx_api_led_stream_heartbeat(ngx_event_t *ev);
static void ngx_api_led_stream_writer(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_stream_send_headers(
    ngx_api_led_stream_sub_t *sub);
static ngx_int_t ngx_api_led_stream_emit(ngx_api_led_stream_sub_t *sub,
    ngx_api_led_stream_batch_t *batch, ngx_uint_t *sent);
static ngx_int_t ngx_api_led_stream_write(ngx_api_led_stream_sub_t *sub,
    u_char *data, size_t len);
static ngx_int_t ngx_api_led_stream_output(ngx_api_led_stream_sub_t *sub,
    ngx_chain_t *out);
static void ngx_api_led_stream_close(ngx_api_led_stream_sub_t *sub,
    const char *reason);
static void ngx_api_led_stream_end(ngx_api_led_stream_sub_t *sub);

static ngx_api_led_stream_reader_t *ngx_api_led_stream_reader(
    ngx_api_led_stream_worker_t *wk, ngx_str_t *key);
static void ngx_api_led_stream_read(ngx_api_led_stream_reader_t *rd);
static void ngx_api_led_stream_top_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_top_found(ngx_api_led_stream_reader_t *rd,
    ngx_str_t *id);
static void ngx_api_led_stream_read_reply(void *data, redisReply *reply);
static void ngx_api_led_stream_reader_skip(void *data, redisReply *reply);
static ngx_uint_t ngx_api_led_stream_too_large(ngx_api_led_redis_t *redis,
    ngx_uint_t *single);
static void ngx_api_led_stream_skipped(ngx_str_t *key, ngx_str_t *id);
static void ngx_api_led_stream_read_error(ngx_api_led_stream_reader_t *rd,
    redisReply *reply);
static void ngx_api_led_stream_read_failed(ngx_api_led_stream_reader_t *rd);
static void ngx_api_led_stream_read_refused(ngx_api_led_stream_reader_t *rd,
    redisReply *reply);
static void ngx_api_led_stream_read_later(ngx_api_led_stream_reader_t *rd,
    ngx_msec_t after);
static void ngx_api_led_stream_fanout(ngx_event_t *ev);
static void ngx_api_led_stream_reader_retry(ngx_event_t *ev);
static ngx_int_t ngx_api_led_stream_format(redisReply *list,
    ngx_api_led_stream_batch_t *batch, ngx_log_t *log);

static void ngx_api_led_stream_id_set(ngx_api_led_stream_id_t *id,
    ngx_str_t *s);
static ngx_int_t ngx_api_led_stream_id_cmp(ngx_api_led_stream_id_t *a,
    ngx_str_t *b);
static ngx_uint_t ngx_api_led_stream_id_top(ngx_api_led_stream_id_t *id);

static ngx_int_t ngx_api_led_stream_preconf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_stream_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_stream_exit_process(ngx_cycle_t *cycle);


/* this worker's readers */
static ngx_api_led_stream_worker_t  *ngx_api_led_stream_worker;


static ngx_str_t  ngx_api_led_stream_type = ngx_string("text/event-stream");

/* no proxy between may cache or hold back the stream */
static ngx_api_led_edit_name_t  ngx_api_led_stream_headers[] = {
    { ngx_string("Cache-Control"), ngx_string("cache-control"), 0 },
    { ngx_string("X-Accel-Buffering"), ngx_string("x-accel-buffering"), 0 }
};

static ngx_str_t  ngx_api_led_stream_header_values[] = {
    ngx_string("no-cache"),
    ngx_string("no")
};

#define NGX_API_LED_STREAM_NHEADERS                                           \
    (sizeof(ngx_api_led_stream_header_values) / sizeof(ngx_str_t))
static ngx_str_t  ngx_api_led_stream_h_last_id = ngx_string("Last-Event-ID");

/* the largest stream id: Redis adds no entry after it */
static ngx_str_t  ngx_api_led_stream_top_id =
    ngx_string("18446744073709551615-18446744073709551615");


static ngx_http_module_t  ngx_api_led_event_stream_module_ctx = {
    ngx_api_led_stream_preconf,            /* preconfiguration */
    NULL,                                  /* postconfiguration */

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

    if (ngx_api_led_stream_worker == NULL || r != r->main) {
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

        /*
         * answered here, not through nginx's error page: the problem
         * filters run only where the module's policies are used, and a
         * stream location may have none
         */
        if (ngx_api_led_event_id_valid(&id) != NGX_OK) {
            return ngx_api_led_problem_send(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_last_event_id",
                                            "Last-Event-ID is not a stream "
                                            "id (MILLISECONDS-SEQUENCE)");
        }

        /*
         * No entry can follow it: nothing to resume, and reading after it
         * is an error Redis would answer every second, for ever
         */
        if (ngx_api_led_event_id_cmp(&id, &ngx_api_led_stream_top_id) == 0) {
            return ngx_api_led_problem_send(r, NGX_HTTP_BAD_REQUEST,
                                            "invalid_last_event_id",
                                            "Last-Event-ID is the largest "
                                            "stream id: no entry can follow "
                                            "it");
        }
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_type = ngx_api_led_stream_type;
        r->headers_out.content_type_len = ngx_api_led_stream_type.len;
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    sub = ngx_pcalloc(r->pool, sizeof(ngx_api_led_stream_sub_t));
    if (sub == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sub->request = r;
    sub->conf = lecf->stream;

    ngx_http_set_ctx(r, sub, ngx_api_led_event_stream_module);

    sub->retry.handler = ngx_api_led_stream_retry;
    sub->retry.data = sub;
    sub->retry.log = r->connection->log;
    sub->retry.cancelable = 1;

    sub->start.handler = ngx_api_led_stream_start;
    sub->start.data = sub;
    sub->start.log = r->connection->log;

    sub->heartbeat.handler = ngx_api_led_stream_heartbeat;
    sub->heartbeat.data = sub;
    sub->heartbeat.log = r->connection->log;

    /*
     * Not cancelable: a worker that shuts down waits for it, and it ends
     * the stream in order (an HTTP/2 stream is not closed as idle)
     */
    ngx_add_timer(&sub->heartbeat, sub->conf->heartbeat);

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

    if (id.len) {
        ngx_api_led_stream_id_set(&sub->last, &id);
        sub->resumed = 1;
    }

    r->main->count++;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_api_led_stream_writer;

    /* a worker that shuts down closes idle connections: this one too */
    if (r->stream == NULL) {
        r->connection->idle = 1;
    }

    /* it starts out of the content handler: it may end at once */
    ngx_post_event(&sub->start, &ngx_posted_events);

    return NGX_DONE;
}


static void
ngx_api_led_stream_start(ngx_event_t *ev)
{
    ngx_api_led_stream_sub_t *sub = ev->data;

    ngx_uint_t                    waits;
    ngx_api_led_stream_reader_t  *rd;

    rd = sub->reader;
    waits = !sub->resumed;

    /* the subscriber may be closed (and freed) there */
    ngx_api_led_stream_begin(sub);

    /*
     * A reader whose reads Redis refuses waits up to 30 s before the next
     * one: a new subscriber that waits for where the stream ends is not
     * held that long, the reader reads now (503 while it is refused, the
     * stream once the key or the ACL is fixed)
     */

    if (waits && rd->last.len == 0 && rd->read_refused
        && rd->retry.timer_set)
    {
        ngx_del_timer(&rd->retry);
    }

    if (!rd->reading && !rd->retry.timer_set && !rd->fanout.posted) {
        ngx_api_led_stream_read(rd);
    }
}


/* the request goes away: it leaves its reader; its command's reply finds
   nobody */

static void
ngx_api_led_stream_cleanup(void *data)
{
    ngx_api_led_stream_sub_t *sub = data;

    sub->done = 1;

    if (sub->reader) {
        ngx_queue_remove(&sub->queue);
        sub->reader = NULL;
    }

    if (sub->ticket) {
        sub->ticket->sub = NULL;
        sub->ticket = NULL;
    }

    if (sub->start.posted) {
        ngx_delete_posted_event(&sub->start);
    }

    if (sub->heartbeat.timer_set) {
        ngx_del_timer(&sub->heartbeat);
    }

    if (sub->retry.timer_set) {
        ngx_del_timer(&sub->retry);
    }
}


/*
 * Where a subscriber starts.  Resuming: the headers at once, then the
 * entries after its id.  Else where the reader is, once it knows: the
 * headers go out then, so that what is published after the client saw
 * them reaches it.
 */

static void
ngx_api_led_stream_begin(ngx_api_led_stream_sub_t *sub)
{
    ngx_str_t                     s;
    ngx_api_led_stream_reader_t  *rd;

    rd = sub->reader;

    if (sub->resumed) {
        sub->state = NGX_API_LED_STREAM_CATCHUP;

        if (ngx_api_led_stream_send_headers(sub) != NGX_OK) {
            /* closed */
            return;
        }

        ngx_api_led_stream_next(sub);
        return;
    }

    if (rd->last.len == 0) {
        sub->state = NGX_API_LED_STREAM_START;
        return;
    }

    s.data = rd->last.data;
    s.len = rd->last.len;
    ngx_api_led_stream_id_set(&sub->last, &s);

    sub->state = NGX_API_LED_STREAM_LIVE;

    (void) ngx_api_led_stream_send_headers(sub);
}


/*
 * Catching up: for a resumed stream, first whether entries were trimmed
 * past its id; then the next page after what the subscriber has, while
 * it reads (half its buffer free) and no command of its own is on its
 * way.
 */

static void
ngx_api_led_stream_next(ngx_api_led_stream_sub_t *sub)
{
    u_char                       *p, count[NGX_INT_T_LEN];
    ngx_int_t                     rc;
    ngx_str_t                     args[6];
    ngx_api_led_redis_t          *redis;
    ngx_api_led_stream_ticket_t  *t;
    u_char                        from[NGX_API_LED_STREAM_ID_MAX + 1];

    if (sub->state != NGX_API_LED_STREAM_CATCHUP || sub->ticket
        || sub->retry.timer_set || sub->done
        || sub->pending > sub->conf->buffer / 2)
    {
        return;
    }

    if (sub->skip) {
        /* the entry after its id is too large to read: what is its id? */
        p = ngx_cpymem(from, "(", 1);
        p = ngx_cpymem(p, sub->last.data, sub->last.len);

        args[0].data = from;
        args[0].len = p - from;

        redis = ngx_api_led_stream_pages(&sub->conf->key);
        t = ngx_api_led_stream_ticket(sub);

        rc = (t == NULL) ? NGX_ERROR
             : ngx_api_led_event_next_id(redis, &sub->conf->key, &args[0],
                                         ngx_api_led_stream_skip_reply, t);

        if (rc == NGX_AGAIN) {
            sub->ticket = t;
            return;
        }

        ngx_free(t);
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY);
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
        args[5].len = ngx_sprintf(count, "%d",
                                  sub->single ? 1 : NGX_API_LED_EVENT_COUNT)
                      - count;

        rc = ngx_api_led_stream_command(sub, 6, args,
                                        ngx_api_led_stream_page_reply);
    }

    if (rc != NGX_OK) {
        /* Redis away: the subscriber waits, with its heartbeats */
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY);
    }
}


static ngx_int_t
ngx_api_led_stream_command(ngx_api_led_stream_sub_t *sub, ngx_uint_t nargs,
    ngx_str_t *args, ngx_api_led_redis_handler_pt handler)
{
    ngx_int_t                     rc;
    ngx_api_led_redis_t          *redis;
    ngx_api_led_redis_cmd_t       cmd;
    ngx_api_led_stream_ticket_t  *t;

    redis = ngx_api_led_stream_pages(&sub->conf->key);
    if (redis == NULL) {
        return NGX_ERROR;
    }

    t = ngx_api_led_stream_ticket(sub);
    if (t == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = handler;
    cmd.data = t;
    cmd.key = 1 + (nargs == 3);
    cmd.errors = 1;

    rc = ngx_api_led_redis_command(redis, &cmd, nargs, args);

    if (rc != NGX_AGAIN) {
        ngx_free(t);
        return NGX_ERROR;
    }

    sub->ticket = t;

    return NGX_OK;
}


/*
 * The client of the subscribers' catch-ups (XINFO, XRANGE pages, the id
 * of an entry too large), made on first use: not the worker's shared
 * connection, as a reply too large fails the connection it comes on
 * (twice to skip an entry: its page, then itself alone), and the rate
 * limits' calls on it would get their on_error, in flight and while its
 * circuit is open.  A catch-up that fails here is made again in a second.
 * A client for blocking reads: it loads no script, and its timers never
 * hold a worker that shuts down; the key is not its own, any stream's
 * commands go on it.
 */

static ngx_api_led_redis_t *
ngx_api_led_stream_pages(ngx_str_t *key)
{
    ngx_api_led_stream_worker_t  *wk;

    wk = ngx_api_led_stream_worker;

    if (wk->pages == NULL) {
        wk->pages = ngx_api_led_redis_create_blocking(
                                                (ngx_cycle_t *) ngx_cycle,
                                                wk->conf->redis, key);
    }

    return wk->pages;
}


static ngx_api_led_stream_ticket_t *
ngx_api_led_stream_ticket(ngx_api_led_stream_sub_t *sub)
{
    ngx_api_led_stream_ticket_t  *t;

    t = ngx_alloc(sizeof(ngx_api_led_stream_ticket_t),
                  sub->request->connection->log);
    if (t == NULL) {
        return NULL;
    }

    t->sub = sub;

    return t;
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


/*
 * XINFO STREAM: entries were removed (entries-added > length) and the
 * first one kept is after the subscriber's id: entries it never saw may
 * be gone (Redis 7.0 does not tell which ones trimming removed).  It is
 * told so, and goes on with what is left.  No stream ("ERR no such
 * key"): nothing gone.
 */

static void
ngx_api_led_stream_info_reply(void *data, redisReply *reply)
{
    u_char                    *p;
    size_t                     i;
    ngx_str_t                  first;
    long long                  added, length;
    redisReply                *k, *v;
    ngx_api_led_stream_sub_t  *sub;
    u_char                     text[NGX_API_LED_STREAM_ID_MAX + 64];

    sub = ngx_api_led_stream_ticket_done(data);
    if (sub == NULL) {
        return;
    }

    if (reply == NULL
        && ngx_api_led_redis_too_large(ngx_api_led_stream_worker->pages))
    {
        /* its first or last entry is too large to read: no check */
        sub->gap_checked = 1;
        ngx_api_led_stream_next(sub);
        return;
    }

    if (reply == NULL || ngx_api_led_redis_not_ready(reply)) {
        /*
         * LOADING, BUSY say nothing of the stream yet: it is asked again.
         * Another error ("no such key": nothing is gone; an ACL user that
         * may not ask) will not go: the stream goes on without the check.
         */
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY);
        return;
    }

    sub->gap_checked = 1;

    ngx_str_null(&first);
    added = 0;
    length = 0;

    if (reply->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < reply->elements; i += 2) {
            k = reply->element[i];
            v = reply->element[i + 1];

            if (k->type != REDIS_REPLY_STRING) {
                continue;
            }

            if (k->len == sizeof("entries-added") - 1
                && ngx_strncmp(k->str, "entries-added", k->len) == 0
                && v->type == REDIS_REPLY_INTEGER)
            {
                added = v->integer;

            } else if (k->len == sizeof("length") - 1
                       && ngx_strncmp(k->str, "length", k->len) == 0
                       && v->type == REDIS_REPLY_INTEGER)
            {
                length = v->integer;

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

    if (added > length
        && first.len
        && ngx_api_led_event_id_valid(&first) == NGX_OK
        && ngx_api_led_stream_id_cmp(&sub->last, &first) < 0)
    {
        p = ngx_sprintf(text, ": trimmed, entries before %V may be gone\n\n",
                        &first);

        if (ngx_api_led_stream_write(sub, text, p - text) != NGX_OK) {
            return;
        }
    }

    ngx_api_led_stream_next(sub);
}


/* XRANGE KEY (ID + COUNT N: a page of entries after the subscriber's */

static void
ngx_api_led_stream_page_reply(void *data, redisReply *reply)
{
    ngx_int_t                     full, rc;
    ngx_str_t                    *key;
    ngx_uint_t                    sent;
    ngx_api_led_stream_sub_t     *sub;
    ngx_api_led_stream_batch_t    page;
    ngx_api_led_stream_reader_t  *rd;

    sub = ngx_api_led_stream_ticket_done(data);
    if (sub == NULL) {
        return;
    }

    if (reply == NULL
        && ngx_api_led_stream_too_large(ngx_api_led_stream_worker->pages,
                                        &sub->single)
           == 2)
    {
        sub->skip = 1;
    }

    if (reply && reply->type == REDIS_REPLY_ERROR
        && !ngx_api_led_redis_not_ready(reply))
    {
        ngx_api_led_stream_refused(sub, "catching up", reply);
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        /* after a reply too large, its connection comes back first */
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY);
        return;
    }

    sub->refused = 0;
    sub->reader->refused = 0;

    if (ngx_api_led_stream_format(reply, &page, sub->request->connection->log)
        != NGX_OK)
    {
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY);
        return;
    }

    full = (reply->elements >= (sub->single ? 1 : NGX_API_LED_EVENT_COUNT));

    if (sub->single && reply->elements) {
        sub->single--;
    }

    sent = 0;
    rd = sub->reader;
    key = &sub->conf->key;

    /* the subscriber may be closed (and freed) there */
    rc = ngx_api_led_stream_emit(sub, &page, &sent);

    ngx_free(page.msgs);

    ngx_api_led_event_count(ngx_api_led_stream_worker->conf, key,
                            "streamed", sent);

    if (rc != NGX_OK) {
        return;
    }

    /*
     * The end of the stream: live, unless the reader handed out entries
     * past it meanwhile (its reply came first): then one more page.
     * Nothing comes after the largest id (a producer may give it).
     */

    if ((!full || ngx_api_led_stream_id_top(&sub->last))
        && (rd->last.len == 0
            || ngx_api_led_stream_id_cmp(&sub->last,
                                         &(ngx_str_t) { rd->last.len,
                                                        rd->last.data })
               >= 0))
    {
        sub->state = NGX_API_LED_STREAM_LIVE;
        return;
    }

    ngx_api_led_stream_next(sub);
}


/*
 * An error reply to a catch-up read that waiting a second would not
 * change (WRONGTYPE: the key holds no stream; NOPERM: the ACL user may
 * not XRANGE, or not EVAL the script that skips an entry too large):
 * asked again less and less often, 1 s doubled up to 30 s, with the
 * heartbeats going on, until it is read (the key or the ACL fixed).  Not
 * ended: the client would come back with the same Last-Event-ID 2 s
 * later (retry:) and meet the same reply.  Logged on the first refusal of
 * the stream's reader, again once a page was read, as the reader logs its
 * failures: not once for every subscriber.
 */

static void
ngx_api_led_stream_refused(ngx_api_led_stream_sub_t *sub, const char *what,
    redisReply *reply)
{
    ngx_msec_t  after;

    after = ngx_api_led_event_backoff(sub->refused++);

    if (sub->reader->refused++ == 0) {
        ngx_api_led_event_log_refused(sub->request->connection->log,
                                      "event stream", &sub->conf->key, what,
                                      reply, after);
    }

    ngx_add_timer(&sub->retry, after);
}


/* the id of the entry too large to read: the subscriber goes past it */

static void
ngx_api_led_stream_skip_reply(void *data, redisReply *reply)
{
    ngx_str_t                  id;
    ngx_api_led_stream_sub_t  *sub;

    sub = ngx_api_led_stream_ticket_done(data);
    if (sub == NULL) {
        return;
    }

    if (reply && reply->type == REDIS_REPLY_ERROR
        && !ngx_api_led_redis_not_ready(reply))
    {
        ngx_api_led_stream_refused(sub, "skipping an entry too large to "
                                   "read", reply);
        return;
    }

    if (ngx_api_led_event_next_id_reply(reply, &id) == NGX_OK
        && ngx_api_led_stream_id_cmp(&sub->last, &id) < 0)
    {
        ngx_api_led_stream_skipped(&sub->conf->key, &id);
        ngx_api_led_stream_id_set(&sub->last, &id);

    } else if (reply == NULL || reply->type != REDIS_REPLY_NIL) {
        /* not known: asked again (nil: it is gone meanwhile) */
        ngx_add_timer(&sub->retry, NGX_API_LED_STREAM_RETRY);
        return;
    }

    sub->refused = 0;
    sub->reader->refused = 0;
    sub->skip = 0;
    sub->single = 0;

    ngx_api_led_stream_next(sub);
}


static void
ngx_api_led_stream_retry(ngx_event_t *ev)
{
    ngx_api_led_stream_sub_t *sub = ev->data;

    ngx_api_led_stream_next(sub);
}


static void
ngx_api_led_stream_heartbeat(ngx_event_t *ev)
{
    ngx_api_led_stream_sub_t *sub = ev->data;

    static u_char  beat[] = ": heartbeat\n\n";

    if (ngx_exiting || ngx_terminate) {
        ngx_api_led_stream_end(sub);
        return;
    }

    if (!sub->headers) {
        /* not started yet: the reader's first reply is on its way */
        ngx_add_timer(&sub->heartbeat, sub->conf->heartbeat);
        return;
    }

    (void) ngx_api_led_stream_write(sub, beat, sizeof(beat) - 1);
}


/* the client takes more: what waited goes, then the next page */

static void
ngx_api_led_stream_writer(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_api_led_stream_sub_t  *sub;

    sub = ngx_http_get_module_ctx(r, ngx_api_led_event_stream_module);

    if (sub == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    wev = r->connection->write;

    if (wev->timedout) {
        wev->timedout = 0;
        ngx_api_led_stream_close(sub, "the client took nothing for "
                                      "send_timeout");
        return;
    }

    if (wev->timer_set) {
        /* progress: send_timeout starts again */
        ngx_del_timer(wev);
    }

    if (ngx_api_led_stream_output(sub, NULL) != NGX_OK) {
        return;
    }

    ngx_api_led_stream_next(sub);
}


/* NGX_ERROR: the subscriber is closed (and gone) */

static ngx_int_t
ngx_api_led_stream_send_headers(ngx_api_led_stream_sub_t *sub)
{
    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_http_request_t  *r;

    static u_char  hello[] = "retry: 2000\n\n";

    r = sub->request;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_api_led_stream_type;
    r->headers_out.content_type_len = ngx_api_led_stream_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = -1;

    for (i = 0; i < NGX_API_LED_STREAM_NHEADERS; i++) {
        if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                         &ngx_api_led_stream_headers[i],
                                         NULL,
                                         &ngx_api_led_stream_header_values[i])
            != NGX_OK)
        {
            ngx_api_led_stream_close(sub, NULL);
            return NGX_ERROR;
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_api_led_stream_close(sub, NULL);
        return NGX_ERROR;
    }

    sub->headers = 1;

    return ngx_api_led_stream_write(sub, hello, sizeof(hello) - 1);
}


/* a batch's messages after the subscriber's id, of its types */

static ngx_int_t
ngx_api_led_stream_emit(ngx_api_led_stream_sub_t *sub,
    ngx_api_led_stream_batch_t *batch, ngx_uint_t *sent)
{
    ngx_uint_t                 i;
    ngx_api_led_stream_msg_t  *m;

    for (i = 0; i < batch->n; i++) {
        m = &batch->msgs[i];

        if (ngx_api_led_stream_id_cmp(&sub->last, &m->id) >= 0) {
            continue;
        }

        ngx_api_led_stream_id_set(&sub->last, &m->id);

        if (!ngx_api_led_event_type_wanted(sub->conf->types, &m->type)) {
            continue;
        }

        if (ngx_api_led_stream_write(sub, m->text.data, m->text.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        (*sent)++;
    }

    return NGX_OK;
}


/*
 * Text to the client, in buffers reused once sent.  What it has not taken
 * is bounded: past buffer= its stream is closed (one message larger than
 * buffer= still goes to a client that took everything).  NGX_ERROR: the
 * subscriber is gone.
 */

static ngx_int_t
ngx_api_led_stream_write(ngx_api_led_stream_sub_t *sub, u_char *data,
    size_t len)
{
    size_t        n;
    ngx_buf_t    *b;
    ngx_chain_t  *out, **last, *cl;

    if (sub->pending && sub->pending + len > sub->conf->buffer) {
        ngx_api_led_stream_close(sub, "the client does not read fast "
                                      "enough (buffer= is full)");
        return NGX_ERROR;
    }

    out = NULL;
    last = &out;

    while (len) {
        cl = ngx_chain_get_free_buf(sub->request->pool, &sub->free);
        if (cl == NULL) {
            ngx_api_led_stream_close(sub, NULL);
            return NGX_ERROR;
        }

        b = cl->buf;

        if (b->start == NULL) {
            b->start = ngx_palloc(sub->request->pool,
                                  NGX_API_LED_STREAM_BUF);
            if (b->start == NULL) {
                ngx_api_led_stream_close(sub, NULL);
                return NGX_ERROR;
            }

            b->end = b->start + NGX_API_LED_STREAM_BUF;
        }

        b->pos = b->start;
        b->last = b->start;
        b->temporary = 1;
        b->tag = (ngx_buf_tag_t) &ngx_api_led_event_stream_module;

        n = ngx_min(len, (size_t) (b->end - b->start));
        b->last = ngx_cpymem(b->last, data, n);
        data += n;
        len -= n;

        b->flush = (len == 0);

        *last = cl;
        last = &cl->next;
    }

    ngx_add_timer(&sub->heartbeat, sub->conf->heartbeat);

    return ngx_api_led_stream_output(sub, out);
}


static ngx_int_t
ngx_api_led_stream_output(ngx_api_led_stream_sub_t *sub, ngx_chain_t *out)
{
    size_t                     pending;
    ngx_int_t                  rc;
    ngx_chain_t               *cl;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = sub->request;
    c = r->connection;

    rc = ngx_http_output_filter(r, out);

    if (rc == NGX_ERROR || c->error) {
        ngx_api_led_stream_close(sub, NULL);
        return NGX_ERROR;
    }

    ngx_chain_update_chains(r->pool, &sub->free, &sub->busy, &out,
                            (ngx_buf_tag_t) &ngx_api_led_event_stream_module);

    pending = 0;

    for (cl = sub->busy; cl; cl = cl->next) {
        pending += ngx_buf_size(cl->buf);
    }

    sub->pending = pending;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (pending || c->buffered) {
        /* send_timeout runs from the last progress, not the last event */
        if (!c->write->timer_set && !c->write->delayed) {
            ngx_add_timer(c->write, clcf->send_timeout);
        }

        if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
            ngx_api_led_stream_close(sub, NULL);
            return NGX_ERROR;
        }

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    return NGX_OK;
}


/* the stream ends at once (the client, or its buffer, failed) */

static void
ngx_api_led_stream_close(ngx_api_led_stream_sub_t *sub, const char *reason)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (sub->done) {
        return;
    }

    r = sub->request;

    if (reason) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: event stream \"%V\" closed: %s",
                      &sub->conf->key, reason);
    }

    c = r->connection;

    ngx_api_led_stream_cleanup(sub);

    /* r may be gone after it */
    ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
    ngx_http_run_posted_requests(c);
}


/*
 * The stream ends in order (the worker shuts down): the client resumes.
 * One that never started (the stream could not be read) gets a 503.
 */

static void
ngx_api_led_stream_end(ngx_api_led_stream_sub_t *sub)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (sub->done) {
        return;
    }

    r = sub->request;
    c = r->connection;

    ngx_api_led_stream_cleanup(sub);

    if (sub->headers) {
        rc = ngx_http_send_special(r, NGX_HTTP_LAST);

    } else {
        rc = ngx_api_led_problem_send(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "event_stream_unavailable",
                                      "the event stream cannot be read now");
    }

    /* r may be gone after it */
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the worker's reader of a stream, made on first use */

static ngx_api_led_stream_reader_t *
ngx_api_led_stream_reader(ngx_api_led_stream_worker_t *wk, ngx_str_t *key)
{
    ngx_queue_t                  *q;
    ngx_api_led_stream_reader_t  *rd;

    for (q = ngx_queue_head(&wk->readers);
         q != ngx_queue_sentinel(&wk->readers);
         q = ngx_queue_next(q))
    {
        rd = ngx_queue_data(q, ngx_api_led_stream_reader_t, queue);

        if (rd->key.len == key->len
            && ngx_strncmp(rd->key.data, key->data, key->len) == 0)
        {
            return rd;
        }
    }

    rd = ngx_calloc(sizeof(ngx_api_led_stream_reader_t), ngx_cycle->log);
    if (rd == NULL) {
        return NULL;
    }

    rd->redis = ngx_api_led_redis_create_blocking((ngx_cycle_t *) ngx_cycle,
                                                  wk->conf->redis, key);
    if (rd->redis == NULL) {
        ngx_free(rd);
        return NULL;
    }

    rd->key = *key;     /* the configuration's, which outlives it */
    ngx_queue_init(&rd->subs);

    rd->fanout.handler = ngx_api_led_stream_fanout;
    rd->fanout.data = rd;
    rd->fanout.log = ngx_cycle->log;

    rd->retry.handler = ngx_api_led_stream_reader_retry;
    rd->retry.data = rd;
    rd->retry.log = ngx_cycle->log;
    rd->retry.cancelable = 1;

    ngx_queue_insert_tail(&wk->readers, &rd->queue);

    return rd;
}


/*
 * The reader's next read, while it has subscribers: first where the
 * stream ends (XREVRANGE), then XREAD BLOCK after the last id it read.
 */

static void
ngx_api_led_stream_read(ngx_api_led_stream_reader_t *rd)
{
    u_char                    count[NGX_INT_T_LEN], block[NGX_INT_T_LEN];
    ngx_int_t                 rc;
    ngx_str_t                 args[9];
    ngx_api_led_redis_cmd_t   cmd;
    u_char                    from[NGX_API_LED_STREAM_ID_MAX + 1];

    if (ngx_queue_empty(&rd->subs) || rd->reading) {
        return;
    }

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.data = rd;

    if (rd->skip) {
        /* the next entry (the last one, where it ends) is too large */
        from[0] = '(';
        ngx_memcpy(&from[1], rd->last.data, rd->last.len);

        args[0].data = from;
        args[0].len = rd->last.len ? rd->last.len + 1 : 0;

        rc = ngx_api_led_event_next_id(rd->redis, &rd->key, &args[0],
                                       ngx_api_led_stream_reader_skip, rd);

    } else if (rd->last.len == 0) {
        ngx_str_set(&args[0], "XREVRANGE");
        args[1] = rd->key;
        ngx_str_set(&args[2], "+");
        ngx_str_set(&args[3], "-");
        ngx_str_set(&args[4], "COUNT");
        ngx_str_set(&args[5], "1");

        cmd.handler = ngx_api_led_stream_top_reply;
        cmd.key = 1;
        cmd.errors = 1;

        rc = ngx_api_led_redis_command(rd->redis, &cmd, 6, args);

    } else {
        ngx_str_set(&args[0], "XREAD");
        ngx_str_set(&args[1], "COUNT");
        args[2].data = count;
        args[2].len = ngx_sprintf(count, "%d",
                                  rd->single ? 1 : NGX_API_LED_EVENT_COUNT)
                      - count;
        ngx_str_set(&args[3], "BLOCK");
        args[4].data = block;
        args[4].len = ngx_sprintf(block, "%d", NGX_API_LED_EVENT_BLOCK)
                      - block;
        ngx_str_set(&args[5], "STREAMS");
        args[6] = rd->key;
        args[7].data = rd->last.data;
        args[7].len = rd->last.len;

        cmd.handler = ngx_api_led_stream_read_reply;
        cmd.key = 6;
        cmd.block = NGX_API_LED_EVENT_BLOCK;
        cmd.errors = 1;

        rc = ngx_api_led_redis_command(rd->redis, &cmd, 8, args);
    }

    if (rc != NGX_AGAIN) {
        ngx_api_led_stream_read_failed(rd);
        return;
    }

    rd->reading = 1;
}


/* XREVRANGE KEY + - COUNT 1: the newest entry, or none ("0-0") */

static void
ngx_api_led_stream_top_reply(void *data, redisReply *reply)
{
    ngx_api_led_stream_reader_t *rd = data;

    ngx_str_t    id;
    redisReply  *e;

    rd->reading = 0;

    if (reply == NULL && ngx_api_led_redis_too_large(rd->redis)) {
        /*
         * The last entry is too large to read: only its id is asked, once
         * the connection is back (the subscribers wait for it)
         */
        rd->skip = 1;
        ngx_add_timer(&rd->retry, NGX_API_LED_STREAM_RETRY);
        return;
    }

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_api_led_stream_read_error(rd, reply);
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_api_led_stream_read_failed(rd);
        return;
    }

    ngx_str_set(&id, "0-0");

    if (reply->elements) {
        e = reply->element[0];

        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2
            && e->element[0]->type == REDIS_REPLY_STRING)
        {
            id.data = (u_char *) e->element[0]->str;
            id.len = e->element[0]->len;

            if (ngx_api_led_event_id_valid(&id) != NGX_OK) {
                ngx_str_set(&id, "0-0");
            }
        }
    }

    ngx_api_led_stream_top_found(rd, &id);
}


/* where the stream ends is known: the subscribers waiting for it start */

static void
ngx_api_led_stream_top_found(ngx_api_led_stream_reader_t *rd, ngx_str_t *id)
{
    ngx_queue_t               *q, *next;
    ngx_api_led_stream_sub_t  *sub;

    ngx_api_led_stream_id_set(&rd->last, id);
    rd->failed = 0;
    rd->read_refused = 0;

    /*
     * The waiting subscribers start here (a new one, whose request came in
     * this turn of the event loop, starts from its own posted start).  A
     * live one behind it (its catch-up ended before the reader knew where
     * the stream ends) catches up again.
     */

    for (q = ngx_queue_head(&rd->subs);
         q != ngx_queue_sentinel(&rd->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_api_led_stream_sub_t, queue);

        if (sub->state == NGX_API_LED_STREAM_START) {
            ngx_api_led_stream_begin(sub);

        } else if (sub->state == NGX_API_LED_STREAM_LIVE
                   && ngx_api_led_stream_id_cmp(&sub->last, id) < 0)
        {
            sub->state = NGX_API_LED_STREAM_CATCHUP;
            ngx_api_led_stream_next(sub);
        }
    }

    ngx_post_event(&rd->fanout, &ngx_posted_events);
}


/* XREAD: the new entries (nil: none came while Redis held the read) */

static void
ngx_api_led_stream_read_reply(void *data, redisReply *reply)
{
    ngx_api_led_stream_reader_t *rd = data;

    redisReply  *s;

    rd->reading = 0;

    if (reply == NULL) {
        if (ngx_api_led_stream_too_large(rd->redis, &rd->single) == 2) {
            rd->skip = 1;
        }

        ngx_api_led_stream_read_failed(rd);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_api_led_stream_read_error(rd, reply);
        return;
    }

    rd->failed = 0;
    rd->read_refused = 0;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        s = reply->element[0];

        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2
            || ngx_api_led_stream_format(s->element[1], &rd->batch,
                                         ngx_cycle->log)
               != NGX_OK)
        {
            ngx_api_led_stream_read_failed(rd);
            return;
        }

        if (rd->batch.n) {
            ngx_api_led_stream_id_set(&rd->last,
                                      &rd->batch.msgs[rd->batch.n - 1].id);

            if (rd->single) {
                rd->single--;
            }
        }
    }

    /* handed out, then read again, out of the Redis read loop */
    ngx_post_event(&rd->fanout, &ngx_posted_events);
}


/*
 * The id of the entry too large to read: the reader goes past it, or,
 * when it is the last one, starts there.
 */

static void
ngx_api_led_stream_reader_skip(void *data, redisReply *reply)
{
    ngx_api_led_stream_reader_t *rd = data;

    ngx_str_t  id;

    rd->reading = 0;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_api_led_stream_read_error(rd, reply);
        return;
    }

    if (ngx_api_led_event_next_id_reply(reply, &id) != NGX_OK
        && (reply == NULL || reply->type != REDIS_REPLY_NIL))
    {
        /* not known: asked again */
        ngx_api_led_stream_read_failed(rd);
        return;
    }

    rd->read_refused = 0;
    rd->skip = 0;
    rd->single = 0;

    if (rd->last.len == 0) {
        if (reply->type == REDIS_REPLY_NIL) {
            ngx_str_set(&id, "0-0");
        }

        ngx_api_led_stream_top_found(rd, &id);
        return;
    }

    if (reply->type != REDIS_REPLY_NIL
        && ngx_api_led_stream_id_cmp(&rd->last, &id) < 0)
    {
        /* its live subscribers are behind it: they pass it too */
        ngx_api_led_stream_skipped(&rd->key, &id);
        ngx_api_led_stream_id_set(&rd->last, &id);
    }

    ngx_post_event(&rd->fanout, &ngx_posted_events);
}


/*
 * A read answered NULL: 1 when its reply was too large, and the next
 * NGX_API_LED_EVENT_COUNT entries are now read one by one; 2 when one
 * entry alone is: it is to be skipped; 0: Redis failed.
 */

static ngx_uint_t
ngx_api_led_stream_too_large(ngx_api_led_redis_t *redis, ngx_uint_t *single)
{
    if (!ngx_api_led_redis_too_large(redis)) {
        return 0;
    }

    if (*single == 0) {
        *single = NGX_API_LED_EVENT_COUNT;
        return 1;
    }

    return 2;
}


static void
ngx_api_led_stream_skipped(ngx_str_t *key, ngx_str_t *id)
{
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "api_led: event stream \"%V\": entry %V is larger than "
                  "a reply may be (%d bytes), skipped", key, id,
                  NGX_API_LED_REDIS_MAX_PENDING);
}


/*
 * An error reply to a read of the reader.  LOADING, BUSY, MASTERDOWN (a
 * Redis that cannot answer yet) and UNBLOCKED (its XREAD was ended, the
 * next one tells why) are read again in a second, as a Redis away is.
 * Another one would be the same reply every second (WRONGTYPE: the key
 * holds no stream; NOPERM: the ACL user may not read it): refused.
 */

static void
ngx_api_led_stream_read_error(ngx_api_led_stream_reader_t *rd,
    redisReply *reply)
{
    if (ngx_api_led_redis_not_ready(reply)
        || ngx_api_led_redis_is_error(reply, "UNBLOCKED"))
    {
        ngx_api_led_stream_read_failed(rd);
        return;
    }

    ngx_api_led_stream_read_refused(rd, reply);
}


static void
ngx_api_led_stream_read_failed(ngx_api_led_stream_reader_t *rd)
{
    rd->reading = 0;

    if (rd->failed++ == 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "api_led: reading the event stream \"%V\" failed, "
                      "read again every %d ms", &rd->key,
                      NGX_API_LED_STREAM_RETRY);
    }

    ngx_api_led_stream_read_later(rd, NGX_API_LED_STREAM_RETRY);
}


/*
 * Read again less and less often, as a subscriber's refused catch-up
 * (ngx_api_led_event_backoff()), with the subscribers streaming kept
 * (heartbeats) until the key or the ACL is fixed; the first refusal of a
 * run is logged.  Redis answered: no failure to warn of.
 */

static void
ngx_api_led_stream_read_refused(ngx_api_led_stream_reader_t *rd,
    redisReply *reply)
{
    ngx_msec_t  after;

    rd->reading = 0;
    rd->failed = 0;

    after = ngx_api_led_event_backoff(rd->read_refused);

    if (rd->read_refused++ == 0) {
        ngx_api_led_event_log_refused(ngx_cycle->log, "event stream",
                                      &rd->key, "reading", reply, after);
    }

    ngx_api_led_stream_read_later(rd, after);
}


static void
ngx_api_led_stream_read_later(ngx_api_led_stream_reader_t *rd,
    ngx_msec_t after)
{
    ngx_queue_t               *q, *next;
    ngx_api_led_stream_sub_t  *sub;

    if (!rd->retry.timer_set) {
        ngx_add_timer(&rd->retry, after);
    }

    /*
     * Where the stream ends is not known: the subscribers waiting for it
     * cannot start (those streaming wait, with their heartbeats)
     */

    if (rd->last.len) {
        return;
    }

    for (q = ngx_queue_head(&rd->subs);
         q != ngx_queue_sentinel(&rd->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_api_led_stream_sub_t, queue);

        if (sub->state == NGX_API_LED_STREAM_START) {
            ngx_api_led_stream_end(sub);
        }
    }
}


static void
ngx_api_led_stream_reader_retry(ngx_event_t *ev)
{
    ngx_api_led_stream_read(ev->data);
}


/* the reader's entries to its live subscribers, then the next read */

static void
ngx_api_led_stream_fanout(ngx_event_t *ev)
{
    ngx_api_led_stream_reader_t *rd = ev->data;

    ngx_uint_t                 sent;
    ngx_queue_t               *q, *next;
    ngx_api_led_stream_sub_t  *sub;

    sent = 0;

    if (rd->batch.n) {
        for (q = ngx_queue_head(&rd->subs);
             q != ngx_queue_sentinel(&rd->subs);
             q = next)
        {
            next = ngx_queue_next(q);
            sub = ngx_queue_data(q, ngx_api_led_stream_sub_t, queue);

            if (sub->state == NGX_API_LED_STREAM_LIVE) {
                /* a closed subscriber left the queue: "next" is kept */
                (void) ngx_api_led_stream_emit(sub, &rd->batch, &sent);
            }
        }

        /* one count for the whole fan-out */
        ngx_api_led_event_count(ngx_api_led_stream_worker->conf, &rd->key,
                                "streamed", sent);
    }

    ngx_free(rd->batch.msgs);
    rd->batch.msgs = NULL;
    rd->batch.n = 0;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    ngx_api_led_stream_read(rd);
}


/*
 * A reply's entries as SSE messages, each formatted once.  An entry
 * whose type or event is not one line of text (not published by
 * api_led_event) goes as "event: invalid" without data, so that a client
 * can resume after it.
 */

static ngx_int_t
ngx_api_led_stream_format(redisReply *list, ngx_api_led_stream_batch_t *batch,
    ngx_log_t *log)
{
    u_char                     *p;
    size_t                      len;
    ngx_uint_t                  i, n, ok;
    ngx_api_led_stream_msg_t   *m;
    ngx_api_led_event_entry_t   entries[NGX_API_LED_EVENT_COUNT], *e;

    batch->msgs = NULL;
    batch->n = 0;

    if (ngx_api_led_event_entries(list, entries, NGX_API_LED_EVENT_COUNT, &n)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "api_led: unexpected reply reading an event stream");
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    len = n * sizeof(ngx_api_led_stream_msg_t);

    for (i = 0; i < n; i++) {
        e = &entries[i];
        len += sizeof("id: \nevent: invalid\ndata: \n\n") - 1
               + e->id.len + e->type.len + e->event.len;
    }

    batch->msgs = ngx_alloc(len, log);
    if (batch->msgs == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) (batch->msgs + n);

    for (i = 0; i < n; i++) {
        e = &entries[i];
        m = &batch->msgs[i];

        ok = e->event.len
             && ngx_strlchr(e->event.data, e->event.data + e->event.len,
                            '\n') == NULL
             && ngx_strlchr(e->event.data, e->event.data + e->event.len,
                            '\r') == NULL
             && ngx_strlchr(e->type.data, e->type.data + e->type.len,
                            '\n') == NULL
             && ngx_strlchr(e->type.data, e->type.data + e->type.len,
                            '\r') == NULL;

        m->text.data = p;

        p = ngx_cpymem(p, "id: ", 4);
        m->id.data = p;
        m->id.len = e->id.len;
        p = ngx_cpymem(p, e->id.data, e->id.len);

        p = ngx_cpymem(p, "\nevent: ", 8);
        m->type.data = p;

        if (ok) {
            p = ngx_cpymem(p, e->type.data, e->type.len);
            m->type.len = e->type.len;
            p = ngx_cpymem(p, "\ndata: ", 7);
            p = ngx_cpymem(p, e->event.data, e->event.len);

        } else {
            p = ngx_cpymem(p, "invalid", 7);
            m->type.len = 7;
        }

        p = ngx_cpymem(p, "\n\n", 2);
        m->text.len = p - m->text.data;
    }

    batch->n = n;

    return NGX_OK;
}


static void
ngx_api_led_stream_id_set(ngx_api_led_stream_id_t *id, ngx_str_t *s)
{
    id->len = ngx_min(s->len, NGX_API_LED_STREAM_ID_MAX);
    ngx_memcpy(id->data, s->data, id->len);
}


static ngx_int_t
ngx_api_led_stream_id_cmp(ngx_api_led_stream_id_t *a, ngx_str_t *b)
{
    ngx_str_t  s;

    s.data = a->data;
    s.len = a->len;

    return ngx_api_led_event_id_cmp(&s, b);
}


static ngx_uint_t
ngx_api_led_stream_id_top(ngx_api_led_stream_id_t *id)
{
    return ngx_api_led_stream_id_cmp(id, &ngx_api_led_stream_top_id) == 0;
}


/* api_led_event_stream makes the handler its location's content handler */

static ngx_int_t
ngx_api_led_stream_preconf(ngx_conf_t *cf)
{
    ngx_api_led_event_main_conf_t  *emcf;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_event_module);

    emcf->stream_handler = ngx_api_led_stream_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_stream_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_event_main_conf_t  *emcf;

    ngx_api_led_stream_worker = NULL;

    emcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_event_module);

    if (emcf == NULL || emcf->streams.nelts == 0 || emcf->redis == NULL) {
        return NGX_OK;
    }

    ngx_api_led_stream_worker = ngx_calloc(sizeof(ngx_api_led_stream_worker_t),
                                           cycle->log);
    if (ngx_api_led_stream_worker == NULL) {
        return NGX_ERROR;
    }

    ngx_api_led_stream_worker->conf = emcf;
    ngx_queue_init(&ngx_api_led_stream_worker->readers);

    return NGX_OK;
}


static void
ngx_api_led_stream_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_api_led_stream_reader_t  *rd;

    if (ngx_api_led_stream_worker == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_api_led_stream_worker->readers)) {
        q = ngx_queue_head(&ngx_api_led_stream_worker->readers);
        ngx_queue_remove(q);

        rd = ngx_queue_data(q, ngx_api_led_stream_reader_t, queue);

        if (rd->fanout.posted) {
            ngx_delete_posted_event(&rd->fanout);
        }

        if (rd->retry.timer_set) {
            ngx_del_timer(&rd->retry);
        }

        ngx_api_led_redis_destroy(rd->redis);
        ngx_free(rd->batch.msgs);
        ngx_free(rd);
    }

    if (ngx_api_led_stream_worker->pages) {
        ngx_api_led_redis_destroy(ngx_api_led_stream_worker->pages);
    }

    ngx_free(ngx_api_led_stream_worker);
    ngx_api_led_stream_worker = NULL;
}
