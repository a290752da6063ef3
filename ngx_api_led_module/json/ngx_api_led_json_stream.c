
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Streamed rewrites (ngx_api_led_json.h, "Streamed rewrites"): the
 * operations of a list that do not cross one another, done while the
 * text is read, with no document built.  The text is written out as it
 * was read, in runs: a run ends only where the output differs (a member
 * removed or moved, a value set, whitespace, an escape or a number the
 * serializer writes otherwise), so a compact document goes out in a few
 * copies.  What the plan cannot do the same way as the light documents
 * makes the run decline, and the light path (or the tree) does the text
 * from its start.
 */


#include "ngx_api_led_json.h"
#include "ngx_api_led_json_parser.h"


/* what a plan does with a member of an object */
#define NGX_API_LED_JS_DESCEND   1    /* walks into it with its own plan */
#define NGX_API_LED_JS_REMOVE    2
#define NGX_API_LED_JS_SET       3    /* its value replaced in place */
#define NGX_API_LED_JS_HOLD      4    /* taken out, written elsewhere */
#define NGX_API_LED_JS_REFUSE    5    /* there: the light path takes it */

/* what a plan adds at the end of an object */
#define NGX_API_LED_JS_ADD_SET     1  /* a set's member, unless there */
#define NGX_API_LED_JS_ADD_CREATE  2  /* an object a set or a move makes
                                         on its path, unless there */
#define NGX_API_LED_JS_ADD_HELD    3  /* a held value under a new name */

#define NGX_API_LED_JS_OBJECT    1
#define NGX_API_LED_JS_ARRAY     2

/* members and additions of one object's plan (a bit each: "seen") */
#define NGX_API_LED_JS_MEMBERS   64

/* names of the objects open at once, checked unique */
#define NGX_API_LED_JS_NAMES     512


/*
 * The scalars in the loops: a call for each value costs a tenth of it;
 * what few documents have kept out of the loops' registers.
 */
#if (defined __GNUC__)
#define NGX_API_LED_JS_IN_LINE  __attribute__((always_inline))
#define NGX_API_LED_JS_RARE     __attribute__((noinline, cold))
#else
#define NGX_API_LED_JS_IN_LINE
#define NGX_API_LED_JS_RARE
#endif


typedef struct ngx_api_led_json_plan_s  ngx_api_led_json_plan_t;

typedef struct {
    ngx_str_t                    name;
    ngx_uint_t                   action;      /* NGX_API_LED_JS_DESCEND.. */
    ngx_api_led_json_plan_t     *plan;        /* _DESCEND */
    ngx_str_t                    text;        /* _SET: as written out */
    ngx_uint_t                   slot;        /* _HOLD */
} ngx_api_led_json_plan_member_t;

typedef struct {
    ngx_uint_t                   kind;        /* NGX_API_LED_JS_ADD_* */
    ngx_str_t                    key;         /* the name, quoted */
    ngx_str_t                    text;        /* _SET */
    ngx_uint_t                   member;      /* _SET, _CREATE: unless the
                                                 member is there */
    ngx_uint_t                   slot;        /* _HELD */
    ngx_uint_t                   held;        /* _CREATE: 1 if only a held
                                                 value fills it */
    ngx_api_led_json_plan_t     *plan;        /* _CREATE */
} ngx_api_led_json_plan_add_t;

struct ngx_api_led_json_plan_s {
    ngx_uint_t                   type;        /* NGX_API_LED_JS_OBJECT.. */
    uint64_t                     names;       /* _OBJECT: its members'
                                                 names' bits, as the parse
                                                 has them */
    ngx_array_t                  members;     /* _OBJECT */
    ngx_array_t                  adds;        /* _OBJECT, in the order the
                                                 operations add them */
    ngx_api_led_json_plan_t     *each;        /* _ARRAY: its elements' */
};

struct ngx_api_led_json_stream_s {
    ngx_api_led_json_plan_t     *root;
    ngx_str_t                    prefix;      /* wraps */
    ngx_str_t                    suffix;
    ngx_uint_t                   slots;
    size_t                       extra;       /* what it adds at most */
};


typedef struct {
    ngx_api_led_json_parser_t    jp;          /* escaped strings, numbers */
    u_char                      *run;         /* the text not written yet */
    u_char                      *out;
    u_char                      *last;
    u_char                      *out_end;
    size_t                       max;
    ngx_pool_t                  *pool;
    ngx_str_t                   *held;
    u_char                     **names;       /* member names in the text,
                                                 each before its quote */
    ngx_uint_t                   nnames;
    unsigned                     nomem:1;
    unsigned                     too_big:1;
} ngx_api_led_json_streamer_t;


static ngx_int_t ngx_api_led_json_stream_op(ngx_pool_t *pool,
    ngx_api_led_json_stream_t *st, ngx_api_led_json_op_t *op);
static ngx_uint_t ngx_api_led_json_stream_tokens_ok(
    ngx_api_led_json_path_t *path, ngx_uint_t any);
static ngx_uint_t ngx_api_led_json_stream_crossing(ngx_api_led_json_op_t **ops,
    ngx_uint_t n);
static ngx_uint_t ngx_api_led_json_stream_touched(ngx_api_led_json_op_t *op,
    ngx_api_led_json_path_t *paths, ngx_api_led_json_token_t *sibling);
static ngx_uint_t ngx_api_led_json_stream_prefix(ngx_api_led_json_path_t *a,
    ngx_api_led_json_path_t *b);
static ngx_api_led_json_plan_member_t *ngx_api_led_json_plan_leaf(
    ngx_pool_t *pool, ngx_api_led_json_stream_t *st,
    ngx_api_led_json_path_t *path, ngx_uint_t create,
    ngx_api_led_json_plan_t **parent);
static ngx_api_led_json_plan_t *ngx_api_led_json_plan_new(ngx_pool_t *pool,
    ngx_uint_t type);
static ngx_api_led_json_plan_t *ngx_api_led_json_plan_down(ngx_pool_t *pool,
    ngx_api_led_json_plan_t *plan, ngx_api_led_json_token_t *t,
    ngx_uint_t create, ngx_uint_t held);
static ngx_api_led_json_plan_member_t *ngx_api_led_json_plan_member(
    ngx_pool_t *pool, ngx_api_led_json_plan_t *plan, ngx_str_t *name);
static ngx_api_led_json_plan_add_t *ngx_api_led_json_plan_add(ngx_pool_t *pool,
    ngx_api_led_json_plan_t *plan, ngx_uint_t kind, ngx_str_t *name);
static ngx_int_t ngx_api_led_json_plan_wrap(ngx_pool_t *pool,
    ngx_api_led_json_stream_t *st, ngx_api_led_json_path_t *path);

static ngx_inline u_char *ngx_api_led_json_stream_plain(u_char *p,
    u_char *end) NGX_API_LED_JS_IN_LINE;
static ngx_int_t ngx_api_led_json_stream_value(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, u_char **pp, ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_stream_object(
    ngx_api_led_json_streamer_t *sw, ngx_api_led_json_plan_t *plan,
    u_char **pp, ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_stream_array(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, u_char **pp, ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_stream_checked(
    ngx_api_led_json_streamer_t *sw, u_char **pp);
static ngx_int_t ngx_api_led_json_stream_adds(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, uint64_t seen, ngx_uint_t written);
static ngx_uint_t ngx_api_led_json_stream_fills(
    ngx_api_led_json_streamer_t *sw, ngx_api_led_json_plan_t *plan);
static u_char *ngx_api_led_json_stream_name(ngx_api_led_json_streamer_t *sw,
    u_char *p) NGX_API_LED_JS_RARE;
static ngx_int_t ngx_api_led_json_stream_first(
    ngx_api_led_json_streamer_t *sw, size_t open_mark, u_char *open,
    u_char *key);
static ngx_int_t ngx_api_led_json_stream_cut_sep(
    ngx_api_led_json_streamer_t *sw, u_char *sep);
static size_t ngx_api_led_json_stream_written(u_char *p, u_char *to);
static ngx_int_t ngx_api_led_json_stream_cut(ngx_api_led_json_streamer_t *sw,
    size_t mark, u_char *at);
static ngx_int_t ngx_api_led_json_stream_hold(ngx_api_led_json_streamer_t *sw,
    size_t mark, u_char *to, ngx_str_t *held);
static ngx_int_t ngx_api_led_json_stream_grow(ngx_api_led_json_streamer_t *sw,
    size_t n);


/*
 * A member name's bit among 64, from its first and last bytes and its
 * length (an empty name: its closing and opening quotes in the text),
 * for the names before it in the object and those of a plan: only where
 * a bit is set are names compared.
 */

#define ngx_api_led_json_stream_bit(first, last, len)                         \
    ((uint64_t) 1 << ((((first) << 1) ^ (last) ^ (len)) & 63))


/* the output: "n" bytes more, at sw->last */

#define ngx_api_led_json_stream_room(sw, n)                                   \
    ((size_t) ((sw)->out_end - (sw)->last) >= (size_t) (n)                    \
     || ngx_api_led_json_stream_grow(sw, n) == NGX_OK)

#define ngx_api_led_json_stream_put(sw, d, n)                                 \
    (ngx_api_led_json_stream_room(sw, n)                                      \
     ? ((sw)->last = ngx_cpymem((sw)->last, d, n), NGX_OK) : NGX_ERROR)

/* the text up to "p" written out, if not yet */

#define ngx_api_led_json_stream_flush(sw, p)                                  \
    (((p) > (sw)->run)                                                        \
     ? (ngx_api_led_json_stream_put(sw, (sw)->run, (p) - (sw)->run) == NGX_OK \
        ? ((sw)->run = (p), NGX_OK) : NGX_ERROR)                              \
     : NGX_OK)

/* whitespace: not written out */

#define ngx_api_led_json_stream_ws(sw, p, end)                                \
    if (p < end && *p <= ' '                                                  \
        && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))             \
    {                                                                         \
        if (ngx_api_led_json_stream_flush(sw, p) != NGX_OK) {                 \
            return NGX_ERROR;                                                 \
        }                                                                     \
                                                                              \
        ngx_api_led_json_light_ws(p, end);                                    \
        (sw)->run = p;                                                        \
    }


/*
 * A plan for the list "ops" (in the order written), or *stream NULL when
 * the list is not one the stream does as the light path would: set with
 * a constant, remove, rename and wrap (last) on paths of member names
 * ("*" for every element, not last and not in a set, a move or a wrap)
 * that do not cross one another.  NGX_ERROR: no memory.
 */

ngx_int_t
ngx_api_led_json_stream_compile(ngx_pool_t *pool, ngx_api_led_json_op_t **ops,
    ngx_uint_t n, ngx_api_led_json_stream_t **stream)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i, wraps;
    ngx_api_led_json_stream_t  *st;

    *stream = NULL;

    if (n == 0 || ngx_api_led_json_stream_crossing(ops, n)) {
        return NGX_OK;
    }

    st = ngx_pcalloc(pool, sizeof(ngx_api_led_json_stream_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->root = ngx_api_led_json_plan_new(pool, 0);
    if (st->root == NULL) {
        return NGX_ERROR;
    }

    /* the wraps come last: they are all done on the whole document */

    for (wraps = n; wraps > 0; wraps--) {
        if (ops[wraps - 1]->op != NGX_API_LED_JSON_OP_WRAP) {
            break;
        }
    }

    for (i = 0; i < n; i++) {
        rc = (i < wraps) ? ngx_api_led_json_stream_op(pool, st, ops[i])
                         : ngx_api_led_json_plan_wrap(pool, st, &ops[i]->path);
        if (rc != NGX_OK) {
            return (rc == NGX_DECLINED) ? NGX_OK : NGX_ERROR;
        }
    }

    /* the nodes a light set creates on its path count against "left" */

    if (st->extra >= NGX_API_LED_JSON_MEMORY_EXTRA / 4) {
        return NGX_OK;
    }

    *stream = st;

    return NGX_OK;
}


/* one operation into the plan: NGX_OK, NGX_DECLINED (not for the stream) */

static ngx_int_t
ngx_api_led_json_stream_op(ngx_pool_t *pool, ngx_api_led_json_stream_t *st,
    ngx_api_led_json_op_t *op)
{
    ngx_str_t                        text, *name;
    ngx_uint_t                       i, n, create;
    ngx_api_led_json_plan_t         *plan;
    ngx_api_led_json_token_t        *t;
    ngx_api_led_json_plan_add_t     *add;
    ngx_api_led_json_plan_member_t  *m;

    if (op->path.ntokens == 0 || op->op == NGX_API_LED_JSON_OP_WRAP
        || op->op == NGX_API_LED_JSON_OP_KEEP)
    {
        /* a wrap before other operations, "keep" */
        return NGX_DECLINED;
    }

    create = (op->op == NGX_API_LED_JSON_OP_SET);
    ngx_str_null(&text);

    if (create) {
        if (op->light == NULL) {
            /* a value from variables */
            return NGX_DECLINED;
        }

        if (ngx_api_led_json_light_dump(pool, op->light, 64, &text)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* "*" where nothing is made or moved */

    if (!ngx_api_led_json_stream_tokens_ok(&op->path,
                                           op->op == NGX_API_LED_JSON_OP_REMOVE
                                           || op->name.len))
    {
        return NGX_DECLINED;
    }

    m = ngx_api_led_json_plan_leaf(pool, st, &op->path, create, &plan);
    if (m == NULL) {
        return NGX_DECLINED;
    }

    name = &op->path.tokens[op->path.ntokens - 1].name;

    switch (op->op) {

    case NGX_API_LED_JSON_OP_REMOVE:
        m->action = NGX_API_LED_JS_REMOVE;
        return NGX_OK;

    case NGX_API_LED_JSON_OP_SET:
        m->action = NGX_API_LED_JS_SET;
        m->text = text;

        add = ngx_api_led_json_plan_add(pool, plan, NGX_API_LED_JS_ADD_SET,
                                        name);
        if (add == NULL) {
            return NGX_DECLINED;
        }

        add->text = text;
        st->extra += add->key.len + text.len + 2;

        return NGX_OK;

    default: /* NGX_API_LED_JSON_OP_RENAME */
        m->action = NGX_API_LED_JS_HOLD;
        m->slot = st->slots++;
    }

    if (op->name.len) {

        /* to a name: the value goes under it at the object's end */

        name = &op->name;

    } else {

        /*
         * To a pointer: made anew from the root, at its end; the light
         * path would put it into what is there, after the text the
         * stream has written out.
         */

        if (!ngx_api_led_json_stream_tokens_ok(&op->to, 0)
            || op->to.ntokens == 0)
        {
            return NGX_DECLINED;
        }

        n = op->to.ntokens;
        t = op->to.tokens;
        name = &t[n - 1].name;
        plan = st->root;

        m = ngx_api_led_json_plan_member(pool, plan, &t[0].name);
        if (m == NULL || m->action) {
            return NGX_DECLINED;
        }

        m->action = NGX_API_LED_JS_REFUSE;

        for (i = 0; i < n - 1; i++) {
            plan = ngx_api_led_json_plan_down(pool, plan, &t[i], 1, 1);
            if (plan == NULL) {
                return NGX_DECLINED;
            }

            st->extra += t[i].name.len * 6 + 5;
        }
    }

    if (op->name.len) {
        m = ngx_api_led_json_plan_member(pool, plan, name);
        if (m == NULL || m->action) {
            return NGX_DECLINED;
        }

        m->action = NGX_API_LED_JS_REFUSE;
    }

    add = ngx_api_led_json_plan_add(pool, plan, NGX_API_LED_JS_ADD_HELD, name);
    if (add == NULL) {
        return NGX_DECLINED;
    }

    add->slot = st->slots - 1;
    st->extra += add->key.len + 2;

    return NGX_OK;
}


/*
 * The plan's member a path leads to, new (NULL: the plan has another use
 * for it), and the plan of its object; "create": a set makes the objects
 * on its way where they are not there.
 */

static ngx_api_led_json_plan_member_t *
ngx_api_led_json_plan_leaf(ngx_pool_t *pool, ngx_api_led_json_stream_t *st,
    ngx_api_led_json_path_t *path, ngx_uint_t create,
    ngx_api_led_json_plan_t **parent)
{
    ngx_uint_t                       i, n;
    ngx_api_led_json_plan_t         *plan;
    ngx_api_led_json_token_t        *t;
    ngx_api_led_json_plan_member_t  *m;

    n = path->ntokens;
    t = path->tokens;
    plan = st->root;

    for (i = 0; i < n - 1; i++) {
        plan = ngx_api_led_json_plan_down(pool, plan, &t[i], create, 0);
        if (plan == NULL) {
            return NULL;
        }

        if (create) {
            st->extra += t[i].name.len * 6 + 5;
        }
    }

    m = ngx_api_led_json_plan_member(pool, plan, &t[n - 1].name);
    if (m == NULL || m->action) {
        return NULL;
    }

    *parent = plan;

    return m;
}


/* member names alone; "*" for every element where "any" allows it */

static ngx_uint_t
ngx_api_led_json_stream_tokens_ok(ngx_api_led_json_path_t *path,
    ngx_uint_t any)
{
    ngx_uint_t                 i;
    ngx_api_led_json_token_t  *t;

    t = path->tokens;

    for (i = 0; i < path->ntokens; i++) {
        if (t[i].index >= 0 || t[i].append) {
            return 0;
        }

        if (t[i].any && (!any || i == path->ntokens - 1)) {
            return 0;
        }
    }

    return 1;
}


/*
 * Whether two operations touch paths one of which leads into the other
 * ("*" leads anywhere): then the order they are done in matters, and
 * the light path does them one after the other.
 */

static ngx_uint_t
ngx_api_led_json_stream_crossing(ngx_api_led_json_op_t **ops, ngx_uint_t n)
{
    ngx_uint_t                i, j, a, b, na, nb;
    ngx_api_led_json_path_t   pa[2], pb[2];
    ngx_api_led_json_token_t  sa[64], sb[64];

    for (i = 0; i < n; i++) {
        if (ops[i]->op == NGX_API_LED_JSON_OP_WRAP) {
            continue;
        }

        if (ops[i]->path.ntokens > 64 || ops[i]->to.ntokens > 64) {
            return 1;
        }

        na = ngx_api_led_json_stream_touched(ops[i], pa, sa);

        /* a rename to its own name, a move into itself */

        if (na == 2 && ngx_api_led_json_stream_prefix(&pa[0], &pa[1])) {
            return 1;
        }

        for (j = i + 1; j < n; j++) {
            if (ops[j]->op == NGX_API_LED_JSON_OP_WRAP) {
                continue;
            }

            if (ops[j]->path.ntokens > 64 || ops[j]->to.ntokens > 64) {
                return 1;
            }

            nb = ngx_api_led_json_stream_touched(ops[j], pb, sb);

            for (a = 0; a < na; a++) {
                for (b = 0; b < nb; b++) {
                    if (ngx_api_led_json_stream_prefix(&pa[a], &pb[b])) {
                        return 1;
                    }
                }
            }
        }
    }

    return 0;
}


/* the paths an operation changes: its own, and a rename's or move's new */

static ngx_uint_t
ngx_api_led_json_stream_touched(ngx_api_led_json_op_t *op,
    ngx_api_led_json_path_t *paths, ngx_api_led_json_token_t *sibling)
{
    paths[0] = op->path;

    if (op->op != NGX_API_LED_JSON_OP_RENAME) {
        return 1;
    }

    if (op->name.len == 0) {
        paths[1] = op->to;
        return 2;
    }

    /* the new name beside the old one */

    if (op->path.ntokens == 0) {
        return 1;
    }

    ngx_memcpy(sibling, op->path.tokens,
               op->path.ntokens * sizeof(ngx_api_led_json_token_t));

    sibling[op->path.ntokens - 1].name = op->name;
    sibling[op->path.ntokens - 1].any = 0;

    paths[1] = op->path;
    paths[1].tokens = sibling;

    return 2;
}


static ngx_uint_t
ngx_api_led_json_stream_prefix(ngx_api_led_json_path_t *a,
    ngx_api_led_json_path_t *b)
{
    ngx_uint_t                 i, n;
    ngx_api_led_json_token_t  *ta, *tb;

    n = ngx_min(a->ntokens, b->ntokens);
    ta = a->tokens;
    tb = b->tokens;

    for (i = 0; i < n; i++) {
        if (ta[i].any || tb[i].any) {
            continue;
        }

        if (ta[i].name.len != tb[i].name.len
            || ngx_memcmp(ta[i].name.data, tb[i].name.data, ta[i].name.len)
               != 0)
        {
            return 0;
        }
    }

    return 1;
}


static ngx_api_led_json_plan_t *
ngx_api_led_json_plan_new(ngx_pool_t *pool, ngx_uint_t type)
{
    ngx_api_led_json_plan_t  *plan;

    plan = ngx_pcalloc(pool, sizeof(ngx_api_led_json_plan_t));
    if (plan == NULL) {
        return NULL;
    }

    plan->type = type;

    if (ngx_array_init(&plan->members, pool, 2,
                       sizeof(ngx_api_led_json_plan_member_t))
        != NGX_OK
        || ngx_array_init(&plan->adds, pool, 2,
                          sizeof(ngx_api_led_json_plan_add_t))
           != NGX_OK)
    {
        return NULL;
    }

    return plan;
}


/*
 * The plan of what the token leads to, made if new; "create": a set or a
 * move makes the object where it is not there (once, the first
 * operation that does decides its place; a move's, "held", only if the
 * value was there, so it shares its objects with no other).  NULL: no
 * memory, or the token asks for what the plan has another use for.
 */

static ngx_api_led_json_plan_t *
ngx_api_led_json_plan_down(ngx_pool_t *pool, ngx_api_led_json_plan_t *plan,
    ngx_api_led_json_token_t *t, ngx_uint_t create, ngx_uint_t held)
{
    ngx_api_led_json_plan_add_t     *add;
    ngx_api_led_json_plan_member_t  *m;

    if (t->any) {
        if (plan->type == NGX_API_LED_JS_OBJECT) {
            return NULL;
        }

        plan->type = NGX_API_LED_JS_ARRAY;

        if (plan->each == NULL) {
            plan->each = ngx_api_led_json_plan_new(pool, 0);
        }

        return plan->each;
    }

    m = ngx_api_led_json_plan_member(pool, plan, &t->name);
    if (m == NULL) {
        return NULL;
    }

    if (m->action == 0) {
        m->action = NGX_API_LED_JS_DESCEND;
        m->plan = ngx_api_led_json_plan_new(pool, 0);
        if (m->plan == NULL) {
            return NULL;
        }

    } else if (m->action != NGX_API_LED_JS_DESCEND
               && !(held && m->action == NGX_API_LED_JS_REFUSE))
    {
        return NULL;
    }

    if (!create) {
        return m->plan;
    }

    add = ngx_api_led_json_plan_add(pool, plan, NGX_API_LED_JS_ADD_CREATE,
                                    &t->name);
    if (add == NULL) {
        return NULL;
    }

    if (add->plan) {
        /* a set's object a later set fills too; never a move's */
        return (add->held || held) ? NULL : add->plan;
    }

    if (m->plan == NULL) {
        /* the top of a move's new place: refused where it is there */
        m->plan = ngx_api_led_json_plan_new(pool, 0);
        if (m->plan == NULL) {
            return NULL;
        }
    }

    add->plan = m->plan;
    add->held = held;

    return m->plan;
}


/* the member "name" of an object's plan, added if new */

static ngx_api_led_json_plan_member_t *
ngx_api_led_json_plan_member(ngx_pool_t *pool, ngx_api_led_json_plan_t *plan,
    ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_api_led_json_plan_member_t  *m;

    if (plan->type == NGX_API_LED_JS_ARRAY) {
        return NULL;
    }

    plan->type = NGX_API_LED_JS_OBJECT;

    m = plan->members.elts;

    for (i = 0; i < plan->members.nelts; i++) {
        if (m[i].name.len == name->len
            && ngx_memcmp(m[i].name.data, name->data, name->len) == 0)
        {
            return &m[i];
        }
    }

    if (plan->members.nelts == NGX_API_LED_JS_MEMBERS) {
        return NULL;
    }

    m = ngx_array_push(&plan->members);
    if (m == NULL) {
        return NULL;
    }

    ngx_memzero(m, sizeof(ngx_api_led_json_plan_member_t));
    m->name = *name;

    /* as the text has it: an empty name is two quotes */
    plan->names |= name->len
                   ? ngx_api_led_json_stream_bit(name->data[0],
                                                 name->data[name->len - 1],
                                                 name->len)
                   : ngx_api_led_json_stream_bit('"', '"', 0);

    return m;
}


/* what the object gets at its end: one for a name, in the order asked */

static ngx_api_led_json_plan_add_t *
ngx_api_led_json_plan_add(ngx_pool_t *pool, ngx_api_led_json_plan_t *plan,
    ngx_uint_t kind, ngx_str_t *name)
{
    ngx_uint_t                       i, member;
    ngx_api_led_json_plan_add_t     *add;
    ngx_api_led_json_plan_member_t  *m;

    m = ngx_api_led_json_plan_member(pool, plan, name);
    if (m == NULL) {
        return NULL;
    }

    member = m - (ngx_api_led_json_plan_member_t *) plan->members.elts;
    add = plan->adds.elts;

    for (i = 0; i < plan->adds.nelts; i++) {
        if (add[i].member == member) {
            return (kind == add[i].kind && kind == NGX_API_LED_JS_ADD_CREATE)
                   ? &add[i] : NULL;
        }
    }

    add = ngx_array_push(&plan->adds);
    if (add == NULL) {
        return NULL;
    }

    ngx_memzero(add, sizeof(ngx_api_led_json_plan_add_t));

    add->kind = kind;
    add->member = member;

    if (ngx_api_led_json_quote(pool, name->data, name->len, &add->key)
        != NGX_OK)
    {
        return NULL;
    }

    return add;
}


/* a wrap: the document as the value of objects around it */

static ngx_int_t
ngx_api_led_json_plan_wrap(ngx_pool_t *pool, ngx_api_led_json_stream_t *st,
    ngx_api_led_json_path_t *path)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   prefix, *keys;
    ngx_uint_t  i;

    if (!ngx_api_led_json_stream_tokens_ok(path, 0)) {
        return NGX_DECLINED;
    }

    if (path->ntokens == 0) {
        return NGX_OK;
    }

    /* the new wrap goes around the earlier ones: each name quoted once */

    keys = ngx_palloc(pool, path->ntokens * sizeof(ngx_str_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    len = st->prefix.len;

    for (i = 0; i < path->ntokens; i++) {
        if (ngx_api_led_json_quote(pool, path->tokens[i].name.data,
                                   path->tokens[i].name.len, &keys[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        len += keys[i].len + 2;
    }

    prefix = st->prefix;

    st->prefix.data = ngx_pnalloc(pool, len);
    if (st->prefix.data == NULL) {
        return NGX_ERROR;
    }

    p = st->prefix.data;

    for (i = 0; i < path->ntokens; i++) {
        *p++ = '{';
        p = ngx_cpymem(p, keys[i].data, keys[i].len);
        *p++ = ':';
    }

    if (prefix.len) {
        p = ngx_cpymem(p, prefix.data, prefix.len);
    }

    st->prefix.len = p - st->prefix.data;

    p = ngx_pnalloc(pool, st->suffix.len + path->ntokens);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (st->suffix.len) {
        ngx_memcpy(p, st->suffix.data, st->suffix.len);
    }

    ngx_memset(p + st->suffix.len, '}', path->ntokens);

    st->suffix.data = p;
    st->suffix.len += path->ntokens;

    st->extra += len - prefix.len + path->ntokens;

    return NGX_OK;
}


/*
 * The text rewritten by the plan into "out" (pool memory): NGX_OK;
 * NGX_DECLINED for what the light path (or the tree) takes from the
 * start: a text the grammar refuses, over NGX_API_LED_JSON_LIGHT_MAX
 * bytes, nested deeper than NGX_API_LED_JSON_MAX_DEPTH, a member name
 * repeated or escaped, an object of more than
 * NGX_API_LED_JSON_LIGHT_MEMBERS members, a document whose shape the
 * plan does not take as the light path would (a renamed value's new name
 * there already, "*" meeting an object), and a text out past "max"
 * bytes (the light path says NGX_API_LED_JSON_TOO_BIG, and where);
 * NGX_ERROR: no memory.
 */

ngx_int_t
ngx_api_led_json_stream_run(ngx_pool_t *pool, ngx_api_led_json_stream_t *st,
    u_char *data, size_t len, size_t max, ngx_str_t *out)
{
    u_char                       *p, *q, *end;
    size_t                        size;
    ngx_int_t                     rc;
    u_char                       *names[NGX_API_LED_JS_NAMES];
    ngx_api_led_json_streamer_t   sw;

    if (len > NGX_API_LED_JSON_LIGHT_MAX) {
        return NGX_DECLINED;
    }

    ngx_memzero(&sw, sizeof(ngx_api_led_json_streamer_t));

    sw.pool = pool;
    sw.max = max;
    sw.names = names;
    sw.jp.start = data;
    sw.jp.end = data + len;
    sw.jp.build = 1;

    if (st->slots) {
        sw.held = ngx_pcalloc(pool, st->slots * sizeof(ngx_str_t));
        if (sw.held == NULL) {
            return NGX_ERROR;
        }
    }

    size = len + st->extra + 16;

    sw.out = ngx_pnalloc(pool, size);
    if (sw.out == NULL) {
        return NGX_ERROR;
    }

    sw.last = st->prefix.len ? ngx_cpymem(sw.out, st->prefix.data,
                                          st->prefix.len)
                             : sw.out;
    sw.out_end = sw.out + size;

    p = data;
    end = data + len;
    rc = NGX_DECLINED;

    /* whitespace before the document is not written out */

    ngx_api_led_json_light_ws(p, end);
    sw.run = p;

    if (p < end) {
        rc = ngx_api_led_json_stream_value(&sw, st->root, &p, 0);
    }

    if (rc == NGX_OK) {
        q = p;
        ngx_api_led_json_light_ws(p, end);

        if (p != end) {
            rc = NGX_DECLINED;

        } else if (ngx_api_led_json_stream_flush(&sw, q) != NGX_OK
                   || (st->suffix.len
                       && ngx_api_led_json_stream_put(&sw, st->suffix.data,
                                                      st->suffix.len)
                          != NGX_OK))
        {
            rc = NGX_ERROR;
        }
    }

    if (sw.jp.scratch) {
        ngx_pfree(pool, sw.jp.scratch);
    }

    if (rc == NGX_ERROR || sw.nomem || sw.too_big) {
        return (sw.too_big && !sw.nomem) ? NGX_DECLINED : NGX_ERROR;
    }

    if (rc != NGX_OK || (size_t) (sw.last - sw.out) > max) {
        /* the light path makes its own text (a large buffer goes now) */
        ngx_pfree(pool, sw.out);
        return NGX_DECLINED;
    }

    out->data = sw.out;
    out->len = sw.last - sw.out;

    return NGX_OK;
}


/*
 * A string of plain bytes, an integer of 1 to 18 digits, a price: the
 * values most documents are made of, as the serializer has them (see the
 * light parse), in line; the end of it, or NULL for another value.
 */

static ngx_inline u_char *
ngx_api_led_json_stream_plain(u_char *p, u_char *end)
{
    u_char  *q, *r;

    if (*p == '"') {
        q = ngx_api_led_json_plain_skip(p + 1, end);
        return (q < end && *q == '"') ? q + 1 : NULL;
    }

    if ((u_char) (*p - '1') >= 9) {
        return NULL;
    }

    q = p + 1;
    r = (end - p > 18) ? p + 18 : end;

    while (q < r && (u_char) (*q - '0') < 10) {
        q++;
    }

    if (q == end
        || (*q != '.' && *q != 'e' && *q != 'E' && (*q < '0' || *q > '9')))
    {
        return q;
    }

    return (*q == '.') ? ngx_api_led_json_light_fraction(p, q, end) : NULL;
}


/* a value at *pp (no whitespace before it), *pp after it */

static ngx_int_t
ngx_api_led_json_stream_value(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, u_char **pp, ngx_uint_t depth)
{
    u_char  *p, *q, *end;

    p = *pp;
    end = sw->jp.end;

    q = ngx_api_led_json_stream_plain(p, end);

    if (q) {
        *pp = q;
        return NGX_OK;
    }

    switch (*p) {

    case '{':
        if (plan && plan->type == NGX_API_LED_JS_ARRAY) {
            /* "*" on an object is a member's name to the light path */
            return NGX_DECLINED;
        }

        return ngx_api_led_json_stream_object(sw,
                   (plan && plan->type == NGX_API_LED_JS_OBJECT) ? plan : NULL,
                   pp, depth);

    case '[':
        return ngx_api_led_json_stream_array(sw,
                   (plan && plan->type == NGX_API_LED_JS_ARRAY) ? plan : NULL,
                   pp, depth);

    case 't':
    case 'n':
        if (end - p >= 4
            && ngx_memcmp(p, ((*p == 't') ? "true" : "null"), 4) == 0)
        {
            *pp = p + 4;
            return NGX_OK;
        }

        return NGX_DECLINED;

    case 'f':
        if (end - p >= 5 && ngx_memcmp(p, "false", 5) == 0) {
            *pp = p + 5;
            return NGX_OK;
        }

        return NGX_DECLINED;

    default:
        break;
    }

    return ngx_api_led_json_stream_checked(sw, pp);
}


/*
 * A string with more than plain bytes, or a number that is no plain
 * integer or price: written as the serializer writes it, which may
 * differ from the text (an escape, "-0", a real written otherwise).
 */

static ngx_int_t
ngx_api_led_json_stream_checked(ngx_api_led_json_streamer_t *sw, u_char **pp)
{
    u_char     *p, *s, *next, buf[NGX_API_LED_JSON_REAL_LEN];
    size_t      len;
    ngx_str_t   text;

    p = *pp;

    if (sw->jp.scratch == NULL) {
        sw->jp.scratch = ngx_pnalloc(sw->pool,
                                     sw->jp.end - sw->jp.start + 2);
        if (sw->jp.scratch == NULL) {
            sw->nomem = 1;
            return NGX_ERROR;
        }
    }

    if (*p == '"') {
        sw->jp.pos = p;

        if (ngx_api_led_json_parse_string(&sw->jp, &s, &len) != NGX_OK) {
            return NGX_DECLINED;
        }

        next = sw->jp.pos;

        if (s != sw->jp.scratch) {
            /* UTF-8, no escape: as written */
            *pp = next;
            return NGX_OK;
        }

        if (ngx_api_led_json_quote(sw->pool, s, len, &text) != NGX_OK) {
            sw->nomem = 1;
            return NGX_ERROR;
        }

    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        if (ngx_api_led_json_number_written(p, sw->jp.end, sw->jp.scratch,
                                            buf, &text, &next)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (text.data == p && text.len == (size_t) (next - p)) {
            *pp = next;
            return NGX_OK;
        }

    } else {
        return NGX_DECLINED;
    }

    if (ngx_api_led_json_stream_flush(sw, p) != NGX_OK
        || ngx_api_led_json_stream_put(sw, text.data, text.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    sw->run = next;
    *pp = next;

    return NGX_OK;
}


/*
 * An object, its members done as its plan says (NULL: none), written in
 * runs of the text.  A member left out takes the comma before it along
 * (the first written: the commas after the ones left out before it):
 * the output is cut back to where that comma is, or will be, written.
 */

static ngx_int_t
ngx_api_led_json_stream_object(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, u_char **pp, ngx_uint_t depth)
{
    u_char                          *p, *q, *end, *open, *sep, *key;
    size_t                           open_mark, mark;
    uint64_t                         bits, bit, seen, planned;
    ngx_int_t                        rc;
    ngx_str_t                        name;
    ngx_uint_t                       n, i, nn, written, base, nm, limit;
    ngx_api_led_json_plan_member_t  *m, *members;

    if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
        return NGX_DECLINED;
    }

    p = *pp + 1;
    end = sw->jp.end;

    /* where the output is past the brace (the run is not past it yet) */

    open = p;
    open_mark = (sw->last - sw->out) + (open - sw->run);
    sep = NULL;

    members = plan ? plan->members.elts : NULL;
    nm = plan ? plan->members.nelts : 0;
    planned = plan ? plan->names : 0;
    base = sw->nnames;

    /* at most NGX_API_LED_JSON_LIGHT_MEMBERS, as the light parse takes */
    limit = ngx_min(base + NGX_API_LED_JSON_LIGHT_MEMBERS,
                    NGX_API_LED_JS_NAMES);

    bits = 0;
    seen = 0;
    n = 0;
    written = 0;

    ngx_api_led_json_stream_ws(sw, p, end);

    if (p < end && *p == '}') {
        goto close;
    }

    for ( ;; ) {

        /* the name; the byte expected tested before any whitespace */

        if (p >= end || *p != '"') {
            ngx_api_led_json_stream_ws(sw, p, end);

            if (p >= end || *p != '"') {
                return NGX_DECLINED;
            }
        }

        key = p;
        q = ngx_api_led_json_plain_skip(p + 1, end);

        if (q >= end || *q != '"') {
            q = ngx_api_led_json_stream_name(sw, p);
            if (q == NULL) {
                return NGX_DECLINED;
            }
        }

        name.data = p + 1;
        name.len = q - name.data;
        p = q + 1;

        if (p >= end || *p != ':') {
            ngx_api_led_json_stream_ws(sw, p, end);

            if (p >= end || *p != ':') {
                return NGX_DECLINED;
            }
        }

        p++;

        /* unique, as the light path checks them (see there) */

        nn = sw->nnames;

        if (nn == limit) {
            return NGX_DECLINED;
        }

        bit = ngx_api_led_json_stream_bit(name.data[0], q[-1], name.len);

        if (bits & bit) {
            /* an earlier name is the same if its quote comes as late */

            for (i = base; i < nn; i++) {
                if (sw->names[i][name.len] == '"'
                    && ngx_memcmp(sw->names[i], name.data, name.len) == 0)
                {
                    return NGX_DECLINED;
                }
            }
        }

        bits |= bit;
        sw->names[nn] = name.data;
        sw->nnames = nn + 1;

        /* what the plan does with it */

        m = NULL;

        if (planned & bit) {
            for (i = 0; i < nm; i++) {
                if (members[i].name.len == name.len
                    && (name.len == 0
                        || ngx_memcmp(members[i].name.data, name.data,
                                      name.len)
                           == 0))
                {
                    m = &members[i];
                    seen |= (uint64_t) 1 << i;
                    break;
                }
            }
        }

        if (p >= end || *p <= ' ') {
            ngx_api_led_json_stream_ws(sw, p, end);

            if (p >= end) {
                return NGX_DECLINED;
            }
        }

        if (m == NULL || m->action == NGX_API_LED_JS_DESCEND
            || m->action == NGX_API_LED_JS_SET)
        {
            if (written == 0 && n) {
                /* the first written: the members before were left out */

                if (ngx_api_led_json_stream_first(sw, open_mark, open, key)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }

            written++;

            if (m == NULL || m->action == NGX_API_LED_JS_DESCEND) {
                q = ngx_api_led_json_stream_plain(p, end);

                if (q) {
                    p = q;
                    goto next;
                }

                rc = ngx_api_led_json_stream_value(sw, m ? m->plan : NULL, &p,
                                                   depth + 1);
                if (rc != NGX_OK) {
                    return rc;
                }

                goto next;
            }

            /* a set: the new value, the old one checked and left out */

            if (ngx_api_led_json_stream_flush(sw, p) != NGX_OK
                || ngx_api_led_json_stream_put(sw, m->text.data, m->text.len)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (m->action == NGX_API_LED_JS_REFUSE) {
            return NGX_DECLINED;

        } else {
            /* removed, or held for its new place */

            if ((written ? ngx_api_led_json_stream_cut_sep(sw, sep)
                         : ngx_api_led_json_stream_cut(sw, open_mark, open))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        sw->run = p;
        mark = sw->last - sw->out;

        q = ngx_api_led_json_stream_plain(p, end);

        if (q) {
            p = q;

        } else {
            rc = ngx_api_led_json_stream_value(sw, NULL, &p, depth + 1);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        if (m->action == NGX_API_LED_JS_HOLD
            && ngx_api_led_json_stream_hold(sw, mark, p, &sw->held[m->slot])
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        sw->last = sw->out + mark;
        sw->run = p;

    next:

        n++;

        /* after the value: "," or the end of the object */

        if (p < end && *p != ',') {
            ngx_api_led_json_stream_ws(sw, p, end);
        }

        if (p < end && *p == ',') {
            sep = p++;
            continue;
        }

        if (p < end && *p == '}') {
            break;
        }

        return NGX_DECLINED;
    }

close:

    sw->nnames = base;

    if (written < n || (plan && plan->adds.nelts)) {
        if ((written
             ? ngx_api_led_json_stream_flush(sw, p)
             : ngx_api_led_json_stream_cut(sw, open_mark, open))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        sw->run = p;

        if (plan && plan->adds.nelts
            && ngx_api_led_json_stream_adds(sw, plan, seen, written) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *pp = p + 1;

    return NGX_OK;
}


/*
 * A member name beyond ASCII: its closing quote if it is UTF-8 with no
 * escape (its bytes are then its name, and hold no quote), else NULL:
 * the light path compares escaped names unescaped.
 */

static u_char *
ngx_api_led_json_stream_name(ngx_api_led_json_streamer_t *sw, u_char *p)
{
    u_char  *s;
    size_t   len;

    sw->jp.pos = p;

    if (ngx_api_led_json_parse_string(&sw->jp, &s, &len) != NGX_OK
        || s != p + 1)
    {
        return NULL;
    }

    return sw->jp.pos - 1;
}


/*
 * The first member written after members left out: what the output has
 * between the brace and its name goes.
 */

static ngx_int_t
ngx_api_led_json_stream_first(ngx_api_led_json_streamer_t *sw,
    size_t open_mark, u_char *open, u_char *key)
{
    size_t  len;

    if (sw->run <= key) {
        /* the name is not written yet */

        if (ngx_api_led_json_stream_cut(sw, open_mark, open) != NGX_OK) {
            return NGX_ERROR;
        }

        sw->run = key;
        return NGX_OK;
    }

    /* whitespace after the name had it written: the end of the output */

    len = ngx_api_led_json_stream_written(key, sw->run);
    ngx_memmove(sw->out + open_mark, sw->last - len, len);
    sw->last = sw->out + open_mark + len;

    return NGX_OK;
}


/*
 * A member left out after one written: the output back to the comma
 * before it.  Between the comma and the run only whitespace is not
 * written (a name that needs more than its bytes is declined).
 */

static ngx_int_t
ngx_api_led_json_stream_cut_sep(ngx_api_led_json_streamer_t *sw, u_char *sep)
{
    if (sw->run <= sep) {
        return ngx_api_led_json_stream_flush(sw, sep);
    }

    sw->last -= ngx_api_led_json_stream_written(sep, sw->run);

    return NGX_OK;
}


/*
 * How many bytes from "p" to "to" were written: all but the whitespace
 * around a member's name, its colon and its comma (a name's own spaces
 * are written; its quotes are the only ones, it has no escape).
 */

static size_t
ngx_api_led_json_stream_written(u_char *p, u_char *to)
{
    size_t      n;
    ngx_uint_t  name;

    name = 0;

    for (n = 0; p < to; p++) {
        if (*p == '"') {
            name = !name;

        } else if (!name
                   && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        {
            continue;
        }

        n++;
    }

    return n;
}


/*
 * The output back to "mark", where the text at "at" is (or will be, once
 * the run is written) written out.
 */

static ngx_int_t
ngx_api_led_json_stream_cut(ngx_api_led_json_streamer_t *sw, size_t mark,
    u_char *at)
{
    if ((size_t) (sw->last - sw->out) > mark) {
        sw->last = sw->out + mark;
        return NGX_OK;
    }

    return ngx_api_led_json_stream_flush(sw, at);
}


/* an array, every element done as the plan says (NULL: nothing done) */

static ngx_int_t
ngx_api_led_json_stream_array(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, u_char **pp, ngx_uint_t depth)
{
    u_char     *p, *q, *end;
    ngx_int_t   rc;

    if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
        return NGX_DECLINED;
    }

    p = *pp + 1;
    end = sw->jp.end;

    ngx_api_led_json_stream_ws(sw, p, end);

    if (p < end && *p == ']') {
        *pp = p + 1;
        return NGX_OK;
    }

    for ( ;; ) {

        ngx_api_led_json_stream_ws(sw, p, end);

        if (p >= end) {
            return NGX_DECLINED;
        }

        q = ngx_api_led_json_stream_plain(p, end);

        if (q) {
            p = q;

        } else {
            rc = ngx_api_led_json_stream_value(sw, plan ? plan->each : NULL,
                                               &p, depth + 1);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        if (p < end && *p != ',') {
            ngx_api_led_json_stream_ws(sw, p, end);
        }

        if (p < end && *p == ',') {
            p++;
            continue;
        }

        if (p < end && *p == ']') {
            *pp = p + 1;
            return NGX_OK;
        }

        return NGX_DECLINED;
    }
}


/*
 * What an object's plan adds at its end (the text written up to its
 * closing brace): a set's member not there, an object a set makes, a
 * renamed or moved value, as the light path appends them, one operation
 * after the other.
 */

static ngx_int_t
ngx_api_led_json_stream_adds(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan, uint64_t seen, ngx_uint_t written)
{
    ngx_str_t                    *held;
    ngx_uint_t                    i;
    ngx_api_led_json_plan_add_t  *add;

    add = plan->adds.elts;

    for (i = 0; i < plan->adds.nelts; i++) {

        if (seen & ((uint64_t) 1 << add[i].member)) {
            continue;
        }

        held = NULL;

        switch (add[i].kind) {

        case NGX_API_LED_JS_ADD_HELD:
            held = &sw->held[add[i].slot];
            if (held->data == NULL) {
                continue;
            }

            break;

        case NGX_API_LED_JS_ADD_CREATE:
            if (!ngx_api_led_json_stream_fills(sw, add[i].plan)) {
                continue;
            }

            break;

        default: /* NGX_API_LED_JS_ADD_SET */
            break;
        }

        if ((written && ngx_api_led_json_stream_put(sw, ",", 1) != NGX_OK)
            || ngx_api_led_json_stream_put(sw, add[i].key.data,
                                           add[i].key.len)
               != NGX_OK
            || ngx_api_led_json_stream_put(sw, ":", 1) != NGX_OK)
        {
            return NGX_ERROR;
        }

        written++;

        if (held) {
            if (ngx_api_led_json_stream_put(sw, held->data, held->len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            held->data = NULL;
            continue;
        }

        if (add[i].kind == NGX_API_LED_JS_ADD_SET) {
            if (ngx_api_led_json_stream_put(sw, add[i].text.data,
                                            add[i].text.len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        /* a new object: what its plan adds, and nothing else */

        if (ngx_api_led_json_stream_put(sw, "{", 1) != NGX_OK
            || ngx_api_led_json_stream_adds(sw, add[i].plan, 0, 0) != NGX_OK
            || ngx_api_led_json_stream_put(sw, "}", 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* whether an object made anew gets a member */

static ngx_uint_t
ngx_api_led_json_stream_fills(ngx_api_led_json_streamer_t *sw,
    ngx_api_led_json_plan_t *plan)
{
    ngx_uint_t                    i;
    ngx_api_led_json_plan_add_t  *add;

    add = plan->adds.elts;

    for (i = 0; i < plan->adds.nelts; i++) {
        switch (add[i].kind) {

        case NGX_API_LED_JS_ADD_SET:
            return 1;

        case NGX_API_LED_JS_ADD_HELD:
            if (sw->held[add[i].slot].data) {
                return 1;
            }

            break;

        default: /* NGX_API_LED_JS_ADD_CREATE */
            if (ngx_api_led_json_stream_fills(sw, add[i].plan)) {
                return 1;
            }
        }
    }

    return 0;
}


/* a value, written out from "mark" to the text at "to", kept aside */

static ngx_int_t
ngx_api_led_json_stream_hold(ngx_api_led_json_streamer_t *sw, size_t mark,
    u_char *to, ngx_str_t *held)
{
    if (ngx_api_led_json_stream_flush(sw, to) != NGX_OK) {
        return NGX_ERROR;
    }

    held->len = sw->last - (sw->out + mark);

    held->data = ngx_pnalloc(sw->pool, held->len);
    if (held->data == NULL) {
        sw->nomem = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(held->data, sw->out + mark, held->len);

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_stream_grow(ngx_api_led_json_streamer_t *sw, size_t n)
{
    u_char  *out;
    size_t   size, used;

    used = sw->last - sw->out;

    if (used + n > sw->max) {
        /* the light path says the text is too big, and where */
        sw->too_big = 1;
        return NGX_ERROR;
    }

    size = ngx_min(ngx_max(2 * (size_t) (sw->out_end - sw->out), used + n),
                   sw->max);

    out = ngx_pnalloc(sw->pool, size);
    if (out == NULL) {
        sw->nomem = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(out, sw->out, used);

    sw->out = out;
    sw->last = out + used;
    sw->out_end = out + size;

    return NGX_OK;
}
