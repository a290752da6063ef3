
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The request-pool arena jansson allocates from while a document is worked
 * on.
 */


#include "ngx_api_led_json.h"


/*
 * The arena.  jansson allocates every value with malloc() and frees it one
 * by one; for a document that lives for one request that is most of the
 * cost (and the fastbin churn makes glibc consolidate on the next large
 * allocation).  Inside a window opened by ngx_api_led_json_arena_enter(),
 * jansson allocates from blocks of the request pool instead and frees
 * nothing; the pool releases the blocks with the request.  A free() of
 * memory outside the blocks (a value built before the window, with
 * malloc()) still goes to free().
 *
 * A window is short and synchronous, and nothing allocated in it outlives
 * the request: the documents are parsed, edited and released inside
 * windows.  Variables are evaluated outside of any window (their handlers
 * may use jansson for their own purposes).
 */

#define NGX_API_LED_JSON_ARENA_BLOCKS  32
#define NGX_API_LED_JSON_ARENA_FIRST   (16 * 1024)

typedef struct {
    u_char                      *start;
    u_char                      *end;
} ngx_api_led_json_block_t;

struct ngx_api_led_json_arena_s {
    ngx_pool_t                  *pool;
    u_char                      *pos;
    u_char                      *last;
    size_t                       next_size;
    ngx_uint_t                   nblocks;
    ngx_api_led_json_block_t     blocks[NGX_API_LED_JSON_ARENA_BLOCKS];
};


static ngx_api_led_json_arena_t  *ngx_api_led_json_arena_current;


static void *
ngx_api_led_json_arena_alloc(size_t size)
{
    u_char                    *p;
    size_t                     bsize;
    ngx_api_led_json_arena_t  *a;

    a = ngx_api_led_json_arena_current;

    size = ngx_align(size ? size : 1, 16);

    if ((size_t) (a->last - a->pos) < size) {

        if (a->nblocks == NGX_API_LED_JSON_ARENA_BLOCKS) {
            /* very large documents: the rest is plain malloc() */
            return malloc(size);
        }

        bsize = ngx_max(a->next_size, size);

        p = ngx_palloc(a->pool, bsize);
        if (p == NULL) {
            return NULL;
        }

        a->blocks[a->nblocks].start = p;
        a->blocks[a->nblocks].end = p + bsize;
        a->nblocks++;

        a->pos = p;
        a->last = p + bsize;
        a->next_size = bsize * 2;
    }

    p = a->pos;
    a->pos += size;

    return p;
}


static void
ngx_api_led_json_arena_free(void *ptr)
{
    ngx_uint_t                 i;
    ngx_api_led_json_arena_t  *a;

    if (ptr == NULL) {
        return;
    }

    a = ngx_api_led_json_arena_current;

    for (i = 0; i < a->nblocks; i++) {
        if ((u_char *) ptr >= a->blocks[i].start
            && (u_char *) ptr < a->blocks[i].end)
        {
            return;
        }
    }

    free(ptr);
}


ngx_api_led_json_arena_t *
ngx_api_led_json_arena_create(ngx_pool_t *pool)
{
    ngx_api_led_json_arena_t  *a;

    a = ngx_pcalloc(pool, sizeof(ngx_api_led_json_arena_t));
    if (a == NULL) {
        return NULL;
    }

    a->pool = pool;
    a->next_size = NGX_API_LED_JSON_ARENA_FIRST;

    return a;
}


/*
 * Makes "a" the current arena (NULL: none, jansson back on malloc()) and
 * returns the one before, to give back to ngx_api_led_json_arena_leave().
 */

ngx_api_led_json_arena_t *
ngx_api_led_json_arena_enter(ngx_api_led_json_arena_t *a)
{
    ngx_api_led_json_arena_t  *prev;

    prev = ngx_api_led_json_arena_current;

    if (a == prev) {
        return prev;
    }

    ngx_api_led_json_arena_current = a;

    if (a && prev == NULL) {
        json_set_alloc_funcs(ngx_api_led_json_arena_alloc,
                             ngx_api_led_json_arena_free);

    } else if (a == NULL) {
        json_set_alloc_funcs(malloc, free);
    }

    return prev;
}


void
ngx_api_led_json_arena_leave(ngx_api_led_json_arena_t *prev)
{
    (void) ngx_api_led_json_arena_enter(prev);
}
