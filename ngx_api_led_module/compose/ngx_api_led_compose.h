
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
#include "ngx_api_led_publish.h"


/*
 * The concern's files call one way: the request path
 * (ngx_api_led_compose_run.c) is an nginx module of its own that gives
 * the directives its content handler (at preconfiguration, through the
 * main configuration) and installs the body filter of the calls
 * (ngx_api_led_compose_call.c); it reads the configuration and the
 * request ctx of ngx_api_led_compose_module (ngx_api_led_compose.c: the
 * directives), which never calls it.
 */
extern ngx_module_t  ngx_api_led_compose_module;


#define NGX_API_LED_COMPOSE_MAX_PARTS  32
/* api_led_compose_max_part_size default */
#define NGX_API_LED_COMPOSE_MAX_PART_SIZE  (1024 * 1024)

/* the documents a placeholder reads besides the parts' ones */
#define NGX_API_LED_COMPOSE_REQUEST    32      /* {request...} */
#define NGX_API_LED_COMPOSE_ITEM       33      /* {item...} */

/* foreach=: elements at most, parallel calls by default */
#define NGX_API_LED_COMPOSE_MAX_ITEMS  100
#define NGX_API_LED_COMPOSE_ITEMS_CAP  1000
#define NGX_API_LED_COMPOSE_CONCURRENCY  4

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

/* body=: a JSON template, or the client's body as it is (@request) */
#define NGX_API_LED_BODY_NONE          0
#define NGX_API_LED_BODY_TEMPLATE      1
#define NGX_API_LED_BODY_REQUEST       2

/* a template's segment (json/ngx_api_led_json_tmpl.c) */
typedef ngx_api_led_tmpl_seg_t  ngx_api_led_compose_seg_t;


typedef struct {
    ngx_str_t                         name;
    ngx_uint_t                        method;
    ngx_str_t                         method_name;
    ngx_array_t                       uri;       /* compose_seg_t */
    ngx_str_t                         uri_text;  /* as written */
    ngx_array_t                      *body;      /* compose_seg_t or NULL */
    ngx_uint_t                        body_type; /* NGX_API_LED_BODY_* */
    ngx_msec_t                        timeout;   /* 0: none */
    ngx_array_t                      *after_names;
    uint32_t                          after;     /* parts to wait for */
    uint32_t                          uses;      /* parts whose JSON the
                                                    part's templates use */
    ngx_uint_t                        line;

    /* event=TYPE: the part publishes this event instead of a call */
    ngx_api_led_event_def_t          *event;

    /* foreach=PART/POINTER: a call per element of that array */
    ngx_str_t                         foreach_text;
    ngx_uint_t                        foreach_part;
    ngx_api_led_json_path_t           foreach_path;
    ngx_uint_t                        concurrency;
    ngx_uint_t                        max_items;

    unsigned                          optional:1;
    unsigned                          pass_status:1; /* status=pass */
    unsigned                          foreach:1;
    unsigned                          uses_item:1;
} ngx_api_led_compose_part_conf_t;


/* one api_led_compose block: the parts answering a set of methods */
typedef struct {
    ngx_uint_t                        methods;   /* NGX_HTTP_GET|... */
    ngx_array_t                      *parts;     /* compose_part_conf_t */
    uint32_t                          parsed;    /* parts whose JSON the
                                                    templates read */
    ngx_array_t                      *vars;      /* ngx_uint_t: the nginx
                                                    variables of the
                                                    templates, NULL: none */
    ngx_str_t                         file;      /* where the block is */
    ngx_uint_t                        line;
    unsigned                          request_json:1; /* {request...} */
    unsigned                          request_body:1; /* the client's body
                                                    is used */
} ngx_api_led_compose_conf_t;


typedef struct {
    ngx_array_t                      *compositions; /* compose_conf_t */
    ngx_uint_t                        methods;   /* of all compositions */
    ngx_str_t                         allow;     /* "GET, HEAD, PATCH" */
    ngx_uint_t                        merge;
    ngx_uint_t                        conflict;
    ngx_uint_t                        status;
    size_t                            max_part_size;
} ngx_api_led_compose_loc_conf_t;


/* a composition and where it is, for the layer check at nginx -t */
typedef struct {
    ngx_api_led_compose_conf_t       *comp;
    ngx_api_led_loc_conf_t           *api;       /* the location's API */
    ngx_http_core_srv_conf_t         *server;
} ngx_api_led_compose_site_t;


typedef struct {
    ngx_array_t                       sites;     /* compose_site_t */

    /* the request path's content handler, which its module sets at
       preconfiguration, before the directives that name it are read */
    ngx_http_handler_pt               handler;

    /* metrics (the request path's module adds them), NULL: none */
    ngx_api_led_metric_t             *parts;
    ngx_api_led_metric_t             *part_duration;
} ngx_api_led_compose_main_conf_t;


typedef struct ngx_api_led_compose_s       ngx_api_led_compose_t;
typedef struct ngx_api_led_compose_part_s  ngx_api_led_compose_part_t;


typedef struct ngx_api_led_compose_call_s  ngx_api_led_compose_call_t;


/* one subrequest: a part, or one element of a foreach part */
struct ngx_api_led_compose_call_s {
    ngx_api_led_compose_part_t       *part;
    ngx_http_request_t               *sr;
    ngx_uint_t                        state;
    ngx_uint_t                        status;    /* HTTP status, 0: none */
    ngx_str_t                         reason;    /* why it failed */
    u_char                           *body;
    size_t                            len;
    size_t                            size;
    json_t                           *item;      /* foreach: the element */
    u_char                           *rendered;  /* its body, a large
                                                    block of the pool to
                                                    give back; NULL: none */
    ngx_api_led_compose_call_t       *next_released;
    ngx_event_t                       timer;
    unsigned                          overflow:1;
    unsigned                          unreadable:1;
    unsigned                          incomplete:1;  /* its upstream
                                                        ended early */
    unsigned                          released:1;    /* "rendered" is on
                                                        the list to free */
};


struct ngx_api_led_compose_part_s {
    ngx_api_led_compose_part_conf_t  *conf;
    ngx_api_led_compose_t            *compose;
    ngx_uint_t                        state;
    ngx_uint_t                        status;    /* HTTP status, 0: none */
    ngx_str_t                         reason;    /* why it failed */
    u_char                           *body;      /* the part's answer */
    size_t                            len;
    json_t                           *json;
    ngx_api_led_compose_call_t        call;      /* a part's one call */
    ngx_api_led_compose_call_t       *calls;     /* foreach: per element */
    ngx_uint_t                        ncalls;
    ngx_uint_t                        next;      /* foreach: next to start */
    ngx_uint_t                        running;   /* foreach: calls running */
    ngx_uint_t                        finished;  /* foreach: calls done */
    ngx_msec_t                        start;     /* when it started */
    ngx_msec_t                        duration;  /* until its end */
    unsigned                          started:1;
    unsigned                          cancelled:1;
    unsigned                          partial:1; /* foreach: an optional
                                                    part's element failed */
};


/* the request ctx of a composition (the request running the handler) */
struct ngx_api_led_compose_s {
    ngx_http_request_t               *request;
    ngx_api_led_compose_loc_conf_t   *conf;
    ngx_api_led_compose_conf_t       *comp;      /* the composition run */
    ngx_api_led_compose_part_t       *parts;
    ngx_uint_t                        nparts;
    ngx_uint_t                        running;   /* calls running */
    uint32_t                          done;      /* parts in a final state */
    uint32_t                          ok;        /* parts that succeeded */
    ngx_api_led_json_arena_t         *arena;     /* NULL: no document */
    json_t                           *request_json; /* {request...} */
    ngx_http_variable_value_t        *values;    /* of comp->vars, taken
                                                    when the parts start */
    ngx_api_led_compose_call_t       *released;  /* calls whose rendered
                                                    body nothing reads */
    ngx_str_t                        *conflict_part;
    ngx_str_t                         conflict_at;
    unsigned                          doomed:1;  /* a required part failed */
    unsigned                          finished:1;
    unsigned                          copy_headers:1;
};


/*
 * ngx_api_led_compose_run.c: the request path, an nginx module of its own
 * (ngx_api_led_compose_run_module) above the others
 */

/* ngx_api_led_compose_call.c: a call's request, and its answer kept */
void ngx_api_led_compose_filter_init(void);
/* NGX_OK: calls share the request's headers; NGX_DECLINED: their own */
ngx_int_t ngx_api_led_compose_shared_headers(ngx_http_request_t *r);
ngx_int_t ngx_api_led_compose_part_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_str_t *type, off_t length);
ngx_int_t ngx_api_led_compose_request_body(ngx_http_request_t *r,
    ngx_http_request_t *sr);


/* ngx_api_led_compose_check.c: the layer contract of literal parts */
ngx_int_t ngx_api_led_compose_check_layers(ngx_conf_t *cf);

/* ngx_api_led_compose_merge.c: the answer */
void ngx_api_led_compose_finish(ngx_api_led_compose_t *cmp);
ngx_int_t ngx_api_led_compose_namespaced(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);
ngx_int_t ngx_api_led_compose_deep(ngx_api_led_compose_t *cmp,
    ngx_buf_t **bp);


#endif /* _NGX_API_LED_COMPOSE_H_INCLUDED_ */
