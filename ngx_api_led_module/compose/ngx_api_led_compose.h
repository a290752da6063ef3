
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the orchestration concern (ngx_api_led_compose*.c): the
 * configuration of a composition, its request state and the functions the
 * files share.  Nothing outside the compose files includes it.
 */


#ifndef _NGX_API_LED_COMPOSE_H_INCLUDED_
#define _NGX_API_LED_COMPOSE_H_INCLUDED_


#include "ngx_api_led_json.h"
#include "ngx_api_led_observe.h"


/*
 * The concern's files call one way: the request path
 * (ngx_api_led_compose_run.c) is an nginx module of its own that installs
 * the content handler in the locations the directive recorded and its body
 * filter; it reads the configuration and the request ctx of
 * ngx_api_led_compose_module (ngx_api_led_compose.c: the directives),
 * which never calls it.  Both use ngx_api_led_compose_merge.c.
 */
extern ngx_module_t  ngx_api_led_compose_module;


/* parts of one composition: a bit each in a uint32_t */
#define NGX_API_LED_COMPOSE_MAX_PARTS  32
/* api_led_compose_max_part_size default */
#define NGX_API_LED_COMPOSE_MAX_PART_SIZE  (1024 * 1024)

#define NGX_API_LED_SEG_TEXT           0
#define NGX_API_LED_SEG_VAR            1
#define NGX_API_LED_SEG_CAPTURE        2
#define NGX_API_LED_SEG_PLACEHOLDER    3

#define NGX_API_LED_MERGE_NAMESPACED   0
#define NGX_API_LED_MERGE_DEEP         1

#define NGX_API_LED_CONFLICT_ERROR     0
#define NGX_API_LED_CONFLICT_FIRST     1
#define NGX_API_LED_CONFLICT_LAST      2

#define NGX_API_LED_PART_PENDING       0
#define NGX_API_LED_PART_RUNNING       1
#define NGX_API_LED_PART_OK            2
#define NGX_API_LED_PART_FAILED        3
#define NGX_API_LED_PART_TIMEDOUT      4
#define NGX_API_LED_PART_SKIPPED       5

typedef struct {
    ngx_uint_t                        type;
    ngx_str_t                         text;      /* TEXT; PLACEHOLDER: as
                                                    written, for messages */
    ngx_str_t                         part_name; /* PLACEHOLDER */
    ngx_uint_t                        index;     /* VAR: variable index,
                                                    CAPTURE: $N,
                                                    PLACEHOLDER: part */
    ngx_api_led_json_path_t           path;      /* PLACEHOLDER */
    unsigned                          in_args:1; /* URI: after the "?" */
} ngx_api_led_compose_seg_t;


typedef struct {
    ngx_str_t                         name;
    ngx_uint_t                        method;
    ngx_str_t                         method_name;
    ngx_array_t                       uri;       /* compose_seg_t */
    ngx_str_t                         uri_text;  /* as written */
    ngx_array_t                      *body;      /* compose_seg_t or NULL */
    ngx_msec_t                        timeout;   /* 0: none */
    ngx_array_t                      *after_names;
    uint32_t                          after;     /* parts to wait for */
    uint32_t                          uses;      /* parts whose JSON the
                                                    part's templates use */
    ngx_uint_t                        line;
    unsigned                          optional:1;
} ngx_api_led_compose_part_conf_t;


/* a location with api_led_compose, for the content handler */
typedef struct {
    ngx_http_core_loc_conf_t         *clcf;
    u_char                           *file;
    ngx_uint_t                        line;
} ngx_api_led_compose_location_t;


typedef struct {
    ngx_array_t                       locations; /* compose_location_t */
} ngx_api_led_compose_main_conf_t;


typedef struct {
    ngx_array_t                      *parts;     /* compose_part_conf_t */
    ngx_uint_t                        merge;
    ngx_uint_t                        conflict;
    ngx_uint_t                        status;
    size_t                            max_part_size;
    uint32_t                          parsed;    /* parts whose JSON the
                                                    templates read */
} ngx_api_led_compose_loc_conf_t;


typedef struct ngx_api_led_compose_s  ngx_api_led_compose_t;

typedef struct {
    ngx_api_led_compose_part_conf_t  *conf;
    ngx_api_led_compose_t            *compose;
    ngx_http_request_t               *sr;
    ngx_uint_t                        state;
    ngx_uint_t                        status;    /* HTTP status, 0: none */
    ngx_str_t                         reason;    /* why it failed */
    u_char                           *body;
    size_t                            len;
    size_t                            size;
    json_t                           *json;
    ngx_event_t                       timer;
    unsigned                          overflow:1;
    unsigned                          unreadable:1;
    unsigned                          cancelled:1;
} ngx_api_led_compose_part_t;


/* the request ctx of a composition (the request running the handler) */
struct ngx_api_led_compose_s {
    ngx_http_request_t               *request;
    ngx_api_led_compose_loc_conf_t   *conf;
    ngx_api_led_compose_part_t       *parts;
    ngx_uint_t                        nparts;
    ngx_uint_t                        running;
    uint32_t                          done;      /* parts in a final state */
    uint32_t                          ok;        /* parts that succeeded */
    ngx_api_led_json_arena_t         *arena;     /* NULL: no document */
    ngx_str_t                        *conflict_part;
    ngx_str_t                         conflict_at;
    unsigned                          doomed:1;  /* a required part failed */
    unsigned                          finished:1;
    unsigned                          copy_headers:1;
};


/* ngx_api_led_compose_merge.c: the answer */
ngx_int_t ngx_api_led_compose_namespaced(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);
ngx_int_t ngx_api_led_compose_deep(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);


#endif /* _NGX_API_LED_COMPOSE_H_INCLUDED_ */
