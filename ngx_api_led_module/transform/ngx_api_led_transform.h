
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the transformation concern (ngx_api_led_transform*.c): its
 * configuration, its request state and the functions the files share.
 * Nothing outside the transform files includes it.
 */


#ifndef _NGX_API_LED_TRANSFORM_H_INCLUDED_
#define _NGX_API_LED_TRANSFORM_H_INCLUDED_


#include "ngx_api_led_json.h"


/*
 * The concern's files call one way: the request side
 * (ngx_api_led_transform_request.c) and the response side
 * (ngx_api_led_transform_response.c) are nginx modules of their own that
 * register their handler and filters when some location uses them; they
 * read the configuration and the request ctx of ngx_api_led_transform_module
 * (ngx_api_led_transform.c: the directives), which never calls them.
 */
extern ngx_module_t  ngx_api_led_transform_module;


#define NGX_API_LED_T_HEADER        1
#define NGX_API_LED_T_ARG           2
#define NGX_API_LED_T_JSON          3

#define NGX_API_LED_CONVERT_OFF     0
#define NGX_API_LED_CONVERT_FORM    1      /* form_to_json */
#define NGX_API_LED_CONVERT_JSON    2      /* json_to_form */

#define NGX_API_LED_T_ERRLEN        192

/* api_led_request_json_max_size, api_led_response_json_max_size defaults */
#define NGX_API_LED_TRANSFORM_MAX_SIZE  (1024 * 1024)

/* api_led_response_json_on_error */
#define NGX_API_LED_ON_ERROR_PASS       1
#define NGX_API_LED_ON_ERROR_CLOSED     2


typedef struct {
    ngx_uint_t                   kind;        /* NGX_API_LED_T_HEADER... */
    ngx_uint_t                   op;          /* NGX_API_LED_EDIT_SET... */
    ngx_api_led_edit_name_t      name;        /* header or argument */
    ngx_api_led_edit_name_t      to;          /* rename */
    ngx_http_complex_value_t    *value;       /* set, add */
    ngx_api_led_json_op_t       *json;
} ngx_api_led_transform_op_t;


typedef struct {
    unsigned                     request:1;   /* some location transforms
                                                 requests (or asks for an
                                                 identity response) */
    unsigned                     response:1;  /* ... responses */
} ngx_api_led_transform_main_conf_t;


typedef struct {
    ngx_array_t                 *request_ops;          /* transform_op_t */
    ngx_array_t                 *response_header_ops;  /* transform_op_t */
    ngx_array_t                 *response_json_ops;    /* json_op_t */
    ngx_uint_t                   body_convert;
    size_t                       request_max_size;
    size_t                       response_max_size;
    ngx_uint_t                   response_on_error;    /* _ON_ERROR_*,
                                                          0: by the ops */
    ngx_flag_t                   response_closed;      /* computed */
    ngx_flag_t                   response_varies;      /* computed: a value
                                                          has variables */
    ngx_flag_t                   request_body;         /* computed */
    ngx_flag_t                   request_light;        /* computed */
    ngx_flag_t                   response_light;       /* computed */
    ngx_api_led_json_stream_t   *request_stream;       /* computed: the
                                                          JSON operations
                                                          streamed, or
                                                          NULL */
    ngx_api_led_json_stream_t   *response_stream;      /* computed */
} ngx_api_led_transform_loc_conf_t;


typedef struct {
    ngx_int_t                    rc;          /* the request body's */
    ngx_api_led_json_arena_t    *arena;       /* jansson memory */
    size_t                       body_len;    /* the request body read */
    ngx_str_t                    streamed;    /* the request body done by
                                                 the stream */

    /* response body, buffered */
    u_char                      *buf;
    size_t                       size;
    size_t                       cap;

    /* request side */
    unsigned                     started:1;
    unsigned                     done:1;
    unsigned                     reading:1;

    /* response side */
    unsigned                     response:1;
    unsigned                     header_delayed:1;
    unsigned                     passthrough:1;
    unsigned                     failed:1;    /* the body is dropped, a
                                                 502 problem goes out */
    unsigned                     untyped:1;   /* not JSON, length not
                                                 announced: fails at its
                                                 first byte */
    unsigned                     response_done:1;
} ngx_api_led_transform_ctx_t;


/* ngx_api_led_transform.c */
ngx_api_led_transform_ctx_t *ngx_api_led_transform_get_ctx(
    ngx_http_request_t *r);
ngx_api_led_json_arena_t *ngx_api_led_transform_arena(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx);


#endif /* _NGX_API_LED_TRANSFORM_H_INCLUDED_ */
