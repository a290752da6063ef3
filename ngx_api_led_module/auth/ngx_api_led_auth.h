
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * What the authentication files (auth/) share.  The dispatcher
 * (ngx_api_led_auth.c) calls the API-key check and the JWT verifier; the
 * JWT verifier looks its subjects up in the consumers store; nothing calls
 * back into the dispatcher.
 */


#ifndef _NGX_API_LED_AUTH_H_INCLUDED_
#define _NGX_API_LED_AUTH_H_INCLUDED_


#include "ngx_api_led.h"


extern ngx_module_t  ngx_api_led_auth_module;
extern ngx_module_t  ngx_api_led_consumer_module;
extern ngx_module_t  ngx_api_led_jwt_module;


/* the credentials api_led_auth accepts, and the challenges it sends */
#define NGX_API_LED_AUTH_KEY          0x01
#define NGX_API_LED_AUTH_JWT          0x02

/* a check refused the credential: see the refusal */
#define NGX_API_LED_AUTH_REFUSED      NGX_ABORT


/* why a credential was refused, for the dispatcher to answer */
typedef struct {
    ngx_uint_t                   status;      /* 401, 403, 503 */
    const char                  *code;        /* problem code; for a token
                                                 the RFC 6750 error too */
    const char                  *detail;      /* problem detail; for a token
                                                 the error_description */
    const char                  *reason;      /* for the metrics: why, in a
                                                 word (NULL: the code) */
    ngx_uint_t                   schemes;     /* the challenges to send:
                                                 NGX_API_LED_AUTH_*, 0 */
    ngx_str_t                    scope;       /* RFC 6750 scope, or "" */
    unsigned                     bearer_error:1;  /* error= in Bearer */
} ngx_api_led_auth_refusal_t;


/*
 * The checks: NGX_OK when the credential identified the request (ctx
 * filled), NGX_DECLINED when the request carries no such credential,
 * NGX_AGAIN while waiting (the request resumes later), NGX_API_LED_AUTH_
 * REFUSED with the refusal filled (and logged), NGX_ERROR.
 */

/* ngx_api_led_consumer.c: API keys */
ngx_int_t ngx_api_led_key_authenticate(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_api_led_auth_refusal_t *rf);

/* ngx_api_led_jwt_verify.c: bearer tokens */
ngx_int_t ngx_api_led_jwt_authenticate(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_api_led_auth_refusal_t *rf);
/*
 * every bearer token of the location's sources, every copy, leaves the
 * request
 */
ngx_int_t ngx_api_led_jwt_hide(ngx_http_request_t *r);
ngx_int_t ngx_api_led_key_hide(ngx_http_request_t *r);
/*
 * The variables that hiding empties in the location being merged, named
 * to the core (ngx_api_led_hide_variable()): its key sources, its token
 * sources.  NGX_OK, NGX_ERROR.
 */
ngx_int_t ngx_api_led_key_hidden_variables(ngx_conf_t *cf);
ngx_int_t ngx_api_led_jwt_hidden_variables(ngx_conf_t *cf);
/*
 * A request refused before its authentication (the layer contract) has
 * the credentials of the location's api_led_auth hidden as authentication
 * would have hidden them, so that no log line records a key or token of
 * its request line (the core's hide_credentials).  NGX_OK, NGX_ERROR.
 */
ngx_int_t ngx_api_led_auth_hide(ngx_http_request_t *r);


/* ngx_api_led_consumer.c: the consumers store */

/* the consumer of that id, NULL if none */
ngx_api_led_consumer_t *ngx_api_led_consumer_find(ngx_http_request_t *r,
    ngx_str_t *id);

/* at configuration time: the same, and the consumers file ("" if none) */
ngx_api_led_consumer_t *ngx_api_led_consumer_find_conf(ngx_conf_t *cf,
    ngx_str_t *id);
ngx_str_t *ngx_api_led_consumers_file(ngx_conf_t *cf);

/*
 * The catalog (observe/), at configuration time: where the location being
 * merged looks for an API key, added to its "auth" object; the plans of
 * the consumers file.  Never a key.
 */
ngx_int_t ngx_api_led_key_describe(ngx_conf_t *cf, json_t *auth);
ngx_int_t ngx_api_led_consumer_describe_plans(ngx_conf_t *cf);


#endif /* _NGX_API_LED_AUTH_H_INCLUDED_ */
