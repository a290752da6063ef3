
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The exposition of the metrics zone: the Prometheus text format (0.0.4),
 * or OpenMetrics 1.0 when Accept prefers it.  The series are read without
 * a lock (see ngx_api_led_metrics.c) and printed sorted, family by family.
 */


#include "ngx_api_led_observe_module.h"


typedef struct {
    ngx_api_led_metrics_slot_t  *slot;
} ngx_api_led_metrics_sorted_t;


static int ngx_libc_cdecl ngx_api_led_metrics_cmp(const void *one,
    const void *two);
static u_char *ngx_api_led_metrics_family(u_char *p,
    ngx_api_led_metrics_zone_t *mz, ngx_api_led_metric_t *m,
    ngx_api_led_metrics_sorted_t *sorted, ngx_uint_t n, ngx_uint_t format);
static u_char *ngx_api_led_metrics_sample(u_char *p,
    ngx_api_led_metrics_zone_t *mz, ngx_api_led_metric_t *m,
    ngx_api_led_metrics_slot_t *slot);
static u_char *ngx_api_led_metrics_seconds(u_char *p, uint64_t ms);


/* the zone's own families: printed from its header, never counted */

static ngx_api_led_metric_t  ngx_api_led_metric_series = {
    ngx_string("api_led_metrics_series"),
    ngx_string("Series in the metrics zone."),
    NGX_API_LED_METRIC_GAUGE, NULL, 0, NULL
};

static ngx_api_led_metric_t  ngx_api_led_metric_series_max = {
    ngx_string("api_led_metrics_series_max"),
    ngx_string("Series the metrics zone takes before it counts in the "
               "overflow series."),
    NGX_API_LED_METRIC_GAUGE, NULL, 0, NULL
};

static ngx_api_led_metric_t  ngx_api_led_metric_dropped = {
    ngx_string("api_led_metrics_dropped"),
    ngx_string("Observations not counted: the zone had no room even for an "
               "overflow series."),
    NGX_API_LED_METRIC_COUNTER, NULL, 0, NULL
};


static ngx_str_t  ngx_api_led_metrics_types[] = {
    ngx_string("text/plain; version=0.0.4; charset=utf-8"),
    ngx_string("application/openmetrics-text; version=1.0.0; charset=utf-8")
};

/* what Accept may ask for, in the order of the formats */
static ngx_str_t  ngx_api_led_metrics_accept[] = {
    ngx_string("text/plain"),
    ngx_string("application/openmetrics-text")
};


ngx_int_t
ngx_api_led_metrics_handler(ngx_http_request_t *r)
{
    size_t                            size;
    u_char                           *p;
    ngx_int_t                         rc;
    ngx_buf_t                        *b;
    ngx_uint_t                        i, n, most, format;
    ngx_api_led_metric_t            **m, **last;
    ngx_api_led_metrics_sh_t         *sh;
    ngx_api_led_metrics_zone_t       *mz;
    ngx_api_led_metrics_slot_t       *slot;
    ngx_api_led_metrics_sorted_t     *sorted;
    ngx_api_led_observe_main_conf_t  *omcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_api_led_observe_not_allowed(r);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    format = ngx_api_led_observe_accept(r, ngx_api_led_metrics_accept, 2);

    omcf = ngx_api_led_observe_main_conf(r);
    mz = omcf->shm_zone->data;
    sh = mz->sh;

    /* the series as they are now, sorted: stable output */

    /* series made meanwhile wait for the next scrape */
    most = sh->nseries;

    sorted = ngx_palloc(r->pool, (most + 1)
                                 * sizeof(ngx_api_led_metrics_sorted_t));
    if (sorted == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;
    size = 4096;

    for (i = 0; i < sh->nslots && n < most; i++) {
        slot = &sh->slots[i];

        if (slot->hash == 0) {
            continue;
        }

        ngx_memory_barrier();

        sorted[n++].slot = slot;

        /* a line per value and two more, each key, suffix, le and value */
        size += (slot->nvalues + 2) * (slot->key_len + 96);
    }

    ngx_qsort(sorted, n, sizeof(ngx_api_led_metrics_sorted_t),
              ngx_api_led_metrics_cmp);

    m = omcf->families.elts;
    last = m + omcf->families.nelts;

    for ( /* void */ ; m < last; m++) {
        size += (*m)->name.len * 2 + (*m)->help.len + 64;
    }

    size += 1024;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;

    for (m = omcf->families.elts; m < last; m++) {
        p = ngx_api_led_metrics_family(p, mz, *m, sorted, n, format);
    }

    /* the zone itself */

    p = ngx_api_led_metrics_family(p, mz, &ngx_api_led_metric_series, NULL,
                                   0, format);
    p = ngx_sprintf(p, "api_led_metrics_series %uA\n", sh->nseries);

    p = ngx_api_led_metrics_family(p, mz, &ngx_api_led_metric_series_max,
                                   NULL, 0, format);
    p = ngx_sprintf(p, "api_led_metrics_series_max %ui\n", mz->max_series);

    p = ngx_api_led_metrics_family(p, mz, &ngx_api_led_metric_dropped, NULL,
                                   0, format);
    p = ngx_sprintf(p, "api_led_metrics_dropped_total %uA\n", sh->dropped);

    if (format == NGX_API_LED_METRICS_OPENMETRICS) {
        p = ngx_cpymem(p, "# EOF\n", sizeof("# EOF\n") - 1);
    }

    b->last = p;

    r->headers_out.content_type_lowcase = NULL;

    if (ngx_api_led_observe_vary(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_api_led_send_buf(r, NGX_HTTP_OK,
                                &ngx_api_led_metrics_types[format], b);
}


static int ngx_libc_cdecl
ngx_api_led_metrics_cmp(const void *one, const void *two)
{
    int                            rc;
    ngx_api_led_metrics_slot_t    *a, *b;

    a = ((ngx_api_led_metrics_sorted_t *) one)->slot;
    b = ((ngx_api_led_metrics_sorted_t *) two)->slot;

    rc = ngx_memcmp(a->key, b->key, ngx_min(a->key_len, b->key_len));

    if (rc != 0) {
        return rc;
    }

    return (int) a->key_len - (int) b->key_len;
}


/* HELP and TYPE of a family, then its series */

static u_char *
ngx_api_led_metrics_family(u_char *p, ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metric_t *m, ngx_api_led_metrics_sorted_t *sorted,
    ngx_uint_t n, ngx_uint_t format)
{
    char                        *type;
    ngx_uint_t                   i, total;
    ngx_api_led_metrics_slot_t  *slot;

    switch (m->type) {
    case NGX_API_LED_METRIC_COUNTER:
        type = "counter";
        break;
    case NGX_API_LED_METRIC_HISTOGRAM:
        type = "histogram";
        break;
    default:
        type = "gauge";
    }

    /* the text format names a counter's family with _total, OpenMetrics
     * without */

    total = (m->type == NGX_API_LED_METRIC_COUNTER
             && format == NGX_API_LED_METRICS_PROMETHEUS);

    p = ngx_sprintf(p, "# HELP %V%s %V\n# TYPE %V%s %s\n",
                    &m->name, total ? "_total" : "", &m->help,
                    &m->name, total ? "_total" : "", type);

    for (i = 0; i < n; i++) {
        slot = sorted[i].slot;

        if (slot->key_len < m->name.len
            || ngx_memcmp(slot->key, m->name.data, m->name.len) != 0
            || (slot->key_len > m->name.len
                && slot->key[m->name.len] != '{'))
        {
            continue;
        }

        p = ngx_api_led_metrics_sample(p, mz, m, slot);
    }

    return p;
}


static u_char *
ngx_api_led_metrics_sample(u_char *p, ngx_api_led_metrics_zone_t *mz,
    ngx_api_led_metric_t *m, ngx_api_led_metrics_slot_t *slot)
{
    uint64_t     count;
    ngx_str_t    labels, open;
    ngx_uint_t   i, nb;

    labels.data = slot->key + m->name.len;
    labels.len = slot->key_len - m->name.len;

    switch (m->type) {

    case NGX_API_LED_METRIC_COUNTER:
        return ngx_sprintf(p, "%V_total%V %uA\n", &m->name, &labels,
                           slot->values[0]);

    case NGX_API_LED_METRIC_GAUGE:
        return ngx_sprintf(p, "%V%V %uA\n", &m->name, &labels,
                           slot->values[0]);
    }

    /* a histogram: cumulative buckets with their "le" */

    nb = slot->nvalues - 2;

    if (labels.len) {
        open.data = labels.data;
        open.len = labels.len - 1;              /* without "}" */

    } else {
        open.data = (u_char *) "{";
        open.len = 1;
    }

    count = 0;

    for (i = 0; i < nb; i++) {
        count += slot->values[i];

        p = ngx_sprintf(p, "%V_bucket%V%sle=\"", &m->name, &open,
                        labels.len ? "," : "");
        p = ngx_api_led_metrics_seconds(p, i < mz->nbuckets
                                           ? mz->buckets[i] : 0);
        p = ngx_sprintf(p, "\"} %uL\n", count);
    }

    count += slot->values[nb];

    p = ngx_sprintf(p, "%V_bucket%V%sle=\"+Inf\"} %uL\n", &m->name, &open,
                    labels.len ? "," : "", count);

    p = ngx_sprintf(p, "%V_sum%V ", &m->name, &labels);
    p = ngx_api_led_metrics_seconds(p, slot->values[nb + 1]);

    return ngx_sprintf(p, "\n%V_count%V %uL\n", &m->name, &labels, count);
}


/*
 * Milliseconds as seconds in the canonical form of both formats: "0.005",
 * "0.25", "1.0", "2.5" (OpenMetrics wants "1.0", not "1")
 */

static u_char *
ngx_api_led_metrics_seconds(u_char *p, uint64_t ms)
{
    uint64_t  frac;

    p = ngx_sprintf(p, "%uL.", ms / 1000);

    frac = ms % 1000;

    if (frac == 0) {
        *p++ = '0';
        return p;
    }

    *p++ = (u_char) ('0' + frac / 100);
    frac %= 100;

    if (frac == 0) {
        return p;
    }

    *p++ = (u_char) ('0' + frac / 10);
    frac %= 10;

    if (frac == 0) {
        return p;
    }

    *p++ = (u_char) ('0' + frac);

    return p;
}
