
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Events in the catalog, as JSON: an entry's "events" (what the API
 * publishes and consumes) and the catalog's "streams" (each stream with
 * its publishers and consumers).  The catalog's file (ngx_api_led_catalog.c)
 * takes what the events concern tells it and calls these; they only
 * shape JSON, and call nothing of the module.
 */


#include "ngx_api_led_observe_module.h"


static ngx_int_t ngx_api_led_catalog_stream_add(json_t *streams,
    json_t *stream, const char *role, json_t *who);


/*
 * "e" (a new reference, taken) joins the list "role" of the entry's
 * "events", made on first use
 */

ngx_int_t
ngx_api_led_catalog_events_add(json_t *api, const char *role, json_t *e)
{
    json_t  *events, *list;

    if (e == NULL) {
        return NGX_ERROR;
    }

    events = json_object_get(api, "events");

    if (events == NULL) {
        events = json_object();
        if (events == NULL || json_object_set_new(api, "events", events)) {
            json_decref(e);
            return NGX_ERROR;
        }
    }

    list = json_object_get(events, role);

    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(events, role, list)) {
            json_decref(e);
            return NGX_ERROR;
        }
    }

    return json_array_append_new(list, e) ? NGX_ERROR : NGX_OK;
}


/*
 * The catalog's "streams", in the order of the configuration: each
 * stream's publishers and consumers, from the entries' "events" (the
 * objects of "publishes" and "consumes", with the "api" they belong to;
 * "streams", the stream an API serves as Server-Sent Events, as a
 * consumer "via" "sse"), then "others": consumers that are no API (a
 * listener's URI that no API answers: its "stream" says which).  No
 * stream: no member.
 */

ngx_int_t
ngx_api_led_catalog_events_streams(json_t *root, json_t *others)
{
    size_t       i, j;
    json_t      *apis, *api, *events, *list, *e, *who, *streams;
    ngx_uint_t   k;
    const char  *role, *member;

    streams = json_array();

    if (streams == NULL || json_object_set_new(root, "streams", streams)) {
        return NGX_ERROR;
    }

    apis = json_object_get(root, "apis");

    json_array_foreach(apis, i, api) {
        events = json_object_get(api, "events");

        if (events == NULL) {
            continue;
        }

        /* the stream it serves to subscribers */

        e = json_object_get(events, "streams");

        if (json_is_object(e)) {
            who = json_deep_copy(e);

            if (who == NULL
                || json_object_del(who, "stream")
                || json_object_set(who, "api", json_object_get(api, "id"))
                || json_object_set_new(who, "via", json_string("sse")))
            {
                json_decref(who);
                return NGX_ERROR;
            }

            if (ngx_api_led_catalog_stream_add(streams,
                    json_object_get(e, "stream"), "consumers", who)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
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

    json_array_foreach(others, i, e) {
        who = json_deep_copy(e);

        if (who == NULL || json_object_del(who, "stream")) {
            json_decref(who);
            return NGX_ERROR;
        }

        if (ngx_api_led_catalog_stream_add(streams,
                                           json_object_get(e, "stream"),
                                           "consumers", who)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (json_array_size(streams) == 0) {
        return json_object_del(root, "streams") ? NGX_ERROR : NGX_OK;
    }

    return NGX_OK;
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
