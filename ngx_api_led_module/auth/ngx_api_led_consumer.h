
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the consumers concern (ngx_api_led_consumer*.c): its
 * configuration and what the consumers file loader and the request path
 * share.  Nothing outside the consumer files includes it.
 */


#ifndef _NGX_API_LED_CONSUMER_H_INCLUDED_
#define _NGX_API_LED_CONSUMER_H_INCLUDED_


/*
 * The low-level SHA-256 functions hash on the stack; the EVP interface of
 * OpenSSL 3 allocates a context on every call, and a request must not
 * allocate outside its pool.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "ngx_api_led_auth.h"
#include "ngx_api_led_json.h"
#include "ngx_api_led_observe.h"
#include <openssl/sha.h>
#include <openssl/crypto.h>


#define NGX_API_LED_SOURCE_HEADER     1
#define NGX_API_LED_SOURCE_QUERY      2

#define NGX_API_LED_DIGEST_LEN        SHA256_DIGEST_LENGTH
#define NGX_API_LED_CONSUMER_ID_MAX   256


typedef struct {
    u_char                       digest[NGX_API_LED_DIGEST_LEN];
    ngx_api_led_consumer_t      *consumer;
    ngx_uint_t                   index;       /* key's position, for errors */
} ngx_api_led_key_t;


typedef struct {
    ngx_str_t                    file;        /* "" when not configured */

    ngx_api_led_plan_t          *plans;
    ngx_uint_t                   nplans;

    ngx_api_led_consumer_t      *consumers;
    ngx_uint_t                   nconsumers;
    ngx_api_led_consumer_t     **by_id;       /* sorted by id */

    ngx_api_led_key_t           *keys;        /* sorted by digest */
    ngx_uint_t                   nkeys;

    ngx_array_t                 *default_sources;
} ngx_api_led_consumer_main_conf_t;


typedef struct {
    ngx_uint_t                   type;        /* NGX_API_LED_SOURCE_* */
    ngx_str_t                    name;
} ngx_api_led_key_source_t;


typedef struct {
    ngx_array_t                 *sources;     /* ngx_api_led_key_source_t */
    ngx_array_t                 *query_names; /* ngx_str_t, NULL: none */
    ngx_flag_t                   hide;
} ngx_api_led_consumer_loc_conf_t;


/* ngx_api_led_consumer_file.c */
char *ngx_api_led_consumers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_api_led_consumer_t *ngx_api_led_consumers_lookup(
    ngx_api_led_consumer_main_conf_t *mcf, ngx_str_t *id);


#endif /* _NGX_API_LED_CONSUMER_H_INCLUDED_ */
