
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the observe concern (ngx_api_led_observe*.c,
 * ngx_api_led_metrics*.c, ngx_api_led_catalog*.c): its configuration, the
 * metrics zone and the functions its files share.
 */


#ifndef _NGX_API_LED_OBSERVE_MODULE_H_INCLUDED_
#define _NGX_API_LED_OBSERVE_MODULE_H_INCLUDED_


#include "ngx_api_led_observe.h"
#include "ngx_api_led_json.h"


#define NGX_API_LED_METRICS_MAX_BUCKETS  32
#define NGX_API_LED_METRICS_KEY_MAX      2048
#define NGX_API_LED_METRICS_MAX_SERIES   4096
#define NGX_API_LED_METRICS_VALUE_MAX    256

#define NGX_API_LED_METRICS_PROMETHEUS   0
#define NGX_API_LED_METRICS_OPENMETRICS  1


typedef struct ngx_api_led_metrics_zone_s  ngx_api_led_metrics_zone_t;


/* a metric family: its series are NAME{LABELS} in the zone */
struct ngx_api_led_metric_s {
    ngx_str_t                    name;        /* counters: without _total */
    ngx_str_t                    help;
    ngx_uint_t                   type;        /* NGX_API_LED_METRIC_* */
    ngx_str_t                   *labels;      /* names */
    ngx_uint_t                   nlabels;
    ngx_api_led_metrics_zone_t  *zone;
};


/*
 * One series in shared memory.  The hash is written last: a slot whose
 * hash is not 0 has its key and values in place, and never changes again
 * (series are never removed), so readers need no lock.
 */
typedef struct {
    ngx_atomic_t                 hash;        /* 0: free */
    u_char                      *key;         /* NAME{LABELS} */
    ngx_atomic_t                *values;
    uint32_t                     key_len;
    uint32_t                     nvalues;
} ngx_api_led_metrics_slot_t;


typedef struct {
    ngx_uint_t                   nslots;      /* a power of 2 */
    ngx_atomic_t                 nseries;
    ngx_atomic_t                 dropped;     /* not even in the overflow */
    ngx_atomic_t                 full_logged;
    ngx_uint_t                   nbuckets;
    ngx_msec_t                   buckets[NGX_API_LED_METRICS_MAX_BUCKETS];
    ngx_api_led_metrics_slot_t   slots[1];
} ngx_api_led_metrics_sh_t;


/*
 * A worker's memory of the series it counted in: the label values as
 * given (before escaping) and the series' values in the zone, so that a
 * series counted again costs a hash of its values and a comparison, not
 * the escaping, the key and the lookup in shared memory.
 */
#define NGX_API_LED_METRICS_CACHE        1024   /* entries, a power of 2 */
#define NGX_API_LED_METRICS_CACHE_PROBE  8
#define NGX_API_LED_METRICS_CACHE_VALUES 8      /* labels, at most */

/*
 * A label value in a few words: its length, and its first and last eight
 * bytes (for a shorter one, loads that overlap to cover its bytes): a
 * value of at most 16 bytes is told by them alone, a longer one also by
 * its bytes.
 */
typedef struct {
    uint64_t                     a;
    uint64_t                     b;
    size_t                       len;
} ngx_api_led_metrics_sig_t;

typedef struct {
    uint32_t                     hash;        /* 0: free */
    void                        *m;           /* the family */
    void                        *salt;        /* the location, or NULL */
    ngx_api_led_metrics_sig_t   *sig;         /* one a value */
    u_char                      *raw;         /* the values longer than 16
                                                 bytes, one after another */
    ngx_atomic_t                *values;
} ngx_api_led_metrics_cached_t;


struct ngx_api_led_metrics_zone_s {
    ngx_api_led_metrics_sh_t    *sh;
    ngx_slab_pool_t             *shpool;
    ngx_uint_t                   max_series;
    ngx_uint_t                   nbuckets;
    ngx_msec_t                  *buckets;     /* upper bounds, ms */
    ngx_api_led_metrics_cached_t *cache;      /* per worker, NULL: none */
    ngx_uint_t                   ncached;
    ngx_pool_t                  *cache_pool;
    u_char                      *file;        /* api_led_metrics_zone, */
    ngx_uint_t                   line;        /* for the zone's errors */
};


/* a series' labels, built on the stack: NAME{a="1",b="2"} */
typedef struct {
    u_char                      *p;
    u_char                      *last;
    u_char                       buf[NGX_API_LED_METRICS_KEY_MAX];
    ngx_uint_t                   nlabels;
    unsigned                     overflow:1;
} ngx_api_led_metrics_key_t;


/* the catalog entry of an API location, while configuring */
typedef struct {
    void                        *llcf;        /* the core's loc conf */
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_core_srv_conf_t    *cscf;
    json_t                      *json;
} ngx_api_led_catalog_item_t;


typedef struct {
    ngx_uint_t                   from;        /* the caller's item */
    json_t                      *part;
    ngx_str_t                    uri;
} ngx_api_led_catalog_link_t;


typedef struct {
    ngx_str_t                    path;
    ngx_str_t                    text;
    ngx_str_t                    id;          /* NAME or NAME@VERSION of
                                                 the first API with it */
} ngx_api_led_catalog_spec_t;


/* a spec found by its id or its path while configuring, and by requests */
typedef struct {
    ngx_str_node_t               sn;
    ngx_uint_t                   spec;        /* index in "specs" */
} ngx_api_led_catalog_key_t;


/* a listener's deliveries (api_led_event_deliver), while configuring */
typedef struct {
    ngx_http_core_srv_conf_t    *cscf;        /* NULL: no server */
    ngx_str_t                    stream;
    ngx_str_t                    group;
    ngx_str_t                    uri;
} ngx_api_led_catalog_delivery_t;


typedef struct {
    /* metrics */
    ngx_shm_zone_t              *shm_zone;
    ngx_uint_t                   max_series;
    ngx_array_t                 *buckets;     /* ngx_msec_t, NULL: default */
    ngx_uint_t                   napis;       /* API locations */
    ngx_array_t                  families;    /* ngx_api_led_metric_t *,
                                                 in the exposition's order */
    ngx_api_led_metric_t        *requests;
    ngx_api_led_metric_t        *duration;
    ngx_api_led_metric_t        *upstream;
    ngx_atomic_t               **cache;       /* per worker: a location's
                                                 histogram series */

    /* catalog */
    json_t                      *root;
    ngx_array_t                  items;       /* ngx_api_led_catalog_item_t */
    ngx_array_t                  links;       /* ngx_api_led_catalog_link_t */
    ngx_array_t                  specs;       /* ngx_api_led_catalog_spec_t */
    ngx_rbtree_t                 spec_ids;    /* ngx_api_led_catalog_key_t */
    ngx_rbtree_node_t            spec_ids_sentinel;
    ngx_rbtree_t                 spec_paths;
    ngx_rbtree_node_t            spec_paths_sentinel;
    ngx_api_led_catalog_item_t **plain;       /* exact and prefix items by */
    ngx_uint_t                   nplain;      /* server, kind and name, */
    ngx_api_led_catalog_item_t **regex;       /* regex items by server and */
    ngx_uint_t                   nregex;      /* order: made by render */
    ngx_array_t                  deliveries;  /* ..._catalog_delivery_t */
    ngx_str_t                    json;        /* rendered */
    ngx_str_t                    html;

    u_char                      *metrics_file;  /* where api_led_metrics */
    ngx_uint_t                   metrics_line;  /* was, for its check */

    unsigned                     catalog:1;   /* a location serves it */
    unsigned                     metrics:1;   /* a location serves them */
    unsigned                     lifecycle:1; /* Deprecation or Sunset */
} ngx_api_led_observe_main_conf_t;


typedef struct {
    ngx_flag_t                   consumer;    /* api_led_metrics_consumer */
    ngx_int_t                    index;       /* API location, -1: none */
    ngx_str_t                    labels;      /* api="..",layer="..",.. */
    ngx_str_t                    deprecation; /* header values, "": none */
    ngx_str_t                    sunset;
    ngx_uint_t                   catalog_item; /* index + 1 in "items",
                                                  0: none (yet) */
} ngx_api_led_observe_loc_conf_t;


/* ngx_api_led_metrics.c: the zone, series, the exposition */
char *ngx_api_led_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_api_led_metrics_buckets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_api_led_metrics_init_conf(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf);
ngx_int_t ngx_api_led_metrics_log_handler(ngx_http_request_t *r);
ngx_int_t ngx_api_led_metrics_init_worker(ngx_cycle_t *cycle,
    ngx_api_led_observe_main_conf_t *omcf);
ngx_int_t ngx_api_led_metrics_escape(ngx_pool_t *pool, ngx_str_t *name,
    ngx_str_t *value, ngx_str_t *out, ngx_uint_t first);

/* ngx_api_led_metrics_text.c: the exposition */
ngx_int_t ngx_api_led_metrics_handler(ngx_http_request_t *r);

/* ngx_api_led_catalog.c: the entries, calls between APIs, the JSON */
ngx_int_t ngx_api_led_catalog_describe(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf);
ngx_int_t ngx_api_led_catalog_render(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf);
ngx_int_t ngx_api_led_catalog_handler(ngx_http_request_t *r);
ngx_int_t ngx_api_led_catalog_spec(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_loc_conf_t *llcf);

/* ngx_api_led_catalog_events.c: an entry's "events", the "streams" */
ngx_int_t ngx_api_led_catalog_events_add(json_t *api, const char *role,
    json_t *e);
ngx_int_t ngx_api_led_catalog_events_streams(json_t *root, json_t *others);

/* ngx_api_led_catalog_html.c: the page */
ngx_int_t ngx_api_led_catalog_html(ngx_conf_t *cf, json_t *root,
    ngx_str_t *out);

/*
 * ngx_api_led_observe_http.c: the module's configuration by its index
 * (set with its main configuration: before any policy describes itself),
 * content negotiation (the index of the type of "types" the Accept header
 * prefers, 0 without one), "Vary: Accept", the 405 answer of the content
 * handlers
 */
extern ngx_uint_t  ngx_api_led_observe_index;
extern ngx_api_led_edit_name_t  ngx_api_led_observe_vary_name;
extern ngx_api_led_edit_name_t  ngx_api_led_observe_allow;

#define ngx_api_led_observe_main_conf(r)                                      \
    ((ngx_api_led_observe_main_conf_t *)                                      \
         (r)->main_conf[ngx_api_led_observe_index])
#define ngx_api_led_observe_loc_conf(r)                                       \
    ((ngx_api_led_observe_loc_conf_t *)                                       \
         (r)->loc_conf[ngx_api_led_observe_index])
#define ngx_api_led_observe_conf_main_conf(cf)                                \
    ((ngx_api_led_observe_main_conf_t *)                                      \
         ((ngx_http_conf_ctx_t *) (cf)->ctx)                                  \
             ->main_conf[ngx_api_led_observe_index])

ngx_uint_t ngx_api_led_observe_accept(ngx_http_request_t *r,
    ngx_str_t *types, ngx_uint_t n);
ngx_int_t ngx_api_led_observe_vary(ngx_http_request_t *r);
ngx_int_t ngx_api_led_observe_not_allowed(ngx_http_request_t *r);


#endif /* _NGX_API_LED_OBSERVE_MODULE_H_INCLUDED_ */
