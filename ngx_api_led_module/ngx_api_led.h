
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Shared types and prototypes of ngx_api_led_module.  Every file of the
 * module includes this header and nothing else of the others: shared state
 * goes through here.
 *
 * The shared object holds several nginx modules, one per concern, each with
 * its own directives and configuration:
 *
 *   ngx_api_led_module            APIs, layers, correlation id, access phase
 *                                 pipeline, identity variables
 *   ngx_api_led_consumer_module   consumers file, plans, API keys, api_led_auth
 *   ngx_api_led_jwt_module        JWT verification
 *   ngx_api_led_limit_module      rate limits (Redis and shared memory)
 *   ngx_api_led_transform_module  request/response transformation (filter)
 *   ngx_api_led_compose_module    orchestration (content handler)
 */


#ifndef _NGX_API_LED_H_INCLUDED_
#define _NGX_API_LED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>


#define NGX_API_LED_LAYER_NONE        0
#define NGX_API_LED_LAYER_EXPERIENCE  1
#define NGX_API_LED_LAYER_PROCESS     2
#define NGX_API_LED_LAYER_SYSTEM      3

#define NGX_API_LED_CORRELATION_MAX   128


/* "100r/s": count requests per period */
typedef struct {
    ngx_uint_t                   count;
    ngx_msec_t                   period;
    ngx_str_t                    text;
} ngx_api_led_rate_t;


typedef struct {
    ngx_str_t                    name;
    ngx_array_t                  limits;      /* ngx_api_led_rate_t */
} ngx_api_led_plan_t;


typedef struct {
    ngx_str_t                    id;
    ngx_api_led_plan_t          *plan;        /* NULL: no plan */
    ngx_array_t                  metadata;    /* ngx_keyval_t, string values */
} ngx_api_led_consumer_t;


typedef struct {
    ngx_str_t                    api;         /* api_led_api NAME, "" if none */
    ngx_uint_t                   layer;       /* NGX_API_LED_LAYER_* */
    ngx_str_t                    version;
} ngx_api_led_loc_conf_t;


/*
 * Per-request state shared by the concerns.  It lives on the main request,
 * so subrequests (orchestration parts) see the same correlation id and
 * consumer, and it survives internal redirects (see ngx_api_led_get_ctx()).
 * State private to one concern goes in that module's own request ctx.
 */
typedef struct {
    ngx_str_t                    correlation_id;

    /* identity, set by the authentication step */
    ngx_api_led_consumer_t      *consumer;    /* from the consumers file */
    ngx_str_t                    consumer_id; /* consumer->id or JWT subject */
    ngx_str_t                    auth_method; /* "key", "jwt", "anonymous" */
    json_t                      *claims;      /* verified JWT claims (owned;
                                                 read-only: the JWT cache
                                                 shares them) */

    /* access phase pipeline: each step runs once, even when re-entered */
    unsigned                     auth_done:1;
    unsigned                     limit_done:1;
    unsigned                     correlation_forwarded:1;
} ngx_api_led_ctx_t;


extern ngx_module_t  ngx_api_led_module;
extern ngx_module_t  ngx_api_led_consumer_module;
extern ngx_module_t  ngx_api_led_jwt_module;
extern ngx_module_t  ngx_api_led_limit_module;
extern ngx_module_t  ngx_api_led_transform_module;
extern ngx_module_t  ngx_api_led_compose_module;


/* ngx_api_led_module.c */

ngx_api_led_ctx_t *ngx_api_led_get_ctx(ngx_http_request_t *r);
ngx_int_t ngx_api_led_add_variable_table(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
ngx_int_t ngx_api_led_set_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);
ngx_int_t ngx_api_led_header_value_is_safe(ngx_str_t *value);


/*
 * ngx_api_led_problem.c
 *
 * Sends an RFC 9457 application/problem+json response.  "code" is the
 * short error code (the type is "urn:api-led:error:CODE"); the title comes
 * from a table of known codes, else from the status line.  "detail" is a
 * printf-style format (ngx_vslprintf); it never carries a secret.  Headers
 * the answer needs (WWW-Authenticate, Retry-After) are set by the caller
 * before the call.  Returns what the output filter returned, NGX_ERROR on
 * failure.
 */
ngx_int_t ngx_api_led_problem_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *detail, ...);

/*
 * The same for a phase handler (access, precontent): sends, finalizes the
 * request and returns NGX_DONE, which the handler returns as it is.
 */
ngx_int_t ngx_api_led_problem_finalize(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *detail, ...);

/*
 * Sends the buffer "b" as the whole response with "status" and the
 * Content-Type "type"; Content-Length is its size, and what described
 * another representation (Accept-Ranges, Last-Modified, ETag) goes.
 */
ngx_int_t ngx_api_led_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);


/*
 * The access phase pipeline: ngx_api_led_module's access handler calls
 * these in order.  Each returns NGX_DECLINED to go on, NGX_AGAIN while it
 * waits (the request is resumed by ngx_api_led_resume()), NGX_DONE after
 * it answered the request itself, or NGX_ERROR / an HTTP status.
 */

/* ngx_api_led_consumer.c: api_led_auth, API keys, dispatches to JWT */
ngx_int_t ngx_api_led_auth_access(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
ngx_api_led_consumer_t *ngx_api_led_consumer_find(ngx_http_request_t *r,
    ngx_str_t *id);

/*
 * ngx_api_led_jwt.c: NGX_OK when a token was verified (ctx filled),
 * NGX_DECLINED when the request carries no token, NGX_AGAIN while keys are
 * fetched, NGX_DONE after answering 401/403 itself, NGX_ERROR.
 */
ngx_int_t ngx_api_led_jwt_authenticate(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
ngx_int_t ngx_api_led_jwt_challenge(ngx_http_request_t *r);

/* ngx_api_led_limit.c */
ngx_int_t ngx_api_led_limit_access(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
ngx_int_t ngx_api_led_parse_rate(ngx_str_t *text, ngx_api_led_rate_t *rate);

/*
 * ngx_api_led_redis.c: the Redis client of ngx_api_led_limit_module (one
 * pipelined nginx connection per worker, hiredis as the RESP codec only).
 * The handler gets the reply (never an error reply), or NULL when Redis
 * failed, exactly once.  The reply is freed when the handler returns.
 */
struct redisReply;

typedef struct ngx_api_led_redis_s          ngx_api_led_redis_t;
typedef struct ngx_api_led_redis_script_s   ngx_api_led_redis_script_t;
typedef struct ngx_api_led_redis_waiter_s   ngx_api_led_redis_waiter_t;

typedef void (*ngx_api_led_redis_handler_pt)(void *data,
    struct redisReply *reply);

char *ngx_api_led_redis_parse(ngx_conf_t *cf, ngx_api_led_redis_t **rdp);
ngx_api_led_redis_script_t *ngx_api_led_redis_add_script(ngx_conf_t *cf,
    ngx_api_led_redis_t *rd, ngx_str_t *text);
ngx_int_t ngx_api_led_redis_init_process(ngx_cycle_t *cycle,
    ngx_api_led_redis_t *rd);
void ngx_api_led_redis_exit_process(ngx_api_led_redis_t *rd);
ngx_int_t ngx_api_led_redis_usable(ngx_api_led_redis_t *rd);
ngx_int_t ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_uint_t nargs, ngx_str_t *args,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
ngx_msec_t ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd);
ngx_msec_t ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd);
ngx_uint_t ngx_api_led_redis_outage(ngx_api_led_redis_t *rd);

/* resume a request suspended in the access phase by a foreign event */
void ngx_api_led_resume(ngx_http_request_t *r);


/*
 * ngx_api_led_edit.c: editing request headers and arguments and response
 * headers (set, add, remove, rename).  Header values must have passed
 * ngx_api_led_header_value_is_safe(); an empty "set" value removes; names
 * match case-insensitively.  Request header elements never move: a
 * removal splits the list around them, keeping the ngx_list_t rules, and
 * points nginx's known headers (r->headers_in.host...) at what is left; a
 * subrequest's request headers are copied before its first change.
 */

typedef struct {
    ngx_list_part_t             *part;        /* NULL: from the start */
    ngx_uint_t                   i;
} ngx_api_led_header_iter_t;

/* headers of that name in a list, removed elements (hash 0) skipped */
ngx_table_elt_t *ngx_api_led_header_next(ngx_list_t *list, ngx_str_t *name,
    ngx_api_led_header_iter_t *it);
ngx_table_elt_t *ngx_api_led_header_find(ngx_list_t *list, ngx_str_t *name);

#define NGX_API_LED_EDIT_SET          1
#define NGX_API_LED_EDIT_ADD          2
#define NGX_API_LED_EDIT_REMOVE       3
#define NGX_API_LED_EDIT_RENAME       4

typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    lowcase;     /* NUL-terminated */
    ngx_uint_t                   hash;        /* of lowcase */
} ngx_api_led_edit_name_t;

/* a header name (an HTTP token) or, with header == 0, an argument name */
char *ngx_api_led_edit_name(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t header, ngx_api_led_edit_name_t *hn);
/* "add" appends; "set" replaces the first, removes the others */
ngx_int_t ngx_api_led_edit_headers_in_set(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *hn, ngx_str_t *value, ngx_uint_t add);
ngx_int_t ngx_api_led_edit_headers_in_remove(ngx_http_request_t *r,
    ngx_str_t *name);
ngx_int_t ngx_api_led_edit_headers_in_rename(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *from, ngx_api_led_edit_name_t *to);
ngx_int_t ngx_api_led_edit_headers_out(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value);
/* set (value percent-encoded), remove, rename; names case-insensitive */
ngx_int_t ngx_api_led_edit_args(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value);
/*
 * removes the arguments of these names (ngx_str_t) from $args, and also
 * from $request_uri and $request
 */
ngx_int_t ngx_api_led_args_remove(ngx_http_request_t *r, ngx_array_t *names);


/*
 * ngx_api_led_json*.c: jansson helpers for the concerns that reshape JSON.
 *
 * Paths are JSON Pointers (RFC 6901): "" is the whole document, "/a/0/b"
 * a member of an element of a member; "-" is the end of an array (append);
 * "*" (an extension) is every element of an array, a plain member name in
 * an object.  Documents nest at most NGX_API_LED_JSON_MAX_DEPTH levels.
 */

#define NGX_API_LED_JSON_MAX_DEPTH    64

/* typed values: "TEXT", "string:TEXT", "number:..", "bool:..", "json:.." */
#define NGX_API_LED_JSON_STRING       0
#define NGX_API_LED_JSON_NUMBER       1
#define NGX_API_LED_JSON_BOOLEAN      2
#define NGX_API_LED_JSON_RAW          3

#define NGX_API_LED_JSON_OP_SET       1
#define NGX_API_LED_JSON_OP_REMOVE    2
#define NGX_API_LED_JSON_OP_RENAME    3
#define NGX_API_LED_JSON_OP_KEEP      4
#define NGX_API_LED_JSON_OP_WRAP      5

typedef struct {
    ngx_str_t                    name;        /* unescaped, NUL-terminated */
    ngx_int_t                    index;       /* array index, -1 if none */
    unsigned                     append:1;    /* "-" */
    unsigned                     any:1;       /* "*" */
} ngx_api_led_json_token_t;

typedef struct {
    ngx_str_t                    text;        /* as written */
    ngx_api_led_json_token_t    *tokens;
    ngx_uint_t                   ntokens;
    unsigned                     wildcard:1;
} ngx_api_led_json_path_t;

typedef struct {
    ngx_uint_t                   type;        /* NGX_API_LED_JSON_STRING.. */
    ngx_http_complex_value_t    *cv;          /* NULL: a constant */
    json_t                      *json;        /* the constant */
} ngx_api_led_json_value_t;

typedef struct ngx_api_led_json_keep_s  ngx_api_led_json_keep_t;

typedef struct {
    ngx_uint_t                   op;          /* NGX_API_LED_JSON_OP_* */
    ngx_api_led_json_path_t      path;
    ngx_api_led_json_path_t      to;          /* rename to a pointer */
    ngx_str_t                    name;        /* rename to a member name */
    ngx_api_led_json_value_t     value;       /* set */
    ngx_api_led_json_keep_t     *keep;        /* keep */
} ngx_api_led_json_op_t;

/* NULL, or why the pointer is invalid */
char *ngx_api_led_json_path_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_api_led_json_path_t *path);
/* the first value the path leads to, borrowed; NULL if none */
json_t *ngx_api_led_json_get(json_t *root, ngx_api_led_json_path_t *path);
/*
 * The editing functions return NGX_OK, NGX_DECLINED when the path does not
 * fit the document (nothing changed), NGX_ERROR when out of memory.
 * ngx_api_led_json_set() consumes "value" (a new reference).
 */
ngx_int_t ngx_api_led_json_set(json_t **root, ngx_api_led_json_path_t *path,
    json_t *value);
ngx_int_t ngx_api_led_json_remove(json_t *root,
    ngx_api_led_json_path_t *path);
ngx_int_t ngx_api_led_json_rename(json_t *root,
    ngx_api_led_json_path_t *path, ngx_str_t *name);
ngx_int_t ngx_api_led_json_move(json_t **root, ngx_api_led_json_path_t *from,
    ngx_api_led_json_path_t *to);
ngx_int_t ngx_api_led_json_wrap(json_t **root,
    ngx_api_led_json_path_t *path);

char *ngx_api_led_json_value_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_api_led_json_value_t *v);
/* a new reference; null when the text does not convert; NULL: no memory */
json_t *ngx_api_led_json_value_get(ngx_http_request_t *r,
    ngx_api_led_json_value_t *v);

/* "set PATH VALUE" etc. from directive arguments, args[0] is the operation */
char *ngx_api_led_json_op_compile(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t nargs, ngx_api_led_json_op_t *op);
ngx_int_t ngx_api_led_json_op_apply(ngx_http_request_t *r,
    ngx_api_led_json_op_t *op, json_t **doc);
ngx_int_t ngx_api_led_json_ops_apply(ngx_http_request_t *r,
    ngx_array_t *ops, json_t **doc);

/*
 * NGX_OK; NGX_DECLINED: invalid JSON; NGX_ABORT: nested too deep;
 * NGX_ERROR: no memory.  The _pool variant takes the parser's scratch
 * memory (as long as the text) from "pool" instead of malloc().
 */
ngx_int_t ngx_api_led_json_parse(u_char *data, size_t len, json_t **doc,
    u_char *err, size_t errlen);
ngx_int_t ngx_api_led_json_parse_pool(ngx_pool_t *pool, u_char *data,
    size_t len, json_t **doc, u_char *err, size_t errlen);

/*
 * A window in which jansson allocates from the pool and frees nothing:
 * prev = enter(arena); ...parse, edit, json_decref()...; leave(prev).
 * Values made inside must not outlive the pool; variables must not be
 * evaluated inside (ngx_api_led_json_op_apply() steps out for them).
 */
typedef struct ngx_api_led_json_arena_s  ngx_api_led_json_arena_t;

ngx_api_led_json_arena_t *ngx_api_led_json_arena_create(ngx_pool_t *pool);
ngx_api_led_json_arena_t *ngx_api_led_json_arena_enter(
    ngx_api_led_json_arena_t *a);
void ngx_api_led_json_arena_leave(ngx_api_led_json_arena_t *prev);
ngx_int_t ngx_api_led_json_depth_ok(json_t *json, ngx_uint_t max);
/* compact text in pool memory; "hint" is the expected size */
ngx_int_t ngx_api_led_json_dump(ngx_pool_t *pool, json_t *doc, size_t hint,
    ngx_str_t *out);
/* application/json or application/...+json */
ngx_int_t ngx_api_led_json_media_type(ngx_str_t *type);

/*
 * application/x-www-form-urlencoded: a form as an object of strings (a
 * repeated name: an array), NULL when not UTF-8 once decoded or out of
 * memory; an object as a form (arrays repeat the name, nested values are
 * their JSON text, null is empty).  The escaping keeps only A-Z a-z 0-9
 * "-" "." "_" "~".
 */
json_t *ngx_api_led_form_to_json(ngx_str_t *text);
ngx_int_t ngx_api_led_json_to_form(ngx_pool_t *pool, json_t *doc,
    ngx_str_t *out);
size_t ngx_api_led_form_escape_len(u_char *src, size_t len);
u_char *ngx_api_led_form_escape(u_char *dst, u_char *src, size_t len);


#endif /* _NGX_API_LED_H_INCLUDED_ */
