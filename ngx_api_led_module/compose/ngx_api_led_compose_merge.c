
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration, the answer: the parts' JSON merged (namespaced or deep,
 * always in declaration order).
 */


#include "ngx_api_led_compose.h"


static ngx_int_t ngx_api_led_compose_deep_in_arena(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);
static ngx_int_t ngx_api_led_compose_deep_merge(json_t *dst, json_t *src,
    ngx_uint_t conflict, u_char *path, u_char *p, u_char *end, u_char **at);


/*
 * {"NAME": <part body>, ...} in declaration order.  A part's body was
 * validated as JSON and is copied as it came (numbers keep their digits);
 * a part that failed (only optional ones get here) is null.
 */

ngx_int_t
ngx_api_led_compose_namespaced(ngx_api_led_compose_t *cmp, ngx_buf_t **bp)
{
    u_char                      *p, *s, *e;
    size_t                       len;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    ngx_api_led_compose_part_t  *part;

    len = sizeof("{}\n") - 1;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        len += sizeof("\"\":,") - 1 + part->conf->name.len;

        if (part->state == NGX_API_LED_PART_OK && part->len) {
            len += part->len;

        } else {
            len += sizeof("null") - 1;
        }
    }

    b = ngx_create_temp_buf(cmp->request->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    *p++ = '{';

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, part->conf->name.data, part->conf->name.len);
        *p++ = '"';
        *p++ = ':';

        if (part->state == NGX_API_LED_PART_OK && part->len) {
            s = part->body;
            e = part->body + part->len;

            while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'
                             || *s == '\n'))
            {
                s++;
            }

            while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
                             || e[-1] == '\n'))
            {
                e--;
            }

            p = ngx_cpymem(p, s, e - s);

        } else {
            p = ngx_cpymem(p, "null", sizeof("null") - 1);
        }
    }

    *p++ = '}';
    *p++ = '\n';

    b->last = p;
    *bp = b;

    return NGX_OK;
}


/*
 * Objects merged into one, in declaration order.  Objects under the same
 * key merge recursively, equal values agree; any other collision (values
 * that differ, an object and a non-object) follows conflict=: error
 * (502 merge_conflict), first (the earlier part's value stays) or last
 * (the later part's value wins).
 */

ngx_int_t
ngx_api_led_compose_deep(ngx_api_led_compose_t *cmp, ngx_buf_t **bp)
{
    ngx_int_t                  rc;
    ngx_api_led_json_arena_t  *prev;

    /* the parts' documents were parsed in the arena: merge there too */

    prev = ngx_api_led_json_arena_enter(cmp->arena);
    rc = ngx_api_led_compose_deep_in_arena(cmp, bp);
    ngx_api_led_json_arena_leave(prev);

    return rc;
}


static ngx_int_t
ngx_api_led_compose_deep_in_arena(ngx_api_led_compose_t *cmp, ngx_buf_t **bp)
{
    u_char                      *at, path[256];
    size_t                       hint;
    json_t                      *dst;
    ngx_str_t                    text;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    ngx_api_led_compose_part_t  *part;

    dst = json_object();
    if (dst == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->state != NGX_API_LED_PART_OK) {
            continue;
        }

        at = NULL;

        rc = ngx_api_led_compose_deep_merge(dst, part->json,
                                            cmp->conf->conflict, path, path,
                                            path + sizeof(path), &at);

        if (rc == NGX_ERROR) {
            json_decref(dst);
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            json_decref(dst);

            /* the caller answers 502 merge_conflict */
            cmp->conflict_part = &part->conf->name;
            cmp->conflict_at.len = ngx_api_led_utf8_cut(path, at - path);
            cmp->conflict_at.data = path;
            cmp->conflict_at.data = ngx_pstrdup(cmp->request->pool,
                                                &cmp->conflict_at);
            if (cmp->conflict_at.data == NULL) {
                return NGX_ERROR;
            }

            /* the path is made of the parts' member names */
            ngx_log_error(NGX_LOG_ERR, cmp->request->connection->log, 0,
                          "api_led_compose: part \"%V\" collides with an "
                          "earlier part at \"%V\"", &part->conf->name,
                          ngx_api_led_log_value(cmp->request->pool,
                                                &cmp->conflict_at));

            return NGX_DECLINED;
        }
    }

    hint = 0;

    for (i = 0; i < cmp->nparts; i++) {
        hint += cmp->parts[i].len;
    }

    rc = ngx_api_led_json_dump(cmp->request->pool, dst, hint, &text);

    json_decref(dst);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(cmp->request->pool, text.len + 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, text.data, text.len);
    *b->last++ = '\n';

    *bp = b;

    return NGX_OK;
}


/*
 * Merges src into dst.  Members of src are shared with dst, not copied:
 * the parts' documents are only read before the merge and freed after.
 * On a conflict (conflict=error) returns NGX_DECLINED with the JSON
 * Pointer of the collision in path .. *at.
 */

static ngx_int_t
ngx_api_led_compose_deep_merge(json_t *dst, json_t *src, ngx_uint_t conflict,
    u_char *path, u_char *p, u_char *end, u_char **at)
{
    u_char      *q;
    json_t      *value, *cur;
    ngx_int_t    rc;
    const char  *key;

    json_object_foreach(src, key, value) {

        cur = json_object_get(dst, key);

        if (cur == NULL) {
            if (json_object_set(dst, key, value) != 0) {
                return NGX_ERROR;
            }

            continue;
        }

        q = ngx_slprintf(p, end, "/%s", key);

        if (json_is_object(cur) && json_is_object(value)) {
            rc = ngx_api_led_compose_deep_merge(cur, value, conflict, path,
                                                q, end, at);
            if (rc != NGX_OK) {
                return rc;
            }

            continue;
        }

        /* parts that agree do not collide */
        if (json_equal(cur, value)) {
            continue;
        }

        switch (conflict) {

        case NGX_API_LED_CONFLICT_FIRST:
            break;

        case NGX_API_LED_CONFLICT_LAST:
            if (json_object_set(dst, key, value) != 0) {
                return NGX_ERROR;
            }

            break;

        default: /* NGX_API_LED_CONFLICT_ERROR */
            *at = q;
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}
