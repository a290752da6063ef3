
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The observe module: its directives, the labels and life-cycle headers
 * of each API location, the log phase handler of the metrics (registered
 * only with a metrics zone), the Deprecation and Sunset headers
 * (registered only when an API has a date).  It calls the files of the
 * metrics and the catalog; they reach its configuration through
 * ngx_api_led_observe_http.c, never through this file.
 */


#include "ngx_api_led_observe_module.h"


static void *ngx_api_led_observe_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_observe_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_observe_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_api_led_observe_labels(ngx_conf_t *cf,
    ngx_api_led_loc_conf_t *llcf, ngx_api_led_observe_loc_conf_t *olcf);
static ngx_int_t ngx_api_led_observe_lifecycle(ngx_conf_t *cf,
    ngx_api_led_loc_conf_t *llcf, ngx_api_led_observe_loc_conf_t *olcf);
static ngx_int_t ngx_api_led_observe_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_observe_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_observe_cleanup(void *data);
static char *ngx_api_led_observe_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_observe_catalog(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_observe_header_filter(ngx_http_request_t *r);


static ngx_command_t  ngx_api_led_observe_commands[] = {

    { ngx_string("api_led_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_api_led_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_metrics_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_api_led_metrics_buckets,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_metrics_consumer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_observe_loc_conf_t, consumer),
      NULL },

    { ngx_string("api_led_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_api_led_observe_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_catalog"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_api_led_observe_catalog,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_observe_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_observe_init,              /* postconfiguration */

    ngx_api_led_observe_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_observe_create_loc_conf,   /* create location configuration */
    ngx_api_led_observe_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_api_led_observe_module = {
    NGX_MODULE_V1,
    &ngx_api_led_observe_module_ctx,       /* module context */
    ngx_api_led_observe_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_observe_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_api_led_edit_name_t  ngx_api_led_observe_deprecation =
    { ngx_string("Deprecation"), ngx_string("deprecation"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_observe_sunset =
    { ngx_string("Sunset"), ngx_string("sunset"), 0 };


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static void *
ngx_api_led_observe_create_main_conf(ngx_conf_t *cf)
{
    ngx_pool_cleanup_t               *cln;
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_observe_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    /* before any policy describes itself (see ngx_api_led_observe_http.c) */
    ngx_api_led_observe_index = ngx_api_led_observe_module.ctx_index;

    /*
     * set by ngx_pcalloc():
     *
     *     omcf->shm_zone = NULL;
     *     omcf->buckets = NULL;
     *     omcf->napis = 0;
     *     omcf->cache = NULL;
     *     omcf->json = { 0, NULL };
     *     omcf->html = { 0, NULL };
     *     omcf->catalog = 0;
     *     omcf->metrics = 0;
     *     omcf->lifecycle = 0;
     *     omcf->plain = NULL;
     *     omcf->nplain = 0;
     *     omcf->regex = NULL;
     *     omcf->nregex = 0;
     */

    ngx_rbtree_init(&omcf->spec_ids, &omcf->spec_ids_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&omcf->spec_paths, &omcf->spec_paths_sentinel,
                    ngx_str_rbtree_insert_value);

    if (ngx_array_init(&omcf->items, cf->pool, 8,
                       sizeof(ngx_api_led_catalog_item_t))
        != NGX_OK
        || ngx_array_init(&omcf->links, cf->pool, 8,
                          sizeof(ngx_api_led_catalog_link_t))
           != NGX_OK
        || ngx_array_init(&omcf->specs, cf->pool, 2,
                          sizeof(ngx_api_led_catalog_spec_t))
           != NGX_OK
        || ngx_array_init(&omcf->deliveries, cf->pool, 2,
                          sizeof(ngx_api_led_catalog_delivery_t))
           != NGX_OK
        || ngx_array_init(&omcf->families, cf->pool, 8,
                          sizeof(ngx_api_led_metric_t *))
           != NGX_OK)
    {
        return NULL;
    }

    /* the catalog's document while configuring; freed with the pool */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    omcf->root = json_object();
    if (omcf->root == NULL) {
        return NULL;
    }

    cln->handler = ngx_api_led_observe_cleanup;
    cln->data = omcf;

    return omcf;
}


static void
ngx_api_led_observe_cleanup(void *data)
{
    ngx_api_led_observe_main_conf_t  *omcf = data;

    if (omcf->root) {
        json_decref(omcf->root);
        omcf->root = NULL;
    }
}


static void *
ngx_api_led_observe_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_observe_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_observe_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->labels = { 0, NULL };
     *     conf->deprecation = { 0, NULL };
     *     conf->sunset = { 0, NULL };
     *     conf->catalog_item = 0;
     */

    conf->consumer = NGX_CONF_UNSET;
    conf->index = -1;

    return conf;
}


/*
 * Everything here follows from the merged api_led_api of the location
 * (the core's configuration): its labels, its place in the per-worker
 * cache, its life-cycle headers, its spec and its catalog entry.
 */

static char *
ngx_api_led_observe_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_observe_loc_conf_t  *prev = parent;
    ngx_api_led_observe_loc_conf_t  *conf = child;

    ngx_api_led_loc_conf_t           *llcf;
    ngx_api_led_observe_main_conf_t  *omcf;

    ngx_conf_merge_value(conf->consumer, prev->consumer, 0);

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);

    if (llcf->api.len == 0) {
        return NGX_CONF_OK;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_observe_module);

    conf->index = omcf->napis++;

    if (ngx_api_led_observe_labels(cf, llcf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_observe_lifecycle(cf, llcf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->deprecation.len || conf->sunset.len) {
        omcf->lifecycle = 1;
    }

    if (llcf->spec.len
        && ngx_api_led_catalog_spec(cf, omcf, llcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_catalog_describe(cf, omcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* api="NAME",layer="LAYER",version="V", escaped once */

static ngx_int_t
ngx_api_led_observe_labels(ngx_conf_t *cf, ngx_api_led_loc_conf_t *llcf,
    ngx_api_led_observe_loc_conf_t *olcf)
{
    ngx_str_t  labels;

    static ngx_str_t  api = ngx_string("api");
    static ngx_str_t  layer = ngx_string("layer");
    static ngx_str_t  version = ngx_string("version");

    ngx_str_null(&labels);

    if (ngx_api_led_metrics_escape(cf->pool, &api, &llcf->api, &labels, 1)
        != NGX_OK
        || ngx_api_led_metrics_escape(cf->pool, &layer,
                                      &ngx_api_led_layer_names[llcf->layer],
                                      &labels, 0)
           != NGX_OK
        || ngx_api_led_metrics_escape(cf->pool, &version, &llcf->version,
                                      &labels, 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    olcf->labels = labels;

    return NGX_OK;
}


/*
 * "Deprecation: @1767225600" (RFC 9745, a structured-field date) and
 * "Sunset: Thu, 01 Jan 2026 00:00:00 GMT" (RFC 8594, an HTTP-date)
 */

static ngx_int_t
ngx_api_led_observe_lifecycle(ngx_conf_t *cf, ngx_api_led_loc_conf_t *llcf,
    ngx_api_led_observe_loc_conf_t *olcf)
{
    u_char  *p;

    if (llcf->deprecated != NGX_API_LED_DATE_NONE) {
        p = ngx_pnalloc(cf->pool, NGX_TIME_T_LEN + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        olcf->deprecation.data = p;
        olcf->deprecation.len = ngx_sprintf(p, "@%T", llcf->deprecated) - p;
    }

    if (llcf->sunset != NGX_API_LED_DATE_NONE) {
        p = ngx_pnalloc(cf->pool, sizeof("Mon, 28 Sep 1970 06:00:00 GMT"));
        if (p == NULL) {
            return NGX_ERROR;
        }

        olcf->sunset.data = p;
        olcf->sunset.len = ngx_http_time(p, llcf->sunset) - p;
    }

    return NGX_OK;
}


static char *
ngx_api_led_observe_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                             *rv;
    ngx_api_led_observe_main_conf_t  *omcf;

    rv = ngx_api_led_content_handler(cf, "api_led_metrics",
                                     ngx_api_led_metrics_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_observe_module);

    omcf->metrics = 1;
    omcf->metrics_file = cf->conf_file->file.name.data;
    omcf->metrics_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_api_led_observe_catalog(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                             *rv;
    ngx_api_led_observe_main_conf_t  *omcf;

    rv = ngx_api_led_content_handler(cf, "api_led_catalog",
                                     ngx_api_led_catalog_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_observe_module);

    omcf->catalog = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_api_led_observe_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt              *h;
    ngx_api_led_edit_name_t          *names[4], **n;
    ngx_http_core_main_conf_t        *cmcf;
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_observe_module);

    names[0] = &ngx_api_led_observe_deprecation;
    names[1] = &ngx_api_led_observe_sunset;
    names[2] = &ngx_api_led_observe_vary_name;
    names[3] = &ngx_api_led_observe_allow;

    for (n = names; n < names + 4; n++) {
        (*n)->hash = ngx_hash_key((*n)->lowcase.data, (*n)->lowcase.len);
    }

    if (ngx_api_led_metrics_init_conf(cf, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a location without an API costs one comparison in the log phase */

    if (omcf->shm_zone && omcf->napis) {
        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_api_led_metrics_log_handler;
    }

    if (omcf->lifecycle) {
        ngx_http_next_header_filter = ngx_http_top_header_filter;
        ngx_http_top_header_filter = ngx_api_led_observe_header_filter;
    }

    if (omcf->catalog) {
        if (ngx_api_led_catalog_render(cf, omcf) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* the catalog's document is rendered: nothing refers to it now */

    json_decref(omcf->root);
    omcf->root = NULL;

    return NGX_OK;
}


/* per worker: each API location's histogram series, found on first use */

static ngx_int_t
ngx_api_led_observe_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_observe_module);

    if (omcf == NULL || omcf->shm_zone == NULL) {
        return NGX_OK;
    }

    if (ngx_api_led_metrics_init_worker(cycle, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (omcf->napis == 0) {
        return NGX_OK;
    }

    omcf->cache = ngx_pcalloc(cycle->pool,
                              2 * omcf->napis * sizeof(ngx_atomic_t *));
    if (omcf->cache == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_observe_header_filter(ngx_http_request_t *r)
{
    ngx_api_led_observe_loc_conf_t  *olcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_api_led_observe_module);

    if (olcf->deprecation.len
        && ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                        &ngx_api_led_observe_deprecation,
                                        NULL, &olcf->deprecation)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (olcf->sunset.len
        && ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                        &ngx_api_led_observe_sunset, NULL,
                                        &olcf->sunset)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}
