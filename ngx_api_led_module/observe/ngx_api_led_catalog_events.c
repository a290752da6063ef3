
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


static ngx_int_t ngx_api_led_catalog_streams_fill(json_t *root,
    json_t *streams, json_t *index, json_t *others);
static ngx_int_t ngx_api_led_catalog_stream_add(json_t *streams,
    json_t *index, json_t *stream, const char *role, json_t *who);


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
    json_t     *streams, *index;
    ngx_int_t   rc;

    streams = json_array();

    if (streams == NULL || json_object_set_new(root, "streams", streams)) {
        return NGX_ERROR;
    }

    /* the streams by name, and who is listed in each: no list searched */

    index = json_object();
    if (index == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_api_led_catalog_streams_fill(root, streams, index, others);

    json_decref(index);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (json_array_size(streams) == 0) {
        return json_object_del(root, "streams") ? NGX_ERROR : NGX_OK;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_catalog_streams_fill(json_t *root, json_t *streams,
    json_t *index, json_t *others)
{
    size_t       i, j;
    json_t      *apis, *api, *events, *list, *e, *who;
    ngx_uint_t   k;
    const char  *role, *member;

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

            if (ngx_api_led_catalog_stream_add(streams, index,
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

                if (ngx_api_led_catalog_stream_add(streams, index,
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

        if (ngx_api_led_catalog_stream_add(streams, index,
                                           json_object_get(e, "stream"),
                                           "consumers", who)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* "who" (a new reference, taken) joins the stream's "role" list */

static ngx_int_t
ngx_api_led_catalog_stream_add(json_t *streams, json_t *index,
    json_t *stream, const char *role, json_t *who)
{
    char    *text, *key;
    size_t   len, n;
    json_t  *s, *list;

    if (!json_is_string(stream)) {
        json_decref(who);
        return NGX_ERROR;
    }

    /* the stream: by its name, "s" and the name */

    n = json_string_length(stream);

    key = ngx_alloc(n + 2, ngx_cycle->log);
    if (key == NULL) {
        json_decref(who);
        return NGX_ERROR;
    }

    key[0] = 's';
    ngx_memcpy(key + 1, json_string_value(stream), n);

    s = json_object_getn(index, key, n + 1);

    if (s == NULL) {
        s = json_pack("{s:O, s:[], s:[]}", "stream", stream,
                      "publishers", "consumers");

        if (s == NULL
            || json_array_append_new(streams, s)
            || json_object_setn_nocheck(index, key, n + 1, s))
        {
            ngx_free(key);
            json_decref(who);
            return NGX_ERROR;
        }
    }

    ngx_free(key);

    list = json_object_get(s, role);

    /*
     * two locations of an API publish alike: listed once; who is known by
     * its text (keys sorted), with the role and the stream's name
     */

    text = json_dumps(who, JSON_COMPACT|JSON_SORT_KEYS);
    if (text == NULL) {
        json_decref(who);
        return NGX_ERROR;
    }

    len = ngx_strlen(text);

    key = ngx_alloc(1 + ngx_strlen(role) + 1 + n + 1 + len, ngx_cycle->log);
    if (key == NULL) {
        free(text);
        json_decref(who);
        return NGX_ERROR;
    }

    /* "w" ROLE NUL NAME NUL TEXT: no name or role runs into the next */

    len = (u_char *) ngx_sprintf((u_char *) key, "w%s%Z%*s%Z%s", role, n,
                                 json_string_value(stream), text)
          - (u_char *) key;

    free(text);

    if (json_object_getn(index, key, len)) {
        ngx_free(key);
        json_decref(who);
        return NGX_OK;
    }

    if (json_object_setn_new_nocheck(index, key, len, json_true())) {
        ngx_free(key);
        json_decref(who);
        return NGX_ERROR;
    }

    ngx_free(key);

    return json_array_append_new(list, who) ? NGX_ERROR : NGX_OK;
}
