
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration, the answer: the parts' JSON merged (namespaced or deep,
 * always in declaration order) or, when a required part failed, the
 * problem (the status the parts' outcome maps to, the detail for the
 * client or for the error log).
 */


#include "ngx_api_led_compose.h"


static ngx_int_t ngx_api_led_compose_fail(ngx_api_led_compose_t *cmp);
static ngx_int_t ngx_api_led_compose_problem(ngx_api_led_compose_t *cmp,
    ngx_uint_t status, const char *code, ngx_str_t *detail);
static ngx_int_t ngx_api_led_compose_send(ngx_api_led_compose_t *cmp,
    ngx_buf_t *b);
static ngx_int_t ngx_api_led_compose_deep_in_arena(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);
static ngx_int_t ngx_api_led_compose_deep_merge(json_t *dst, json_t *src,
    ngx_uint_t conflict, u_char *path, u_char *p, u_char *end, u_char **at);


/* a part's 4xx passed to the client (status=pass): its problem type */
typedef struct {
    ngx_uint_t                        status;
    const char                       *code;
} ngx_api_led_compose_pass_t;


static ngx_api_led_compose_pass_t  ngx_api_led_compose_pass[] = {
    { NGX_HTTP_BAD_REQUEST, "bad_request" },
    { NGX_HTTP_FORBIDDEN, "forbidden" },
    { NGX_HTTP_NOT_FOUND, "not_found" },
    { NGX_HTTP_NOT_ALLOWED, "method_not_allowed" },
    { NGX_HTTP_CONFLICT, "conflict" },
    { 410, "gone" },
    { NGX_HTTP_PRECONDITION_FAILED, "precondition_failed" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large" },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type" },
    { 422, "unprocessable_content" },
    { 428, "precondition_required" },
    { NGX_HTTP_TOO_MANY_REQUESTS, "rate_limited" },
    { 0, "request_rejected" }
};


static ngx_str_t  ngx_api_led_compose_json_type =
    ngx_string(NGX_API_LED_JSON_TYPE);
static ngx_api_led_edit_name_t  ngx_api_led_compose_partial_header =
    { ngx_string("API-Led-Partial"), ngx_string("api-led-partial"), 0 };


void
ngx_api_led_compose_finish(ngx_api_led_compose_t *cmp)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_str_t            detail;
    ngx_http_request_t  *r;
    u_char               buf[NGX_MAX_ERROR_STR];

    r = cmp->request;
    cmp->finished = 1;

    if (cmp->doomed) {
        rc = ngx_api_led_compose_fail(cmp);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (cmp->conf->merge == NGX_API_LED_MERGE_DEEP) {
        rc = ngx_api_led_compose_deep(cmp, &b);

    } else {
        rc = ngx_api_led_compose_namespaced(cmp, &b);
    }

    if (rc == NGX_OK) {
        rc = ngx_api_led_compose_send(cmp, b);

    } else if (rc == NGX_DECLINED) {
        detail.data = buf;
        detail.len = ngx_snprintf(buf, sizeof(buf),
                                  "part %V collides with an earlier part at "
                                  "\"%V\"", cmp->conflict_part,
                                  &cmp->conflict_at)
                     - buf;

        rc = ngx_api_led_compose_problem(cmp, NGX_HTTP_BAD_GATEWAY,
                                         "merge_conflict", &detail);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * A required part failed: 504 upstream_timeout when one timed out; the
 * part's own 4xx when it says status=pass (the first such part in
 * declaration order); else 502 upstream_failed.  The detail names each
 * failed part.
 */

static ngx_int_t
ngx_api_led_compose_fail(ngx_api_led_compose_t *cmp)
{
    u_char                      *p, *end, buf[1024];
    ngx_str_t                    detail;
    ngx_uint_t                   i, timedout, n, status;
    const char                  *code;
    ngx_api_led_compose_pass_t  *pass;
    ngx_api_led_compose_part_t  *part;

    p = buf;
    end = buf + sizeof(buf);
    p = ngx_slprintf(p, end, "required parts failed: ");

    timedout = 0;
    status = 0;
    n = 0;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (part->conf->optional || part->state == NGX_API_LED_PART_OK) {
            continue;
        }

        /* parts that did not run because another failed say nothing */
        if (part->cancelled) {
            continue;
        }

        p = ngx_slprintf(p, end, "%s%V ", n++ ? ", " : "", &part->conf->name);

        switch (part->state) {

        case NGX_API_LED_PART_TIMEDOUT:
            timedout = 1;
            p = ngx_slprintf(p, end, "(timed out after %Mms)",
                             part->conf->timeout);
            break;

        case NGX_API_LED_PART_SKIPPED:
            p = ngx_slprintf(p, end, "(not run: %V)", &part->reason);
            break;

        default: /* NGX_API_LED_PART_FAILED */
            if (part->status && part->reason.len) {
                p = ngx_slprintf(p, end, "(%ui, %V)", part->status,
                                 &part->reason);

            } else if (part->status) {
                p = ngx_slprintf(p, end, "(%ui)", part->status);

            } else {
                p = ngx_slprintf(p, end, "(not run: %V)", &part->reason);
            }

            /* a client error of the part's is the client's (status=pass);
             * 401 and 407 are the gateway's own credentials */

            if (status == 0
                && part->conf->pass_status
                && part->status >= NGX_HTTP_BAD_REQUEST
                && part->status < NGX_HTTP_INTERNAL_SERVER_ERROR
                && part->status != NGX_HTTP_UNAUTHORIZED
                && part->status != 407)
            {
                status = part->status;
            }
        }
    }

    detail.data = buf;
    detail.len = ngx_api_led_utf8_cut(buf, p - buf);

    if (timedout) {
        return ngx_api_led_compose_problem(cmp, NGX_HTTP_GATEWAY_TIME_OUT,
                                           "upstream_timeout", &detail);
    }

    if (status) {
        for (pass = ngx_api_led_compose_pass; pass->status; pass++) {
            if (pass->status == status) {
                break;
            }
        }

        code = pass->code;

        return ngx_api_led_compose_problem(cmp, status, code, &detail);
    }

    return ngx_api_led_compose_problem(cmp, NGX_HTTP_BAD_GATEWAY,
                                       "upstream_failed", &detail);
}


/*
 * The problem of a composition.  With api_led_problem_detail public (an
 * Experience API by default) the client gets the status, the title and
 * the correlation id, and the detail, which names parts and their
 * statuses, goes to the error log with the correlation id.
 */

static ngx_int_t
ngx_api_led_compose_problem(ngx_api_led_compose_t *cmp, ngx_uint_t status,
    const char *code, ngx_str_t *detail)
{
    ngx_str_t           *cid, none;
    ngx_uint_t           level;
    ngx_http_request_t  *r;

    r = cmp->request;

    if (!ngx_api_led_problem_detail_public(r)) {
        return ngx_api_led_problem_send(r, status, code, "%V", detail);
    }

    cid = ngx_api_led_correlation_id(r);

    if (cid == NULL) {
        ngx_str_set(&none, "-");
        cid = &none;
    }

    /* a client error passed on (status=pass) is the client's business */
    level = (status < NGX_HTTP_INTERNAL_SERVER_ERROR) ? NGX_LOG_INFO
                                                      : NGX_LOG_ERR;

    ngx_log_error(level, r->connection->log, 0,
                  "api_led_compose: %ui %s, correlation id \"%V\": %V",
                  status, code, cid,
                  ngx_api_led_log_value(r->pool, detail));

    return ngx_api_led_problem_send(r, status, code, "");
}


static ngx_int_t
ngx_api_led_compose_send(ngx_api_led_compose_t *cmp, ngx_buf_t *b)
{
    u_char                      *p;
    size_t                       len;
    ngx_str_t                    partial;
    ngx_uint_t                   i;
    ngx_http_request_t          *r;
    ngx_api_led_compose_part_t  *part;

    r = cmp->request;

    len = 0;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if ((part->state != NGX_API_LED_PART_OK || part->partial)
            && !part->conf->event)
        {
            len += part->conf->name.len + 1;
        }
    }

    if (len) {
        partial.data = ngx_pnalloc(r->pool, len);
        if (partial.data == NULL) {
            return NGX_ERROR;
        }

        p = partial.data;

        for (i = 0; i < cmp->nparts; i++) {
            part = &cmp->parts[i];

            if ((part->state != NGX_API_LED_PART_OK || part->partial)
                && !part->conf->event)
            {
                if (p != partial.data) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, part->conf->name.data,
                               part->conf->name.len);
            }
        }

        partial.len = p - partial.data;

        if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                         &ngx_api_led_compose_partial_header,
                                         NULL, &partial)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_api_led_send_buf(r, cmp->conf->status,
                                &ngx_api_led_compose_json_type, b);
}


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

        if (part->conf->event) {
            /* an event part is not in the answer */
            continue;
        }

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

        if (part->conf->event) {
            continue;
        }

        if (p != b->last + 1) {
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

        if (part->state != NGX_API_LED_PART_OK || part->conf->event) {
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
    size_t       len;
    json_t      *value, *cur;
    ngx_int_t    rc;
    const char  *key;

    /*
     * Names are taken with their length: a name may hold \u0000 or a lone
     * surrogate (kept by the parser), which jansson's checked setter
     * refuses.
     */

    json_object_keylen_foreach(src, key, len, value) {

        cur = json_object_getn(dst, key, len);

        if (cur == NULL) {
            if (json_object_setn_nocheck(dst, key, len, value) != 0) {
                return NGX_ERROR;
            }

            continue;
        }

        q = ngx_slprintf(p, end, "/%*s",
                         ngx_api_led_json_utf8_len((u_char *) key, len), key);

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
            if (json_object_setn_nocheck(dst, key, len, value) != 0) {
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
