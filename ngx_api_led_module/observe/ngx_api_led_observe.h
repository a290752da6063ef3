
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The observe service: what the policies tell it, for the metrics and the
 * catalog.  Policies include this header and call it; it never reads a
 * policy's configuration (arrows point one way: policies -> observe).
 */


#ifndef _NGX_API_LED_OBSERVE_H_INCLUDED_
#define _NGX_API_LED_OBSERVE_H_INCLUDED_


#include "ngx_api_led.h"
#include "ngx_api_led_redis.h"


extern ngx_module_t  ngx_api_led_observe_module;


/*
 * Metrics.  A concern adds its metric families once the configuration is
 * parsed (from a merge_loc_conf or its postconfiguration): NAME (a
 * counter's without "_total"), HELP, TYPE and the names of its labels,
 * NULL-terminated.  *metric is NULL when no api_led_metrics_zone is
 * configured: the concern then counts nothing, at the cost of one test.
 * On the request path, one value per label (escaped by the service, at
 * most 256 bytes each): a counter goes up by n, a histogram observes a
 * duration in milliseconds, a gauge is set.  Lock-free: a few atomic
 * operations in shared memory, a lock only for the first use of a series.
 */

#define NGX_API_LED_METRIC_COUNTER    1
#define NGX_API_LED_METRIC_GAUGE      2
#define NGX_API_LED_METRIC_HISTOGRAM  3

typedef struct ngx_api_led_metric_s  ngx_api_led_metric_t;

ngx_int_t ngx_api_led_metric_add(ngx_conf_t *cf,
    ngx_api_led_metric_t **metric, char *name, char *help, ngx_uint_t type,
    char **labels);
void ngx_api_led_metric_count(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_uint_t n, ngx_log_t *log);
void ngx_api_led_metric_observe(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_msec_int_t ms, ngx_log_t *log);
void ngx_api_led_metric_set(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_atomic_uint_t value, ngx_log_t *log);
/*
 * A gauge that workers share goes up or down by delta: each worker adds
 * what it holds and takes away only what it added (a worker that crashes
 * leaves its share until the zone goes).
 */
void ngx_api_led_metric_change(ngx_api_led_metric_t *m, ngx_str_t *values,
    ngx_int_t delta, ngx_log_t *log);


/*
 * The series of a Redis configuration's nodes: the concern that owns an
 * api_led_redis configuration calls this once it is parsed (from its
 * postconfiguration); with a metrics zone its nodes' connections are then
 * counted by node: their states, circuit opens, calls and their latency
 * (ngx_api_led_redis_node_event()).
 */
ngx_int_t ngx_api_led_observe_redis(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf);


/*
 * The catalog.  A concern describes an API location from its
 * merge_loc_conf: ngx_api_led_catalog_entry() returns the JSON object of
 * the location being merged, or NULL when no location serves the catalog
 * or the location is no API (then the concern has nothing to do).  The
 * concern sets its own members on it (json_object_set_new()): what a
 * reader of the catalog needs, never a secret or a key.  The catalog is
 * rendered once the configuration is parsed and freed with it.
 */
json_t *ngx_api_led_catalog_entry(ngx_conf_t *cf);

/*
 * A JSON string of the catalog from configuration text as written (a
 * location, a server name, a part's URI, a limit's key...): nginx takes
 * any bytes there, JSON only UTF-8, so a byte that is not UTF-8 (a
 * Latin-1 "\xe9") becomes U+FFFD.  NULL only without memory.
 */
json_t *ngx_api_led_catalog_text(u_char *data, size_t len);

/*
 * The location being merged calls the local URI "uri" (a subrequest:
 * variables replaced by a sample value such as "0").  Once every location
 * is known, the API that answers that URI in the same server is written to
 * "part" as "api", and the call is drawn as an arrow.
 */
ngx_int_t ngx_api_led_catalog_call(ngx_conf_t *cf, json_t *part,
    ngx_str_t *uri);

/*
 * Members of the catalog as a whole ("plans"), from a concern's
 * postconfiguration or merge: NULL when there is no catalog.
 */
json_t *ngx_api_led_catalog_root(ngx_conf_t *cf);

/*
 * Events in the catalog: what an API publishes and consumes.  The events
 * concern describes a location's own events in its entry's "events"
 * ("publishes": each with its "type" and "stream"; "streams": the stream
 * it serves as Server-Sent Events, {"stream", "types"}).  From a
 * concern's merge_loc_conf, the location being merged publishes events of
 * "type" into "stream" from a composition part ("part": its name).  From a
 * postconfiguration (before the observe module's, which renders the
 * catalog): a listener (api_led_event_deliver) delivers the entries of
 * "stream", for its consumer group, to the local URI "uri" of the server
 * of "ctx" (NULL: the http block's first server); once every location is
 * known, the API that answers "uri" has it in "events": "consumes".  The
 * catalog then lists each stream's publishers and consumers ("streams").
 * Without a catalog (or for a location that is no API) they do nothing:
 * NGX_OK.
 */
ngx_int_t ngx_api_led_catalog_publishes(ngx_conf_t *cf, ngx_str_t *type,
    ngx_str_t *stream, ngx_str_t *part);
ngx_int_t ngx_api_led_catalog_delivers(ngx_conf_t *cf,
    ngx_http_conf_ctx_t *ctx, ngx_str_t *stream, ngx_str_t *group,
    ngx_str_t *uri);


#endif /* _NGX_API_LED_OBSERVE_H_INCLUDED_ */
