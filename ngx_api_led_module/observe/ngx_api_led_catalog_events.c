
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Events in the catalog: what each API publishes and consumes, and, once
 * every location is known, each stream with its publishers and consumers.
 * The events concern tells it from its configuration (api_led_event,
 * a composition part's event=, api_led_event_stream,
 * api_led_event_deliver); nothing here reads the events' configuration.
 */


#include "ngx_api_led_observe_module.h"


static json_t *ngx_api_led_catalog_events(json_t *api, const char *role);
static ngx_int_t ngx_api_led_catalog_deliver(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf,
    ngx_api_led_catalog_delivery_t *d);
static ngx_int_t ngx_api_led_catalog_stream_add(json_t *streams,
    json_t *stream, const char *role, json_t *who);
static json_t *ngx_api_led_catalog_strn(ngx_str_t *s);


ngx_int_t
ngx_api_led_catalog_publishes(ngx_conf_t *cf, ngx_str_t *type,
    ngx_str_t *stream, ngx_str_t *part)
{
    json_t  *entry, *list, *e;

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL) {
        return NGX_OK;
    }

    list = ngx_api_led_catalog_events(entry, "publishes");

    if (list == NULL) {
        return NGX_ERROR;
    }

    e = json_object();

    if (e == NULL
        || json_array_append_new(list, e)
        || json_object_set_new(e, "type", ngx_api_led_catalog_strn(type))
        || json_object_set_new(e, "stream", ngx_api_led_catalog_strn(stream))
        || (part && json_object_set_new(e, "part",
                                        ngx_api_led_catalog_strn(part))))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_api_led_catalog_subscribes(ngx_conf_t *cf, ngx_str_t *stream,
    ngx_array_t *types)
{
    json_t      *entry, *list, *e, *a;
    ngx_str_t   *t;
    ngx_uint_t   i;

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL) {
        return NGX_OK;
    }

    list = ngx_api_led_catalog_events(entry, "consumes");

    if (list == NULL) {
        return NGX_ERROR;
    }

    e = json_object();

    if (e == NULL
        || json_array_append_new(list, e)
        || json_object_set_new(e, "stream", ngx_api_led_catalog_strn(stream))
        || json_object_set_new(e, "via", json_string("sse")))
    {
        return NGX_ERROR;
    }

    if (types == NULL) {
        return NGX_OK;
    }

    a = json_array();

    if (a == NULL || json_object_set_new(e, "types", a)) {
        return NGX_ERROR;
    }

    t = types->elts;

    for (i = 0; i < types->nelts; i++) {
        if (json_array_append_new(a, ngx_api_led_catalog_strn(&t[i]))) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_api_led_catalog_delivers(ngx_conf_t *cf, ngx_http_conf_ctx_t *ctx,
    ngx_str_t *stream, ngx_str_t *group, ngx_str_t *uri)
{
    ngx_http_core_srv_conf_t         **cscfp;
    ngx_http_core_main_conf_t         *cmcf;
    ngx_api_led_catalog_delivery_t    *d;
    ngx_api_led_observe_main_conf_t   *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_observe_module);

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


/* the list "role" of an entry's "events", made on first use */

static json_t *
ngx_api_led_catalog_events(json_t *api, const char *role)
{
    json_t  *events, *list;

    events = json_object_get(api, "events");

    if (events == NULL) {
        events = json_object();
        if (events == NULL || json_object_set_new(api, "events", events)) {
            return NULL;
        }
    }

    list = json_object_get(events, role);

    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(events, role, list)) {
            return NULL;
        }
    }

    return list;
}


/*
 * Once every location is known (from ngx_api_led_catalog_render()): the
 * API that answers each delivery's URI consumes its stream; then the
 * catalog's "streams", in the order of the configuration: each stream's
 * publishers and consumers (a delivery to a URI that is no API location
 * has "uri" and no "api").
 */

ngx_int_t
ngx_api_led_catalog_streams(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf)
{
    size_t                           i, j;
    json_t                          *apis, *api, *events, *list, *e, *who;
    json_t                          *streams, *v;
    ngx_uint_t                       k;
    const char                      *role, *member;
    ngx_api_led_catalog_delivery_t  *d;

    d = omcf->deliveries.elts;

    for (k = 0; k < omcf->deliveries.nelts; k++) {
        if (ngx_api_led_catalog_deliver(cf, omcf, &d[k]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    streams = json_array();

    if (streams == NULL || json_object_set_new(omcf->root, "streams", streams))
    {
        return NGX_ERROR;
    }

    apis = json_object_get(omcf->root, "apis");

    json_array_foreach(apis, i, api) {
        events = json_object_get(api, "events");

        if (events == NULL) {
            continue;
        }

        for (k = 0; k < 2; k++) {
            role = k ? "consumes" : "publishes";
            member = k ? "consumers" : "publishers";

            list = json_object_get(events, role);

            json_array_foreach(list, j, e) {
                who = json_deep_copy(e);

                if (who == NULL
                    || json_object_del(who, "stream")
                    || json_object_set(who, "api",
                                       json_object_get(api, "id")))
                {
                    json_decref(who);
                    return NGX_ERROR;
                }

                if (ngx_api_led_catalog_stream_add(streams,
                        json_object_get(e, "stream"), member, who)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    /* deliveries to a URI that no API answers: consumers all the same */

    for (k = 0; k < omcf->deliveries.nelts; k++) {
        if (d[k].api) {
            continue;
        }

        who = json_pack("{s:s, s:s%, s:s%}", "via", "delivery",
                        "group", d[k].group.data, d[k].group.len,
                        "uri", d[k].uri.data, d[k].uri.len);
        v = ngx_api_led_catalog_strn(&d[k].stream);

        if (who == NULL || v == NULL) {
            json_decref(who);
            json_decref(v);
            return NGX_ERROR;
        }

        if (ngx_api_led_catalog_stream_add(streams, v, "consumers", who)
            != NGX_OK)
        {
            json_decref(v);
            return NGX_ERROR;
        }

        json_decref(v);
    }

    if (json_array_size(streams) == 0) {
        return json_object_del(omcf->root, "streams") ? NGX_ERROR : NGX_OK;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_catalog_deliver(ngx_conf_t *cf,
    ngx_api_led_observe_main_conf_t *omcf, ngx_api_led_catalog_delivery_t *d)
{
    json_t                      *list, *e;
    ngx_str_t                    uri;
    ngx_uint_t                   i;
    ngx_api_led_catalog_item_t  *to;

    d->api = 0;

    uri = d->uri;

    for (i = 0; i < uri.len; i++) {
        if (uri.data[i] == '?') {
            uri.len = i;
            break;
        }
    }

    to = d->cscf ? ngx_api_led_catalog_find(omcf, d->cscf, &uri) : NULL;

    if (to == NULL) {
        return NGX_OK;
    }

    d->api = 1;

    list = ngx_api_led_catalog_events(to->json, "consumes");

    if (list == NULL) {
        return NGX_ERROR;
    }

    e = json_pack("{s:s%, s:s, s:s%}",
                  "stream", d->stream.data, d->stream.len,
                  "via", "delivery",
                  "group", d->group.data, d->group.len);

    return (e == NULL || json_array_append_new(list, e)) ? NGX_ERROR : NGX_OK;
}


/* "who" (a new reference, taken) joins the stream's "role" list */

static ngx_int_t
ngx_api_led_catalog_stream_add(json_t *streams, json_t *stream,
    const char *role, json_t *who)
{
    size_t   i;
    json_t  *s, *e, *list;

    s = NULL;

    json_array_foreach(streams, i, e) {
        if (json_equal(json_object_get(e, "stream"), stream)) {
            s = e;
            break;
        }
    }

    if (s == NULL) {
        s = json_pack("{s:O, s:[], s:[]}", "stream", stream,
                      "publishers", "consumers");

        if (s == NULL || json_array_append_new(streams, s)) {
            json_decref(who);
            return NGX_ERROR;
        }
    }

    list = json_object_get(s, role);

    /* two locations of an API publish alike: listed once */

    json_array_foreach(list, i, e) {
        if (json_equal(e, who)) {
            json_decref(who);
            return NGX_OK;
        }
    }

    return json_array_append_new(list, who) ? NGX_ERROR : NGX_OK;
}


static json_t *
ngx_api_led_catalog_strn(ngx_str_t *s)
{
    return json_stringn((const char *) s->data, s->len);
}
