
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Events on Redis Streams: the directives.
 *
 *   api_led_event TYPE stream=KEY [on=2xx|CODE,...] [methods=M,...]
 *       [data=TEMPLATE] [maxlen=N];                  publish (location)
 *   api_led_event_stream KEY [types=T,...] [heartbeat=T] [buffer=SIZE];
 *                                                    subscribe (SSE)
 *   api_led_event_deliver KEY group=NAME to=URI [retries=N]
 *       [dead_letter=KEY] [timeout=T] [claim_after=T] [concurrency=N];
 *                                                    deliver
 *
 * The request paths are modules of their own (ngx_api_led_event.h); this
 * file holds the configuration and what they share: reading stream ids
 * and entries.
 */


#include "ngx_api_led_event.h"


typedef ngx_int_t (*ngx_api_led_event_item_pt)(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, u_char *p, size_t len);


static char *ngx_api_led_event_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_event_list(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, ngx_str_t *value, size_t skip,
    ngx_api_led_event_item_pt item, const char *usage);
static char *ngx_api_led_event_on(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, ngx_str_t *value);
static ngx_int_t ngx_api_led_event_on_item(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, u_char *p, size_t len);
static char *ngx_api_led_event_methods(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, ngx_str_t *value);
static ngx_int_t ngx_api_led_event_method_item(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, u_char *p, size_t len);
static char *ngx_api_led_event_data(ngx_conf_t *cf,
    ngx_api_led_event_conf_t *ec, ngx_str_t *value);
static ngx_int_t ngx_api_led_event_id_number_fits(u_char *p, size_t len);
static char *ngx_api_led_event_stream(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_event_deliver(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_event_name_valid(ngx_str_t *name);
static ngx_int_t ngx_api_led_event_time(ngx_str_t *value, size_t skip,
    ngx_msec_t *ms);
static ngx_int_t ngx_api_led_event_init(ngx_conf_t *cf);
static void *ngx_api_led_event_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_event_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_event_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_api_led_event_describe(ngx_conf_t *cf,
    ngx_api_led_event_loc_conf_t *conf);


static char  *ngx_api_led_event_labels[] = { "stream", "outcome", NULL };


static ngx_command_t  ngx_api_led_event_commands[] = {

    { ngx_string("api_led_event"),
      NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_api_led_event_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_event_stream"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_event_stream,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_event_deliver"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_2MORE,
      ngx_api_led_event_deliver,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_event_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_event_init,                /* postconfiguration */

    ngx_api_led_event_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_event_create_loc_conf,     /* create location configuration */
    ngx_api_led_event_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_api_led_event_module = {
    NGX_MODULE_V1,
    &ngx_api_led_event_module_ctx,         /* module context */
    ngx_api_led_event_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* api_led_event TYPE stream=KEY [on=] [methods=] [data=] [maxlen=] */

static char *
ngx_api_led_event_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_event_loc_conf_t *lecf = conf;

    char                           *rv;
    ngx_str_t                      *value;
    ngx_uint_t                      i;
    ngx_api_led_event_conf_t       *ec;
    ngx_api_led_event_main_conf_t  *emcf;

    value = cf->args->elts;

    if (lecf->events == NULL) {
        lecf->events = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_api_led_event_conf_t));
        if (lecf->events == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ec = ngx_array_push(lecf->events);
    if (ec == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(ec, sizeof(ngx_api_led_event_conf_t));

    rv = ngx_api_led_publish_def_type(cf, &ec->def, &value[1]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        rv = ngx_api_led_publish_def_param(cf, &ec->def, &value[i]);

        if (rv == NGX_API_LED_PUBLISH_NOT_MINE) {

            if (ngx_strncmp(value[i].data, "on=", 3) == 0) {
                rv = ngx_api_led_event_on(cf, ec, &value[i]);

            } else if (ngx_strncmp(value[i].data, "methods=", 8) == 0) {
                rv = ngx_api_led_event_methods(cf, ec, &value[i]);

            } else if (ngx_strncmp(value[i].data, "data=", 5) == 0) {
                rv = ngx_api_led_event_data(cf, ec, &value[i]);

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    rv = ngx_api_led_publish_def_done(cf, &ec->def);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ec->classes == 0 && ec->codes == NULL) {
        /* on=2xx */
        ec->classes = 1 << 2;
    }

    lecf->request |= ec->request;
    lecf->response |= ec->response;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_event_module);
    emcf->events = 1;
    emcf->response |= ec->response;

    return NGX_CONF_OK;
}


/*
 * A parameter that lists items separated by ",": each given to the item
 * handler (NGX_DECLINED: not valid, NGX_ERROR: no memory); an empty list
 * or item is not valid, and the error names what the items may be.
 */

static char *
ngx_api_led_event_list(ngx_conf_t *cf, ngx_api_led_event_conf_t *ec,
    ngx_str_t *value, size_t skip, ngx_api_led_event_item_pt item,
    const char *usage)
{
    u_char     *p, *last, *next;
    ngx_int_t   rc;

    p = value->data + skip;
    last = value->data + value->len;

    if (p == last) {
        goto invalid;
    }

    while (p < last) {
        next = ngx_strlchr(p, last, ',');
        if (next == NULL) {
            next = last;
        }

        rc = item(cf, ec, p, next - p);

        if (rc == NGX_DECLINED) {
            goto invalid;
        }

        if (rc != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        p = next + 1;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\": use %s, separated by \",\"",
                       value, usage);

    return NGX_CONF_ERROR;
}


/* on=2xx,404: status classes and codes */

static char *
ngx_api_led_event_on(ngx_conf_t *cf, ngx_api_led_event_conf_t *ec,
    ngx_str_t *value)
{
    return ngx_api_led_event_list(cf, ec, value, 3, ngx_api_led_event_on_item,
                                  "status classes (2xx) and codes (201)");
}


static ngx_int_t
ngx_api_led_event_on_item(ngx_conf_t *cf, ngx_api_led_event_conf_t *ec,
    u_char *p, size_t len)
{
    ngx_int_t    code;
    ngx_uint_t  *c;

    if (len != 3) {
        return NGX_DECLINED;
    }

    if (p[0] >= '1' && p[0] <= '5' && p[1] == 'x' && p[2] == 'x') {
        ec->classes |= 1 << (p[0] - '0');
        return NGX_OK;
    }

    code = ngx_atoi(p, 3);

    if (code < 100 || code > 599) {
        return NGX_DECLINED;
    }

    if (ec->codes == NULL) {
        ec->codes = ngx_array_create(cf->pool, 2, sizeof(ngx_uint_t));
        if (ec->codes == NULL) {
            return NGX_ERROR;
        }
    }

    c = ngx_array_push(ec->codes);
    if (c == NULL) {
        return NGX_ERROR;
    }

    *c = code;

    return NGX_OK;
}


/* methods=POST,PUT */

static char *
ngx_api_led_event_methods(ngx_conf_t *cf, ngx_api_led_event_conf_t *ec,
    ngx_str_t *value)
{
    return ngx_api_led_event_list(cf, ec, value, 8,
                                  ngx_api_led_event_method_item,
                                  "GET, HEAD, POST, PUT, PATCH, DELETE or "
                                  "OPTIONS");
}


static ngx_int_t
ngx_api_led_event_method_item(ngx_conf_t *cf, ngx_api_led_event_conf_t *ec,
    u_char *p, size_t len)
{
    ngx_uint_t  k;

    k = ngx_api_led_method_index(p, len);

    if (k == NGX_API_LED_NMETHODS) {
        return NGX_DECLINED;
    }

    ec->methods |= ngx_api_led_method_codes[k];

    return NGX_OK;
}


/*
 * data=TEMPLATE: the template language of compositions; its
 * placeholders read the client's body ({request...}) and the response
 * ({response...}).
 */

static char *
ngx_api_led_event_data(ngx_conf_t *cf, ngx_api_led_event_conf_t *ec,
    ngx_str_t *value)
{
    ngx_str_t                s;
    ngx_uint_t               i;
    ngx_api_led_tmpl_seg_t  *seg;

    if (ec->def.data) {
        return "has a duplicate \"data=\"";
    }

    s.data = value->data + 5;
    s.len = value->len - 5;

    if (ngx_api_led_publish_def_data(cf, &ec->def, &s, "the data of event",
                                     &ec->def.type)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    seg = ec->def.data->elts;

    for (i = 0; i < ec->def.data->nelts; i++) {
        if (seg[i].type != NGX_API_LED_SEG_PLACEHOLDER) {
            continue;
        }

        if (seg[i].name.len == 7
            && ngx_strncmp(seg[i].name.data, "request", 7) == 0)
        {
            seg[i].index = NGX_API_LED_EVENT_DOC_REQUEST;
            ec->request = 1;
            continue;
        }

        if (seg[i].name.len == 8
            && ngx_strncmp(seg[i].name.data, "response", 8) == 0)
        {
            seg[i].index = NGX_API_LED_EVENT_DOC_RESPONSE;
            ec->response = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown placeholder \"%V\" in the data of event "
                           "\"%V\": use {request...} or {response...}",
                           &seg[i].text, &ec->def.type);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* api_led_event_stream KEY [types=T,...] [heartbeat=T] [buffer=SIZE] */

static char *
ngx_api_led_event_stream(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_event_loc_conf_t *lecf = conf;

    char                              *rv;
    u_char                            *p, *last, *next;
    ssize_t                            size;
    ngx_str_t                         *value, *t, s;
    ngx_uint_t                         i;
    ngx_api_led_event_def_t            probe;
    ngx_api_led_event_main_conf_t     *emcf;
    ngx_api_led_event_stream_conf_t   *sc, **sp;

    if (lecf->stream) {
        return "is duplicate";
    }

    value = cf->args->elts;

    sc = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_event_stream_conf_t));
    if (sc == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the key as stream= checks it */

    ngx_memzero(&probe, sizeof(ngx_api_led_event_def_t));

    if (ngx_api_led_publish_def_stream(cf, &probe, &value[1])
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    sc->key = probe.stream;
    sc->heartbeat = NGX_API_LED_EVENT_HEARTBEAT;
    sc->buffer = NGX_API_LED_EVENT_BUFFER;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "types=", 6) == 0) {
            sc->types = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
            if (sc->types == NULL) {
                return NGX_CONF_ERROR;
            }

            p = value[i].data + 6;
            last = value[i].data + value[i].len;

            while (p < last) {
                next = ngx_strlchr(p, last, ',');
                if (next == NULL) {
                    next = last;
                }

                t = ngx_array_push(sc->types);
                if (t == NULL) {
                    return NGX_CONF_ERROR;
                }

                t->data = p;
                t->len = next - p;

                if (ngx_api_led_publish_def_type(cf, &probe, t)
                    != NGX_CONF_OK)
                {
                    return NGX_CONF_ERROR;
                }

                p = next + 1;
            }

            if (sc->types->nelts == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "heartbeat=", 10) == 0) {
            if (ngx_api_led_event_time(&value[i], 10, &sc->heartbeat)
                != NGX_OK)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size < 1024) {
                goto invalid;
            }

            sc->buffer = size;
            continue;
        }

        goto invalid;
    }

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_event_module);

    rv = ngx_api_led_content_handler(cf, "api_led_event_stream",
                                     emcf->stream_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    sp = ngx_array_push(&emcf->streams);
    if (sp == NULL) {
        return NGX_CONF_ERROR;
    }

    *sp = sc;
    lecf->stream = sc;

    /* SSE reads Redis: the worker's connections are needed */
    if (ngx_api_led_publish_def_done(cf, &probe) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * api_led_event_deliver KEY group=NAME to=URI [retries=N]
 *     [dead_letter=KEY] [timeout=T] [claim_after=T] [concurrency=N]
 */

static char *
ngx_api_led_event_deliver(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_event_main_conf_t *emcf = conf;

    u_char                             *q;
    ngx_int_t                           n;
    ngx_str_t                          *value, s;
    ngx_uint_t                          i;
    ngx_api_led_event_def_t             probe;
    ngx_api_led_event_deliver_conf_t   *dc, **dp;

    value = cf->args->elts;

    dc = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_event_deliver_conf_t));
    if (dc == NULL) {
        return NGX_CONF_ERROR;
    }

    dc->retries = NGX_API_LED_DELIVER_RETRIES;
    dc->timeout = NGX_API_LED_DELIVER_TIMEOUT;
    dc->claim_after = NGX_API_LED_DELIVER_CLAIM_AFTER;
    dc->concurrency = NGX_API_LED_DELIVER_CONCURRENCY;
    dc->file = cf->conf_file->file.name.data;
    dc->line = cf->conf_file->line;

    ngx_memzero(&probe, sizeof(ngx_api_led_event_def_t));
    ngx_str_set(&probe.type, "deliver");

    s.len = sizeof("stream=") - 1 + value[1].len;
    s.data = ngx_pnalloc(cf->pool, s.len);
    if (s.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(ngx_cpymem(s.data, "stream=", 7), value[1].data,
               value[1].len);

    if (ngx_api_led_publish_def_param(cf, &probe, &s) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    dc->stream = probe.stream;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "group=", 6) == 0) {
            dc->group.data = value[i].data + 6;
            dc->group.len = value[i].len - 6;

            if (!ngx_api_led_event_name_valid(&dc->group)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": use 1 to %d letters, "
                                   "digits, \".\", \"-\", \"_\" and \":\"",
                                   &value[i], NGX_API_LED_NAME_MAX);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "to=", 3) == 0) {
            dc->uri.data = value[i].data + 3;
            dc->uri.len = value[i].len - 3;

            if (dc->uri.len == 0 || dc->uri.data[0] != '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a local URI that starts "
                                   "with \"/\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            q = ngx_strlchr(dc->uri.data, dc->uri.data + dc->uri.len, '?');

            if (q) {
                dc->args.data = q + 1;
                dc->args.len = dc->uri.data + dc->uri.len - (q + 1);
                dc->uri.len = q - dc->uri.data;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "retries=", 8) == 0) {
            n = ngx_atoi(value[i].data + 8, value[i].len - 8);

            if (n == NGX_ERROR || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": 0 to 100", &value[i]);
                return NGX_CONF_ERROR;
            }

            dc->retries = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "concurrency=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);

            if (n == NGX_ERROR || n == 0
                || n > NGX_API_LED_DELIVER_CONCURRENCY_MAX)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": 1 to %d", &value[i],
                                   NGX_API_LED_DELIVER_CONCURRENCY_MAX);
                return NGX_CONF_ERROR;
            }

            dc->concurrency = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "dead_letter=", 12) == 0) {
            s.len = sizeof("stream=") - 1 + value[i].len - 12;
            s.data = ngx_pnalloc(cf->pool, s.len);
            if (s.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(ngx_cpymem(s.data, "stream=", 7), value[i].data + 12,
                       value[i].len - 12);

            probe.stream.len = 0;

            if (ngx_api_led_publish_def_param(cf, &probe, &s)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            dc->dead_letter = probe.stream;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            if (ngx_api_led_event_time(&value[i], 8, &dc->timeout) != NGX_OK)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "claim_after=", 12) == 0) {
            if (ngx_api_led_event_time(&value[i], 12, &dc->claim_after)
                != NGX_OK)
            {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (dc->group.len == 0 || dc->uri.len == 0) {
        return "needs \"group=\" and \"to=\"";
    }

    if (dc->claim_after <= dc->timeout) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"claim_after=\" must be longer than "
                           "\"timeout=\": an entry is claimed from a "
                           "listener that still delivers it otherwise");
        return NGX_CONF_ERROR;
    }

    if (dc->dead_letter.len == dc->stream.len
        && ngx_strncmp(dc->dead_letter.data, dc->stream.data,
                       dc->stream.len) == 0)
    {
        return "has a \"dead_letter=\" stream that is the stream itself";
    }

    /* a server's own listener, else the http block's first server's */
    dc->ctx = (cf->cmd_type == NGX_HTTP_SRV_CONF) ? cf->ctx : NULL;

    for (i = 0; i < emcf->delivers.nelts; i++) {
        dp = emcf->delivers.elts;

        if (dp[i]->stream.len == dc->stream.len
            && ngx_strncmp(dp[i]->stream.data, dc->stream.data,
                           dc->stream.len) == 0
            && dp[i]->group.len == dc->group.len
            && ngx_strncmp(dp[i]->group.data, dc->group.data,
                           dc->group.len) == 0)
        {
            return "is duplicate: the stream and group have a listener "
                   "already";
        }
    }

    dp = ngx_array_push(&emcf->delivers);
    if (dp == NULL) {
        return NGX_CONF_ERROR;
    }

    *dp = dc;

    /* deliveries read Redis: the worker's connections are needed */
    if (ngx_api_led_publish_def_done(cf, &probe) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_api_led_event_name_valid(ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0 || name->len > NGX_API_LED_NAME_MAX) {
        return 0;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (!(isalnum(*p) || *p == '.' || *p == '-' || *p == '_'
              || *p == ':'))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_api_led_event_time(ngx_str_t *value, size_t skip, ngx_msec_t *ms)
{
    ngx_int_t  t;
    ngx_str_t  s;

    s.data = value->data + skip;
    s.len = value->len - skip;

    t = ngx_parse_time(&s, 0);

    if (t == NGX_ERROR || t == 0) {
        return NGX_ERROR;
    }

    *ms = t;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_event_init(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_api_led_event_main_conf_t      *emcf;
    ngx_api_led_event_deliver_conf_t  **dp;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_event_module);

    /* the catalog: the APIs that listeners deliver to consume the streams */

    dp = emcf->delivers.elts;

    for (i = 0; i < emcf->delivers.nelts; i++) {
        if (ngx_api_led_catalog_delivers(cf, dp[i]->ctx, &dp[i]->stream,
                                         &dp[i]->group, &dp[i]->uri)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (emcf->delivers.nelts == 0 && emcf->streams.nelts == 0) {
        return NGX_OK;
    }

    /* the blocking reads' connections are made from it at init_process */
    emcf->redis = ngx_api_led_redis_configured(cf);

    return ngx_api_led_metric_add(cf, &emcf->metric, "api_led_events",
                                  "Events by stream and outcome: published, "
                                  "queued (waited for Redis), dropped, "
                                  "streamed (sent to SSE subscribers), "
                                  "delivered, retried, dead_lettered",
                                  NGX_API_LED_METRIC_COUNTER,
                                  ngx_api_led_event_labels);
}


static void *
ngx_api_led_event_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_event_main_conf_t  *emcf;

    emcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_event_main_conf_t));
    if (emcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&emcf->streams, cf->pool, 2,
                       sizeof(ngx_api_led_event_stream_conf_t *))
        != NGX_OK
        || ngx_array_init(&emcf->delivers, cf->pool, 2,
                          sizeof(ngx_api_led_event_deliver_conf_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return emcf;
}


static void *
ngx_api_led_event_create_loc_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     lecf->events = NULL;
     *     lecf->stream = NULL;
     *     lecf->request = 0;
     *     lecf->response = 0;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_event_loc_conf_t));
}


static char *
ngx_api_led_event_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_event_loc_conf_t *prev = parent;
    ngx_api_led_event_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    if (conf->events == NULL) {
        conf->events = prev->events;
        conf->request = prev->request;
        conf->response = prev->response;
    }

    if (ngx_api_led_event_describe(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * a content handler is the location's own: the stream is not merged
     * into a nested location, but its "if" and limit_except blocks answer
     * with its handler and their own configuration
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->stream == NULL && clcf->noname) {
        conf->stream = prev->stream;
    }

    return NGX_CONF_OK;
}


/*
 * The catalog: the events the API publishes (type, stream, when) and the
 * stream it serves as Server-Sent Events
 */

static ngx_int_t
ngx_api_led_event_describe(ngx_conf_t *cf, ngx_api_led_event_loc_conf_t *conf)
{
    char                             code[4];
    json_t                          *entry, *events, *list, *ev, *on, *types;
    ngx_str_t                       *t;
    ngx_uint_t                       i, k, *codes;
    ngx_api_led_event_conf_t        *ec;
    ngx_api_led_event_stream_conf_t *sc;

    if (conf->events == NULL && conf->stream == NULL) {
        return NGX_OK;
    }

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL) {
        return NGX_OK;
    }

    /* a composition's event parts may have described theirs already */

    events = json_object_get(entry, "events");

    if (events == NULL) {
        events = json_object();

        if (events == NULL || json_object_set_new(entry, "events", events)) {
            return NGX_ERROR;
        }
    }

    if (conf->events) {
        list = json_object_get(events, "publishes");

        if (list == NULL) {
            list = json_array();

            if (list == NULL
                || json_object_set_new(events, "publishes", list))
            {
                return NGX_ERROR;
            }
        }

        ec = conf->events->elts;

        for (i = 0; i < conf->events->nelts; i++) {
            on = json_array();
            ev = json_pack("{s:s%,s:s%,s:o}",
                           "type", ec[i].def.type.data, ec[i].def.type.len,
                           "stream", ec[i].def.stream.data,
                           ec[i].def.stream.len,
                           "on", on);

            if (ev == NULL || json_array_append_new(list, ev)) {
                return NGX_ERROR;
            }

            for (k = 1; k <= 5; k++) {
                if (!(ec[i].classes & (1 << k))) {
                    continue;
                }

                (void) ngx_sprintf((u_char *) code, "%uixx%Z", k);

                if (json_array_append_new(on, json_string(code))) {
                    return NGX_ERROR;
                }
            }

            codes = ec[i].codes ? ec[i].codes->elts : NULL;

            for (k = 0; codes && k < ec[i].codes->nelts; k++) {
                if (json_array_append_new(on, json_integer(codes[k]))) {
                    return NGX_ERROR;
                }
            }
        }
    }

    sc = conf->stream;

    if (sc) {
        ev = json_pack("{s:s%}", "stream", sc->key.data, sc->key.len);

        if (ev == NULL || json_object_set_new(events, "streams", ev)) {
            return NGX_ERROR;
        }

        if (sc->types) {
            types = json_array();

            if (types == NULL || json_object_set_new(ev, "types", types)) {
                return NGX_ERROR;
            }

            t = sc->types->elts;

            for (i = 0; i < sc->types->nelts; i++) {
                if (json_array_append_new(types,
                                          json_stringn((char *) t[i].data,
                                                       t[i].len)))
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


/* what the request paths share */

ngx_int_t
ngx_api_led_event_id_valid(ngx_str_t *id)
{
    u_char      *p, *last, *start;
    ngx_uint_t   dash;

    if (id->len == 0 || id->len > 41) {
        return NGX_ERROR;
    }

    dash = 0;
    start = id->data;
    last = id->data + id->len;

    for (p = id->data; p <= last; p++) {
        if (p < last && *p >= '0' && *p <= '9') {
            continue;
        }

        if (p < last && (*p != '-' || dash)) {
            return NGX_ERROR;
        }

        /* each number (the ms and the sequence) fits 64 bits */

        if (ngx_api_led_event_id_number_fits(start, p - start) != NGX_OK) {
            return NGX_ERROR;
        }

        dash = 1;
        start = p + 1;
    }

    return NGX_OK;
}


/*
 * Redis's stream ids are two unsigned 64-bit numbers: 1 to 20 digits, and
 * 20 digits no more than 18446744073709551615 (compared as text), so that
 * ngx_api_led_event_id_cmp() never wraps.
 */

static ngx_int_t
ngx_api_led_event_id_number_fits(u_char *p, size_t len)
{
    static u_char  max[] = "18446744073709551615";

    if (len == 0 || len > sizeof(max) - 1) {
        return NGX_ERROR;
    }

    if (len == sizeof(max) - 1 && ngx_memcmp(p, max, len) > 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* two valid ids: by their numbers, "MS" being "MS-0" */

ngx_int_t
ngx_api_led_event_id_cmp(ngx_str_t *a, ngx_str_t *b)
{
    u_char      *p, *last;
    uint64_t     n[2][2];
    ngx_str_t   *s;
    ngx_uint_t   i, k;

    for (i = 0; i < 2; i++) {
        s = i ? b : a;
        n[i][0] = 0;
        n[i][1] = 0;
        k = 0;

        last = s->data + s->len;

        for (p = s->data; p < last; p++) {
            if (*p == '-') {
                k = 1;
                continue;
            }

            n[i][k] = n[i][k] * 10 + (*p - '0');
        }
    }

    for (k = 0; k < 2; k++) {
        if (n[0][k] != n[1][k]) {
            return n[0][k] < n[1][k] ? -1 : 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_api_led_event_entries(redisReply *list, ngx_api_led_event_entry_t *entries,
    ngx_uint_t max, ngx_uint_t *n)
{
    size_t                      i, j;
    redisReply                 *e, *id, *fields, *f, *v;
    ngx_api_led_event_entry_t  *entry;

    *n = 0;

    if (list->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    for (i = 0; i < list->elements && *n < max; i++) {
        e = list->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) {
            return NGX_ERROR;
        }

        id = e->element[0];
        fields = e->element[1];

        if (id->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }

        entry = &entries[(*n)++];

        entry->id.data = (u_char *) id->str;
        entry->id.len = id->len;

        /*
         * empty, never NULL: a field that is missing (an entry another
         * producer added) is still text to scan and copy, and NULL plus
         * a length is undefined
         */
        ngx_str_set(&entry->type, "");
        ngx_str_set(&entry->event, "");

        if (ngx_api_led_event_id_valid(&entry->id) != NGX_OK) {
            return NGX_ERROR;
        }

        if (fields->type == REDIS_REPLY_NIL) {
            /* deleted meanwhile */
            continue;
        }

        if (fields->type != REDIS_REPLY_ARRAY) {
            return NGX_ERROR;
        }

        for (j = 0; j + 1 < fields->elements; j += 2) {
            f = fields->element[j];
            v = fields->element[j + 1];

            if (f->type != REDIS_REPLY_STRING
                || v->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            if (f->len == sizeof(NGX_API_LED_EVENT_FIELD_TYPE) - 1
                && ngx_strncmp(f->str, NGX_API_LED_EVENT_FIELD_TYPE,
                               f->len) == 0)
            {
                entry->type.data = (u_char *) v->str;
                entry->type.len = v->len;

            } else if (f->len == sizeof(NGX_API_LED_EVENT_FIELD_EVENT) - 1
                       && ngx_strncmp(f->str, NGX_API_LED_EVENT_FIELD_EVENT,
                                      f->len) == 0)
            {
                entry->event.data = (u_char *) v->str;
                entry->event.len = v->len;
            }
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_api_led_event_next_id(ngx_api_led_redis_t *rd, ngx_str_t *key,
    ngx_str_t *after, ngx_api_led_redis_handler_pt handler, void *data)
{
    ngx_str_t                 args[5];
    ngx_api_led_redis_cmd_t   cmd;

    static ngx_str_t  script = ngx_string(
        "local e "
        "if ARGV[1] == '' then "
        "e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1) "
        "else "
        "e = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', 1) "
        "end "
        "if e[1] then return e[1][1] end "
        "return false");

    ngx_str_set(&args[0], "EVAL");
    args[1] = script;
    ngx_str_set(&args[2], "1");
    args[3] = *key;
    args[4] = *after;

    ngx_memzero(&cmd, sizeof(ngx_api_led_redis_cmd_t));
    cmd.handler = handler;
    cmd.data = data;
    cmd.key = 3;
    cmd.errors = 1;

    return ngx_api_led_redis_command(rd, &cmd, 5, args);
}


ngx_int_t
ngx_api_led_event_next_id_reply(redisReply *reply, ngx_str_t *id)
{
    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    id->data = (u_char *) reply->str;
    id->len = reply->len;

    return ngx_api_led_event_id_valid(id);
}


ngx_int_t
ngx_api_led_event_type_wanted(ngx_array_t *types, ngx_str_t *type)
{
    ngx_str_t   *t;
    ngx_uint_t   i;

    if (types == NULL) {
        return 1;
    }

    t = types->elts;

    for (i = 0; i < types->nelts; i++) {
        if (t[i].len == type->len
            && ngx_strncmp(t[i].data, type->data, type->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_msec_t
ngx_api_led_event_backoff(ngx_uint_t refused)
{
    ngx_msec_t  after;
    ngx_uint_t  i;

    after = NGX_API_LED_EVENT_REFUSED;

    for (i = 0; i < refused && after < NGX_API_LED_EVENT_REFUSED_MAX; i++) {
        after *= 2;
    }

    return ngx_min(after, NGX_API_LED_EVENT_REFUSED_MAX);
}


void
ngx_api_led_event_log_refused(ngx_log_t *log, const char *who,
    ngx_str_t *key, const char *what, redisReply *reply, ngx_msec_t after)
{
    u_char     buf[4 * 256];
    ngx_str_t  msg, text;

    /* it may quote the key */
    text.data = (u_char *) reply->str;
    text.len = ngx_min(reply->len, 256);

    ngx_api_led_log_value_buf(&msg, buf, &text);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "api_led: %s \"%V\": %s failed: \"%V\", asked again after "
                  "%M ms, then less often (up to %d ms)", who, key, what,
                  &msg, after, NGX_API_LED_EVENT_REFUSED_MAX);
}


void
ngx_api_led_event_count(ngx_api_led_event_main_conf_t *emcf,
    ngx_str_t *stream, const char *outcome, ngx_uint_t n)
{
    ngx_str_t  values[2];

    if (emcf->metric == NULL || n == 0) {
        return;
    }

    values[0] = *stream;
    values[1].data = (u_char *) outcome;
    values[1].len = ngx_strlen(outcome);

    ngx_api_led_metric_count(emcf->metric, values, n, ngx_cycle->log);
}
