
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JWT claims: exp and nbf, the api_led_jwt_require rules, JSON pointers,
 * claims as text, and the identity handed to the other concerns (the
 * subject looked up in the consumers store).
 */


#include "ngx_api_led_jwt.h"


static ngx_int_t ngx_api_led_jwt_value_matches(json_t *v, ngx_str_t *value);
static ngx_int_t ngx_api_led_jwt_has_scope(json_t *claim, u_char *scope,
    size_t len);
static ngx_int_t ngx_api_led_jwt_escape_del(ngx_pool_t *pool,
    ngx_str_t *text);


/* RFC 7519 4.1.4, 4.1.5, with the location's leeway for clock skew */

ngx_int_t
ngx_api_led_jwt_check_time(json_t *claims, time_t leeway,
    ngx_api_led_jwt_reject_t *rj)
{
    double   now;
    json_t  *v;

    now = (double) ngx_time();

    v = json_object_get(claims, "exp");
    if (v) {
        if (!json_is_number(v)) {
            rj->description = "the token exp is not a number";
            return NGX_DECLINED;
        }

        if (now >= json_number_value(v) + (double) leeway) {
            rj->description = "the token has expired";
            rj->reason = "expired";
            return NGX_DECLINED;
        }
    }

    v = json_object_get(claims, "nbf");
    if (v) {
        if (!json_is_number(v)) {
            rj->description = "the token nbf is not a number";
            return NGX_DECLINED;
        }

        if (now + (double) leeway < json_number_value(v)) {
            rj->description = "the token is not valid yet";
            rj->reason = "not_yet_valid";
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_api_led_jwt_check_requires(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, json_t *claims,
    ngx_api_led_jwt_reject_t *rj)
{
    u_char                     *p, *last, *s;
    json_t                     *claim;
    ngx_str_t                   value;
    ngx_uint_t                  i, j, ok;
    ngx_http_complex_value_t   *cv;
    ngx_api_led_jwt_require_t  *req;

    if (jlcf->requires == NULL) {
        return NGX_OK;
    }

    req = jlcf->requires->elts;

    for (i = 0; i < jlcf->requires->nelts; i++) {

        if (req[i].pointer) {
            claim = ngx_api_led_jwt_pointer_get(claims, req[i].pointer);

        } else {
            claim = json_object_getn(claims, (char *) req[i].claim.data,
                                     req[i].claim.len);
        }

        switch (req[i].kind) {

        case NGX_API_LED_JWT_REQ_PRESENT:

            if (claim) {
                continue;
            }

            if (req[i].registered) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";

            } else {
                rj->status = NGX_HTTP_FORBIDDEN;
                rj->error = "insufficient_scope";
            }

            rj->description = "the token lacks a required claim";
            rj->reason = "claim_missing";

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: JWT rejected: no \"%V\" claim",
                          &req[i].claim);
            rj->logged = 1;
            return NGX_DECLINED;

        case NGX_API_LED_JWT_REQ_SCOPE:

            cv = req[i].values->elts;

            for (j = 0; j < req[i].values->nelts; j++) {

                if (ngx_http_complex_value(r, &cv[j], &value) != NGX_OK) {
                    rj->status = 0;
                    return NGX_ERROR;
                }

                /* a value may list several scopes; empty requires none */

                p = value.data;
                last = value.data + value.len;

                while (p < last) {
                    while (p < last && *p == ' ') {
                        p++;
                    }

                    s = p;

                    while (p < last && *p != ' ') {
                        p++;
                    }

                    if (p > s
                        && !ngx_api_led_jwt_has_scope(claim, s, p - s))
                    {
                        rj->status = NGX_HTTP_FORBIDDEN;
                        rj->error = "insufficient_scope";
                        rj->description = "the token lacks a required scope";
                        rj->reason = "insufficient_scope";
                        rj->scope.data = s;
                        rj->scope.len = p - s;

                        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                                      "api_led: JWT rejected: no scope "
                                      "\"%V\" in \"%V\"", &rj->scope,
                                      &req[i].claim);
                        rj->logged = 1;
                        return NGX_DECLINED;
                    }
                }
            }

            continue;

        default: /* ISS, AUD, EQUAL: one of the values */

            ok = 0;
            cv = req[i].values->elts;

            for (j = 0; claim && j < req[i].values->nelts; j++) {

                if (ngx_http_complex_value(r, &cv[j], &value) != NGX_OK) {
                    rj->status = 0;
                    return NGX_ERROR;
                }

                if (value.len == 0) {
                    continue;
                }

                if (req[i].kind == NGX_API_LED_JWT_REQ_ISS) {
                    ok = ngx_api_led_json_is_text(claim)
                         && json_string_length(claim) == value.len
                         && ngx_memcmp(json_string_value(claim), value.data,
                                       value.len) == 0;

                } else {
                    ok = ngx_api_led_jwt_value_matches(claim, &value);
                }

                if (ok) {
                    break;
                }
            }

            if (ok) {
                continue;
            }

            if (req[i].kind == NGX_API_LED_JWT_REQ_ISS) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";
                rj->description = "the token issuer is not accepted";

            } else if (req[i].kind == NGX_API_LED_JWT_REQ_AUD) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";
                rj->description = "the token audience is not accepted";

            } else if (req[i].registered) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";
                rj->description = "a token claim is not accepted";

            } else {
                rj->status = NGX_HTTP_FORBIDDEN;
                rj->error = "insufficient_scope";
                rj->description = "a token claim is not accepted";
            }

            rj->reason = "claim_rejected";

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: JWT rejected: claim \"%V\" does not "
                          "match", &req[i].claim);
            rj->logged = 1;
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a string, number or boolean claim, or any element of an array claim */

static ngx_int_t
ngx_api_led_jwt_value_matches(json_t *v, ngx_str_t *value)
{
    u_char   buf[NGX_INT64_LEN + 1], *p;
    size_t   i;
    json_t  *e;

    switch (json_typeof(v)) {

    case JSON_STRING:
        return json_string_length(v) == value->len
               && ngx_memcmp(json_string_value(v), value->data, value->len)
                  == 0;

    case JSON_INTEGER:
        p = ngx_sprintf(buf, "%L", (int64_t) json_integer_value(v));
        return (size_t) (p - buf) == value->len
               && ngx_memcmp(buf, value->data, value->len) == 0;

    case JSON_TRUE:
        return value->len == 4 && ngx_strncmp(value->data, "true", 4) == 0;

    case JSON_FALSE:
        return value->len == 5 && ngx_strncmp(value->data, "false", 5) == 0;

    case JSON_ARRAY:
        json_array_foreach(v, i, e) {
            if (!json_is_array(e) && ngx_api_led_jwt_value_matches(e, value)) {
                return 1;
            }
        }

        return 0;

    default:
        return 0;
    }
}


/* "scope": space-separated string (RFC 8693); "scp": array or string */

static ngx_int_t
ngx_api_led_jwt_has_scope(json_t *claim, u_char *scope, size_t len)
{
    u_char  *p, *last, *s;
    size_t   i;
    json_t  *e;

    if (json_is_array(claim)) {
        json_array_foreach(claim, i, e) {
            if (ngx_api_led_json_is_text(e) && json_string_length(e) == len
                && ngx_memcmp(json_string_value(e), scope, len) == 0)
            {
                return 1;
            }
        }

        return 0;
    }

    if (!ngx_api_led_json_is_text(claim)) {
        return 0;
    }

    p = (u_char *) json_string_value(claim);
    last = p + json_string_length(claim);

    while (p < last) {
        s = p;

        while (p < last && *p != ' ') {
            p++;
        }

        if ((size_t) (p - s) == len && ngx_memcmp(s, scope, len) == 0) {
            return 1;
        }

        p++;
    }

    return 0;
}


json_t *
ngx_api_led_jwt_pointer_get(json_t *root, ngx_array_t *pointer)
{
    size_t      idx;
    json_t     *v;
    ngx_str_t  *tok;
    ngx_uint_t  i, j;

    v = root;
    tok = pointer->elts;

    for (i = 0; v && i < pointer->nelts; i++) {

        if (json_is_object(v)) {
            v = json_object_getn(v, (char *) tok[i].data, tok[i].len);
            continue;
        }

        if (!json_is_array(v) || tok[i].len == 0
            || (tok[i].len > 1 && tok[i].data[0] == '0'))
        {
            return NULL;
        }

        idx = 0;

        for (j = 0; j < tok[i].len; j++) {
            if (tok[i].data[j] < '0' || tok[i].data[j] > '9' || j > 8) {
                return NULL;
            }

            idx = idx * 10 + tok[i].data[j] - '0';
        }

        v = json_array_get(v, idx);
    }

    return v;
}


/*
 * A claim as text: a string as it is (JSON-escaped if it holds control
 * characters, so a claim can never split a header), anything else as
 * compact JSON.  JSON leaves DEL (0x7f) unescaped: it becomes "\u007f"
 * here, so that no control character reaches a header.  For an
 * "identity" a backslash makes it escaped too, so that no two subjects
 * read the same: "eve" and a CR, escaped, is the text "eve\r", which a
 * subject of those five characters would be as it is.
 */

ngx_int_t
ngx_api_led_jwt_render(ngx_pool_t *pool, json_t *v, ngx_uint_t identity,
    ngx_str_t *out)
{
    u_char  *p;
    size_t   i, len;

    if (ngx_api_led_json_number_text(v, out)) {
        /* a number beyond a double, as it was written */
        return NGX_OK;
    }

    if (json_is_string(v)) {
        p = (u_char *) json_string_value(v);
        len = json_string_length(v);

        for (i = 0; i < len; i++) {
            if (p[i] < 0x20 || p[i] == 0x7f
                || (identity && p[i] == '\\'))
            {
                break;
            }
        }

        if (i == len) {
            out->data = p;
            out->len = len;
            return NGX_OK;
        }
    }

    if (ngx_api_led_json_dump(pool, v, 64, out) != NGX_OK) {
        return NGX_ERROR;
    }

    if (json_is_string(v) && out->len >= 2) {
        /* the escaped string without its quotes */
        out->data++;
        out->len -= 2;
    }

    return ngx_api_led_jwt_escape_del(pool, out);
}


static ngx_int_t
ngx_api_led_jwt_escape_del(ngx_pool_t *pool, ngx_str_t *text)
{
    u_char  *p, *q;
    size_t   i, n;

    n = 0;

    for (i = 0; i < text->len; i++) {
        if (text->data[i] == 0x7f) {
            n++;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(pool, text->len + n * (sizeof("\\u007f") - 2));
    if (p == NULL) {
        return NGX_ERROR;
    }

    q = p;

    for (i = 0; i < text->len; i++) {
        if (text->data[i] == 0x7f) {
            q = ngx_cpymem(q, "\\u007f", sizeof("\\u007f") - 1);
            continue;
        }

        *q++ = text->data[i];
    }

    text->data = p;
    text->len = q - p;

    return NGX_OK;
}


/*
 * The identity the other concerns see: the consumer claim (default
 * "sub") names a consumer of the consumers file; a subject that is no
 * consumer still proceeds, as itself and without a plan.
 */

ngx_int_t
ngx_api_led_jwt_set_identity(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_ctx_t *ctx,
    json_t *claims)
{
    json_t     *v;
    ngx_str_t   id;

    if (jlcf->consumer_pointer) {
        v = ngx_api_led_jwt_pointer_get(claims, jlcf->consumer_pointer);

    } else {
        v = json_object_getn(claims, (char *) jlcf->consumer_claim.data,
                             jlcf->consumer_claim.len);
    }

    ngx_str_null(&id);

    if (v && (json_is_string(v) || json_is_integer(v))) {
        if (ngx_api_led_jwt_render(r->pool, v, 1, &id) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ctx->consumer = NULL;

    if (id.len) {
        ctx->consumer = ngx_api_led_consumer_find(r, &id);
    }

    ctx->consumer_id = id;
    ngx_str_set(&ctx->auth_method, "jwt");

    if (ctx->claims) {
        json_decref(ctx->claims);
    }

    /* the reference taken by the caller now belongs to the ctx */
    ctx->claims = claims;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: JWT subject \"%V\", consumer %s",
                   ngx_api_led_log_value(r->pool, &id),
                   ctx->consumer ? "known" : "unknown");

    return NGX_OK;
}
