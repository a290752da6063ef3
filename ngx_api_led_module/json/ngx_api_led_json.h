
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The JSON service: one grammar (parser and serializer into jansson
 * values), JSON Pointers, typed values, forms, the pool arena.
 */


#ifndef _NGX_API_LED_JSON_H_INCLUDED_
#define _NGX_API_LED_JSON_H_INCLUDED_


#include "ngx_api_led.h"


/*
 * ngx_api_led_json*.c: jansson helpers for the concerns that reshape JSON.
 *
 * Paths are JSON Pointers (RFC 6901): "" is the whole document, "/a/0/b"
 * a member of an element of a member; "-" is the end of an array (append);
 * "*" (an extension) is every element of an array, a plain member name in
 * an object.
 *
 * Documents nest at most NGX_API_LED_JSON_MAX_DEPTH levels (RFC 8259 lets
 * a parser bound it; the parser, jansson and the serializer descend by
 * recursion).  Building a document's values may take at most
 * NGX_API_LED_JSON_MEMORY_FACTOR times its text plus
 * NGX_API_LED_JSON_MEMORY_EXTRA bytes of memory: jansson takes up to
 * about 80 times the text for a document of empty objects ("[{},{},...]"),
 * 7 to 10 times for common ones.
 */

#define NGX_API_LED_JSON_MAX_DEPTH      1000
#define NGX_API_LED_JSON_MEMORY_FACTOR  32
#define NGX_API_LED_JSON_MEMORY_EXTRA   (1024 * 1024)

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
    struct ngx_api_led_json_light_s  *light;  /* set: a constant value
                                                 for light documents */
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
/*
 * "left": the memory a set may still take in the document (the copies of
 * a value set under "*", the objects created along the path), counted
 * down (NULL: no bound); past it
 * NGX_API_LED_JSON_TOO_BIG.  The light operations take the same.
 */
ngx_int_t ngx_api_led_json_op_apply(ngx_http_request_t *r,
    ngx_api_led_json_op_t *op, json_t **doc, size_t *left);
ngx_int_t ngx_api_led_json_ops_apply(ngx_http_request_t *r,
    ngx_array_t *ops, json_t **doc, size_t *left);

/*
 * The module's one JSON grammar (ngx_api_led_json_text.c), RFC 8259
 * whole, for request and response bodies, composition parts, tokens, key
 * sets, the consumers file and templates (ngx_api_led_json_scan()).  NGX_OK;
 * NGX_API_LED_JSON_INVALID; _TOO_DEEP; _TOO_BIG (the memory bound);
 * _DUPLICATE (a member name repeated, with NGX_API_LED_JSON_UNIQUE);
 * NGX_ERROR: no memory.  "err" gets the reason, "at byte N", or "line L,
 * column C: " before it with NGX_API_LED_JSON_LINES.  The _pool variant
 * takes the parser's scratch memory (as long as the text) from "pool"
 * instead of malloc().  ngx_api_led_json_validate() checks the same
 * grammar and builds nothing.
 *
 * What the values keep: \u0000 is a NUL byte in a string (jansson
 * strings have a length: use json_string_length(), json_object_getn(),
 * json_object_iter_key_len()); a lone surrogate escape is kept as its
 * generalized UTF-8 bytes (ED A0 80 for \ud800), which the serializer
 * writes back as the escape; a number that neither a 64-bit integer nor
 * a double writes back as the same number is a number text (below).
 */
#define NGX_API_LED_JSON_UNIQUE       1
#define NGX_API_LED_JSON_LINES        2

#define NGX_API_LED_JSON_INVALID      NGX_DECLINED
#define NGX_API_LED_JSON_TOO_DEEP     NGX_ABORT
#define NGX_API_LED_JSON_DUPLICATE    NGX_BUSY
#define NGX_API_LED_JSON_TOO_BIG      NGX_DONE

#define NGX_API_LED_JSON_ERRLEN       192

ngx_int_t ngx_api_led_json_parse(u_char *data, size_t len, ngx_uint_t flags,
    json_t **doc, u_char *err, size_t errlen);
ngx_int_t ngx_api_led_json_parse_pool(ngx_pool_t *pool, u_char *data,
    size_t len, json_t **doc, u_char *err, size_t errlen);
ngx_int_t ngx_api_led_json_validate(u_char *data, size_t len);
/* 1 when the text, escaped into a JSON string, reads back: UTF-8 */
ngx_int_t ngx_api_led_json_string_ok(u_char *p, size_t len);
/*
 * The grammar's UTF-8: the end of the character that starts at p (a byte
 * of 0x80 or more; no overlong form, no surrogate, at most U+10FFFF), or
 * NULL when p starts none before end.
 */
u_char *ngx_api_led_json_utf8(u_char *p, u_char *end);

/* U+FFFD, for a byte that starts no UTF-8 character */
#define NGX_API_LED_UTF8_REPLACEMENT  "\xef\xbf\xbd"

/*
 * The grammar for a template (ngx_api_led_json_tmpl.c), nothing built.
 * Where a value stands, value() says whether the template takes what is
 * there: NGX_OK and *next after it (a placeholder, a value for the
 * grammar), NGX_DECLINED (JSON's own), NGX_ERROR (it said why).  Each
 * string the grammar passed goes to string(): its text as written between
 * the quotes, "name" for a member name; NGX_ERROR stops (it said why).
 * The scan returns the parser's codes; on a grammar error "err" is the
 * reason alone and "pos" where.
 */
typedef struct {
    ngx_int_t                  (*value)(void *data, u_char *p, u_char *end,
                                        u_char **next);
    ngx_int_t                  (*string)(void *data, u_char *start,
                                         u_char *end, ngx_uint_t name);
    void                        *data;
    u_char                      *pos;         /* out: where it failed */
} ngx_api_led_json_hooks_t;

ngx_int_t ngx_api_led_json_scan(u_char *data, size_t len,
    ngx_api_led_json_hooks_t *hooks, u_char *err, size_t errlen);

/*
 * A number at p (ngx_api_led_json_text.c): NGX_OK, its kind and value, and
 * "end" after it; NGX_ERROR, "end" where it failed and "error" why (NULL:
 * the text ended).  "scratch" takes a copy of the number and a NUL for
 * strtod(); NULL checks the grammar alone (no kind).
 */
#define NGX_API_LED_JSON_INTEGER      0
#define NGX_API_LED_JSON_REAL         1
#define NGX_API_LED_JSON_NUMBER_KEPT  2      /* a number text, below */

typedef struct {
    u_char                      *end;
    const char                  *error;
    ngx_uint_t                   kind;
    int64_t                      integer;
    double                       real;
} ngx_api_led_json_number_t;

ngx_int_t ngx_api_led_json_read_number(u_char *p, u_char *end,
    u_char *scratch, ngx_api_led_json_number_t *num);
/* its value: NULL when out of memory */
json_t *ngx_api_led_json_number_value(ngx_api_led_json_number_t *num,
    u_char *start, u_char *scratch);

/*
 * Light documents: the transformations' fast path.  A document of at most
 * NGX_API_LED_JSON_LIGHT_MAX bytes is parsed into nodes that point at the
 * text: a member's name and a value's text are the bytes as the
 * serializer would write them (a number, a string with its quotes), made
 * anew only where they differ (an escape, a real written shorter).  The
 * operations work on the nodes as ngx_api_led_json_op_apply() does on
 * jansson values, member order included, and the light serializer writes
 * the same text the tree's would: the same document, built at a fraction
 * of the cost (no value is built, no name hashed).
 *
 * The parse declines (NGX_DECLINED) what the tree must take: anything
 * the grammar refuses (the tree says why), a member name repeated in an
 * object (jansson keeps the last value in the first place), an object of
 * more than NGX_API_LED_JSON_LIGHT_MEMBERS members (names are checked
 * against each other one by one), a text over the size bound.  Under
 * the size bound the tree's memory bound is not reached (with jansson
 * 2.14, 16 KB of empty objects, its costliest shape, take about 1.44 MB
 * of the 1.5 MB: t/047-json-light.t TESTS 13-14 fail if a jansson needs
 * more), so the light path accepts nothing the tree refuses.
 * ngx_api_led_json_light_takes() says at configuration time whether the
 * light path does an operation ("keep" it does not), _light_ops()
 * whether it does every one of a list.
 */
#define NGX_API_LED_JSON_LIGHT_MAX      (16 * 1024)
#define NGX_API_LED_JSON_LIGHT_MEMBERS  64

#define NGX_API_LED_JSON_LIGHT_TEXT     0    /* a scalar, "text" */
#define NGX_API_LED_JSON_LIGHT_OBJECT   1
#define NGX_API_LED_JSON_LIGHT_ARRAY    2

typedef struct ngx_api_led_json_light_s  ngx_api_led_json_light_t;

struct ngx_api_led_json_light_s {
    ngx_api_led_json_light_t    *next;        /* in the parent */
    ngx_str_t                    name;        /* a member's, unescaped */
    ngx_str_t                    key;         /* its text with quotes; the
                                                 name between quotes if
                                                 its len is 0 */
    ngx_str_t                    text;        /* _TEXT: as written out */
    ngx_api_led_json_light_t    *first;       /* _OBJECT, _ARRAY */
    ngx_api_led_json_light_t    *last;
    ngx_uint_t                   n;
    ngx_uint_t                   type;
};

ngx_int_t ngx_api_led_json_light_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_api_led_json_light_t **doc);
ngx_int_t ngx_api_led_json_light_dump(ngx_pool_t *pool,
    ngx_api_led_json_light_t *doc, size_t hint, ngx_str_t *out);
ngx_int_t ngx_api_led_json_light_dump_max(ngx_pool_t *pool,
    ngx_api_led_json_light_t *doc, size_t hint, size_t max, ngx_str_t *out);
/* a string's text as the serializer writes it, quotes and escapes */
ngx_int_t ngx_api_led_json_quote(ngx_pool_t *pool, u_char *s, size_t len,
    ngx_str_t *out);
ngx_uint_t ngx_api_led_json_light_takes(ngx_api_led_json_op_t *op);


/* whether a node is the member "name" (unescaped bytes, NULs and all) */

static ngx_inline ngx_uint_t
ngx_api_led_json_light_named(ngx_api_led_json_light_t *m, ngx_str_t *name)
{
    return m->name.len == name->len
           && (name->len == 0
               || (m->name.data[0] == name->data[0]
                   && ngx_memcmp(m->name.data, name->data, name->len) == 0));
}


ngx_uint_t ngx_api_led_json_light_ops(ngx_array_t *ops);
/* after ngx_api_led_json_op_compile(): a set's constant, made once */
char *ngx_api_led_json_light_op_compile(ngx_conf_t *cf,
    ngx_api_led_json_op_t *op);
ngx_int_t ngx_api_led_json_light_op_apply(ngx_http_request_t *r,
    ngx_api_led_json_op_t *op, ngx_api_led_json_light_t **doc, size_t *left);
/* the same operation with the value given (a new reference, consumed) */
ngx_int_t ngx_api_led_json_light_op_value(ngx_pool_t *pool,
    ngx_api_led_json_op_t *op, json_t *value, ngx_api_led_json_light_t **doc,
    size_t *left);
ngx_int_t ngx_api_led_json_light_ops_apply(ngx_http_request_t *r,
    ngx_array_t *ops, ngx_api_led_json_light_t **doc, size_t *left);


/*
 * Streamed rewrites (ngx_api_led_json_stream.c): a list of operations
 * that do not cross one another, done while the text is read, with no
 * document built: set with a constant, remove, rename (a name, or a
 * pointer of names), wrap at the end, on paths of member names ("*" for
 * every element of an array where no value is made).  _compile() gives a
 * plan, or NULL when the list is not one it does as the light path
 * would; _run() writes the same text as the light path, or declines
 * (NGX_DECLINED) and the light path takes the text from its start (see
 * there for what).
 */
typedef struct ngx_api_led_json_stream_s  ngx_api_led_json_stream_t;

ngx_int_t ngx_api_led_json_stream_compile(ngx_pool_t *pool,
    ngx_api_led_json_op_t **ops, ngx_uint_t n,
    ngx_api_led_json_stream_t **stream);
ngx_int_t ngx_api_led_json_stream_run(ngx_pool_t *pool,
    ngx_api_led_json_stream_t *st, u_char *data, size_t len, size_t max,
    ngx_str_t *out);

/*
 * Number texts: a number kept as it was written (a string of the mark
 * 0xff and the text, which no other string starts with).  The serializer
 * writes it as the number; json_is_number() is false for it (a claim
 * like "exp" that must be a number refuses it).  _number_text(): 1 and
 * the text (text may be NULL) for a number text, else 0; _is_text(): a
 * string that is no number text.
 */
#define NGX_API_LED_JSON_NUMBER_TEXT  0xff

ngx_int_t ngx_api_led_json_number_text(json_t *v, ngx_str_t *text);
ngx_int_t ngx_api_led_json_is_text(json_t *v);
/*
 * The length of a string's bytes before the first lone surrogate the
 * parser kept: the valid UTF-8 of it, for text that does not go through
 * the serializer (a problem's detail).
 */
size_t ngx_api_led_json_utf8_len(u_char *p, size_t len);
/*
 * A JSON file at configuration time (a worker never reads a file): the
 * parse's codes, or NGX_ERROR with the reason in "err" when the file
 * cannot be read.
 */
ngx_int_t ngx_api_led_json_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t flags, json_t **doc, u_char *err, size_t errlen);

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
/* at most "max" bytes (0: no bound), else NGX_API_LED_JSON_TOO_BIG */
ngx_int_t ngx_api_led_json_dump_max(ngx_pool_t *pool, json_t *doc,
    size_t hint, size_t max, ngx_str_t *out);
/* the shortest text that reads back as "d", at most _REAL_LEN bytes */
#define NGX_API_LED_JSON_REAL_LEN     32
u_char *ngx_api_led_json_real_text(u_char *p, double d);
/* application/json or application/...+json */
ngx_int_t ngx_api_led_json_media_type(ngx_str_t *type);

/*
 * application/x-www-form-urlencoded: a form as an object of strings (a
 * repeated name: an array), NULL when a name or value is not UTF-8 once
 * decoded, or out of memory; an object as a form
 * (arrays repeat the name, nested values are their JSON text, null is
 * empty), escaped by ngx_api_led_form_escape().
 */
json_t *ngx_api_led_form_to_json(ngx_str_t *text);
ngx_int_t ngx_api_led_json_to_form(ngx_pool_t *pool, json_t *doc,
    size_t max, ngx_str_t *out);


/*
 * ngx_api_led_json_tmpl.c: the template language of the module (a
 * composition's URIs and bodies, the data of events).  Compiled at
 * configuration time into segments; the user of a template resolves its
 * placeholders' names (sets "index") and, when rendering, gives the
 * document a placeholder reads (NULL: none).
 */

#define NGX_API_LED_SEG_TEXT           0
#define NGX_API_LED_SEG_VAR            1
#define NGX_API_LED_SEG_CAPTURE        2
#define NGX_API_LED_SEG_PLACEHOLDER    3

typedef struct {
    ngx_uint_t                   type;
    ngx_str_t                    text;        /* TEXT; PLACEHOLDER: as
                                                 written, for messages */
    ngx_str_t                    name;        /* PLACEHOLDER: {NAME...} */
    ngx_uint_t                   index;       /* VAR: variable index,
                                                 CAPTURE: $N,
                                                 PLACEHOLDER: the user's */
    ngx_api_led_json_path_t      path;        /* PLACEHOLDER */
    unsigned                     in_args:1;   /* URI: after the "?" */
    unsigned                     in_string:1; /* body: inside a JSON
                                                 string */
} ngx_api_led_tmpl_seg_t;

typedef json_t *(*ngx_api_led_tmpl_doc_pt)(void *data,
    ngx_api_led_tmpl_seg_t *seg);

/*
 * The value a VAR segment renders, when the user took it before (NULL:
 * the variable's value now).  A subrequest shares its parent's variables:
 * a part's location (its named captures, its "set") may change them while
 * the composition is still rendering its other parts.
 */
typedef ngx_http_variable_value_t *(*ngx_api_led_tmpl_var_pt)(void *data,
    ngx_api_led_tmpl_seg_t *seg);

ngx_int_t ngx_api_led_tmpl_uri(ngx_conf_t *cf, ngx_str_t *src,
    ngx_array_t *segs);
/* "what" and "name" say whose template it is: "the body of part" "x" */
ngx_int_t ngx_api_led_tmpl_json(ngx_conf_t *cf, ngx_str_t *src,
    const char *what, ngx_str_t *name, ngx_array_t *segs);
ngx_int_t ngx_api_led_tmpl_render(ngx_http_request_t *r, ngx_array_t *segs,
    ngx_uint_t body, ngx_api_led_tmpl_doc_pt doc, void *data,
    ngx_str_t *out, ngx_str_t *err);
/* the same, with the variables' values "var" gives (NULL: none given) */
ngx_int_t ngx_api_led_tmpl_render_vars(ngx_http_request_t *r,
    ngx_array_t *segs, ngx_uint_t body, ngx_api_led_tmpl_doc_pt doc,
    ngx_api_led_tmpl_var_pt var, void *data, ngx_str_t *out, ngx_str_t *err);


#endif /* _NGX_API_LED_JSON_H_INCLUDED_ */
