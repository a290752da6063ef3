
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The JWT step of the access phase: the token from its source, the JWS
 * header checks, key selection without algorithm confusion, signature
 * verification, the verified-token cache, and the RFC 6750 answers.
 */


#include "ngx_api_led_jwt.h"


/* the bearer tokens of a request: every copy in every source */
typedef struct {
    ngx_str_t                    token;       /* the first one */
    ngx_uint_t                   found;
    unsigned                     ambiguous:1; /* different tokens */
} ngx_api_led_jwt_tokens_t;


static ngx_int_t ngx_api_led_jwt_decide(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_api_led_auth_refusal_t *rf);
static ngx_api_led_jwt_source_t *ngx_api_led_jwt_sources(
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_source_t *dflt,
    ngx_uint_t *n);
static ngx_int_t ngx_api_led_jwt_get_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_tokens_t *tokens);
static ngx_int_t ngx_api_led_jwt_header_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_jwt_tokens_t *tokens);
static ngx_int_t ngx_api_led_jwt_cookie_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_jwt_tokens_t *tokens);
static ngx_int_t ngx_api_led_jwt_query_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_jwt_tokens_t *tokens);
static ngx_int_t ngx_api_led_jwt_token_add(ngx_http_request_t *r,
    ngx_api_led_jwt_tokens_t *tokens, u_char *p, u_char *last,
    ngx_uint_t unescape);
static ngx_table_elt_t *ngx_api_led_jwt_header_next(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_header_iter_t *it,
    ngx_str_t *token);
static ngx_int_t ngx_api_led_jwt_verify(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_req_ctx_t *jctx,
    ngx_str_t *token, json_t **claims,
    ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_verify_with(ngx_http_request_t *r,
    ngx_api_led_jwks_t *jwks, ngx_str_t *kid, ngx_uint_t alg,
    ngx_str_t *input, ngx_str_t *sig, ngx_uint_t *candidates,
    ngx_uint_t *generation, ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_refuse(ngx_http_request_t *r,
    ngx_api_led_jwt_reject_t *rj, ngx_api_led_auth_refusal_t *rf);
static ngx_int_t ngx_api_led_jwt_check_claims(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_cache_node_t *cn,
    json_t *claims, ngx_api_led_jwt_reject_t *rj);
static void ngx_api_led_jwt_count_lookup(ngx_http_request_t *r,
    ngx_uint_t hit);


static ngx_str_t  ngx_api_led_jwt_cookie = ngx_string("Cookie");


/*
 * A token the gateway consumed does not go on (api_led_jwt_hide, on by
 * default); a refused or ambiguous one never does, whatever
 * api_led_jwt_hide says (nothing unverified goes upstream): once the
 * request is decided on (not while keys are fetched), every token of the
 * sources leaves it, so that no part or upstream gets one.
 */

ngx_int_t
ngx_api_led_jwt_authenticate(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_api_led_auth_refusal_t *rf)
{
    ngx_int_t                    rc;
    ngx_api_led_jwt_loc_conf_t  *jlcf;

    rc = ngx_api_led_jwt_decide(r, ctx, rf);

    jlcf = ngx_http_get_module_loc_conf(r, ngx_api_led_jwt_module);

    if (rc == NGX_API_LED_AUTH_REFUSED || (rc == NGX_OK && jlcf->hide)) {
        if (ngx_api_led_jwt_hide(r) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return rc;
}


static ngx_int_t
ngx_api_led_jwt_decide(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_api_led_auth_refusal_t *rf)
{
    json_t                       *claims;
    ngx_int_t                     rc;
    ngx_str_t                     token;
    ngx_api_led_jwks_t           *remote_keys;
    ngx_api_led_jwt_reject_t      rj;
    ngx_api_led_jwt_cache_t      *cache;
    ngx_api_led_jwt_tokens_t      tokens;
    ngx_api_led_jwt_req_ctx_t    *jctx;
    ngx_api_led_jwt_loc_conf_t   *jlcf;
    ngx_api_led_jwt_cache_node_t *cn;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_api_led_jwt_module);

    jctx = ngx_http_get_module_ctx(r, ngx_api_led_jwt_module);

    if (jctx == NULL) {
        jctx = ngx_pcalloc(r->pool, sizeof(ngx_api_led_jwt_req_ctx_t));
        if (jctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, jctx, ngx_api_led_jwt_module);
    }

    if (jctx->waiting) {
        if (!jctx->fetch_done) {
            /* woken up for something else: still waiting for the keys */
            return NGX_AGAIN;
        }

        jctx->waiting = 0;
        jctx->waited = 1;
    }

    if (ctx->jwt_token.len) {
        /*
         * after an internal redirect: the token that proved the request
         * (hidden from it by now) meets this location's keys and rules
         */
        tokens.token = ctx->jwt_token;
        tokens.found = 1;
        tokens.ambiguous = 0;

    } else if (ngx_api_led_jwt_get_tokens(r, jlcf, &tokens) != NGX_OK) {
        return NGX_ERROR;
    }

    if (tokens.found == 0) {
        return NGX_DECLINED;
    }

    if (tokens.ambiguous) {
        /* which one would the upstream read?  Refused, as two API keys */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: the request carries different bearer "
                      "tokens");

        rf->status = NGX_HTTP_UNAUTHORIZED;
        rf->code = "ambiguous_credentials";
        rf->detail = "the request carries more than one bearer token";
        rf->schemes = NGX_API_LED_AUTH_JWT;

        return NGX_API_LED_AUTH_REFUSED;
    }

    token = tokens.token;

    ngx_memzero(&rj, sizeof(ngx_api_led_jwt_reject_t));
    rj.status = NGX_HTTP_UNAUTHORIZED;
    rj.error = "invalid_token";

    if (token.len > jlcf->max_size) {
        rj.description = "the token is too large";
        rj.reason = "too_large";
        return ngx_api_led_jwt_refuse(r, &rj, rf);
    }

    if (jlcf->keys == NULL && jlcf->remote == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: JWT authentication without keys: set "
                      "api_led_jwt_keys or api_led_jwt_keys_uri");
        return NGX_ERROR;
    }

    remote_keys = NULL;

    if (jlcf->remote) {
        rc = ngx_api_led_jwt_remote_keys(r, jctx, jlcf->remote,
                                         NGX_API_LED_JWT_NEED_KEYS);
        if (rc != NGX_OK) {
            return rc;
        }

        remote_keys = ngx_api_led_jwt_remote_jwks(jlcf->remote);

        if (jlcf->keys == NULL && remote_keys == NULL) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: JWT not verified: no keys from JWKS "
                          "\"%V\"", &jlcf->remote->uri);

            rf->status = NGX_HTTP_SERVICE_UNAVAILABLE;
            rf->code = "jwt_keys_unavailable";
            rf->detail = "the keys to verify tokens could not be fetched";

            return NGX_API_LED_AUTH_REFUSED;
        }
    }

    cn = NULL;
    cache = ngx_api_led_jwt_worker_cache();

    if (cache) {
        cn = ngx_api_led_jwt_cache_lookup(cache, &token);

        if (cn) {
            if (cn->exp && cn->exp <= ngx_time()) {
                ngx_api_led_jwt_cache_delete(cache, cn);
                cn = NULL;

            } else if (!(jlcf->algorithms & ((ngx_uint_t) 1 << cn->alg))
                       || !((jlcf->keys
                             && jlcf->keys->generation == cn->generation)
                            || (remote_keys
                                && remote_keys->generation
                                   == cn->generation)))
            {
                /* verified elsewhere, by keys or rules not of this place */
                cn = NULL;
            }
        }
    }

    if (cache) {
        jctx->cache_status = cn ? NGX_API_LED_JWT_CACHE_HIT
                                : NGX_API_LED_JWT_CACHE_MISS;

        ngx_api_led_jwt_count_lookup(r, cn != NULL);
    }

    if (cn) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led: JWT cache hit");

        claims = json_incref(cn->claims);

    } else {
        rc = ngx_api_led_jwt_verify(r, jlcf, jctx, &token, &claims, &rj);

        if (rc == NGX_DECLINED) {
            return ngx_api_led_jwt_refuse(r, &rj, rf);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_api_led_jwt_check_time(claims, jlcf->leeway, &rj) != NGX_OK
        || ngx_api_led_jwt_check_claims(r, jlcf, cn, claims, &rj) != NGX_OK)
    {
        json_decref(claims);

        if (rj.status == 0) {
            return NGX_ERROR;
        }

        return ngx_api_led_jwt_refuse(r, &rj, rf);
    }

    if (ngx_api_led_jwt_set_identity(r, jlcf, ctx, claims) != NGX_OK) {
        json_decref(claims);
        return NGX_ERROR;
    }

    ctx->jwt_token = token;

    return NGX_OK;
}


/*
 * The location's requirements of the claims.  A cached token (cn) that
 * met these very requirements, when they have no variables, meets them
 * again: its claims and their values do not change.
 */

static ngx_int_t
ngx_api_led_jwt_check_claims(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_cache_node_t *cn,
    json_t *claims, ngx_api_led_jwt_reject_t *rj)
{
    ngx_int_t  rc;

    if (jlcf->requires == NULL) {
        return NGX_OK;
    }

    if (cn && cn->requires_met == jlcf->requires) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led: JWT requirements met before");
        return NGX_OK;
    }

    rc = ngx_api_led_jwt_check_requires(r, jlcf, claims, rj);
    if (rc != NGX_OK) {
        return rc;
    }

    if (cn && jlcf->requires_constant) {
        cn->requires_met = jlcf->requires;
    }

    return NGX_OK;
}


/*
 * Every bearer token of the request: each source, each copy of it (two
 * headers, two cookies of the name, a header and an argument...).  The
 * same token found twice is one token; two different tokens make the
 * request ambiguous, for the upstream might read the one not verified.
 */

static ngx_int_t
ngx_api_led_jwt_get_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_tokens_t *tokens)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, n;
    ngx_api_led_jwt_source_t  *src, dflt;

    ngx_memzero(tokens, sizeof(ngx_api_led_jwt_tokens_t));

    src = ngx_api_led_jwt_sources(jlcf, &dflt, &n);

    for (i = 0; i < n; i++) {

        switch (src[i].type) {

        case NGX_API_LED_JWT_SOURCE_HEADER:
            rc = ngx_api_led_jwt_header_tokens(r, &src[i], tokens);
            break;

        case NGX_API_LED_JWT_SOURCE_COOKIE:
            rc = ngx_api_led_jwt_cookie_tokens(r, &src[i], tokens);
            break;

        default: /* NGX_API_LED_JWT_SOURCE_QUERY */
            rc = ngx_api_led_jwt_query_tokens(r, &src[i], tokens);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* api_led_jwt_source, or the Authorization header */

static ngx_api_led_jwt_source_t *
ngx_api_led_jwt_sources(ngx_api_led_jwt_loc_conf_t *jlcf,
    ngx_api_led_jwt_source_t *dflt, ngx_uint_t *n)
{
    if (jlcf->sources) {
        *n = jlcf->sources->nelts;
        return jlcf->sources->elts;
    }

    ngx_memzero(dflt, sizeof(ngx_api_led_jwt_source_t));
    dflt->type = NGX_API_LED_JWT_SOURCE_HEADER;
    ngx_str_set(&dflt->name, "Authorization");
    dflt->authorization = 1;

    *n = 1;

    return dflt;
}


static ngx_int_t
ngx_api_led_jwt_header_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_jwt_tokens_t *tokens)
{
    ngx_str_t                  token;
    ngx_api_led_header_iter_t  it;

    it.part = NULL;

    while (ngx_api_led_jwt_header_next(r, src, &it, &token)) {
        if (ngx_api_led_jwt_token_add(r, tokens, token.data,
                                      token.data + token.len, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The next request header of the source that carries a token, and the
 * token.  Names match case-insensitively, "-" and "_" alike, as $http_NAME
 * and CGI-style upstreams read them (with underscores_in_headers on, an
 * X_Token header is an X-Token to them).  The Authorization header counts
 * only with the Bearer scheme (RFC 6750 2.1): another scheme is another
 * credential, not a bad token; other headers take the value with or
 * without "Bearer ".
 */

static ngx_table_elt_t *
ngx_api_led_jwt_header_next(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_header_iter_t *it,
    ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (it->part == NULL) {
        it->part = &r->headers_in.headers.part;
        it->i = 0;
    }

    part = it->part;
    h = part->elts;

    for (i = it->i; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != src->name.len
            || h[i].value.len == 0)
        {
            continue;
        }

        /* most often the name comes as it is configured: memcmp() first */

        if (ngx_memcmp(h[i].key.data, src->name.data, src->name.len) != 0
            && !ngx_api_led_header_name_is(h[i].key.data, src->name.data,
                                           src->name.len))
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        /* the scheme as RFC 6750 writes it, else in any case */

        if (h[i].value.len >= 6
            && (ngx_memcmp(p, "Bearer", 6) == 0
                || ngx_strncasecmp(p, (u_char *) "Bearer", 6) == 0)
            && (h[i].value.len == 6 || p[6] == ' ' || p[6] == '\t'))
        {
            p += 6;

            while (p < last && (*p == ' ' || *p == '\t')) {
                p++;
            }

        } else if (src->authorization) {
            continue;
        }

        token->data = p;
        token->len = last - p;

        it->part = part;
        it->i = i + 1;

        return &h[i];
    }

    it->part = part;
    it->i = part->nelts;

    return NULL;
}


/* every Cookie header, every cookie of the name (as $cookie_NAME reads) */

static ngx_int_t
ngx_api_led_jwt_cookie_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_jwt_tokens_t *tokens)
{
    u_char                     *p, *last, *semi;
    ngx_str_t                   value;
    ngx_table_elt_t            *h;
    ngx_api_led_header_iter_t   it;

    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers,
                                        &ngx_api_led_jwt_cookie, &it)))
    {
        p = h->value.data;
        last = p + h->value.len;

        for ( /* void */ ; p < last; p = semi + 1) {
            semi = ngx_strlchr(p, last, ';');
            if (semi == NULL) {
                semi = last;
            }

            if (ngx_api_led_edit_cookie_find(p, semi, &src->name, &value)
                && value.len
                && ngx_api_led_jwt_token_add(r, tokens, value.data,
                                             value.data + value.len, 0)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* every argument of the name, however escaped (ngx_api_led_arg_name_is) */

static ngx_int_t
ngx_api_led_jwt_query_tokens(ngx_http_request_t *r,
    ngx_api_led_jwt_source_t *src, ngx_api_led_jwt_tokens_t *tokens)
{
    u_char  *p, *last, *end, *eq;

    if (r->args.len == 0) {
        /* r->args.data may be NULL */
        return NGX_OK;
    }

    p = r->args.data;
    last = p + r->args.len;

    for ( /* void */ ; p < last; p = end + 1) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        eq = ngx_strlchr(p, end, '=');

        if (eq == NULL || eq + 1 == end
            || !ngx_api_led_arg_name_is(p, eq - p, &src->name))
        {
            continue;
        }

        if (ngx_api_led_jwt_token_add(r, tokens, eq + 1, end, 1) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* one more token: the first is kept, a different one makes it ambiguous */

static ngx_int_t
ngx_api_led_jwt_token_add(ngx_http_request_t *r,
    ngx_api_led_jwt_tokens_t *tokens, u_char *p, u_char *last,
    ngx_uint_t unescape)
{
    u_char     *dst;
    ngx_str_t   t;

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    t.data = p;
    t.len = last - p;

    /*
     * A malformed escape ("<token>%", "%4") is left as written: the token
     * it would decode to was not sent, and "%" is no base64url.
     */

    if (unescape && ngx_strlchr(p, last, '%')
        && ngx_api_led_arg_escapes_valid(p, t.len))
    {
        dst = ngx_pnalloc(r->pool, t.len);
        if (dst == NULL) {
            return NGX_ERROR;
        }

        t.data = dst;
        ngx_unescape_uri(&dst, &p, t.len, 0);
        t.len = dst - t.data;
    }

    if (tokens->found++ == 0) {
        tokens->token = t;
        return NGX_OK;
    }

    if (t.len != tokens->token.len
        || ngx_memcmp(t.data, tokens->token.data, t.len) != 0)
    {
        tokens->ambiguous = 1;
    }

    return NGX_OK;
}


ngx_int_t
ngx_api_led_jwt_hidden_variables(ngx_conf_t *cf)
{
    char                        *prefix;
    ngx_uint_t                   i, n;
    ngx_api_led_jwt_source_t    *src, dflt;
    ngx_api_led_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_jwt_module);

    if (!jlcf->hide) {
        return NGX_OK;
    }

    src = ngx_api_led_jwt_sources(jlcf, &dflt, &n);

    for (i = 0; i < n; i++) {

        switch (src[i].type) {

        case NGX_API_LED_JWT_SOURCE_HEADER:
            prefix = "http_";
            break;

        case NGX_API_LED_JWT_SOURCE_COOKIE:
            prefix = "cookie_";
            break;

        default: /* NGX_API_LED_JWT_SOURCE_QUERY */
            prefix = "arg_";
            break;
        }

        if (ngx_api_led_hide_variable(cf, prefix, &src[i].name) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Every token of the location's sources leaves the request: the headers
 * (each spelling of the name), the cookies of the names, the arguments
 * however escaped.  Called once a token was decided on, and by the
 * dispatcher when an API key decided.
 */

ngx_int_t
ngx_api_led_jwt_hide(ngx_http_request_t *r)
{
    ngx_str_t                   name, token, *qn;
    ngx_uint_t                  i, n;
    ngx_array_t                 query;
    ngx_table_elt_t            *h;
    ngx_api_led_jwt_source_t   *src, dflt;
    ngx_api_led_header_iter_t   it;
    ngx_api_led_jwt_loc_conf_t *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_api_led_jwt_module);

    src = ngx_api_led_jwt_sources(jlcf, &dflt, &n);

    if (ngx_array_init(&query, r->pool, n, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {

        switch (src[i].type) {

        case NGX_API_LED_JWT_SOURCE_HEADER:

            /* the headers of each spelling of the name ("-" or "_") */

            for ( ;; ) {
                it.part = NULL;

                h = ngx_api_led_jwt_header_next(r, &src[i], &it, &token);
                if (h == NULL) {
                    break;
                }

                name = h->key;

                if (ngx_api_led_edit_headers_in_remove(r, &name) != NGX_OK) {
                    return NGX_ERROR;
                }
            }

            break;

        case NGX_API_LED_JWT_SOURCE_COOKIE:
            if (ngx_api_led_edit_cookie_remove(r, &src[i].name) != NGX_OK) {
                return NGX_ERROR;
            }

            break;

        default: /* NGX_API_LED_JWT_SOURCE_QUERY */
            qn = ngx_array_push(&query);
            if (qn == NULL) {
                return NGX_ERROR;
            }

            *qn = src[i].name;
        }
    }

    if (query.nelts && ngx_api_led_args_remove(r, &query) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Parses and verifies a compact JWS.  NGX_OK: *claims holds the verified
 * claims (a new reference); NGX_DECLINED: rejected, rj says why;
 * NGX_AGAIN: waiting for keys; NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_jwt_verify(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_req_ctx_t *jctx,
    ngx_str_t *token, json_t **claims,
    ngx_api_led_jwt_reject_t *rj)
{
    u_char                        *p, *dot[4];
    u_char                         err[NGX_API_LED_JSON_ERRLEN];
    double                         e;
    json_t                        *header, *v;
    time_t                         exp;
    ngx_int_t                      rc, alg;
    ngx_str_t                      seg, dec, kid, input, sig;
    ngx_uint_t                     ndots, candidates, generation;
    ngx_api_led_jwt_cache_t       *cache;

    ndots = 0;

    for (p = token->data; p < token->data + token->len; p++) {

        if (*p == '.') {
            if (ndots == 4) {
                ndots++;
                break;
            }

            dot[ndots++] = p;
            continue;
        }

        if (!(isalnum(*p) || *p == '-' || *p == '_')) {
            rj->description = "the token is not a compact JWS";
            return NGX_DECLINED;
        }
    }

    if (ndots == 4) {
        rj->description = "encrypted tokens (JWE) are not accepted";
        return NGX_DECLINED;
    }

    if (ndots != 2
        || dot[0] == token->data
        || dot[1] == dot[0] + 1)
    {
        rj->description = "the token is not a compact JWS";
        return NGX_DECLINED;
    }

    /* the protected header */

    seg.data = token->data;
    seg.len = dot[0] - token->data;

    dec.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(seg.len));
    if (dec.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(&dec, seg.data, seg.len) != NGX_OK) {
        rj->description = "the token header is not valid base64url";
        return NGX_DECLINED;
    }

    rc = ngx_api_led_json_parse(dec.data, dec.len, NGX_API_LED_JSON_UNIQUE,
                                &header, err, sizeof(err));

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        rj->description = (rc == NGX_API_LED_JSON_DUPLICATE)
                          ? "the token header has a duplicate member"
                          : "the token header is not JSON";
        return NGX_DECLINED;
    }

    if (!json_is_object(header)) {
        json_decref(header);
        rj->description = "the token header is not a JSON object";
        return NGX_DECLINED;
    }

    /*
     * RFC 7515 4.1.11: an extension listed in "crit" that is not
     * understood makes the token invalid; this verifier understands none.
     * "b64" (RFC 7797) changes what is signed: refused as well.
     */

    if (json_object_get(header, "crit")) {
        json_decref(header);
        rj->description = "the token header has critical extensions";
        return NGX_DECLINED;
    }

    if (json_object_get(header, "b64")) {
        json_decref(header);
        rj->description = "unencoded payloads (b64) are not accepted";
        return NGX_DECLINED;
    }

    v = json_object_get(header, "alg");
    if (!ngx_api_led_json_is_text(v)) {
        json_decref(header);
        rj->description = "the token header has no alg";
        return NGX_DECLINED;
    }

    if (ngx_strcasecmp((u_char *) json_string_value(v), (u_char *) "none")
        == 0)
    {
        json_decref(header);
        rj->description = "unsigned tokens (alg none) are never accepted";
        rj->reason = "alg_not_allowed";
        return NGX_DECLINED;
    }

    alg = ngx_api_led_jwt_alg_find((u_char *) json_string_value(v),
                                   json_string_length(v));
    if (alg == NGX_ERROR) {
        json_decref(header);
        rj->description = "the token alg is not supported";
        rj->reason = "alg_not_allowed";
        return NGX_DECLINED;
    }

    if (!(jlcf->algorithms & ((ngx_uint_t) 1 << alg))) {
        json_decref(header);
        rj->description = "the token alg is not allowed here";
        rj->reason = "alg_not_allowed";
        return NGX_DECLINED;
    }

    ngx_str_null(&kid);

    v = json_object_get(header, "kid");
    if (v) {
        if (!ngx_api_led_json_is_text(v) || json_string_length(v) == 0) {
            json_decref(header);
            rj->description = "the token kid is not a string";
            return NGX_DECLINED;
        }

        kid.len = json_string_length(v);
        kid.data = ngx_pnalloc(r->pool, kid.len);
        if (kid.data == NULL) {
            json_decref(header);
            return NGX_ERROR;
        }

        ngx_memcpy(kid.data, json_string_value(v), kid.len);
    }

    json_decref(header);

    /* the signature, over "header.payload" as sent */

    input.data = token->data;
    input.len = dot[1] - token->data;

    seg.data = dot[1] + 1;
    seg.len = token->data + token->len - seg.data;

    sig.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(seg.len) + 1);
    if (sig.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(&sig, seg.data, seg.len) != NGX_OK) {
        rj->description = "the token signature is not valid base64url";
        return NGX_DECLINED;
    }

    candidates = 0;
    generation = 0;

    rc = NGX_DECLINED;
    rj->description = NULL;

    if (jlcf->keys) {
        rc = ngx_api_led_jwt_verify_with(r, jlcf->keys, &kid, alg, &input,
                                         &sig, &candidates, &generation, rj);
    }

    if (rc == NGX_DECLINED && rj->description == NULL && jlcf->remote) {

        rc = ngx_api_led_jwt_verify_with(r,
                                         ngx_api_led_jwt_remote_jwks(
                                             jlcf->remote),
                                         &kid, alg,
                                         &input, &sig, &candidates,
                                         &generation, rj);

        if (rc == NGX_DECLINED && kid.len && rj->description == NULL
            && !jctx->kid_refetched)
        {
            /* an unknown kid: the provider may have rotated its keys */

            jctx->kid_refetched = 1;

            rc = ngx_api_led_jwt_remote_keys(r, jctx, jlcf->remote,
                                             NGX_API_LED_JWT_NEED_KID);
            if (rc != NGX_OK) {
                return rc;
            }

            rc = NGX_DECLINED;
        }
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        if (rj->description == NULL) {
            if (kid.len) {
                rj->description = "the token kid is unknown";
                rj->reason = "unknown_kid";

            } else if (candidates == 0) {
                rj->description = "no key fits the token alg";
                rj->reason = "no_key";

            } else {
                rj->description = "the token signature is invalid";
                rj->reason = "bad_signature";
            }
        }

        /* the kid comes from the unverified header */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: JWT rejected: %s (alg %V, kid \"%V\")",
                      rj->description, &ngx_api_led_jwt_algs[alg].name,
                      ngx_api_led_log_value(r->pool, &kid));

        rj->logged = 1;

        return NGX_DECLINED;
    }

    /* the claims, now that they are known to be genuine */

    seg.data = dot[0] + 1;
    seg.len = dot[1] - seg.data;

    dec.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(seg.len));
    if (dec.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(&dec, seg.data, seg.len) != NGX_OK) {
        rj->description = "the token payload is not valid base64url";
        return NGX_DECLINED;
    }

    *claims = NULL;

    rc = ngx_api_led_json_parse(dec.data, dec.len, NGX_API_LED_JSON_UNIQUE,
                                claims, err, sizeof(err));

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK || !json_is_object(*claims)) {

        if (rc == NGX_API_LED_JSON_DUPLICATE) {
            rj->description = "the token payload has a duplicate member";

        } else {
            rj->description = "the token payload is not a JSON object";
        }

        if (*claims) {
            json_decref(*claims);
            *claims = NULL;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: JWT signature verified (alg %V), but %s",
                      &ngx_api_led_jwt_algs[alg].name, rj->description);

        rj->logged = 1;

        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: JWT verified, alg %V, kid \"%V\"",
                   &ngx_api_led_jwt_algs[alg].name,
                   ngx_api_led_log_value(r->pool, &kid));

    cache = ngx_api_led_jwt_worker_cache();

    if (cache) {
        exp = 0;

        v = json_object_get(*claims, "exp");

        if (json_is_number(v)) {
            e = json_number_value(v);
            exp = (e < 1) ? 1 : (e > 1e15) ? (time_t) 1e15 : (time_t) e;
        }

        if (v == NULL || json_is_number(v)) {
            ngx_api_led_jwt_cache_insert(cache, token, *claims, exp,
                                         generation, alg,
                                         r->connection->log);
        }
    }

    return NGX_OK;
}


/*
 * Verifies with one key set: the key named by kid, or without a kid each
 * key that fits the alg.  NGX_DECLINED with rj->description NULL: no key
 * of this set (look further); with a description: rejected.
 */

static ngx_int_t
ngx_api_led_jwt_verify_with(ngx_http_request_t *r, ngx_api_led_jwks_t *jwks,
    ngx_str_t *kid, ngx_uint_t alg, ngx_str_t *input, ngx_str_t *sig,
    ngx_uint_t *candidates, ngx_uint_t *generation,
    ngx_api_led_jwt_reject_t *rj)
{
    ngx_int_t           rc;
    ngx_uint_t          i;
    ngx_api_led_jwk_t  *key;

    if (jwks == NULL) {
        return NGX_DECLINED;
    }

    key = jwks->keys.elts;

    for (i = 0; i < jwks->keys.nelts; i++) {

        if (kid->len) {
            if (key[i].kid.len != kid->len
                || ngx_memcmp(key[i].kid.data, kid->data, kid->len) != 0)
            {
                continue;
            }

            /* the kid names this key and no other */

            if (!ngx_api_led_jwk_matches(&key[i], alg)) {
                rj->description = "the token alg does not fit its key";
                rj->reason = "no_key";
                return NGX_DECLINED;
            }

            (*candidates)++;

            rc = ngx_api_led_jwk_verify(&key[i], alg, input->data, input->len,
                                        sig->data, sig->len,
                                        r->connection->log);
            if (rc == NGX_OK) {
                *generation = jwks->generation;
                return NGX_OK;
            }

            if (rc == NGX_DECLINED) {
                rj->description = "the token signature is invalid";
                rj->reason = "bad_signature";
            }

            return rc;
        }

        if (!ngx_api_led_jwk_matches(&key[i], alg)) {
            continue;
        }

        (*candidates)++;

        rc = ngx_api_led_jwk_verify(&key[i], alg, input->data, input->len,
                                    sig->data, sig->len, r->connection->log);
        if (rc == NGX_OK) {
            *generation = jwks->generation;
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return NGX_DECLINED;
}

/*
 * A refused token: logged (every refusal leaves a line, at the level of
 * the others), then handed to the dispatcher, which answers with the
 * RFC 6750 challenge.
 */

static ngx_int_t
ngx_api_led_jwt_refuse(ngx_http_request_t *r, ngx_api_led_jwt_reject_t *rj,
    ngx_api_led_auth_refusal_t *rf)
{
    if (!rj->logged) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: JWT rejected: %s", rj->description);
    }

    rf->status = rj->status;
    rf->code = rj->error;
    rf->detail = rj->description;
    rf->reason = rj->reason ? rj->reason : "malformed";
    rf->schemes = NGX_API_LED_AUTH_JWT;
    rf->scope = rj->scope;
    rf->bearer_error = 1;

    return NGX_API_LED_AUTH_REFUSED;
}


/* api_led_jwt_cache_lookups_total{result="hit|miss"} */

static void
ngx_api_led_jwt_count_lookup(ngx_http_request_t *r, ngx_uint_t hit)
{
    ngx_api_led_jwt_main_conf_t  *jmcf;

    static ngx_str_t  results[] = { ngx_string("miss"), ngx_string("hit") };

    jmcf = ngx_http_get_module_main_conf(r, ngx_api_led_jwt_module);

    ngx_api_led_metric_count(jmcf->cache_lookups, &results[hit ? 1 : 0], 1,
                             r->connection->log);
}
