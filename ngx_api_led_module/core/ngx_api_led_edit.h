
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Editing request and response headers and request arguments: the one
 * header-edit path of the module (core/ngx_api_led_edit.c).
 */


#ifndef _NGX_API_LED_EDIT_H_INCLUDED_
#define _NGX_API_LED_EDIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * ngx_api_led_edit.c: editing request headers and arguments and response
 * headers (set, add, remove, rename).  Header values must have passed
 * ngx_api_led_header_value_is_safe(); an empty "set" value removes; names
 * match case-insensitively.  Request header elements never move: a
 * removal splits the list around them, keeping the ngx_list_t rules, and
 * points nginx's known headers (r->headers_in.host...) at what is left; a
 * subrequest's request headers are copied before its first change.
 */

/* once, at configuration (the core's postconfiguration) */
void ngx_api_led_edit_init(void);

typedef struct {
    ngx_list_part_t             *part;        /* NULL: from the start */
    ngx_uint_t                   i;
} ngx_api_led_header_iter_t;

/* a header name is "ref": case-insensitive, "-" and "_" alike */
ngx_uint_t ngx_api_led_header_name_is(u_char *name, u_char *ref,
    size_t len);
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
/*
 * the cookie "name" leaves the Cookie headers; a ";"-piece of one holds a
 * cookie of the name where $cookie_NAME finds it: at its start or after a
 * ",", case-insensitively (the value, to the piece's end, in *value)
 */
ngx_int_t ngx_api_led_edit_cookie_remove(ngx_http_request_t *r,
    ngx_str_t *name);
ngx_int_t ngx_api_led_edit_cookie_find(u_char *p, u_char *last,
    ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_api_led_edit_headers_in_rename(ngx_http_request_t *r,
    ngx_api_led_edit_name_t *from, ngx_api_led_edit_name_t *to);
/*
 * The one way a subrequest gets request headers of its own (nginx lets it
 * share its parent's list): a copy of the parent's without the names in
 * "drop" (ended by a null string; NULL: none dropped), or, cleared, none
 * of them and no body.  nginx's pointers (r->headers_in.host...) are set
 * on the new list.  Headers added after are added with
 * ngx_api_led_edit_headers_in_set().
 */
ngx_int_t ngx_api_led_edit_headers_in_copy(ngx_http_request_t *sr,
    ngx_str_t *drop);
ngx_int_t ngx_api_led_edit_headers_in_clear(ngx_http_request_t *sr);
ngx_int_t ngx_api_led_edit_headers_out(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value);
/* set (value percent-encoded), remove, rename; names case-insensitive */
ngx_int_t ngx_api_led_edit_args(ngx_http_request_t *r, ngx_uint_t op,
    ngx_api_led_edit_name_t *name, ngx_api_led_edit_name_t *to,
    ngx_str_t *value);
/*
 * removes the arguments of these names (ngx_str_t), however their names are
 * escaped, from $args, and also from $request_uri and $request
 */
ngx_int_t ngx_api_led_args_remove(ngx_http_request_t *r, ngx_array_t *names);
/*
 * whether an argument name as sent (p, len) is this name: percent-decoded,
 * case-insensitive, "." " " "[" as "_"
 */
ngx_int_t ngx_api_led_arg_name_is(u_char *p, size_t len, ngx_str_t *name);
/*
 * whether every "%" of an argument's value as sent (p, len) is followed by
 * two hex digits; decode only such a value (ngx_unescape_uri() turns a
 * malformed escape into another value)
 */
ngx_int_t ngx_api_led_arg_escapes_valid(u_char *p, size_t len);

/* percent-encoding of all but A-Z a-z 0-9 "-" "." "_" "~" (RFC 3986) */
size_t ngx_api_led_form_escape_len(u_char *src, size_t len);
u_char *ngx_api_led_form_escape(u_char *dst, u_char *src, size_t len);


#endif /* _NGX_API_LED_EDIT_H_INCLUDED_ */
