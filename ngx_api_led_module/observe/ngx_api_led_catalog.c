
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The catalog: every API of the configuration, computed once the
 * configuration is parsed and served as it is (nothing per request).
 *
 * The observe module describes what the core knows of an API location
 * (name, layer, version, life cycle, server names, location, methods);
 * each policy adds what it knows from its own merge_loc_conf through
 * ngx_api_led_catalog_entry() (authentication, limits, callers, parts).
 * Calls between APIs (composition parts) are resolved to the API location
 * that answers them once every location is known.
 */


#include "ngx_api_led_observe_module.h"


#define NGX_API_LED_SPEC_MAX      (8 * 1024 * 1024)
#define NGX_API_LED_CATALOG_NONE  ((ngx_uint_t) -1)


static ngx_api_led_catalog_item_t *ngx_api_led_catalog_item(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf);
static json_t *ngx_api_led_catalog_new(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_loc_conf_t *llcf,
    ngx_http_core_loc_conf_t *clcf, ngx_http_core_srv_conf_t *cscf);
static ngx_int_t ngx_api_led_catalog_fill(ngx_conf_t *cf, json_t *api,
    ngx_str_t *id, ngx_api_led_loc_conf_t *llcf,
    ngx_http_core_loc_conf_t *clcf, ngx_http_core_srv_conf_t *cscf);
static ngx_int_t ngx_api_led_catalog_callers(ngx_conf_t *cf, json_t *api);
static json_t *ngx_api_led_catalog_location(ngx_http_core_loc_conf_t *clcf);
#if (NGX_PCRE)
static ngx_uint_t ngx_api_led_catalog_caseless(ngx_regex_t *re);
#endif
static json_t *ngx_api_led_catalog_servers(ngx_http_core_srv_conf_t *cscf);
#if (NGX_PCRE)
static json_t *ngx_api_led_catalog_regex_name(ngx_str_t *name);
#endif
static json_t *ngx_api_led_catalog_methods(ngx_http_core_loc_conf_t *clcf);
static json_t *ngx_api_led_catalog_date(time_t t);
static json_t *ngx_api_led_catalog_str(ngx_str_t *s);
static ngx_int_t ngx_api_led_catalog_id(ngx_pool_t *pool,
    ngx_api_led_loc_conf_t *llcf, ngx_str_t *id);
static ngx_int_t ngx_api_led_catalog_read(ngx_conf_t *cf,
    ngx_api_led_loc_conf_t *llcf, ngx_str_t *text);
static ngx_int_t ngx_api_led_catalog_check(ngx_conf_t *cf,
    ngx_api_led_loc_conf_t *llcf, ngx_str_t *text);
static ngx_int_t ngx_api_led_catalog_spec_key(ngx_pool_t *pool,
    ngx_rbtree_t *tree, ngx_str_t *s, ngx_uint_t spec);
static ngx_uint_t ngx_api_led_catalog_spec_find(ngx_rbtree_t *tree,
    ngx_str_t *s);
static ngx_int_t ngx_api_led_catalog_index(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf);
static int ngx_libc_cdecl ngx_api_led_catalog_cmp(const void *one,
    const void *two);
static ngx_api_led_catalog_item_t *ngx_api_led_catalog_search(
    ngx_api_led_observe_main_conf_t *omcf, ngx_http_core_srv_conf_t *cscf,
    ngx_uint_t exact, u_char *name, size_t len);
static ngx_int_t ngx_api_led_catalog_resolve(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_catalog_link_t *link);
static ngx_api_led_catalog_item_t *ngx_api_led_catalog_find(
    ngx_api_led_observe_main_conf_t *omcf, ngx_http_core_srv_conf_t *cscf,
    ngx_str_t *uri);
static ngx_int_t ngx_api_led_catalog_deliver(
    ngx_api_led_observe_main_conf_t *omcf,
    ngx_api_led_catalog_delivery_t *d, json_t *others);
static ngx_int_t ngx_api_led_catalog_send(ngx_http_request_t *r,
    ngx_str_t *type, ngx_str_t *text);


static ngx_str_t  ngx_api_led_catalog_types[] = {
    ngx_string("application/json"),
    ngx_string("text/html")
};

static ngx_str_t  ngx_api_led_catalog_send_types[] = {
    ngx_string("application/json"),
    ngx_string("text/html; charset=utf-8")
};


/* the methods limit_except may name, as nginx knows them */
static struct {
    ngx_str_t    name;
    ngx_uint_t   method;
} ngx_api_led_catalog_methods_known[] = {
    { ngx_string("GET"),       NGX_HTTP_GET },
    { ngx_string("HEAD"),      NGX_HTTP_HEAD },
    { ngx_string("POST"),      NGX_HTTP_POST },
    { ngx_string("PUT"),       NGX_HTTP_PUT },
    { ngx_string("PATCH"),     NGX_HTTP_PATCH },
    { ngx_string("DELETE"),    NGX_HTTP_DELETE },
    { ngx_string("OPTIONS"),   NGX_HTTP_OPTIONS },
    { ngx_string("MKCOL"),     NGX_HTTP_MKCOL },
    { ngx_string("COPY"),      NGX_HTTP_COPY },
    { ngx_string("MOVE"),      NGX_HTTP_MOVE },
    { ngx_string("PROPFIND"),  NGX_HTTP_PROPFIND },
    { ngx_string("PROPPATCH"), NGX_HTTP_PROPPATCH },
    { ngx_string("LOCK"),      NGX_HTTP_LOCK },
    { ngx_string("UNLOCK"),    NGX_HTTP_UNLOCK },
    { ngx_null_string,         0 }
};


json_t *
ngx_api_led_catalog_entry(ngx_conf_t *cf)
{
    ngx_api_led_catalog_item_t       *item;
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_api_led_observe_conf_main_conf(cf);

    item = ngx_api_led_catalog_item(cf, omcf);

    return item ? item->json : NULL;
}


json_t *
ngx_api_led_catalog_root(ngx_conf_t *cf)
{
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_api_led_observe_conf_main_conf(cf);

    return omcf->catalog ? omcf->root : NULL;
}


ngx_int_t
ngx_api_led_catalog_call(ngx_conf_t *cf, json_t *part, ngx_str_t *uri)
{
    ngx_api_led_catalog_item_t       *item;
    ngx_api_led_catalog_link_t       *link;
    ngx_api_led_observe_main_conf_t  *omcf;

    omcf = ngx_api_led_observe_conf_main_conf(cf);

    item = ngx_api_led_catalog_item(cf, omcf);
    if (item == NULL) {
        return NGX_OK;
    }

    link = ngx_array_push(&omcf->links);
    if (link == NULL) {
        return NGX_ERROR;
    }

    /* items move as the array grows: the index stays */
    link->from = item - (ngx_api_led_catalog_item_t *) omcf->items.elts;
    link->part = part;
    link->uri = *uri;

    return NGX_OK;
}


ngx_int_t
ngx_api_led_catalog_publishes(ngx_conf_t *cf, ngx_str_t *type,
    ngx_str_t *stream, ngx_str_t *part)
{
    json_t  *entry, *e;

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL) {
        return NGX_OK;
    }

    e = json_pack("{s:s%, s:s%}", "type", type->data, type->len,
                  "stream", stream->data, stream->len);

    if (e && part
        && json_object_set_new(e, "part", ngx_api_led_catalog_str(part)))
    {
        json_decref(e);
        return NGX_ERROR;
    }

    return ngx_api_led_catalog_events_add(entry, "publishes", e);
}


ngx_int_t
ngx_api_led_catalog_delivers(ngx_conf_t *cf, ngx_http_conf_ctx_t *ctx,
    ngx_str_t *stream, ngx_str_t *group, ngx_str_t *uri)
{
    ngx_http_core_srv_conf_t         **cscfp;
    ngx_http_core_main_conf_t         *cmcf;
    ngx_api_led_catalog_delivery_t    *d;
    ngx_api_led_observe_main_conf_t   *omcf;

    omcf = ngx_api_led_observe_conf_main_conf(cf);

    if (!omcf->catalog || omcf->root == NULL) {
        return NGX_OK;
    }

    d = ngx_array_push(&omcf->deliveries);
    if (d == NULL) {
        return NGX_ERROR;
    }

    if (ctx) {
        d->cscf = ctx->srv_conf[ngx_http_core_module.ctx_index];

    } else {
        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
        cscfp = cmcf->servers.elts;
        d->cscf = cmcf->servers.nelts ? cscfp[0] : NULL;
    }

    d->stream = *stream;
    d->group = *group;
    d->uri = *uri;

    return NGX_OK;
}


/*
 * Called from the observe module's merge: every API location has an entry,
 * and the link to its spec (read just before, by ngx_api_led_catalog_spec())
 */

ngx_int_t
ngx_api_led_catalog_describe(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf)
{
    u_char                      *p;
    ngx_str_t                    id, url;
    ngx_uint_t                   i;
    ngx_api_led_loc_conf_t      *llcf;
    ngx_api_led_catalog_item_t  *item;
    ngx_api_led_catalog_spec_t  *spec;

    item = ngx_api_led_catalog_item(cf, omcf);

    if (item == NULL) {
        return (omcf->catalog && omcf->root == NULL) ? NGX_ERROR : NGX_OK;
    }

    llcf = item->llcf;

    if (llcf->spec.len == 0) {
        return NGX_OK;
    }

    id.data = (u_char *) json_string_value(json_object_get(item->json, "id"));
    id.len = json_string_length(json_object_get(item->json, "id"));

    spec = omcf->specs.elts;

    i = ngx_api_led_catalog_spec_find(&omcf->spec_ids, &id);

    if (i == NGX_API_LED_CATALOG_NONE
        || spec[i].path.len != llcf->spec.len
        || ngx_strncmp(spec[i].path.data, llcf->spec.data, llcf->spec.len)
           != 0)
    {
        return NGX_OK;
    }

    /* a link relative to the catalog's own URI */

    url.len = sizeof("?spec=") - 1 + spec[i].id.len
              + 2 * ngx_escape_uri(NULL, spec[i].id.data, spec[i].id.len,
                                   NGX_ESCAPE_ARGS);
    url.data = ngx_pnalloc(cf->pool, url.len);
    if (url.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url.data, "?spec=", sizeof("?spec=") - 1);
    (void) ngx_escape_uri(p, spec[i].id.data, spec[i].id.len,
                          NGX_ESCAPE_ARGS);

    if (json_object_set_new(item->json, "spec",
                            ngx_api_led_catalog_str(&url)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The entry of the location being merged: found by the core's location
 * configuration (cf->ctx holds the location while nginx merges it),
 * made on first use.  "if" and limit_except blocks are parts of their
 * location, not entries of their own.
 */

static ngx_api_led_catalog_item_t *
ngx_api_led_catalog_item(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf)
{
    ngx_api_led_loc_conf_t          *llcf;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_core_srv_conf_t        *cscf;
    ngx_api_led_catalog_item_t      *item;
    ngx_api_led_observe_loc_conf_t  *olcf;

    if (!omcf->catalog || omcf->root == NULL) {
        return NULL;
    }

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (llcf->api.len == 0 || clcf->noname || clcf->name.len == 0) {
        return NULL;
    }

    /* the location's own configuration knows its entry: no search */

    olcf = ((ngx_http_conf_ctx_t *) cf->ctx)
               ->loc_conf[ngx_api_led_observe_index];

    if (olcf->catalog_item) {
        item = omcf->items.elts;
        return &item[olcf->catalog_item - 1];
    }

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    item = ngx_array_push(&omcf->items);
    if (item == NULL) {
        return NULL;
    }

    item->llcf = llcf;
    item->clcf = clcf;
    item->cscf = cscf;
    item->json = ngx_api_led_catalog_new(cf, omcf, llcf, clcf, cscf);

    if (item->json == NULL) {
        omcf->items.nelts--;
        return NULL;
    }

    olcf->catalog_item = omcf->items.nelts;

    return item;
}


static json_t *
ngx_api_led_catalog_new(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_loc_conf_t *llcf,
    ngx_http_core_loc_conf_t *clcf, ngx_http_core_srv_conf_t *cscf)
{
    json_t     *api, *apis;
    ngx_str_t   id;

    if (ngx_api_led_catalog_id(cf->pool, llcf, &id) != NGX_OK) {
        return NULL;
    }

    api = json_object();
    if (api == NULL) {
        return NULL;
    }

    apis = json_object_get(omcf->root, "apis");

    if (apis == NULL) {
        apis = json_array();
        if (apis == NULL || json_object_set_new(omcf->root, "apis", apis)) {
            json_decref(api);
            return NULL;
        }
    }

    if (json_array_append_new(apis, api) != 0) {
        return NULL;
    }

    /* a half-made entry is no entry: the concerns would add to the next */

    if (ngx_api_led_catalog_fill(cf, api, &id, llcf, clcf, cscf) != NGX_OK) {
        (void) json_array_remove(apis, json_array_size(apis) - 1);
        return NULL;
    }

    return api;
}


static ngx_int_t
ngx_api_led_catalog_fill(ngx_conf_t *cf, json_t *api, ngx_str_t *id,
    ngx_api_led_loc_conf_t *llcf, ngx_http_core_loc_conf_t *clcf,
    ngx_http_core_srv_conf_t *cscf)
{
    if (json_object_set_new(api, "id", ngx_api_led_catalog_str(id))
        || json_object_set_new(api, "name",
                               ngx_api_led_catalog_str(&llcf->api))
        || json_object_set_new(api, "layer",
                               llcf->layer == NGX_API_LED_LAYER_NONE
                               ? json_null()
                               : ngx_api_led_catalog_str(
                                     &ngx_api_led_layer_names[llcf->layer]))
        || json_object_set_new(api, "version",
                               llcf->version.len
                               ? ngx_api_led_catalog_str(&llcf->version)
                               : json_null())
        || json_object_set_new(api, "servers",
                               ngx_api_led_catalog_servers(cscf))
        || json_object_set_new(api, "location",
                               ngx_api_led_catalog_location(clcf))
        || json_object_set_new(api, "methods",
                               ngx_api_led_catalog_methods(clcf)))
    {
        return NGX_ERROR;
    }

    if (ngx_api_led_catalog_callers(cf, api) != NGX_OK) {
        return NGX_ERROR;
    }

    if (llcf->deprecated != NGX_API_LED_DATE_NONE
        && json_object_set_new(api, "deprecated",
                               ngx_api_led_catalog_date(llcf->deprecated)))
    {
        return NGX_ERROR;
    }

    if (llcf->sunset != NGX_API_LED_DATE_NONE
        && json_object_set_new(api, "sunset",
                               ngx_api_led_catalog_date(llcf->sunset)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the layer contract (api_led_callers): the core's */

static ngx_int_t
ngx_api_led_catalog_callers(ngx_conf_t *cf, json_t *api)
{
    json_t      *callers;
    ngx_str_t    names[5];
    ngx_uint_t   i, n;

    n = ngx_api_led_callers_names(cf, names);

    if (n == 0) {
        return NGX_OK;
    }

    callers = json_array();

    if (callers == NULL || json_object_set_new(api, "callers", callers)) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (json_array_append_new(callers, ngx_api_led_catalog_str(&names[i])))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* NAME, or NAME@VERSION: how the catalog names an API and its spec */

static ngx_int_t
ngx_api_led_catalog_id(ngx_pool_t *pool, ngx_api_led_loc_conf_t *llcf,
    ngx_str_t *id)
{
    if (llcf->version.len == 0) {
        *id = llcf->api;
        return NGX_OK;
    }

    id->len = llcf->api.len + 1 + llcf->version.len;
    id->data = ngx_pnalloc(pool, id->len);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(id->data, "%V@%V", &llcf->api, &llcf->version);

    return NGX_OK;
}


static json_t *
ngx_api_led_catalog_str(ngx_str_t *s)
{
    return ngx_api_led_catalog_text(s->data, s->len);
}


/*
 * jansson refuses a string that is not UTF-8: the member would be missing
 * (a half-made entry, an id-less one that the HTML page cannot draw).  The
 * text is copied with each byte that starts no valid character replaced.
 */

json_t *
ngx_api_led_catalog_text(u_char *data, size_t len)
{
    u_char  *p, *last, *copy, *q, *next;
    json_t  *s;

    p = data;
    last = data + len;
    copy = NULL;
    q = NULL;

    while (p < last) {
        next = (*p < 0x80) ? p + 1 : ngx_api_led_json_utf8(p, last);

        if (next) {
            if (copy) {
                q = ngx_cpymem(q, p, next - p);
            }

            p = next;
            continue;
        }

        if (copy == NULL) {
            /* 3 bytes at most for each */
            copy = ngx_alloc(3 * len, ngx_cycle->log);
            if (copy == NULL) {
                return NULL;
            }

            q = ngx_cpymem(copy, data, p - data);
        }

        /* U+FFFD, and the next byte is tried */
        q = ngx_cpymem(q, NGX_API_LED_UTF8_REPLACEMENT,
                       sizeof(NGX_API_LED_UTF8_REPLACEMENT) - 1);
        p++;
    }

    if (copy == NULL) {
        return json_stringn((const char *) data, len);
    }

    s = json_stringn((const char *) copy, q - copy);

    ngx_free(copy);

    return s;
}


#if (NGX_PCRE)

/*
 * "~*": nginx keeps no trace of it in the location but in the compiled
 * expression's options
 */

static ngx_uint_t
ngx_api_led_catalog_caseless(ngx_regex_t *re)
{
#if (NGX_PCRE2)
    uint32_t  options;

    if (pcre2_pattern_info(re, PCRE2_INFO_ARGOPTIONS, &options) != 0) {
        return 0;
    }

    return (options & PCRE2_CASELESS) ? 1 : 0;

#else
    unsigned long  options;

    if (pcre_fullinfo(re->code, NULL, PCRE_INFO_OPTIONS, &options) != 0) {
        return 0;
    }

    return (options & PCRE_CASELESS) ? 1 : 0;
#endif
}

#endif


/* as written: "= /x", "^~ /x", "~ regex", "~* regex", "/prefix", "@named" */

static json_t *
ngx_api_led_catalog_location(ngx_http_core_loc_conf_t *clcf)
{
    u_char  buf[2048], *p, *last;

    p = buf;
    last = buf + sizeof(buf);

    if (clcf->exact_match) {
        p = ngx_cpymem(p, "= ", 2);

#if (NGX_PCRE)
    } else if (clcf->regex) {
        p = ngx_api_led_catalog_caseless(clcf->regex->regex)
            ? ngx_cpymem(p, "~* ", 3) : ngx_cpymem(p, "~ ", 2);
#endif

    } else if (clcf->noregex) {
        p = ngx_cpymem(p, "^~ ", 3);
    }

    p = ngx_slprintf(p, last, "%V", &clcf->name);

    return ngx_api_led_catalog_text(buf, p - buf);
}


#if (NGX_PCRE)

static json_t *
ngx_api_led_catalog_regex_name(ngx_str_t *name)
{
    u_char  *p;
    json_t  *s;

    p = ngx_alloc(name->len + 1, ngx_cycle->log);
    if (p == NULL) {
        return NULL;
    }

    *p = '~';
    ngx_memcpy(p + 1, name->data, name->len);

    s = ngx_api_led_catalog_text(p, name->len + 1);

    ngx_free(p);

    return s;
}

#endif


static json_t *
ngx_api_led_catalog_servers(ngx_http_core_srv_conf_t *cscf)
{
    json_t                  *a;
    ngx_uint_t               i;
    ngx_http_server_name_t  *sn;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    sn = cscf->server_names.elts;

    for (i = 0; i < cscf->server_names.nelts; i++) {
        if (sn[i].name.len == 0) {
            continue;
        }

#if (NGX_PCRE)
        if (sn[i].regex) {
            /* nginx keeps the expression without its "~" */
            if (json_array_append_new(a,
                                      ngx_api_led_catalog_regex_name(
                                          &sn[i].name)))
            {
                json_decref(a);
                return NULL;
            }

            continue;
        }
#endif

        if (json_array_append_new(a, ngx_api_led_catalog_str(&sn[i].name))) {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


/* the methods limit_except lets through, or ["*"] */

static json_t *
ngx_api_led_catalog_methods(ngx_http_core_loc_conf_t *clcf)
{
    json_t      *a;
    ngx_uint_t   i;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; ngx_api_led_catalog_methods_known[i].name.len; i++) {

        if (clcf->limit_except
            && (clcf->limit_except
                & ngx_api_led_catalog_methods_known[i].method))
        {
            continue;
        }

        if (clcf->limit_except == 0) {
            if (json_array_append_new(a, json_string("*"))) {
                json_decref(a);
                return NULL;
            }

            break;
        }

        if (json_array_append_new(a, ngx_api_led_catalog_str(
                                  &ngx_api_led_catalog_methods_known[i].name)))
        {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


/* ISO 8601, UTC */

static json_t *
ngx_api_led_catalog_date(time_t t)
{
    u_char     buf[32], *p;
    ngx_tm_t   tm;

    ngx_gmtime(t, &tm);

    p = ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    return json_stringn((const char *) buf, p - buf);
}


/*
 * spec=FILE of api_led_api: read once, checked to be a JSON OpenAPI (or
 * Swagger) document, kept for the catalog to serve.  A bad file fails
 * nginx -t with the file and line of the api_led_api.
 */

ngx_int_t
ngx_api_led_catalog_spec(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_loc_conf_t *llcf)
{
    ngx_str_t                    id, text;
    ngx_uint_t                   i, n;
    ngx_api_led_catalog_spec_t  *spec;

    if (ngx_api_led_catalog_id(cf->pool, llcf, &id) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_null(&text);

    spec = omcf->specs.elts;

    /* ids are unique in "specs": a second one is an error or the same */

    i = ngx_api_led_catalog_spec_find(&omcf->spec_ids, &id);

    if (i != NGX_API_LED_CATALOG_NONE) {

        if (spec[i].path.len == llcf->spec.len
            && ngx_strncmp(spec[i].path.data, llcf->spec.data,
                           llcf->spec.len) == 0)
        {
            /* the same api_led_api, inherited by another location */
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "api \"%V\" has two specs, \"%V\" and "
                      "\"%V\" in %s:%ui", &id, &spec[i].path,
                      &llcf->spec, llcf->conf_file, llcf->conf_line);
        return NGX_ERROR;
    }

    /* a file that other APIs share is read once */

    n = ngx_api_led_catalog_spec_find(&omcf->spec_paths, &llcf->spec);

    if (n != NGX_API_LED_CATALOG_NONE) {
        text = spec[n].text;
    }

    if (text.data == NULL) {
        if (ngx_api_led_catalog_read(cf, llcf, &text) != NGX_OK
            || ngx_api_led_catalog_check(cf, llcf, &text) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    spec = ngx_array_push(&omcf->specs);
    if (spec == NULL) {
        return NGX_ERROR;
    }

    spec->path = llcf->spec;
    spec->text = text;
    spec->id = id;

    i = omcf->specs.nelts - 1;

    if (ngx_api_led_catalog_spec_key(cf->pool, &omcf->spec_ids, &spec->id, i)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (n == NGX_API_LED_CATALOG_NONE
        && ngx_api_led_catalog_spec_key(cf->pool, &omcf->spec_paths,
                                        &spec->path, i)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_catalog_spec_key(ngx_pool_t *pool, ngx_rbtree_t *tree,
    ngx_str_t *s, ngx_uint_t spec)
{
    ngx_api_led_catalog_key_t  *key;

    key = ngx_palloc(pool, sizeof(ngx_api_led_catalog_key_t));
    if (key == NULL) {
        return NGX_ERROR;
    }

    key->sn.node.key = ngx_crc32_short(s->data, s->len);
    key->sn.str = *s;
    key->spec = spec;

    ngx_rbtree_insert(tree, &key->sn.node);

    return NGX_OK;
}


/* the index in "specs" of the id or path, NGX_API_LED_CATALOG_NONE */

static ngx_uint_t
ngx_api_led_catalog_spec_find(ngx_rbtree_t *tree, ngx_str_t *s)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(tree, s, ngx_crc32_short(s->data, s->len));

    if (sn == NULL) {
        return NGX_API_LED_CATALOG_NONE;
    }

    return ((ngx_api_led_catalog_key_t *) sn)->spec;
}


static ngx_int_t
ngx_api_led_catalog_read(ngx_conf_t *cf, ngx_api_led_loc_conf_t *llcf,
    ngx_str_t *text)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    fd = ngx_open_file(llcf->spec.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "cannot open spec file \"%V\" in %s:%ui",
                      &llcf->spec, llcf->conf_file, llcf->conf_line);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "cannot read spec file \"%V\" in %s:%ui",
                      &llcf->spec, llcf->conf_file, llcf->conf_line);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size == 0 || size > NGX_API_LED_SPEC_MAX) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "spec file \"%V\" must hold 1 byte to 8m in %s:%ui",
                      &llcf->spec, llcf->conf_file, llcf->conf_line);
        goto done;
    }

    text->data = ngx_pnalloc(cf->pool, size);
    if (text->data == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, text->data, size);

    if (n != size) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, n == -1 ? ngx_errno : 0,
                      "cannot read spec file \"%V\" in %s:%ui",
                      &llcf->spec, llcf->conf_file, llcf->conf_line);
        goto done;
    }

    text->len = size;
    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &llcf->spec);
    }

    return rc;
}


static ngx_int_t
ngx_api_led_catalog_check(ngx_conf_t *cf, ngx_api_led_loc_conf_t *llcf,
    ngx_str_t *text)
{
    json_t     *doc, *v;
    ngx_int_t   rc;
    u_char      err[256];

    err[0] = '\0';

    rc = ngx_api_led_json_parse(text->data, text->len, NGX_API_LED_JSON_LINES,
                                &doc, err, sizeof(err));

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "spec file \"%V\" is not JSON (%s) in %s:%ui",
                      &llcf->spec, err, llcf->conf_file, llcf->conf_line);
        return NGX_ERROR;
    }

    v = NULL;

    if (json_is_object(doc)) {
        v = json_object_get(doc, "openapi");

        if (v == NULL) {
            v = json_object_get(doc, "swagger");
        }
    }

    rc = ngx_api_led_json_is_text(v) ? NGX_OK : NGX_ERROR;

    json_decref(doc);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "spec file \"%V\" is no OpenAPI document (an object "
                      "with \"openapi\" or \"swagger\") in %s:%ui",
                      &llcf->spec, llcf->conf_file, llcf->conf_line);
    }

    return rc;
}


/* once the configuration is parsed: calls resolved, the JSON, the page */

ngx_int_t
ngx_api_led_catalog_render(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf)
{
    json_t                          *layers, *apis, *others;
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_api_led_catalog_link_t      *link;
    ngx_api_led_catalog_delivery_t  *d;

    if (ngx_api_led_catalog_index(cf, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    link = omcf->links.elts;

    for (i = 0; i < omcf->links.nelts; i++) {
        if (ngx_api_led_catalog_resolve(cf, omcf, &link[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (json_object_get(omcf->root, "apis") == NULL) {
        apis = json_array();
        if (apis == NULL || json_object_set_new(omcf->root, "apis", apis)) {
            return NGX_ERROR;
        }
    }

    /* the APIs that listeners deliver to consume their streams */

    others = json_array();
    if (others == NULL) {
        return NGX_ERROR;
    }

    d = omcf->deliveries.elts;

    for (i = 0; i < omcf->deliveries.nelts; i++) {
        if (ngx_api_led_catalog_deliver(omcf, &d[i], others) != NGX_OK) {
            json_decref(others);
            return NGX_ERROR;
        }
    }

    rc = ngx_api_led_catalog_events_streams(omcf->root, others);

    json_decref(others);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    layers = json_array();

    if (layers == NULL
        || json_object_set_new(omcf->root, "layers", layers)
        || json_array_append_new(layers, json_string("experience"))
        || json_array_append_new(layers, json_string("process"))
        || json_array_append_new(layers, json_string("system")))
    {
        return NGX_ERROR;
    }

    if (ngx_api_led_json_dump(cf->pool, omcf->root, 4096, &omcf->json)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_api_led_catalog_html(cf, omcf->root, &omcf->html);
}


/* the API that answers the call; its name goes to the part and "calls" */

static ngx_int_t
ngx_api_led_catalog_resolve(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_catalog_link_t *link)
{
    json_t                      *calls, *id, *v;
    ngx_str_t                    uri;
    ngx_uint_t                   i;
    ngx_api_led_catalog_item_t  *from, *to;

    from = (ngx_api_led_catalog_item_t *) omcf->items.elts + link->from;

    uri = link->uri;

    for (i = 0; i < uri.len; i++) {
        if (uri.data[i] == '?') {
            uri.len = i;
            break;
        }
    }

    to = ngx_api_led_catalog_find(omcf, from->cscf, &uri);

    if (to == NULL) {
        return NGX_OK;
    }

    id = json_object_get(to->json, "id");

    if (json_object_set(link->part, "api", id) != 0) {
        return NGX_ERROR;
    }

    calls = json_object_get(from->json, "calls");

    if (calls == NULL) {
        calls = json_array();
        if (calls == NULL || json_object_set_new(from->json, "calls", calls)) {
            return NGX_ERROR;
        }
    }

    json_array_foreach(calls, i, v) {
        if (json_equal(v, id)) {
            return NGX_OK;
        }
    }

    return json_array_append(calls, id) ? NGX_ERROR : NGX_OK;
}


/*
 * A listener's URI, resolved as a part's: the API that answers it
 * consumes the stream, else the listener is one of the "others"
 */

static ngx_int_t
ngx_api_led_catalog_deliver(ngx_api_led_observe_main_conf_t *omcf,
    ngx_api_led_catalog_delivery_t *d, json_t *others)
{
    json_t                      *e;
    ngx_str_t                    uri;
    ngx_uint_t                   i;
    ngx_api_led_catalog_item_t  *to;

    uri = d->uri;

    for (i = 0; i < uri.len; i++) {
        if (uri.data[i] == '?') {
            uri.len = i;
            break;
        }
    }

    to = d->cscf ? ngx_api_led_catalog_find(omcf, d->cscf, &uri) : NULL;

    e = json_pack("{s:o, s:s, s:o}",
                  "stream", ngx_api_led_catalog_str(&d->stream),
                  "via", "delivery",
                  "group", ngx_api_led_catalog_str(&d->group));

    if (to) {
        return ngx_api_led_catalog_events_add(to->json, "consumes", e);
    }

    if (e == NULL
        || json_object_set_new(e, "uri", ngx_api_led_catalog_str(&d->uri)))
    {
        json_decref(e);
        return NGX_ERROR;
    }

    return json_array_append_new(others, e) ? NGX_ERROR : NGX_OK;
}


/*
 * The API locations sorted once, for the calls and listeners to find
 * theirs without a search through every location: the exact and prefix
 * ones by server, kind and name; the regular expressions by server, in
 * the order of the configuration (nginx tries them in that order).
 */

static ngx_int_t
ngx_api_led_catalog_index(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf)
{
    ngx_uint_t                   i;
    ngx_api_led_catalog_item_t  *item;

    item = omcf->items.elts;

    omcf->plain = ngx_palloc(cf->pool, (omcf->items.nelts + 1)
                                       * sizeof(ngx_api_led_catalog_item_t *));
    omcf->regex = ngx_palloc(cf->pool, (omcf->items.nelts + 1)
                                       * sizeof(ngx_api_led_catalog_item_t *));

    if (omcf->plain == NULL || omcf->regex == NULL) {
        return NGX_ERROR;
    }

    omcf->nplain = 0;
    omcf->nregex = 0;

    for (i = 0; i < omcf->items.nelts; i++) {

        if (item[i].clcf->named) {
            continue;
        }

#if (NGX_PCRE)
        if (item[i].clcf->regex) {
            omcf->regex[omcf->nregex++] = &item[i];
            continue;
        }
#endif

        omcf->plain[omcf->nplain++] = &item[i];
    }

    ngx_qsort(omcf->plain, omcf->nplain, sizeof(ngx_api_led_catalog_item_t *),
              ngx_api_led_catalog_cmp);
    ngx_qsort(omcf->regex, omcf->nregex, sizeof(ngx_api_led_catalog_item_t *),
              ngx_api_led_catalog_cmp);

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_api_led_catalog_cmp(const void *one, const void *two)
{
    ngx_api_led_catalog_item_t  *a, *b;

    a = *(ngx_api_led_catalog_item_t **) one;
    b = *(ngx_api_led_catalog_item_t **) two;

    if (a->cscf != b->cscf) {
        return ((uintptr_t) a->cscf < (uintptr_t) b->cscf) ? -1 : 1;
    }

#if (NGX_PCRE)
    if (a->clcf->regex) {
        /* the items' own order: that of the configuration */
        return (a < b) ? -1 : (a > b) ? 1 : 0;
    }
#endif

    if (a->clcf->exact_match != b->clcf->exact_match) {
        return a->clcf->exact_match ? 1 : -1;
    }

    return ngx_memn2cmp(a->clcf->name.data, b->clcf->name.data,
                        a->clcf->name.len, b->clcf->name.len);
}


/* the exact (or prefix) API location of the server with that name */

static ngx_api_led_catalog_item_t *
ngx_api_led_catalog_search(ngx_api_led_observe_main_conf_t *omcf,
    ngx_http_core_srv_conf_t *cscf, ngx_uint_t exact, u_char *name,
    size_t len)
{
    ngx_int_t                    rc;
    ngx_uint_t                   lo, hi, mid;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_api_led_catalog_item_t  *item;

    lo = 0;
    hi = omcf->nplain;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        item = omcf->plain[mid];
        clcf = item->clcf;

        if (item->cscf != cscf) {
            rc = ((uintptr_t) item->cscf < (uintptr_t) cscf) ? -1 : 1;

        } else if ((ngx_uint_t) clcf->exact_match != exact) {
            rc = clcf->exact_match ? 1 : -1;

        } else {
            rc = ngx_memn2cmp(clcf->name.data, name, clcf->name.len, len);
        }

        if (rc == 0) {
            return item;
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


/*
 * nginx's choice of location, among the API locations of the server:
 * an exact match; else the longest prefix, unless it is "^~", loses to
 * the first regular expression that matches.
 */

static ngx_api_led_catalog_item_t *
ngx_api_led_catalog_find(ngx_api_led_observe_main_conf_t *omcf,
    ngx_http_core_srv_conf_t *cscf, ngx_str_t *uri)
{
    size_t                       len;
    ngx_api_led_catalog_item_t  *item, *prefix;
#if (NGX_PCRE)
    ngx_uint_t                   lo, hi, mid;
#endif

    item = ngx_api_led_catalog_search(omcf, cscf, 1, uri->data, uri->len);

    if (item) {
        return item;
    }

    prefix = NULL;

    for (len = uri->len; len > 0; len--) {
        prefix = ngx_api_led_catalog_search(omcf, cscf, 0, uri->data, len);

        if (prefix) {
            break;
        }
    }

    if (prefix && prefix->clcf->noregex) {
        return prefix;
    }

#if (NGX_PCRE)

    /* the first regular expression of the server */

    lo = 0;
    hi = omcf->nregex;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if ((uintptr_t) omcf->regex[mid]->cscf < (uintptr_t) cscf) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    for ( /* void */ ; lo < omcf->nregex && omcf->regex[lo]->cscf == cscf;
         lo++)
    {
        item = omcf->regex[lo];

        if (ngx_regex_exec(item->clcf->regex->regex, uri, NULL, 0) >= 0) {
            return item;
        }
    }

#endif

    return prefix;
}


/* the content handler: the catalog, or ?spec=ID */

ngx_int_t
ngx_api_led_catalog_handler(ngx_http_request_t *r)
{
    u_char                           *dst, *src;
    ngx_int_t                         rc;
    ngx_str_t                         arg, id;
    ngx_uint_t                        i, type;
    ngx_api_led_catalog_spec_t       *spec;
    ngx_api_led_observe_main_conf_t  *omcf;

    static ngx_str_t  json_type = ngx_string("application/json");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_api_led_observe_not_allowed(r);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    omcf = ngx_api_led_observe_main_conf(r);

    if (ngx_http_arg(r, (u_char *) "spec", 4, &arg) != NGX_OK) {
        type = ngx_api_led_observe_accept(r, ngx_api_led_catalog_types, 2);

        if (ngx_api_led_observe_vary(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_api_led_catalog_send(r,
                                        &ngx_api_led_catalog_send_types[type],
                                        type ? &omcf->html : &omcf->json);
    }

    /* a malformed escape decodes to another id: it names no spec */

    if (!ngx_api_led_arg_escapes_valid(arg.data, arg.len)) {
        goto no_spec;
    }

    id.data = ngx_pnalloc(r->pool, arg.len);
    if (id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dst = id.data;
    src = arg.data;
    /* every escape decoded: NGX_UNESCAPE_URI stops at a "%3F" */
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    id.len = dst - id.data;

    spec = omcf->specs.elts;

    i = ngx_api_led_catalog_spec_find(&omcf->spec_ids, &id);

    if (i != NGX_API_LED_CATALOG_NONE) {
        return ngx_api_led_catalog_send(r, &json_type, &spec[i].text);
    }

no_spec:

    /* the id is the client's: not in the problem's text */

    return ngx_api_led_problem_send(r, NGX_HTTP_NOT_FOUND, "no_such_spec",
                                    "the catalog has no spec of that name");
}


static ngx_int_t
ngx_api_led_catalog_send(ngx_http_request_t *r, ngx_str_t *type,
    ngx_str_t *text)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the configuration's memory, read-only */

    b->pos = text->data;
    b->last = text->data + text->len;
    b->memory = 1;

    return ngx_api_led_send_buf(r, NGX_HTTP_OK, type, b);
}
