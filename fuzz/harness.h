
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * What the fuzz targets share: a process that looks enough like an nginx
 * worker for the module's functions (time, page size, a cycle, a log that
 * formats every message, debug ones too, and drops them), a pool per
 * input, a configuration context and a request to hand to functions that
 * take them, and small helpers to cut an input into pieces.
 */


#ifndef _FUZZ_HARNESS_H_INCLUDED_
#define _FUZZ_HARNESS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include <stdint.h>


/* the index of each module's configuration in the fake contexts */
#define FZ_MAX_MODULE  24


typedef struct {
    ngx_pool_t           *pool;
    ngx_conf_t           *cf;      /* a location of an http block */
    ngx_http_request_t   *r;       /* a request in that location */
} fz_t;


/*
 * FUZZ_KNOWN=1: the targets let the defects already saved in crashes/
 * pass (each is marked "known" where it is checked), so that a long run
 * explores beyond them.  Unset (the default), every property is checked.
 */
extern ngx_uint_t  fz_known;

/*
 * While fz_log_check is set, a message at "info" or above that holds a
 * control character (other than its final newline) fails the input: text
 * from a peer must not forge log lines.
 */
extern ngx_uint_t  fz_log_check;

/* once per process (LLVMFuzzerInitialize) */
void fz_init(void);

/*
 * Per input: a pool, a configuration context whose module confs a target
 * may fill (fz->cf->ctx is an ngx_http_conf_ctx_t), then a request with
 * those confs (fz_request(), after the configuration is built).  fz_end()
 * destroys the pool and whatever nginx state a target left (timers,
 * posted events).
 */
void fz_begin(fz_t *fz);
ngx_http_request_t *fz_request(fz_t *fz);
/* a request of "pool" in a configuration made once (fz_begin() at init) */
ngx_http_request_t *fz_request_in(ngx_pool_t *pool, ngx_conf_t *cf);
/* the same end for such a request: timers, posted events, the pool */
void fz_end_pool(ngx_pool_t *pool);
void fz_end(fz_t *fz);

/* cf->args from words: "a b c" as three arguments (no quoting) */
ngx_int_t fz_conf_args(fz_t *fz, u_char *p, size_t len);

/*
 * Configuration through the module's own code: fz_conf_create() runs a
 * module's create_main_conf/create_loc_conf into fz->cf->ctx;
 * fz_conf_text() reads directives with nginx's tokenizer
 * (ngx_conf_parse()) and hands each to the command of that name among
 * "modules" (NULL-terminated), as ngx_conf_handler() would;
 * fz_conf_init() runs init_main_conf and merges the location with an
 * empty parent.  NGX_CONF_OK or NGX_CONF_ERROR (logged).
 */
char *fz_conf_create(fz_t *fz, ngx_module_t *module);
char *fz_conf_text(fz_t *fz, ngx_module_t **modules, u_char *text,
    size_t len);
char *fz_conf_init(fz_t *fz, ngx_module_t *module);
void *fz_loc_conf(fz_t *fz, ngx_module_t *module);
void *fz_main_conf(fz_t *fz, ngx_module_t *module);

/*
 * ngx_conf_parse() of a block's body: "text" is what follows "{" (the
 * target adds the "}"), for a block directive's own handler to read.
 */
void fz_conf_buffer(fz_t *fz, u_char *text, size_t len);

/*
 * The value every $variable of a request evaluates to (templates): the
 * target sets it before fz_request().
 */
extern ngx_str_t  fz_variable_value;

/* the next piece of data up to "sep" (excluded); 0 when nothing is left */
ngx_int_t fz_next(u_char **p, u_char *end, u_char sep, ngx_str_t *piece);

/*
 * The operation lines of a JSON operations input (json_pointer,
 * json_light): at most 16 lines from *p; "=text" sets fz_variable_value,
 * every other line is compiled as nginx -t does (ngx_api_led_json_op_
 * compile()).  What compiles, and is not "keep" when "keep" is 0, goes
 * into "ops" (ngx_api_led_json_op_t) and its line into "lines"
 * (ngx_str_t), both initialized here.
 */
void fz_json_ops(fz_t *fz, u_char **p, u_char *end, ngx_uint_t keep,
    ngx_array_t *ops, ngx_array_t *lines);

/* a property does not hold: print what, the input's pieces, and abort() */
void fz_fail(const char *fmt, ...) ngx_cdecl;
void fz_dump(const char *name, const u_char *p, size_t len);

/* JSON equality that tells -0.0 from 0.0 apart from nothing else */
int fz_json_equal(json_t *a, json_t *b);


#endif /* _FUZZ_HARNESS_H_INCLUDED_ */
