
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Rate limits: GCRA with two stores.  "redis" keeps one timestamp per key
 * in Redis, shared by every node: all limits of a request are checked and
 * updated by one Lua script, in one round trip, all-or-nothing, on Redis's
 * clock.  "local" keeps the same timestamps in nginx shared memory (one
 * node); it is the store when no api_led_redis is configured, and the
 * fallback of on_error=local.
 *
 * GCRA: a limit of COUNT requests per PERIOD emits one request every
 * T = PERIOD / COUNT; with a tolerance tau = burst * T, a request at "now"
 * is admitted when TAT - now <= tau, TAT being the stored theoretical
 * arrival time (or now if older), and the new TAT is max(TAT, now) + T.
 * So burst + 1 requests may come at once, then one every T.
 */


#include "ngx_api_led_limit.h"


static ngx_int_t ngx_api_led_limit_prepare(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_api_led_limit_loc_conf_t *llcf,
    ngx_api_led_limit_ctx_t *lctx);
static ngx_array_t *ngx_api_led_limit_plan_rates(ngx_api_led_ctx_t *ctx,
    ngx_api_led_limit_conf_t *lc);
static void ngx_api_led_limit_plan_name(ngx_api_led_rate_t *rates,
    ngx_uint_t j, u_char *buf, ngx_str_t *name);
static ngx_str_t *ngx_api_led_limit_period(ngx_api_led_rate_t *rate);
static ngx_int_t ngx_api_led_limit_key_tag(ngx_http_request_t *r,
    ngx_str_t *key, ngx_uint_t addr, ngx_str_t *tag);
static ngx_uint_t ngx_api_led_limit_key_reserved(ngx_str_t *key);
static ngx_int_t ngx_api_led_limit_add_item(ngx_http_request_t *r,
    ngx_api_led_limit_ctx_t *lctx, ngx_str_t *tag, ngx_str_t *prefix,
    ngx_str_t *name, ngx_api_led_rate_t *rate, ngx_uint_t burst,
    ngx_uint_t on_error);
static ngx_int_t ngx_api_led_limit_decide(ngx_http_request_t *r,
    ngx_api_led_limit_ctx_t *lctx);
static void ngx_api_led_limit_count_decisions(ngx_http_request_t *r,
    ngx_api_led_limit_main_conf_t *lmcf, ngx_api_led_limit_ctx_t *lctx,
    ngx_uint_t closed);
static ngx_int_t ngx_api_led_limit_retry_after(ngx_http_request_t *r,
    ngx_msec_t ms);
static ngx_int_t ngx_api_led_limit_set_number(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *name, ngx_uint_t n);
static ngx_api_led_limit_ctx_t *ngx_api_led_limit_get_ctx(
    ngx_http_request_t *r);
static void ngx_api_led_limit_cleanup(void *data);

static ngx_int_t ngx_api_led_limit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_limit_variable_remaining(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_limit_variable_store(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_api_led_limit_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_limit_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_limit_metrics(ngx_conf_t *cf,
    ngx_api_led_limit_main_conf_t *lmcf);
static ngx_int_t ngx_api_led_limit_access(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static void *ngx_api_led_limit_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_limit_create_loc_conf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_limit_describe(ngx_conf_t *cf,
    ngx_api_led_limit_loc_conf_t *conf);
static char *ngx_api_led_limit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_api_led_limit_count(ngx_conf_t *cf,
    ngx_api_led_limit_loc_conf_t *conf);
static ngx_int_t ngx_api_led_limit_hidden_keys(ngx_conf_t *cf,
    ngx_api_led_limit_loc_conf_t *conf);
static char *ngx_api_led_limit_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_api_led_limit_zone_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_api_led_limit_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_limit_add_default(ngx_conf_t *cf,
    ngx_api_led_limit_conf_t *lc, ngx_str_t *text);
static ngx_int_t ngx_api_led_limit_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_limit_exit_process(ngx_cycle_t *cycle);


static ngx_str_t  ngx_api_led_limit_stores[] = {
    ngx_string("none"),
    ngx_string("redis"),
    ngx_string("local")
};

static ngx_api_led_edit_name_t  ngx_api_led_limit_h_limit =
    { ngx_string("RateLimit-Limit"), ngx_string("ratelimit-limit"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_limit_h_remaining =
    { ngx_string("RateLimit-Remaining"), ngx_string("ratelimit-remaining"),
      0 };
static ngx_api_led_edit_name_t  ngx_api_led_limit_h_reset =
    { ngx_string("RateLimit-Reset"), ngx_string("ratelimit-reset"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_limit_h_retry_after =
    { ngx_string("Retry-After"), ngx_string("retry-after"), 0 };


static ngx_conf_num_bounds_t  ngx_api_led_limit_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};

static ngx_str_t  ngx_api_led_limit_periods[] = {
    ngx_string("second"),
    ngx_string("minute"),
    ngx_string("hour"),
    ngx_string("day")
};


/* this worker's state (each worker process has its own), see init_process */
static ngx_api_led_limit_worker_t  *ngx_api_led_limit_worker;


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_command_t  ngx_api_led_limit_commands[] = {

    { ngx_string("api_led_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_limit_rate_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_rate_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_limit_zone_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_rate_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_limit_loc_conf_t, headers),
      NULL },

    { ngx_string("api_led_rate_limit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_limit_loc_conf_t, status),
      &ngx_api_led_limit_status_bounds },

    { ngx_string("api_led_rate_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_limit_loc_conf_t, log_level),
      ngx_api_led_log_levels },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_limit_module_ctx = {
    ngx_api_led_limit_add_variables,       /* preconfiguration */
    ngx_api_led_limit_init,                /* postconfiguration */

    ngx_api_led_limit_create_main_conf,    /* create main configuration */
    ngx_api_led_limit_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_limit_create_loc_conf,     /* create location configuration */
    ngx_api_led_limit_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_api_led_limit_module = {
    NGX_MODULE_V1,
    &ngx_api_led_limit_module_ctx,         /* module context */
    ngx_api_led_limit_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_limit_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_limit_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_api_led_limit_vars[] = {

    { ngx_string("api_led_rate_limit_remaining"), NULL,
      ngx_api_led_limit_variable_remaining, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_rate_limit_store"), NULL,
      ngx_api_led_limit_variable_store, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * The access step.  Called again after a suspension (NGX_AGAIN): the
 * request ctx says where the request stands, so nothing is counted twice.
 */

static ngx_int_t
ngx_api_led_limit_access(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_pool_cleanup_t             *cln;
    ngx_api_led_limit_ctx_t        *lctx;
    ngx_api_led_limit_loc_conf_t   *llcf;
    ngx_api_led_limit_main_conf_t  *lmcf;

    lctx = ngx_api_led_limit_get_ctx(r);

    if (lctx) {
        switch (lctx->state) {

        case NGX_API_LED_LIMIT_WAITING:
            return NGX_AGAIN;

        case NGX_API_LED_LIMIT_REPLIED:
            return ngx_api_led_limit_decide(r, lctx);

        default:
            return NGX_DECLINED;
        }
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_limit_module);

    if (llcf->limits == NULL || llcf->limits->nelts == 0) {
        return NGX_DECLINED;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_api_led_limit_module);

    /* the ctx is a pool cleanup's data: it leaves a batch it waits in */

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_api_led_limit_ctx_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lctx = cln->data;
    ngx_memzero(lctx, sizeof(ngx_api_led_limit_ctx_t));
    lctx->request = r;

    cln->handler = ngx_api_led_limit_cleanup;

    ngx_http_set_ctx(r, lctx, ngx_api_led_limit_module);

    rc = ngx_api_led_limit_prepare(r, ctx, llcf, lctx);
    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (lctx->nitems == 0) {
        lctx->state = NGX_API_LED_LIMIT_DONE;
        return NGX_DECLINED;
    }

    /*
     * The worker's state belongs to the configuration it was made for:
     * without a master process a reconfiguration makes no new one (no
     * init_process), and the limits are then counted locally.
     */

    if (lmcf->redis == NULL
        || ngx_api_led_limit_worker == NULL
        || ngx_api_led_limit_worker->conf != lmcf)
    {
        ngx_api_led_limit_local(r, lmcf, lctx);
        return ngx_api_led_limit_decide(r, lctx);
    }

    rc = ngx_api_led_limit_redis(r, ngx_api_led_limit_worker, lctx);

    if (rc == NGX_AGAIN) {
        lctx->state = NGX_API_LED_LIMIT_WAITING;

        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_request_empty_handler;

        return NGX_AGAIN;
    }

    /* the circuit is open: the failure policy applies without waiting */

    lctx->failed = 1;

    return ngx_api_led_limit_decide(r, lctx);
}


/*
 * The limits that apply to this request, with their keys.  A plan's limits
 * are named after their period ("plan:day"), not their rate: a plan whose
 * rate changes keeps its buckets, and the consumers their usage.
 */

static ngx_int_t
ngx_api_led_limit_prepare(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_api_led_limit_loc_conf_t *llcf, ngx_api_led_limit_ctx_t *lctx)
{
    u_char                     buf[NGX_API_LED_LIMIT_NAME_LEN];
    ngx_str_t                  key, tag, prefix, name;
    ngx_uint_t                 i, j, n, addr;
    ngx_array_t               *rates;
    ngx_api_led_rate_t        *rate;
    ngx_api_led_limit_conf_t  *lc;

    lc = llcf->limits->elts;

    n = 0;

    for (i = 0; i < llcf->limits->nelts; i++) {
        rates = ngx_api_led_limit_plan_rates(ctx, &lc[i]);
        n += lc[i].plan ? (rates ? rates->nelts : 0) : 1;
    }

    if (n == 0) {
        return NGX_OK;
    }

    lctx->items = ngx_pcalloc(r->pool, n * sizeof(ngx_api_led_limit_item_t));
    if (lctx->items == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < llcf->limits->nelts; i++) {

        addr = 0;

        if (lc[i].key) {
            if (ngx_http_complex_value(r, lc[i].key, &key) != NGX_OK) {
                return NGX_ERROR;
            }

            /* an empty key is not limited, as in limit_req */
            if (key.len == 0) {
                continue;
            }

        } else if (ctx->consumer_id.len) {
            key = ctx->consumer_id;

        } else {
            key = r->connection->addr_text;
            addr = 1;
        }

        if (ngx_api_led_limit_key_tag(r, &key, addr, &tag) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!lc[i].plan) {
            ngx_str_null(&prefix);

            if (ngx_api_led_limit_add_item(r, lctx, &tag, &prefix,
                                           &lc[i].name, &lc[i].rate,
                                           lc[i].burst, lc[i].on_error)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        rates = ngx_api_led_limit_plan_rates(ctx, &lc[i]);
        if (rates == NULL) {
            continue;
        }

        rate = rates->elts;
        ngx_str_set(&prefix, "plan:");

        for (j = 0; j < rates->nelts; j++) {
            ngx_api_led_limit_plan_name(rate, j, buf, &name);

            if (ngx_api_led_limit_add_item(r, lctx, &tag, &prefix, &name,
                                           &rate[j], rate[j].count - 1,
                                           lc[i].on_error)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * "plan": the limits of the consumer's plan; without a plan (no consumer,
 * a JWT subject that is no consumer, a consumer without a plan) the
 * default= limits, if any
 */

static ngx_array_t *
ngx_api_led_limit_plan_rates(ngx_api_led_ctx_t *ctx,
    ngx_api_led_limit_conf_t *lc)
{
    if (!lc->plan) {
        return NULL;
    }

    if (ctx->consumer && ctx->consumer->plan) {
        return &ctx->consumer->plan->limits;
    }

    return lc->defaults;
}


/*
 * A plan limit's bucket is named after its period ("day"), not its rate,
 * so that a rate that changes keeps its bucket; a second limit of the same
 * period is "day:2", and so on.
 */

static void
ngx_api_led_limit_plan_name(ngx_api_led_rate_t *rates, ngx_uint_t j,
    u_char *buf, ngx_str_t *name)
{
    ngx_str_t   *period;
    ngx_uint_t   i, n;

    period = ngx_api_led_limit_period(&rates[j]);

    n = 1;

    for (i = 0; i < j; i++) {
        if (rates[i].period == rates[j].period) {
            n++;
        }
    }

    if (n == 1) {
        *name = *period;
        return;
    }

    name->data = buf;
    name->len = ngx_snprintf(buf, NGX_API_LED_LIMIT_NAME_LEN, "%V:%ui",
                             period, n)
                - buf;
}


static ngx_str_t *
ngx_api_led_limit_period(ngx_api_led_rate_t *rate)
{
    switch (rate->period) {

    case 1000:
        return &ngx_api_led_limit_periods[0];

    case 60 * 1000:
        return &ngx_api_led_limit_periods[1];

    case 60 * 60 * 1000:
        return &ngx_api_led_limit_periods[2];

    default:
        return &ngx_api_led_limit_periods[3];
    }
}


/*
 * The KEY of a bucket's api_led:{KEY}:NAME.  A request counted by its
 * address is "addr:ADDR": a consumer id (or a key= value) that reads as
 * an address never shares its buckets.  A long key is replaced by its
 * digest, "sha1:HEX"; so is a key that itself begins with "sha1:" or
 * "addr:", or a client could send a digest or an address so prefixed as
 * its key and share that bucket.
 */

static ngx_int_t
ngx_api_led_limit_key_tag(ngx_http_request_t *r, ngx_str_t *key,
    ngx_uint_t addr, ngx_str_t *tag)
{
    u_char  *p, md[SHA_DIGEST_LENGTH];

    if (addr) {
        p = ngx_pnalloc(r->pool, sizeof("addr:") - 1 + key->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        tag->data = p;
        p = ngx_cpymem(p, "addr:", sizeof("addr:") - 1);
        tag->len = ngx_cpymem(p, key->data, key->len) - tag->data;

        return NGX_OK;
    }

    if (key->len <= NGX_API_LED_LIMIT_KEY_MAX
        && !ngx_api_led_limit_key_reserved(key))
    {
        *tag = *key;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("sha1:") - 1 + 2 * SHA_DIGEST_LENGTH);
    if (p == NULL) {
        return NGX_ERROR;
    }

    SHA1(key->data, key->len, md);

    tag->data = p;
    p = ngx_cpymem(p, "sha1:", sizeof("sha1:") - 1);
    tag->len = ngx_hex_dump(p, md, SHA_DIGEST_LENGTH) - tag->data;

    return NGX_OK;
}


/* the prefixes of the tags the module makes: "sha1:" and "addr:" */

static ngx_uint_t
ngx_api_led_limit_key_reserved(ngx_str_t *key)
{
    return key->len >= sizeof("sha1:") - 1
           && (ngx_strncmp(key->data, "sha1:", sizeof("sha1:") - 1) == 0
               || ngx_strncmp(key->data, "addr:", sizeof("addr:") - 1)
                  == 0);
}


static ngx_int_t
ngx_api_led_limit_add_item(ngx_http_request_t *r,
    ngx_api_led_limit_ctx_t *lctx, ngx_str_t *tag, ngx_str_t *prefix,
    ngx_str_t *name, ngx_api_led_rate_t *rate, ngx_uint_t burst,
    ngx_uint_t on_error)
{
    u_char                    *p;
    size_t                     len;
    ngx_api_led_limit_item_t  *item;

    if (lctx->nitems == NGX_API_LED_LIMIT_MAX) {
        /* nginx -t counts them: never skip one, fail closed */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "api_led: more than %d rate limits for one request",
                      NGX_API_LED_LIMIT_MAX);
        return NGX_ERROR;
    }

    item = &lctx->items[lctx->nitems++];

    len = sizeof("api_led:{}:") - 1 + tag->len + prefix->len + name->len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    item->key.data = p;

    p = ngx_cpymem(p, "api_led:{", sizeof("api_led:{") - 1);
    p = ngx_cpymem(p, tag->data, tag->len);
    p = ngx_cpymem(p, "}:", 2);

    item->name.data = p;

    p = ngx_api_led_cpymem(p, prefix->data, prefix->len);
    p = ngx_cpymem(p, name->data, name->len);

    item->name.len = p - item->name.data;
    item->key.len = p - item->key.data;

    item->interval = (uint64_t) rate->period * 1000 / rate->count;

    if (item->interval == 0) {
        item->interval = 1;
    }

    item->tau = burst * item->interval;
    item->limit = burst + 1;
    item->on_error = on_error;

    return NGX_OK;
}


/* the verdict: let the request go on, or answer 429 / 503 */

static ngx_int_t
ngx_api_led_limit_decide(ngx_http_request_t *r, ngx_api_led_limit_ctx_t *lctx)
{
    ngx_uint_t                      i, closed, local, admitted;
    ngx_msec_t                      ms;
    ngx_api_led_limit_item_t       *item, *best;
    ngx_api_led_limit_worker_t     *wk;
    ngx_api_led_limit_loc_conf_t   *llcf;
    ngx_api_led_limit_main_conf_t  *lmcf;

    lctx->state = NGX_API_LED_LIMIT_DONE;

    lmcf = ngx_http_get_module_main_conf(r, ngx_api_led_limit_module);
    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_limit_module);

    /* a failure is Redis's: only then the worker's state is there */
    wk = ngx_api_led_limit_worker;

    item = lctx->items;

    if (lctx->failed) {
        closed = 0;
        local = 0;

        for (i = 0; i < lctx->nitems; i++) {
            if (item[i].on_error == NGX_API_LED_LIMIT_ON_ERROR_CLOSED) {
                closed = 1;

            } else if (item[i].on_error == NGX_API_LED_LIMIT_ON_ERROR_LOCAL) {
                local = 1;
            }
        }

        if (closed) {
            ngx_api_led_limit_count_decisions(r, lmcf, lctx, 1);

            lctx->store = NGX_API_LED_LIMIT_STORE_NONE;

            ms = ngx_api_led_redis_retry_after(wk->redis);

            if (ngx_api_led_limit_retry_after(r, ms) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_api_led_problem_refuse(r,
                                          NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "rate_limit_unavailable",
                                          "the rate limit cannot be checked "
                                          "now, retry later");
        }

        /* one warning per outage and worker, not one per request */

        if (wk->warned != ngx_api_led_redis_outage(wk->redis)) {
            wk->warned = ngx_api_led_redis_outage(wk->redis);

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "api_led: redis unavailable, rate limits %s "
                          "until it is back",
                          local ? "with on_error=local are counted on this "
                                  "node only, others are not enforced"
                                : "are not enforced (on_error=open)");
        }

        if (!local) {
            ngx_api_led_limit_count_decisions(r, lmcf, lctx, 0);

            lctx->store = NGX_API_LED_LIMIT_STORE_NONE;
            return NGX_DECLINED;
        }

        for (i = 0; i < lctx->nitems; i++) {
            item[i].skip =
                   (item[i].on_error != NGX_API_LED_LIMIT_ON_ERROR_LOCAL);
        }

        ngx_api_led_limit_local(r, lmcf, lctx);
    }

    ngx_api_led_limit_count_decisions(r, lmcf, lctx, 0);

    admitted = 1;
    best = NULL;

    for (i = 0; i < lctx->nitems; i++) {
        if (!item[i].skip && item[i].retry) {
            admitted = 0;

            if (best == NULL || item[i].retry > best->retry) {
                best = &item[i];
            }
        }
    }

    if (admitted) {
        for (i = 0; i < lctx->nitems; i++) {
            if (item[i].skip) {
                continue;
            }

            if (best == NULL
                || item[i].remaining < best->remaining
                || (item[i].remaining == best->remaining
                    && item[i].reset > best->reset))
            {
                best = &item[i];
            }
        }
    }

    if (best == NULL) {
        return NGX_DECLINED;
    }

    lctx->limited = 1;
    lctx->headers = llcf->headers ? 1 : 0;
    lctx->limit = best->limit;
    lctx->remaining = best->remaining;
    lctx->reset = best->reset;

    if (admitted) {
        return NGX_DECLINED;
    }

    ngx_log_error(llcf->log_level, r->connection->log, 0,
                  "api_led: limiting requests, limit \"%V\", retry in %M ms",
                  &best->name, best->retry);

    if (ngx_api_led_limit_retry_after(r, best->retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_api_led_problem_refuse(r, llcf->status, "rate_limited",
                                      "too many requests, retry in %M s",
                                      (best->retry + 999) / 1000);
}


/*
 * api_led_rate_limit_decisions_total: what each limit of the request
 * decided, in the store that decided it.  When Redis failed, the limits
 * counted locally (on_error=local) are the local store's; the others are
 * Redis's decisions not taken: "open" (not enforced), or "unavailable"
 * when one of the request's limits is on_error=closed (503).
 */

static void
ngx_api_led_limit_count_decisions(ngx_http_request_t *r,
    ngx_api_led_limit_main_conf_t *lmcf, ngx_api_led_limit_ctx_t *lctx,
    ngx_uint_t closed)
{
    ngx_str_t                  values[4];
    ngx_uint_t                 i, store;
    ngx_api_led_loc_conf_t    *alcf;
    ngx_api_led_limit_item_t  *item;

    static ngx_str_t  outcomes[] = {
        ngx_string("allowed"), ngx_string("limited"),
        ngx_string("open"), ngx_string("unavailable")
    };

    if (lmcf->decisions == NULL) {
        return;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    values[0] = alcf->api;

    item = lctx->items;

    for (i = 0; i < lctx->nitems; i++) {
        values[1] = item[i].name;

        if (!lctx->failed) {
            store = lctx->store;
            values[3] = outcomes[item[i].retry ? 1 : 0];

        } else if (closed) {
            store = NGX_API_LED_LIMIT_STORE_REDIS;
            values[3] = outcomes[3];

        } else if (item[i].on_error == NGX_API_LED_LIMIT_ON_ERROR_LOCAL) {
            store = NGX_API_LED_LIMIT_STORE_LOCAL;
            values[3] = outcomes[item[i].retry ? 1 : 0];

        } else {
            store = NGX_API_LED_LIMIT_STORE_REDIS;
            values[3] = outcomes[2];
        }

        values[2] = ngx_api_led_limit_stores[store];

        ngx_api_led_metric_count(lmcf->decisions, values, 1,
                                 r->connection->log);
    }
}


/* Retry-After: whole seconds, at least one */

static ngx_int_t
ngx_api_led_limit_retry_after(ngx_http_request_t *r, ngx_msec_t ms)
{
    return ngx_api_led_limit_set_number(r, &ngx_api_led_limit_h_retry_after,
                                        ms ? (ms + 999) / 1000 : 1);
}


static ngx_int_t
ngx_api_led_limit_set_number(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *name, ngx_uint_t n)
{
    u_char     *p;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_api_led_uint_dump(p, n) - p;

    return ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET, name, NULL,
                                        &value);
}


static ngx_api_led_limit_ctx_t *
ngx_api_led_limit_get_ctx(ngx_http_request_t *r)
{
    ngx_api_led_limit_ctx_t  *lctx;

    lctx = ngx_http_get_module_ctx(r->main, ngx_api_led_limit_module);

    if (lctx) {
        return lctx;
    }

    return ngx_api_led_ctx_recover(r, &ngx_api_led_limit_module,
                                   ngx_api_led_limit_cleanup);
}


/* the request goes away: a reply still to come finds nobody */

static void
ngx_api_led_limit_cleanup(void *data)
{
    ngx_api_led_limit_ctx_t  *lctx = data;

    ngx_api_led_limit_redis_forget(lctx);
}


static ngx_int_t
ngx_api_led_limit_header_filter(ngx_http_request_t *r)
{
    ngx_api_led_limit_ctx_t  *lctx;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    lctx = ngx_api_led_limit_get_ctx(r);

    if (lctx == NULL || !lctx->limited || !lctx->headers) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_api_led_limit_set_number(r, &ngx_api_led_limit_h_limit,
                                     lctx->limit)
        != NGX_OK
        || ngx_api_led_limit_set_number(r, &ngx_api_led_limit_h_remaining,
                                        lctx->remaining)
           != NGX_OK
        || ngx_api_led_limit_set_number(r, &ngx_api_led_limit_h_reset,
                                        (lctx->reset + 999) / 1000)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_api_led_limit_variable_remaining(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    ngx_api_led_limit_ctx_t  *lctx;

    lctx = ngx_api_led_limit_get_ctx(r);

    if (lctx == NULL || !lctx->limited) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", lctx->remaining) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_limit_variable_store(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_uint_t                store;
    ngx_api_led_limit_ctx_t  *lctx;

    lctx = ngx_api_led_limit_get_ctx(r);

    store = (lctx && lctx->state == NGX_API_LED_LIMIT_DONE)
            ? lctx->store : NGX_API_LED_LIMIT_STORE_NONE;

    v->len = ngx_api_led_limit_stores[store].len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ngx_api_led_limit_stores[store].data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_limit_add_variables(ngx_conf_t *cf)
{
    return ngx_api_led_add_variable_table(cf, ngx_api_led_limit_vars);
}


/*
 * A request's limits are checked together, at most NGX_API_LED_LIMIT_MAX:
 * the location's own and, for each "plan", as many as the largest plan of
 * the consumers file has, or its default= limits if more (the file is read
 * by now: it is an http-level directive and locations are merged after the
 * http block).
 */

static ngx_int_t
ngx_api_led_limit_count(ngx_conf_t *cf, ngx_api_led_limit_loc_conf_t *conf)
{
    ngx_uint_t                 i, own, plans, largest, n;
    ngx_api_led_limit_conf_t  *lc;
    ngx_api_led_main_conf_t   *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    lc = conf->limits->elts;
    own = 0;
    plans = 0;
    n = 0;

    for (i = 0; i < conf->limits->nelts; i++) {
        if (!lc[i].plan) {
            own++;
            n++;
            continue;
        }

        plans++;
        largest = amcf->plan_limits_max;

        if (lc[i].defaults && lc[i].defaults->nelts > largest) {
            largest = lc[i].defaults->nelts;
        }

        n += largest;
    }

    if (n <= NGX_API_LED_LIMIT_MAX) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "api_led_rate_limit: %ui limits and %ui \"plan\" of up to "
                  "%ui limits (the largest plan of the consumers file, or "
                  "default=) make %ui limits for one request, at most %d "
                  "are possible in %s:%ui", own, plans, amcf->plan_limits_max,
                  n, NGX_API_LED_LIMIT_MAX, conf->file, conf->line);

    return NGX_ERROR;
}


/*
 * A key read from the credential authentication hides (key=$http_x_api_key
 * with api_led_key_hide on) is empty when the limits count: the limit
 * would hold no one back.
 */

static ngx_int_t
ngx_api_led_limit_hidden_keys(ngx_conf_t *cf,
    ngx_api_led_limit_loc_conf_t *conf)
{
    ngx_str_t                 *var;
    ngx_uint_t                 i;
    ngx_api_led_limit_conf_t  *lc;

    lc = conf->limits->elts;

    for (i = 0; i < conf->limits->nelts; i++) {

        if (lc[i].key == NULL) {
            continue;
        }

        var = ngx_api_led_reads_hidden(cf, &lc[i].key->value);

        if (var) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "api_led_rate_limit: \"key=%V\" reads \"$%V\", "
                          "which authentication hides from the request "
                          "(api_led_key_hide, api_led_jwt_hide) before the "
                          "limits count it: the key would be empty and the "
                          "limit would hold no one back; count by "
                          "$api_led_consumer (the default) in %s:%ui",
                          &lc[i].key->value, var, conf->file, conf->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_limit_init(ngx_conf_t *cf)
{
    ngx_api_led_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_limit_module);

    /* a limit counted locally needs a zone: 1m unless one was given */

    if (lmcf->need_local && lmcf->shm_zone == NULL) {
        lmcf->shm_zone = ngx_api_led_limit_add_zone(cf,
                                                    NGX_API_LED_LIMIT_ZONE_SIZE,
                                                    &ngx_api_led_limit_module);
        if (lmcf->shm_zone == NULL) {
            return NGX_ERROR;
        }
    }

    if (!lmcf->need_local) {
        /* no location limits requests: nothing to register */
        return NGX_OK;
    }

    if (ngx_api_led_limit_metrics(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_api_led_limit_header_filter;

    return ngx_api_led_add_step(cf, NGX_API_LED_STEP_LIMIT,
                                ngx_api_led_limit_access);
}


/* the series of the rate limits and of their Redis, with a metrics zone */

static ngx_int_t
ngx_api_led_limit_metrics(ngx_conf_t *cf, ngx_api_led_limit_main_conf_t *lmcf)
{
    static char  *labels[] = { "api", "limit", "store", "outcome", NULL };

    if (ngx_api_led_metric_add(cf, &lmcf->decisions,
                               "api_led_rate_limit_decisions",
                               "What each rate limit of a request decided, "
                               "by store (a request is refused when one of "
                               "its limits is limited).",
                               NGX_API_LED_METRIC_COUNTER, labels)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (lmcf->redis == NULL) {
        return NGX_OK;
    }

    if (ngx_api_led_metric_add(cf, &lmcf->redis_requests,
                               "api_led_rate_limit_redis_requests",
                               "Requests whose limits went to Redis; the "
                               "requests of a batch share one call.",
                               NGX_API_LED_METRIC_COUNTER, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_api_led_observe_redis(cf, lmcf->redis);
}


static void *
ngx_api_led_limit_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_limit_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_limit_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->redis = NULL;
     *     lmcf->script = NULL;
     *     lmcf->shm_zone = NULL;
     *     lmcf->need_local = 0;
     */

    return lmcf;
}


static void *
ngx_api_led_limit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_limit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_limit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->limits = NULL;
     *     conf->off = 0;
     */

    conf->headers = NGX_CONF_UNSET;
    conf->status = NGX_CONF_UNSET_UINT;
    conf->log_level = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_api_led_limit_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_limit_loc_conf_t *prev = parent;
    ngx_api_led_limit_loc_conf_t *conf = child;

    ngx_api_led_limit_main_conf_t  *lmcf;

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
        conf->file = prev->file;
        conf->line = prev->line;
    }

    ngx_conf_merge_value(conf->headers, prev->headers, 1);
    ngx_conf_merge_uint_value(conf->status, prev->status,
                              NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_ERR);

    if (conf->limits && conf->limits->nelts) {
        if (ngx_api_led_limit_count(cf, conf) != NGX_OK
            || ngx_api_led_limit_hidden_keys(cf, conf) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        lmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_api_led_limit_module);

        /* every limit may be counted locally: no Redis, or on_error=local */
        lmcf->need_local = 1;

        /* the worker's shared Redis connection is needed */
        (void) ngx_api_led_redis_use(cf);

        /* the access step runs where limits apply, only */
        ngx_api_led_use_step(cf, NGX_API_LED_STEP_LIMIT);
    }

    if (ngx_api_led_limit_describe(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the catalog: each limit, what it counts by, where, on a Redis error */

static ngx_int_t
ngx_api_led_limit_describe(ngx_conf_t *cf, ngx_api_led_limit_loc_conf_t *conf)
{
    json_t                         *entry, *limits, *limit;
    ngx_uint_t                      i;
    ngx_api_led_limit_conf_t       *l;
    ngx_api_led_limit_main_conf_t  *lmcf;

    static const char  *on_error[] = { "local", "open", "closed" };

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL || conf->off || conf->limits == NULL
        || conf->limits->nelts == 0)
    {
        return NGX_OK;
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_limit_module);

    limits = json_array();

    if (limits == NULL || json_object_set_new(entry, "limits", limits)) {
        return NGX_ERROR;
    }

    l = conf->limits->elts;

    for (i = 0; i < conf->limits->nelts; i++) {

        if (l[i].plan) {
            /* the limits of the consumer's plan (the catalog's plans) */
            limit = json_pack("{s:b}", "plan", 1);

        } else {
            limit = json_pack("{s:s%, s:i}", "rate", l[i].rate.text.data,
                              l[i].rate.text.len, "burst", (int) l[i].burst);
        }

        if (limit == NULL || json_array_append_new(limits, limit)) {
            return NGX_ERROR;
        }

        if (json_object_set_new(limit, "key",
                                l[i].key
                                ? ngx_api_led_catalog_text(
                                      l[i].key->value.data,
                                      l[i].key->value.len)
                                : json_string("consumer, or address"))
            || json_object_set_new(limit, "store",
                                   json_string(lmcf->redis ? "redis"
                                                           : "local"))
            || (lmcf->redis
                && json_object_set_new(limit, "on_error",
                                       json_string(on_error[l[i].on_error]))))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * api_led_redis is the Redis module's (the events use it too): with it,
 * Redis is the store, and the GCRA script goes into its handshake.
 */

static char *
ngx_api_led_limit_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_api_led_limit_main_conf_t *lmcf = conf;

    ngx_str_t  *script;

    lmcf->redis = ngx_api_led_redis_configured(cf);

    if (lmcf->redis == NULL) {
        return NGX_CONF_OK;
    }

    script = ngx_api_led_limit_redis_script();

    lmcf->script = ngx_api_led_redis_add_script(cf, lmcf->redis, script);
    if (lmcf->script == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_api_led_limit_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_api_led_limit_main_conf_t *lmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\", at least %uzk",
                           &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone = ngx_api_led_limit_add_zone(cf, size,
                                                &ngx_api_led_limit_module);
    if (lmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * api_led_rate_limit RATE|plan|off [burst=N] [key=VALUE] [name=NAME]
 *     [default=RATE ...] [on_error=open|closed|local]
 */

static char *
ngx_api_led_limit_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_limit_loc_conf_t *llcf = conf;

    u_char                            *p;
    ngx_str_t                         *value, s;
    ngx_int_t                          n;
    ngx_uint_t                         i, burst;
    ngx_api_led_limit_conf_t          *lc, *other;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        if (llcf->limits || cf->args->nelts != 2) {
            return "cannot be \"off\" with other limits";
        }

        llcf->off = 1;
        llcf->limits = ngx_array_create(cf->pool, 1,
                                        sizeof(ngx_api_led_limit_conf_t));
        if (llcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (llcf->off) {
        return "cannot be \"off\" with other limits";
    }

    if (llcf->limits == NULL) {
        llcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_api_led_limit_conf_t));
        if (llcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }

        llcf->file = cf->conf_file->file.name.data;
        llcf->line = cf->conf_file->line;
    }

    if (llcf->limits->nelts == NGX_API_LED_LIMIT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d rate limits in one location",
                           NGX_API_LED_LIMIT_MAX);
        return NGX_CONF_ERROR;
    }

    lc = ngx_array_push(llcf->limits);
    if (lc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(lc, sizeof(ngx_api_led_limit_conf_t));

    burst = NGX_CONF_UNSET_UINT;
    lc->on_error = NGX_API_LED_LIMIT_ON_ERROR_LOCAL;

    if (value[1].len == 4 && ngx_strncmp(value[1].data, "plan", 4) == 0) {
        lc->plan = 1;
        ngx_str_set(&lc->name, "plan");

    } else {
        if (ngx_api_led_parse_rate(&value[1], &lc->rate) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid rate \"%V\", use Nr/s, Nr/m, Nr/h "
                               "or Nr/d, or \"plan\" or \"off\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        if ((uint64_t) lc->rate.period * 1000 / lc->rate.count == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rate \"%V\" is too high, at most one "
                               "request a microsecond", &value[1]);
            return NGX_CONF_ERROR;
        }

        lc->name = value[1];
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n == NGX_ERROR || n > 1000000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            burst = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0 && value[i].len > 4) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            lc->key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
            if (lc->key == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = lc->key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 0 || s.len > NGX_API_LED_NAME_MAX) {
                goto invalid_name;
            }

            for (p = s.data; p < s.data + s.len; p++) {
                if (!(isalnum(*p) || *p == '-' || *p == '_' || *p == '.'
                      || *p == ':' || *p == '/'))
                {
                    goto invalid_name;
                }
            }

            if (lc->plan) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"name=\" cannot be used with \"plan\": "
                                   "each limit of a plan is named "
                                   "\"plan:PERIOD\"");
                return NGX_CONF_ERROR;
            }

            /* the plans' buckets: a limit of that name would count in them */
            if (s.len >= sizeof("plan:") - 1
                && ngx_strncmp(s.data, "plan:", sizeof("plan:") - 1) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid limit name \"%V\": names "
                                   "beginning with \"plan:\" are the plans' "
                                   "buckets", &s);
                return NGX_CONF_ERROR;
            }

            lc->name = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "default=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            if (!lc->plan) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"default=\" goes with \"plan\": the "
                                   "limits of who has no plan");
                return NGX_CONF_ERROR;
            }

            if (ngx_api_led_limit_add_default(cf, lc, &s) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "on_error=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            if (s.len == 4 && ngx_strncmp(s.data, "open", 4) == 0) {
                lc->on_error = NGX_API_LED_LIMIT_ON_ERROR_OPEN;

            } else if (s.len == 6 && ngx_strncmp(s.data, "closed", 6) == 0) {
                lc->on_error = NGX_API_LED_LIMIT_ON_ERROR_CLOSED;

            } else if (s.len == 5 && ngx_strncmp(s.data, "local", 5) == 0) {
                lc->on_error = NGX_API_LED_LIMIT_ON_ERROR_LOCAL;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\", must be "
                                   "\"on_error=open\", \"on_error=closed\" "
                                   "or \"on_error=local\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (lc->plan) {
        if (burst != NGX_CONF_UNSET_UINT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"burst=\" cannot be used with \"plan\": "
                               "a plan's limits admit their count at once");
            return NGX_CONF_ERROR;
        }

    } else {
        /* by default the whole count may come at once */
        lc->burst = (burst != NGX_CONF_UNSET_UINT) ? burst
                                                   : lc->rate.count - 1;

        /*
         * tau, burst * T in microseconds, must stay exact in the script's
         * doubles (and far from the 64 bits of the local store)
         */
        if (lc->burst > NGX_API_LED_LIMIT_TAU_MAX
                        / ((uint64_t) lc->rate.period * 1000
                           / lc->rate.count))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "burst=%ui is too large for \"%V\": burst "
                               "times the interval must be under 285 years",
                               lc->burst, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    /* two limits of one name and key would count into one bucket */

    other = llcf->limits->elts;

    for (i = 0; i + 1 < llcf->limits->nelts; i++) {
        if (other[i].plan == lc->plan
            && other[i].name.len == lc->name.len
            && ngx_strncmp(other[i].name.data, lc->name.data,
                           lc->name.len) == 0
            && ((other[i].key == NULL && lc->key == NULL)
                || (other[i].key && lc->key
                    && other[i].key->value.len == lc->key->value.len
                    && ngx_strncmp(other[i].key->value.data,
                                   lc->key->value.data,
                                   lc->key->value.len) == 0)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate rate limit \"%V\" in one location, "
                               "give each its own \"name=\"", &lc->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;

invalid_name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid limit name \"%V\": 1 to %d letters, digits, "
                       "\"-\", \"_\", \".\", \":\" or \"/\"", &value[i],
                       NGX_API_LED_NAME_MAX);
    return NGX_CONF_ERROR;
}


/* plan default=RATE: as a plan's limits */

static ngx_int_t
ngx_api_led_limit_add_default(ngx_conf_t *cf, ngx_api_led_limit_conf_t *lc,
    ngx_str_t *text)
{
    ngx_api_led_rate_t  *rate;

    if (lc->defaults == NULL) {
        lc->defaults = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_api_led_rate_t));
        if (lc->defaults == NULL) {
            return NGX_ERROR;
        }
    }

    rate = ngx_array_push(lc->defaults);
    if (rate == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_parse_rate(text, rate) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid default rate \"%V\", use Nr/s, Nr/m, "
                           "Nr/h or Nr/d", text);
        return NGX_ERROR;
    }

    if ((uint64_t) rate->period * 1000 / rate->count == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "default rate \"%V\" is too high, at most one "
                           "request a microsecond", text);
        return NGX_ERROR;
    }

    return NGX_OK;
}

/*
 * The worker's state: only with Redis (the local store keeps everything in
 * shared memory) and only when some location limits requests.  Not in the
 * cycle's pool: it lives as long as the worker, freed at exit_process.
 */

static ngx_int_t
ngx_api_led_limit_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_limit_worker_t     *wk;
    ngx_api_led_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_limit_module);

    if (lmcf == NULL || lmcf->redis == NULL || !lmcf->need_local) {
        return NGX_OK;
    }

    wk = ngx_calloc(sizeof(ngx_api_led_limit_worker_t), cycle->log);
    if (wk == NULL) {
        return NGX_ERROR;
    }

    wk->conf = lmcf;

    if (ngx_api_led_limit_redis_init_process(cycle, wk) != NGX_OK) {
        ngx_free(wk);
        return NGX_ERROR;
    }

    ngx_api_led_limit_worker = wk;

    return NGX_OK;
}


static void
ngx_api_led_limit_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_api_led_limit_worker == NULL) {
        return;
    }

    ngx_api_led_limit_redis_exit_process(ngx_api_led_limit_worker);

    ngx_free(ngx_api_led_limit_worker);
    ngx_api_led_limit_worker = NULL;
}
