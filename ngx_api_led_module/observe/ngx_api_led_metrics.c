
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Metrics: series in a shared-memory zone, counted from the log phase
 * without a lock, and their exposition in the Prometheus text format
 * (0.0.4) or OpenMetrics 1.0.
 *
 * A series is NAME{LABELS} in an open-addressing table of the zone.  A
 * lookup reads the table without a lock: a slot is published by writing
 * its hash last, and series are never removed, so a slot seen in use is
 * complete and stays as it is.  Only the creation of a series takes the
 * zone's mutex.  Counting is an atomic add.  The number of series is
 * capped: past the cap (or when the zone is full) a family's observations
 * are counted in its one series {overflow="true"}, and the error log says
 * so once.
 */


#include "ngx_api_led_observe_module.h"


/* a series looked for in the worker's memory */
typedef struct {
    void                        *m;
    void                        *salt;
    ngx_str_t                   *values;
    ngx_uint_t                   n;
    uint32_t                     hash;
    ngx_api_led_metrics_sig_t    sig[NGX_API_LED_METRICS_CACHE_VALUES];
} ngx_api_led_metrics_query_t;


static ngx_int_t ngx_api_led_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_api_led_metrics_same_buckets(
    ngx_api_led_metrics_zone_t *mz, ngx_api_led_metrics_sh_t *sh,
    ngx_log_t *log);
static void ngx_api_led_metrics_key_start(ngx_api_led_metrics_key_t *k,
    ngx_str_t *name);
static void ngx_api_led_metrics_key_text(ngx_api_led_metrics_key_t *k,
    ngx_str_t *labels);
static void ngx_api_led_metrics_key_label(ngx_api_led_metrics_key_t *k,
    ngx_str_t *name, u_char *value, size_t len);
static void ngx_api_led_metrics_key_end(ngx_api_led_metrics_key_t *k);
static u_char *ngx_api_led_metrics_escape_value(u_char *p, u_char *last,
    u_char *value, size_t len);
static ngx_atomic_t *ngx_api_led_metrics_series(
    ngx_api_led_metrics_zone_t *mz, ngx_api_led_metrics_key_t *k,
    ngx_api_led_metric_t *m, ngx_log_t *log);
static ngx_atomic_t *ngx_api_led_metrics_insert(
    ngx_api_led_metrics_zone_t *mz, ngx_str_t *key, uint32_t hash,
    ngx_uint_t nvalues, ngx_api_led_metric_t *m, ngx_log_t *log);
static ngx_atomic_t *ngx_api_led_metrics_overflow(
    ngx_api_led_metrics_zone_t *mz, ngx_api_led_metric_t *m,
    const char *why, ngx_log_t *log);
static ngx_uint_t ngx_api_led_metrics_nvalues(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metric_t *m);
static void ngx_api_led_metrics_observe(ngx_api_led_metrics_zone_t *mz,
    ngx_atomic_t *v, ngx_msec_int_t ms);
static ngx_atomic_t *ngx_api_led_metrics_api_histogram(
    ngx_api_led_observe_main_conf_t *omcf,
    ngx_api_led_observe_loc_conf_t *olcf, ngx_uint_t which, ngx_log_t *log);
static ngx_msec_int_t ngx_api_led_metrics_upstream_time(
    ngx_http_request_t *r);
static ngx_atomic_t *ngx_api_led_metric_values(ngx_api_led_metric_t *m,
    ngx_str_t *values, ngx_log_t *log);
static ngx_atomic_t *ngx_api_led_metrics_cache_find(
    ngx_api_led_metrics_zone_t *mz, ngx_api_led_metrics_query_t *q);
static void ngx_api_led_metrics_cache_add(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metrics_query_t *q, ngx_atomic_t *v);


/* Prometheus's default buckets, in milliseconds */
static ngx_msec_t  ngx_api_led_metrics_default_buckets[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


/* the families of the log phase, added for each configuration */
static char  *ngx_api_led_metrics_request_labels[] = {
    "api", "layer", "version", "method", "status", "plan", "consumer", NULL
};

static char  *ngx_api_led_metrics_api_labels[] = {
    "api", "layer", "version", NULL
};


static ngx_str_t  ngx_api_led_metrics_overflow_label =
    ngx_string("overflow=\"true\"");


/* api_led_metrics_zone NAME:SIZE [max_series=N] */

char *
ngx_api_led_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_observe_main_conf_t *omcf = conf;

    u_char                      *p;
    ssize_t                      size;
    ngx_int_t                    n;
    ngx_str_t                   *value, name, s;
    ngx_uint_t                   i;
    ngx_api_led_metrics_zone_t  *mz;

    if (omcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", must be NAME:SIZE",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (64 * 1024)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small, at least 64k",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    /* about 512 bytes a series: its slots, its name and labels, values */
    omcf->max_series = ngx_min((ngx_uint_t) size / 512, 65536);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_series=", 11) == 0) {
            n = ngx_atoi(value[i].data + 11, value[i].len - 11);

            if (n <= 0 || n > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": 1 to 1000000",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            omcf->max_series = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    mz = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_metrics_zone_t));
    if (mz == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the tag: an address of the module's that a reload keeps */
    omcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_api_led_observe_index);
    if (omcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (omcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    /* the zone is made once the configuration is read: where it was */
    mz->file = cf->conf_file->file.name.data;
    mz->line = cf->conf_file->line;

    omcf->shm_zone->init = ngx_api_led_metrics_init_zone;
    omcf->shm_zone->data = mz;

    return NGX_CONF_OK;
}


/* api_led_metrics_buckets SECONDS ... */

char *
ngx_api_led_metrics_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_observe_main_conf_t *omcf = conf;

    ngx_int_t    ms;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_msec_t  *b, *prev;

    if (omcf->buckets) {
        return "is duplicate";
    }

    if (cf->args->nelts - 1 > NGX_API_LED_METRICS_MAX_BUCKETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many buckets, at most %d",
                           NGX_API_LED_METRICS_MAX_BUCKETS);
        return NGX_CONF_ERROR;
    }

    omcf->buckets = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_msec_t));
    if (omcf->buckets == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;
    prev = NULL;

    for (i = 1; i < cf->args->nelts; i++) {

        /* seconds with up to 3 decimals: nginx measures milliseconds */
        ms = ngx_atofp(value[i].data, value[i].len, 3);

        if (ms <= 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\": seconds from 0.001, "
                               "at most 3 decimals", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (prev && (ngx_msec_t) ms <= *prev) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bucket \"%V\" is not greater than the one "
                               "before", &value[i]);
            return NGX_CONF_ERROR;
        }

        b = ngx_array_push(omcf->buckets);
        if (b == NULL) {
            return NGX_CONF_ERROR;
        }

        *b = ms;
        prev = b;
    }

    return NGX_CONF_OK;
}


/* once the configuration is parsed: the zone's buckets and cap */

ngx_int_t
ngx_api_led_metrics_init_conf(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf)
{
    ngx_api_led_metrics_zone_t  *mz;

    if (omcf->shm_zone == NULL) {
        if (omcf->metrics) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"api_led_metrics\" needs an "
                          "\"api_led_metrics_zone\" in the http block "
                          "in %s:%ui", omcf->metrics_file,
                          omcf->metrics_line);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    mz = omcf->shm_zone->data;

    mz->max_series = omcf->max_series;

    if (ngx_api_led_metric_add(cf, &omcf->requests, "api_led_requests",
                               "Requests answered by API locations.",
                               NGX_API_LED_METRIC_COUNTER,
                               ngx_api_led_metrics_request_labels)
        != NGX_OK
        || ngx_api_led_metric_add(cf, &omcf->duration,
                                  "api_led_request_duration_seconds",
                                  "Time from the request's first byte to its "
                                  "log entry.",
                                  NGX_API_LED_METRIC_HISTOGRAM,
                                  ngx_api_led_metrics_api_labels)
           != NGX_OK
        || ngx_api_led_metric_add(cf, &omcf->upstream,
                                  "api_led_upstream_duration_seconds",
                                  "Time spent with upstream servers, all "
                                  "tries of a request.",
                                  NGX_API_LED_METRIC_HISTOGRAM,
                                  ngx_api_led_metrics_api_labels)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (omcf->buckets) {
        mz->buckets = omcf->buckets->elts;
        mz->nbuckets = omcf->buckets->nelts;

    } else {
        mz->buckets = ngx_api_led_metrics_default_buckets;
        mz->nbuckets = sizeof(ngx_api_led_metrics_default_buckets)
                       / sizeof(ngx_msec_t);
    }

    return NGX_OK;
}


/*
 * A reload keeps the zone (same name and size, the same tag): the series
 * go on counting.  Histograms whose buckets changed cannot: like nginx's
 * own zones whose key changed, the reload fails and says why.
 */

static ngx_int_t
ngx_api_led_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_api_led_metrics_zone_t  *omz = data;

    size_t                       len;
    ngx_uint_t                   nslots, most;
    ngx_slab_pool_t             *shpool;
    ngx_api_led_metrics_sh_t    *sh;
    ngx_api_led_metrics_zone_t  *mz;

    mz = shm_zone->data;

    if (omz) {
        mz->sh = omz->sh;
        mz->shpool = omz->shpool;

        if (ngx_api_led_metrics_same_buckets(mz, mz->sh, shm_zone->shm.log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        goto cap;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        mz->shpool = shpool;
        mz->sh = shpool->data;
        return NGX_OK;
    }

    /* twice the slots of the series: probes stay short */

    nslots = 64;
    while (nslots < 2 * mz->max_series + 64) {
        nslots *= 2;
    }

    len = offsetof(ngx_api_led_metrics_sh_t, slots)
          + nslots * sizeof(ngx_api_led_metrics_slot_t);

    /* too small a zone is said below, with the directive's place */
    shpool->log_nomem = 0;

    sh = ngx_slab_calloc(shpool, len);
    if (sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "api_led_metrics_zone \"%V\" is too small for "
                      "max_series=%ui in %s:%ui", &shm_zone->shm.name,
                      mz->max_series, mz->file, mz->line);
        return NGX_ERROR;
    }

    sh->nslots = nslots;
    sh->nbuckets = mz->nbuckets;
    ngx_memcpy(sh->buckets, mz->buckets, mz->nbuckets * sizeof(ngx_msec_t));

    shpool->data = sh;

    len = sizeof(" in api_led_metrics_zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in api_led_metrics_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is the overflow series' business, logged once */
    shpool->log_nomem = 0;

    mz->sh = sh;
    mz->shpool = shpool;

cap:

    /* a reload may ask for more series than the slots of the zone hold */

    most = mz->sh->nslots / 2 - 32;

    if (mz->max_series > most) {
        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "api_led_metrics_zone \"%V\" keeps its slots: "
                      "max_series=%ui, not %ui, until nginx restarts",
                      &shm_zone->shm.name, most, mz->max_series);
        mz->max_series = most;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_metrics_same_buckets(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metrics_sh_t *sh, ngx_log_t *log)
{
    if (sh->nbuckets == mz->nbuckets
        && ngx_memcmp(sh->buckets, mz->buckets,
                      mz->nbuckets * sizeof(ngx_msec_t)) == 0)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "api_led_metrics_buckets differ from those the running "
                  "metrics zone counts with: give the zone another name "
                  "(its series start again) or keep the buckets in %s:%ui",
                  mz->file, mz->line);

    return NGX_ERROR;
}


/*
 * The log phase: a request of an API location is counted once its status
 * is known.  Subrequests are counted when nginx logs them
 * (log_subrequest on).
 */

ngx_int_t
ngx_api_led_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                        *plan, consumer, values[4];
    ngx_uint_t                        status, i, n;
    ngx_time_t                       *tp;
    ngx_atomic_t                     *v;
    ngx_msec_int_t                    ms;
    ngx_api_led_ctx_t                *ctx;
    ngx_api_led_metrics_key_t         k;
    ngx_api_led_metrics_zone_t       *mz;
    ngx_api_led_metrics_query_t       q;
    ngx_api_led_observe_loc_conf_t   *olcf;
    ngx_api_led_observe_main_conf_t  *omcf;
    u_char                            num[NGX_INT_T_LEN];

    static ngx_str_t  other = ngx_string("OTHER");
    static ngx_str_t  names[] = {
        ngx_string("method"), ngx_string("status"), ngx_string("plan"),
        ngx_string("consumer")
    };

    olcf = ngx_api_led_observe_loc_conf(r);

    if (olcf->index < 0) {
        return NGX_OK;
    }

    omcf = ngx_api_led_observe_main_conf(r);
    mz = omcf->shm_zone->data;

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else {
        /* the client went away before an answer: $status says 0 too */
        status = 0;
    }

    plan = NULL;
    ngx_str_null(&consumer);

    ctx = ngx_http_get_module_ctx(r->main, ngx_api_led_module);

    if (ctx == NULL && r->main->internal) {
        /* an internal redirect wiped the module ctx: recover it */
        ctx = ngx_api_led_get_ctx(r);
    }

    if (ctx) {
        if (ctx->consumer && ctx->consumer->plan) {
            plan = &ctx->consumer->plan->name;
        }

        consumer = ctx->consumer_id;
    }

    /* api_led_requests_total: the location's labels, then the request's */

    values[0] = (r->method == NGX_HTTP_UNKNOWN) ? other : r->method_name;

    values[1].data = num;

    if (status >= 100 && status <= 999) {
        num[0] = (u_char) ('0' + status / 100);
        num[1] = (u_char) ('0' + status / 10 % 10);
        num[2] = (u_char) ('0' + status % 10);
        values[1].len = 3;

    } else {
        values[1].len = ngx_sprintf(num, "%ui", status) - num;
    }

    if (plan) {
        values[2] = *plan;

    } else {
        ngx_str_null(&values[2]);
    }

    values[3] = consumer;
    n = olcf->consumer ? 4 : 3;

    q.m = omcf->requests;
    q.salt = olcf;
    q.values = values;
    q.n = n;

    v = ngx_api_led_metrics_cache_find(mz, &q);

    if (v == NULL) {

        /* the labels of the location were escaped once, when configured */

        ngx_api_led_metrics_key_start(&k, &omcf->requests->name);
        ngx_api_led_metrics_key_text(&k, &olcf->labels);

        for (i = 0; i < n; i++) {
            ngx_api_led_metrics_key_label(&k, &names[i], values[i].data,
                                          values[i].len);
        }

        ngx_api_led_metrics_key_end(&k);

        v = ngx_api_led_metrics_series(mz, &k, omcf->requests,
                                       r->connection->log);

        ngx_api_led_metrics_cache_add(mz, &q, v);
    }

    if (v) {
        (void) ngx_atomic_fetch_add(v, 1);
    }

    /* the histograms of the API location */

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    v = ngx_api_led_metrics_api_histogram(omcf, olcf, 0, r->connection->log);
    if (v) {
        ngx_api_led_metrics_observe(mz, v, ms);
    }

    ms = ngx_api_led_metrics_upstream_time(r);

    if (ms >= 0) {
        v = ngx_api_led_metrics_api_histogram(omcf, olcf, 1,
                                              r->connection->log);
        if (v) {
            ngx_api_led_metrics_observe(mz, v, ms);
        }
    }

    return NGX_OK;
}


/*
 * The histogram series of an API location do not depend on the request:
 * each worker keeps them once found (the zone never moves them).
 */

static ngx_atomic_t *
ngx_api_led_metrics_api_histogram(ngx_api_led_observe_main_conf_t *omcf,
    ngx_api_led_observe_loc_conf_t *olcf, ngx_uint_t which, ngx_log_t *log)
{
    ngx_atomic_t               **cached, *v;
    ngx_api_led_metric_t        *m;
    ngx_api_led_metrics_key_t    k;

    cached = NULL;

    if (omcf->cache) {
        cached = &omcf->cache[2 * olcf->index + which];

        if (*cached) {
            return *cached;
        }
    }

    m = which ? omcf->upstream : omcf->duration;

    ngx_api_led_metrics_key_start(&k, &m->name);
    ngx_api_led_metrics_key_text(&k, &olcf->labels);
    ngx_api_led_metrics_key_end(&k);

    v = ngx_api_led_metrics_series(m->zone, &k, m, log);

    if (cached) {
        *cached = v;
    }

    return v;
}


/* the sum of the response times of all tries, as $upstream_response_time */

static ngx_msec_int_t
ngx_api_led_metrics_upstream_time(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_msec_int_t              ms, sum;
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return -1;
    }

    state = r->upstream_states->elts;
    sum = -1;

    for (i = 0; i < r->upstream_states->nelts; i++) {

        if (state[i].peer == NULL) {
            continue;
        }

        ms = (ngx_msec_int_t) state[i].response_time;

        if (ms == -1) {
            continue;
        }

        sum = ngx_max(sum, 0) + ngx_max(ms, 0);
    }

    return sum;
}


static void
ngx_api_led_metrics_observe(ngx_api_led_metrics_zone_t *mz, ngx_atomic_t *v,
    ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    if (ms < 0) {
        ms = 0;
    }

    for (i = 0; i < mz->nbuckets; i++) {
        if ((ngx_msec_t) ms <= mz->buckets[i]) {
            break;
        }
    }

    /* bucket counts, then +Inf, then the sum in milliseconds */

    (void) ngx_atomic_fetch_add(&v[i], 1);
    (void) ngx_atomic_fetch_add(&v[mz->nbuckets + 1], ms);
}


static void
ngx_api_led_metrics_key_start(ngx_api_led_metrics_key_t *k, ngx_str_t *name)
{
    k->p = ngx_cpymem(k->buf, name->data, name->len);
    k->last = k->buf + NGX_API_LED_METRICS_KEY_MAX - 1;
    *k->p++ = '{';
    k->nlabels = 0;
    k->overflow = 0;
}


/* labels already escaped, "a=\"1\",b=\"2\"" */

static void
ngx_api_led_metrics_key_text(ngx_api_led_metrics_key_t *k, ngx_str_t *labels)
{
    if (labels->len == 0) {
        return;
    }

    if ((size_t) (k->last - k->p) < labels->len + 1) {
        k->overflow = 1;
        return;
    }

    if (k->nlabels) {
        *k->p++ = ',';
    }

    k->p = ngx_cpymem(k->p, labels->data, labels->len);
    k->nlabels++;
}


static void
ngx_api_led_metrics_key_label(ngx_api_led_metrics_key_t *k, ngx_str_t *name,
    u_char *value, size_t len)
{
    u_char  *p;

    if (len > NGX_API_LED_METRICS_VALUE_MAX) {
        /* a label value of such length is no label: count it apart */
        k->overflow = 1;
        return;
    }

    if ((size_t) (k->last - k->p) < name->len + 4 + 3 * len) {
        k->overflow = 1;
        return;
    }

    p = k->p;

    if (k->nlabels) {
        *p++ = ',';
    }

    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '=';
    *p++ = '"';
    p = ngx_api_led_metrics_escape_value(p, k->last, value, len);
    *p++ = '"';

    k->p = p;
    k->nlabels++;
}


static void
ngx_api_led_metrics_key_end(ngx_api_led_metrics_key_t *k)
{
    if (k->nlabels == 0) {
        k->p--;                                 /* no labels, no braces */
        return;
    }

    *k->p++ = '}';
}


/*
 * The text format's escapes: \\, \" and \n.  Both formats are UTF-8, and
 * Prometheus refuses a whole scrape for one label value that is not (a
 * version= written in Latin-1, say): such a byte becomes U+FFFD.  Room
 * for 3 * len is there.
 */

static u_char *
ngx_api_led_metrics_escape_value(u_char *p, u_char *last, u_char *value,
    size_t len)
{
    size_t   i;
    u_char  *next;

    for (i = 0; i < len; i++) {

        if (value[i] >= 0x80) {
            next = ngx_api_led_json_utf8(&value[i], value + len);

            if (next == NULL) {
                p = ngx_cpymem(p, NGX_API_LED_UTF8_REPLACEMENT,
                               sizeof(NGX_API_LED_UTF8_REPLACEMENT) - 1);
                continue;
            }

            p = ngx_cpymem(p, &value[i], next - &value[i]);
            i = next - value - 1;
            continue;
        }

        switch (value[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = value[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = value[i];
        }
    }

    return p;
}


/*
 * ", name=\"value\"" escaped, appended to "out" (from "pool"), for the
 * labels of a location made at configuration time; "first": no comma
 */

ngx_int_t
ngx_api_led_metrics_escape(ngx_pool_t *pool, ngx_str_t *name,
    ngx_str_t *value, ngx_str_t *out, ngx_uint_t first)
{
    u_char  *p;
    size_t   len;

    len = out->len + 1 + name->len + 3 + 3 * value->len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = ngx_api_led_cpymem(p, out->data, out->len);

    if (!first) {
        *out->data++ = ',';
    }

    out->data = ngx_cpymem(out->data, name->data, name->len);
    *out->data++ = '=';
    *out->data++ = '"';
    out->data = ngx_api_led_metrics_escape_value(out->data, p + len,
                                                 value->data, value->len);
    *out->data++ = '"';

    out->len = out->data - p;
    out->data = p;

    return NGX_OK;
}


static ngx_uint_t
ngx_api_led_metrics_nvalues(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metric_t *m)
{
    /* a histogram: its buckets, +Inf, the sum */
    return m->type == NGX_API_LED_METRIC_HISTOGRAM ? mz->nbuckets + 2 : 1;
}


/* the values of the series, made on first use; NULL: not even counted */

static ngx_atomic_t *
ngx_api_led_metrics_series(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metrics_key_t *k, ngx_api_led_metric_t *m, ngx_log_t *log)
{
    uint32_t                     hash;
    ngx_str_t                    key;
    ngx_uint_t                   i, mask;
    ngx_atomic_uint_t            h;
    ngx_api_led_metrics_sh_t    *sh;
    ngx_api_led_metrics_slot_t  *slot;

    if (k->overflow) {
        return ngx_api_led_metrics_overflow(mz, m, "labels too long", log);
    }

    key.data = k->buf;
    key.len = k->p - k->buf;

    hash = ngx_murmur_hash2(key.data, key.len);
    if (hash == 0) {
        hash = 1;
    }

    sh = mz->sh;
    mask = sh->nslots - 1;

    for (i = hash & mask; /* void */ ; i = (i + 1) & mask) {
        slot = &sh->slots[i];
        h = slot->hash;

        if (h == 0) {
            break;
        }

        if (h == hash && slot->key_len == key.len
            && ngx_memcmp(slot->key, key.data, key.len) == 0)
        {
            return slot->values;
        }
    }

    return ngx_api_led_metrics_insert(mz, &key, hash,
                                      ngx_api_led_metrics_nvalues(mz, m), m,
                                      log);
}


static ngx_atomic_t *
ngx_api_led_metrics_insert(ngx_api_led_metrics_zone_t *mz, ngx_str_t *key,
    uint32_t hash, ngx_uint_t nvalues, ngx_api_led_metric_t *m,
    ngx_log_t *log)
{
    u_char                      *data;
    ngx_uint_t                   i, mask, overflow;
    const char                  *why;
    ngx_atomic_t                *values;
    ngx_api_led_metrics_sh_t    *sh;
    ngx_api_led_metrics_slot_t  *slot;

    sh = mz->sh;
    mask = sh->nslots - 1;

    /* the overflow series of a family is made past the cap, too */
    overflow = (key->len == m->name.len + 2
                             + ngx_api_led_metrics_overflow_label.len
                && ngx_strncmp(key->data + m->name.len + 1,
                               ngx_api_led_metrics_overflow_label.data,
                               ngx_api_led_metrics_overflow_label.len) == 0);

    ngx_shmtx_lock(&mz->shpool->mutex);

    /* another worker may have made it meanwhile */

    for (i = hash & mask; /* void */ ; i = (i + 1) & mask) {
        slot = &sh->slots[i];

        if (slot->hash == 0) {
            break;
        }

        if (slot->hash == hash && slot->key_len == key->len
            && ngx_memcmp(slot->key, key->data, key->len) == 0)
        {
            ngx_shmtx_unlock(&mz->shpool->mutex);
            return slot->values;
        }
    }

    if (sh->nseries >= sh->nslots / 2) {
        why = NULL;
        goto drop;
    }

    if (sh->nseries >= mz->max_series && !overflow) {
        why = "max_series reached";
        goto full;
    }

    data = ngx_slab_alloc_locked(mz->shpool, key->len);
    if (data == NULL) {
        why = "the zone is full";
        goto nomem;
    }

    values = ngx_slab_calloc_locked(mz->shpool,
                                    nvalues * sizeof(ngx_atomic_t));
    if (values == NULL) {
        ngx_slab_free_locked(mz->shpool, data);
        why = "the zone is full";
        goto nomem;
    }

    ngx_memcpy(data, key->data, key->len);

    slot->key = data;
    slot->key_len = key->len;
    slot->nvalues = nvalues;
    slot->values = values;

    /* readers take a slot with a hash as complete */
    ngx_memory_barrier();

    slot->hash = hash;
    sh->nseries++;

    ngx_shmtx_unlock(&mz->shpool->mutex);

    return values;

nomem:

    if (overflow) {
        goto drop;
    }

full:

    ngx_shmtx_unlock(&mz->shpool->mutex);

    return ngx_api_led_metrics_overflow(mz, m, why, log);

drop:

    ngx_shmtx_unlock(&mz->shpool->mutex);

    (void) ngx_atomic_fetch_add(&sh->dropped, 1);

    if (ngx_atomic_cmp_set(&sh->full_logged, 0, 1)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "api_led: the metrics zone has no room for series: "
                      "observations are dropped");
    }

    return NULL;
}


static ngx_atomic_t *
ngx_api_led_metrics_overflow(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metric_t *m, const char *why, ngx_log_t *log)
{
    ngx_api_led_metrics_key_t  k;

    if (ngx_atomic_cmp_set(&mz->sh->full_logged, 0, 1)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "api_led: metrics series past the first %ui are "
                      "counted under {overflow=\"true\"} (%s)",
                      mz->max_series, why);
    }

    ngx_api_led_metrics_key_start(&k, &m->name);
    ngx_api_led_metrics_key_text(&k, &ngx_api_led_metrics_overflow_label);
    ngx_api_led_metrics_key_end(&k);

    return ngx_api_led_metrics_series(mz, &k, m, log);
}


/*
 * A concern's metric family, for this configuration's zone; the same name
 * added again (another location of the concern) is the same family.
 */

ngx_int_t
ngx_api_led_metric_add(ngx_conf_t *cf, ngx_api_led_metric_t **metric,
    char *name, char *help, ngx_uint_t type, char **labels)
{
    size_t                            len;
    ngx_uint_t                        i, n;
    ngx_api_led_metric_t             *m, **mp;
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_api_led_observe_conf_main_conf(cf);

    *metric = NULL;

    if (omcf->shm_zone == NULL) {
        return NGX_OK;
    }

    len = ngx_strlen(name);
    mp = omcf->families.elts;

    for (i = 0; i < omcf->families.nelts; i++) {
        if (mp[i]->name.len == len
            && ngx_strncmp(mp[i]->name.data, name, len) == 0)
        {
            if (mp[i]->type != type) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "api_led: metric \"%s\" added twice with "
                              "two types", name);
                return NGX_ERROR;
            }

            /* two concerns share a family: the same labels, in order */

            for (n = 0; labels && labels[n]; n++) {
                if (n >= mp[i]->nlabels
                    || ngx_strcmp(mp[i]->labels[n].data, labels[n]) != 0)
                {
                    break;
                }
            }

            if (n != mp[i]->nlabels || (labels && labels[n])) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "api_led: metric \"%s\" added twice with "
                              "other labels", name);
                return NGX_ERROR;
            }

            *metric = mp[i];
            return NGX_OK;
        }
    }

    for (n = 0; labels && labels[n]; n++) { /* void */ }

    m = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_metric_t)
                              + n * sizeof(ngx_str_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->name.data = (u_char *) name;
    m->name.len = len;
    m->help.data = (u_char *) help;
    m->help.len = ngx_strlen(help);
    m->type = type;
    m->labels = (ngx_str_t *) (m + 1);
    m->nlabels = n;
    m->zone = omcf->shm_zone->data;

    for (i = 0; i < n; i++) {
        m->labels[i].data = (u_char *) labels[i];
        m->labels[i].len = ngx_strlen(labels[i]);
    }

    mp = ngx_array_push(&omcf->families);
    if (mp == NULL) {
        return NGX_ERROR;
    }

    *mp = m;
    *metric = m;

    return NGX_OK;
}


void
ngx_api_led_metric_count(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_uint_t n, ngx_log_t *log)
{
    ngx_atomic_t  *v;

    if (m == NULL) {
        return;
    }

    v = ngx_api_led_metric_values(m, values, log);

    if (v) {
        (void) ngx_atomic_fetch_add(v, n);
    }
}


void
ngx_api_led_metric_observe(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_msec_int_t ms, ngx_log_t *log)
{
    ngx_atomic_t  *v;

    if (m == NULL) {
        return;
    }

    v = ngx_api_led_metric_values(m, values, log);

    if (v) {
        ngx_api_led_metrics_observe(m->zone, v, ms);
    }
}


void
ngx_api_led_metric_set(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_atomic_uint_t value, ngx_log_t *log)
{
    ngx_atomic_t  *v;

    if (m == NULL) {
        return;
    }

    v = ngx_api_led_metric_values(m, values, log);

    if (v) {
        /* an aligned word: the store is atomic */
        *v = value;
    }
}


void
ngx_api_led_metric_change(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_int_t delta, ngx_log_t *log)
{
    ngx_atomic_t  *v;

    if (m == NULL) {
        return;
    }

    v = ngx_api_led_metric_values(m, values, log);

    if (v) {
        /* unsigned arithmetic: adding -1 takes one away */
        (void) ngx_atomic_fetch_add(v, (ngx_atomic_int_t) delta);
    }
}


static ngx_atomic_t *
ngx_api_led_metric_values(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_log_t *log)
{
    ngx_uint_t                    i;
    ngx_atomic_t                 *v;
    ngx_api_led_metrics_key_t     k;
    ngx_api_led_metrics_query_t   q;

    q.m = m;
    q.salt = NULL;
    q.values = values;
    q.n = m->nlabels;

    v = ngx_api_led_metrics_cache_find(m->zone, &q);
    if (v) {
        return v;
    }

    ngx_api_led_metrics_key_start(&k, &m->name);

    for (i = 0; i < m->nlabels; i++) {
        ngx_api_led_metrics_key_label(&k, &m->labels[i], values[i].data,
                                      values[i].len);
    }

    ngx_api_led_metrics_key_end(&k);

    v = ngx_api_led_metrics_series(m->zone, &k, m, log);

    ngx_api_led_metrics_cache_add(m->zone, &q, v);

    return v;
}


/*
 * The worker's memory of series (see ngx_api_led_metrics_cached_t): made
 * when the worker starts, in the cycle's pool; past half of its entries,
 * or when the probe finds no room, new series are not remembered (and
 * cost what they cost without it).  A series once found never moves, and
 * one counted in the overflow stays there (series are never removed), so
 * what the worker remembers stays true for the zone's life.
 */

ngx_int_t
ngx_api_led_metrics_init_worker(ngx_cycle_t *cycle,
    ngx_api_led_observe_main_conf_t *omcf)
{
    ngx_api_led_metrics_zone_t  *mz;

    mz = omcf->shm_zone->data;

    mz->cache = ngx_pcalloc(cycle->pool,
                            NGX_API_LED_METRICS_CACHE
                            * sizeof(ngx_api_led_metrics_cached_t));
    if (mz->cache == NULL) {
        return NGX_ERROR;
    }

    mz->ncached = 0;
    mz->cache_pool = cycle->pool;

    return NGX_OK;
}


/*
 * The words of a value (ngx_api_led_metrics_sig_t): loads of 8, 4 or 1
 * bytes that overlap rather than a loop over its bytes
 */

static ngx_inline void
ngx_api_led_metrics_sig(ngx_str_t *value, ngx_api_led_metrics_sig_t *sig)
{
    u_char    *p;
    size_t     len;
    uint32_t   x, y;

    p = value->data;
    len = value->len;

    sig->len = len;
    sig->b = 0;

    if (len >= 8) {
        ngx_memcpy(&sig->a, p, 8);
        ngx_memcpy(&sig->b, p + len - 8, 8);

    } else if (len >= 4) {
        ngx_memcpy(&x, p, 4);
        ngx_memcpy(&y, p + len - 4, 4);
        sig->a = (uint64_t) x | (uint64_t) y << 32;

    } else if (len) {
        sig->a = (uint64_t) p[0] | (uint64_t) p[len / 2] << 8
                 | (uint64_t) p[len - 1] << 16;

    } else {
        sig->a = 0;
    }
}


/* the query's words and its hash; NULL: not for the worker's memory */

static ngx_atomic_t *
ngx_api_led_metrics_cache_find(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metrics_query_t *q)
{
    u_char                        *p;
    uint64_t                       h;
    ngx_uint_t                     i, j;
    ngx_api_led_metrics_sig_t     *s;
    ngx_api_led_metrics_cached_t  *c;

    if (mz->cache == NULL || q->n > NGX_API_LED_METRICS_CACHE_VALUES) {
        q->hash = 0;
        return NULL;
    }

    h = ((uint64_t) (uintptr_t) q->m ^ ((uint64_t) (uintptr_t) q->salt << 17))
        * NGX_API_LED_MIX;

    for (i = 0; i < q->n; i++) {
        s = &q->sig[i];

        if (q->values[i].len > NGX_API_LED_METRICS_VALUE_MAX) {
            q->hash = 0;
            return NULL;
        }

        ngx_api_led_metrics_sig(&q->values[i], s);

        h = ngx_api_led_mix(h, s->a ^ ((uint64_t) s->len << 56));
        h = (h ^ s->b) * NGX_API_LED_MIX;
    }

    h ^= h >> 32;
    q->hash = (uint32_t) h ? (uint32_t) h : 1;

    for (j = 0; j < NGX_API_LED_METRICS_CACHE_PROBE; j++) {
        c = &mz->cache[(q->hash + j) & (NGX_API_LED_METRICS_CACHE - 1)];

        if (c->hash == 0) {
            return NULL;
        }

        if (c->hash != q->hash || c->m != q->m || c->salt != q->salt) {
            continue;
        }

        p = c->raw;

        for (i = 0; i < q->n; i++) {
            s = &c->sig[i];

            if (s->len != q->sig[i].len || s->a != q->sig[i].a
                || s->b != q->sig[i].b)
            {
                break;
            }

            if (s->len > 16) {
                if (ngx_memcmp(p, q->values[i].data, s->len) != 0) {
                    break;
                }

                p += s->len;
            }
        }

        if (i == q->n) {
            return c->values;
        }
    }

    return NULL;
}


static void
ngx_api_led_metrics_cache_add(ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metrics_query_t *q, ngx_atomic_t *v)
{
    u_char                        *p;
    size_t                         len;
    ngx_uint_t                     i, j;
    ngx_api_led_metrics_cached_t  *c;

    if (q->hash == 0 || v == NULL
        || mz->ncached >= NGX_API_LED_METRICS_CACHE / 2)
    {
        return;
    }

    c = NULL;

    for (j = 0; j < NGX_API_LED_METRICS_CACHE_PROBE; j++) {
        c = &mz->cache[(q->hash + j) & (NGX_API_LED_METRICS_CACHE - 1)];

        if (c->hash == 0) {
            break;
        }
    }

    if (c == NULL || j == NGX_API_LED_METRICS_CACHE_PROBE) {
        return;
    }

    len = 0;

    for (i = 0; i < q->n; i++) {
        if (q->values[i].len > 16) {
            len += q->values[i].len;
        }
    }

    c->sig = ngx_palloc(mz->cache_pool,
                        (q->n ? q->n : 1) * sizeof(ngx_api_led_metrics_sig_t)
                        + len);
    if (c->sig == NULL) {
        return;
    }

    ngx_memcpy(c->sig, q->sig, q->n * sizeof(ngx_api_led_metrics_sig_t));

    p = (u_char *) (c->sig + (q->n ? q->n : 1));
    c->raw = p;

    for (i = 0; i < q->n; i++) {
        if (q->values[i].len > 16) {
            p = ngx_cpymem(p, q->values[i].data, q->values[i].len);
        }
    }

    c->m = q->m;
    c->salt = q->salt;
    c->values = v;
    c->hash = q->hash;

    mz->ncached++;
}
