
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The observe module: its directives, the labels and life-cycle headers
 * of each API location, the log phase handler of the metrics (registered
 * only with a metrics zone), the Deprecation and Sunset headers
 * (registered only when an API has a date), content negotiation.
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
static ngx_int_t ngx_api_led_observe_range(u_char *p, u_char *end,
    ngx_str_t *type, ngx_int_t *q);


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
static ngx_api_led_edit_name_t  ngx_api_led_observe_vary_name =
    { ngx_string("Vary"), ngx_string("vary"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_observe_allow =
    { ngx_string("Allow"), ngx_string("allow"), 0 };


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
     */

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

    if (llcf->deprecated) {
        p = ngx_pnalloc(cf->pool, NGX_TIME_T_LEN + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        olcf->deprecation.data = p;
        olcf->deprecation.len = ngx_sprintf(p, "@%T", llcf->deprecated) - p;
    }

    if (llcf->sunset) {
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
    ngx_http_core_loc_conf_t         *clcf;
    ngx_api_led_observe_main_conf_t  *omcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler of the location";
    }

    clcf->handler = ngx_api_led_metrics_handler;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_observe_module);
    omcf->metrics = 1;
    omcf->metrics_file = cf->conf_file->file.name.data;
    omcf->metrics_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_api_led_observe_catalog(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t         *clcf;
    ngx_api_led_observe_main_conf_t  *omcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler of the location";
    }

    clcf->handler = ngx_api_led_catalog_handler;

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


ngx_int_t
ngx_api_led_observe_vary(ngx_http_request_t *r)
{
    static ngx_str_t  accept = ngx_string("Accept");

    return ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_ADD,
                                        &ngx_api_led_observe_vary_name, NULL,
                                        &accept);
}


ngx_int_t
ngx_api_led_observe_not_allowed(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    static ngx_str_t  methods = ngx_string("GET, HEAD");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                     &ngx_api_led_observe_allow, NULL,
                                     &methods)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_api_led_problem_send(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "this resource answers GET and HEAD");
}


/*
 * Content negotiation (RFC 9110, 12.5.1): each type takes the quality of
 * the most specific media range that matches it ("type/subtype", then
 * "type/x", then x/x); the best quality wins, a tie goes to the type
 * listed first.  Without an Accept header, or when nothing is acceptable,
 * the first type: these resources always answer something.
 */

ngx_uint_t
ngx_api_led_observe_accept(ngx_http_request_t *r, ngx_str_t *types,
    ngx_uint_t n)
{
    u_char                     *p, *end, *next;
    ngx_int_t                   q, spec, best_q[4], best_spec[4];
    ngx_str_t                   range;
    ngx_uint_t                  i, best, seen;
    ngx_table_elt_t            *h;
    ngx_api_led_header_iter_t   it;

    static ngx_str_t  accept = ngx_string("Accept");

    n = ngx_min(n, 4);

    for (i = 0; i < n; i++) {
        best_q[i] = 0;
        best_spec[i] = 0;
    }

    seen = 0;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers, &accept,
                                        &it)))
    {
        seen = 1;
        p = h->value.data;
        end = p + h->value.len;

        while (p < end) {
            next = ngx_strlchr(p, end, ',');
            if (next == NULL) {
                next = end;
            }

            if (ngx_api_led_observe_range(p, next, &range, &q) == NGX_OK) {

                for (i = 0; i < n; i++) {
                    spec = 0;

                    if (range.len == 3
                        && ngx_strncmp(range.data, "*/*", 3) == 0)
                    {
                        spec = 1;

                    } else if (range.len == types[i].len
                               && ngx_strncasecmp(range.data, types[i].data,
                                                  range.len) == 0)
                    {
                        spec = 3;

                    } else if (range.len >= 2
                               && range.data[range.len - 1] == '*'
                               && range.data[range.len - 2] == '/'
                               && range.len - 1 <= types[i].len
                               && ngx_strncasecmp(range.data, types[i].data,
                                                  range.len - 1) == 0)
                    {
                        spec = 2;
                    }

                    if (spec > best_spec[i]) {
                        best_spec[i] = spec;
                        best_q[i] = q;
                    }
                }
            }

            p = next + 1;
        }
    }

    if (!seen) {
        return 0;
    }

    best = 0;

    for (i = 1; i < n; i++) {
        if (best_q[i] > best_q[best]) {
            best = i;
        }
    }

    return best;
}


/* " type/subtype ; a=b ; q=0.5 " -> the range and its quality (0..1000) */

static ngx_int_t
ngx_api_led_observe_range(u_char *p, u_char *end, ngx_str_t *type,
    ngx_int_t *q)
{
    u_char  *semi, *v, *last;

    *q = 1000;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    semi = ngx_strlchr(p, end, ';');
    last = semi ? semi : end;

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (last == p) {
        return NGX_DECLINED;
    }

    type->data = p;
    type->len = last - p;

    while (semi) {
        p = semi + 1;
        semi = ngx_strlchr(p, end, ';');
        last = semi ? semi : end;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (last - p < 2 || (*p != 'q' && *p != 'Q') || p[1] != '=') {
            continue;
        }

        v = p + 2;

        while (last > v && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        *q = ngx_atofp(v, last - v, 3);

        if (*q < 0 || *q > 1000) {
            /* not a quality: the range counts as not acceptable */
            *q = 0;
        }
    }

    return NGX_OK;
}
