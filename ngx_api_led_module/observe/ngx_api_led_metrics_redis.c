
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The series of Redis nodes.  redis/ is below observe/ and cannot count:
 * the concern that owns an api_led_redis configuration asks for these
 * series (ngx_api_led_observe_redis()), which gives the configuration an
 * observer; each node's connection reports to it through
 * ngx_api_led_redis_node_event().
 */


#include "ngx_api_led_observe_module.h"


typedef struct {
    ngx_api_led_metric_t        *connections;
    ngx_api_led_metric_t        *opens;
    ngx_api_led_metric_t        *calls;
    ngx_api_led_metric_t        *duration;
} ngx_api_led_metrics_redis_t;


static void ngx_api_led_metrics_redis_event(void *data, ngx_str_t *node,
    ngx_uint_t event, ngx_uint_t from, ngx_msec_int_t ms, ngx_log_t *log);


static char  *ngx_api_led_metrics_redis_state_labels[] = {
    "node", "state", NULL
};

static char  *ngx_api_led_metrics_redis_node_labels[] = {
    "node", NULL
};

static char  *ngx_api_led_metrics_redis_call_labels[] = {
    "node", "outcome", NULL
};

/* by NGX_API_LED_REDIS_NODE_* and _CALL_* */
static ngx_str_t  ngx_api_led_metrics_redis_names[] = {
    ngx_null_string,
    ngx_string("connecting"),
    ngx_string("up"),
    ngx_string("down"),
    ngx_null_string,
    ngx_string("ok"),
    ngx_string("error"),
    ngx_string("failed")
};


ngx_int_t
ngx_api_led_observe_redis(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rcf)
{
    ngx_api_led_metrics_redis_t  *mr;

    mr = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_metrics_redis_t));
    if (mr == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_metric_add(cf, &mr->connections,
                               "api_led_redis_connections",
                               "Connections of the workers to a Redis node, "
                               "by state (down: the circuit is open).",
                               NGX_API_LED_METRIC_GAUGE,
                               ngx_api_led_metrics_redis_state_labels)
        != NGX_OK
        || ngx_api_led_metric_add(cf, &mr->opens,
                                  "api_led_redis_circuit_opens",
                                  "Times a worker found a Redis node "
                                  "unavailable and opened its circuit.",
                                  NGX_API_LED_METRIC_COUNTER,
                                  ngx_api_led_metrics_redis_node_labels)
           != NGX_OK
        || ngx_api_led_metric_add(cf, &mr->calls, "api_led_redis_calls",
                                  "Calls to a Redis node by outcome: a "
                                  "reply, an error reply, none (failed).",
                                  NGX_API_LED_METRIC_COUNTER,
                                  ngx_api_led_metrics_redis_call_labels)
           != NGX_OK
        || ngx_api_led_metric_add(cf, &mr->duration,
                                  "api_led_redis_call_duration_seconds",
                                  "Time from sending a call to a Redis node "
                                  "to its reply.",
                                  NGX_API_LED_METRIC_HISTOGRAM,
                                  ngx_api_led_metrics_redis_node_labels)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (mr->connections == NULL) {
        /* no metrics zone: the nodes report to nobody */
        return NGX_OK;
    }

    ngx_api_led_redis_set_observer(rcf, ngx_api_led_metrics_redis_event, mr);

    return NGX_OK;
}


static void
ngx_api_led_metrics_redis_event(void *data, ngx_str_t *node,
    ngx_uint_t event, ngx_uint_t from, ngx_msec_int_t ms, ngx_log_t *log)
{
    ngx_api_led_metrics_redis_t *mr = data;

    ngx_str_t  values[2];

    values[0] = *node;

    switch (event) {

    case NGX_API_LED_REDIS_CALL_OK:
    case NGX_API_LED_REDIS_CALL_ERROR:
        ngx_api_led_metric_observe(mr->duration, values, ms, log);

        /* fall through */

    case NGX_API_LED_REDIS_CALL_FAILED:
        values[1] = ngx_api_led_metrics_redis_names[event];
        ngx_api_led_metric_count(mr->calls, values, 1, log);
        return;
    }

    /* a state: the worker's connection leaves one and enters another */

    if (from && from != NGX_API_LED_REDIS_NODE_GONE) {
        values[1] = ngx_api_led_metrics_redis_names[from];
        ngx_api_led_metric_change(mr->connections, values, -1, log);
    }

    if (event == NGX_API_LED_REDIS_NODE_GONE) {
        return;
    }

    values[1] = ngx_api_led_metrics_redis_names[event];
    ngx_api_led_metric_change(mr->connections, values, 1, log);

    if (event == NGX_API_LED_REDIS_NODE_DOWN) {
        ngx_api_led_metric_count(mr->opens, values, 1, log);
    }
}
